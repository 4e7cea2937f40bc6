"""Measures of generated clips from the pixels alone: the object, its motion, its attributes,
and patch-grid seams.

The moving object is the only strongly saturated thing in a clip (the background is muted by
construction, see :mod:`dit.data`), so per frame it is the set of pixels whose chroma
(max - min channel) exceeds :data:`CHROMA_THRESHOLD`. From that mask:

- one piece: the mask is exactly one 8-connected component;
- solidity: pixels of the largest component / pixels of its filled convex hull;
- shape: per frame, of the data's three ideal shapes (:func:`animakit.dit.data.shape_coverage`)
  the one that overlaps the mask best (intersection over union, centroids aligned, radius and
  a turn of up to 15 degrees searched; under :data:`MIN_SHAPE_IOU` no shape); the clip's shape
  is the one :data:`SHAPE_AGREEMENT` of its frames fit. The fill of the bounding box (disk
  ~0.8, square ~1, triangle ~0.55), the reading this replaced, is kept for comparison: it
  passes 2:1 rectangles as squares and fails squares that miss a corner pixel;
- centre and area per frame: the direction and speed of a straight-line fit, and the size;
- colour: the hue of the object's mean colour, nearest of the data's named hues.

Seams: the mean squared step between neighbouring columns (and rows) that straddle the
8-pixel patch grid, divided by the same over all other neighbours.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from animakit.dit.data import COLOURS, DIRECTION_VECTORS, DIRECTIONS, SHAPES, Spec, shape_coverage

CHROMA_THRESHOLD = 0.42        # object chroma >= 0.64, background chroma <= ~0.3 (in [0, 1])
MIN_TRAVEL_PX = 3.0            # a slow clip travels 6 px, a fast one 15 px
FAST_TRAVEL_PX = 10.5          # halfway between the two speeds' travel
GRID = 8                       # pixels per patch of the grid the seams are measured on
SHAPE_FILL = {"triangle": (0.0, 0.705), "disk": (0.705, 0.915), "square": (0.915, 1.01)}
TEMPLATE_RADII = np.arange(3.5, 7.01, 0.125, dtype=np.float32)[:, None, None]   # the data's radii
# a shape turned a little is still that shape: the prompt named it, the turn is a flaw of the
# drawing (the data never turns its shapes)
TEMPLATE_ANGLES = np.radians([0.0, -15.0, -10.0, -5.0, 5.0, 10.0, 15.0])
MIN_SHAPE_IOU = 0.75           # real clips' frames overlap their shape by >= 0.8
SHAPE_AGREEMENT = 0.75         # share of a clip's frames that must read as its shape
LARGE_AREA = {"disk": 82.0, "square": 78.0, "triangle": 46.0}   # px, between small and large


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


def line_fit(centres: np.ndarray) -> tuple[float, float] | None:
    """Velocity (vx, vy) in px/frame of a least-squares line through the tracked centres
    (F, 2), or None when the object is lost in over a quarter of the frames."""
    ok = ~np.isnan(centres).any(axis=1)
    if ok.sum() < 0.75 * len(centres):
        return None
    t = np.arange(len(centres))[ok]
    return tuple(float(np.polyfit(t, centres[ok, i], 1)[0]) for i in range(2))


def motion_direction(centres: np.ndarray) -> str | None:
    """The direction of the line fit, or None when untracked or travelling < MIN_TRAVEL_PX."""
    v = line_fit(centres)
    if v is None or np.hypot(*v) * (len(centres) - 1) < MIN_TRAVEL_PX:
        return None
    return max(DIRECTIONS, key=lambda d: DIRECTION_VECTORS[d][0] * v[0] + DIRECTION_VECTORS[d][1] * v[1])


def frame_shape_stats(mask: np.ndarray) -> tuple[int, float, float]:
    """(connected components, solidity, fill) of one binary mask (H, W); NaNs when empty."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return 0, float("nan"), float("nan")
    big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    area = int(stats[big, cv2.CC_STAT_AREA])
    pts = np.argwhere(labels == big)[:, ::-1].astype(np.int32)          # (N, 2) as (x, y)
    hull = np.zeros_like(mask, np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(pts), 1)
    box = stats[big, cv2.CC_STAT_WIDTH] * stats[big, cv2.CC_STAT_HEIGHT]
    return n - 1, area / max(int(hull.sum()), area), area / box


def _ideal_masks(shape: str, cx: float, cy: float, size: int, angle: float) -> np.ndarray:
    """(R, size, size) bool: ``shape`` turned by ``angle`` at every radius of
    :data:`TEMPLATE_RADII`, each moved so that its pixels' centroid is (cx, cy) (a
    triangle's centroid is not its centre)."""
    n = len(TEMPLATE_RADII)
    xs, ys = np.full(n, cx, np.float32), np.full(n, cy, np.float32)
    first = shape_coverage(shape, xs, ys, TEMPLATE_RADII, size, angle) > 0.5
    grid_y, grid_x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    count = np.maximum(first.sum(axis=(1, 2)), 1)
    xs = xs + cx - (first * grid_x).sum(axis=(1, 2)) / count
    ys = ys + cy - (first * grid_y).sum(axis=(1, 2)) / count
    return shape_coverage(shape, xs, ys, TEMPLATE_RADII, size, angle) > 0.5


class ShapeFit(NamedTuple):
    shape: str                   # the best-fitting ideal shape, "?" when none fits
    iou: float
    turn_deg: float              # how far that ideal shape is turned


def shape_fit(mask: np.ndarray) -> ShapeFit:
    """The ideal shape overlapping the binary mask (H, W) best; ``"?"`` when the mask is
    empty or no shape overlaps it by :data:`MIN_SHAPE_IOU`."""
    ys, xs = np.nonzero(mask)
    if len(xs) < 3:
        return ShapeFit("?", 0.0, 0.0)
    cx, cy = xs.mean() + 0.5, ys.mean() + 0.5
    best = ShapeFit("?", 0.0, 0.0)
    for shape in SHAPES:
        for angle in (0.0,) if shape == "disk" else TEMPLATE_ANGLES:
            ideal = _ideal_masks(shape, cx, cy, mask.shape[0], angle)
            iou = float(((ideal & mask).sum(axis=(1, 2)) / (ideal | mask).sum(axis=(1, 2))).max())
            if iou > best.iou:
                best = ShapeFit(shape, iou, float(np.degrees(angle)))
    return best if best.iou >= MIN_SHAPE_IOU else best._replace(shape="?")


def clip_shape(fits: list[ShapeFit]) -> str:
    """The shape that at least :data:`SHAPE_AGREEMENT` of a clip's frames fit, else ``"?"``:
    an object that turns from one shape into another has no one shape."""
    votes = [f.shape for f in fits]
    top = max(set(votes), key=votes.count)
    return top if votes.count(top) >= SHAPE_AGREEMENT * len(votes) else "?"


def object_colour(frames: np.ndarray, weight: np.ndarray) -> str | None:
    """The named colour nearest (in hue) to the object's mean colour, or None if unseen."""
    total = weight.sum()
    if total < 3:
        return None
    rgb = (frames.astype(np.float32) / 255 * weight[..., None]).sum(axis=(0, 1, 2)) / total
    hue = colorsys.rgb_to_hsv(*rgb)[0]
    dist = {c: min(abs(hue - h), 1 - abs(hue - h)) for c, h in COLOURS.items()}
    return min(dist, key=dist.get)


def seam_energies(frames: np.ndarray, grid: int = GRID) -> tuple[float, float]:
    """(mean squared neighbour step across the ``grid``-pixel patch boundaries, the same
    elsewhere), over columns and rows of frames (F, H, W, 3) uint8. Both sets leave out the
    half patch next to the border: trajectories keep objects inside, so border steps would
    lower "elsewhere" on real clips too."""
    f = frames.astype(np.float32)
    on, off = [], []
    for axis in (2, 1):
        step = np.diff(f, axis=axis) ** 2                  # step k is between k and k + 1
        idx = np.arange(grid // 2, step.shape[axis] - grid // 2)    # away from the border:
        seam = (idx + 1) % grid == 0                                  # objects sit inside
        on.append(np.take(step, idx[seam], axis=axis).mean())
        off.append(np.take(step, idx[~seam], axis=axis).mean())
    return float(np.mean(on)), float(np.mean(off))


def seam_ratio(frames: np.ndarray, grid: int = GRID) -> float:
    """Seam energy across the patch grid / elsewhere for one clip (pool the energies of many
    clips before dividing, as object edges make one clip's ratio noisy)."""
    on, off = seam_energies(frames, grid)
    return on / max(off, 1e-9)


@dataclass
class ClipMeasures:
    one_piece: float             # fraction of frames whose object mask is one component
    solidity: float              # median over frames
    read: Spec                   # the attributes read from the pixels ("?" where unreadable)
    box_fill_shape: str          # the shape the bounding box's fill reads (SHAPE_FILL)
    turned: float                # fraction of frames whose shape fits best turned (askew)
    seams: tuple[float, float]   # seam_energies (on the grid, elsewhere)
    path_residual_px: float      # RMS distance of centres from their straight-line fit
    travel_px: float


def box_fill_shape(fill: float) -> str:
    """The shape a bounding-box fill reads as, by :data:`SHAPE_FILL`."""
    return next((s for s, (lo, hi) in SHAPE_FILL.items() if lo <= fill < hi), "?")


def read_spec(frames: np.ndarray, weight: np.ndarray, centres: np.ndarray, area: np.ndarray,
              shape: str) -> Spec:
    """The attributes of a clip as its pixels show them, given its :func:`object_masks`
    weight (F, H, W) and its shape read already."""
    v = line_fit(centres)
    travel = float("nan") if v is None else float(np.hypot(*v) * (len(centres) - 1))
    speed = "?" if not np.isfinite(travel) else ("fast" if travel > FAST_TRAVEL_PX else "slow")
    size = "?" if shape == "?" else ("large" if np.median(area) > LARGE_AREA[shape] else "small")
    return Spec(shape=shape, direction=motion_direction(centres) or "?",
                colour=object_colour(frames, weight) or "?", size=size, speed=speed)


def measure_clip(frames: np.ndarray) -> ClipMeasures:
    """Measures of one clip (F, H, W, 3) uint8."""
    centres, area = track(frames)
    weight = object_masks(frames)
    masks = weight > 0.5
    stats = [frame_shape_stats(m) for m in masks]
    fits = [shape_fit(m) for m in masks]
    counts, solid, fill = (np.array(v, np.float64) for v in zip(*stats))
    ok = ~np.isnan(centres).any(axis=1)
    residual = travel = float("nan")
    if ok.sum() >= 2:
        t = np.arange(len(centres))[ok]
        fit = np.stack([np.polyval(np.polyfit(t, centres[ok, i], 1), t) for i in range(2)], 1)
        residual = float(np.sqrt(((centres[ok] - fit) ** 2).sum(1).mean()))
        travel = float(np.hypot(*(fit[-1] - fit[0])) * (len(centres) - 1) / max(t[-1] - t[0], 1))
    fill = float(np.nanmedian(fill)) if np.isfinite(fill).any() else -1.0
    return ClipMeasures(float(np.mean(counts == 1)),
                        float(np.nanmedian(solid)) if np.isfinite(solid).any() else 0.0,
                        read_spec(frames, weight, centres, area, clip_shape(fits)),
                        box_fill_shape(fill),
                        float(np.mean([f.shape != "?" and f.turn_deg != 0 for f in fits])),
                        seam_energies(frames), residual, travel)


def matches(read: Spec, asked: dict[str, str]) -> dict[str, bool]:
    """{attribute: read value == asked value} for the attributes a prompt asked for."""
    return {k: getattr(read, k) == v for k, v in asked.items()}


def pooled_seam_ratio(measures: list[ClipMeasures]) -> float:
    on, off = np.sum([m.seams for m in measures], axis=0)
    return float(on / max(off, 1e-9))
