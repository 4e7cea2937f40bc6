"""Building the rig from a reference image: body-part labels over the person mask, one
triangle mesh per part, and skinning weights that blend each part into its neighbours at
the joints.

Parts are drawn as separate layers (so an arm can pass in front of or behind the torso);
each part's texture is the reference pixels it owns, its alpha = person mask x a slightly
dilated part membership, so neighbouring layers overlap at the seams and no crack opens.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.spatial import Delaunay

from .retarget import NECK, ROOT, extend
from .skinning import LIMBS, QUAD, quad_uv

# part -> (its bone, the parent bone it blends into at its root, child bone at its tip)
HIERARCHY: dict[str, tuple[str | None, str | None]] = {
    "torso": (None, None), "head": ("torso", None),
    "l_upper_arm": ("torso", "l_forearm"), "l_forearm": ("l_upper_arm", None),
    "r_upper_arm": ("torso", "r_forearm"), "r_forearm": ("r_upper_arm", None),
    "l_thigh": ("torso", "l_shin"), "l_shin": ("l_thigh", None),
    "r_thigh": ("torso", "r_shin"), "r_shin": ("r_thigh", None)}
LEG_PARTS = ("l_thigh", "l_shin", "r_thigh", "r_shin")
# joints whose mean depth orders a part's layer
DEPTH_JOINTS = {"torso": (11, 12, 23, 24), "head": (0, 7, 8), "l_upper_arm": (11, 13),
                "l_forearm": (13, 15, 19), "r_upper_arm": (12, 14), "r_forearm": (14, 16, 20),
                "l_thigh": (23, 25), "l_shin": (25, 27), "r_thigh": (24, 26), "r_shin": (26, 28)}
ROOTED_AT_TORSO = ("l_upper_arm", "r_upper_arm", "l_thigh", "r_thigh")
LABEL_SIDE = 256          # long side of the grid the part labels are computed on


@dataclass
class Part:
    name: str
    vertices: np.ndarray               # (N, 2) float64 reference pixels
    triangles: np.ndarray              # (K, 3) int
    weights: dict[str, np.ndarray]     # bone -> (N,) skinning weights
    texture: np.ndarray                # (h, w, 4) uint8 crop: RGB + alpha
    offset: tuple[int, int]            # (x0, y0) of the crop in the reference
    uv: np.ndarray | None = None       # (N, 2) torso-quad coordinates of the vertices
    pivots: np.ndarray | None = None   # (N, 2) reference joint each vertex bends around


@dataclass
class Rig:
    parts: list[Part]
    ref_ext: np.ndarray                # (35, 3) reference pose, extended
    size: tuple[int, int]              # (width, height)
    grid: float                        # mesh spacing in pixels
    legs: bool                         # legs rigged (visible in the reference)
    labels: np.ndarray = field(repr=False, default=None)   # (h, w) int part index, -1 outside


def _segment_distance(px: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((px - a) @ ab) / max(float(ab @ ab), 1e-9), 0, 1)
    return np.linalg.norm(px - (a + t[:, None] * ab), axis=1)


def _part_segments(ext: np.ndarray, legs: bool) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    p = ext[:, :2]
    hand_l, hand_r = (p[17] + p[19]) / 2, (p[18] + p[20]) / 2
    top = p[0] + 0.8 * (p[0] - p[NECK])
    segs = {"head": [(0.6 * p[NECK] + 0.4 * p[0], top)],
            "l_upper_arm": [(p[11], p[13])], "l_forearm": [(p[13], p[15]), (p[15], hand_l)],
            "r_upper_arm": [(p[12], p[14])], "r_forearm": [(p[14], p[16]), (p[16], hand_r)]}
    if legs:
        segs.update({"l_thigh": [(p[23], p[25])], "l_shin": [(p[25], p[27]), (p[27], p[31])],
                     "r_thigh": [(p[24], p[26])], "r_shin": [(p[26], p[28]), (p[28], p[32])]})
    return segs


def part_labels(mask: np.ndarray, ext: np.ndarray, legs: bool) -> tuple[np.ndarray, list[str]]:
    """(h, w) int labels on a grid of long side ``LABEL_SIDE`` (index into the returned part
    names, -1 off the person): each person pixel goes to the nearest bone; inside the torso
    quad the torso wins unless a limb bone is closer than a limb's half width."""
    h, w = mask.shape
    s = min(1.0, LABEL_SIDE / max(h, w))
    sh, sw = max(1, round(h * s)), max(1, round(w * s))
    small = cv2.resize(mask, (sw, sh), interpolation=cv2.INTER_AREA) > 0.5
    ys, xs = np.nonzero(small)
    px = (np.stack([xs, ys], 1) + 0.5) / s
    segs = _part_segments(ext, legs)
    names = ["torso"] + list(segs)
    shoulder_w = float(np.linalg.norm(ext[11, :2] - ext[12, :2]))
    quad = ext[list(QUAD), :2]
    quad = quad + (quad - quad.mean(0)) * np.array([0.25, 0.0])    # the body is wider than its joints
    inside = _inside_polygon(quad * s, (sh, sw))[ys, xs]
    edges = np.vstack([quad, quad[:1]])
    outside_dist = np.min([_segment_distance(px, edges[i], edges[i + 1]) for i in range(4)], axis=0)
    d = np.empty((len(px), len(names)), np.float32)
    d[:, 0] = np.where(inside, 0.0, outside_dist) + 0.12 * shoulder_w
    for k, name in enumerate(names[1:], 1):
        d[:, k] = np.min([_segment_distance(px, a, b) for a, b in segs[name]], axis=0)
        if name in ROOTED_AT_TORSO:          # armpit and crotch pixels belong to the torso
            d[:, k] += np.where(inside, 0.15 * shoulder_w, 0.0)
    labels = np.full((sh, sw), -1, np.int32)
    labels[ys, xs] = np.argmin(d, axis=1)
    return labels, names


def _inside_polygon(poly: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) bool raster of the polygon (4, 2) in grid pixels."""
    out = np.zeros(shape, np.uint8)
    cv2.fillPoly(out, [np.round(poly * 4 - 2).astype(np.int32)], 1, shift=2)
    return out > 0


def _mesh(region: np.ndarray, grid: float, extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (N, 2) and triangles (K, 3) covering the binary ``region`` (H, W)."""
    h, w = region.shape
    ys, xs = np.mgrid[grid / 2:h:grid, grid / 2:w:grid]
    pts = np.stack([xs.ravel(), ys.ravel()], 1)
    keep = region[np.clip(pts[:, 1].astype(int), 0, h - 1), np.clip(pts[:, 0].astype(int), 0, w - 1)]
    pts = [pts[keep > 0]]
    contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    step = max(1, int(grid / 2))
    for c in contours:
        pts.append(c[::step, 0, :].astype(np.float64))
    pts.append(extra)
    verts = np.unique(np.round(np.concatenate(pts), 1), axis=0)
    if len(verts) < 3:
        return verts, np.zeros((0, 3), np.int64)
    tri = Delaunay(verts).simplices
    cen = verts[tri].mean(axis=1)
    ok = region[np.clip(cen[:, 1].astype(int), 0, h - 1), np.clip(cen[:, 0].astype(int), 0, w - 1)] > 0
    return verts, tri[ok]


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0, 1)
    return x * x * (3 - 2 * x)


def _weights(name: str, verts: np.ndarray, ext: np.ndarray, blend: float,
             legs: bool) -> dict[str, np.ndarray]:
    """Skinning weights for one part: its own bone, blended into the parent bone over
    ``blend`` (fraction of the bone) around its root and into the child bone around its tip."""
    parent, child = HIERARCHY[name]
    if child in LEG_PARTS and not legs:
        child = None
    if name == "torso":
        return {"torso": np.ones(len(verts))}
    a, b = (ext[NECK, :2], ext[0, :2]) if name == "head" else (ext[LIMBS[name][0], :2],
                                                              ext[LIMBS[name][1], :2])
    ab = b - a
    t = ((verts - a) @ ab) / max(float(ab @ ab), 1e-9)
    w_parent = 1 - _smoothstep((t + blend) / (2 * blend)) if parent else np.zeros(len(verts))
    w_child = _smoothstep((t - 1 + blend) / (2 * blend)) if child else np.zeros(len(verts))
    w_self = np.clip(1 - w_parent - w_child, 0, 1)
    out = {name: w_self}
    if parent:
        out[parent] = w_parent
    if child:
        out[child] = w_child
    total = sum(out.values())
    return {k: v / total for k, v in out.items()}


def build_rig(image: np.ndarray, alpha: np.ndarray, points: np.ndarray, visibility: np.ndarray,
              legs: bool) -> Rig:
    """The rig for ``image`` (H, W, 3) uint8 with person ``alpha`` (H, W) float in [0, 1] and
    reference keypoints ``points`` (33, 3) / ``visibility`` (33,)."""
    h, w = alpha.shape
    ext = extend(points[None].astype(np.float64))[0]
    labels, names = part_labels(alpha, ext, legs)
    body = float(np.linalg.norm(ext[NECK, :2] - ext[ROOT, :2])) + 1e-6
    grid = float(np.clip(body / 7, 4, 40))
    seam = max(2, round(grid / 4))
    full = cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)
    full[alpha < 0.02] = -1
    parts = []
    for k, name in enumerate(names):
        own = (full == k).astype(np.uint8)
        if own.sum() < 4:
            continue
        member = cv2.dilate(own, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * seam + 1,) * 2))
        region = cv2.dilate(member, np.ones((3, 3), np.uint8), iterations=max(1, int(grid / 2)))
        verts, tris = _mesh(region, grid, _joint_points(name, ext))
        if len(tris) == 0:
            continue
        soft = cv2.GaussianBlur(member.astype(np.float32), (0, 0), seam / 2)
        a = np.clip(alpha * np.maximum(soft, member), 0, 1)
        x0, y0, bw, bh = cv2.boundingRect(region)
        tex = np.dstack([image[y0:y0 + bh, x0:x0 + bw],
                         np.round(a[y0:y0 + bh, x0:x0 + bw] * 255).astype(np.uint8)])
        weights = _weights(name, verts, ext, 0.18, legs)
        uv = quad_uv(verts, ext[list(QUAD), :2]) if "torso" in weights else None
        parts.append(Part(name, verts, tris, weights, np.ascontiguousarray(tex), (x0, y0), uv,
                          _pivots(name, verts, weights, ext)))
    return Rig(parts, ext, (w, h), grid, legs, labels)


def _pivots(name: str, verts: np.ndarray, weights: dict[str, np.ndarray],
            ext: np.ndarray) -> np.ndarray | None:
    """(N, 2): the joint each vertex of a part bends around — the part's root joint where the
    parent bone's weight dominates the child's, else its tip joint."""
    if name == "torso":
        return None
    root, tip = (NECK, 0) if name == "head" else LIMBS[name]
    parent, child = HIERARCHY[name]
    w_parent = weights.get(parent, np.zeros(len(verts))) if parent else np.zeros(len(verts))
    w_child = weights.get(child, np.zeros(len(verts))) if child else np.zeros(len(verts))
    return np.where((w_parent >= w_child)[:, None], ext[root, :2], ext[tip, :2])


def _joint_points(name: str, ext: np.ndarray) -> np.ndarray:
    if name == "torso":
        return ext[list(QUAD), :2]
    if name == "head":
        return ext[[0, NECK], :2]
    return ext[list(LIMBS[name]), :2]
