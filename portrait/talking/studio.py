"""The talking-portrait tab's extras: a live one-frame preview of the expression controls,
and the landmark motion offered for download (reusable as the ``landmarks`` input)."""
from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np

from animakit.errors import AnimakitError
from animakit.media import load_image
from animakit.params import param_specs
from animakit.registry import load_pipeline
from animakit.studio import TabContext, clean_param_value, gradio_error

# the sliders placed beside the preview, and every control the preview follows (those that
# change a still frame)
EXPRESSION = ("smile", "mouth_open", "eyes_open", "brow_raise", "yaw", "pitch", "roll",
              "gaze_x", "gaze_y")
LIVE_PARAMS = EXPRESSION + ("face_index", "crop_scale", "feather")


def preview_frame(name: str, image: Any, params: dict[str, Any]) -> np.ndarray | None:
    """The first frame pipeline ``name`` renders for ``image`` alone with ``params``: a
    0.2 s render without blinks, so the frame shows the controls and nothing else."""
    if not image:
        return None
    pipe = load_pipeline(name)
    specs = {s.name: s for s in param_specs(pipe.Params)}
    values = {k: clean_param_value(specs[k], v) for k, v in params.items() if k in specs}
    values.update({k: v for k, v in (("duration", 0.2), ("blink_rate", 0.0)) if k in specs})
    return next(iter(pipe.stream(image=image, **values)))


def numbered_faces(image: Any) -> np.ndarray | None:
    """``image`` with a box and its ``face_index`` over every face found; None without an
    image or a face."""
    import cv2

    from .sources import faces_in
    if not image:
        return None
    pixels = load_image(image)
    faces = faces_in(pixels)
    if len(faces) < 1:
        return None
    out = pixels.copy()
    thick = max(2, round(max(out.shape[:2]) / 400))
    for index, face in enumerate(faces):
        x0, y0, x1, y1 = (int(round(v)) for v in face.bbox)
        cv2.rectangle(out, (x0, y0), (x1, y1), (255, 80, 40), thick)
        scale = max(0.6, (x1 - x0) / 80)
        cv2.putText(out, str(index), (x0 + thick, y0 + int(28 * scale)), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, (255, 255, 255), thick + 2, cv2.LINE_AA)
        cv2.putText(out, str(index), (x0 + thick, y0 + int(28 * scale)), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, (255, 80, 40), thick, cv2.LINE_AA)
    return out


def extras(ctx: TabContext) -> None:
    """The expression sliders beside their live preview and the faces view, then the landmark
    motion download. The preview follows every change (typing, dragging, an example); only
    the latest pending change is rendered."""
    with gr.Accordion("Expression and head pose (live preview)", open=True,
                      elem_id="talking_expression"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=220):
                ctx.place(EXPRESSION)
            with gr.Column(scale=2, min_width=200):
                preview = gr.Image(label="Live preview: one frame, no driver", height=240,
                                   interactive=False, elem_id="talking_live_preview",
                                   buttons=[])
                faces = gr.Image(label="Faces found ('which face' under Advanced picks one; "
                                       "0 = the largest)", height=160, interactive=False,
                                 elem_id="talking_faces", buttons=[])
    ctx.exports = ("landmarks",)
    ctx.extra_outputs["landmarks"] = gr.File(label="Landmark motion (.npz): upload it later as "
                                                   "'landmark motion' to replay this motion",
                                             interactive=False)
    live = [n for n in LIVE_PARAMS if n in ctx.params]

    def update(image, *values):
        # a problem with the image is said once, in the notes beside the inputs
        try:
            return preview_frame(ctx.cls.name, image, dict(zip(live, values)))
        except AnimakitError:
            return None
        except Exception as e:
            raise gradio_error(e) from None

    def show_faces(image):
        try:
            return numbered_faces(image)
        except AnimakitError:
            return None
        except Exception as e:
            raise gradio_error(e) from None

    ctx.inputs["image"].change(show_faces, [ctx.inputs["image"]], faces,
                               show_progress="hidden", api_visibility="private")
    controls = [ctx.inputs["image"], *[ctx.params[n] for n in live]]
    for c in controls:
        c.change(update, controls, preview, show_progress="hidden", trigger_mode="always_last",
                 api_visibility="private")
