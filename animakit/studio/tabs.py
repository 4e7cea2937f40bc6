"""One studio tab per registered pipeline, built from its description.

Left column: the inputs (optional ones a person rarely needs folded away), the notes the
pipeline's :meth:`~animakit.pipeline.Pipeline.input_notes` gives at upload, the examples, the
engine, the essential params, then an "Advanced" fold (the params marked ``advanced``, the
seed). Each engine's own settings show only while it is chosen. Right column: Render and
Cancel, the result with its progress, the pipeline's own additions (its
:meth:`~animakit.pipeline.Pipeline.studio_extras` hook) and this session's renders."""
from __future__ import annotations

import html
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import gradio as gr

from ..cancel import Cancelled
from ..params import ParamSpec, param_specs
from ..pipeline import Pipeline
from . import runner
from .controls import clean_param_value, input_control, param_control
from .examples import build_examples, example_row  # noqa: F401 (example_row: a public helper)
from .history import build_history
from .naming import slug

CANCELLED = "**Cancelled**: the render stopped and nothing was kept."
CANCEL_WAIT_S = 5.0         # how long Cancel's reply waits for the render to stop


def gradio_error(e: Exception) -> gr.Error:
    """The Gradio error the user sees for ``e``: the message of a user mistake, or a short
    line for an internal error (whose traceback goes to the server log), never a server path."""
    return gr.Error(runner.describe_error(e), print_exception=False)


@dataclass
class TabContext:
    """The components of one tab, for a pipeline's studio extras to read and extend.

    The param controls are made before they are placed: an extras hook may place some of
    them itself with :meth:`place` (beside a preview, say); the rest go to the left column."""
    cls: type[Pipeline]
    inputs: dict[str, gr.Component] = field(default_factory=dict)
    params: dict[str, gr.Component] = field(default_factory=dict)
    # engine name -> the controls of that engine's own params, and the groups holding them
    engine_params: dict[str, dict[str, gr.Component]] = field(default_factory=dict)
    engine_groups: dict[str, gr.Group] = field(default_factory=dict)
    engine_advanced_groups: dict[str, gr.Group] = field(default_factory=dict)
    engine: gr.Dropdown | None = None
    seed: gr.Number | None = None
    video: gr.Video | None = None
    info: gr.Markdown | None = None
    notes: gr.Markdown | None = None
    # a place at the top of the inputs column, under the examples, for extras that stand in
    # for an input (an editor painting on the photo); other extras land under the result
    inputs_top: gr.Column | None = None
    extra_outputs: dict[str, gr.Component] = field(default_factory=dict)
    exports: tuple[str, ...] = ()
    placed: set[str] = field(default_factory=set)

    @property
    def input_list(self) -> list[gr.Component]:
        return list(self.inputs.values())

    @property
    def param_list(self) -> list[gr.Component]:
        return list(self.params.values())

    def place(self, names: list[str] | tuple[str, ...]) -> list[gr.Component]:
        """Render the pipeline's param controls ``names`` here (inside the caller's layout);
        returns them. Each control is placed once."""
        out = []
        for n in names:
            if n in self.params and n not in self.placed:
                self.params[n].render()
                self.placed.add(n)
                out.append(self.params[n])
        return out

    def all_controls(self) -> list[gr.Component]:
        """What the Render button sends: inputs, engine, seed, the pipeline's params, then
        every engine's own params (engine by engine)."""
        own = [c for controls in self.engine_params.values() for c in controls.values()]
        return [*self.inputs.values(), self.engine, self.seed, *self.params.values(), *own]

    def engine_settings_updates(self, engine: str | None) -> dict[gr.Group, dict]:
        """Visibility updates for the engine groups: only ``engine``'s are shown. Keyed by
        group, as Gradio takes it for any number of outputs (a list is one output's value
        when there is one output)."""
        chosen = engine or self.cls.default_engine
        groups = [*self.engine_groups.items(), *self.engine_advanced_groups.items()]
        return {group: gr.update(visible=name == chosen) for name, group in groups}

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
        """The function behind the Render button: controls in, (video, info, *extras) out. A
        cancelled render returns no video and says so in the info line."""
        name, exports, extra_names = self.cls.name, self.exports, list(self.extra_outputs)
        in_names, p_names = list(self.inputs), list(self.params)
        own_names = [(e, n) for e, controls in self.engine_params.items() for n in controls]

        def run(*values: Any, progress=gr.Progress(), session: str | None = None):
            ins = dict(zip(in_names, values[:len(in_names)]))
            engine, seed = values[len(in_names)], values[len(in_names) + 1]
            rest = values[len(in_names) + 2:]
            own: dict[str, dict[str, Any]] = {}
            for (e, n), v in zip(own_names, rest[len(p_names):]):
                own.setdefault(e, {})[n] = v
            progress(0.0, desc="Getting ready")
            try:
                params = self.render_params(engine, dict(zip(p_names, rest)), own)
                video, info, side = runner.render(
                    name, engine or None, ins, params,
                    seed=None if seed in (None, "") else int(seed), exports=exports,
                    session=session, on_frame=frame_progress(progress))
            except Cancelled:
                return (None, CANCELLED, *[None for _ in extra_names])
            except Exception as e:  # shown to the user; the app keeps serving
                raise gradio_error(e) from None
            return (video, info, *[side.get(n) for n in extra_names])

        return run

    def make_session_runner(self) -> Callable:
        """:meth:`make_runner`'s function for Gradio events: Gradio passes the request first
        (found by its annotation), and its ``session_hash`` names the folder that this
        browser session's renders go to (and the flag Cancel sets)."""
        run = self.make_runner()

        def run_in_session(request: gr.Request, *values: Any, progress=gr.Progress()):
            return run(*values, progress=progress,
                       session=getattr(request, "session_hash", None))

        return run_in_session

    def outputs(self) -> list[gr.Component]:
        return [self.video, self.info, *self.extra_outputs.values()]


def frame_progress(progress: Any) -> Callable[[int, int | None], None]:
    """``render``'s per-frame callback feeding Gradio's progress bar (frames done / total)."""
    def on_frame(done: int, total: int | None) -> None:
        progress((done, total), desc="Rendering", unit="frames")
    return on_frame


def weights_spec(cls: type[Pipeline]) -> ParamSpec | None:
    """The ``weights`` field neural engines load from: the pipeline's, or a neural engine's."""
    specs = [*param_specs(cls.Params), *(s for n, e in cls.engines.items() if e.neural
                                         for s in cls.engine_param_specs(n))]
    return next((s for s in specs if s.name == "weights"), None)


def engine_kind(cls: type[Pipeline], name: str) -> str:
    """What engine ``name`` needs, in a person's words."""
    eng = cls.engines[name]
    if not eng.neural:
        return "no download, runs on any CPU"
    if eng.weights_included:
        return "neural, weights included"
    return "neural, needs its weights (a GPU helps)"


def engine_choices(cls: type[Pipeline]) -> list[tuple[str, str]]:
    """The engine dropdown's (label, value) pairs: values stay the engines' names (the API)."""
    return [(f"{n} — {engine_kind(cls, n)}", n) for n in cls.engines]


def engine_note(cls: type[Pipeline]) -> str:
    lines = [f"- **{n}**: {e.help} _({engine_kind(cls, n)})_" for n, e in cls.engines.items()]
    weights = weights_spec(cls)
    if weights is not None and any(e.neural and not e.weights_included
                                   for e in cls.engines.values()):
        lines.append("\nA neural engine reads its **weights** setting: a folder on this "
                     "machine, or a model id already downloaded. Nothing is downloaded for "
                     "you; a missing folder gives a message naming it.")
    return "\n".join(lines)


def header_html(cls: type[Pipeline]) -> str:
    return (f"<div class='ak-header'><h2>{html.escape(cls.display_name())} "
            f"<span class='dotted-name' title='the pipeline name for the API and CLI'>"
            f"{html.escape(cls.name)}</span></h2><p>{html.escape(cls.help)}</p></div>")


def build_tab(cls: type[Pipeline]) -> TabContext:
    ctx = TabContext(cls)
    s = slug(cls.name)
    with gr.Tab(cls.display_name(), id=s, elem_id=f"tab_{s}"):
        gr.HTML(header_html(cls), padding=False)
        _make_controls(ctx)
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=320, elem_classes="ak-inputs") as left:
                examples_here = gr.Column()         # filled once the outputs exist
                ctx.inputs_top = gr.Column()
                _inputs(ctx)
                ctx.notes = gr.Markdown(elem_id=f"notes_{s}", elem_classes="ak-notes")
            with gr.Column(scale=6, min_width=320, elem_classes="ak-result"):
                with gr.Row(elem_classes="ak-actions"):
                    run_btn = gr.Button("Render", variant="primary", elem_id=f"render_{s}",
                                        scale=3)
                    cancel_btn = gr.Button("Cancel", variant="stop", elem_id=f"cancel_{s}",
                                           scale=1)
                ctx.video = gr.Video(label="Result", interactive=False, autoplay=True,
                                     buttons=["download"], elem_id=f"video_{s}", height=400)
                ctx.info = gr.Markdown(elem_id=f"info_{s}")
                _extras(ctx)
                history = build_history(ctx)
                run = history.recorded(ctx.make_session_runner())
            with examples_here:
                build_examples(ctx, run, history)
            with left:
                _place_params(ctx)
        _wire(ctx, run, run_btn, cancel_btn, history)
    return ctx


def _wire(ctx: TabContext, run: Callable, run_btn: gr.Button, cancel_btn: gr.Button,
          history) -> None:
    """Render (arming a fresh cancel flag first), Cancel, the engine switch, input notes."""
    name = ctx.cls.name

    def armed(request: gr.Request):
        runner.arm(getattr(request, "session_hash", None), name)

    def cancel(request: gr.Request):
        # the render's own reply and this one race to the info line, so when the render
        # ends within the wait both say the same; a render that finished first keeps its own
        said = runner.cancel(getattr(request, "session_hash", None), name, wait=CANCEL_WAIT_S)
        return {"stopped": CANCELLED, "stopping": "Cancelling…"}.get(said, gr.skip())

    event = run_btn.click(armed, None, None, queue=False, api_visibility="private").then(
        run, ctx.all_controls(), ctx.outputs(), api_name=f"run_{slug(name)}")
    history.refresh_after(event)
    cancel_btn.click(cancel, None, ctx.info, queue=False, api_visibility="private")
    if ctx.engine_groups or ctx.engine_advanced_groups:
        groups = [*ctx.engine_groups.values(), *ctx.engine_advanced_groups.values()]
        ctx.engine.change(ctx.engine_settings_updates, ctx.engine, groups, queue=False,
                          show_progress="hidden", api_visibility="private")

    def notes(request: gr.Request, *values):
        return runner.input_notes(name, dict(zip(ctx.inputs, values)),
                                  getattr(request, "session_hash", None))

    for c in ctx.inputs.values():
        c.change(notes, ctx.input_list, ctx.notes, show_progress="hidden",
                 trigger_mode="always_last", api_visibility="private")


def _inputs(ctx: TabContext) -> None:
    """The upload controls: the essential ones open, the rarely needed ones in a fold."""
    cls = ctx.cls
    for spec in cls.inputs:
        if not spec.advanced:
            ctx.inputs[spec.name] = input_control(spec)
    rare = [spec for spec in cls.inputs if spec.advanced]
    if rare:
        with gr.Accordion("More inputs (optional)", open=False):
            for spec in rare:
                ctx.inputs[spec.name] = input_control(spec)
    # keep the pipeline's own order: the Render API takes the inputs in it
    ctx.inputs = {spec.name: ctx.inputs[spec.name] for spec in cls.inputs}


def _make_controls(ctx: TabContext) -> None:
    """Every param control, made but not yet placed (see :meth:`TabContext.place`)."""
    cls = ctx.cls
    ctx.engine = gr.Dropdown(engine_choices(cls), value=cls.default_engine, label="Engine",
                             render=False, visible=len(cls.engines) > 1,
                             elem_id=f"engine_{slug(cls.name)}")
    # a pipeline whose params have their own seed gets no second seed box
    own_seed = any(s.name == "seed" for s in param_specs(cls.Params))
    ctx.seed = gr.Number(value=0, precision=0, label="seed", visible=not own_seed,
                         render=False, info="the same seed gives the same render")
    for spec in param_specs(cls.Params):
        ctx.params[spec.name] = param_control(spec, render=False)
    for engine in cls.engines:
        specs = cls.engine_param_specs(engine)
        if specs:
            ctx.engine_params[engine] = {sp.name: param_control(sp, render=False)
                                         for sp in specs}


def _place_params(ctx: TabContext) -> None:
    """The engine, the essential params and the chosen engine's essential settings; then the
    Advanced fold: the seed, the rest, the chosen engine's other settings."""
    cls = ctx.cls
    specs = {sp.name: sp for sp in param_specs(cls.Params)}
    ctx.engine.render()
    if len(cls.engines) > 1:
        gr.Markdown(engine_note(cls), elem_classes="ak-engine-note")
    ctx.place([n for n, sp in specs.items() if not sp.advanced])
    _engine_groups(ctx, advanced=False)
    with gr.Accordion("Advanced", open=False, elem_id=f"advanced_{slug(cls.name)}"):
        ctx.seed.render()
        ctx.place(list(specs))
        _engine_groups(ctx, advanced=True)
        if len(cls.engines) == 1:
            gr.Markdown(engine_note(cls), elem_classes="ak-engine-note")


def _engine_groups(ctx: TabContext, advanced: bool) -> None:
    """One group per engine holding its essential (or advanced) settings, shown while that
    engine is chosen."""
    cls = ctx.cls
    for engine, controls in ctx.engine_params.items():
        specs = [sp for sp in cls.engine_param_specs(engine) if sp.advanced == advanced]
        if not specs:
            continue
        label = f"{engine} engine settings" + (" (advanced)" if advanced else "")
        with gr.Group(visible=engine == cls.default_engine,
                      elem_id=f"engine_{slug(cls.name)}_{engine}" + ("_adv" if advanced else ""),
                      ) as group:
            gr.Markdown(f"**{label}**")
            for sp in specs:
                controls[sp.name].render()
        (ctx.engine_advanced_groups if advanced else ctx.engine_groups)[engine] = group


def _extras(ctx: TabContext) -> None:
    """The pipeline's own additions. A failing hook (a third-party plugin's bug) costs its
    extras, not the studio: the generic tab stays, with one warning."""
    try:
        ctx.cls.studio_extras(ctx)
    except Exception as e:
        warnings.warn(f"animakit: skipping the studio extras of {ctx.cls.name!r}: {e}",
                      stacklevel=2)
        ctx.exports, ctx.extra_outputs = (), {}
