"""Texture-mapped rendering of the skinned part meshes, and the clean background plate.

Each part is rasterised on its own: triangle ids into a buffer over the part's screen bbox,
then every covered pixel's source position from its triangle's inverse affine map, then one
``cv2.remap`` of the part's RGBA texture and an "over" composite. Parts are drawn back to
front, so a limb nearer the camera than the torso is drawn over it.
"""
from __future__ import annotations

import cv2
import numpy as np

from .rig import Part


def inverse_affines(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per triangle, the 2x3 map from destination to source pixels. ``src``/``dst``: (K, 3, 2)
    triangle corners. Returns (K, 2, 3) maps and (K,) bool "not degenerate"."""
    e1, e2 = dst[:, 1] - dst[:, 0], dst[:, 2] - dst[:, 0]               # (K, 2)
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    ok = np.abs(det) > 1e-3
    det = np.where(ok, det, 1.0)
    inv = np.stack([np.stack([e2[:, 1], -e2[:, 0]], 1),
                    np.stack([-e1[:, 1], e1[:, 0]], 1)], 1) / det[:, None, None]   # (K, 2, 2)
    s = np.stack([src[:, 1] - src[:, 0], src[:, 2] - src[:, 0]], 2)   # (K, 2, 2) columns
    lin = s @ inv                                                       # (K, 2, 2)
    trans = src[:, 0] - np.einsum("kij,kj->ki", lin, dst[:, 0])
    return np.concatenate([lin, trans[:, :, None]], axis=2), ok


def draw_part(canvas: np.ndarray, part: Part, deformed: np.ndarray,
              coverage: np.ndarray | None = None) -> None:
    """Composite ``part`` with its vertices moved to ``deformed`` (N, 2) onto ``canvas``
    (H, W, 3) float32 in place; ``coverage`` (H, W) float32, if given, accumulates alpha."""
    h, w = canvas.shape[:2]
    tris = part.triangles
    dst = deformed[tris]                                       # (K, 3, 2)
    x0, y0 = np.floor(dst.reshape(-1, 2).min(0)).astype(int) - 1
    x1, y1 = np.ceil(dst.reshape(-1, 2).max(0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return
    maps, ok = inverse_affines(part.vertices[tris] - np.array(part.offset), dst - [x0, y0])
    ids = np.full((y1 - y0, x1 - x0), -1, np.int32)
    corners = np.round((dst - [x0, y0]) * 16).astype(np.int32)
    for k in np.flatnonzero(ok):
        cv2.fillConvexPoly(ids, corners[k], int(k), lineType=cv2.LINE_8, shift=4)
    yy, xx = np.nonzero(ids >= 0)
    if len(yy) == 0:
        return
    m = maps[ids[yy, xx]]                                      # (P, 2, 3)
    sx = m[:, 0, 0] * xx + m[:, 0, 1] * yy + m[:, 0, 2]
    sy = m[:, 1, 0] * xx + m[:, 1, 1] * yy + m[:, 1, 2]
    mapx = np.full(ids.shape, -10.0, np.float32)
    mapy = np.full(ids.shape, -10.0, np.float32)
    mapx[yy, xx], mapy[yy, xx] = sx, sy
    rgba = cv2.remap(part.texture, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=(0, 0, 0, 0)).astype(np.float32)
    a = rgba[:, :, 3:4] / 255.0
    view = canvas[y0:y1, x0:x1]
    view *= 1 - a
    view += a * rgba[:, :, :3]
    if coverage is not None:
        cov = coverage[y0:y1, x0:x1]
        cov += a[:, :, 0] * (1 - cov)


def clean_plate(image: np.ndarray, alpha: np.ndarray, work_side: int = 320) -> np.ndarray:
    """The reference with the person removed: (H, W, 3) uint8. The person's dilated mask is
    inpainted (Telea) at a working resolution of ``work_side`` px, smoothed, and pasted back
    only inside the mask, so the background elsewhere is bit-identical to the reference."""
    h, w = alpha.shape
    hole = (alpha > 0.02).astype(np.uint8)
    r = max(3, round(max(h, w) / 150))
    hole = cv2.dilate(hole, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2))
    if not hole.any():
        return image.copy()
    s = min(1.0, work_side / max(h, w))
    size = (max(1, round(w * s)), max(1, round(h * s)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    small_hole = (cv2.resize(hole, size, interpolation=cv2.INTER_AREA) > 0).astype(np.uint8)
    small_hole = cv2.dilate(small_hole, np.ones((3, 3), np.uint8))
    filled = cv2.inpaint(small, small_hole, 5, cv2.INPAINT_TELEA)
    filled = cv2.GaussianBlur(filled, (0, 0), 1.5)
    big = cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC)
    feather = cv2.GaussianBlur(hole.astype(np.float32), (0, 0), r / 2)
    feather = np.maximum(feather, hole.astype(np.float32))[:, :, None]
    out = image.astype(np.float32) * (1 - feather) + big.astype(np.float32) * feather
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
