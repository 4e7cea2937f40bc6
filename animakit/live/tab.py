"""The studio's Live tab, built from a pipeline's :class:`~.processor.LiveSpec`: its inputs,
a driver choice, its live params (sliders sent to the stream over the data channel as
they move), Start / Stop, Record / save, and the output ``<video>`` with the stream's
health. The first live pipeline's buttons carry the ids ``live-start`` / ``live-output``."""
from __future__ import annotations

import json
import time
from typing import Any

import gradio as gr

from .. import ASSETS
from ..params import param_specs
from ..studio.controls import clean_param_value, input_control, param_control
from ..studio.runner import session_dir
from ..studio.tabs import gradio_error, slug
from .processor import LiveSpec
from .server import REGISTRY

IMPORT = "const m = await import(new URL('live/client.js', window.location.href).href);"


def output_html(root_id: str) -> str:
    return (f'<div id="{root_id}" class="animakit-live">'
            '<video autoplay playsinline muted style="width:100%;max-height:70vh;'
            'background:#111;border-radius:8px"></video>'
            '<div class="live-stats" style="font-family:monospace;font-size:0.9em">'
            'not started</div><div class="live-notice" style="color:#d33;font-weight:600"></div></div>')


def build_live_tab(cls: type, spec: LiveSpec, suffix: str = "") -> None:
    """One Live tab for pipeline ``cls``; ``suffix`` keeps element ids unique when several
    pipelines are live (the first has none)."""
    out_id, root = f"live-output{suffix}", f"live-output{suffix}-box"
    in_specs = {s.name: s for s in cls.inputs}
    p_specs = {s.name: s for s in param_specs(cls.Params)}
    with gr.Tab("Live" if not suffix else f"Live {cls.name}", id=f"live_{slug(cls.name)}",
                elem_id=f"tab_live_{slug(cls.name)}"):
        gr.Markdown(f"### Live — {cls.name}\n{spec.help}")
        with gr.Row():
            with gr.Column(scale=1):
                inputs = {n: input_control(in_specs[n]) for n in spec.inputs}
                if spec.example:
                    gr.Examples([[str(ASSETS / spec.example[n]) for n in spec.inputs]],
                                list(inputs.values()), label="example")
                driver = gr.Radio(list(spec.drivers), value=spec.drivers[0], label="driver",
                                  elem_id=f"live-driver{suffix}")
                with gr.Accordion("live controls (act on the stream at once)", open=True):
                    params = {n: param_control(p_specs[n]) for n in spec.params if n in p_specs}
                    for n, c in params.items():
                        c.elem_id = f"live-param-{n}{suffix}"
            with gr.Column(scale=1):
                gr.HTML(output_html(root), elem_id=out_id)
                with gr.Row():
                    start = gr.Button("Start", variant="primary", elem_id=f"live-start{suffix}")
                    stop = gr.Button("Stop", elem_id=f"live-stop{suffix}")
                with gr.Row():
                    record = gr.Button("Record", elem_id=f"live-record{suffix}")
                    save = gr.Button("Stop recording and save", elem_id=f"live-save{suffix}")
                status = gr.Markdown(elem_id=f"live-status{suffix}")
                files = gr.File(label="recording (.mp4 with audio) and motion file",
                                file_count="multiple", interactive=False,
                                elem_id=f"live-files{suffix}")
                token = gr.Textbox(visible=False, elem_id=f"live-token{suffix}")
    _wire(cls, spec, root, inputs, driver, params, p_specs, start, stop, record, save, status,
          files, token)


def _wire(cls, spec, root, inputs, driver, params, p_specs, start, stop, record, save,
          status, files, token) -> None:
    in_names, p_names = list(inputs), list(params)

    def prepare(old: str, *values: Any) -> tuple[str, str]:
        if old:
            REGISTRY.close_from_thread(old)
        ins = {n: v for n, v in zip(in_names, values) if v not in (None, "")}
        chosen = values[len(in_names)]
        p = {n: clean_param_value(p_specs[n], v)
             for n, v in zip(p_names, values[len(in_names) + 1:])}
        try:
            tok = REGISTRY.prepare(lambda: spec.open(ins, p, chosen), chosen)
        except Exception as e:
            raise gradio_error(e) from None
        return tok, f"Live from the {chosen}: allow access if the browser asks. Stats show under the video."

    def start_recording(tok: str, request: gr.Request) -> str:
        sess = REGISTRY.get(tok) if tok else None
        if sess is None:
            raise gr.Error("Start the live stream first, then record.", print_exception=False)
        folder = session_dir(getattr(request, "session_hash", None))
        sess.start_recording(folder / f"live-{time.strftime('%Y%m%d-%H%M%S')}.mp4")
        return "● Recording… press *Stop recording and save* to download it."

    def finish_recording(tok: str) -> tuple[list[str], str]:
        sess = REGISTRY.get(tok) if tok else None
        rec = sess.stop_recording() if sess is not None else None
        if rec is None:
            raise gr.Error("Nothing is being recorded: press Record first.", print_exception=False)
        try:
            video = rec.finish()
            out = [str(video)]
            for name, suffix in spec.exports.items():
                path = video.with_name(f"{video.stem}-{name}{suffix}")
                sess.processor.export(name, path)
                out.append(str(path))
        except Exception as e:
            raise gradio_error(e) from None
        return out, f"Saved {len(out)} file(s): the recording and the captured motion."

    start.click(prepare, [token, *inputs.values(), driver, *params.values()], [token, status],
                concurrency_limit=4, api_visibility="private").success(
        None, [token, driver], None,
        js=f"async (token, driver) => {{ {IMPORT} await m.start(token, driver, '{root}'); }}")
    stop.click(None, [token], None, js=f"async (token) => {{ {IMPORT} await m.stop(token); }}")
    record.click(start_recording, [token], status, concurrency_limit=4, api_visibility="private")
    save.click(finish_recording, [token], [files, status], concurrency_limit=4,
               api_visibility="private")
    names = json.dumps(p_names)
    update_js = (f"async (token, ...values) => {{ {IMPORT} const names = {names}; "
                 "m.update(token, Object.fromEntries(names.map((n, i) => [n, values[i]]))); }")
    for c in params.values():
        c.change(None, [token, *params.values()], None, js=update_js)


def build_live_tabs() -> None:
    """A Live tab for every registered pipeline with a live mode."""
    from . import live_pipelines
    for i, (name, (cls, spec)) in enumerate(live_pipelines().items()):
        build_live_tab(cls, spec, "" if i == 0 else f"-{slug(name)}")
