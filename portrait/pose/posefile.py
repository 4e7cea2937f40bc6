"""Pose sequences: the ``.npz`` file format, reference keypoint files, and detection on video.

A pose file (what ``--export pose=PATH`` writes and ``driving=`` accepts) holds:

- ``points``      (T, 33, 3) float32 — MediaPipe-33 keypoints in pixels (x, y, z)
- ``visibility``  (T, 33) float32 in [0, 1] — 0 where the joint (or the whole person) was lost
- ``fps``         () float
- ``image_size``  (2,) int — (width, height) of the frame the pixels refer to

Points may also be normalized to [0, 1] (then ``image_size`` is absent or (1, 1)).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from animakit.errors import MediaError
from animakit.media import atomic_output
from animakit.media.ffmpeg import check_readable
from .skeleton import N_POSE

POSE_SUFFIXES = (".npz",)     # a saved pose sequence (--export pose=)


@dataclass
class PoseSequence:
    points: np.ndarray          # (T, 33, 3) float32 pixels
    visibility: np.ndarray      # (T, 33) float32
    fps: float
    image_size: tuple[int, int]  # (width, height)

    def __len__(self) -> int:
        return len(self.points)

    @property
    def detected(self) -> np.ndarray:
        """(T,) bool: frames where a person was found (any joint visible)."""
        return self.visibility.max(axis=1) > 0.0

    def scaled(self, size: tuple[int, int]) -> "PoseSequence":
        """The same poses in the pixels of a frame of ``size`` = (width, height)."""
        sx, sy = size[0] / self.image_size[0], size[1] / self.image_size[1]
        pts = self.points * np.array([sx, sy, sx], np.float32)
        return PoseSequence(pts, self.visibility.copy(), self.fps, tuple(size))

    def save(self, path: str | Path, **extra: np.ndarray) -> None:
        """Write the ``.npz`` atomically; ``extra`` arrays are stored alongside."""
        with atomic_output(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, points=self.points.astype(np.float32),
                                    visibility=self.visibility.astype(np.float32),
                                    fps=np.float32(self.fps),
                                    image_size=np.array(self.image_size, np.int32), **extra)


def _check_shapes(name: str, pts: np.ndarray, vis: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    pts = np.asarray(pts, np.float32)
    if pts.ndim == 2:
        pts = pts[None]
    if pts.ndim != 3 or pts.shape[1] != N_POSE or pts.shape[2] not in (2, 3, 4):
        raise MediaError(name, f"keypoints must be (frames, 33, 2|3|4), got {tuple(pts.shape)}")
    if pts.shape[2] == 4 and vis is None:
        vis = pts[:, :, 3]
    if pts.shape[2] == 2:
        pts = np.concatenate([pts, np.zeros_like(pts[:, :, :1])], axis=2)
    pts = np.ascontiguousarray(pts[:, :, :3])
    vis = np.ones(pts.shape[:2], np.float32) if vis is None else np.asarray(vis, np.float32)
    if vis.ndim == 1:
        vis = vis[None]
    if vis.shape != pts.shape[:2]:
        raise MediaError(name, f"visibility must be (frames, 33) like the points, got {vis.shape}")
    if not np.all(np.isfinite(pts[vis > 0])):
        raise MediaError(name, "keypoints contain NaN or infinite values")
    return pts, np.clip(vis, 0.0, 1.0)


def _denormalize(pts: np.ndarray, size: tuple[int, int] | None,
                 fallback: tuple[int, int] | None) -> tuple[np.ndarray, tuple[int, int]]:
    if size is not None and tuple(size) != (1, 1):
        return pts, (int(size[0]), int(size[1]))
    if fallback is None:
        raise ValueError("normalized keypoints need a frame size")
    w, h = fallback
    return pts * np.array([w, h, w], np.float32), (int(w), int(h))


def load_pose_file(path: str | Path, name: str = "driving",
                   frame_size: tuple[int, int] | None = None) -> PoseSequence:
    """A :class:`PoseSequence` from a pose ``.npz``. Normalized points are scaled to
    ``frame_size`` when the file gives no ``image_size``."""
    p = check_readable(path, name)
    try:
        with np.load(p, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise MediaError(p, f"{name} is not a readable .npz pose file ({e})") from None
    key = "points" if "points" in data else "keypoints" if "keypoints" in data else None
    if key is None:
        raise MediaError(p, f"{name} has no 'points' array (found: {', '.join(data) or 'nothing'})")
    pts, vis = _check_shapes(str(p), data[key], data.get("visibility"))
    fps = float(data["fps"]) if "fps" in data else 0.0
    if not 0 < fps <= 240:
        raise MediaError(p, f"{name} needs an 'fps' value in (0, 240], got {fps}")
    size = tuple(int(v) for v in data["image_size"]) if "image_size" in data else None
    if size is None and float(np.abs(pts[:, :, :2]).max(initial=0)) > 2.0:
        raise MediaError(p, f"{name} has pixel keypoints but no 'image_size' (width, height)")
    pts, size = _denormalize(pts, size, frame_size or (1, 1))
    return PoseSequence(pts, vis, fps, size)


def load_keypoints(path: str | Path, image_size: tuple[int, int],
                   name: str = "keypoints") -> tuple[np.ndarray, np.ndarray]:
    """User-supplied reference keypoints: (33, 3) pixels and (33,) visibility.

    ``.json``: ``{"points": [[x, y(, z)], ...33], "visibility": [...]}`` or a bare list of 33
    ``[x, y]`` / ``[x, y, z, visibility]``; ``.npz``: a pose file (its first frame is used).
    Normalized coordinates (all within [0, 1]) are scaled to ``image_size``."""
    p = check_readable(path, name)
    suffix = p.suffix.lower()
    if suffix == ".npz":
        seq = load_pose_file(p, name, frame_size=image_size).scaled(image_size)
        return seq.points[0], seq.visibility[0]
    if suffix != ".json":
        raise MediaError(p, f"{name} must be a .json or .npz file")
    try:
        data = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MediaError(p, f"{name} is not valid JSON ({e})") from None
    if isinstance(data, dict):
        raw, vis = data.get("points", data.get("keypoints")), data.get("visibility")
    else:
        raw, vis = data, None
    try:
        pts, v = _check_shapes(str(p), np.array(raw, np.float32),
                               None if vis is None else np.array(vis, np.float32))
    except (TypeError, ValueError):
        raise MediaError(p, f"{name} must list 33 [x, y] points") from None
    pts = pts[0]
    if float(np.abs(pts[:, :2]).max()) <= 1.0:
        w, h = image_size
        pts = pts * np.array([w, h, w], np.float32)
    return pts, v[0]
