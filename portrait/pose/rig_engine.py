"""The weight-free ``rig`` engine: retarget the driver onto the reference, skin a per-part
triangle mesh to the skeleton, render it texture-mapped over an inpainted background."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from animakit.media import OUTPUT_VIDEO_SUFFIXES, VideoWriter, load_image
from animakit.params import param
from animakit.pipeline import Engine, FrameStream
from .skeleton import draw_skeleton

from .arap import FREE_RADIUS, ArapSolver
from .posefile import PoseSequence
from .raster import clean_plate, draw_part
from .reference import (Reference, Targets, arms_on_body, load_driver, load_reference,
                        targets)
from .retarget import extend
from .rig import DEPTH_JOINTS, Part, Rig, build_rig
from .skinning import frame_transforms, skin, skin_rigid

LEGS_WARNING = ("{name}: the legs are out of frame in the reference; animating the visible "
                "upper body only (the legs keep their pose)")
ARMS_WARNING = ("{name}: the {arms} over the body in the reference; where an arm covers the "
                "torso their pixels cannot be told apart, so moving it leaves smears (a photo "
                "with the arms held away from the body works best)")


class RigRenderer:
    """Renders frames of a rig at target poses. ``render(points)`` -> (H, W, 3) uint8;
    ``last_coverage`` is the body's alpha (H, W) float32 in the last frame. ``skinning``
    (rigid / linear / arap) overrides the older ``rigid`` flag."""

    def __init__(self, rig: Rig, background: np.ndarray, rigid: bool = True,
                 skinning: str | None = None):
        self.rig = rig
        self.skinning = skinning or ("rigid" if rigid else "linear")
        self.rigid = self.skinning != "linear"
        self.arap = (ArapSolver(rig.parts, FREE_RADIUS * rig.grid) if self.skinning == "arap"
                     else None)
        self.background = background.astype(np.float32)
        self.last_coverage: np.ndarray | None = None

    def order(self, ext: np.ndarray) -> list[int]:
        """Part indices back to front by mean joint depth (z: smaller is nearer)."""
        depth = []
        for i, part in enumerate(self.rig.parts):
            z = float(np.mean(ext[list(DEPTH_JOINTS[part.name]), 2]))
            if part.name == "head":
                z -= 1e6          # the head is never hidden behind its own torso
            depth.append((-z, i))
        return [i for _, i in sorted(depth)]

    def deform(self, part: Part, transforms: dict) -> np.ndarray:
        """(N, 2) frame positions of ``part``'s vertices."""
        if self.rigid and part.pivots is not None:
            return skin_rigid(part.vertices, part.weights, transforms, part.pivots, part.uv)
        return skin(part.vertices, part.weights, transforms, part.uv)

    def deform_all(self, transforms: dict) -> list[np.ndarray]:
        """Per part, (N, 2) frame positions of its vertices (ARAP-refined with ``arap``)."""
        skinned = [self.deform(part, transforms) for part in self.rig.parts]
        return self.arap.refine(skinned, transforms) if self.arap else skinned

    def render_with_coverage(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(frame (H, W, 3) uint8, body alpha (H, W) float32) at pose ``points`` (33, 3);
        thread-safe (the rig is only read)."""
        ext = extend(points[None].astype(np.float64))[0]
        transforms = frame_transforms(self.rig.ref_ext, ext)
        canvas = self.background.copy()
        coverage = np.zeros(canvas.shape[:2], np.float32)
        deformed = self.deform_all(transforms)
        for i in self.order(ext):
            draw_part(canvas, self.rig.parts[i], deformed[i], coverage)
        return np.clip(canvas + 0.5, 0, 255).astype(np.uint8), coverage

    def render(self, points: np.ndarray) -> np.ndarray:
        frame, self.last_coverage = self.render_with_coverage(points)
        return frame

    def render_all(self, poses: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Frames for ``poses`` (each (33, 3)), in order, one at a time. (Rendering two frames
        at once in threads measured slower on 2 shared cores: the numpy parts hold the GIL.)"""
        return map(self.render, poses)


def load_background(source: Any, size: tuple[int, int]) -> np.ndarray:
    """A user background, cover-fitted (scaled and centre-cropped) to ``size`` (W, H)."""
    name = str(source) if isinstance(source, (str, Path)) else "background"
    bg = load_image(source, name=name)
    w, h = size
    s = max(w / bg.shape[1], h / bg.shape[0])
    bg = cv2.resize(bg, (max(w, round(bg.shape[1] * s)), max(h, round(bg.shape[0] * s))),
                    interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    y0, x0 = (bg.shape[0] - h) // 2, (bg.shape[1] - w) // 2
    return np.ascontiguousarray(bg[y0:y0 + h, x0:x0 + w])


def write_pose(path: Path, tg: Targets, fps: float, size: tuple[int, int], seq: PoseSequence) -> None:
    PoseSequence(tg.points, tg.visibility, fps, size).save(
        path, driver_points=tg.driver.astype(np.float32),
        driver_visibility=seq.visibility.astype(np.float32),
        driver_image_size=np.array(seq.image_size, np.int32))


def write_preview(path: Path, renderer: RigRenderer, tg: Targets, fps: float) -> None:
    """The output with the retargeted skeleton drawn over it."""
    with VideoWriter(path, fps) as writer:
        for pts, vis in zip(tg.points, tg.visibility):
            writer.write(draw_skeleton(renderer.render(pts), pts, vis))


@dataclass
class RigParams:
    """The rig engine's own settings."""
    skinning: str = param("arap", "rigid = joint-angle blending that keeps bent elbows and "
                          "knees their width; linear = plain linear blend skinning; arap = "
                          "rigid, then as-rigid-as-possible refinement of the joint zones",
                          choices=("rigid", "linear", "arap"), advanced=True)
    inpaint: bool = param(True, "fill the background revealed behind the moved body", advanced=True)


class RigEngine(Engine):
    name = "rig"
    help = ("weight-free: MediaPipe pose + mask, retargeting, per-part triangle mesh skinned to "
            "the skeleton (as-rigid-as-possible around the joints: no collapsing elbows), "
            "texture-mapped render over an inpainted background (CPU, real time)")
    Params = RigParams

    def stream(self, inputs: dict[str, Any], params: Any, generator: Any = None) -> FrameStream:
        ref, renderer, seq = prepare(inputs, params)
        warnings = [] if ref.legs else [LEGS_WARNING.format(name=ref.name)]
        on_body = arms_on_body(ref.points, ref.visibility)
        if on_body:
            arms = "two arms lie" if len(on_body) == 2 else f"{on_body[0]} arm lies"
            warnings.append(ARMS_WARNING.format(name=ref.name, arms=arms))
        tg = targets(ref, seq, smoothing=params.smoothing, mode=params.retarget,
                     root_motion=params.root_motion)
        if tg.lost_frames:
            warnings.append(f"driving: no person in {tg.lost_frames} of {len(seq)} frames; "
                            "held the last pose and eased into the next")
        h, w = ref.image.shape[:2]

        def frames():
            yield from renderer.render_all(tg.points)

        stream = FrameStream(frames(), fps=seq.fps, size=(w, h), num_frames=len(tg.points),
                             side_outputs={
                                 "pose": lambda p: write_pose(Path(p), tg, seq.fps, (w, h), seq),
                                 "preview": lambda p: write_preview(Path(p), renderer, tg, seq.fps)},
                             export_suffixes={"pose": (".npz",), "preview": OUTPUT_VIDEO_SUFFIXES},
                             extras={"parts": len(renderer.rig.parts), "legs_rigged": ref.legs,
                                     "lost_frames": tg.lost_frames,
                                     "flipped_frames": tg.flipped_frames,
                                     "targets": tg.points, "warnings": warnings})
        stream.warnings.extend(warnings)
        return stream


def prepare(inputs: dict[str, Any], params: Any) -> tuple[Reference, RigRenderer, PoseSequence]:
    """The reference, its rig renderer and the driver's raw poses. (Tracking the driver in a
    thread beside the reference setup saved ~0.2 s but could hang OpenBLAS in the main
    thread on this machine, so both run here, one after the other.)"""
    ref = load_reference(inputs, params.size)
    renderer = rig_renderer(ref, inputs.get("background"), params.inpaint,
                            skinning=params.skinning)
    return ref, renderer, load_driver(inputs["driving"], params.fps, params.duration)


def rig_renderer(ref: Reference, background: Any, inpaint: bool, rigid: bool = True,
                 skinning: str | None = None) -> RigRenderer:
    rig = build_rig(ref.image, ref.alpha, ref.points, ref.visibility, ref.legs)
    h, w = ref.image.shape[:2]
    if background is not None:
        bg = load_background(background, (w, h))
    elif inpaint:
        bg = clean_plate(ref.image, ref.alpha)
    else:
        bg = ref.image
    return RigRenderer(rig, bg, rigid, skinning)
