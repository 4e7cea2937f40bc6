"""A coarse triangle mesh over an object, fitted each frame to where its pixels moved, with
as-rigid-as-possible regularisation (2D local-global ARAP, Sorkine & Alexa 2007, in the
per-triangle form of Liu et al. 2008).

The rest mesh is a regular grid (``spacing`` px) over the object's bounding box, two
triangles per cell. A frame's vertex positions ``x`` minimise

    E = sum_t A_t |J_t(x) - R_t|_F^2  +  sum_i lam w_i |x_i - p_i|^2  +  eps |x_i - s_i|^2

with ``J_t`` triangle t's deformation gradient, ``R_t`` the rotation nearest to it times
one scale for the whole mesh, that of the similarity best fitting the targets (local step:
shapes hold, the object may come closer or recede), ``p_i`` the vertex's target from the flow, ``w_i`` in [0, 1] how much of the object's
reliable flow supports it, and ``s_i`` the previous frame's position (a weak prior that
keeps vertices with no data where they were). Vertices where the flow is missing or wrong
follow their neighbours rigidly, so the carried layer keeps its shape.
"""
from __future__ import annotations

import cv2
import numpy as np
from scipy import sparse
from scipy.sparse.linalg import splu

PRIOR = 1e-3          # pull of the previous position, relative to the data term's weight


def grid_mesh(box: tuple[int, int, int, int], spacing: float) -> tuple[np.ndarray, np.ndarray,
                                                                         tuple[int, int]]:
    """Rest vertices (N, 2) of a regular grid covering ``box`` = (x0, y0, x1, y1), its
    triangles (K, 3) and the grid's (rows, cols)."""
    x0, y0, x1, y1 = box
    cols = max(2, int(np.ceil((x1 - x0) / spacing)) + 1)
    rows = max(2, int(np.ceil((y1 - y0) / spacing)) + 1)
    xs = x0 + np.arange(cols) * spacing
    ys = y0 + np.arange(rows) * spacing
    gx, gy = np.meshgrid(xs, ys)
    rest = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float64)
    idx = np.arange(rows * cols).reshape(rows, cols)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    c, d = idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    tris = np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)])
    return rest, tris, (rows, cols)


def triangle_gradients(rest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-corner gradients (K, 3, 2) of the linear basis functions of triangles ``rest``
    (K, 3, 2), so that a deformation's gradient is ``J = sum_k x_k g_k^T``; and (K,) areas."""
    e = np.stack([rest[:, 1] - rest[:, 0], rest[:, 2] - rest[:, 0]], 2)   # (K, 2, 2) columns
    det = e[:, 0, 0] * e[:, 1, 1] - e[:, 0, 1] * e[:, 1, 0]
    inv = np.stack([np.stack([e[:, 1, 1], -e[:, 0, 1]], 1),
                    np.stack([-e[:, 1, 0], e[:, 0, 0]], 1)], 1) / det[:, None, None]
    g = np.stack([-inv[:, 0] - inv[:, 1], inv[:, 0], inv[:, 1]], 1)
    return g, np.abs(det) / 2


def nearest_rotations(m: np.ndarray) -> np.ndarray:
    """(K, 2, 2) rotations closest to the (K, 2, 2) matrices ``m`` (closed form in 2D)."""
    a = m[:, 0, 0] + m[:, 1, 1]
    b = m[:, 1, 0] - m[:, 0, 1]
    n = np.maximum(np.hypot(a, b), 1e-12)
    c, s = a / n, b / n
    return np.stack([np.stack([c, -s], 1), np.stack([s, c], 1)], 1)


def similarity_scale(rest: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> float:
    """Scale of the weighted least-squares similarity (Umeyama) taking ``rest`` (N, 2) to
    ``targets`` (N, 2): an object that comes closer grows as a whole. 1 with too little
    data."""
    w = np.asarray(weights, np.float64)
    if w.sum() < 3:
        return 1.0
    w = w / w.sum()
    a = rest - w @ rest
    b = targets - w @ targets
    var = float(w @ (a * a).sum(1))
    cov = (a * w[:, None]).T @ b                        # (2, 2)
    sv = np.linalg.svd(cov, compute_uv=False)
    sign = 1.0 if np.linalg.det(cov) >= 0 else -1.0
    return float(np.clip((sv[0] + sign * sv[1]) / max(var, 1e-9), 0.5, 2.0))


class ObjectMesh:
    """The rest grid over ``box`` and its ARAP system; :meth:`fit` solves a frame."""

    def __init__(self, box: tuple[int, int, int, int], spacing: float = 24.0,
                 data_weight: float = 0.5, iterations: int = 4):
        self.rest, self.triangles, self.shape = grid_mesh(box, spacing)
        self.box, self.spacing = box, spacing
        self.lam, self.iterations = data_weight, iterations
        self.grads, area = triangle_gradients(self.rest[self.triangles])
        n, k = len(self.rest), len(self.triangles)
        rows = (2 * np.arange(k)[:, None, None] + np.arange(2)[None, None, :]).repeat(3, 1)
        cols = np.broadcast_to(self.triangles[:, :, None], (k, 3, 2))
        g = sparse.csr_matrix((self.grads.ravel(), (rows.ravel(), cols.ravel())),
                              shape=(2 * k, n))
        self.gtw = (g.T @ sparse.diags(np.repeat(area, 2))).tocsr()       # (N, 2K)
        self.laplacian = (self.gtw @ g).tocsc()                           # (N, N)

    def scaled(self, factor: float) -> "ObjectMesh":
        """The same grid with every length multiplied by ``factor`` (for displacements and
        maps at another image size; the ARAP system is not rebuilt)."""
        out = object.__new__(ObjectMesh)
        out.__dict__.update(self.__dict__)
        out.rest = self.rest * factor
        out.box = tuple(v * factor for v in self.box)
        out.spacing = self.spacing * factor
        return out

    def gradients(self, x: np.ndarray) -> np.ndarray:
        """(K, 2, 2) deformation gradients of positions ``x`` (N, 2)."""
        return np.einsum("kci,kcj->kij", x[self.triangles], self.grads)

    def fit(self, targets: np.ndarray, weights: np.ndarray, previous: np.ndarray) -> np.ndarray:
        """(N, 2) vertex positions: ARAP fit to ``targets`` (N, 2) with ``weights`` (N,)
        in [0, 1], starting from and weakly held at ``previous`` (N, 2)."""
        d = self.lam * np.asarray(weights, np.float64) + self.lam * PRIOR
        factor = splu((self.laplacian + sparse.diags(d)).tocsc())
        const = (self.lam * weights)[:, None] * targets + (self.lam * PRIOR) * previous
        x = np.where(weights[:, None] > 0, targets, previous).astype(np.float64)
        scale = similarity_scale(self.rest, targets, weights)
        for _ in range(self.iterations):
            rot = nearest_rotations(self.gradients(x)) * scale
            x = factor.solve(self.gtw @ rot.transpose(0, 2, 1).reshape(-1, 2) + const)
        return x

    def displacement(self, x: np.ndarray, at: np.ndarray) -> np.ndarray:
        """(..., 2) float32 displacement of the rest frame's points ``at`` (..., 2) under
        vertex positions ``x`` (N, 2): bilinear in the grid, the border's value outside."""
        disp = (x - self.rest).reshape(self.shape[0], self.shape[1], 2).astype(np.float32)
        u = ((at[..., 0] - self.box[0]) / self.spacing).astype(np.float32)
        v = ((at[..., 1] - self.box[1]) / self.spacing).astype(np.float32)
        return cv2.remap(disp, u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def backward_map(self, x: np.ndarray, size: tuple[int, int], iterations: int = 5,
                     origin: tuple[int, int] = (0, 0)) -> np.ndarray:
        """(H, W, 2) float32 map from each pixel of the deformed frame to where it was on
        the rest frame (the form ``cv2.remap`` takes), for positions ``x`` (N, 2); ``size``
        = (width, height) of the area mapped, whose top-left pixel is ``origin``. The grid's
        displacement is interpolated bilinearly (outside the grid: the nearest border value)
        and inverted by fixed-point iteration."""
        w, h = size
        grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32) + origin[0],
                                    np.arange(h, dtype=np.float32) + origin[1]), -1)
        m = grid
        for _ in range(iterations):   # m = p - disp(m): converges for a smooth, mild warp
            m = grid - self.displacement(x, m)
        return m

    def deformed_box(self, x: np.ndarray, size: tuple[int, int]) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) integer box, inside a frame of ``size``, holding the deformed
        grid (everything the layer can change)."""
        lo = np.floor(x.min(0)).astype(int) - 2
        hi = np.ceil(x.max(0)).astype(int) + 2
        return (max(0, lo[0]), max(0, lo[1]), min(size[0], hi[0]), min(size[1], hi[1]))


def mesh_box(mask: np.ndarray, margin: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) bounding box of ``mask`` grown by ``margin``, inside the frame."""
    ys, xs = np.nonzero(mask)
    w, h = size
    return (max(0, xs.min() - margin), max(0, ys.min() - margin),
            min(w - 1, xs.max() + margin), min(h - 1, ys.max() + margin))
