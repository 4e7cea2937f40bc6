"""A procedural face rig on a MediaPipe mesh: expression bases and head rotation.

Built once per source face from its 478 landmarks; each basis is a (478, 2) field of pixel
displacements for one unit of a control (jaw open, mouth width, smile, brow raise, blink
per eye, gaze), shaped by the face's own geometry (a face frame from the eyes and mouth,
lengths in units of face width). A frame's expression is a linear combination of bases;
head rotation is then applied in 3D about a pivot behind the face.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

UPPER_LIP_INNER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
LOWER_LIP_INNER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]
UPPER_LIP_OUTER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291]
LOWER_LIP_OUTER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291]
# subject's right eye (image left) and left eye: lid contours in matching order, corner to corner
RIGHT_UPPER_LID = [246, 161, 160, 159, 158, 157, 173]
RIGHT_LOWER_LID = [7, 163, 144, 145, 153, 154, 155]
LEFT_UPPER_LID = [466, 388, 387, 386, 385, 384, 398]
LEFT_LOWER_LID = [249, 390, 373, 374, 380, 381, 382]
RIGHT_CREASE = [247, 30, 29, 27, 28, 56, 190]
LEFT_CREASE = [467, 260, 259, 257, 258, 286, 414]
RIGHT_IRIS = list(range(468, 473))
LEFT_IRIS = list(range(473, 478))
RIGHT_EYE_CORNERS = (33, 133)
LEFT_EYE_CORNERS = (362, 263)
RIGHT_BROW = [70, 63, 105, 66, 107, 46, 53, 52, 65, 55]
LEFT_BROW = [300, 293, 334, 296, 336, 276, 283, 282, 295, 285]
# points that move only with the head (for rigid alignment and stability measures)
STABLE = [10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 33, 133, 362, 263, 127, 356, 234, 454]
NUM_POINTS = 478


@dataclass
class Expression:
    """One frame's controls. Mouth and brows in rig units (about 0..1), blink 0 (open) ..
    1 (shut), gaze -1..1, head angles in degrees."""
    jaw: float = 0.0
    width: float = 0.0
    smile: float = 0.0
    brow: float = 0.0
    blink_r: float = 0.0
    blink_l: float = 0.0
    gaze_x: float = 0.0
    gaze_y: float = 0.0
    pucker: float = 0.0      # lips rounded and pushed forward (/u/, /o/, /w/)
    tuck: float = 0.0        # lower lip raised to the upper teeth (/f/, /v/)
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0

    def vector(self) -> np.ndarray:
        return np.array([getattr(self, f.name) for f in fields(self)], dtype=np.float64)


LINEAR_CONTROLS = ("jaw", "width", "smile", "brow", "blink_r", "blink_l", "gaze_x", "gaze_y",
                   "pucker", "tuck")


def _smoothstep(x: np.ndarray) -> np.ndarray:
    t = np.clip(x, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def face_width(points: np.ndarray) -> float:
    """Cheek-to-cheek distance (234 to 454) in pixels."""
    return float(np.linalg.norm(points[234, :2] - points[454, :2]))


def face_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(origin (2,), ex (2,), ey (2,), width): origin at the mouth center, ex from the
    subject's right eye toward the left, ey pointing down the face, width in pixels."""
    p = points[:, :2].astype(np.float64)
    eye_r = p[list(RIGHT_EYE_CORNERS)].mean(0)
    eye_l = p[list(LEFT_EYE_CORNERS)].mean(0)
    ex = eye_l - eye_r
    ex /= max(np.linalg.norm(ex), 1e-9)
    ey = np.array([-ex[1], ex[0]])
    origin = p[[13, 14]].mean(0)
    return origin, ex, ey, max(face_width(points), 1e-6)


class FaceRig:
    """Expression bases for one face. ``points``: (478, 3) pixels (x, y, z)."""

    def __init__(self, points: np.ndarray):
        self.points = np.asarray(points, dtype=np.float64)
        self.origin, self.ex, self.ey, self.width = face_frame(self.points)
        rel = self.points[:, :2] - self.origin
        self.uv = np.stack([rel @ self.ex, rel @ self.ey], 1) / self.width   # (478, 2) face units
        b = {name: np.zeros((NUM_POINTS, 2)) for name in LINEAR_CONTROLS}
        b["jaw"] = self._jaw()
        b["width"], b["smile"] = self._corners()
        b["brow"] = self._brow()
        b["blink_r"] = self._blink(RIGHT_UPPER_LID, RIGHT_LOWER_LID, RIGHT_CREASE,
                                    RIGHT_EYE_CORNERS)
        b["blink_l"] = self._blink(LEFT_UPPER_LID, LEFT_LOWER_LID, LEFT_CREASE,
                                    LEFT_EYE_CORNERS)
        b["gaze_x"], b["gaze_y"] = self._gaze()
        b["pucker"] = self._pucker()
        b["tuck"] = self._tuck()
        self.bases = np.stack([b[n] for n in LINEAR_CONTROLS])          # (K, 478, 2) pixels
        self.round_close = self._round_close(b["jaw"])
        z = self.points[:, 2]
        center = self.points[STABLE, :2].mean(0)
        # pivot near the top of the neck, behind the face
        self.pivot = np.array([center[0], center[1], z.mean()]) + np.r_[
            0.25 * self.width * self.ey, 0.6 * self.width]

    def _to_px(self, du: np.ndarray, dv: np.ndarray) -> np.ndarray:
        """(478, 2) pixel displacement from face-frame displacements in face units."""
        return (du[:, None] * self.ex + dv[:, None] * self.ey) * self.width

    def _jaw(self) -> np.ndarray:
        """Lower lip, chin and jaw move down (0.10 face widths per unit); the upper lip lifts a little."""
        u, v = self.uv[:, 0], self.uv[:, 1]
        seam_pts = (self.uv[UPPER_LIP_INNER] + self.uv[LOWER_LIP_INNER]) / 2
        order = np.argsort(seam_pts[:, 0])
        seam = np.interp(u, seam_pts[order, 0], seam_pts[order, 1])
        below = _smoothstep((v - seam) / 0.05 + 0.5)
        across = np.clip(1.0 - np.maximum(np.abs(u) - 0.15, 0) / 0.45, 0.0, 1.0)
        w = below * across
        w[LOWER_LIP_INNER] = 1.0
        w[UPPER_LIP_INNER] = 0.0
        w[UPPER_LIP_OUTER] = 0.0
        w[[78, 308]] = 0.5
        w[[61, 291]] = 0.45
        lift = np.zeros(NUM_POINTS)
        lift[UPPER_LIP_INNER[1:-1]] = -0.12
        lift[UPPER_LIP_OUTER[1:-1]] = -0.08
        return self._to_px(np.zeros(NUM_POINTS), 0.10 * (w + lift))

    def shut_jaw(self) -> float:
        """The jaw control (<= 0) that brings the source's inner lips together at the
        midline: 0 for a closed source mouth, negative for parted lips (a bilabial must
        press them shut, not only return to the photo's rest)."""
        gap = float(self.uv[14, 1] - self.uv[13, 1])        # inner-lip gap, face widths
        per_unit = float((self.bases[0][14] - self.bases[0][13]) @ self.ey) / self.width
        return -max(gap, 0.0) / per_unit if per_unit > 0 else 0.0

    def _corners(self) -> tuple[np.ndarray, np.ndarray]:
        """Mouth width (corners out along the face's x) and smile (corners up and out)."""
        width, smile = np.zeros((NUM_POINTS, 2)), np.zeros((NUM_POINTS, 2))
        for left, corner in ((-1.0, 61), (1.0, 291)):
            d2 = ((self.uv - self.uv[corner]) ** 2).sum(1)
            g = np.exp(-d2 / (2 * 0.08 ** 2))
            g[self.uv[:, 0] * left < 0] *= 0.3           # the other half of the face barely moves
            width += self._to_px(0.035 * left * g, np.zeros(NUM_POINTS))
            smile += self._to_px(0.02 * left * g, -0.03 * g)
        return width, smile

    def _lip_region(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(u, v, weight) per point: u, v relative to the mouth's center (face units) and a
        weight 1 on the lips, fading over the cheeks and chin."""
        corners = self.uv[[61, 291]]
        center = corners.mean(0)
        half = max(float(np.abs(corners[:, 0] - center[0]).max()), 1e-3)
        u, v = self.uv[:, 0] - center[0], self.uv[:, 1] - center[1]
        out_u = np.maximum(np.abs(u) - half, 0.0)
        w = np.exp(-out_u ** 2 / (2 * 0.07 ** 2) - np.maximum(np.abs(v) - 0.06, 0) ** 2 / (2 * 0.06 ** 2))
        return u, v, w

    def _pucker(self) -> np.ndarray:
        """Rounded lips: the corners draw in toward the center (0.05 face widths each per
        unit, the lips between them in proportion), the lips push out a little vertically
        and the opening narrows into a rounder hole."""
        u, v, w = self._lip_region()
        half = max(float(np.abs(u[[61, 291]]).max()), 1e-3)
        du = -0.05 * np.clip(u / half, -1.0, 1.0) * w
        dv = np.zeros(NUM_POINTS)
        outer = UPPER_LIP_OUTER[1:-1] + LOWER_LIP_OUTER[1:-1]
        dv[outer] = 0.008 * np.sign(v[outer]) * (1 - np.abs(u[outer] / half) ** 2)
        return self._to_px(du, dv)

    def _round_close(self, jaw: np.ndarray) -> np.ndarray:
        """(478, 2) per unit of pucker x jaw: rounded lips part only in the middle, so the
        jaw's opening is taken back near the corners (up to 85 %, never past closed) and
        the opening becomes a round hole instead of a slit."""
        u, _, _ = self._lip_region()
        half = max(float(np.abs(u[[61, 291]]).max()), 1e-3)
        near = np.clip(np.abs(u) / half, 0, 1) ** 1.5
        k = np.zeros(NUM_POINTS)
        inner = UPPER_LIP_INNER + LOWER_LIP_INNER
        k[inner] = 0.85 * near[inner]
        k[LOWER_LIP_OUTER] = 0.5 * near[LOWER_LIP_OUTER]
        return -k[:, None] * jaw

    def _tuck(self) -> np.ndarray:
        """Labiodental: the lower lip rises and rolls in under the upper teeth (its outer
        edge more than its inner one, so it looks thinner); the upper lip lifts a little."""
        u, _, w = self._lip_region()
        half = max(float(np.abs(u[[61, 291]]).max()), 1e-3)
        across = np.clip(1 - (u / half) ** 2, 0, 1)
        dv = np.zeros(NUM_POINTS)
        dv[LOWER_LIP_OUTER[1:-1]] = -0.035 * across[LOWER_LIP_OUTER[1:-1]]
        dv[LOWER_LIP_INNER[1:-1]] = -0.02 * across[LOWER_LIP_INNER[1:-1]]
        dv[UPPER_LIP_INNER[1:-1]] = -0.012 * across[UPPER_LIP_INNER[1:-1]]
        dv[UPPER_LIP_OUTER[1:-1]] = -0.006 * across[UPPER_LIP_OUTER[1:-1]]
        return self._to_px(np.zeros(NUM_POINTS), dv)

    def _brow(self) -> np.ndarray:
        """Brows up 0.04 face widths per unit; forehead and upper lids follow partly."""
        w = np.zeros(NUM_POINTS)
        brows = RIGHT_BROW + LEFT_BROW
        brow_v = self.uv[brows, 1].mean()
        above = self.uv[:, 1] < brow_v
        w[above] = 0.6
        w[brows] = 1.0
        w[RIGHT_CREASE + LEFT_CREASE] = 0.35
        return self._to_px(np.zeros(NUM_POINTS), -0.04 * w)

    def _blink(self, upper: list[int], lower: list[int], crease: list[int],
               corners: tuple[int, int]) -> np.ndarray:
        """Full closure: each lid point moves along the face's vertical to a meeting curve a
        quarter of the way from the lower lid to the upper one, so the warp folds the eye
        between them away (the compositor keeps the iris inside the opening); the crease
        follows part way. Negative amounts widen the eye."""
        uv = self.uv
        def curve(idx):
            pts = uv[[corners[0]] + idx + [corners[1]]]
            order = np.argsort(pts[:, 0])
            return lambda u: np.interp(u, pts[order, 0], pts[order, 1])
        up_v, low_v = curve(upper), curve(lower)
        dv = np.zeros(NUM_POINTS)
        for idx in (upper, lower):
            u = uv[idx, 0]
            dv[idx] = low_v(u) + 0.25 * (up_v(u) - low_v(u)) - uv[idx, 1]
        dv[crease] = 0.3 * dv[upper]
        return dv[:, None] * self.ey * self.width

    def _gaze(self) -> tuple[np.ndarray, np.ndarray]:
        """Irises shift by a quarter (x) / a sixth (y) of the eye's width per unit."""
        gx, gy = np.zeros((NUM_POINTS, 2)), np.zeros((NUM_POINTS, 2))
        for iris, (a, b) in ((RIGHT_IRIS, RIGHT_EYE_CORNERS), (LEFT_IRIS, LEFT_EYE_CORNERS)):
            eye_w = np.linalg.norm(self.points[a, :2] - self.points[b, :2])
            gx[iris] = 0.25 * eye_w * self.ex
            gy[iris] = 0.16 * eye_w * self.ey
        return gx, gy

    def expression_deltas(self, controls: np.ndarray) -> np.ndarray:
        """(478, 2) pixel displacements of the linear controls ``controls`` (K,) (see LINEAR_CONTROLS)."""
        return np.tensordot(controls, self.bases, axes=1)

    def target(self, expr: Expression, scale: float = 1.0,
               shift: np.ndarray | None = None) -> np.ndarray:
        """(478, 3) posed points for ``expr``: expression, then head rotation, scale about
        the pivot and an optional pixel ``shift`` (2,)."""
        v = expr.vector()
        pts = self.points.copy()
        pts[:, :2] += self.expression_deltas(v[: len(LINEAR_CONTROLS)])
        if expr.pucker > 0 and expr.jaw > 0:       # the one product term: see _round_close
            pts[:, :2] += min(expr.pucker, 1.0) * expr.jaw * self.round_close
        return self.posed(pts, rotation_matrix(expr.yaw, expr.pitch, expr.roll), scale, shift)

    def posed(self, pts: np.ndarray, rot: np.ndarray, scale: float = 1.0,
              shift: np.ndarray | None = None) -> np.ndarray:
        """``pts`` (478, 3) rotated by ``rot`` (3, 3) and scaled about the pivot, then shifted."""
        out = (pts - self.pivot) @ (scale * rot).T + self.pivot
        if shift is not None:
            out[:, :2] += shift
        return out


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """(3, 3) rotation from degrees, image axes (x right, y down, z away from the camera):
    positive yaw turns the face toward the image's right, positive pitch nods the chin
    down, positive roll tilts the face clockwise in the image."""
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, -np.sin(y)], [0, 1, 0], [np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx
