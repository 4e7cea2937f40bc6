"""Bone transforms of the 2D rig and linear blend skinning.

A frame's pose is the extended (35, 3) keypoint array of :mod:`.retarget`. Each rig bone maps
reference pixels to frame pixels:

- limb bones (upper arm, forearm+hand, thigh, shin+foot): rotate with the bone, stretch only
  along its axis (foreshortening keeps the limb's width);
- ``torso``: the bilinear map of the shoulder-hip quad (turns, leans and bends);
- ``head``: rigid rotation about the neck following the neck-to-nose direction (clamped).

:func:`skin` blends them per vertex: ``x' = sum_i w_i T_i(x)``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .retarget import NECK

LIMBS: dict[str, tuple[int, int]] = {
    "l_upper_arm": (11, 13), "l_forearm": (13, 15), "r_upper_arm": (12, 14), "r_forearm": (14, 16),
    "l_thigh": (23, 25), "l_shin": (25, 27), "r_thigh": (24, 26), "r_shin": (26, 28)}
QUAD = (11, 12, 24, 23)            # torso corners: l-shoulder, r-shoulder, r-hip, l-hip
HEAD_MAX_TURN = np.radians(45)

Transform = Callable[[np.ndarray], np.ndarray]


def limb_transform(a0: np.ndarray, b0: np.ndarray, a1: np.ndarray, b1: np.ndarray) -> Transform:
    """Map for a bone moved from a0->b0 to a1->b1 (2-vectors): rotate with it, scale along it."""
    v0, v1 = b0 - a0, b1 - a1
    l0, l1 = max(float(np.hypot(*v0)), 1e-6), float(np.hypot(*v1))
    u0, u1 = v0 / l0, (v1 / l1 if l1 > 1e-6 else v0 / l0)
    n0, n1 = np.array([-u0[1], u0[0]]), np.array([-u1[1], u1[0]])
    stretch = l1 / l0

    def apply(x: np.ndarray) -> np.ndarray:
        d = x - a0
        along, across = d @ u0, d @ n0
        return a1 + np.outer(along * stretch, u1) + np.outer(across, n1)
    return apply


def quad_uv(points: np.ndarray, quad: np.ndarray, iters: int = 8) -> np.ndarray:
    """Bilinear coordinates (N, 2) of ``points`` (N, 2) in ``quad`` (4, 2) ordered
    p00, p10, p11, p01, by Newton's method (extrapolates outside the quad)."""
    p00, p10, p11, p01 = quad
    uv = np.full((len(points), 2), 0.5)
    for _ in range(iters):
        u, v = uv[:, :1], uv[:, 1:]
        f = (1 - u) * (1 - v) * p00 + u * (1 - v) * p10 + u * v * p11 + (1 - u) * v * p01 - points
        du = (1 - v) * (p10 - p00) + v * (p11 - p01)
        dv = (1 - u) * (p01 - p00) + u * (p11 - p10)
        det = du[:, 0] * dv[:, 1] - du[:, 1] * dv[:, 0]
        det = np.where(np.abs(det) < 1e-9, 1e-9, det)
        uv[:, 0] -= (f[:, 0] * dv[:, 1] - f[:, 1] * dv[:, 0]) / det
        uv[:, 1] -= (du[:, 0] * f[:, 1] - du[:, 1] * f[:, 0]) / det
        uv = np.clip(uv, -3, 4)
    return uv


def bilinear(uv: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """(N, 2) points at bilinear coordinates ``uv`` in ``quad`` (4, 2)."""
    p00, p10, p11, p01 = quad
    u, v = uv[:, :1], uv[:, 1:]
    return (1 - u) * (1 - v) * p00 + u * (1 - v) * p10 + u * v * p11 + (1 - u) * v * p01


class TorsoTransform:
    """The bilinear map of the shoulder-hip quad; :meth:`from_uv` skips the inversion for
    vertices whose reference quad coordinates were computed once (:func:`quad_uv`)."""

    def __init__(self, ref: np.ndarray, new: np.ndarray):
        self.q0, self.q1 = ref[list(QUAD), :2], new[list(QUAD), :2]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return bilinear(quad_uv(x, self.q0), self.q1)

    def from_uv(self, uv: np.ndarray) -> np.ndarray:
        return bilinear(uv, self.q1)


def head_transform(ref: np.ndarray, new: np.ndarray) -> Transform:
    v0, v1 = ref[0, :2] - ref[NECK, :2], new[0, :2] - new[NECK, :2]
    turn = np.arctan2(v1[1], v1[0]) - np.arctan2(v0[1], v0[0])
    turn = float(np.clip((turn + np.pi) % (2 * np.pi) - np.pi, -HEAD_MAX_TURN, HEAD_MAX_TURN))
    c, s = np.cos(turn), np.sin(turn)
    rot = np.array([[c, -s], [s, c]])
    n0, n1 = ref[NECK, :2], new[NECK, :2]
    return lambda x: n1 + (x - n0) @ rot.T


def frame_transforms(ref: np.ndarray, new: np.ndarray) -> dict[str, Transform]:
    """Every rig bone's map for one frame; ``ref``/``new`` are extended (35, 3) poses."""
    out: dict[str, Transform] = {"torso": TorsoTransform(ref, new),
                                 "head": head_transform(ref, new)}
    for name, (a, b) in LIMBS.items():
        out[name] = limb_transform(ref[a, :2], ref[b, :2], new[a, :2], new[b, :2])
    return out


def skin(vertices: np.ndarray, weights: dict[str, np.ndarray],
         transforms: dict[str, Transform], uv: np.ndarray | None = None) -> np.ndarray:
    """Linear blend skinning: (N, 2) deformed positions of ``vertices`` (N, 2); ``weights``
    maps bone name -> (N,) weights summing to 1; ``uv`` (N, 2) the vertices' reference
    torso-quad coordinates, if precomputed."""
    out = np.zeros_like(vertices, dtype=np.float64)
    for name, w in weights.items():
        used = w > 1e-4
        if not used.any():
            continue
        t = transforms[name]
        moved = t.from_uv(uv[used]) if uv is not None and isinstance(t, TorsoTransform) \
            else t(vertices[used])
        out[used] += w[used, None] * moved
    return out
