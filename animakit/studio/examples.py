"""A tab's examples: a row of thumbnails beside the inputs (one click fills the controls and
renders, the result showing in the result column), or labelled buttons for a pipeline whose
examples have no picture; plus the ``example_<name>`` API endpoint."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import gradio as gr

from .. import ASSETS
from ..params import param_specs
from . import runner
from .naming import slug

if TYPE_CHECKING:
    from .history import History
    from .tabs import TabContext


def example_thumbnail(ctx: TabContext, ex: dict) -> str | None:
    """The picture that stands for example ``ex``: its first image input (None: it has none)."""
    kinds = {i.name: i.kind for i in ctx.cls.inputs}
    for name, rel in ex.get("inputs", {}).items():
        if kinds.get(name) == "image" and str(rel).lower().endswith((".png", ".jpg", ".jpeg",
                                                                     ".webp")):
            return str(ASSETS / rel)
    return None


def build_examples(ctx: TabContext, run: Callable, history: History) -> None:
    cls = ctx.cls
    if not cls.examples:
        return
    rows = [example_row(ctx, ex) for ex in cls.examples]
    labels = [e.get("label", f"example {i + 1}") for i, e in enumerate(cls.examples)]
    thumbs = [example_thumbnail(ctx, ex) for ex in cls.examples]
    if all(thumbs):
        # thumbnail cards with their labels; a click fills the controls, then renders
        cards = gr.Dataset(components=[gr.Image(render=False), gr.Textbox(render=False)],
                           samples=[[t, lab] for t, lab in zip(thumbs, labels)],
                           label="Examples: click one to render it", type="index",
                           layout="gallery", samples_per_page=6,
                           elem_id=f"examples_{slug(cls.name)}", elem_classes="ak-examples")

        def fill(index: int):
            return rows[index]

        event = cards.click(fill, cards, ctx.all_controls(), queue=False,
                            api_visibility="private").then(
            run, ctx.all_controls(), ctx.outputs(), api_visibility="private")
        history.refresh_after(event)
    else:
        gr.Examples(rows, ctx.all_controls(), ctx.outputs(), fn=run, run_on_click=True,
                    cache_examples=False, label="Examples: click one to render it",
                    example_labels=labels)

    def example(index: int = 0, request: gr.Request = None, progress=gr.Progress()):
        """Render example ``index`` of this tab; returns the mp4 and its summary."""
        if index is None or not 0 <= int(index) < len(rows):
            raise gr.Error(f"{cls.display_name()} has {len(rows)} examples "
                           f"(index 0..{len(rows) - 1})")
        video, info, *_ = run(request, *rows[int(index)], progress=progress)
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
