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

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import cv2
import numpy as np

from .flow import FlowEstimator, flow_to_map, remap, to_gray
from .mesh import ObjectMesh, mesh_box
from .colour_model import ColourModel
from .plate import Plate, edited_outline, translation

PHOTO_TOLERANCE = 24.0     # mean abs RGB error above which a flow match is not used
WORK_SIDE = 256            # long side the object is tracked at
FINE_SIDE = 320            # long side of the crop around the object its motion is refined on
ROBUST_PX = 3.0            # vertex residual scale of the robust reweighting
# weight of the flow against as-rigid-as-possible in the fit of a confinement's mesh, 4x a
# layer's (ObjectMesh's 0.5): a segment's edge has no texture to keep from warping, and a
# stiffer mesh lags where clothing bends (shoulders, sleeves, a collar), cutting the edit
# there in some frames and not others
SEGMENT_DATA_WEIGHT = 2.0
# px around a confined object's segment that its propagation works on (more than an object
# moves between two frames: what a window's pixel carries comes from the last window)
WINDOW_MARGIN = 24
REACH_PX = 24        # how far past its moved segment a confined object's newly seen parts reach
SEEN_FEATHER = 5.0   # px (Gaussian sigma) the edge of such parts is feathered over
OBJECT_ODDS = 1.0    # log-likelihood ratio over which a colour counts as the object's
RING_PX = 40         # background ring around the edit whose colours the object's are told from


def soft_mask(mask: np.ndarray, grow: int) -> np.ndarray:
    """(H, W) float32 in [0, 1]: ``mask`` grown by ``grow`` px and feathered as much."""
    m = mask.astype(np.uint8)
    if grow > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
        m = cv2.dilate(m, k)
    return np.clip(cv2.GaussianBlur(m.astype(np.float32), (0, 0), max(1.0, grow / 3)), 0, 1)


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
    disc's is found within 1 %); with ``refine``, each fit is then refined on a crop around
    the object at up to the frame's own resolution (:class:`CropRefiner`), so a layer's
    texture does not jitter by the working size's sub-pixel errors. :class:`Motion` is
    given in the frame's own pixels and :attr:`full_mesh` is the mesh at that size.
    ``data_weight`` is the mesh fit's weight of the flow against rigidity (:class:`ObjectMesh`);
    without ``background`` the background's homography is not fitted (it stays the identity:
    a confinement moves only the object's segment)."""

    def __init__(self, anchor: np.ndarray, region: np.ndarray, work_side: int = WORK_SIDE,
                 preset: str = "balanced", refine: bool = True, data_weight: float = 0.5,
                 background: bool = True):
        self.size = region.shape[::-1]
        self.scale = min(1.0, work_side / max(self.size))
        anchor_full, region_full = anchor, region
        anchor, region = self._work(anchor), self._work_mask(region)
        h, w = region.shape
        self.work_size = (w, h)
        area = max(float(region.sum()), 1.0)
        spacing = float(np.clip(np.sqrt(area) / 8, 8, 48))
        self.mesh = ObjectMesh(mesh_box(region, int(spacing), self.work_size), spacing, data_weight)
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
        self.track_background = background
        self._sample = _vertex_sampler(spacing)
        self.grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32),
                                         np.arange(h, dtype=np.float32)), -1)
        fine = CropRefiner(anchor_full, region_full, self.mesh, self.scale, core) if refine else None
        self.refiner = fine if fine is not None and fine.worth else None

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
        full, frame = frame, self._work(frame)
        flow = self.flow(self.anchor_gray, to_gray(frame), init=self._predicted_flow())
        trust = self._trust(frame, flow)
        targets, weights = self._sample(flow, trust * self.core, self.mesh.rest)
        x = robust_fit(self.mesh, targets, weights, self.vertices)
        if self.refiner is not None:
            x = self.refiner.refine(full, x)
        if self.track_background:
            self.homography = self._background_motion(flow, trust)
        self.vertices = x
        return self.to_frame(x.copy(), self.homography.copy())

    def segment(self, mask: np.ndarray, vertices: np.ndarray | None = None) -> np.ndarray:
        """(H, W[, C]) float32: the anchor's ``mask`` (working size, float; C <= 4 masks
        stacked share one map) moved by the mesh at ``vertices`` (work px; default: where
        the object is in the last frame stepped), at the frame's size."""
        x = self.vertices if vertices is None else vertices
        moved = remap(mask, self.mesh.backward_map(x, self.work_size))
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
        return photo_trust(self.anchor, remap(frame, flow_to_map(flow)))

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


def photo_trust(anchor: np.ndarray, landed: np.ndarray) -> np.ndarray:
    """(H, W) float32 1 / 0: where the anchor's colour matches what the flow lands on (mean
    absolute RGB difference over 5 x 5 px under PHOTO_TOLERANCE)."""
    err = cv2.transform(cv2.absdiff(anchor, landed), _MEAN_RGB)          # (H, W) uint8
    return (cv2.blur(err, (5, 5)) < PHOTO_TOLERANCE).astype(np.float32)


_MEAN_RGB = np.full((1, 3), 1 / 3, np.float32)


def robust_fit(mesh: ObjectMesh, targets: np.ndarray, weights: np.ndarray,
               previous: np.ndarray) -> np.ndarray:
    """(N, 2) ARAP fit of ``mesh`` to ``targets``, refitted with outlying vertices
    (residual over ROBUST_PX) down-weighted."""
    x = mesh.fit(targets, weights, previous)
    resid = np.linalg.norm(x - targets, axis=1)
    return mesh.fit(targets, weights / (1 + (resid / ROBUST_PX) ** 2), x)


class CropRefiner:
    """Refines a tracker's mesh fit on a crop around the object at up to the frame's own
    resolution (at most FINE_SIDE px on the crop's long side): the whole-frame flow at the
    working size finds the motion, a DIS flow on the crop, started from it, finds its last
    pixel. ``worth`` is False where the crop would not be sharper than the working size.

    Coordinates: "work" px are the tracker's (its mesh), "fine" px are the frame's scaled
    by ``fine``; the crop's top-left is at ``origin`` (fine px) of the anchor frame."""

    def __init__(self, anchor: np.ndarray, region: np.ndarray, mesh: ObjectMesh,
                 work_scale: float, core_px: int):
        h, w = region.shape
        box = np.array(mesh.box, np.float64) / work_scale                # full-res px
        margin = 2 * mesh.spacing / work_scale
        lo = np.maximum(box[:2] - margin, 0)
        hi = np.minimum(box[2:] + margin, [w, h])
        self.fine = min(1.0, FINE_SIDE / max(hi - lo))
        self.k = self.fine / work_scale                                   # fine px per work px
        self.worth = self.k > 1.25
        self.mesh, self.origin = mesh, lo * self.fine
        self.size = (max(8, int(round((hi - lo)[0] * self.fine))),
                     max(8, int(round((hi - lo)[1] * self.fine))))
        self.anchor = self._crop(anchor, np.zeros(2))
        self.anchor_gray = to_gray(self.anchor)
        inside = self._crop(region.astype(np.float32), np.zeros(2)) > 0.5
        r = max(1, int(round(core_px * self.k)))
        core = cv2.erode(inside.astype(np.uint8), np.ones((2 * r + 1,) * 2, np.uint8))
        self.core = (core if core.sum() > 64 else inside).astype(np.float32)
        cw, ch = self.size
        grid = np.stack(np.meshgrid(np.arange(cw, dtype=np.float32),
                                    np.arange(ch, dtype=np.float32)), -1)
        self.grid_work = (grid + self.origin.astype(np.float32)) / np.float32(self.k)
        rest = mesh.rest * self.k - self.origin                            # crop px
        self.rest_crop = rest
        self.in_crop = ((rest >= 0) & (rest <= [cw - 1, ch - 1])).all(1)
        self.flow = FlowEstimator("balanced", 1.0)
        self._sample = _vertex_sampler(mesh.spacing)

    def _crop(self, image: np.ndarray, shift: np.ndarray) -> np.ndarray:
        """The crop of a full-res ``image`` at fine scale, moved by ``shift`` (2,) fine px."""
        ox, oy = self.origin + shift
        a = np.array([[self.fine, 0, -ox], [0, self.fine, -oy]], np.float64)
        return cv2.warpAffine(image, a, self.size, flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)

    def refine(self, frame: np.ndarray, x: np.ndarray) -> np.ndarray:
        """(N, 2) work-px vertices: ``x`` (the coarse fit) refitted to the crop's flow."""
        disp = self.mesh.displacement(x, self.grid_work) * np.float32(self.k)  # (ch, cw, 2)
        shift = np.round((x - self.mesh.rest)[self.in_crop].mean(0) * self.k) if self.in_crop.any() \
            else np.zeros(2)
        moved = self._crop(frame, shift)
        flow = self.flow(self.anchor_gray, to_gray(moved),
                         init=np.ascontiguousarray(disp - shift.astype(np.float32)))
        trust = photo_trust(self.anchor, remap(moved, flow_to_map(flow)))
        # vertex averages on an area-reduced copy (the crop at about the working size): the
        # means keep the fine flow's precision, the blurs cost a k-th squared
        small = (max(8, round(self.size[0] / self.k)), max(8, round(self.size[1] / self.k)))
        weight = trust * self.core
        red = [cv2.resize(a, small, interpolation=cv2.INTER_AREA)
               for a in (flow[..., 0] * weight, flow[..., 1] * weight, weight)]
        safe = np.maximum(red[2], 1e-6)
        mean_flow = np.stack([red[0] / safe, red[1] / safe], -1)            # fine px
        ratio = np.array(small, np.float64) / np.array(self.size, np.float64)
        at = (self.rest_crop + 0.5) * ratio - 0.5                           # reduced px
        moved_to, weights = self._sample(mean_flow, red[2], at)
        targets = (self.rest_crop + (moved_to - at) + shift + self.origin) / self.k   # work px
        return robust_fit(self.mesh, targets, np.where(self.in_crop, weights, 0.0), x)


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
    plate: Plate               # the background, on a canvas reaching past the frame
    stats: dict = field(default_factory=dict)


def plan_layer(frames, anchor: np.ndarray, edited: np.ndarray, region: np.ndarray,
               grow: int) -> LayerPlan:
    """Pass 1 over ``frames`` (the source frames after the anchor, an iterable): the
    object's motions and the background plate; then the edited object's outline."""
    h, w = region.shape
    tracker = ObjectTracker(anchor, region)
    cover = soft_mask(region, grow + 4)                            # object + margin
    cover_work = tracker._work(cover)
    clear = soft_mask(region, clear_grow(grow))
    x0, y0, x1, y1 = mesh_box(clear > 0.01, 2, (w, h))      # inside the frame, needed here
    plate = Plate((w, h), (x0, y0, x1 + 1, y1 + 1))
    motions = [Motion(tracker.full_mesh.rest.copy(), np.eye(3))]

    def fill_plate(frame: np.ndarray, m: Motion) -> None:
        if plate.wants(m.homography):
            busy = tracker.segment(cover_work, m.vertices * tracker.scale) > 0.01  # object at t
            plate.add(frame, ~busy, m.homography)

    # the tracker chains from frame to frame on this thread; the plate is filled (in order)
    # on a worker, overlapping the next frames' tracking
    with ThreadPoolExecutor(1) as worker:
        filled = []
        for frame in frames:
            motions.append(tracker.step(frame))
            filled.append(worker.submit(fill_plate, frame, motions[-1]))
        for job in filled:
            job.result()
    after = edited_outline(anchor, edited, region, *plate.anchor_view())
    stats = plate.finish(edited, region, after, sampled_box(motions, tracker.full_mesh, plate))
    stats["frames_tracked"] = len(motions)
    alpha = cv2.GaussianBlur(after.astype(np.float32), (0, 0), 0.6)   # anti-aliased edge
    return LayerPlan(motions, tracker.full_mesh, edited, clear, alpha, plate, stats)


def sampled_box(motions: list[Motion], mesh: ObjectMesh, plate: Plate) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) canvas box of everything pass 2 samples from the plate: each frame's
    deformed mesh box moved back to the anchor by the background's motion."""
    w, h = plate.size
    pts = []
    for m in motions:
        x0, y0, x1, y1 = mesh.deformed_box(m.vertices, (w, h))
        corners = np.array([[[x0, y0], [x1, y0], [x0, y1], [x1, y1]]], np.float32)
        back = plate.from_anchor @ np.linalg.inv(m.homography)
        pts.append(cv2.perspectiveTransform(corners, back)[0])
    pts = np.concatenate(pts)
    ch, cw = plate.known.shape
    lo = np.clip(np.floor(pts.min(0)).astype(int) - 2, 0, [cw, ch])
    hi = np.clip(np.ceil(pts.max(0)).astype(int) + 2, 0, [cw, ch])
    return int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1])


def clear_grow(grow: int) -> int:
    """Pixels the area cleared to the plate reaches beyond the edited region: further than
    the edit's own mask, so parts of the original object that move beyond the mesh's fit
    (an ear as a head turns) are cleared too."""
    return 2 * grow + 8


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
    shift = translation(-x0, -y0) @ m.homography @ np.linalg.inv(plan.plate.from_anchor)
    plate = cv2.warpPerspective(plan.plate.image, shift, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
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
    turning sleeve say, the object still gets the edit's colour transform). :attr:`window`
    is the box of the last frame's grown segment with WINDOW_MARGIN px around it: the
    only part of the frame the edit can show in."""

    def __init__(self, anchor: np.ndarray, region: np.ndarray, grow: int):
        self.tracker = ObjectTracker(anchor, region, refine=False,   # a mask's edge, not a layer's
                                     data_weight=SEGMENT_DATA_WEIGHT, background=False)
        inner = cv2.erode(region.astype(np.uint8), np.ones((5, 5), np.uint8))
        outer = soft_mask(region, grow + 2)
        self.masks = np.dstack([self.tracker._work(outer),                   # outer
                                self.tracker._work(soft_mask(inner, 0))])    # inner
        self.window = self._window_of(outer, (0, 0, *self.tracker.size))
        ring = (soft_mask(region, RING_PX) > 0.5) & ~(outer > 0.01)
        self.colours = ColourModel(anchor, inner > 0, ring) if ring.sum() >= 64 else None

    def __call__(self, frame: np.ndarray, layer: np.ndarray) -> np.ndarray:
        return self.apply(layer, self.segments(frame))

    def segments(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(outer, inner) (H, W) float32 segments of the object in ``frame`` (the next one
        in order): needs only the source frames, so it may run ahead of the layer. Moves
        :attr:`window` to the frame."""
        self.tracker.step(frame)
        both = self.tracker.segment(self.masks)
        outer, inner = both[..., 0], both[..., 1]
        self.window = self._window_of(outer, self.window)
        if self.colours is not None:
            x0, y0, x1, y1 = self.window
            part = (slice(y0, y1), slice(x0, x1))
            seen = self._come_into_view(frame[part], outer[part], inner[part])
            np.maximum(outer[part], seen, out=outer[part])
            np.maximum(inner[part], seen, out=inner[part])
        return outer, inner

    def _come_into_view(self, frame: np.ndarray, outer: np.ndarray,
                        inner: np.ndarray) -> np.ndarray:
        """(h, w) float32 soft mask of the object's parts the moved segment misses (they
        came into view after the anchor): pixels within REACH_PX of the segment whose
        colours are e (2.7) times likelier the object's than its surroundings'
        (:class:`ColourModel`), joined to the segment's core."""
        core = (inner > 0.5).astype(np.uint8)
        away = cv2.distanceTransform((outer <= 0.5).astype(np.uint8), cv2.DIST_L2, 3)
        near = away <= REACH_PX
        looks = near & (self.colours.ratio(frame) > OBJECT_ODDS) & (core == 0)
        # specks and threads of look-alike background go: what is left joins the core broadly
        looks = cv2.morphologyEx(looks.astype(np.uint8), cv2.MORPH_OPEN, _disc(4)) > 0
        if not looks.any():
            return np.zeros(inner.shape, np.float32)
        _, labels = cv2.connectedComponents((looks | (core > 0)).astype(np.uint8))
        joined = np.isin(labels, np.unique(labels[core > 0])) & looks
        return cv2.GaussianBlur(joined.astype(np.float32), (0, 0), SEEN_FEATHER)

    @staticmethod
    def _window_of(outer: np.ndarray, last: tuple) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) box of ``outer`` > 0 grown by WINDOW_MARGIN, inside the frame
        (``last`` when the segment is empty: the object is out of view)."""
        seen = outer > 0.01
        if not seen.any():
            return last
        x0, y0, x1, y1 = mesh_box(seen, WINDOW_MARGIN, seen.shape[::-1])    # x1, y1 inside
        return x0, y0, x1 + 1, y1 + 1

    @staticmethod
    def apply(layer: np.ndarray, segments: tuple[np.ndarray, np.ndarray],
              window: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """``layer`` (h, w, 4; the window's, default the whole frame) with its mask cut to
        the ``outer`` segment and raised to the ``inner`` one ((H, W) each)."""
        outer, inner = segments
        if window is not None:
            x0, y0, x1, y1 = window
            outer, inner = outer[y0:y1, x0:x1], inner[y0:y1, x0:x1]
        out = layer.copy()
        alpha = out[..., 3]
        alpha *= outer
        np.maximum(alpha, inner, out=alpha)
        return out


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
