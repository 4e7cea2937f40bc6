"""As-rigid-as-possible refinement of the skinned part meshes (2D local-global ARAP,
Sorkine & Alexa 2007 in the per-triangle form of Liu et al. 2008).

Handles are the vertices that follow one bone only (skinning weight ~1) and lie more than
``FREE_RADIUS`` mesh spacings from the joints, and the joint vertices of each limb: they are
pinned to their skinned positions, which every skinning method agrees on. The other vertices
(the blend zones around the joints, widened so the inner side of a bend has room) minimise

    E = sum_t A_t |J_t(x) - R_t S_t|_F^2  +  sum_i c_i |x_i - s_i|^2

with ``J_t`` triangle t's deformation gradient, ``R_t`` the rotation nearest to it (local
step), ``S_t`` the stretch the rig asks of it (the bones' polar stretch parts blended by the
vertices' weights: a foreshortened limb stays foreshortened, a rigid motion stays rigid) and
``s_i`` the rigid-skinned position, a weak prior (``c_i = prior * L_ii``) that keeps a blend zone
with handles on one side only (a thigh's mesh beyond the knee) bending with the child bone.

All parts go into one block-diagonal sparse system whose matrix depends only on the rest mesh:
it is factorised once per reference (``scipy.sparse.linalg.splu``); each frame runs a few
local steps (closed-form 2x2 rotations, vectorised over every triangle) and global steps (one
back-substitution for x and y together).
"""
from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import splu

from .rig import Part
from .skinning import Transform, polar

HANDLE_WEIGHT = 0.999         # a vertex whose largest bone weight reaches this follows one bone
FREE_RADIUS = 1.5             # mesh spacings around a joint solved even where one bone rules
JOINT_TOLERANCE = 0.1         # px: mesh vertices are rounded to 0.1 px, joints are not


def handle_mask(part: Part, free_radius: float = 0.0) -> np.ndarray:
    """(N,) bool: the part's vertices pinned to their skinned positions: those that follow one
    bone and lie farther than ``free_radius`` px from every joint the part bends at, and the
    joint vertices themselves."""
    w = np.stack(list(part.weights.values()), 1)
    single = w.max(1) >= HANDLE_WEIGHT
    if part.pivots is None or single.all():
        return single
    joints = np.unique(part.pivots[~single], axis=0)
    near = np.linalg.norm(part.vertices[:, None] - joints[None], axis=2).min(1)
    return (single & (near > free_radius)) | (near < JOINT_TOLERANCE)


def triangle_gradients(rest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-corner gradients (K, 3, 2) of the linear basis functions of triangles ``rest``
    (K, 3, 2), so that a deformation's gradient is ``J = sum_k x_k g_k^T``; and (K,) areas."""
    e = np.stack([rest[:, 1] - rest[:, 0], rest[:, 2] - rest[:, 0]], 2)   # (K, 2, 2) columns
    det = e[:, 0, 0] * e[:, 1, 1] - e[:, 0, 1] * e[:, 1, 0]
    ok = np.abs(det) > 1e-9
    det = np.where(ok, det, 1.0)
    inv = np.stack([np.stack([e[:, 1, 1], -e[:, 0, 1]], 1),
                    np.stack([-e[:, 1, 0], e[:, 0, 0]], 1)], 1) / det[:, None, None]
    inv[~ok] = 0.0
    g = np.stack([-inv[:, 0] - inv[:, 1], inv[:, 0], inv[:, 1]], 1)
    return g, np.where(ok, np.abs(det) / 2, 0.0)


def deformation_gradients(x: np.ndarray, triangles: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """(K, 2, 2) Jacobians of the map rest -> ``x`` (N, 2) on each triangle."""
    return np.einsum("tkr,tkd->trd", x[triangles], grads)


def nearest_rotations(m: np.ndarray) -> np.ndarray:
    """(K, 2, 2) rotations closest (Frobenius) to ``m`` (K, 2, 2)."""
    angle = np.arctan2(m[:, 1, 0] - m[:, 0, 1], m[:, 0, 0] + m[:, 1, 1])
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([np.stack([c, -s], 1), np.stack([s, c], 1)], 1)


def stretch_terms(parts: list[Part], offsets: np.ndarray,
                  used: np.ndarray) -> tuple[list[tuple[str, np.ndarray]], sparse.csr_matrix]:
    """The (bone, joint) pairs whose polar stretch the ``used`` (N,) bool vertices blend, and
    the (N, P) sparse weights that blend them: each vertex takes its bones' stretch parts at the
    joint it bends around (at its own position for the torso part, which has no joints)."""
    pairs: dict[tuple[str, tuple[float, float]], int] = {}
    rows, cols, vals = [], [], []
    for part, offset in zip(parts, offsets):
        n = len(part.vertices)
        if not used[offset:offset + n].any():
            continue
        centres = part.pivots if part.pivots is not None else part.vertices
        for i in np.flatnonzero(used[offset:offset + n]):
            for name, w in part.weights.items():
                if w[i] > 0:
                    key = (name, (float(centres[i, 0]), float(centres[i, 1])))
                    rows.append(offset + i)
                    cols.append(pairs.setdefault(key, len(pairs)))
                    vals.append(float(w[i]))
    blend = sparse.csr_matrix((vals, (rows, cols)), shape=(len(used), len(pairs)))
    return [(name, np.array(at)) for name, at in pairs], blend


def pair_stretches(pairs: list[tuple[str, np.ndarray]],
                   transforms: dict[str, Transform]) -> np.ndarray:
    """(P, 4) flattened symmetric stretch parts of each bone's local map at its joint."""
    if not pairs:
        return np.zeros((0, 4))
    lins = np.stack([np.asarray(transforms[name].jacobian(at[None]))[0] for name, at in pairs])
    return polar(lins)[1].reshape(-1, 4)


Matrix = sparse.csr_matrix


def rigidity_system(rest: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, Matrix, Matrix]:
    """For rest vertices (N, 2) and ``triangles`` (K, 3): the basis gradients (K, 3, 2), G^T W
    (N, 2K) and the cotangent Laplacian G^T W G (N, N), where G (2K, N) maps vertex positions to
    the triangles' deformation gradients (row (t, d): column d of J_t) and W holds the areas."""
    grads, area = triangle_gradients(rest[triangles])
    n, k = len(rest), len(triangles)
    rows = (2 * np.arange(k)[:, None, None] + np.arange(2)[None, None, :]).repeat(3, 1)
    cols = np.broadcast_to(triangles[:, :, None], (k, 3, 2))
    g = sparse.csr_matrix((grads.ravel(), (rows.ravel(), cols.ravel())), shape=(2 * k, n))
    gtw = (g.T @ sparse.diags(np.repeat(area, 2))).tocsr()
    return grads, gtw, (gtw @ g).tocsr()


class ArapSolver:
    """The prefactored ARAP system over all ``parts`` of a rig; :meth:`solve` refines one
    frame's skinned vertices."""

    def __init__(self, parts: list[Part], free_radius: float = 0.0, iterations: int = 4,
                 prior: float = 0.05):
        self.iterations = iterations
        sizes = [len(p.vertices) for p in parts]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)])
        rest = np.concatenate([p.vertices for p in parts]).astype(np.float64)
        tris = np.concatenate([p.triangles + o for p, o in zip(parts, self.offsets)])
        in_mesh = np.zeros(len(rest), bool)
        in_mesh[tris] = True                          # a vertex on no triangle has nothing to solve
        handles = np.concatenate([handle_mask(p, free_radius) for p in parts]) | ~in_mesh
        tris = tris[(~handles[tris]).any(1)]          # triangles wholly on handles are constant
        self.free, self.fixed = np.flatnonzero(~handles), np.flatnonzero(handles)
        self.triangles = tris
        used = np.zeros(len(rest), bool)
        used[tris] = True
        self.pairs, blend = stretch_terms(parts, self.offsets, used)
        k = len(tris)
        corner_mean = sparse.csr_matrix((np.full(tris.size, 1 / 3),
                                         (np.repeat(np.arange(k), 3), tris.ravel())),
                                        shape=(k, len(rest)))
        self.triangle_blend = (corner_mean @ blend).tocsr()                # (K, P)
        self.grads, gtw, lap = rigidity_system(rest, tris)
        free = self.free
        diag = lap.diagonal()[free]
        # a vertex on degenerate triangles only has no rigidity term: it keeps its skinned place
        self.prior = np.where(diag > 1e-12, prior * diag, 1.0)
        a = lap[free][:, free] + sparse.diags(self.prior)
        self.factor = splu(a.tocsc()) if len(free) else None
        self.rhs_rotations = gtw[free]                                    # (F, 2K)
        self.coupling = lap[free][:, self.fixed].tocsr()                  # (F, C)

    def solve(self, skinned: np.ndarray, stretch: np.ndarray) -> np.ndarray:
        """(N, 2) refined positions of all parts' vertices, concatenated, from their skinned
        positions ``skinned`` (N, 2) (start and prior; handles keep them) and the stretch
        ``stretch`` (K, 2, 2) the rig asks of each solved triangle."""
        x = np.array(skinned, np.float64)
        if self.factor is None:
            return x
        const = self.prior[:, None] * x[self.free] - self.coupling @ x[self.fixed]
        for _ in range(self.iterations):
            j = deformation_gradients(x, self.triangles, self.grads)
            target = nearest_rotations(j @ stretch.transpose(0, 2, 1)) @ stretch   # R_t S_t
            rhs = self.rhs_rotations @ target.transpose(0, 2, 1).reshape(-1, 2) + const
            x[self.free] = self.factor.solve(rhs)
        return x

    def split(self, x: np.ndarray) -> list[np.ndarray]:
        """Per-part (N_p, 2) views of a concatenated (N, 2) array."""
        return [x[a:b] for a, b in zip(self.offsets[:-1], self.offsets[1:])]

    def refine(self, skinned: list[np.ndarray],
               transforms: dict[str, Transform]) -> list[np.ndarray]:
        """Per part, (N_p, 2) ARAP positions from the parts' skinned vertices ``skinned``
        (the parts the solver was built on, in order) under one frame's bone ``transforms``."""
        stretch = (self.triangle_blend @ pair_stretches(self.pairs, transforms)).reshape(-1, 2, 2)
        return self.split(self.solve(np.concatenate(skinned), stretch))
