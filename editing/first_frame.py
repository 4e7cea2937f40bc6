"""``editing.first_frame``: edit the first frame of a video with any image tool; the edit
is carried through the whole clip with the original motion.

    pipe = animakit.load_pipeline("editing.first_frame")
    out = pipe(video="clip.mp4", edited="frame0_edited.png")          # flow engine
    animakit.render.render_to_file(pipe, "out.mp4",
                                   inputs={"video": "clip.mp4", "edited": "frame0_edited.png"})

The output keeps the source's frame rate, frame count and audio.
"""
from __future__ import annotations

from dataclasses import dataclass

from animakit.params import param
from animakit.pipeline import InputSpec, Pipeline

from .flow_engine import FlowEditEngine


@dataclass
class FirstFrameEditParams:
    transfer: str = param("detail", "what the flow carries: 'detail' = the edit's departure "
                          "from a colour grade, rebuilt on each frame (keeps the video's own "
                          "detail and lighting); 'pixels' = the edited pixels themselves "
                          "(opaque additions)", choices=("detail", "pixels"))
    flow_preset: str = param("medium", "DIS preset of the frame-to-anchor flow "
                             "(the consecutive-frame flow always uses 'fast')",
                             choices=("ultrafast", "fast", "medium"))
    flow_size: int = param(512, "longest side the flow is estimated at (larger videos are "
                           "scaled down for the flow only)", min=64, max=4096)
    refine_every: int = param(1, "re-anchor (direct flow to the anchor frame) every N "
                              "frames; 0 = only chain consecutive flows", min=0, max=100)
    match_tolerance: float = param(10.0, "mean RGB difference (0-255) up to which a flow "
                                   "match is fully trusted; 2.8x this is rejected",
                                   min=1.0, max=80.0)
    mask_threshold: float = param(12.0, "automatic mask: RGB difference (0-255) between the "
                                  "edited and original first frames that counts as edited",
                                  min=1.0, max=255.0)
    mask_grow: int = param(6, "automatic mask: pixels to grow it by (also its feather)",
                           min=0, max=64)
    feather: int = param(5, "pixels over which sources of the edit are blended at seams",
                         min=0, max=31)


class FirstFrameEditPipeline(Pipeline):
    name = "editing.first_frame"
    help = ("Edit the first frame with any image tool; the edit follows the video's motion "
            "(optical-flow propagation with occlusion handling and keyframes).")
    inputs = (
        InputSpec("video", "video", "the source clip"),
        InputSpec("edited", "image", "the edited first frame (any size; resized to the video)"),
        InputSpec("keyframes", "file", "further edited frames: a folder of images named by "
                  "frame index (edit_0024.png) or a .json {index: image path}",
                  required=False, extensions=(".json",)),
        InputSpec("mask", "image", "where the edit applies (white); default: where the "
                  "edited and original first frames differ", required=False),
    )
    Params = FirstFrameEditParams
    engines = {"flow": FlowEditEngine}
    default_engine = "flow"
