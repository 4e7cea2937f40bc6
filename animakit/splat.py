"""Forward splatting with hole filling.

Each source pixel is pushed to a sub-pixel destination and spread over the 4 nearest
pixels with bilinear weights times an importance (a "soft z-buffer": where several pixels
land on one, the more important one wins, as in softmax splatting). Destinations nobody
reached are holes, filled from their surroundings by a push-pull pyramid.

Typical use::

    acc = SplatAccumulator(h, w, channels=3)
    acc.add(dest_xy, colors, importance)        # any number of times
    frame, holes = acc.resolve()                # (H, W, 3) float32, (H, W) bool
    frame = fill_holes(frame, holes)
"""
from __future__ import annotations

import cv2
import numpy as np


class SplatAccumulator:
    """Sums of weighted colours and weights on an (H, W) canvas."""

    def __init__(self, height: int, width: int, channels: int = 3):
        self.h, self.w, self.c = height, width, channels
        self.color = np.zeros((height * width, channels), np.float64)
        self.weight = np.zeros(height * width, np.float64)

    def copy(self) -> "SplatAccumulator":
        """An independent copy (e.g. of a canvas pre-filled with the pixels that never move)."""
        out = SplatAccumulator.__new__(SplatAccumulator)
        out.h, out.w, out.c = self.h, self.w, self.c
        out.color, out.weight = self.color.copy(), self.weight.copy()
        return out

    def add(self, dest: np.ndarray, colors: np.ndarray, importance: np.ndarray | float = 1.0,
            scale: float = 1.0) -> None:
        """Splat ``colors`` (N, C) to ``dest`` (N, 2) xy with bilinear weights times
        ``importance`` (N,) times ``scale``. Points landing off the canvas are dropped.
        Points sitting exactly on their pixel take a fast path (no spreading)."""
        imp = np.broadcast_to(np.asarray(importance, np.float32) * np.float32(scale), (len(dest),))
        x, y = dest[:, 0], dest[:, 1]
        xi, yi = np.floor(x), np.floor(y)
        exact = (x == xi) & (y == yi) & (xi >= 0) & (xi < self.w) & (yi >= 0) & (yi < self.h)
        if exact.any():
            idx = (yi[exact] * self.w + xi[exact]).astype(np.int64)
            self._scatter(idx, imp[exact], colors[exact])
        rest = ~exact
        if not rest.any():
            return
        x, y, xi, yi, imp, colors = x[rest], y[rest], xi[rest], yi[rest], imp[rest], colors[rest]
        fx, fy = x - xi, y - yi
        xi, yi = xi.astype(np.int64), yi.astype(np.int64)
        idx = np.concatenate([(yi + dy) * self.w + (xi + dx) for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1))])
        cx = np.concatenate([xi, xi + 1, xi, xi + 1])
        cy = np.concatenate([yi, yi, yi + 1, yi + 1])
        wt = np.concatenate([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy]) * np.tile(imp, 4)
        ok = (cx >= 0) & (cx < self.w) & (cy >= 0) & (cy < self.h) & (wt > 0)
        self._scatter(idx[ok], wt[ok], np.tile(colors, (4, 1))[ok])

    def _scatter(self, idx: np.ndarray, wt: np.ndarray, colors: np.ndarray) -> None:
        """Add ``wt`` (N,) and ``wt * colors`` (N, C) at flat pixel indices ``idx`` (N,)."""
        size = self.h * self.w
        self.weight += np.bincount(idx, wt, minlength=size)
        for k in range(self.c):
            self.color[:, k] += np.bincount(idx, wt * colors[:, k], minlength=size)

    def add_identity(self, image: np.ndarray, where: np.ndarray, scale: float = 1.0) -> None:
        """Splat the pixels of ``image`` (H, W, C) selected by ``where`` (H, W) bool onto
        themselves with weight ``scale`` (the fast path for pixels that do not move)."""
        m = where.reshape(-1)
        self.weight[m] += scale
        self.color[m] += scale * image.reshape(-1, self.c)[m]

    def resolve(self, min_weight: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, C) float32 normalised colours and the (H, W) bool hole map
        (total weight below ``min_weight``; their colour is 0)."""
        holes = self.weight < min_weight
        wsum = np.where(holes, 1.0, self.weight)
        img = (self.color / wsum[:, None]).astype(np.float32)
        img[holes] = 0
        return img.reshape(self.h, self.w, self.c), holes.reshape(self.h, self.w)


def fill_holes(image: np.ndarray, holes: np.ndarray, levels: int = 12) -> np.ndarray:
    """``image`` (H, W, C) float32 with ``holes`` (H, W) bool replaced by a push-pull
    interpolation of the valid pixels around them (coarse-to-fine averages)."""
    if not holes.any():
        return image
    valid = (~holes).astype(np.float32)
    if not valid.any():
        return image
    ys, xs = np.nonzero(holes)
    pad = 32
    y0, y1 = max(0, ys.min() - pad), min(image.shape[0], ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(image.shape[1], xs.max() + pad + 1)
    crop, v = image[y0:y1, x0:x1], valid[y0:y1, x0:x1]
    filled = _push_pull(crop * v[..., None], v, levels)
    out = image.copy()
    sub = out[y0:y1, x0:x1]
    h = holes[y0:y1, x0:x1]
    sub[h] = filled[h]
    return out


def _push_pull(premult: np.ndarray, valid: np.ndarray, levels: int) -> np.ndarray:
    """Normalised colours everywhere from premultiplied colours (H, W, C) and weights (H, W)."""
    h, w = valid.shape
    if levels == 0 or min(h, w) <= 2:
        total = max(float(valid.sum()), 1e-6)
        mean = premult.reshape(-1, premult.shape[-1]).sum(0) / total
        return np.broadcast_to(mean, premult.shape).astype(np.float32)
    small = ((w + 1) // 2, (h + 1) // 2)
    c_small = cv2.resize(premult, small, interpolation=cv2.INTER_AREA)
    v_small = cv2.resize(valid, small, interpolation=cv2.INTER_AREA)
    if c_small.ndim == 2:
        c_small = c_small[..., None]
    coarse = _push_pull(c_small, v_small, levels - 1)
    up = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
    if up.ndim == 2:
        up = up[..., None]
    a = np.clip(valid, 0, 1)[..., None]
    here = premult / np.maximum(valid, 1e-6)[..., None]
    return (a * here + (1 - a) * up).astype(np.float32)
