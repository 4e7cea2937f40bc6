"""The DiT tab's extras: draw a frame on a canvas and animate it.

The canvas starts on a muted background of the kind the model was trained on (upscaled from
its 32x32 resolution); the brush offers the data's six saturated colours. "Use as first
frame" / "Use as last frame" save the drawing and set the ``image`` / ``last_image`` input;
the pipeline shrinks it to 32x32, so a shape a quarter to a half of the canvas wide reads best.
"""
from __future__ import annotations

import colorsys
import uuid

import cv2
import gradio as gr
import numpy as np

from animakit.media import save_image
from animakit.studio import TabContext, session_dir

from .data import COLOURS, SIZE, background

CANVAS = 256


def canvas_background(seed: int) -> np.ndarray:
    """(CANVAS, CANVAS, 3) uint8: a training-like background, upscaled smoothly."""
    small = (background(np.random.default_rng(seed), SIZE) * 255).round().astype(np.uint8)
    return cv2.resize(small, (CANVAS, CANVAS), interpolation=cv2.INTER_CUBIC)


def brush_colours() -> list[str]:
    """The data's named colours at full saturation and value, as #rrggbb."""
    out = []
    for hue in COLOURS.values():
        r, g, b = (round(v * 255) for v in colorsys.hsv_to_rgb(hue, 0.9, 0.95))
        out.append(f"#{r:02x}{g:02x}{b:02x}")
    return out


def editor_value(image: np.ndarray) -> dict:
    return {"background": image, "layers": [], "composite": image}


def drawing(value: dict | None) -> np.ndarray:
    """The canvas's composite as (H, W, 3) uint8, or a studio error when it is empty."""
    img = None if not value else value.get("composite")
    if img is None:
        raise gr.Error("draw on the canvas first", print_exception=False)
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[2] == 4:          # transparent pixels show the background
        alpha = img[..., 3:].astype(np.float32) / 255
        img = img[..., :3] * alpha + 255 * (1 - alpha)
    return np.asarray(img)[..., :3].astype(np.uint8)


def extras(ctx: TabContext) -> None:
    colours = brush_colours()
    with gr.Accordion("draw a frame to animate", open=False):
        canvas = gr.ImageEditor(value=editor_value(canvas_background(0)), type="numpy",
                                label="draw a shape (it is shown to the model at 32x32)",
                                layers=False, sources=(), canvas_size=(CANVAS, CANVAS),
                                fixed_canvas=True, elem_id="dit_canvas",
                                brush=gr.Brush(default_size=12, colors=colours,
                                               default_color=colours[0], color_mode="fixed"))
        with gr.Row():
            fresh = gr.Button("New background", variant="secondary")
            first = gr.Button("Use as first frame")
            last = gr.Button("Use as last frame", variant="secondary")

    fresh.click(lambda: editor_value(canvas_background(int(np.random.default_rng().integers(1 << 30)))),
                None, canvas)

    def save(value, request: gr.Request) -> str:
        folder = session_dir(getattr(request, "session_hash", None))    # this browser's own
        path = folder / f"drawn-{uuid.uuid4().hex[:8]}.png"
        save_image(path, drawing(value))
        return str(path)

    first.click(save, [canvas], ctx.inputs["image"])
    last.click(save, [canvas], ctx.inputs["last_image"])
