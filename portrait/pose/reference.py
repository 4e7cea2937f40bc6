"""The reference person and the driver, loaded and checked: image at the working size,
keypoints (given or detected), person mask (given or segmented), the driver's pose
sequence cleaned up (lost frames held and eased, jitter smoothed, fps resampled)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from animakit.errors import InputError, MediaError, NoPersonError
from animakit.media import load_image
from .skeleton import LEGS

from .filters import facing, fill_lost_frames, fill_lost_joints, fix_flips, resample, smooth_points
from .posefile import PoseSequence, load_keypoints, load_pose_file
from .retarget import TORSO_BONES, bone_lengths, extend, legs_visible, retarget
from . import tracking

MIN_VISIBILITY = 0.5


@dataclass
class Reference:
    image: np.ndarray          # (H, W, 3) uint8 at the working size
    points: np.ndarray         # (33, 3) pixels
    visibility: np.ndarray     # (33,)
    alpha: np.ndarray          # (H, W) float32 person mask in [0, 1]
    legs: bool                 # knees and ankles visible and inside the frame
    name: str


def _label(source: Any, fallback: str) -> str:
    return str(source) if isinstance(source, (str, Path)) else fallback


def _resize_to(image: np.ndarray, long_side: int) -> np.ndarray:
    h, w = image.shape[:2]
    s = long_side / max(h, w) if long_side else min(1.0, 1024 / max(h, w))
    size = (max(2, round(w * s) // 2 * 2), max(2, round(h * s) // 2 * 2))
    if size == (w, h):
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)


def _load_mask(source: Any, size: tuple[int, int]) -> np.ndarray:
    m = load_image(source, name=_label(source, "mask"), max_side=None)
    m = cv2.resize(m, size, interpolation=cv2.INTER_AREA).astype(np.float32).max(axis=2) / 255.0
    if m.max() < 0.5:
        raise MediaError(_label(source, "mask"), "the mask is empty (no pixel above 50 % grey)")
    return m


def load_reference(inputs: dict[str, Any], long_side: int) -> Reference:
    """The reference person. Raises :class:`NoPersonError` naming the image when no body is
    found and no keypoints were given."""
    from ..landmarks import PersonSegmenter, PoseDetector

    name = _label(inputs["image"], "image")
    original = load_image(inputs["image"], name=name)
    image = _resize_to(original, long_side)
    h, w = image.shape[:2]
    ow, oh = original.shape[1], original.shape[0]
    pose, seg = None, None
    if "keypoints" not in inputs or "mask" not in inputs:
        with PoseDetector(segmentation=True) as det:
            pose = det(image)
            seg = det.last_mask
    if "keypoints" in inputs:
        points, vis = load_keypoints(inputs["keypoints"], (ow, oh),
                                     _label(inputs["keypoints"], "keypoints"))
        points = points * np.array([w / ow, h / oh, w / ow], np.float32)
    elif pose is None:
        raise NoPersonError(name, "no person found in the reference image; if the figure is "
                                  "not a photo, give its keypoints (a .json of 33 [x, y] points)")
    else:
        points, vis = pose.points, pose.visibility
    if np.sum(vis[[11, 12, 23, 24]] >= MIN_VISIBILITY) < 4:
        raise NoPersonError(name, "the reference must show both shoulders and both hips")
    if "mask" in inputs:
        alpha = _load_mask(inputs["mask"], (w, h))
    elif seg is not None and seg.max() > 0.5:
        alpha = np.clip((seg - 0.3) / 0.4, 0, 1).astype(np.float32)   # tighter than 0.5-soft
    else:
        with PersonSegmenter() as s:
            alpha = s(image)
    legs = legs_visible(vis, MIN_VISIBILITY) and bool(
        np.all((points[[27, 28], 1] < h - 1) & (points[[27, 28], 1] > 0)))
    return Reference(image, points.astype(np.float32), vis.astype(np.float32), alpha, legs, name)


ARM_JOINTS = {"left": (13, 15), "right": (14, 16)}     # elbow, wrist
ARM_CLEARANCE = 0.15         # shoulder widths an elbow or wrist must keep outside the torso


def arms_on_body(points: np.ndarray, visibility: np.ndarray) -> list[str]:
    """The sides ("left", "right") whose visible elbow or wrist lies on the torso (the
    shoulder-hip quad) or within ``ARM_CLEARANCE`` shoulder widths of its outline: where an
    arm lies over the body its pixels cannot be told from the torso's, so moving it leaves
    a smear. ``points`` (33, 2+) pixels, ``visibility`` (33,)."""
    quad = points[[11, 12, 24, 23], :2].astype(np.float32).reshape(-1, 1, 2)
    width = max(float(np.linalg.norm(points[11, :2] - points[12, :2])), 1e-6)
    sides = []
    for side, joints in ARM_JOINTS.items():
        inside = [cv2.pointPolygonTest(quad, (float(points[j, 0]), float(points[j, 1])), True)
                  / width > -ARM_CLEARANCE for j in joints if visibility[j] >= MIN_VISIBILITY]
        if any(inside):
            sides.append(side)
    return sides


def load_driver(source: Any, fps: float | None, duration: float | None) -> PoseSequence:
    """The driver's raw pose sequence (video: tracked with MediaPipe, only as far as
    ``duration`` needs; .npz: read)."""
    if isinstance(source, PoseSequence):
        seq = source
    else:
        path = Path(str(source))
        if path.suffix.lower() == ".npz":
            seq = load_pose_file(path, "driving")
        elif path.suffix.lower() in (".json",):
            raise MediaError(path, "driving must be a video or a .npz pose file")
        else:
            seq = tracking.detect_pose_video(path, "driving", max_side=tracking.DETECT_SIDE,
                                             max_seconds=duration)
        if not seq.detected.any():
            raise NoPersonError(path, "the driving pose file has no frame with a person")
    if fps:
        seq = resample(seq, fps)
    if duration:
        n = max(1, int(round(duration * seq.fps)))
        seq = PoseSequence(seq.points[:n], seq.visibility[:n], seq.fps, seq.image_size)
    return seq


@dataclass
class Targets:
    points: np.ndarray          # (T, 33, 3) retargeted poses in the reference's pixels
    visibility: np.ndarray      # (T, 33)
    driver: np.ndarray          # (T, 33, 3) cleaned driver poses, driver pixels
    lost_frames: int
    flipped_frames: int


def targets(ref: Reference, seq: PoseSequence, *, smoothing: float, mode: str,
            root_motion: float) -> Targets:
    """Clean the driver and retarget it onto the reference."""
    detected = seq.detected & (seq.visibility[:, [11, 12, 23, 24]].min(axis=1) >= 0.2)
    if not detected.any():
        raise InputError("driving", "the driver's torso (shoulders and hips) is never visible")
    pts, vis, flipped = fix_flips(seq.points, seq.visibility, int(facing(ref.points)))
    pts = fill_lost_frames(pts, detected)
    vis = np.where(detected[:, None], vis, 0.0)
    vis = fill_lost_frames(vis[:, :, None], detected)[:, :, 0]
    pts, joint_ok = fill_lost_joints(pts, vis, MIN_VISIBILITY)
    scale = float(bone_lengths(extend(pts))[:, list(TORSO_BONES)].sum(axis=1).mean())
    pts = smooth_points(pts, seq.fps, smoothing, scale)
    joint_ok &= ref.visibility[None] >= 0.3
    if not ref.legs:
        joint_ok[:, list(LEGS)] = False
    out = retarget(pts, joint_ok, ref.points, ref.visibility, mode=mode,
                   root_motion=root_motion, ground=ref.legs)
    out_vis = np.minimum(np.maximum(vis, joint_ok * 0.9), ref.visibility[None])
    return Targets(out, out_vis.astype(np.float32), pts, int((~detected).sum()), flipped)
