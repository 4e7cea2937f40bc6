"""The edit's colour transform: a mapping from source colours to edited colours, fitted on
the first frame (and keyframes) and applied to pixels the flow cannot carry the edit to.

The transform is a global affine colour matrix (exact for channel mixing, hue rotation in
RGB, brightness / contrast / tint) plus a smooth colour-dependent correction stored as a
3-D lookup table, so non-linear grades (curves, posterisation-like looks) are captured too.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

_FIT_BINS = 16          # residual LUT resolution while fitting (per channel)
_APPLY_BITS = 5         # table resolution when applying (32 levels per channel: the table
                        # stays in cache; the residual is smooth, fitted on 16 bins)


@dataclass
class ColourTransform:
    """``T(rgb) = rgb @ matrix.T + bias + lut(rgb)`` on float RGB in 0-255.

    ``matrix`` (3, 3), ``bias`` (3,), ``lut`` (32**3, 3) float32 residual table, flat index
    (r * 32 + g) * 32 + b, its entries at the centres of 8-level colour bins and read with
    trilinear interpolation: read bin by bin, a colour drifting across a bin edge from one
    frame to the next would jump by the difference of two entries and flicker."""
    matrix: np.ndarray
    bias: np.ndarray
    lut: np.ndarray

    @classmethod
    def identity(cls) -> "ColourTransform":
        n = 1 << _APPLY_BITS
        return cls(np.eye(3, dtype=np.float32), np.zeros(3, np.float32),
                   np.zeros((n ** 3, 3), np.float32))

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """(..., 3) float32 transformed colours (not clipped) for uint8 ``rgb`` (..., 3)."""
        rgb = np.ascontiguousarray(rgb)
        n = rgb.size // 3
        img = rgb if rgb.ndim == 3 and max(rgb.shape[:2]) < 32767 else _as_image(rgb.reshape(-1, 3))
        affine = np.concatenate([self.matrix, self.bias[:, None]], axis=1).astype(np.float32)
        pixels = img.astype(np.float32)
        out = cv2.transform(pixels, affine)
        if self._has_residual():
            out += _trilinear(self._texture(), pixels)
        return out.reshape(-1, 3)[:n].reshape(rgb.shape[:-1] + (3,))

    def _texture(self) -> np.ndarray:
        """The table as an (m, m * m, 3) image: row r, column g * m + b (m = 32)."""
        if not hasattr(self, "_tex"):
            m = 1 << _APPLY_BITS
            self._tex = np.ascontiguousarray(self.lut.reshape(m, m * m, 3))
        return self._tex

    def _has_residual(self) -> bool:
        """False when the LUT correction is below a hundredth of a grey level everywhere
        (a purely affine edit), so applying it can be skipped."""
        if not hasattr(self, "_residual"):
            self._residual = bool(np.abs(self.lut).max() >= 0.01)
        return self._residual


def _as_image(rgb: np.ndarray, cols: int = 4096) -> np.ndarray:
    """(N, 3) colours as an (rows, cols, 3) image, zero-padded (OpenCV's remap takes
    images under 32767 pixels a side); read back with ``.reshape(-1, 3)[:N]``."""
    n = len(rgb)
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    img = np.zeros((rows * cols, 3), np.uint8)
    img[:n] = rgb
    return img.reshape(rows, cols, 3)


def _trilinear(tex: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 residual at each colour of ``rgb`` (H, W, 3) float32 in 0-255,
    trilinear in the table ``tex`` (:meth:`ColourTransform._texture`). Two bilinear remaps
    do it: each reads (r, b) inside one g slice of the texture, and the two slices are mixed
    by g."""
    m = tex.shape[0]
    f = cv2.multiply(rgb, m / 256.0)
    cv2.subtract(f, 0.5, dst=f)                 # bin coordinates: entries at bin centres
    fr, fg, fb = cv2.split(f)
    for c, top in ((fr, m - 1), (fb, m - 1), (fg, m - 1.0001)):
        cv2.max(c, 0, dst=c)
        cv2.min(c, top, dst=c)
    g0 = np.floor(fg)                           # the lower g slice, at most m - 2
    wg = fg - g0
    x = cv2.scaleAdd(g0, float(m), fb)          # column g0 * m + b: b stays in its slice
    lo = cv2.remap(tex, x, fr, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    x += m
    hi = cv2.remap(tex, x, fr, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return cv2.blendLinear(hi, lo, wg, 1 - wg)


def fit_colour_transform(source: np.ndarray, edited: np.ndarray,
                         weights: np.ndarray | None = None, ridge: float = 1e-3,
                         max_samples: int = 200_000) -> ColourTransform:
    """Fit ``T`` so that ``T(source) ~ edited``.

    ``source``, ``edited``: (H, W, 3) uint8 (or (N, 3)); ``weights``: (H, W) or (N,) in
    [0, 1], where to fit (the edit mask). Empty weights give the identity."""
    s = np.asarray(source).reshape(-1, 3)
    e = np.asarray(edited).reshape(-1, 3).astype(np.float32)
    w = np.ones(len(s), np.float32) if weights is None else \
        np.asarray(weights, np.float32).reshape(-1)
    keep = w > 1e-3
    if keep.sum() < 16:
        return ColourTransform.identity()
    s, e, w = s[keep], e[keep], w[keep]
    if len(s) > max_samples:
        idx = np.random.default_rng(0).choice(len(s), max_samples, replace=False)
        s, e, w = s[idx], e[idx], w[idx]
    sf = s.astype(np.float32)
    matrix, bias = _fit_affine(sf, e, w, ridge)
    resid = e - (sf @ matrix.T + bias)
    lut = _fit_residual_lut(s, resid, w)
    return ColourTransform(matrix.astype(np.float32), bias.astype(np.float32), lut)


def _fit_affine(s: np.ndarray, e: np.ndarray, w: np.ndarray,
                ridge: float) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares ``e ~ s @ M.T + b``, regularised towards the identity."""
    x = np.concatenate([s / 255.0, np.ones((len(s), 1), np.float32)], axis=1)   # (N, 4)
    y = e / 255.0 - s / 255.0                                                   # fit M - I
    xtw = x.T * w
    a = xtw @ x + ridge * w.sum() * np.eye(4, dtype=np.float32)
    coef = np.linalg.solve(a.astype(np.float64), (xtw @ y).astype(np.float64))   # (4, 3)
    matrix = coef[:3].T + np.eye(3)
    bias = coef[3] * 255.0
    return matrix, bias


def _fit_residual_lut(s: np.ndarray, resid: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Smooth colour-dependent correction: weighted bin means of the affine residual on a
    16^3 grid (normalised Gaussian smoothing fills sparse bins and shrinks them to zero),
    resampled to the 32^3 apply table."""
    n = _FIT_BINS
    q = np.minimum((s.astype(np.int32) * n) // 256, n - 1)
    idx = (q[:, 0] * n + q[:, 1]) * n + q[:, 2]
    count = np.bincount(idx, weights=w, minlength=n ** 3).reshape(n, n, n)
    sums = [np.bincount(idx, weights=w * resid[:, c], minlength=n ** 3).reshape(n, n, n)
            for c in range(3)]
    prior = max(1.0, 1e-4 * float(w.sum()))        # pseudo-count pulling thin bins to 0
    count_s = ndimage.gaussian_filter(count, 0.7, mode="nearest")
    grid = np.stack([ndimage.gaussian_filter(sm, 0.7, mode="nearest") / (count_s + prior)
                     for sm in sums], axis=-1)     # (n, n, n, 3)
    m = 1 << _APPLY_BITS
    centres = ((np.arange(m) + 0.5) * (256 / m)) * n / 256 - 0.5                # bin coords
    cr, cg, cb = np.meshgrid(centres, centres, centres, indexing="ij")
    pts = np.stack([cr.ravel(), cg.ravel(), cb.ravel()])
    table = np.stack([ndimage.map_coordinates(grid[..., c], pts, order=1, mode="nearest")
                      for c in range(3)], axis=-1)
    return table.astype(np.float32)
