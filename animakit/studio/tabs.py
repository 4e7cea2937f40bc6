"""One studio tab per registered pipeline, built from its description. Pipelines with a
hand-made layout add to the generic tab through :mod:`animakit.studio.custom`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import gradio as gr

from ..params import param_specs
from ..pipeline import Pipeline
from . import runner
from .controls import clean_param_value, input_control, param_control


def slug(name: str) -> str:
    return name.replace(".", "_")


@dataclass
class TabContext:
    """The components of one tab, for custom layouts to read and extend."""
    cls: type[Pipeline]
    inputs: dict[str, gr.Component] = field(default_factory=dict)
    params: dict[str, gr.Component] = field(default_factory=dict)
    engine: gr.Dropdown | None = None
    seed: gr.Number | None = None
    video: gr.Video | None = None
    info: gr.Markdown | None = None
    extra_outputs: dict[str, gr.Component] = field(default_factory=dict)
    exports: tuple[str, ...] = ()

    @property
    def input_list(self) -> list[gr.Component]:
        return list(self.inputs.values())

    @property
    def param_list(self) -> list[gr.Component]:
        return list(self.params.values())

    def all_controls(self) -> list[gr.Component]:
        return [*self.inputs.values(), self.engine, self.seed, *self.params.values()]

    def make_runner(self) -> Callable:
        """The function behind the Render button: controls in, (video, info, *extras) out."""
        cls, specs = self.cls, param_specs(self.cls.Params)
        in_names, p_names = list(self.inputs), list(self.params)
        exports, extra_names = self.exports, list(self.extra_outputs)

        def run(*values: Any, progress=gr.Progress(track_tqdm=True)):
            ins = dict(zip(in_names, values[:len(in_names)]))
            engine, seed = values[len(in_names)], values[len(in_names) + 1]
            raw = dict(zip(p_names, values[len(in_names) + 2:]))
            by_name = {s.name: s for s in specs}
            params = {k: clean_param_value(by_name[k], v) for k, v in raw.items()}
            try:
                video, info, side = runner.render(cls.name, engine or None, ins, params,
                                                  seed=None if seed in (None, "") else int(seed),
                                                  exports=exports)
            except Exception as e:  # shown to the user; the app keeps serving
                raise gr.Error(runner.describe_error(e), print_exception=False) from None
            return (video, info, *[side.get(n) for n in extra_names])

        return run

    def outputs(self) -> list[gr.Component]:
        return [self.video, self.info, *self.extra_outputs.values()]


def engine_note(cls: type[Pipeline]) -> str:
    lines = []
    for name, eng in cls.engines.items():
        tag = "neural — needs weights" if eng.neural else "weight-free"
        lines.append(f"- **{name}**{' (default)' if name == cls.default_engine else ''}: "
                     f"{eng.help} _({tag})_")
    if any(e.neural for e in cls.engines.values()):
        weights = next((s for s in param_specs(cls.Params) if s.name == "weights"), None)
        if weights is not None:
            lines.append(f"\nNeural engines load from the **weights** parameter ({weights.help}; "
                         f"default: `{weights.default or 'see help'}`): a local folder, or a hub "
                         f"id already in the local cache. Nothing is downloaded; a missing folder "
                         f"gives a message naming it.")
    return "\n".join(lines)


def build_tab(cls: type[Pipeline], custom: Callable[[TabContext], None] | None = None) -> TabContext:
    ctx = TabContext(cls)
    with gr.Tab(cls.name, id=slug(cls.name), elem_id=f"tab_{slug(cls.name)}"):
        gr.Markdown(f"### {cls.name}\n{cls.help}")
        with gr.Row():
            with gr.Column(scale=1):
                for spec in cls.inputs:
                    ctx.inputs[spec.name] = input_control(spec)
                ctx.engine = gr.Dropdown(list(cls.engines), value=cls.default_engine,
                                         label="engine")
                gr.Markdown(engine_note(cls))
                # a pipeline whose params have their own seed gets no second seed box
                own_seed = any(s.name == "seed" for s in param_specs(cls.Params))
                ctx.seed = gr.Number(value=0, precision=0, label="seed", visible=not own_seed)
                with gr.Accordion("parameters", open=True):
                    for spec in param_specs(cls.Params):
                        ctx.params[spec.name] = param_control(spec)
            with gr.Column(scale=1):
                ctx.video = gr.Video(label="result", interactive=False, autoplay=True,
                                     buttons=["download"], elem_id=f"video_{slug(cls.name)}")
                ctx.info = gr.Markdown(elem_id=f"info_{slug(cls.name)}")
                with gr.Row():
                    run_btn = gr.Button("Render", variant="primary",
                                        elem_id=f"render_{slug(cls.name)}")
                    cancel_btn = gr.Button("Cancel", variant="stop")
                if custom is not None:
                    custom(ctx)
                run = ctx.make_runner()
                _examples(ctx, run)
        event = run_btn.click(run, ctx.all_controls(), ctx.outputs(), api_name=f"run_{slug(cls.name)}")
        cancel_btn.click(None, None, None, cancels=[event])
    return ctx


def _examples(ctx: TabContext, run: Callable) -> None:
    cls = ctx.cls
    if not cls.examples:
        return
    specs = param_specs(cls.Params)
    rows = []
    for ex in cls.examples:
        ins = runner.example_inputs(ex)
        row = [ins.get(name) for name in ctx.inputs]
        row += [ex.get("engine", cls.default_engine), ex.get("seed", 0)]
        row += [ex.get("params", {}).get(s.name, s.default) for s in specs]
        rows.append(row)
    gr.Examples(rows, ctx.all_controls(), ctx.outputs(), fn=run, run_on_click=True,
                cache_examples=False, label="examples (click to render)",
                example_labels=[e.get("label", f"example {i + 1}") for i, e in enumerate(cls.examples)])

    def example(index: int = 0, progress=gr.Progress(track_tqdm=True)):
        """Render example ``index`` of this tab; returns the mp4 and its summary."""
        if index is None or not 0 <= int(index) < len(rows):
            raise gr.Error(f"{cls.name} has {len(rows)} examples (index 0..{len(rows) - 1})")
        video, info, *_ = run(*rows[int(index)])
        return video, info

    index = gr.Number(value=0, precision=0, visible=False)
    trigger = gr.Button(visible=False)
    trigger.click(example, [index], [ctx.video, ctx.info], api_name=f"example_{slug(cls.name)}")
