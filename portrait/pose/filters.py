"""Temporal clean-up of a driver's keypoints: fill lost frames (hold and ease), smooth jitter
(One-Euro filter, run forward then backward so it adds no lag), resample to another fps.

Arrays: points (T, 33, 3) float32, visibility (T, 33) float32.
"""
from __future__ import annotations

import numpy as np

from .posefile import PoseSequence


def _ease(t: np.ndarray) -> np.ndarray:
    return t * t * (3.0 - 2.0 * t)


def fill_lost_frames(points: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Points with the frames where ``valid`` (T,) is False replaced: before the first valid
    frame and after the last one the nearest valid pose is held; inside a gap the last pose
    is held and eased (smoothstep) into the next one. (T, 33, 3)."""
    out = points.copy()
    idx = np.flatnonzero(valid)
    if len(idx) == 0:
        return out
    out[: idx[0]] = points[idx[0]]
    out[idx[-1] + 1:] = points[idx[-1]]
    for a, b in zip(idx[:-1], idx[1:]):
        if b - a > 1:
            t = _ease(np.arange(1, b - a, dtype=np.float32) / (b - a))[:, None, None]
            out[a + 1: b] = points[a] * (1 - t) + points[b] * t
    return out


def fill_lost_joints(points: np.ndarray, visibility: np.ndarray,
                     threshold: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Per joint, positions where visibility < ``threshold`` filled by hold-and-ease from
    that joint's visible frames. Returns (points, joint_valid (T, 33) bool); a joint never
    visible keeps its values and stays invalid."""
    out = points.copy()
    ok = visibility >= threshold
    for j in range(points.shape[1]):
        if ok[:, j].any() and not ok[:, j].all():
            out[:, j:j + 1] = fill_lost_frames(points[:, j:j + 1], ok[:, j])
    return out, ok | ok.any(axis=0, keepdims=True)


def one_euro(x: np.ndarray, fps: float, min_cutoff: float = 1.0, beta: float = 0.05,
             d_cutoff: float = 1.0) -> np.ndarray:
    """One-Euro filter along axis 0 of ``x`` (T, ...): strong smoothing when still, little lag
    when moving fast. ``beta`` scales with the speed in the array's units per second."""
    if len(x) < 2:
        return x.copy()
    def alpha(cutoff):
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau * fps)
    out = np.empty_like(x)
    out[0] = x[0]
    dx_prev = np.zeros_like(x[0])
    a_d = alpha(d_cutoff)
    for t in range(1, len(x)):
        dx = (x[t] - out[t - 1]) * fps
        dx_prev = a_d * dx + (1 - a_d) * dx_prev
        a = alpha(min_cutoff + beta * np.abs(dx_prev))
        out[t] = a * x[t] + (1 - a) * out[t - 1]
    return out


def smooth_points(points: np.ndarray, fps: float, strength: float, scale: float) -> np.ndarray:
    """Zero-lag One-Euro smoothing (forward then backward, averaged). ``strength`` in [0, 1]
    (0 = off); ``scale`` is the body size in pixels so the filter behaves alike at any
    resolution. (T, 33, 3)."""
    if strength <= 0 or len(points) < 3:
        return points.copy()
    min_cutoff = 8.0 * (1.0 - strength) ** 2 + 0.3
    beta = 0.7 / max(scale, 1.0)
    fwd = one_euro(points, fps, min_cutoff, beta)
    bwd = one_euro(points[::-1], fps, min_cutoff, beta)[::-1]
    return ((fwd + bwd) / 2).astype(np.float32)


def resample(seq: PoseSequence, fps: float) -> PoseSequence:
    """The sequence linearly resampled to ``fps`` (same duration)."""
    if abs(fps - seq.fps) < 1e-6 or len(seq) < 2:
        return PoseSequence(seq.points, seq.visibility, fps, seq.image_size)
    n = max(1, int(round(len(seq) * fps / seq.fps)))
    src = np.arange(n) * seq.fps / fps
    i0 = np.clip(np.floor(src).astype(int), 0, len(seq) - 1)
    i1 = np.clip(i0 + 1, 0, len(seq) - 1)
    t = (src - i0).astype(np.float32)
    pts = seq.points[i0] * (1 - t)[:, None, None] + seq.points[i1] * t[:, None, None]
    vis = np.minimum(seq.visibility[i0], seq.visibility[i1])
    return PoseSequence(pts.astype(np.float32), vis, fps, seq.image_size)


def facing(points: np.ndarray) -> np.ndarray:
    """(...,) +1 where the body faces the camera the way MediaPipe's front view has it (the
    person's left shoulder and hip on the image's right when upright), -1 when mirrored."""
    across = (points[..., 11, :2] - points[..., 12, :2]) + (points[..., 23, :2] - points[..., 24, :2])
    down = (points[..., 23, :2] + points[..., 24, :2] - points[..., 11, :2] - points[..., 12, :2])
    cross = across[..., 0] * down[..., 1] - across[..., 1] * down[..., 0]
    return np.where(cross >= 0, 1, -1)


def fix_flips(points: np.ndarray, visibility: np.ndarray,
              reference_facing: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Frames whose left/right labels are swapped relative to the reference (a detector
    flip, or the driver turning its back, which a 2D rig cannot show) get their left and
    right keypoints exchanged. Returns (points, visibility, frames fixed)."""
    from .skeleton import MIRROR
    flip = facing(points) != reference_facing
    points, visibility = points.copy(), visibility.copy()
    points[flip] = points[flip][:, list(MIRROR)]
    visibility[flip] = visibility[flip][:, list(MIRROR)]
    return points, visibility, int(flip.sum())
