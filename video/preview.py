"""A picture of a motion brush over its image: what will move, along which path, what stays."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .brush import Brush
from animakit.media import atomic_output, save_image

COLORS = [(255, 80, 40), (40, 200, 90), (250, 200, 30), (200, 60, 220), (30, 190, 230)]


def brush_preview(image: np.ndarray, brush: Brush, num_frames: int = 64) -> np.ndarray:
    """(H, W, 3) uint8: strokes tinted with their PCHIP paths (start dot, end arrow),
    static regions tinted blue and outlined."""
    out = image.astype(np.float32)
    blue = np.array([40, 110, 255], np.float32)
    out[brush.static] = 0.55 * out[brush.static] + 0.45 * blue
    for s in brush.strokes:
        c = np.array(COLORS[s.index % len(COLORS)], np.float32)
        out[s.mask] = 0.6 * out[s.mask] + 0.4 * c
    out = np.clip(out, 0, 255).astype(np.uint8)
    thick = max(1, round(min(image.shape[:2]) / 256))
    contours, _ = cv2.findContours(brush.static.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(out, contours, -1, (40, 110, 255), thick, cv2.LINE_AA)
    for s in brush.strokes:
        c = COLORS[s.index % len(COLORS)]
        contours, _ = cv2.findContours(s.mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, c, thick, cv2.LINE_AA)
        path = s.positions(num_frames)
        path = s.trajectory[0] + (path - path[0]) * s.strength
        pts = np.round(path * 16).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(out, [pts], False, (255, 255, 255), thick + 2, cv2.LINE_AA, shift=4)
        cv2.polylines(out, [pts], False, c, thick, cv2.LINE_AA, shift=4)
        cv2.circle(out, tuple(int(v) for v in np.round(path[0])), thick * 3, c, -1, cv2.LINE_AA)
        step = path[-1] - path[-2] if len(path) > 1 else np.zeros(2)
        if np.linalg.norm(step) > 0:
            tail = path[-1] - step / np.linalg.norm(step) * (8 * thick + 6)
            cv2.arrowedLine(out, tuple(int(v) for v in np.round(tail)),
                            tuple(int(v) for v in np.round(path[-1])), c, thick + 1,
                            cv2.LINE_AA, tipLength=0.6)
    return out


def brush_preview_writer(image: np.ndarray, brush: Brush):
    """A side-output function writing the preview image (format from the suffix, e.g.
    ``.png``) to ``path`` atomically."""
    def write(path: Path) -> None:
        with atomic_output(path) as tmp:
            save_image(tmp, brush_preview(image, brush))
    return write
