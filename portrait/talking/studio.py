"""The talking-portrait tab's extras: a live one-frame preview of the expression controls,
and the landmark motion offered for download (reusable as the ``landmarks`` input)."""
from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np

from animakit.params import param_specs
from animakit.registry import load_pipeline
from animakit.studio import TabContext, clean_param_value, gradio_error

# the controls the preview follows: those that change a still frame
LIVE_PARAMS = ("smile", "mouth_open", "eyes_open", "brow_raise", "yaw", "pitch", "roll",
               "gaze_x", "gaze_y", "face_index", "crop_scale", "feather")


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


def extras(ctx: TabContext) -> None:
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
            raise gradio_error(e) from None

    controls = [ctx.inputs["image"], *[ctx.params[n] for n in live]]
    for c in controls:
        # sliders update on release: a drag would queue a render per step
        (c.release if isinstance(c, gr.Slider) else c.change)(
            update, controls, preview, show_progress="minimal", trigger_mode="always_last")
