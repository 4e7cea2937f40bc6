"""This browser session's renders on one tab: pick one to see it beside the current result
(compare), download it, or put its settings back into the controls (reuse)."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import gradio as gr

from .naming import slug

if TYPE_CHECKING:
    from .tabs import TabContext

MAX_ENTRIES = 20          # older renders drop off the list (their files expire anyway)
MAX_SESSIONS = 500        # beyond this, the longest-unused session's list is forgotten

# (browser session, pipeline name) -> that tab's renders, oldest first. Kept on the server and
# written by the render's own request, so that no render is missed when its follow-up
# event (which only refreshes the list) is dropped by the browser.
_ENTRIES: dict[tuple[str, str], list[dict]] = {}
_LOCK = threading.Lock()


def _session(request: Any) -> str:
    return getattr(request, "session_hash", None) or ""


def entries_of(session: str, name: str) -> list[dict]:
    """This session's renders on tab ``name``, oldest first (a copy)."""
    with _LOCK:
        return list(_ENTRIES.get((session, name), []))


def _add(session: str, name: str, entry: dict) -> list[dict]:
    with _LOCK:
        key = (session, name)
        entries = [*_ENTRIES.pop(key, []), entry][-MAX_ENTRIES:]
        _ENTRIES[key] = entries               # re-inserted: dict order = least recently used
        while len(_ENTRIES) > MAX_SESSIONS:
            del _ENTRIES[next(iter(_ENTRIES))]
        return list(entries)


@dataclass
class History:
    ctx: TabContext
    picker: gr.Dropdown
    compare: gr.Video
    settings: gr.Markdown

    def recorded(self, run: Callable) -> Callable:
        """``run`` (a session runner: request, *controls -> video, info, ...) that also adds
        each finished render to this session's list, in the render's own request."""
        def run_and_record(request: gr.Request, *values: Any, progress=gr.Progress()):
            out = run(request, *values, progress=progress)
            video = out[0]
            if video:                           # cancelled: nothing to list
                path = (video if isinstance(video, str)
                        else getattr(video, "path", None) or str(video))
                _add(_session(request), self.ctx.cls.name,
                     {"video": path, "values": list(values),
                      "label": f"{time.strftime('%H:%M:%S')} · {settings_line(self.ctx, values)}"})
            return out
        return run_and_record

    def refresh_after(self, event: Any) -> None:
        """Show the list, newest first, once the render of ``event`` has finished."""
        event.success(self.choices, None, self.picker, queue=False, api_visibility="private")

    def choices(self, request: gr.Request):
        entries = entries_of(_session(request), self.ctx.cls.name)
        if not entries:
            return gr.update()
        labels = [(e["label"], i) for i, e in enumerate(entries)]
        return gr.update(choices=labels[::-1], value=len(entries) - 1)

    def show(self, request: gr.Request, index: int | None):
        entries = entries_of(_session(request), self.ctx.cls.name)
        if index is None or not 0 <= int(index) < len(entries):
            return None, ""
        e = entries[int(index)]
        return e["video"], f"Settings: {e['label'].split(' · ', 1)[-1]}"

    def reuse(self, request: gr.Request, index: int | None):
        entries = entries_of(_session(request), self.ctx.cls.name)
        if index is None or not 0 <= int(index) < len(entries):
            raise gr.Error("pick a render from the list first", print_exception=False)
        return entries[int(index)]["values"]


def control_names(ctx: TabContext) -> list[str]:
    """A person's name for each of :meth:`TabContext.all_controls`, in order."""
    own = [n for controls in ctx.engine_params.values() for n in controls]
    return [*ctx.inputs, "engine", "seed", *ctx.params, *own]


def settings_line(ctx: TabContext, values: tuple) -> str:
    """The engine, the inputs' file names and every setting that differs from its default."""
    defaults = [c.value for c in ctx.all_controls()]
    chosen = values[len(ctx.inputs)] or ctx.cls.default_engine
    own = {(e, n) for e, controls in ctx.engine_params.items() for n in controls}
    own_order = [(e, n) for e, controls in ctx.engine_params.items() for n in controls]
    parts = [f"engine {chosen}"]
    for i, (name, value) in enumerate(zip(control_names(ctx), values)):
        if i < len(ctx.inputs):
            if value:
                parts.append(f"{name} {Path(str(value)).name}")
            continue
        if name == "engine" or value == defaults[i] or value in (None, ""):
            continue
        k = i - len(ctx.inputs) - 2 - len(ctx.params)
        if k >= 0 and own_order[k] in own and own_order[k][0] != chosen:
            continue                          # another engine's setting: not used
        parts.append(f"{name.replace('_', ' ')} {value:g}" if isinstance(value, float)
                     else f"{name.replace('_', ' ')} {value}")
    return ", ".join(parts)


def build_history(ctx: TabContext) -> History:
    with gr.Accordion("This session's renders: compare, download, reuse", open=False,
                      elem_id=f"history_{slug(ctx.cls.name)}"):
        picker = gr.Dropdown([], label="Renders (newest first)", value=None,
                             elem_id=f"history_pick_{slug(ctx.cls.name)}")
        with gr.Row():
            compare = gr.Video(label="The picked render", interactive=False, height=220,
                               buttons=["download"], elem_id=f"history_video_{slug(ctx.cls.name)}")
            with gr.Column():
                settings = gr.Markdown()
                reuse = gr.Button("Reuse its settings",
                                  elem_id=f"history_reuse_{slug(ctx.cls.name)}")
    h = History(ctx, picker, compare, settings)
    picker.change(h.show, picker, [compare, settings], queue=False,
                  api_visibility="private")
    # the controls exist (unplaced) by now; the reuse event reaches them wherever they land
    reuse.click(h.reuse, picker, ctx.all_controls(), queue=False,
                api_visibility="private")
    return h
