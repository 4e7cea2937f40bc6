"""``portrait.pose``: make the person in a photo move like a driver (a dance video or a pose
file). Engines: ``rig`` (weight-free, default) and ``mimicmotion`` (diffusers, SVD-based)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    fps: float | None = param(None, "output frame rate (default: the driver's)", min=1, max=120, advanced=True)
    duration: float | None = param(None, "seconds of video (default: the whole driver)",
                                   min=0.04, max=3600)
    retarget: str = param("skeleton", "skeleton = the driver's pose on the reference's bone "
                          "lengths, root and ground line; relative = the reference's own pose "
                          "plus the driver's motion since its first frame (no jump when the "
                          "reference stands unlike the driver, e.g. a half-body portrait); "
                          "scale = the driver's proportions scaled; off = driver points as is",
                          choices=("skeleton", "relative", "scale", "off"), advanced=True)
    root_motion: float = param(1.0, "how much of the driver's travel across the frame to follow "
                               "(0 = stay in place)", min=0.0, max=2.0)
    smoothing: float = param(0.5, "temporal smoothing of the driver's keypoints (0 = off)",
                             min=0.0, max=1.0, advanced=True)


class PosePipeline(Pipeline):
    name = "portrait.pose"
    title = "Dance from a video"
    help = "Animate a full-body photo with the motion of a dance video or a pose sequence."
    inputs = (
        InputSpec("image", "image", "the person to animate (full or upper body)", label="photo"),
        InputSpec("driving", "video", "driving video, or a pose sequence .npz "
                  "(saved by an earlier render)", extensions=VIDEO_OR_POSE,
                  accepts=("video", "file"), label="driving video"),
        InputSpec("background", "image", "background to put the person on (default: the "
                  "reference's own, inpainted behind the body)", required=False, advanced=True),
        InputSpec("keypoints", "file", "reference keypoints, if the detector misses them: .json "
                  "with 33 MediaPipe [x, y] points, or a pose .npz", required=False,
                  extensions=(".json", ".npz"), advanced=True),
        InputSpec("mask", "image", "reference person mask (white = person), if segmentation "
                  "misses it", required=False, advanced=True),
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

    def input_notes(self, inputs: dict[str, Any]) -> list[str]:
        """At upload: the reference must show a person (raised otherwise); arms lying over
        the body and legs out of frame get the notes the rig engine would give after
        rendering."""
        if "image" not in inputs:
            return []
        from .reference import arms_on_body, load_reference
        from .rig_engine import ARMS_WARNING, LEGS_WARNING
        given = {k: v for k, v in inputs.items() if k in ("image", "keypoints", "mask")}
        ref = load_reference(given, PoseParams.size)
        name = Path(str(inputs["image"])).name
        notes = [] if ref.legs else [LEGS_WARNING.format(name=name)]
        on_body = arms_on_body(ref.points, ref.visibility)
        if on_body:
            arms = "two arms lie" if len(on_body) == 2 else f"{on_body[0]} arm lies"
            notes.append(ARMS_WARNING.format(name=name, arms=arms))
        return notes

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
