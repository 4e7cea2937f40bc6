"""Retargeting: the driver's motion carried onto the reference's proportions.

Each frame is rebuilt down the skeleton tree from the root (mid-hip): every bone takes the
driver's 2D direction and the reference's length, times the driver's foreshortening (its
current length over its rest length), so a tall driver does not stretch a short reference and
a limb pointing at the camera still shortens. The root follows the driver's displacement
scaled by the body-size ratio; vertically the lowest foot is pinned to the reference's
ground line, lifted by the driver's own (scaled) clearance when it jumps.

Extended arrays carry two virtual joints after the 33 MediaPipe ones: 33 = mid-hip (root),
34 = neck (mid-shoulder).
"""
from __future__ import annotations

import numpy as np

from .skeleton import FEET, LEGS

ROOT, NECK = 33, 34
PARENT = np.full(35, -1, np.int64)
for _j, _p in {34: 33, 23: 33, 24: 33, 11: 34, 12: 34, 0: 34,
               13: 11, 15: 13, 17: 15, 19: 15, 21: 15,
               14: 12, 16: 14, 18: 16, 20: 16, 22: 16,
               25: 23, 27: 25, 29: 27, 31: 27, 26: 24, 28: 26, 30: 28, 32: 28,
               1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0, 8: 0, 9: 0, 10: 0}.items():
    PARENT[_j] = _p


def _order() -> list[int]:
    order, frontier = [], [ROOT]
    while frontier:
        j = frontier.pop(0)
        order.append(j)
        frontier += [int(c) for c in np.flatnonzero(PARENT == j)]
    return order


ORDER = _order()          # parents before children


def extend(points: np.ndarray) -> np.ndarray:
    """(..., 33, C) -> (..., 35, C) with mid-hip and neck appended."""
    root = (points[..., 23:24, :] + points[..., 24:25, :]) / 2
    neck = (points[..., 11:12, :] + points[..., 12:13, :]) / 2
    return np.concatenate([points, root, neck], axis=-2)


def bone_lengths(ext: np.ndarray) -> np.ndarray:
    """(..., 35) 2D length of the bone ending at each joint (0 for the root)."""
    par = np.where(PARENT < 0, ROOT, PARENT)
    return np.linalg.norm(ext[..., :2] - ext[..., par, :2], axis=-1)


def legs_visible(visibility: np.ndarray, threshold: float = 0.5) -> bool:
    """Knees and ankles all visible (visibility (33,))."""
    return bool(np.all(visibility[[25, 26, 27, 28]] >= threshold))


def _rest_lengths(ext: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(35,) the driver's rest bone lengths: a high percentile over its valid frames."""
    lengths = bone_lengths(ext)
    rest = np.zeros(35, np.float32)
    for j in range(35):
        v = lengths[valid[:, j], j] if j < 33 else lengths[:, j]
        rest[j] = np.percentile(v, 90) if len(v) else 0.0
    return rest


TORSO_BONES = (NECK, 11, 12, 23, 24)   # spine, half shoulders, half hips: the body-size bones


def retarget(driver: np.ndarray, driver_valid: np.ndarray, reference: np.ndarray,
             reference_visibility: np.ndarray, *, mode: str = "skeleton",
             root_motion: float = 1.0, ground: bool = True) -> np.ndarray:
    """Retargeted poses (T, 33, 3) in the reference's pixels.

    driver (T, 33, 3) smoothed driver points with lost frames filled; driver_valid (T, 33)
    bool per-joint validity; reference (33, 3); reference_visibility (33,).
    ``mode``: ``skeleton`` (bone lengths, root, ground line), ``relative`` (the reference's
    own pose plus the driver's motion since its first frame: each bone turns by the angle the
    driver's turned, so a reference posed unlike the driver's first frame does not jump),
    ``scale`` (the driver's pose scaled and moved onto the reference, its own proportions) or
    ``off`` (driver points as is).
    """
    if mode == "off":
        return driver.astype(np.float32).copy()
    d_ext = extend(driver)
    r_ext = extend(reference[None])[0]
    valid = np.concatenate([driver_valid, np.ones((len(driver), 2), bool)], axis=1)
    d0 = d_ext[0]
    rest = _rest_lengths(d_ext, valid)
    r_len = bone_lengths(r_ext)
    s = float(r_len[list(TORSO_BONES)].sum() / max(rest[list(TORSO_BONES)].sum(), 1e-6))
    if mode == "scale":
        out = (d_ext - d0[ROOT]) * s
        out[:, :, :2] += r_ext[ROOT, :2]
        if root_motion != 1.0:
            shift = (d_ext[:, ROOT, :2] - d0[ROOT, :2]) * s * (root_motion - 1.0)
            out[:, :, :2] += shift[:, None]
        return out[:, :33].astype(np.float32)
    out = np.zeros_like(d_ext)
    for t in range(len(d_ext)):
        if mode == "relative":
            out[t] = _rebuild_relative(d_ext[t], valid[t], d0, valid[0], r_ext, rest)
        else:
            out[t] = _rebuild(d_ext[t], valid[t], r_ext, r_len, rest)
        out[t, :, 2] = d_ext[t, :, 2] * s
    root_xy = r_ext[ROOT, :2] + (d_ext[:, ROOT, :2] - d0[ROOT, :2]) * s * root_motion
    out[:, :, :2] += (root_xy - out[:, ROOT, :2])[:, None]
    if ground and legs_visible(reference_visibility) and driver_valid[:, list(LEGS)].all():
        out[:, :, 1] += _ground_shift(d_ext, out, r_ext, s, relative=mode == "relative")[:, None]
    return out[:, :33].astype(np.float32)


def _rebuild(d: np.ndarray, valid: np.ndarray, r: np.ndarray, r_len: np.ndarray,
             rest: np.ndarray) -> np.ndarray:
    """One frame (35, 3) rebuilt from the root: driver directions, reference lengths."""
    out = np.zeros_like(d)
    out[ROOT, :2] = r[ROOT, :2]
    for j in ORDER[1:]:
        p = PARENT[j]
        vec = d[j, :2] - d[p, :2]
        n = float(np.hypot(*vec))
        if not valid[j] or n < 1e-6 or rest[j] < 1e-6:
            out[j, :2] = out[p, :2] + (r[j, :2] - r[p, :2])
            continue
        ratio = min(n / rest[j], 1.25)
        if j in (11, 12, 23, 24):      # a torso seen edge-on would collapse the mesh
            ratio = max(ratio, 0.35)
        out[j, :2] = out[p, :2] + vec / n * r_len[j] * ratio
    return out


def _rebuild_relative(d: np.ndarray, valid: np.ndarray, d0: np.ndarray, valid0: np.ndarray,
                      r: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """One frame (35, 3) rebuilt from the root: each reference bone turned by the angle the
    driver's bone turned since frame 0, its length scaled by the change of the driver's
    foreshortening; bones the driver loses (now or at frame 0) keep the reference's."""
    out = np.zeros_like(d)
    out[ROOT, :2] = r[ROOT, :2]
    for j in ORDER[1:]:
        p = PARENT[j]
        ref_vec = r[j, :2] - r[p, :2]
        vec, vec0 = d[j, :2] - d[p, :2], d0[j, :2] - d0[p, :2]
        n, n0 = float(np.hypot(*vec)), float(np.hypot(*vec0))
        if not (valid[j] and valid0[j]) or min(n, n0) < 1e-6 or rest[j] < 1e-6:
            out[j, :2] = out[p, :2] + ref_vec
            continue
        turn = np.arctan2(vec[1], vec[0]) - np.arctan2(vec0[1], vec0[0])
        c, s_ = np.cos(turn), np.sin(turn)
        ratio = float(np.clip(n / n0, 0.35, 1.25))
        out[j, :2] = out[p, :2] + np.array([c * ref_vec[0] - s_ * ref_vec[1],
                                            s_ * ref_vec[0] + c * ref_vec[1]]) * ratio
    return out


def _ground_shift(d_ext: np.ndarray, out: np.ndarray, r_ext: np.ndarray, s: float,
                  relative: bool = False) -> np.ndarray:
    """(T,) vertical shift putting the lowest foot on the reference's ground line, raised by
    the driver's scaled clearance above its own ground (``relative``: above where its feet
    were in frame 0, so frame 0 keeps the reference's stance)."""
    feet = list(FEET)
    d_low = d_ext[:, feet, 1].max(axis=1)
    d_ground = d_low[0] if relative else d_low.max()   # the points are already smoothed
    clearance = np.maximum(d_ground - d_low, 0.0) * s
    r_ground = r_ext[feet, 1].max()
    return (r_ground - clearance) - out[:, feet, 1].max(axis=1)
