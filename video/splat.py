"""Forward splatting with hole filling.

Each source pixel is pushed to a sub-pixel destination and spread over the 4 nearest
pixels with bilinear weights times an importance (a "soft z-buffer": where several pixels
land on one, the more important one wins, as in softmax splatting). Destinations nobody
reached are holes, filled from their surroundings by a push-pull pyramid; where a
stretched region leaves its pixels thinly spread (coverage below one pixel's worth), the
colour is blended with that fill in proportion, so a stretch reads as a smooth smear
instead of stripes of isolated pixels.

Typical use::

    acc = SplatAccumulator(h, w, channels=3)
    acc.add(dest_xy, colors, importance)        # any number of times
    frame, holes = acc.resolve()                # (H, W, 3) float32, (H, W) bool
    frame = fill_holes(frame, holes)            # or: soft_fill(frame, acc.coverage())
"""
from __future__ import annotations

import cv2
import numpy as np

SMOOTH_SIGMA = 4.0      # px: the averaging scale of thinly covered (stretched) areas


class SplatAccumulator:
    """Sums of weighted colours and weights on an (H, W) canvas, and the coverage: the
    bilinear weights alone, without importance (1 where a pixel's worth of source landed)."""

    def __init__(self, height: int, width: int, channels: int = 3):
        self.h, self.w, self.c = height, width, channels
        self.color = np.zeros((height * width, channels), np.float64)
        self.weight = np.zeros(height * width, np.float64)
        self.cover = np.zeros(height * width, np.float64)

    def copy(self) -> "SplatAccumulator":
        """An independent copy (e.g. of a canvas pre-filled with the pixels that never move)."""
        out = SplatAccumulator.__new__(SplatAccumulator)
        out.h, out.w, out.c = self.h, self.w, self.c
        out.color, out.weight, out.cover = self.color.copy(), self.weight.copy(), self.cover.copy()
        return out

    def add(self, dest: np.ndarray, colors: np.ndarray, importance: np.ndarray | float = 1.0,
            scale: float = 1.0) -> None:
        """Splat ``colors`` (N, C) to ``dest`` (N, 2) xy with bilinear weights times
        ``importance`` (N,) times ``scale``. Points landing off the canvas are dropped."""
        imp = np.broadcast_to(np.asarray(importance, np.float32) * np.float32(scale), (len(dest),))
        self._add_cover(dest, scale)
        x, y = dest[:, 0], dest[:, 1]
        xf, yf = np.floor(x), np.floor(y)
        inside = (xf >= 0) & (xf < self.w - 1) & (yf >= 0) & (yf < self.h - 1)
        if not inside.all():                      # the few near or past the border
            self._add_clipped(dest[~inside], colors[~inside], imp[~inside])
            x, y, xf, yf = x[inside], y[inside], xf[inside], yf[inside]
            imp, colors = imp[inside], colors[inside]
        fx, fy = x - xf, y - yf
        base = yf.astype(np.int64) * self.w + xf.astype(np.int64)
        right = imp * fx
        left = imp - right
        idx = np.concatenate([base, base + 1, base + self.w, base + self.w + 1])
        corners = (left * (1 - fy), right * (1 - fy), left * fy, right * fy)
        size = self.h * self.w
        self.weight += np.bincount(idx, np.concatenate(corners), minlength=size)
        for k in range(self.c):
            ck = colors[:, k]
            self.color[:, k] += np.bincount(idx, np.concatenate([w * ck for w in corners]),
                                            minlength=size)

    def _add_cover(self, dest: np.ndarray, scale: float) -> None:
        """Coverage: each point's bilinear weights (times ``scale``) on the canvas."""
        x, y = dest[:, 0].astype(np.float64), dest[:, 1].astype(np.float64)
        x0, y0 = np.floor(x), np.floor(y)
        fx, fy = x - x0, y - y0
        x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
        size = self.h * self.w
        for dx, dy, wb in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                           (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            xi, yi = x0 + dx, y0 + dy
            ok = (xi >= 0) & (xi < self.w) & (yi >= 0) & (yi < self.h)
            self.cover += np.bincount(yi[ok] * self.w + xi[ok], wb[ok] * scale, minlength=size)

    def coverage(self) -> np.ndarray:
        """(H, W) float32 coverage clipped to [0, 1]."""
        return np.clip(self.cover, 0.0, 1.0).reshape(self.h, self.w).astype(np.float32)

    def _add_clipped(self, dest: np.ndarray, colors: np.ndarray, imp: np.ndarray) -> None:
        """:meth:`add` for points whose 4 neighbours may fall off the canvas."""
        x, y = dest[:, 0].astype(np.float64), dest[:, 1].astype(np.float64)
        x0, y0 = np.floor(x), np.floor(y)
        fx, fy = x - x0, y - y0
        x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
        for dx, dy, wb in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                           (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            xi, yi = x0 + dx, y0 + dy
            ok = (xi >= 0) & (xi < self.w) & (yi >= 0) & (yi < self.h) & (wb > 0)
            self._scatter(yi[ok] * self.w + xi[ok], wb[ok] * imp[ok], colors[ok])

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
        self.cover[m] += scale
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


def soft_fill(image: np.ndarray, coverage: np.ndarray, levels: int = 12) -> np.ndarray:
    """``image`` (H, W, C) float32 where ``coverage`` (H, W) in [0, 1] is below 1 blended
    with a push-pull interpolation weighted by coverage: ``c * image + (1 - c) * fill``
    (0 = a hole, filled entirely; 1 = kept). Pixels at coverage 1 are returned unchanged."""
    thin = coverage < 0.999
    if not thin.any() or not (coverage > 0).any():
        return image
    ys, xs = np.nonzero(thin)
    pad = 32
    y0, y1 = max(0, ys.min() - pad), min(image.shape[0], ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(image.shape[1], xs.max() + pad + 1)
    crop, c = image[y0:y1, x0:x1], coverage[y0:y1, x0:x1]
    filled = _push_pull(crop * c[..., None], c, levels)      # c * crop + (1 - c) * coarser
    # where the covered pixels are sparse (a stretch), use a smooth normalised average of
    # them instead: rows of isolated source pixels would otherwise show as stripes
    density = cv2.GaussianBlur(c, (0, 0), 2.0)
    sparse = np.clip(1.0 - density, 0.0, 1.0)[..., None] ** 0.5
    num = cv2.GaussianBlur(crop * c[..., None], (0, 0), SMOOTH_SIGMA)
    den = cv2.GaussianBlur(c, (0, 0), SMOOTH_SIGMA)[..., None]
    smooth = np.where(den > 1e-3, num / np.maximum(den, 1e-6), filled)
    filled = (sparse * smooth + (1.0 - sparse) * filled).astype(np.float32)
    out = image.copy()
    sub, t = out[y0:y1, x0:x1], thin[y0:y1, x0:x1]
    sub[t] = filled[t]
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
