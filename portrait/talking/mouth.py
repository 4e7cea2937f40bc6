"""Mouth interior where the lips part: dark cavity, tongue tint, teeth bands, feathered lip edge.

When the source mouth is already open (a smile showing teeth), its own interior travels
with the upper lip (the upper teeth are fixed to the skull) and only the newly opened part
is synthesized.
"""
from __future__ import annotations

import cv2
import numpy as np

from .rig import LOWER_LIP_INNER, LOWER_LIP_OUTER, UPPER_LIP_INNER, UPPER_LIP_OUTER

_SHIFT = 3                          # sub-pixel bits for cv2.fillPoly
INNER_POLY = UPPER_LIP_INNER + LOWER_LIP_INNER[::-1][1:-1]
OUTER_POLY = UPPER_LIP_OUTER + LOWER_LIP_OUTER[::-1][1:-1]


def polygon_mask(poly: np.ndarray, shape: tuple[int, int], offset=(0.0, 0.0)) -> np.ndarray:
    """(h, w) float32 anti-aliased coverage of polygon ``poly`` (N, 2) pixels minus ``offset``."""
    m = np.zeros(shape, np.uint8)
    pts = np.round((poly - np.asarray(offset)) * (1 << _SHIFT)).astype(np.int32)
    cv2.fillPoly(m, [pts], 255, lineType=cv2.LINE_AA, shift=_SHIFT)
    return m.astype(np.float32) * (1.0 / 255.0)


def polygon_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


class MouthPainter:
    """Paints the mouth interior into warped crops of one source face.

    ``crop``: (h, w, 3) uint8 source crop; ``points``: (478, 2) source landmarks in crop pixels;
    ``face_width``: pixels.
    """

    def __init__(self, crop: np.ndarray, points: np.ndarray, face_width: float):
        self.crop = crop
        self.fw = float(face_width)
        self.src_inner = points[INNER_POLY].astype(np.float64)
        self.src_gap = polygon_area(self.src_inner) / self.fw ** 2     # face-width² units
        self.feather = max(0.5, 0.008 * self.fw)
        lips = polygon_mask(points[OUTER_POLY], crop.shape[:2]) > 0.5
        lips &= polygon_mask(self.src_inner, crop.shape[:2]) < 0.5
        lip = np.median(crop[lips], 0) if lips.any() else np.array([150.0, 80, 80])
        self.cavity = np.clip(lip * np.array([0.30, 0.16, 0.16]), 0, 255)
        self.tongue = np.clip(lip * np.array([0.62, 0.36, 0.36]), 0, 255)
        skin = np.median(crop.reshape(-1, 3), 0)
        light = float(np.clip(skin.mean() / 170.0, 0.55, 1.1))
        # off-white, tinted by the picture's own colour cast (a painting's varnish, warm light)
        neutral = np.array([232.0, 226, 214]) * light
        self.teeth = np.clip(0.55 * neutral + 0.45 * np.minimum(skin * 1.3, 250), 0, 255)
        self.has_interior = self.src_gap > 4e-4

    def paint(self, crop: np.ndarray, points: np.ndarray, upper_shift: np.ndarray) -> None:
        """Paint into ``crop`` (h, w, 3) uint8 in place, for posed landmarks ``points`` (478, 2)
        in crop pixels; ``upper_shift`` (2,) is how far the upper inner lip moved."""
        inner = points[INNER_POLY].astype(np.float64)
        if polygon_area(inner) < 0.5 and not self.has_interior:
            return
        h, w = crop.shape[:2]
        pad = int(np.ceil(3 * self.feather)) + 2
        x0, y0 = np.floor(inner.min(0)).astype(int) - pad
        x1, y1 = np.ceil(inner.max(0)).astype(int) + pad
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        shape = (y1 - y0, x1 - x0)
        mask = polygon_mask(inner, shape, (x0, y0))
        mask = cv2.GaussianBlur(mask, (0, 0), self.feather * 0.6)
        if mask.max() < 0.02:
            return
        interior = self._synth(inner, shape, (x0, y0))
        if self.has_interior:
            self._paste_source(interior, shape, (x0, y0), upper_shift)
        inside = cv2.convertScaleAbs(interior)          # saturating float -> uint8
        crop[y0:y1, x0:x1] = cv2.blendLinear(inside, crop[y0:y1, x0:x1], mask,
                                             np.ascontiguousarray(1.0 - mask))

    def _synth(self, inner: np.ndarray, shape: tuple[int, int], offset) -> np.ndarray:
        """(h, w, 3) float32 cavity with tongue tint, upper and lower teeth bands."""
        h, w = shape
        ox, oy = offset
        xs = np.arange(w, dtype=np.float64) + ox
        up = inner[: len(UPPER_LIP_INNER)]
        low = np.concatenate([up[:1], inner[len(UPPER_LIP_INNER):][::-1], up[-1:]])
        ou, ol = np.argsort(up[:, 0]), np.argsort(low[:, 0])
        y_up = np.interp(xs, up[ou, 0], up[ou, 1])              # (w,)
        y_low = np.interp(xs, low[ol, 0], low[ol, 1])
        gap = np.maximum(y_low - y_up, 0.0)
        left, right = up[:, 0].min(), up[:, 0].max()
        tx = np.clip((xs - (left + right) / 2) / max((right - left) / 2, 1.0), -1, 1)
        ys = np.arange(h, dtype=np.float64)[:, None] + oy
        ty = np.clip((ys - y_up) / np.maximum(gap, 1e-3), 0, 1)        # (h, w) 0 top .. 1 bottom
        side = 1.0 - 0.55 * tx ** 2
        tongue = _smoothstep((ty - 0.45) / 0.55) * np.clip(gap / (0.05 * self.fw), 0, 1)
        base = (self.cavity * (1 - tongue[..., None]) + self.tongue * tongue[..., None])
        img = base * side[None, :, None]
        teeth_h = np.minimum(0.34 * gap, 0.04 * self.fw)
        d_up = ys - y_up
        band = _smoothstep((teeth_h - d_up) / 0.8) * _smoothstep(d_up + 1.0)
        band *= _smoothstep((0.68 - np.abs(tx)) / 0.28)[None, :]
        if not self.has_interior:
            # in the upper lip's shadow at the gum line, lit in the middle, dimmer at the tips
            depth = np.clip(d_up / np.maximum(teeth_h, 1e-3), 0, 1)
            shade = (0.72 + 0.28 * (1 - tx ** 2))[None, :] * (0.78 + 0.3 * np.sin(np.pi * (0.25 + 0.6 * depth)))
            img = img * (1 - band[..., None]) + (self.teeth * shade[..., None]) * band[..., None]
        lo_h = np.minimum(0.12 * gap, 0.018 * self.fw) * (gap > 0.07 * self.fw)
        d_low = y_low - ys
        lband = _smoothstep((lo_h - d_low) / 0.8) * _smoothstep(d_low + 0.5) * (lo_h > 0)
        lband *= _smoothstep((0.5 - np.abs(tx)) / 0.25)[None, :]
        img = img * (1 - lband[..., None]) + (0.62 * self.teeth) * lband[..., None]
        return img.astype(np.float32)

    def _paste_source(self, interior: np.ndarray, shape, offset, upper_shift) -> None:
        """Overlay the source's own mouth interior, moved with the upper lip."""
        ox, oy = offset
        dx, dy = float(upper_shift[0]), float(upper_shift[1])
        m = np.float32([[1, 0, dx - ox], [0, 1, dy - oy]])
        h, w = shape
        patch = cv2.warpAffine(self.crop, m, (w, h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        alpha = polygon_mask(self.src_inner + [dx, dy], shape, offset)
        alpha = cv2.GaussianBlur(alpha, (0, 0), self.feather * 0.6)[..., None]
        interior[:] = interior + alpha * (patch - interior)


def _smoothstep(x):
    t = np.minimum(np.maximum(x, 0.0), 1.0)
    return t * t * (3 - 2 * t)
