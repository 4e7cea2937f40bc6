"""``editing.restyle``: restyle a whole video — as a cartoon, anime, pencil sketch,
watercolour or oil painting (weight-free ``looks`` engine), or by prompt with AnimateDiff
video-to-video on your own Stable Diffusion 1.5 weights (``animatediff`` engine).

    pipe = animakit.load_pipeline("editing.restyle")
    out = pipe(video="clip.mp4", look="watercolour")                    # looks engine
    out = pipe(video="clip.mp4", engine="animatediff", weights="/models/sd15",
               motion_adapter="/models/animatediff-v1-5-3", prompt="anime, cel shading")

The output keeps the source's frame rate, frame count and audio.
"""
from __future__ import annotations

from dataclasses import dataclass

from animakit.pipeline import InputSpec, Pipeline

from .restyle_animatediff import AnimateDiffEngine
from .restyle_looks import LooksEngine


@dataclass
class RestyleParams:
    """What every engine reads: nothing; the looks and animatediff engines share no
    setting, so each declares all of its own."""


class RestylePipeline(Pipeline):
    name = "editing.restyle"
    title = "Restyle a video"
    help = ("Restyle a whole video: cartoon, anime, pencil, watercolour or oil looks carried "
            "along the motion (no boiling), or AnimateDiff video-to-video from a prompt.")
    inputs = (
        InputSpec("video", "video", "the source clip"),
        InputSpec("edited", "image", "animatediff only: a restyled first frame, used as the "
                  "IP-Adapter image (needs ip_adapter weights)", required=False),
    )
    Params = RestyleParams
    engines = {"looks": LooksEngine, "animatediff": AnimateDiffEngine}
    default_engine = "looks"
    studio_order = 45

    examples = (
        {"label": "cartoon: flat colours and ink lines, carried along the motion",
         "inputs": {"video": "editing/source.mp4"}, "params": {"look": "cartoon"}},
        {"label": "anime cel shading", "inputs": {"video": "editing/source.mp4"},
         "engine": "looks", "params": {"look": "anime"}},
        {"label": "pencil sketch", "inputs": {"video": "editing/source.mp4"},
         "engine": "looks", "params": {"look": "pencil"}},
        {"label": "watercolour", "inputs": {"video": "editing/source.mp4"},
         "engine": "looks", "params": {"look": "watercolour"}},
        {"label": "oil paint", "inputs": {"video": "editing/source.mp4"},
         "engine": "looks", "params": {"look": "oil"}},
    )
