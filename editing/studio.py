"""The first-frame editing tab's extras: make the edited first frame in the app, from a few
one-click looks and a paint canvas, and use it as the ``edited`` input."""
from __future__ import annotations

import uuid

import cv2
import gradio as gr
import numpy as np

from animakit.errors import AnimakitError
from animakit.media import VideoReader, save_image
from animakit.studio import TabContext, gradio_error, session_dir

EDITS = ("hue shift", "warm", "cool", "black & white", "painting", "pencil")


def simple_edit(frame: np.ndarray, kind: str, amount: float) -> np.ndarray:
    """``frame`` with the look ``kind`` (one of :data:`EDITS`) applied; ``amount`` in [0, 1]."""
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


def extras(ctx: TabContext) -> None:
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
            raise gradio_error(e) from None
        out = simple_edit(first, k, a)
        return {"background": out, "layers": [], "composite": out}

    grab.click(take, [video_in, kind, amount], canvas)

    def use_it(value, request: gr.Request):
        img = None if not value else value.get("composite")
        if img is None:
            raise gr.Error("take the first frame first", print_exception=False)
        img = np.asarray(img)[..., :3].astype(np.uint8)
        folder = session_dir(getattr(request, "session_hash", None))    # this browser's own
        path = folder / f"edited-{uuid.uuid4().hex[:8]}.png"
        save_image(path, img)
        return str(path)

    use.click(use_it, [canvas], edited_in)
