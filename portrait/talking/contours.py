"""Smooth lip contours through the mesh's inner-lip landmarks, and masks drawn from them.

MediaPipe gives 11 points per inner lip, corner to corner; joined by straight segments
they make a polygon whose corners show on a large face. :func:`smooth_curve` passes a
centripetal Catmull-Rom spline through them (no overshoot, no cusps between points), so
the opening's edge bends smoothly everywhere except at the two mouth corners, where the
upper and lower lips meet.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np

from .rig import LOWER_LIP_INNER, UPPER_LIP_INNER

_SHIFT = 3                          # sub-pixel bits for cv2.fillPoly


@functools.lru_cache(maxsize=8)
def _steps(n: int) -> np.ndarray:
    return np.linspace(0.0, 1.0, n, endpoint=False)[None, :, None]


def smooth_curve(points: np.ndarray, per_segment: int = 8) -> np.ndarray:
    """(per_segment * (N - 1) + 1, 2) points of the centripetal Catmull-Rom spline through
    ``points`` (N, 2), ends included; the end tangents mirror the neighbouring segment."""
    p = np.asarray(points, np.float64)
    if len(p) < 3:
        return p.copy()
    ext = np.concatenate([2 * p[:1] - p[1:2], p, 2 * p[-1:] - p[-2:-1]])    # (N + 2, 2)
    # knot spacing: square root of the chord lengths (centripetal), never zero
    d = np.sqrt(np.maximum(np.linalg.norm(np.diff(ext, axis=0), axis=1), 1e-6))
    t = np.concatenate([[0.0], np.cumsum(d)])                                # (N + 2,)
    # all segments at once: rows are segments i (between points i and i + 1), columns samples
    s = _steps(per_segment)                                                       # (1, S, 1)
    p0, p1, p2, p3 = (ext[k:k + len(p) - 1, None, :] for k in range(4))           # (N-1, 1, 2)
    t0, t1, t2, t3 = (t[k:k + len(p) - 1, None, None] for k in range(4))
    tt = t1 + s * (t2 - t1)                                                       # (N-1, S, 1)
    a1 = ((t1 - tt) * p0 + (tt - t0) * p1) / (t1 - t0)
    a2 = ((t2 - tt) * p1 + (tt - t1) * p2) / (t2 - t1)
    a3 = ((t3 - tt) * p2 + (tt - t2) * p3) / (t3 - t2)
    b1 = ((t2 - tt) * a1 + (tt - t0) * a2) / (t2 - t0)
    b2 = ((t3 - tt) * a2 + (tt - t1) * a3) / (t3 - t1)
    c = ((t2 - tt) * b1 + (tt - t1) * b2) / (t2 - t1)                             # (N-1, S, 2)
    return np.concatenate([c.reshape(-1, 2), p[-1:]])


def inner_lip_curves(points: np.ndarray, per_segment: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(upper, lower): smooth inner-lip curves (M, 2), each from corner 78 to corner 308,
    for landmarks ``points`` (478, 2+)."""
    pts = np.asarray(points)[:, :2]
    return (smooth_curve(pts[UPPER_LIP_INNER], per_segment),
            smooth_curve(pts[LOWER_LIP_INNER], per_segment))


def opening_outline(upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """(K, 2) closed outline of the opening: the upper curve, then the lower one back."""
    return np.concatenate([upper, lower[::-1][1:-1]])


def turning_angles(curve: np.ndarray) -> np.ndarray:
    """(M - 2,) absolute turning angle in radians at each interior point of ``curve`` (M, 2)."""
    d = np.diff(curve, axis=0)
    a = np.arctan2(d[:, 1], d[:, 0])
    return np.abs((np.diff(a) + np.pi) % (2 * np.pi) - np.pi)


def polygon_mask(poly: np.ndarray, shape: tuple[int, int], offset=(0.0, 0.0)) -> np.ndarray:
    """(h, w) float32 anti-aliased coverage of polygon ``poly`` (N, 2) pixels minus ``offset``."""
    m = np.zeros(shape, np.uint8)
    pts = np.round((poly - np.asarray(offset)) * (1 << _SHIFT)).astype(np.int32)
    cv2.fillPoly(m, [pts], 255, lineType=cv2.LINE_AA, shift=_SHIFT)
    return m.astype(np.float32) * (1.0 / 255.0)


def polygon_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
