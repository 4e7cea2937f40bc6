"""Crop, warp, paint the mouth, paste back: one source face rendered at full resolution."""
from __future__ import annotations

import cv2
import numpy as np

from .meshwarp import MeshWarp

from .eyes import eye_openings, irises_inside_lids
from .lids import EyePainter
from .mouth import MouthPainter
from .rig import (LINEAR_CONTROLS, LOWER_LIP_INNER, UPPER_LIP_INNER, FaceRig, face_frame,
                  face_width)

_UPPER = np.array(UPPER_LIP_INNER[1:-1])
_LOWER = np.array(LOWER_LIP_INNER[1:-1])


def crop_box(points: np.ndarray, image_size: tuple[int, int], scale: float) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): a square of ``scale`` times the mesh's larger side around its
    center, a little lower (the jaw moves down), clipped to the image."""
    w, h = image_size
    lo, hi = points[:, :2].min(0), points[:, :2].max(0)
    side = scale * float((hi - lo).max())
    cx, cy = (lo + hi) / 2 + [0.0, 0.06 * side]
    x0, y0 = int(np.floor(max(cx - side / 2, 0))), int(np.floor(max(cy - side / 2, 0)))
    x1, y1 = int(np.ceil(min(cx + side / 2, w))), int(np.ceil(min(cy + side / 2, h)))
    return x0, y0, x1, y1


def feather_mask(size: tuple[int, int], width: float) -> np.ndarray:
    """(h, w, 1) float32: 1 inside, easing to 0 over ``width`` pixels at the edge."""
    w, h = size
    ramp_x = np.clip(np.minimum(np.arange(w), np.arange(w)[::-1]) / max(width, 1e-6), 0, 1)
    ramp_y = np.clip(np.minimum(np.arange(h), np.arange(h)[::-1]) / max(width, 1e-6), 0, 1)
    m = np.minimum(ramp_y[:, None], ramp_x[None, :])
    return (m * m * (3 - 2 * m)).astype(np.float32)[..., None]


def _ring_strips(size: tuple[int, int], ring: int) -> list[tuple[slice, slice]]:
    """Slices (rows, cols) of four non-overlapping strips covering a ``ring``-pixel border."""
    w, h = size
    r = max(0, min(ring, w // 2, h // 2))
    if r == 0:
        return []
    return [(slice(0, r), slice(0, w)), (slice(h - r, h), slice(0, w)),
            (slice(r, h - r), slice(0, r)), (slice(r, h - r), slice(w - r, w))]



class FaceCompositor:
    """Renders posed landmarks of one source face into full frames.

    ``image``: (H, W, 3) uint8; ``points``: (478, 3) source landmarks in image pixels;
    ``crop_scale``: the warped square's side over the face's size; ``feather``: seam width
    as a fraction of that side.
    """

    def __init__(self, image: np.ndarray, points: np.ndarray, crop_scale: float = 1.9,
                 feather: float = 0.06, max_grid: int = 192, rig: FaceRig | None = None):
        self.image = np.ascontiguousarray(image)
        self.points = np.asarray(points, dtype=np.float64)
        h, w = image.shape[:2]
        self.box = crop_box(self.points, (w, h), crop_scale)
        x0, y0, x1, y1 = self.box
        self.offset = np.array([x0, y0], dtype=np.float64)
        self.crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        local = self.points[:, :2] - self.offset
        self.warp = MeshWarp(local, (x1 - x0, y1 - y0), max_grid=max_grid)
        self.mouth = MouthPainter(self.crop, local, face_width(self.points))
        # rig-made blinks fold the eye with the mesh; driver-made ones are painted (lids.py)
        self.fold_blinks = True
        self.lids = EyePainter(self.crop, local, face_width(self.points))
        rig = rig or FaceRig(self.points)
        self._blink_r = rig.bases[LINEAR_CONTROLS.index("blink_r")]
        self._blink_l = rig.bases[LINEAR_CONTROLS.index("blink_l")]
        ring = int(np.ceil(feather * max(x1 - x0, y1 - y0)))
        alpha = feather_mask((x1 - x0, y1 - y0), ring)[..., 0]
        self._ring = _ring_strips((x1 - x0, y1 - y0), ring)
        self._alpha = [np.ascontiguousarray(alpha[s]) for s in self._ring]
        self._beta = [np.ascontiguousarray(1.0 - a) for a in self._alpha]
        self._out = np.empty_like(self.crop)
        _, ex, self._ey, _ = face_frame(self.points)
        self._exy = (ex, self._ey)
        self._openings = eye_openings(self.points[:, :2], ex, self._ey)

    def uncrossed(self, target: np.ndarray) -> np.ndarray:
        """``target`` with each lower inner-lip point kept at or below its upper partner
        (a closing mouth meets at the middle instead of folding through itself)."""
        ey = self._ey
        up, low = target[_UPPER, :2], target[_LOWER, :2]
        gap = (low - up) @ ey                                          # (9,)
        if (gap >= 0).all():
            return target
        fix = np.minimum(gap, 0.0)[:, None] * ey / 2
        out = target.copy()
        out[_UPPER, :2] += fix
        out[_LOWER, :2] -= fix
        return out

    def render_crop(self, target: np.ndarray) -> np.ndarray:
        """(h, w, 3) uint8 warped crop for posed landmarks ``target`` (478, 2+) in image
        pixels. The array is a buffer that the next call overwrites."""
        target = self.uncrossed(target)[:, :2]
        closures = (0.0, 0.0)
        if self.fold_blinks:
            target = irises_inside_lids(target, self._openings, *self._exy)
        else:
            closures = self.lids.closure(target)
            if closures[0] > 0 or closures[1] > 0:       # keep the lids open in the warp
                target = target - closures[0] * self._blink_r - closures[1] * self._blink_l
        deltas = target - self.points[:, :2]
        out = self.warp.warp(self.crop, deltas, out=self._out)
        upper = deltas[UPPER_LIP_INNER[1:-1]].mean(0)
        local = target - self.offset
        self.mouth.paint(out, local, upper)
        if not self.fold_blinks:
            self.lids.paint(out, local, closures)
        return out

    def render(self, target: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 full frame: the warped crop blended into the source with a feathered seam."""
        crop = self.render_crop(target)
        frame = self.image.copy()
        x0, y0, x1, y1 = self.box
        region = frame[y0:y1, x0:x1]
        region[:] = crop
        for s, a, b in zip(self._ring, self._alpha, self._beta):     # the feathered seam only
            region[s] = cv2.blendLinear(np.ascontiguousarray(crop[s]),
                                        np.ascontiguousarray(self.crop[s]), a, b)
        return frame
