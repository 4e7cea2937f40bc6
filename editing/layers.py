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

PHOTO_TOLERANCE = 24.0     # mean abs RGB error above which a flow match is not used
BACKGROUND_MATCH = 28.0    # max RGB difference of the edited frame from the plate = background
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
    object."""

    def __init__(self, anchor: np.ndarray, region: np.ndarray, flow_scale: float = 1.0,
                 spacing: float = 0.0, preset: str = "fast"):
        h, w = region.shape
        self.size = (w, h)
        area = max(float(region.sum()), 1.0)
        spacing = spacing or float(np.clip(np.sqrt(area) / 8, 12, 48))
        self.mesh = ObjectMesh(mesh_box(region, int(spacing), self.size), spacing)
        # full resolution: at half size DIS underestimates a small object's motion
        self.flow = FlowEstimator(preset, flow_scale)
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

    def step(self, frame: np.ndarray) -> Motion:
        flow = self.flow(self.anchor_gray, to_gray(frame), init=self._predicted_flow())
        trust = self._trust(frame, flow)
        targets, weights = self._sample(flow, trust * self.core, self.mesh.rest)
        x = self.mesh.fit(targets, weights, self.vertices)
        resid = np.linalg.norm(x - targets, axis=1)              # reweight outlying vertices
        x = self.mesh.fit(targets, weights / (1 + (resid / ROBUST_PX) ** 2), x)
        self.homography = self._background_motion(flow, trust)
        self.vertices = x
        return Motion(x.copy(), self.homography.copy())

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
               grow: int, flow_scale: float = 1.0) -> LayerPlan:
    """Pass 1 over ``frames`` (the source frames after the anchor, an iterable): the
    object's motions and the background plate; then the edited object's outline."""
    h, w = region.shape
    tracker = ObjectTracker(anchor, region, flow_scale)
    cover = soft_mask(region, grow + 4) > 0.01                     # object + margin
    plate = np.zeros((h, w, 3), np.float32)
    known = np.zeros((h, w), bool)
    motions = [Motion(tracker.mesh.rest.copy(), np.eye(3))]
    for frame in frames:
        m = tracker.step(frame)
        motions.append(m)
        busy = segment_map(tracker, m, cover.astype(np.float32)) > 0.01   # object at t
        back = np.linalg.inv(m.homography)                        # frame -> anchor
        seen = cv2.warpPerspective((~busy).astype(np.uint8), back, (w, h),
                                   flags=cv2.INTER_NEAREST) > 0
        new = seen & ~known
        if new.any():
            plate[new] = cv2.warpPerspective(frame, back, (w, h),
                                             flags=cv2.INTER_LINEAR)[new]
            known |= new
    after = edited_outline(anchor, edited, region, plate, known)
    plate, stats = complete_plate(edited, region, after, plate, known)
    stats["frames_tracked"] = len(motions)
    return LayerPlan(motions, tracker.mesh, edited, soft_mask(region, grow),
                     soft_mask(after, 1), plate, stats)


def edited_outline(anchor: np.ndarray, edited: np.ndarray, region: np.ndarray,
                   plate: np.ndarray, known: np.ndarray) -> np.ndarray:
    """(H, W) bool: the edited object inside ``region``. Where the plate saw the
    background, the pixels that differ from it; elsewhere GrabCut on the edited frame,
    with those answers as hard labels and the frame outside the region as background."""
    diff = cv2.GaussianBlur(np.abs(edited.astype(np.float32) - plate).max(axis=2), (0, 0), 1.5)
    fg_sure = region & known & (diff > BACKGROUND_MATCH)
    bg_sure = ~region | (known & (diff <= BACKGROUND_MATCH))
    unsure = region & ~known
    if unsure.sum() < 32:
        return fg_sure
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
    return cv2.morphologyEx(out.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0


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
    with the background), the edited object laid over it (moved by the mesh)."""
    h, w = frame.shape[:2]
    m = plan.motions[t]
    bmap = plan.mesh.backward_map(m.vertices, (w, h))
    clear = remap(plan.clear, bmap)[..., None] if plan.clear.ndim == 2 else remap(plan.clear, bmap)
    alpha = remap(plan.after, bmap)
    alpha = alpha[..., None] if alpha.ndim == 2 else alpha
    plate = cv2.warpPerspective(plan.plate, m.homography, (w, h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
    layer = remap(plan.edited, bmap).astype(np.float32)
    out = frame.astype(np.float32)
    out += clear * (plate - out)
    out += alpha * (layer - out)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def segment_map(tracker: ObjectTracker, motion: Motion, mask: np.ndarray) -> np.ndarray:
    """(H, W) float32 ``mask`` (anchor coordinates) moved to the frame of ``motion``."""
    w, h = tracker.size
    return remap(mask, tracker.mesh.backward_map(motion.vertices, (w, h)))


class Confinement:
    """Keeps a flow-carried edit on its object: call with each later frame (in order) and
    its (H, W, 4) layer; the layer's mask is multiplied by the object's segment (the
    edited region grown by ``grow`` px, feathered) moved by the :class:`ObjectTracker`."""

    def __init__(self, anchor: np.ndarray, region: np.ndarray, grow: int):
        self.tracker = ObjectTracker(anchor, region)
        self.segment = soft_mask(region, grow + 2)

    def __call__(self, frame: np.ndarray, layer: np.ndarray) -> np.ndarray:
        seg = segment_map(self.tracker, self.tracker.step(frame), self.segment)
        out = layer.copy()
        out[..., 3] *= seg
        return out
