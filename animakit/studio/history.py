"""This browser session's renders on one tab: pick one to see it beside the current result
(compare), download it, or put its settings back into the controls (reuse)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from .naming import slug

if TYPE_CHECKING:
    from .tabs import TabContext

MAX_ENTRIES = 20          # older renders drop off the list (their files expire anyway)


@dataclass
class History:
    ctx: TabContext
    state: gr.State
    picker: gr.Dropdown
    compare: gr.Video
    settings: gr.Markdown

    def record_after(self, event: Any) -> None:
        """Add the render of ``event`` (when it produced a video) to the list."""
        controls = self.ctx.all_controls()
        event.success(self.record, [self.state, self.ctx.video, *controls],
                      [self.state, self.picker], queue=False, api_visibility="private")

    def record(self, entries: list[dict], video: Any, *values: Any):
        if not video:                       # cancelled: nothing to list
            return entries, gr.update()
        path = video if isinstance(video, str) else getattr(video, "path", None) or str(video)
        entries = [*entries, {"video": path, "values": list(values),
                              "label": f"{time.strftime('%H:%M:%S')} · "
                                       f"{settings_line(self.ctx, values)}"}][-MAX_ENTRIES:]
        choices = [(e["label"], i) for i, e in enumerate(entries)]
        return entries, gr.update(choices=choices[::-1], value=len(entries) - 1)

    def show(self, entries: list[dict], index: int | None):
        if index is None or not 0 <= int(index) < len(entries):
            return None, ""
        e = entries[int(index)]
        return e["video"], f"Settings: {e['label'].split(' · ', 1)[-1]}"

    def reuse(self, entries: list[dict], index: int | None):
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
        state = gr.State([])
        picker = gr.Dropdown([], label="Renders (newest first)", value=None,
                             elem_id=f"history_pick_{slug(ctx.cls.name)}")
        with gr.Row():
            compare = gr.Video(label="The picked render", interactive=False, height=220,
                               buttons=["download"], elem_id=f"history_video_{slug(ctx.cls.name)}")
            with gr.Column():
                settings = gr.Markdown()
                reuse = gr.Button("Reuse its settings", elem_id=f"history_reuse_{slug(ctx.cls.name)}")
    h = History(ctx, state, picker, compare, settings)
    picker.change(h.show, [state, picker], [compare, settings], queue=False,
                  api_visibility="private")
    # the controls exist (unplaced) by now; the reuse event reaches them wherever they land
    reuse.click(h.reuse, [state, picker], ctx.all_controls(), queue=False,
                api_visibility="private")
    return h
