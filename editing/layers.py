"""Edited objects carried as layers: an edit that changes an object's shape follows the
object's motion as one piece, instead of being re-sampled from the source's per-pixel flow.

- :class:`ObjectTracker` follows the edited region through the source: a direct DIS flow
  from the anchor frame to each frame (started from the previous frame's, so there is no
  chain to drift), kept where it passes the forward-backward and photometric checks, is
  averaged per vertex of a coarse mesh over the object (:class:`~editing.mesh.ObjectMesh`)
  and fitted as-rigid-as-possibly; the background's motion is a RANSAC homography of the
  flow outside the object.
- :func:`plan_layer` runs the tracker over the clip (pass 1), building a background plate
  in the anchor frame's coordinates: the edited frame where it shows background, then the
  background of later frames where the object moved off it, and inpainting where it was
  never seen. With the plate it finds the edited object's outline (``after``): pixels of the
  edited region that differ from the plate, and GrabCut where the plate has no answer.
- :func:`render_layer_frame` (pass 2) clears the original object's area (filled from the
  plate, moved with the background) and lays the edited object over it, moved by the mesh.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .flow import FlowEstimator, flow_to_map, remap, to_gray
from .mesh import ObjectMesh
from .regions import fill_holes

PHOTO_TOLERANCE = 24.0     # mean abs RGB error above which a flow match is not used
BACKGROUND_MATCH = 28.0    # max RGB difference of the edited frame from the plate = background
WORK_SIDE = 256            # long side the object is tracked at
ROBUST_PX = 3.0            # vertex residual scale of the robust reweighting


def soft_mask(mask: np.ndarray, grow: int) -> np.ndarray:
    """(H, W) float32 in [0, 1]: ``mask`` grown by ``grow`` px and feathered as much."""
    m = mask.astype(np.uint8)
    if grow > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
        m = cv2.dilate(m, k)
    return np.clip(cv2.GaussianBlur(m.astype(np.float32), (0, 0), max(1.0, grow / 3)), 0, 1)


def mesh_box(mask: np.ndarray, margin: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) bounding box of ``mask`` grown by ``margin``, inside the frame."""
    ys, xs = np.nonzero(mask)
    w, h = size
    return (max(0, xs.min() - margin), max(0, ys.min() - margin),
            min(w - 1, xs.max() + margin), min(h - 1, ys.max() + margin))


@dataclass
class Motion:
    """One frame's motion relative to the anchor."""
    vertices: np.ndarray      # (N, 2) mesh positions: where the object's grid moved
    homography: np.ndarray    # (3, 3) background motion, anchor -> frame


class ObjectTracker:
    """Follows the object under ``region`` (H, W) bool of the ``anchor`` frame; call
    :meth:`step` with each later frame, in order, for its :class:`Motion`.

    Each step estimates one DIS flow straight from the anchor to the frame, started from
    the motion of the previous frame (the mesh's displacement on the object, the
    background's homography elsewhere), so there is no chain of flows to drift and large
    motions are found. The flow is kept on the object's core (the region shrunk by a few
    pixels: DIS smears motion across boundaries) where the anchor's colour matches what it
    lands on, averaged around each rest vertex and fitted to the mesh as rigidly as
    possible. The background's motion is a RANSAC homography of the flow away from the
    object.

    Tracking runs on copies at most ``work_side`` px on the long side (the mesh is coarse;
    DIS's ``balanced`` preset keeps a small object's motion there: at 256 px the synthetic
    disc's is found within 1 %); :class:`Motion` is given in the frame's own pixels and
    :attr:`full_mesh` is the mesh at that size."""

    def __init__(self, anchor: np.ndarray, region: np.ndarray, work_side: int = WORK_SIDE,
                 preset: str = "balanced"):
        self.size = region.shape[::-1]
        self.scale = min(1.0, work_side / max(self.size))
        anchor, region = self._work(anchor), self._work_mask(region)
        h, w = region.shape
        self.work_size = (w, h)
        area = max(float(region.sum()), 1.0)
        spacing = float(np.clip(np.sqrt(area) / 8, 8, 48))
        self.mesh = ObjectMesh(mesh_box(region, int(spacing), self.work_size), spacing)
        self.full_mesh = self.mesh.scaled(1 / self.scale)
        self.flow = FlowEstimator(preset, 1.0)
        self.anchor, self.anchor_gray = anchor, to_gray(anchor)
        self.object = region.astype(np.float32)
        core = max(1, int(spacing / 4))
        self.core = cv2.erode(region.astype(np.uint8), np.ones((2 * core + 1,) * 2, np.uint8))
        self.core = self.core.astype(np.float32) if self.core.sum() > 64 else self.object
        ring = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (31, 31))
        self.background = cv2.dilate(region.astype(np.uint8), ring) == 0
        self.near = soft_mask(region, int(spacing)) > 0.01
        self.vertices = self.mesh.rest.copy()
        self.homography = np.eye(3)
        self._sample = _vertex_sampler(spacing)
        self.grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32),
                                         np.arange(h, dtype=np.float32)), -1)

    def _work(self, image: np.ndarray) -> np.ndarray:
        """``image`` at the working size (area-averaged)."""
        if self.scale == 1.0:
            return image
        size = (max(8, round(self.size[0] * self.scale)), max(8, round(self.size[1] * self.scale)))
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA)

    def _work_mask(self, mask: np.ndarray) -> np.ndarray:
        """(h, w) bool ``mask`` at the working size."""
        return self._work(mask.astype(np.float32)) > 0.5

    def to_frame(self, x: np.ndarray, hom: np.ndarray) -> Motion:
        """A working-size motion (vertices, homography) in the frame's own pixels."""
        s = np.diag([self.scale, self.scale, 1.0])
        return Motion(x / self.scale, np.linalg.inv(s) @ hom @ s)

    def step(self, frame: np.ndarray) -> Motion:
        frame = self._work(frame)
        flow = self.flow(self.anchor_gray, to_gray(frame), init=self._predicted_flow())
        trust = self._trust(frame, flow)
        targets, weights = self._sample(flow, trust * self.core, self.mesh.rest)
        x = self.mesh.fit(targets, weights, self.vertices)
        resid = np.linalg.norm(x - targets, axis=1)              # reweight outlying vertices
        x = self.mesh.fit(targets, weights / (1 + (resid / ROBUST_PX) ** 2), x)
        self.homography = self._background_motion(flow, trust)
        self.vertices = x
        return self.to_frame(x.copy(), self.homography.copy())

    def segment(self, mask: np.ndarray) -> np.ndarray:
        """(H, W) float32: the anchor's ``mask`` (working size, float) moved to where the
        object is in the last frame stepped, at the frame's size."""
        moved = remap(mask, self.mesh.backward_map(self.vertices, self.work_size))
        return cv2.resize(moved, tuple(self.size), interpolation=cv2.INTER_LINEAR)

    def _predicted_flow(self) -> np.ndarray:
        """(H, W, 2) float32 anchor -> frame flow of the previous frame's motion: the
        background's homography, the mesh's displacement near the object."""
        h, w = self.object.shape
        moved = cv2.perspectiveTransform(self.grid.reshape(1, -1, 2), self.homography)
        flow = moved.reshape(h, w, 2) - self.grid
        disp = self.mesh.displacement(self.vertices, self.grid)
        flow[self.near] = disp[self.near]
        return flow

    def _trust(self, frame: np.ndarray, flow: np.ndarray) -> np.ndarray:
        """(H, W) float32 on the anchor: pixels whose colour matches where the flow
        takes them."""
        err = cv2.absdiff(self.anchor, remap(frame, flow_to_map(flow))).mean(axis=2)
        return (cv2.blur(err, (5, 5)) < PHOTO_TOLERANCE).astype(np.float32)

    def _background_motion(self, flow: np.ndarray, trust: np.ndarray) -> np.ndarray:
        """(3, 3) homography anchor -> frame fitted (RANSAC) to the background's flow."""
        ok = self.background & (trust > 0)
        ys, xs = np.nonzero(ok[::8, ::8])
        if len(xs) < 12:
            return self.homography
        src = np.stack([xs * 8, ys * 8], 1).astype(np.float32)
        dst = src + flow[ys * 8, xs * 8]
        hom, _ = cv2.findHomography(src, dst, cv2.RANSAC, 2.0)
        return self.homography if hom is None else hom


def _vertex_sampler(spacing: float):
    """A function (flow (H, W, 2), weight (H, W), at (N, 2)) -> (targets (N, 2), weights
    (N,)): per vertex position ``at``, the weight-averaged flow around it (Gaussian of
    about half a cell) added to it, and the share of its neighbourhood that supports it."""
    sigma = spacing / 2

    def sample(flow: np.ndarray, weight: np.ndarray, at: np.ndarray):
        h, w = weight.shape
        xs = np.clip(np.round(at[:, 0]).astype(int), 0, w - 1)
        ys = np.clip(np.round(at[:, 1]).astype(int), 0, h - 1)
        wb = cv2.GaussianBlur(weight, (0, 0), sigma)
        fx = cv2.GaussianBlur(flow[..., 0] * weight, (0, 0), sigma)
        fy = cv2.GaussianBlur(flow[..., 1] * weight, (0, 0), sigma)
        sw = wb[ys, xs]
        safe = np.maximum(sw, 1e-6)
        disp = np.stack([fx[ys, xs] / safe, fy[ys, xs] / safe], 1)
        support = np.clip(sw / 0.25, 0, 1)           # a quarter of the neighbourhood = full
        return at + disp, np.where(sw > 0.02, support, 0.0)

    return sample


@dataclass
class LayerPlan:
    """What pass 2 needs: per-frame motions and the layer's parts (anchor coordinates)."""
    motions: list[Motion]
    mesh: ObjectMesh
    edited: np.ndarray         # (H, W, 3) uint8 the edited anchor frame
    clear: np.ndarray          # (H, W) float32: the area to clear (original object + edit)
    after: np.ndarray          # (H, W) float32: the edited object's soft outline
    plate: np.ndarray          # (H, W, 3) float32 background plate
    stats: dict = field(default_factory=dict)


def plan_layer(frames, anchor: np.ndarray, edited: np.ndarray, region: np.ndarray,
               grow: int) -> LayerPlan:
    """Pass 1 over ``frames`` (the source frames after the anchor, an iterable): the
    object's motions and the background plate; then the edited object's outline."""
    h, w = region.shape
    tracker = ObjectTracker(anchor, region)
    cover = soft_mask(region, grow + 4)                            # object + margin
    cover_work = tracker._work(cover)
    plate = np.zeros((h, w, 3), np.float32)
    known = np.zeros((h, w), bool)
    clear = soft_mask(region, clear_grow(grow))
    x0, y0, x1, y1 = mesh_box(clear > 0.01, 2, (w, h))      # the plate is needed only here
    wanted = np.zeros((h, w), bool)
    wanted[y0:y1 + 1, x0:x1 + 1] = True
    motions = [Motion(tracker.full_mesh.rest.copy(), np.eye(3))]
    for frame in frames:
        m = tracker.step(frame)
        motions.append(m)
        if (wanted & ~known).any():
            busy = tracker.segment(cover_work) > 0.01                # the object at t
            add_to_plate(plate, known, frame, ~busy, m.homography, (x0, y0, x1 + 1, y1 + 1))
    after = edited_outline(anchor, edited, region, plate, known)
    plate, stats = complete_plate(edited, region, after, plate, known)
    stats["frames_tracked"] = len(motions)
    alpha = cv2.GaussianBlur(after.astype(np.float32), (0, 0), 0.6)   # anti-aliased edge
    return LayerPlan(motions, tracker.full_mesh, edited, clear, alpha, plate, stats)


def clear_grow(grow: int) -> int:
    """Pixels the area cleared to the plate reaches beyond the edited region: further than
    the edit's own mask, so parts of the original object that move beyond the mesh's fit
    (an ear as a head turns) are cleared too."""
    return 2 * grow + 8


def add_to_plate(plate: np.ndarray, known: np.ndarray, frame: np.ndarray, free: np.ndarray,
                 homography: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """Fill the plate's unknown pixels inside ``box`` (anchor coordinates, x0, y0, x1, y1
    exclusive) with the frame's ``free`` (H, W) bool background pixels, moved back to the
    anchor by the inverse of ``homography`` (anchor -> frame). In place."""
    x0, y0, x1, y1 = box
    back = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64) @ np.linalg.inv(homography)
    size = (x1 - x0, y1 - y0)
    seen = cv2.warpPerspective(free.astype(np.uint8), back, size, flags=cv2.INTER_NEAREST) > 0
    new = seen & ~known[y0:y1, x0:x1]
    if new.any():
        warped = cv2.warpPerspective(frame, back, size, flags=cv2.INTER_LINEAR)
        plate[y0:y1, x0:x1][new] = warped[new]
        known[y0:y1, x0:x1] |= new


def edited_outline(anchor: np.ndarray, edited: np.ndarray, region: np.ndarray,
                   plate: np.ndarray, known: np.ndarray) -> np.ndarray:
    """(H, W) bool: the edited object inside ``region``. Where the plate saw the
    background, the pixels that differ from it; elsewhere GrabCut on the edited frame,
    with those answers as hard labels and the frame outside the region as background."""
    diff = cv2.GaussianBlur(np.abs(edited.astype(np.float32) - plate).max(axis=2), (0, 0), 0.7)
    fg_sure = region & known & (diff > BACKGROUND_MATCH)
    bg_sure = ~region | (known & (diff <= BACKGROUND_MATCH))
    unsure = region & ~known
    if unsure.sum() < 32:
        return fill_holes(fg_sure)
    labels = np.where(bg_sure, cv2.GC_BGD, cv2.GC_PR_FGD).astype(np.uint8)
    labels[fg_sure] = cv2.GC_FGD
    x0, y0, x1, y1 = mesh_box(region, 24, (region.shape[1], region.shape[0]))
    crop = labels[y0:y1 + 1, x0:x1 + 1].copy()
    bgm, fgm = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    if (crop == cv2.GC_BGD).sum() < 32:
        return region
    cv2.grabCut(np.ascontiguousarray(edited[y0:y1 + 1, x0:x1 + 1][..., ::-1]), crop, None,
                bgm, fgm, 4, cv2.GC_INIT_WITH_MASK)
    out = np.zeros_like(region)
    out[y0:y1 + 1, x0:x1 + 1] = (crop == cv2.GC_FGD) | (crop == cv2.GC_PR_FGD)
    out &= region
    return fill_holes(cv2.morphologyEx(out.astype(np.uint8), cv2.MORPH_OPEN,
                                       np.ones((3, 3), np.uint8)))


def complete_plate(edited: np.ndarray, region: np.ndarray, after: np.ndarray,
                   plate: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, dict]:
    """(H, W, 3) float32 background plate and its make-up: the edited frame wherever it
    shows background (outside the edited object), the later frames' background where the
    object covered it, inpainting (Telea) where it was never seen."""
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    obj = cv2.dilate(after.astype(np.uint8), k) > 0
    out = plate.copy()
    out[~obj] = edited[~obj]
    have = known | ~obj
    holes = (~have).astype(np.uint8)
    if holes.any():
        filled = cv2.inpaint(np.clip(out, 0, 255).astype(np.uint8), holes, 5, cv2.INPAINT_TELEA)
        out[holes > 0] = filled[holes > 0]
    area = max(int(obj.sum()), 1)
    return out, {"plate_from_later_frames": round(float((known & obj).sum()) / area, 3),
                 "plate_inpainted": round(float(holes.sum()) / area, 3)}


def render_layer_frame(frame: np.ndarray, plan: LayerPlan, t: int) -> np.ndarray:
    """(H, W, 3) uint8 frame ``t``: the original object's area cleared to the plate (moved
    with the background), the edited object laid over it (moved by the mesh). Only the box
    the deformed mesh covers is touched."""
    h, w = frame.shape[:2]
    m = plan.motions[t]
    x0, y0, x1, y1 = plan.mesh.deformed_box(m.vertices, (w, h))
    out = frame.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    bmap = plan.mesh.backward_map(m.vertices, (x1 - x0, y1 - y0), origin=(x0, y0))
    clear = remap(plan.clear, bmap)[..., None]
    alpha = remap(plan.after, bmap)[..., None]
    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64) @ m.homography
    plate = cv2.warpPerspective(plan.plate, shift, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
    layer = remap(plan.edited, bmap).astype(np.float32)
    crop = frame[y0:y1, x0:x1].astype(np.float32)
    crop += clear * (plate - crop)
    crop += alpha * (layer - crop)
    out[y0:y1, x0:x1] = np.clip(crop + 0.5, 0, 255).astype(np.uint8)
    return out


class Confinement:
    """Keeps a flow-carried edit on its object: call with each later frame (in order) and
    its (H, W, 4) layer. The object's segment is moved by an :class:`ObjectTracker`; the
    layer's mask is cut to the segment grown by ``grow`` px (no bleed onto what moves past
    the object) and raised to 1 on the segment itself (where the flow lost the edit, on a
    turning sleeve say, the object still gets the edit's colour transform)."""

    def __init__(self, anchor: np.ndarray, region: np.ndarray, grow: int):
        self.tracker = ObjectTracker(anchor, region)
        self.outer = self.tracker._work(soft_mask(region, grow + 2))
        inner = cv2.erode(region.astype(np.uint8), np.ones((5, 5), np.uint8))
        self.inner = self.tracker._work(soft_mask(inner, 0))

    def __call__(self, frame: np.ndarray, layer: np.ndarray) -> np.ndarray:
        return self.apply(layer, self.segments(frame))

    def segments(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(outer, inner) (H, W) float32 segments of the object in ``frame`` (the next one
        in order): needs only the source frames, so it may run ahead of the layer."""
        self.tracker.step(frame)
        return self.tracker.segment(self.outer), self.tracker.segment(self.inner)

    @staticmethod
    def apply(layer: np.ndarray, segments: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """``layer`` (H, W, 4) with its mask cut to ``outer`` and raised to ``inner``."""
        outer, inner = segments
        out = layer.copy()
        alpha = out[..., 3]
        alpha *= outer
        np.maximum(alpha, inner, out=alpha)
        return out
