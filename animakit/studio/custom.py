"""Hand-made additions to the generic tabs, keyed by pipeline name. Each function runs
inside the tab's result column with the tab's :class:`TabContext`, before the Render button
is wired, so it may add side outputs (``ctx.exports`` / ``ctx.extra_outputs``)."""
from __future__ import annotations

import uuid
from typing import Any, Callable

import cv2
import gradio as gr
import numpy as np

from ..errors import AnimakitError
from ..media import VideoReader, load_image, save_image
from ..params import param_specs
from . import brush_ui, runner
from .controls import clean_param_value


def _error(e: Exception) -> gr.Error:
    return gr.Error(runner.describe_error(e), print_exception=False)


# -- talking portrait: live single-frame preview of the expression controls ------------------
LIVE_PARAMS = ("smile", "mouth_open", "eyes_open", "brow_raise", "yaw", "pitch", "roll",
               "gaze_x", "gaze_y", "face_index", "crop_scale", "feather")


def preview_frame(name: str, image: Any, params: dict[str, Any]) -> np.ndarray | None:
    """The first frame the pipeline renders for ``image`` alone with ``params``."""
    if not image:
        return None
    from ..registry import load_pipeline
    pipe = load_pipeline(name)
    specs = {s.name: s for s in param_specs(pipe.Params)}
    values = {k: clean_param_value(specs[k], v) for k, v in params.items() if k in specs}
    if "duration" in specs:
        values["duration"] = 0.2
    values["blink_rate"] = 0.0 if "blink_rate" in specs else values.get("blink_rate")
    values = {k: v for k, v in values.items() if k in specs}
    stream = pipe.stream(image=image, **values)
    return next(iter(stream))


def talking(ctx) -> None:
    live = [n for n in LIVE_PARAMS if n in ctx.params]
    preview = gr.Image(label="live preview of the expression controls (one frame, no driver)",
                       interactive=False, elem_id="talking_live_preview")
    ctx.exports = ("landmarks",)
    ctx.extra_outputs["landmarks"] = gr.File(label="landmark motion (.npz, reusable as the "
                                                   "'landmarks' input)", interactive=False)

    def update(image, *values):
        try:
            return preview_frame(ctx.cls.name, image, dict(zip(live, values)))
        except Exception as e:
            raise _error(e) from None

    controls = [ctx.inputs["image"], *[ctx.params[n] for n in live]]
    for c in controls:
        (c.release if isinstance(c, gr.Slider) else c.change)(
            update, controls, preview, show_progress="minimal", trigger_mode="always_last")


# -- pose: skeleton-overlay preview for checking the retargeting ---------------------------
def pose(ctx) -> None:
    ctx.exports = ("preview",)
    ctx.extra_outputs["preview"] = gr.Video(label="skeleton overlay (retargeted driver on the "
                                                  "output)", interactive=False,
                                            elem_id="pose_skeleton_preview")


# -- image-to-video: the motion brush editor ------------------------------------------------
def i2v(ctx) -> None:
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

    def refresh(st, image):
        try:
            path = brush_ui.save_json(st, image)
        except AnimakitError as e:
            raise _error(e) from None
        return st, brush_ui.overlay(image, st), brush_ui.summary(st), path, path

    outs = [state, arrows, status, download, brush_in]

    def on_image(image):
        st = brush_ui.empty_state()
        bg = load_image(image) if image else None
        return ({"background": bg, "layers": [], "composite": bg}, *refresh(st, image))

    image_in.change(on_image, [image_in], [editor, *outs])

    def on_click(st, image, evt: gr.SelectData):
        return refresh(brush_ui.add_point(st, *evt.index[:2]), image)

    arrows.select(on_click, [state, image_in], outs)

    def on_add(st, ed, image, is_static, k):
        try:
            st = brush_ui.commit(st, ed, image, is_static, k)
        except AnimakitError as e:
            raise _error(e) from None
        bg = load_image(image)
        return ({"background": bg, "layers": [], "composite": bg}, *refresh(st, image))

    add.click(on_add, [state, editor, image_in, static, strength], [editor, *outs])
    undo.click(lambda st, image: refresh(brush_ui.undo(st), image), [state, image_in], outs)
    clear.click(lambda image: refresh(brush_ui.empty_state(), image), [image_in], outs)


# -- editing: make the edited first frame in the app ----------------------------------------
def simple_edit(frame: np.ndarray, kind: str, amount: float) -> np.ndarray:
    """A few one-click looks for the first frame; ``amount`` in [0, 1]."""
    f = frame.astype(np.float32)
    if kind == "hue shift":
        hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = (hsv[..., 0].astype(int) + int(90 * amount)) % 180
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    if kind == "warm":
        out = f * (1 + np.array([0.25, 0.05, -0.2]) * amount)
    elif kind == "cool":
        out = f * (1 + np.array([-0.2, 0.0, 0.25]) * amount)
    elif kind == "black & white":
        g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)[..., None]
        out = f * (1 - amount) + g * amount
    elif kind == "painting":
        styl = cv2.stylization(frame, sigma_s=60, sigma_r=0.45).astype(np.float32)
        out = f * (1 - amount) + styl * amount
    elif kind == "pencil":
        _, colour = cv2.pencilSketch(frame, sigma_s=60, sigma_r=0.07, shade_factor=0.05)
        out = f * (1 - amount) + colour.astype(np.float32) * amount
    else:
        raise ValueError(kind)
    return np.clip(out, 0, 255).astype(np.uint8)


EDITS = ("hue shift", "warm", "cool", "black & white", "painting", "pencil")


def editing(ctx) -> None:
    with gr.Accordion("make the edited first frame here", open=False):
        with gr.Row():
            kind = gr.Dropdown(list(EDITS), value="hue shift", label="look")
            amount = gr.Slider(0.0, 1.0, value=0.6, step=0.05, label="amount")
        canvas = gr.ImageEditor(label="first frame (paint on it if you like)", type="numpy",
                                layers=False, sources=(), elem_id="edit_canvas")
        with gr.Row():
            grab = gr.Button("Take the first frame and apply the look")
            use = gr.Button("Use as the edited frame", variant="secondary")
    video_in, edited_in = ctx.inputs["video"], ctx.inputs["edited"]

    def take(video, k, a):
        if not video:
            raise gr.Error("upload the source video first", print_exception=False)
        try:
            first = next(iter(VideoReader(video, name="video"))).copy()
        except AnimakitError as e:
            raise _error(e) from None
        out = simple_edit(first, k, a)
        return {"background": out, "layers": [], "composite": out}

    grab.click(take, [video_in, kind, amount], canvas)

    def use_it(value):
        img = None if not value else value.get("composite")
        if img is None:
            raise gr.Error("take the first frame first", print_exception=False)
        img = np.asarray(img)[..., :3].astype(np.uint8)
        path = runner.output_dir() / f"edited-{uuid.uuid4().hex[:8]}.png"
        save_image(path, img)
        return str(path)

    use.click(use_it, [canvas], edited_in)


CUSTOM_TABS: dict[str, Callable] = {
    "portrait.talking": talking,
    "portrait.pose": pose,
    "video.i2v": i2v,
    "editing.first_frame": editing,
}
