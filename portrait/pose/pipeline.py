"""``portrait.pose``: make the person in a photo move like a driver (a dance video or a pose
file). Engines: ``rig`` (weight-free, default) and ``mimicmotion`` (diffusers, SVD-based)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from animakit.media import VIDEO_SUFFIXES
from animakit.params import param
from animakit.pipeline import InputSpec, Pipeline

from .mimic_engine import MimicMotionEngine
from .posefile import POSE_SUFFIXES
from .rig_engine import RigEngine

if TYPE_CHECKING:
    from animakit.studio import TabContext

# a driver: any video ffmpeg reads (animated GIFs too) or a saved pose file
VIDEO_OR_POSE = VIDEO_SUFFIXES + (".gif",) + POSE_SUFFIXES


@dataclass
class PoseParams:
    """What both engines read: output size and timing, and how the driver is retargeted."""
    size: int = param(768, "long side of the output in pixels (0 = the reference's, capped at 1024)",
                      min=0, max=2048)
    fps: float | None = param(None, "output frame rate (default: the driver's)", min=1, max=120)
    duration: float | None = param(None, "seconds of video (default: the whole driver)",
                                   min=0.04, max=3600)
    retarget: str = param("skeleton", "skeleton = the driver's pose on the reference's bone "
                          "lengths, root and ground line; relative = the reference's own pose "
                          "plus the driver's motion since its first frame (no jump when the "
                          "reference stands unlike the driver, e.g. a half-body portrait); "
                          "scale = the driver's proportions scaled; off = driver points as is",
                          choices=("skeleton", "relative", "scale", "off"))
    root_motion: float = param(1.0, "how much of the driver's travel across the frame to follow "
                               "(0 = stay in place)", min=0.0, max=2.0)
    smoothing: float = param(0.5, "temporal smoothing of the driver's keypoints (0 = off)",
                             min=0.0, max=1.0)


class PosePipeline(Pipeline):
    name = "portrait.pose"
    help = "Animate a full-body photo with the motion of a dance video or a pose sequence."
    inputs = (
        InputSpec("image", "image", "the reference person (full or upper body)"),
        InputSpec("driving", "video", "driving video, or a pose sequence .npz "
                  "(what --export pose=PATH writes)", extensions=VIDEO_OR_POSE,
                  accepts=("video", "file")),
        InputSpec("background", "image", "background to put the person on (default: the "
                  "reference's own, inpainted behind the body)", required=False),
        InputSpec("keypoints", "file", "reference keypoints, if the detector misses them: .json "
                  "with 33 MediaPipe [x, y] points, or a pose .npz", required=False,
                  extensions=(".json", ".npz")),
        InputSpec("mask", "image", "reference person mask (white = person), if segmentation "
                  "misses it", required=False),
    )
    Params = PoseParams
    engines = {"rig": RigEngine, "mimicmotion": MimicMotionEngine}
    default_engine = "rig"
    studio_order = 20

    @classmethod
    def studio_extras(cls, ctx: TabContext) -> None:
        """The studio tab's own part: skeleton-overlay preview."""
        from .studio import extras      # imports gradio: only when the tab is built
        extras(ctx)

    examples = (
        {"label": "figure waves (pose file + given keypoints and mask: no detection, fastest)",
         "inputs": {"image": "pose/figure.png", "driving": "pose/wave.npz",
                    "keypoints": "pose/figure_keypoints.json", "mask": "pose/figure_mask.png"},
         "params": {"size": 512}},
        {"label": "figure copies a dance video (retargeted from a shorter dancer)",
         "inputs": {"image": "pose/figure.png", "driving": "pose/dance_driver.mp4"},
         "params": {"size": 512, "root_motion": 0.5}},
        {"label": "figure walks in place",
         "inputs": {"image": "pose/figure.png", "driving": "pose/walk.npz",
                    "keypoints": "pose/figure_keypoints.json", "mask": "pose/figure_mask.png"},
         "params": {"size": 512, "root_motion": 0.0}},
    )
