"""The motion brush: parse it, and turn it into dense per-frame motion.

One JSON format for the API, CLI, job files and the studio; coordinates in source-image pixels::

    {"strokes": [{"mask": [[x, y], ...] or "mask.png", "trajectory": [[x, y], ...],
                  "strength": 1.0}],
     "static": [[[x, y], ...], ...]}

* a stroke's ``mask`` is a polygon or a PNG (relative paths are read next to the JSON file;
  white = the region, or the alpha channel of a transparent PNG); the region follows ``trajectory`` (its first point is where
  the region is now), PCHIP-interpolated over the clip at constant speed along the path;
  ``strength`` scales the displacement (1 = exactly along the path, 0 = still);
* ``static`` regions (polygons, or mask PNGs) must not move at all.

:func:`load_brush` validates it (one :class:`~animakit.errors.InputError` naming the stroke) and
rasterises it at the image size; :class:`BrushMotion` builds the velocity fields (soft falloff
outside each mask so the surroundings stretch instead of tearing) and Euler-integrates them
into per-frame positions / displacements, which every engine consumes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np

from animakit.errors import InputError, MediaError

MAX_STRENGTH = 4.0


@dataclass
class Stroke:
    """One brushed region. ``mask`` (H, W) bool; ``trajectory`` (K, 2) float xy, K >= 2."""
    index: int
    mask: np.ndarray
    trajectory: np.ndarray
    strength: float = 1.0

    def positions(self, num_frames: int) -> np.ndarray:
        """(num_frames, 2) xy positions along the path: PCHIP through the points,
        parameterised by chord length so the region moves at constant speed."""
        return pchip_path(self.trajectory, num_frames)

    def offsets(self, num_frames: int) -> np.ndarray:
        """(num_frames, 2) displacement of the region from where it is now, times strength."""
        p = self.positions(num_frames)
        return (p - p[:1]) * self.strength


@dataclass
class Brush:
    """A validated brush rasterised at ``size`` = (W, H). ``static`` is (H, W) bool."""
    size: tuple[int, int]
    strokes: list[Stroke] = field(default_factory=list)
    static: np.ndarray | None = None

    def __post_init__(self):
        if self.static is None:
            self.static = np.zeros((self.size[1], self.size[0]), bool)

    def resized(self, width: int, height: int) -> "Brush":
        """The same brush for the image resized to (width, height)."""
        sx, sy = width / self.size[0], height / self.size[1]
        def rs(m):
            return cv2.resize(m.astype(np.uint8), (width, height),
                              interpolation=cv2.INTER_NEAREST).astype(bool)
        strokes = [Stroke(s.index, rs(s.mask), s.trajectory * [sx, sy], s.strength)
                   for s in self.strokes]
        return Brush((width, height), strokes, rs(self.static))


# -- trajectories -------------------------------------------------------------------------
def pchip_path(points: np.ndarray, num_frames: int) -> np.ndarray:
    """(num_frames, 2) samples of a PCHIP curve through ``points`` (K, 2), at equal steps
    of chord length (constant speed); first sample = first point, last = last point."""
    from scipy.interpolate import PchipInterpolator
    pts = np.asarray(points, np.float64)
    keep = np.r_[True, np.linalg.norm(np.diff(pts, axis=0), axis=1) > 1e-9]
    pts = pts[keep]
    if len(pts) == 1 or num_frames == 1:
        return np.repeat(pts[:1], num_frames, axis=0)
    s = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))]
    if len(pts) == 2:
        return pts[0] + (pts[1] - pts[0]) * np.linspace(0.0, 1.0, num_frames)[:, None]
    dense_u = np.linspace(0.0, s[-1], 64 * len(pts) + num_frames)
    dense = np.stack([PchipInterpolator(s, pts[:, k])(dense_u) for k in range(2)], axis=1)
    arc = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(dense, axis=0), axis=1))]
    target = np.linspace(0.0, arc[-1], num_frames)          # equal arc length per frame
    return np.stack([np.interp(target, arc, dense[:, k]) for k in range(2)], axis=1)


# -- parsing ------------------------------------------------------------------------------
def load_brush(source: Any, size: tuple[int, int], name: str = "brush") -> Brush:
    """A :class:`Brush` from a JSON path, a JSON string, a dict or a :class:`Brush`,
    rasterised for an image of ``size`` = (W, H). Raises :class:`InputError` naming the
    stroke and the problem; :class:`MediaError` for an unreadable file."""
    if isinstance(source, Brush):
        return source if tuple(source.size) == tuple(size) else source.resized(*size)
    base = Path(".")
    if isinstance(source, (str, Path)) and not str(source).lstrip().startswith("{"):
        path = Path(source)
        if not path.is_file():
            raise MediaError(path, f"{name} file not found")
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise MediaError(path, f"{name} is not valid JSON ({e})") from None
        base, name = path.parent, str(path)
    elif isinstance(source, str):
        try:
            data = json.loads(source)
        except json.JSONDecodeError as e:
            raise InputError(name, f"not valid JSON ({e})") from None
    else:
        data = source
    if not isinstance(data, dict):
        raise InputError(name, 'expected a JSON object {"strokes": [...], "static": [...]}')
    unknown = sorted(set(data) - {"strokes", "static"})
    if unknown:
        raise InputError(name, f"unknown key {unknown[0]!r}; expected 'strokes' and 'static'")
    strokes_in = data.get("strokes", [])
    static_in = data.get("static", [])
    if not isinstance(strokes_in, list) or not isinstance(static_in, list):
        raise InputError(name, "'strokes' and 'static' must be lists")
    w, h = size
    strokes = [_parse_stroke(s, i, size, base, name) for i, s in enumerate(strokes_in)]
    static = np.zeros((h, w), bool)
    for k, region in enumerate(static_in):
        label = f"{name}: static region {k}"
        if isinstance(region, np.ndarray):
            static |= _array_mask(region, size, label)
        elif isinstance(region, (str, Path)):
            static |= _png_mask(base / region, size, label)
        else:
            static |= _polygon_mask(region, size, label)
    return Brush((w, h), strokes, static)


def _parse_stroke(s: Any, i: int, size: tuple[int, int], base: Path, name: str) -> Stroke:
    label = f"{name}: stroke {i}"
    if not isinstance(s, dict):
        raise InputError(label, "expected an object with 'mask' and 'trajectory'")
    unknown = sorted(set(s) - {"mask", "trajectory", "strength"})
    if unknown:
        raise InputError(label, f"unknown key {unknown[0]!r}; expected mask, trajectory, strength")
    if "mask" not in s or "trajectory" not in s:
        raise InputError(label, "needs both 'mask' and 'trajectory'")
    m = s["mask"]
    if isinstance(m, np.ndarray):
        mask = _array_mask(m, size, label)
    elif isinstance(m, (str, Path)):
        mask = _png_mask(base / m, size, label)
    else:
        mask = _polygon_mask(m, size, label)
    if not mask.any():
        raise InputError(label, "the mask is empty (it covers no pixel)")
    traj = _points(s["trajectory"], label, "trajectory")
    if len(traj) < 2:
        raise InputError(label, "the trajectory needs at least 2 points (where the region is now, "
                                "and where it goes)")
    _inside(traj, size, label, "trajectory")
    if np.abs(traj - traj[0]).max() < 1e-6:
        raise InputError(label, "the trajectory does not go anywhere (all its points are the same)")
    strength = s.get("strength", 1.0)
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not np.isfinite(strength) \
            or not 0 <= strength <= MAX_STRENGTH:
        raise InputError(label, f"strength must be a number in [0, {MAX_STRENGTH:g}], got {strength!r}")
    return Stroke(i, mask, traj, float(strength))


def _points(value: Any, label: str, what: str) -> np.ndarray:
    try:
        pts = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(label, f"{what} must be a list of [x, y] points") from None
    if pts.ndim != 2 or pts.shape[1] != 2 or not np.isfinite(pts).all():
        raise InputError(label, f"{what} must be a list of [x, y] points")
    return pts


def _inside(pts: np.ndarray, size: tuple[int, int], label: str, what: str) -> None:
    w, h = size
    bad = (pts[:, 0] < 0) | (pts[:, 0] > w) | (pts[:, 1] < 0) | (pts[:, 1] > h)
    if bad.any():
        x, y = pts[np.argmax(bad)]
        raise InputError(label, f"{what} point ({x:g}, {y:g}) is outside the image ({w}x{h})")


def _polygon_mask(poly: Any, size: tuple[int, int], label: str) -> np.ndarray:
    pts = _points(poly, label, "mask polygon")
    if len(pts) < 3:
        raise InputError(label, "a mask polygon needs at least 3 points")
    _inside(pts, size, label, "mask")
    x, y = pts[:, 0], pts[:, 1]
    if abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2 < 0.5:
        raise InputError(label, "the mask polygon is empty (it encloses no area)")
    mask = np.zeros((size[1], size[0]), np.uint8)
    cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def _png_mask(path: Path, size: tuple[int, int], label: str) -> np.ndarray:
    from animakit.media import load_image
    try:
        img = load_image(path, name=f"{label} mask", max_side=None, alpha=True)
    except MediaError as e:
        raise MediaError(f"{label}", f"mask {path}: {e.problem}") from None
    return _array_mask(img, size, label)


def _array_mask(arr: np.ndarray, size: tuple[int, int], label: str) -> np.ndarray:
    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[2] == 4 and a[..., 3].min() < 255:
        a = a[..., 3]                     # a painted layer: the alpha channel is the mask
    elif a.ndim == 3:
        a = a[..., :3].max(axis=2)
    a = a.astype(np.float32) / (255.0 if a.dtype == np.uint8 else (1.0 if a.max() <= 1 else 255.0))
    w, h = size
    if a.shape != (h, w):
        if abs(a.shape[1] / a.shape[0] - w / h) > 0.01 * w / h:
            raise InputError(label, f"mask is {a.shape[1]}x{a.shape[0]} but the image is {w}x{h}")
        a = cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR)
    return a >= 0.5


def save_brush(path: str | Path, strokes: list[dict], static: list[Any] | None = None) -> Path:
    """Write a brush JSON (for the studio: drawn masks + clicked points).

    ``strokes``: dicts with ``mask`` (an (H, W) bool/uint8 array, or a polygon), ``trajectory``
    ([[x, y], ...]) and optional ``strength``; ``static``: arrays or polygons. Array masks are
    saved as PNGs next to the JSON (``<stem>.stroke<i>.png``, ``<stem>.static<k>.png``) and
    referenced by name. Every file is written atomically. Returns the JSON path."""
    from animakit.media import atomic_output, save_image
    path = Path(path)

    def ref(mask: Any, tag: str) -> Any:
        if not isinstance(mask, np.ndarray):
            return mask
        name = f"{path.stem}.{tag}.png"
        with atomic_output(path.parent / name) as tmp:
            save_image(tmp, (np.asarray(mask) > 0).astype(np.uint8) * 255)
        return name

    data = {"strokes": [{"mask": ref(s["mask"], f"stroke{i}"),
                         "trajectory": [[float(x), float(y)] for x, y in s["trajectory"]],
                         "strength": float(s.get("strength", 1.0))} for i, s in enumerate(strokes)],
            "static": [ref(m, f"static{k}") for k, m in enumerate(static or [])]}
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1))
    return path


# -- motion ---------------------------------------------------------------------------------
# the automatic soft edge of a stroke: this fraction of the square root of its painted area
# (its "size"), clamped to a few pixels, so a stroke's reach is set by what was painted and
# not by the image; the studio's editor draws the same band (brush_editor.js, reachPx)
EDGE_PER_SIZE = 0.06
EDGE_MIN_PX, EDGE_MAX_PX = 2.0, 12.0


def stroke_edge(mask: np.ndarray) -> float:
    """The automatic soft edge of a stroke painted as ``mask`` (H, W) bool, in px."""
    size = float(np.sqrt(mask.sum()))
    return float(np.clip(EDGE_PER_SIZE * size, EDGE_MIN_PX, EDGE_MAX_PX))


def stroke_edges(brush: "Brush", falloff: float = 0.0) -> list[float]:
    """The soft edge of each stroke in px: ``falloff`` for every stroke when > 0, else each
    stroke's automatic edge (:func:`stroke_edge`)."""
    return [float(falloff) if falloff > 0 else stroke_edge(s.mask) for s in brush.strokes]


def soft_weight(mask: np.ndarray, falloff: float) -> np.ndarray:
    """(H, W) float32: 1 inside ``mask``, smoothstep down to 0 at ``falloff`` px outside."""
    if falloff <= 0:
        return mask.astype(np.float32)
    dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)
    t = np.clip(1.0 - dist / float(falloff), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


class BrushMotion:
    """Dense per-frame motion of a :class:`Brush` over ``num_frames`` frames.

    Each stroke s has a soft weight ``w_s`` (1 on its mask, smoothstep to 0 at its
    ``falloff`` px outside: one number for every stroke, or one per stroke) and per-frame
    steps ``v_s(t)`` along its PCHIP path (times strength).
    A particle's velocity is ``sum_s w_s v_s(t) / max(1, sum_s w_s)`` (zero for static
    pixels) and positions are Euler-integrated, ``p_{t+1} = p_t + velocity``:

    * ``anchored=False`` (travel): the weights are those of the particle's source pixel,
      so a brushed region follows its trajectory exactly and the falloff band stretches
      like a rubber sheet between it and the still surroundings;
    * ``anchored=True`` (flow in place, for cinemagraph loops): the weights are sampled at
      the particle's current position, so content flows through a fixed region.

    With ``loop=True`` the path is sampled at ``num_frames + 1`` times, so frame
    ``num_frames`` (= frame 0 again) ends it; see :meth:`backward_positions`.
    """

    def __init__(self, brush: Brush, num_frames: int, falloff: float | list[float] = 8.0,
                 anchored: bool = False, loop: bool = False):
        self.brush, self.num_frames, self.anchored = brush, int(num_frames), anchored
        steps = self.num_frames + (1 if loop else 0)
        edges = falloff if isinstance(falloff, (list, tuple)) else [falloff] * len(brush.strokes)
        self.weights = [soft_weight(s.mask, e) for s, e in zip(brush.strokes, edges)]
        self.offsets = np.stack([s.offsets(steps) for s in brush.strokes]).astype(np.float32) \
            if brush.strokes else np.zeros((0, steps, 2), np.float32)      # (S, steps, 2)
        self.steps = np.diff(self.offsets, axis=1)                          # (S, steps - 1, 2)
        self.static = brush.static
        self._static_u8 = brush.static.astype(np.uint8)

    @property
    def size(self) -> tuple[int, int]:
        return self.brush.size

    def weights_at(self, pts: np.ndarray) -> np.ndarray:
        """(S, N) float32 stroke weights at ``pts`` (N, 2) xy, normalised to sum <= 1,
        zero on static pixels."""
        n = len(pts)
        w = np.stack([sample_map(weight, pts) for weight in self.weights]) if self.weights \
            else np.zeros((0, n), np.float32)
        w /= np.maximum(w.sum(axis=0), 1.0)
        if self.static.any():
            w[:, sample_map(self._static_u8, pts, cv2.INTER_NEAREST) > 0] = 0.0
        return w

    def velocity(self, t: int, weights: np.ndarray) -> np.ndarray:
        """(N, 2) step from frame t to t + 1 of particles with stroke ``weights`` (S, N)."""
        if t >= self.steps.shape[1] or not len(weights):
            return np.zeros((weights.shape[1], 2), np.float32)
        return weights.T @ self.steps[:, t]

    def flow(self, t: int) -> np.ndarray:
        """The dense velocity field of frame t: (H, W, 2) float32, px from t to t + 1, at
        each pixel's source position (travel) or at the pixel itself (anchored)."""
        w, h = self.size
        pts = grid_points(w, h)
        return self.velocity(t, self.weights_at(pts)).reshape(h, w, 2)

    def moving_box(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1): the pixels motion can touch — the strokes' soft supports
        swept along their paths (both ways when anchored). Empty box if nothing moves."""
        w, h = self.size
        boxes = []
        for s, weight in enumerate(self.weights):
            ys, xs = np.nonzero(weight > 0)
            if len(xs) == 0 or not np.abs(self.offsets[s]).max() > 0:
                continue
            lo = np.minimum(self.offsets[s].min(axis=0), 0) - 2
            hi = np.maximum(self.offsets[s].max(axis=0), 0) + 2
            if self.anchored:
                lo, hi = np.minimum(lo, -hi), np.maximum(hi, -lo)
            boxes.append((xs.min() + lo[0], ys.min() + lo[1], xs.max() + 1 + hi[0], ys.max() + 1 + hi[1]))
        if not boxes:
            return (0, 0, 0, 0)
        b = np.array(boxes)
        return (int(max(0, b[:, 0].min())), int(max(0, b[:, 1].min())),
                int(min(w, np.ceil(b[:, 2].max()))), int(min(h, np.ceil(b[:, 3].max()))))

    def forward_positions(self, pts: np.ndarray) -> Iterator[np.ndarray]:
        """Positions (N, 2) of the particles starting at ``pts`` at frames 0 .. T-1."""
        p = pts.astype(np.float32).copy()
        w = self.weights_at(p)
        for t in range(self.num_frames):
            yield p
            if self.anchored:
                w = self.weights_at(p)
            p = p + self.velocity(t, w)

    def backward_positions(self, pts: np.ndarray) -> Iterator[np.ndarray]:
        """Positions (N, 2) at frames 0 .. T-1 of particles that sit at ``pts`` at frame T
        (one frame past the clip), integrated backwards; needs ``loop=True``.

        Yielded in increasing frame order with O(sqrt(T)) arrays held: a first backward pass
        keeps every K-th position (K = ceil(sqrt(T))), then each block of K frames is
        integrated again from its checkpoint."""
        n = self.num_frames
        k = max(1, int(np.ceil(np.sqrt(n))))
        start = pts.astype(np.float32).copy()
        w0 = self.weights_at(start)

        def step(t: int, p: np.ndarray) -> np.ndarray:
            return p - self.velocity(t, self.weights_at(p) if self.anchored else w0)

        checkpoints, p = {}, start
        for t in range(n - 1, -1, -1):
            p = step(t, p)
            if t % k == 0:
                checkpoints[t] = p
        for b in range(0, n, k):
            e = min(b + k, n)
            p = start if e == n else checkpoints[e]
            block = []
            for t in range(e - 1, b - 1, -1):
                p = step(t, p)
                block.append(p)
            yield from reversed(block)

    def displacements(self) -> Iterator[np.ndarray]:
        """Dense (H, W, 2) float32 displacement of each source pixel at frames 0 .. T-1."""
        w, h = self.size
        grid = grid_points(w, h)
        for p in self.forward_positions(grid):
            yield (p - grid).reshape(h, w, 2)


def sample_map(image: np.ndarray, pts: np.ndarray, interp: int = cv2.INTER_LINEAR) -> np.ndarray:
    """``image`` (H, W) sampled at ``pts`` (N, 2) float32 xy, 0 outside: (N,)."""
    n = len(pts)
    cols = 8192
    rows = max(1, -(-n // cols))
    q = np.zeros((rows * cols, 2), np.float32)
    q[:n] = pts
    q[n:] = -1e4
    out = cv2.remap(image, q.reshape(rows, cols, 2), None, interp,
                    borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out.reshape(-1)[:n]


def grid_points(w: int, h: int, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """(N, 2) float32 xy pixel coordinates of a (W, H) image, or of ``box`` (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box or (0, 0, w, h)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    return np.stack([xs.ravel(), ys.ravel()], axis=1)
