"""Dense warps driven by a sparse point mesh: precompute once per source mesh, cheap per frame.

:class:`MeshWarp` takes the source points of a mesh (e.g. 478 MediaPipe face landmarks in
a crop's pixel coordinates) and triangulates them together with fixed anchors on the crop's
border. Each frame gives only the points' displacements; the dense displacement field is
the piecewise-affine interpolation of them (one sparse matrix product on a coarse grid),
inverted by a few fixed-point steps into a backward sampling map for ``cv2.remap``.

Because the border anchors never move, a warped crop equals the source along its edge, so
it can be pasted back into the full-resolution image without a seam.

Typical use::

    warp = MeshWarp(points_xy, size=(crop_w, crop_h))       # once
    for deltas in motion:                                    # (V, 2) per frame
        out = warp.warp(crop, deltas)                        # (h, w, 3)
"""
from __future__ import annotations

import math

import cv2
import numpy as np
from scipy import sparse
from scipy.spatial import Delaunay
from threadpoolctl import threadpool_limits


def border_anchors(size: tuple[int, int], per_side: int = 8) -> np.ndarray:
    """(4 * per_side, 2) points evenly spaced along the rectangle ``size = (w, h)``'s edge."""
    w, h = size
    t = np.linspace(0.0, 1.0, per_side, endpoint=False)
    x1, y1 = w - 1.0, h - 1.0
    top = np.stack([t * x1, np.zeros_like(t)], 1)
    right = np.stack([np.full_like(t, x1), t * y1], 1)
    bottom = np.stack([x1 - t * x1, np.full_like(t, y1)], 1)
    left = np.stack([np.zeros_like(t), y1 - t * y1], 1)
    return np.concatenate([top, right, bottom, left]).astype(np.float64)


def barycentric_matrix(points: np.ndarray, queries: np.ndarray) -> sparse.csr_matrix:
    """Sparse (Q, V) matrix whose row q holds the barycentric weights of ``queries[q]`` (Q, 2)
    in the Delaunay triangle of ``points`` (V, 2) that contains it. Queries outside the
    convex hull extrapolate from triangle 0 (keep them inside: add border anchors)."""
    tri = Delaunay(points, qhull_options="QJ")
    # find_simplex first builds per-triangle transforms with many tiny LAPACK calls; on a
    # busy machine a multi-threaded BLAS turns those into seconds of thread hand-offs
    with threadpool_limits(limits=1, user_api="blas"):
        simplex = tri.find_simplex(queries)
        if (simplex < 0).any():
            simplex[simplex < 0] = tri.find_simplex(queries[simplex < 0], tol=1e-6)
    simplex = np.where(simplex < 0, 0, simplex)
    verts = tri.simplices[simplex]                              # (Q, 3)
    t = tri.transform[simplex]                                  # (Q, 3, 2)
    b = np.einsum("qij,qj->qi", t[:, :2], queries - t[:, 2])    # (Q, 2)
    weights = np.concatenate([b, 1.0 - b.sum(1, keepdims=True)], 1)  # (Q, 3)
    rows = np.repeat(np.arange(len(queries)), 3)
    return sparse.csr_matrix((weights.ravel(), (rows, verts.ravel())),
                             shape=(len(queries), len(points)))


class MeshWarp:
    """Piecewise-affine warp of an image region driven by the displacement of mesh points.

    ``points``: (V, 2) source positions in the region's pixel coordinates (x right, y down).
    ``size``: (w, h) of the region. ``max_grid``: the dense field is evaluated on a grid of
    at most this many samples per side and upsampled bilinearly (it is piecewise linear, so
    little is lost). ``anchors_per_side``: fixed points on the region's border.
    """

    def __init__(self, points: np.ndarray, size: tuple[int, int],
                 max_grid: int = 160, anchors_per_side: int = 8):
        self.size = (int(size[0]), int(size[1]))
        w, h = self.size
        pts = np.asarray(points, dtype=np.float64)[:, :2]
        self.num_points = len(pts)
        pts = np.clip(pts, 0.5, [w - 1.5, h - 1.5])
        anchors = border_anchors(self.size, anchors_per_side)
        self._all = np.concatenate([pts, anchors])
        step = max(1.0, max(w, h) / float(max_grid))
        self.grid = (max(2, int(math.ceil(w / step))), max(2, int(math.ceil(h / step))))
        gw, gh = self.grid
        # sample positions that make cv2.resize(INTER_LINEAR) an exact bilinear upsampling
        gx = (np.arange(gw) + 0.5) * (w / gw) - 0.5
        gy = (np.arange(gh) + 0.5) * (h / gh) - 0.5
        qx, qy = np.meshgrid(gx, gy)
        queries = np.stack([qx.ravel(), qy.ravel()], 1)
        self._matrix = barycentric_matrix(self._all, queries).astype(np.float32)
        self._grid_xy = queries.astype(np.float32).reshape(gh, gw, 2)
        # grid index coordinates of pixel positions, for sampling the coarse field
        self._to_grid = (np.float32(gw / w), np.float32(gh / h))
        self._identity = _identity_maps(w, h)
        self._buffer: np.ndarray | None = None

    def field(self, deltas: np.ndarray) -> np.ndarray:
        """Forward displacement (gh, gw, 2) float32 on the coarse grid for point ``deltas`` (V, 2)."""
        d = np.zeros((len(self._all), 2), dtype=np.float32)
        d[: self.num_points] = np.asarray(deltas, dtype=np.float32)[:, :2]
        gw, gh = self.grid
        return (self._matrix @ d).reshape(gh, gw, 2)

    def inverse_field(self, deltas: np.ndarray, iterations: int = 3) -> np.ndarray:
        """Backward displacement u (gh, gw, 2): output pixel x samples the source at x - u(x),
        where u solves u(x) = d(x - u(x)) for the forward field d (fixed-point iteration)."""
        d = self.field(deltas)
        u = d
        sx, sy = self._to_grid
        base = self._grid_xy
        for _ in range(iterations):
            src = base - u
            # positions in grid-index space (sample centers at (i + 0.5) * step - 0.5)
            mx = (src[..., 0] + 0.5) * sx - 0.5
            my = (src[..., 1] + 0.5) * sy - 0.5
            u = cv2.remap(d, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return u

    def sampling_map(self, deltas: np.ndarray, iterations: int = 3,
                     out: np.ndarray | None = None) -> np.ndarray:
        """(h, w, 2) float32 source position of every output pixel: pass it to
        ``cv2.remap(image, map, None, ...)`` to warp any image or mask of the region.
        ``out``: an (h, w, 2) float32 buffer to fill instead of allocating one."""
        u = self.inverse_field(deltas, iterations)
        w, h = self.size
        if out is None:
            out = np.empty((h, w, 2), np.float32)
        if self.grid != self.size:
            u = cv2.resize(u, (w, h), dst=out, interpolation=cv2.INTER_LINEAR)
        return cv2.subtract(self._identity, u, dst=out)

    def warp(self, image: np.ndarray, deltas: np.ndarray, iterations: int = 3,
             interpolation: int = cv2.INTER_LINEAR, out: np.ndarray | None = None) -> np.ndarray:
        """``image`` (h, w, C) warped so that each mesh point moves by its delta (into
        ``out`` when given, a buffer of the same shape and dtype)."""
        if self._buffer is None:
            self._buffer = np.empty((self.size[1], self.size[0], 2), np.float32)
        m = self.sampling_map(deltas, iterations, out=self._buffer)
        return cv2.remap(image, m, None, interpolation, dst=out, borderMode=cv2.BORDER_REPLICATE)


def _identity_maps(w: int, h: int) -> np.ndarray:
    """(h, w, 2) float32 pixel coordinates (x, y)."""
    x, y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return np.ascontiguousarray(np.stack([x, y], 2))

