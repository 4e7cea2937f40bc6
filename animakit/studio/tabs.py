"""One studio tab per registered pipeline, built from its description: inputs, the engine
choice, the pipeline's params, one group of settings per engine that has its own (shown
while that engine is chosen), then whatever the pipeline adds through its
:meth:`~animakit.pipeline.Pipeline.studio_extras` hook."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import gradio as gr

from ..params import ParamSpec, param_specs
from ..pipeline import Pipeline
from . import runner
from .controls import clean_param_value, input_control, param_control


def slug(name: str) -> str:
    return name.replace(".", "_")


def gradio_error(e: Exception) -> gr.Error:
    """The Gradio error the user sees for ``e``: the message of a user mistake, or a short
    line for an internal error (whose traceback goes to the server log), never a server path."""
    return gr.Error(runner.describe_error(e), print_exception=False)


@dataclass
class TabContext:
    """The components of one tab, for a pipeline's studio extras to read and extend."""
    cls: type[Pipeline]
    inputs: dict[str, gr.Component] = field(default_factory=dict)
    params: dict[str, gr.Component] = field(default_factory=dict)
    # engine name -> the controls of that engine's own params, and the group holding them
    engine_params: dict[str, dict[str, gr.Component]] = field(default_factory=dict)
    engine_groups: dict[str, gr.Accordion] = field(default_factory=dict)
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
        """What the Render button sends: inputs, engine, seed, the pipeline's params, then
        every engine's own params (engine by engine)."""
        own = [c for controls in self.engine_params.values() for c in controls.values()]
        return [*self.inputs.values(), self.engine, self.seed, *self.params.values(), *own]

    def engine_settings_updates(self, engine: str | None) -> dict[gr.Accordion, dict]:
        """Visibility updates for the engine groups: only ``engine``'s is shown. Keyed by
        group, as Gradio takes it for any number of outputs (a list is one output's value
        when there is one output)."""
        chosen = engine or self.cls.default_engine
        return {group: gr.update(visible=name == chosen)
                for name, group in self.engine_groups.items()}

    def render_params(self, engine: str | None, values: dict[str, Any],
                      own: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """The params a render with ``engine`` takes: the pipeline's ``values`` plus that
        engine's own (from ``own``, engine -> name -> value), cleaned of Gradio's habits."""
        chosen = engine or self.cls.default_engine
        specs = {s.name: s for s in param_specs(self.cls.Params)}
        if chosen in self.cls.engines:      # an unknown engine is the render's error to report
            specs.update({s.name: s for s in self.cls.engine_param_specs(chosen)})
        merged = {**values, **own.get(chosen, {})}
        return {k: clean_param_value(specs[k], v) for k, v in merged.items()}

    def make_runner(self) -> Callable:
        """The function behind the Render button: controls in, (video, info, *extras) out."""
        name, exports, extra_names = self.cls.name, self.exports, list(self.extra_outputs)
        in_names, p_names = list(self.inputs), list(self.params)
        own_names = [(e, n) for e, controls in self.engine_params.items() for n in controls]

        def run(*values: Any, progress=gr.Progress(track_tqdm=True), session: str | None = None):
            ins = dict(zip(in_names, values[:len(in_names)]))
            engine, seed = values[len(in_names)], values[len(in_names) + 1]
            rest = values[len(in_names) + 2:]
            own: dict[str, dict[str, Any]] = {}
            for (e, n), v in zip(own_names, rest[len(p_names):]):
                own.setdefault(e, {})[n] = v
            try:
                params = self.render_params(engine, dict(zip(p_names, rest)), own)
                video, info, side = runner.render(name, engine or None, ins, params,
                                                  seed=None if seed in (None, "") else int(seed),
                                                  exports=exports,
                                                  session=session)
            except Exception as e:  # shown to the user; the app keeps serving
                raise gradio_error(e) from None
            return (video, info, *[side.get(n) for n in extra_names])

        return run

    def make_session_runner(self) -> Callable:
        """:meth:`make_runner`'s function for Gradio events: Gradio passes the request first
        (found by its annotation), and its ``session_hash`` names the folder that this
        browser session's renders go to."""
        run = self.make_runner()

        def run_in_session(request: gr.Request, *values: Any,
                           progress=gr.Progress(track_tqdm=True)):
            return run(*values, session=getattr(request, "session_hash", None))

        return run_in_session

    def outputs(self) -> list[gr.Component]:
        return [self.video, self.info, *self.extra_outputs.values()]


def weights_spec(cls: type[Pipeline]) -> ParamSpec | None:
    """The ``weights`` field neural engines load from: the pipeline's, or a neural engine's."""
    specs = [*param_specs(cls.Params), *(s for n, e in cls.engines.items() if e.neural
                                         for s in cls.engine_param_specs(n))]
    return next((s for s in specs if s.name == "weights"), None)


def engine_note(cls: type[Pipeline]) -> str:
    lines = []
    for name, eng in cls.engines.items():
        tag = "neural — needs weights" if eng.neural else "weight-free"
        lines.append(f"- **{name}**{' (default)' if name == cls.default_engine else ''}: "
                     f"{eng.help} _({tag})_")
    weights = weights_spec(cls)
    if weights is not None:
        lines.append(f"\nNeural engines load from the **weights** parameter ({weights.help}; "
                     f"default: `{weights.default or 'see help'}`): a local folder, or a hub "
                     f"id already in the local cache. Nothing is downloaded; a missing folder "
                     f"gives a message naming it.")
    return "\n".join(lines)


def build_tab(cls: type[Pipeline]) -> TabContext:
    ctx = TabContext(cls)
    with gr.Tab(cls.name, id=slug(cls.name), elem_id=f"tab_{slug(cls.name)}"):
        gr.Markdown(f"### {cls.name}\n{cls.help}")
        with gr.Row():
            with gr.Column(scale=1):
                _controls(ctx)
            with gr.Column(scale=1):
                ctx.video = gr.Video(label="result", interactive=False, autoplay=True,
                                     buttons=["download"], elem_id=f"video_{slug(cls.name)}")
                ctx.info = gr.Markdown(elem_id=f"info_{slug(cls.name)}")
                with gr.Row():
                    run_btn = gr.Button("Render", variant="primary",
                                        elem_id=f"render_{slug(cls.name)}")
                    cancel_btn = gr.Button("Cancel", variant="stop")
                _extras(ctx)
                run = ctx.make_session_runner()
                _examples(ctx, run)
        event = run_btn.click(run, ctx.all_controls(), ctx.outputs(), api_name=f"run_{slug(cls.name)}")
        cancel_btn.click(None, None, None, cancels=[event])
        if ctx.engine_groups:
            ctx.engine.change(ctx.engine_settings_updates, ctx.engine,
                              list(ctx.engine_groups.values()), queue=False,
                              show_progress="hidden", api_visibility="private")
    return ctx


def _controls(ctx: TabContext) -> None:
    """The left column: inputs, engine, seed, the pipeline's params, each engine's own."""
    cls = ctx.cls
    for spec in cls.inputs:
        ctx.inputs[spec.name] = input_control(spec)
    ctx.engine = gr.Dropdown(list(cls.engines), value=cls.default_engine, label="engine")
    gr.Markdown(engine_note(cls))
    # a pipeline whose params have their own seed gets no second seed box
    own_seed = any(s.name == "seed" for s in param_specs(cls.Params))
    ctx.seed = gr.Number(value=0, precision=0, label="seed", visible=not own_seed)
    with gr.Accordion("parameters", open=True):
        for spec in param_specs(cls.Params):
            ctx.params[spec.name] = param_control(spec)
    for engine in cls.engines:
        specs = cls.engine_param_specs(engine)
        if not specs:
            continue
        with gr.Accordion(f"{engine} engine settings", open=True,
                          visible=engine == cls.default_engine,
                          elem_id=f"engine_{slug(cls.name)}_{engine}") as group:
            ctx.engine_params[engine] = {s.name: param_control(s) for s in specs}
        ctx.engine_groups[engine] = group


def _extras(ctx: TabContext) -> None:
    """The pipeline's own additions. A failing hook (a third-party plugin's bug) costs its
    extras, not the studio: the generic tab stays, with one warning."""
    try:
        ctx.cls.studio_extras(ctx)
    except Exception as e:
        warnings.warn(f"animakit: skipping the studio extras of {ctx.cls.name!r}: {e}",
                      stacklevel=2)
        ctx.exports, ctx.extra_outputs = (), {}


def _examples(ctx: TabContext, run: Callable) -> None:
    cls = ctx.cls
    if not cls.examples:
        return
    rows = [example_row(ctx, ex) for ex in cls.examples]
    gr.Examples(rows, ctx.all_controls(), ctx.outputs(), fn=run, run_on_click=True,
                cache_examples=False, label="examples (click to render)",
                example_labels=[e.get("label", f"example {i + 1}") for i, e in enumerate(cls.examples)])

    def example(index: int = 0, request: gr.Request = None,
                progress=gr.Progress(track_tqdm=True)):
        """Render example ``index`` of this tab; returns the mp4 and its summary."""
        if index is None or not 0 <= int(index) < len(rows):
            raise gr.Error(f"{cls.name} has {len(rows)} examples (index 0..{len(rows) - 1})")
        video, info, *_ = run(request, *rows[int(index)])
        return video, info

    index = gr.Number(value=0, precision=0, visible=False)
    trigger = gr.Button(visible=False)
    trigger.click(example, [index], [ctx.video, ctx.info], api_name=f"example_{slug(cls.name)}")


def example_row(ctx: TabContext, ex: dict) -> list[Any]:
    """One example as the values of :meth:`TabContext.all_controls`; an engine's own params
    take the example's values only when the example chooses that engine."""
    cls, given = ctx.cls, ex.get("params", {})
    engine = ex.get("engine", cls.default_engine)
    ins = runner.example_inputs(ex)
    row = [ins.get(name) for name in ctx.inputs]
    row += [engine, ex.get("seed", 0)]
    row += [given.get(s.name, s.default) for s in param_specs(cls.Params)]
    for e in ctx.engine_params:
        row += [given.get(s.name, s.default) if e == engine else s.default
                for s in cls.engine_param_specs(e)]
    return row
