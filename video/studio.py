"""The image-to-video tab's extras: the motion brush editor (its state and JSON in
:mod:`.brush_ui`), whose JSON feeds the tab's ``brush`` input."""
from __future__ import annotations

from typing import Any

import gradio as gr

from animakit.errors import AnimakitError
from animakit.media import load_image
from animakit.studio import TabContext, gradio_error, session_dir

from . import brush_ui


def editor_value(image: Any) -> dict[str, Any]:
    """The paint canvas reset to ``image`` (empty without one)."""
    bg = load_image(image) if image else None
    return {"background": bg, "layers": [], "composite": bg}


def extras(ctx: TabContext) -> None:
    state = gr.State(brush_ui.empty_state())
    with gr.Accordion("motion brush: paint a region, click where it goes", open=True):
        gr.Markdown("1. Paint the region on the left canvas. 2. Click points on the right image "
                    "along its path (the region's centre is the start). 3. **Add stroke**. "
                    "Tick *static* to mark a region that must not move instead.")
        with gr.Row():
            editor = gr.ImageEditor(label="paint", type="numpy", layers=False,
                                    brush=gr.Brush(colors=["#ff5028"], default_size=28),
                                    sources=(), transforms=(), elem_id="brush_editor")
            arrows = gr.Image(label="click the path; arrows show the strokes", interactive=False,
                              elem_id="brush_arrows")
        with gr.Row():
            static = gr.Checkbox(label="static region", value=False)
            strength = gr.Slider(0.0, 4.0, value=1.0, step=0.05, label="stroke strength")
        with gr.Row():
            add = gr.Button("Add stroke", variant="secondary")
            undo = gr.Button("Undo last")
            clear = gr.Button("Clear brush")
        status = gr.Markdown(brush_ui.summary(brush_ui.empty_state()))
        download = gr.File(label="brush JSON (download; the CLI and job files take it)",
                           interactive=False)
    image_in, brush_in = ctx.inputs["image"], ctx.inputs.get("brush")

    def refresh(st, image, request: gr.Request | None = None):
        """The state and everything shown from it; the JSON also fills the brush input and
        is written to this browser session's own folder."""
        folder = session_dir(getattr(request, "session_hash", None))
        try:
            path = brush_ui.save_json(st, image, folder)
        except AnimakitError as e:
            raise gradio_error(e) from None
        return st, brush_ui.overlay(image, st), brush_ui.summary(st), path, path

    outs = [state, arrows, status, download, brush_in]

    def on_image(image, request: gr.Request):
        return (editor_value(image), *refresh(brush_ui.empty_state(), image, request))

    image_in.change(on_image, [image_in], [editor, *outs])

    def on_click(st, image, evt: gr.SelectData, request: gr.Request):
        return refresh(brush_ui.add_point(st, *evt.index[:2]), image, request)

    arrows.select(on_click, [state, image_in], outs)

    def on_add(st, ed, image, is_static, k, request: gr.Request):
        try:
            st = brush_ui.commit(st, ed, image, is_static, k)
        except AnimakitError as e:
            raise gradio_error(e) from None
        return (editor_value(image), *refresh(st, image, request))

    add.click(on_add, [state, editor, image_in, static, strength], [editor, *outs])
    def on_undo(st, image, request: gr.Request):
        return refresh(brush_ui.undo(st), image, request)

    def on_clear(image, request: gr.Request):
        return refresh(brush_ui.empty_state(), image, request)

    undo.click(on_undo, [state, image_in], outs)
    clear.click(on_clear, [image_in], outs)
