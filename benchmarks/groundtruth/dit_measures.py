"""Measures of generated clips: object tracking, motion direction, content consistency.

The moving object is the only strongly saturated thing in a clip (the background is muted by
construction, see :mod:`dit.data`), so it is tracked per frame as the chroma-weighted centroid
of pixels whose chroma (max - min channel) exceeds :data:`CHROMA_THRESHOLD`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from animakit.dit.data import DIRECTION_VECTORS, DIRECTIONS, label_parts

CHROMA_THRESHOLD = 0.42        # object chroma >= 0.64, background chroma <= ~0.3 (in [0, 1])
MIN_TRAVEL_PX = 5.0            # a true clip travels 15 px


def object_masks(frames: np.ndarray) -> np.ndarray:
    """frames (F, H, W, 3) uint8 -> per-pixel object weight (F, H, W) in [0, 1]."""
    f = frames.astype(np.float32) / 255.0
    chroma = f.max(axis=-1) - f.min(axis=-1)
    return np.clip((chroma - CHROMA_THRESHOLD) / (1 - CHROMA_THRESHOLD) * 4, 0, 1)


def track(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Object centres (F, 2) as (x, y) pixel coordinates (NaN where no object is seen) and
    object areas (F,) in pixels, for frames (F, H, W, 3) uint8."""
    w = object_masks(frames)
    area = w.sum(axis=(1, 2))
    ys, xs = np.mgrid[0:frames.shape[1], 0:frames.shape[2]].astype(np.float32) + 0.5
    with np.errstate(invalid="ignore", divide="ignore"):
        cx = (w * xs).sum(axis=(1, 2)) / area
        cy = (w * ys).sum(axis=(1, 2)) / area
    centres = np.stack([cx, cy], axis=1)
    centres[area < 3] = np.nan
    return centres, area


def motion_direction(centres: np.ndarray) -> str | None:
    """The direction (one of DIRECTIONS) of a least-squares straight-line fit to the tracked
    centres (F, 2), or None when the object is lost in over a quarter of the frames or
    travels less than MIN_TRAVEL_PX."""
    ok = ~np.isnan(centres).any(axis=1)
    if ok.sum() < 0.75 * len(centres):
        return None
    t = np.arange(len(centres))[ok]
    vx, vy = (np.polyfit(t, centres[ok, i], 1)[0] for i in range(2))
    travel = np.hypot(vx, vy) * (len(centres) - 1)
    if travel < MIN_TRAVEL_PX:
        return None
    return max(DIRECTIONS, key=lambda d: DIRECTION_VECTORS[d][0] * vx + DIRECTION_VECTORS[d][1] * vy)


@dataclass
class ClipMeasures:
    direction: str | None        # tracked direction, None if not trackable
    direction_ok: bool           # tracked direction == labelled direction
    area_cv: float               # std / mean of the object area over frames (0 = constant)
    path_residual_px: float      # RMS distance of centres from their straight-line fit


def measure_clip(frames: np.ndarray, label: int) -> ClipMeasures:
    """Measures of one clip (F, H, W, 3) uint8 generated for ``label``."""
    centres, area = track(frames)
    direction = motion_direction(centres)
    ok = ~np.isnan(centres).any(axis=1)
    if ok.sum() >= 2:
        t = np.arange(len(centres))[ok]
        fit = np.stack([np.polyval(np.polyfit(t, centres[ok, i], 1), t) for i in range(2)], 1)
        residual = float(np.sqrt(((centres[ok] - fit) ** 2).sum(1).mean()))
    else:
        residual = float("nan")
    area_cv = float(area.std() / area.mean()) if area.mean() > 0 else float("nan")
    return ClipMeasures(direction, direction == label_parts(label)[1], area_cv, residual)
