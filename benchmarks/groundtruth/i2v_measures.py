"""Measures of an image-to-video result: where a region went, and how still the still parts are.

Used by the tests and ``benchmarks/video_i2v.py``; independent of how the frames were made.
"""
from __future__ import annotations

import cv2
import numpy as np


def synthetic_scene(width: int, height: int, box: tuple[int, int, int, int],
                    seed: int = 0) -> np.ndarray:
    """(H, W, 3) uint8: a smooth random texture with a different, finer texture patch at
    ``box`` = (x0, y0, x1, y1) — something phase correlation can lock onto."""
    rng = np.random.default_rng(seed)
    bg = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), (0, 0), 3)
    bg = cv2.normalize(bg, None, 40, 215, cv2.NORM_MINMAX)
    x0, y0, x1, y1 = box
    patch = cv2.GaussianBlur(rng.integers(0, 256, (y1 - y0, x1 - x0, 3), dtype=np.uint8), (0, 0), 1.2)
    img = bg.copy()
    img[y0:y1, x0:x1] = cv2.normalize(patch, None, 0, 255, cv2.NORM_MINMAX)
    return img


def track_patch(frames: list[np.ndarray], box: tuple[int, int, int, int],
                search: int = 24) -> np.ndarray:
    """(T, 2) xy displacement of the content of ``box`` in ``frames[0]`` through the clip.

    Tracking, frame to frame: normalised cross-correlation of the first-frame template over
    a ``search``-px neighbourhood of the previous position finds the integer offset, then
    Hann-windowed phase correlation there gives the sub-pixel rest. The intended path is
    never used."""
    x0, y0, x1, y1 = box
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) for f in frames]
    template = gray[0][y0:y1, x0:x1]
    win = cv2.createHanningWindow((x1 - x0, y1 - y0), cv2.CV_32F)
    h, w = gray[0].shape
    out = np.zeros((len(frames), 2))
    guess = np.zeros(2, int)
    for t, g in enumerate(gray):
        sx0, sy0 = max(0, x0 + guess[0] - search), max(0, y0 + guess[1] - search)
        sx1, sy1 = min(w, x1 + guess[0] + search), min(h, y1 + guess[1] + search)
        score = cv2.matchTemplate(g[sy0:sy1, sx0:sx1], template, cv2.TM_CCOEFF_NORMED)
        _, _, _, (bx, by) = cv2.minMaxLoc(score)
        dx, dy = sx0 + bx - x0, sy0 + by - y0
        cur = np.ascontiguousarray(g[y0 + dy:y1 + dy, x0 + dx:x1 + dx])
        (fx, fy), _ = cv2.phaseCorrelate(template.copy(), cur, win)
        if max(abs(fx), abs(fy)) > 1.0:         # ambiguous phase peak: parabola on the NCC peak
            fx, fy = _parabola_peak(score, bx, by)
        out[t] = (dx + fx, dy + fy)
        guess = np.array([dx, dy])
    return out


def _parabola_peak(score: np.ndarray, x: int, y: int) -> tuple[float, float]:
    """Sub-pixel offset of the maximum of ``score`` at integer (x, y) by 1-D parabola fits."""
    def fit(a: float, b: float, c: float) -> float:
        d = a - 2 * b + c
        return 0.0 if d == 0 else float(np.clip(0.5 * (a - c) / d, -0.5, 0.5))
    h, w = score.shape
    fx = fit(score[y, x - 1], score[y, x], score[y, x + 1]) if 0 < x < w - 1 else 0.0
    fy = fit(score[y - 1, x], score[y, x], score[y + 1, x]) if 0 < y < h - 1 else 0.0
    return fx, fy


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB between uint8 images over ``mask`` (H, W) bool; inf when identical."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    diff = (a - b) ** 2
    if mask is not None:
        diff = diff[mask]
    mse = float(diff.mean()) if diff.size else 0.0
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)
