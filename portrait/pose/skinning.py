"""Bone transforms of the 2D rig and linear blend skinning.

A frame's pose is the extended (35, 3) keypoint array of :mod:`.retarget`. Each rig bone maps
reference pixels to frame pixels:

- limb bones (upper arm, forearm+hand, thigh, shin+foot): rotate with the bone, stretch only
  along its axis (foreshortening keeps the limb's width);
- ``torso``: the bilinear map of the shoulder-hip quad (turns, leans and bends);
- ``head``: rigid rotation about the neck following the neck-to-nose direction (clamped).

:func:`skin` blends them per vertex: ``x' = sum_i w_i T_i(x)`` (linear blend skinning). At a
bent joint LBS averages two rotated copies of a vertex, which pulls the blend zone towards the
joint: the limb narrows (the candy-wrapper / collapsing-elbow artefact). :func:`skin_rigid`
blends instead the *rotation angles* (in 2D rotations commute, so this is what dual-quaternion
skinning reduces to) and the stretch parts of each bone's local linear map about the joint the
vertex bends around: ``x' = sum_i w_i T_i(J) + R(sum_i w_i phi_i) (sum_i w_i S_i) (x - J)``,
with ``L_i = R(phi_i) S_i`` the polar decomposition of bone i's Jacobian at J. A vertex owned by
one bone moves exactly as under LBS; blended vertices keep their distance to the joint.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Union

import numpy as np

from .retarget import NECK

LIMBS: dict[str, tuple[int, int]] = {
    "l_upper_arm": (11, 13), "l_forearm": (13, 15), "r_upper_arm": (12, 14), "r_forearm": (14, 16),
    "l_thigh": (23, 25), "l_shin": (25, 27), "r_thigh": (24, 26), "r_shin": (26, 28)}
QUAD = (11, 12, 24, 23)            # torso corners: l-shoulder, r-shoulder, r-hip, l-hip
HEAD_MAX_TURN = np.radians(45)



class LimbTransform:
    """Map for a bone moved from a0->b0 to a1->b1 (2-vectors): rotate with it, scale along it.
    Affine: ``x' = a1 + L (x - a0)`` with ``L = stretch u1 u0^T + n1 n0^T``."""

    def __init__(self, a0: np.ndarray, b0: np.ndarray, a1: np.ndarray, b1: np.ndarray):
        v0, v1 = b0 - a0, b1 - a1
        l0, l1 = max(float(np.hypot(*v0)), 1e-6), float(np.hypot(*v1))
        u0, u1 = v0 / l0, (v1 / l1 if l1 > 1e-6 else v0 / l0)
        n0, n1 = np.array([-u0[1], u0[0]]), np.array([-u1[1], u1[0]])
        self.a0, self.a1 = a0, a1
        self.lin = (l1 / l0) * np.outer(u1, u0) + np.outer(n1, n0)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.a1 + (x - self.a0) @ self.lin.T

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """(N, 2, 2) local linear maps at points ``x`` (N, 2)."""
        return np.broadcast_to(self.lin, (len(x), 2, 2))


def limb_transform(a0: np.ndarray, b0: np.ndarray, a1: np.ndarray, b1: np.ndarray) -> LimbTransform:
    return LimbTransform(a0, b0, a1, b1)


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
        return bilinear(self._uv(x), self.q1)

    def _uv(self, x: np.ndarray) -> np.ndarray:
        if len(x) > 4:
            return quad_uv(x, self.q0)
        # joints (a few points) recur every frame with the same reference quad
        return np.array([_point_uv(tuple(map(float, self.q0.ravel())), tuple(map(float, p)))
                         for p in x])

    def from_uv(self, uv: np.ndarray) -> np.ndarray:
        return bilinear(uv, self.q1)

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """(N, 2, 2) d(new)/d(ref) at reference points ``x`` (N, 2)."""
        uv = self._uv(x)
        d0, d1 = _bilinear_jacobian(uv, self.q0), _bilinear_jacobian(uv, self.q1)
        det = d0[:, 0, 0] * d0[:, 1, 1] - d0[:, 0, 1] * d0[:, 1, 0]
        det = np.where(np.abs(det) < 1e-9, 1e-9, det)
        inv = np.stack([np.stack([d0[:, 1, 1], -d0[:, 0, 1]], 1),
                        np.stack([-d0[:, 1, 0], d0[:, 0, 0]], 1)], 1) / det[:, None, None]
        return d1 @ inv


@lru_cache(maxsize=256)
def _point_uv(quad: tuple[float, ...], point: tuple[float, float]) -> tuple[float, float]:
    uv = quad_uv(np.array([point]), np.array(quad).reshape(4, 2))[0]
    return float(uv[0]), float(uv[1])


def _bilinear_jacobian(uv: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """(N, 2, 2) columns d/du, d/dv of the bilinear map of ``quad`` at ``uv`` (N, 2)."""
    p00, p10, p11, p01 = quad
    u, v = uv[:, :1], uv[:, 1:]
    du = (1 - v) * (p10 - p00) + v * (p11 - p01)
    dv = (1 - u) * (p01 - p00) + u * (p11 - p10)
    return np.stack([du, dv], axis=2)


def head_transform(ref: np.ndarray, new: np.ndarray) -> LimbTransform:
    """Rigid turn about the neck following the neck-to-nose direction (clamped)."""
    v0, v1 = ref[0, :2] - ref[NECK, :2], new[0, :2] - new[NECK, :2]
    turn = np.arctan2(v1[1], v1[0]) - np.arctan2(v0[1], v0[0])
    turn = float(np.clip((turn + np.pi) % (2 * np.pi) - np.pi, -HEAD_MAX_TURN, HEAD_MAX_TURN))
    n0, n1 = ref[NECK, :2], new[NECK, :2]
    return LimbTransform(n0, n0 + v0, n1, n1 + _rotation(turn) @ v0)


def _rotation(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


Transform = Union[LimbTransform, TorsoTransform]


def frame_transforms(ref: np.ndarray, new: np.ndarray) -> dict[str, "Transform"]:
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


def polar(lin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) rotation angles and (N, 2, 2) stretch parts S with ``lin = R(angle) S``."""
    angle = np.arctan2(lin[:, 1, 0] - lin[:, 0, 1], lin[:, 0, 0] + lin[:, 1, 1])
    c, s = np.cos(angle), np.sin(angle)
    rt = np.stack([np.stack([c, s], 1), np.stack([-s, c], 1)], 1)          # R(-angle)
    return angle, rt @ lin


def skin_rigid(vertices: np.ndarray, weights: dict[str, np.ndarray], transforms: dict[str, Transform],
               pivots: np.ndarray, uv: np.ndarray | None = None) -> np.ndarray:
    """Rigidity-preserving skinning: (N, 2) deformed ``vertices`` (N, 2). ``pivots`` (N, 2)
    holds, per vertex, the reference position of the joint it bends around (where its bones'
    maps agree); vertices with a single bone move exactly as under :func:`skin`."""
    out = skin(vertices, weights, transforms, uv)
    names = [n for n, w in weights.items() if (w > 1e-4).any()]
    if len(names) < 2:
        return out
    w_all = np.stack([weights[n] for n in names], 1)                       # (N, B)
    blended = (w_all > 1e-4).sum(1) > 1
    bones = [transforms[n] for n in names]
    pending = blended.copy()
    while pending.any():                     # one group per joint (a part has at most two)
        joint = pivots[np.argmax(pending)]
        sel = pending & (pivots == joint).all(1)
        out[sel] = _bend_about(vertices[sel], w_all[sel], joint, bones)
        pending &= ~sel
    return out


def _bend_about(x: np.ndarray, w: np.ndarray, joint: np.ndarray, bones: list[Transform]) -> np.ndarray:
    """(n, 2) positions of ``x`` (n, 2) with bone weights ``w`` (n, B), bent about ``joint`` (2,):
    the bones' rotations blended by angle, their stretch parts linearly."""
    j = joint[None]
    pos = np.stack([t(j)[0] for t in bones])                                # (B, 2)
    angle, stretch = polar(np.stack([np.asarray(t.jacobian(j))[0] for t in bones]))
    ref = angle[np.argmax(w, axis=1)]
    delta = (angle[None] - ref[:, None] + np.pi) % (2 * np.pi) - np.pi      # (n, B)
    phi = ref + (w * delta).sum(1)
    sb = w @ stretch.reshape(-1, 4)                                         # (n, 4) blended S
    d = x - j
    u0, u1 = sb[:, 0] * d[:, 0] + sb[:, 1] * d[:, 1], sb[:, 2] * d[:, 0] + sb[:, 3] * d[:, 1]
    c, s = np.cos(phi), np.sin(phi)
    return w @ pos + np.stack([c * u0 - s * u1, s * u0 + c * u1], 1)
