"""Driver landmark sequences (from a driving video or a landmark file) → posed source landmarks.

Relative transfer, normalized by face size and pose: each driver frame is split into a
rigid head motion (a 3D similarity fit on points that only move with the skull) and an
expression residual in the reference frame's pose. The residual is carried into the
source face's frame by the similarity between the driver's reference face and the source,
so a wider or tilted driving face does not distort the source; the head motion is applied
as the same transform conjugated into the source's frame.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from .motion import HoldAndEase, OneEuroFilter

from .rig import LINEAR_CONTROLS, STABLE, Expression, FaceRig, face_width, rotation_matrix


def similarity(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares (scale, R (3, 3), t (3,)) with dst ≈ scale * src @ R.T + t (Umeyama 1991);
    ``src``, ``dst``: (N, 3)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    rot = u @ np.diag(d) @ vt
    var = (a ** 2).sum() / len(src)
    scale = float((sig * d).sum() / max(var, 1e-12))
    return scale, rot, mu_d - scale * rot @ mu_s


def region_weights(rig: FaceRig, lips: float, eyes: float, brows: float) -> np.ndarray:
    """(478, 1) multiplier per point blending smoothly between the mouth/jaw region (below
    the nose), the eye regions and the brow/forehead region; 1 elsewhere."""
    v = rig.uv[:, 1]
    nose_v = rig.uv[2, 1]
    mouth = np.clip((v - nose_v) / 0.06 + 0.5, 0, 1)
    eye_c = [rig.uv[[33, 133]].mean(0), rig.uv[[362, 263]].mean(0)]
    eye = np.max([np.exp(-((rig.uv - c) ** 2).sum(1) / (2 * 0.07 ** 2)) for c in eye_c], 0)
    brow_v = rig.uv[[105, 334, 66, 296]].mean(0)[1]
    brow = np.clip((brow_v + 0.04 - v) / 0.06, 0, 1) * (1 - eye)
    w = 1 + (lips - 1) * mouth + (eyes - 1) * eye + (brows - 1) * brow
    return w[:, None]


class RelativeMotion:
    """Callable: driver landmarks (478, 3) or ``None`` (face lost) → posed source (478, 3).

    ``reference``: the driver's neutral frame (478, 3). ``offsets``: user expression offsets
    added on top. Lost frames hold the last pose, then ease back to rest.
    """

    def __init__(self, rig: FaceRig, reference: np.ndarray, fps: float, smoothing: float = 0.5,
                 lips: float = 1.0, eyes: float = 1.0, brows: float = 1.0, head: float = 1.0,
                 offsets: Expression | None = None):
        self.rig, self.ref = rig, np.asarray(reference, dtype=np.float64)
        self.fw_d = max(face_width(self.ref), 1e-6)
        self.sq, self.q, self.tq = similarity(self.ref[STABLE], rig.points[STABLE])
        self.weights = region_weights(rig, lips, eyes, brows)
        self.head = head
        self.filter = None if smoothing <= 0 else OneEuroFilter(
            fps, min_cutoff=0.4 + 6.0 * (1 - smoothing) ** 2, beta=3.0, d_cutoff=1.0, norm_axis=-1)
        offsets = offsets or Expression()
        v = offsets.vector()
        self.offset_deltas = rig.expression_deltas(v[: len(LINEAR_CONTROLS)])
        self.offset_rot = rotation_matrix(offsets.yaw, offsets.pitch, offsets.roll)
        self.gaps = HoldAndEase(fps, self.rest_pose(), hold=0.3, ease_out=0.5, ease_in=0.25)
        self.lost = 0

    def rest_pose(self) -> np.ndarray:
        """(478, 3) the source with the current offsets and no driver motion: where a lost
        face eases to."""
        return self._compose(np.zeros((478, 3)), 1.0, np.eye(3), np.zeros(3))

    def _compose(self, expr: np.ndarray, scale: float, rot: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Source points with expression residual ``expr`` (478, 3 source px) and the driver's
        head transform (scale, rot, t in driver space) conjugated into the source frame."""
        rig = self.rig
        pts = rig.points + expr * self.weights
        pts[:, :2] += self.offset_deltas
        r_src = self.q @ rot @ self.q.T
        if self.head != 1.0:
            r_src = Rotation.from_rotvec(Rotation.from_matrix(r_src).as_rotvec() * self.head).as_matrix()
        pivot = rig.pivot
        # x' = s R_src (x - tq) + tq + sq Q t, rewritten about the rig's pivot
        shift = scale * (self.q @ rot @ self.q.T) @ (pivot - self.tq) + self.tq + self.sq * self.q @ t - pivot
        s = scale ** self.head
        return (pts - pivot) @ (s * r_src @ self.offset_rot).T + pivot + self.head * shift

    def __call__(self, driver: np.ndarray | None) -> np.ndarray:
        if driver is None:
            self.lost += 1
            return self.gaps(None)
        p = np.asarray(driver, dtype=np.float64)
        if self.filter is not None:
            p = self.filter(p / self.fw_d) * self.fw_d
        s, rot, t = similarity(self.ref[STABLE], p[STABLE])
        aligned = (p - t) @ rot / s                      # back into the reference pose
        expr = self.sq * (aligned - self.ref) @ self.q.T
        return self.gaps(self._compose(expr, s, rot, t))
