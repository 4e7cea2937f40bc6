"""Eyelids painted over the eye, for blinks that come from a driver's landmarks (driving
video, landmark file): lid skin and a lash line, instead of warping the driver's own lid
points (whose closed shapes can fold the mesh and drag iris texture above the eye).
Audio and no-driver blinks fold the eye with the mesh instead (see ``eyes.py``).

The lid's colour is sampled per position along the eye from the source's own upper-lid
skin (between the lid line and the crease); the lash colour from the source's lid line.
"""
from __future__ import annotations

import cv2
import numpy as np

from .contours import polygon_mask
from .rig import (LEFT_CREASE, LEFT_LOWER_LID, LEFT_UPPER_LID, RIGHT_CREASE, RIGHT_LOWER_LID,
                  RIGHT_UPPER_LID)

SAMPLES = 24


def _eye(corners, upper, lower, crease):
    a, b = corners
    return {"upper": [a] + upper + [b], "lower": [a] + lower + [b], "crease": [a] + crease + [b],
            "corners": (a, b)}


# lid contours run between the eye's corners in the same order as the rig's lists
EYES = (_eye((33, 133), RIGHT_UPPER_LID, RIGHT_LOWER_LID, RIGHT_CREASE),
        _eye((263, 362), LEFT_UPPER_LID, LEFT_LOWER_LID, LEFT_CREASE))
MID = ((159, 145), (386, 374))     # upper / lower lid centre points per eye


def _curve(points: np.ndarray, axis: np.ndarray, origin: np.ndarray, length: float, t: np.ndarray):
    """Positions (len(t), 2) of a lid contour at fractions ``t`` along the eye's axis."""
    s = (points - origin) @ axis / max(length, 1e-6)
    order = np.argsort(s)
    x = np.interp(t, s[order], points[order, 0])
    y = np.interp(t, s[order], points[order, 1])
    return np.stack([x, y], 1)


class EyePainter:
    """``crop`` (h, w, 3) uint8 source crop, ``points`` (478, 2) source landmarks in crop px."""

    def __init__(self, crop: np.ndarray, points: np.ndarray, face_width: float):
        self.fw = float(face_width)
        soft = cv2.GaussianBlur(crop, (0, 0), max(0.6, 0.006 * self.fw)).astype(np.float32)
        t = np.linspace(0.0, 1.0, SAMPLES)
        self.lid, self.lash, self.gap0 = [], [], []
        for eye, (u, l) in zip(EYES, MID):
            a, b = (points[i] for i in eye["corners"])
            axis = (b - a) / max(np.linalg.norm(b - a), 1e-6)
            length = float(np.linalg.norm(b - a))
            up = _curve(points[eye["upper"]], axis, a, length, t)
            cr = _curve(points[eye["crease"]], axis, a, length, t)
            # lid skin: per position, the second brightest of samples between lid and brow
            # (skips lashes, eyeliner, brow hair and a fringe falling over the brow)
            cand = np.stack([_sample(soft, up + f * (cr - up)) for f in (0.7, 1.1, 1.5, 1.9)])
            rank = np.argsort(cand.sum(2), axis=0)[-2]
            skin = 0.97 * cand[rank, np.arange(SAMPLES)]
            self.lid.append(cv2.GaussianBlur(skin[None], (0, 0), 2.0)[0])       # (SAMPLES, 3)
            line = _sample(soft, up)
            dark = line[np.argsort(line.sum(1))[: max(3, SAMPLES // 4)]].mean(0)
            self.lash.append(dark * 0.85)
            self.gap0.append(float(np.linalg.norm(points[l] - points[u])))
        self.lash_width = max(1.0, 0.011 * self.fw)

    def closure(self, points: np.ndarray) -> tuple[float, float]:
        """How shut each eye is in posed ``points`` (478, 2): 0 open (as in the source) .. 1 shut."""
        out = []
        for (u, l), g0 in zip(MID, self.gap0):
            ratio = np.linalg.norm(points[l] - points[u]) / max(g0, 1e-6)
            out.append(float(np.clip((1.0 - ratio - 0.05) / 0.9, 0.0, 1.0)))
        return out[0], out[1]

    def paint(self, crop: np.ndarray, points: np.ndarray, closures) -> None:
        """Draw each eye's lid lowered by its closure (0..1) into ``crop`` in place;
        ``points`` (478, 2) are the posed landmarks *before* the lids were moved."""
        for k, c in enumerate(closures):
            if c > 0.02:
                self._paint_eye(crop, points, k, min(float(c), 1.0))

    def _paint_eye(self, crop, points, k, c) -> None:
        eye = EYES[k]
        a, b = (points[i] for i in eye["corners"])
        length = float(np.linalg.norm(b - a))
        axis = (b - a) / max(length, 1e-6)
        t = np.linspace(0.0, 1.0, SAMPLES)
        up = _curve(points[eye["upper"]], axis, a, length, t)
        low = _curve(points[eye["lower"]], axis, a, length, t)
        meet = low + 0.25 * (up - low)
        edge = up + c * (meet - up)
        normal = np.array([-axis[1], axis[0]])              # points down the face
        top = up - normal * (2.0 * self.lash_width)         # also cover the original lash line
        poly = np.concatenate([top, edge[::-1]])
        h, w = crop.shape[:2]
        pad = int(np.ceil(3 * self.lash_width)) + 2
        x0, y0 = np.maximum(np.floor(poly.min(0)).astype(int) - pad, 0)
        x1, y1 = np.minimum(np.ceil(poly.max(0)).astype(int) + pad, [w, h])
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        shape = (y1 - y0, x1 - x0)
        cover = polygon_mask(poly, shape, (x0, y0))
        cover = cv2.GaussianBlur(cover, (0, 0), 0.5 * self.lash_width)
        lash = np.zeros(shape, np.uint8)
        pts = np.round((edge - [x0, y0]) * 8).astype(np.int32)
        thick = max(1, int(round(self.lash_width * (0.6 + 0.6 * c))))
        cv2.polylines(lash, [pts], False, 255, thick, cv2.LINE_AA, shift=3)
        lash = cv2.GaussianBlur(lash.astype(np.float32) / 255.0, (0, 0), 0.4 * self.lash_width)
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        s = np.clip(((xs - a[0]) * axis[0] + (ys - a[1]) * axis[1]) / max(length, 1e-6), 0, 1)
        idx = s * (SAMPLES - 1)
        color = np.stack([np.interp(idx, np.arange(SAMPLES), self.lid[k][:, j]) for j in range(3)], -1)
        # a faint shadow toward the lid edge gives the closed lid some roundness
        up_y, edge_y = np.interp(s, t, up[:, 1]), np.interp(s, t, edge[:, 1])
        d = np.clip((ys - up_y) / np.maximum(edge_y - up_y, 1.0), 0, 1)
        color *= (1.0 - 0.08 * d)[..., None]
        region = crop[y0:y1, x0:x1].astype(np.float32)
        out = region + cover[..., None] * (color - region)
        out += (lash * min(1.0, 1.5 * c))[..., None] * (self.lash[k] - out)
        crop[y0:y1, x0:x1] = cv2.convertScaleAbs(out)


def _sample(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """(N, 3) bilinear samples of ``image`` at ``xy`` (N, 2)."""
    m = xy.astype(np.float32).reshape(-1, 1, 2)
    return cv2.remap(image, m, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(-1, 3)
