"""The pose tab's extras: the skeleton-overlay preview for checking the retargeting."""
from __future__ import annotations

import gradio as gr

from animakit.studio import TabContext


def extras(ctx: TabContext) -> None:
    ctx.exports = ("preview",)
    ctx.extra_outputs["preview"] = gr.Video(label="Skeleton overlay: the driver's pose, "
                                                  "retargeted, drawn on the result", interactive=False,
                                            elem_id="pose_skeleton_preview")
