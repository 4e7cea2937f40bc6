"""Carrying an edited frame's edit along a run of source frames by dense optical flow.

The edit is held as a *layer*: an (H, W, 4) float32 array whose first three channels are
the payload and whose last is the edit mask (0 = leave the source, 1 = edited). Two
payload kinds (``transfer``):

- ``"detail"``: payload = edited - T(source), T the edit's colour transform
  (:mod:`editing.colour`). A frame is rebuilt as ``T(frame) + payload``, so the current
  frame's own detail, lighting and shape stay sharp and only the edit's departure from
  a pure colour change travels along the flow.
- ``"pixels"``: payload = the edited pixels themselves (EbSynth-like; best for opaque
  additions that should not take on the source's changes).

Per frame, :class:`Propagator` chains the backward flows into an absolute map from the
frame to its anchor (so the anchor's layer is resampled once however long the chain),
refines that map by direct DIS flow against the anchor every ``refine_every`` frames
(re-anchoring: the chain's drift is corrected and pixels lost to a passing occlusion
come back), and checks it with forward-backward consistency and the source frames'
photometric agreement. Pixels the anchor cannot supply take the previous frame's layer
where that is consistent, and otherwise are *revealed*: they get the payload of a pure
colour edit (the source pixels through T), never a smear. What pans in past the frame's
edge is revealed so and then carried; it is never matched back to the anchor.

A propagator may work on a *window* of each frame (``(x0, y0, x1, y1)``, changing from frame
to frame: a local edit's object and a margin around it, :class:`~editing.layers.Confinement`),
its layers then being the window's: flows, maps and blends cost the window's area, not the
frame's. Whatever a window's pixels carry from outside the previous frame's window counts as
lost on the way (as an occlusion does), and re-anchoring or the colour edit fills it.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from collections import deque
from dataclasses import dataclass
from itertools import islice
from typing import Iterable, Iterator

import cv2
import numpy as np

from .flow import (FlowEstimator, fb_consistency, flow_to_map, identity_map, inside,
                   map_to_flow, remap, sample_map, to_gray)

from .colour import ColourTransform

Window = tuple[int, int, int, int]      # (x0, y0, x1, y1), exclusive: the part worked on
MATCH_MARGIN = 16                       # px around a window's matches re-anchoring looks at


def full_window(image: np.ndarray) -> Window:
    return (0, 0, image.shape[1], image.shape[0])


def crop(image: np.ndarray, window: Window) -> np.ndarray:
    """The view of ``image`` (H, W[, C]) inside ``window``."""
    x0, y0, x1, y1 = window
    return image[y0:y1, x0:x1]


def _moved(coords: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Positions ``coords`` (h, w, 2) moved by (dx, dy) (the same array when both are 0)."""
    return coords if dx == 0 and dy == 0 else cv2.add(coords, (float(dx), float(dy), 0.0, 0.0))


@dataclass
class PropagationSettings:
    transfer: str = "detail"         # "detail" or "pixels"
    refine_every: int = 1            # direct re-anchoring flow every N frames (0 = never)
    min_coverage: float = 0.35       # switch anchor when it supplies less of the frame
    photo_lo: float = 10.0           # mean abs RGB error fully trusted ...
    photo_hi: float = 28.0           # ... and fully rejected
    feather: int = 5                 # px of blending at seams between sources
    smoothing: float = 0.0           # share of the previous frame's layer (carried along the
                                     # flow) kept where it is consistent: temporal smoothing


def initial_layer(source: np.ndarray, edited: np.ndarray, mask: np.ndarray,
                  colour: ColourTransform, transfer: str) -> np.ndarray:
    """(H, W, 4) float32 layer of an edited anchor frame; ``mask`` (H, W) float in [0, 1]."""
    payload = edited.astype(np.float32)
    if transfer == "detail":
        payload = payload - colour(source)
    return np.concatenate([payload, mask[..., None].astype(np.float32)], axis=2)


def revealed_layer(frame: np.ndarray, colour: ColourTransform, transfer: str,
                   mask: np.ndarray) -> np.ndarray:
    """(H, W, 4) layer for pixels no earlier frame explains: the pure colour edit."""
    h, w = frame.shape[:2]
    out = np.empty((h, w, 4), np.float32)
    if transfer == "detail":
        out[..., :3] = 0
    else:
        out[..., :3] = colour(frame)
    out[..., 3] = mask
    return out


def compose_window(frame: np.ndarray, layer: np.ndarray, window: Window,
                   colour: ColourTransform, transfer: str) -> np.ndarray:
    """(H, W, 3) uint8: ``frame`` with the edit of ``layer`` (the window's) applied inside
    ``window``."""
    if window == full_window(frame):
        return compose(frame, layer, colour, transfer)
    out = frame.copy()
    x0, y0, x1, y1 = window
    out[y0:y1, x0:x1] = compose(crop(frame, window), layer, colour, transfer)
    return out


def compose(frame: np.ndarray, layer: np.ndarray, colour: ColourTransform,
            transfer: str) -> np.ndarray:
    """(H, W, 3) uint8 output frame: the source with the layer's edit applied."""
    src = frame.astype(np.float32)
    edited = colour(frame) + layer[..., :3] if transfer == "detail" else layer[..., :3].copy()
    edited -= src
    edited *= layer[..., 3:4]
    edited += src + np.float32(0.5)
    return np.clip(edited, 0, 255, out=edited).astype(np.uint8)


def _ramp(err: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """(H, W) float32 trust: 1 up to ``lo``, falling to 0 at ``hi``."""
    r = (hi - err) * np.float32(1.0 / (hi - lo))
    return np.clip(r, 0.0, 1.0, out=r)


_CHANNEL_MEAN = np.full((1, 3), 1 / 3, np.float32)


def _photo_error(a: np.ndarray, b_warped: np.ndarray) -> np.ndarray:
    """(H, W) float32 locally averaged mean abs RGB difference."""
    d = cv2.transform(cv2.absdiff(a, b_warped), _CHANNEL_MEAN)       # uint8 channel mean
    return cv2.blur(d.astype(np.float32), (5, 5))


@dataclass
class Tracked:
    """What :meth:`Propagator.track` finds for one frame: the whole frame, and (h, w[, 2])
    float32 maps and weights over its window."""
    frame: np.ndarray          # (H, W, 3) uint8 source frame t
    window: Window             # the part of frame t worked on
    pmap: tuple                # map window of frame t -> frame t-1 (frame px; sample_map's)
    prev_map: tuple            # the same map into the previous frame's window (its px)
    cons: np.ndarray           # consistency of that flow (0 / 1; 0 from outside that window)
    coords: tuple              # map frame t -> anchor (sample_map's)
    valid: np.ndarray          # chain validity of ``coords``
    err_anchor: np.ndarray     # photometric error of ``coords`` against the anchor
    new_anchor: bool = False   # frame t becomes the anchor once its layer is known


class Propagator:
    """Carries one anchor's layer frame by frame. Call :meth:`step` with each next source
    frame; it returns ``(layer, confidence)``: the (H, W, 4) layer for that frame and an
    (H, W) float32 confidence in [0, 1] (1 = straight from an anchor, lower = carried from
    the previous frame, 0 = revealed), used to blend propagations from two keyframes
    (None when :attr:`confidence` is switched off). With windows (``window`` here for the
    anchor, then per frame), layers and confidences are the windows' (h, w[, 4]); ``layer``
    is always the anchor's whole (H, W, 4) layer.

    A step is three stages: :meth:`pair_flows` (consecutive flows and their consistency:
    source frames only), :meth:`track` (chaining, re-anchoring: the anchor map) and
    :meth:`blend` (the layer: needs the previous layer). :meth:`run` overlaps them on three
    threads, so on a multi-core CPU a frame costs about the slowest stage, not the sum."""

    def __init__(self, source: np.ndarray, layer: np.ndarray, colour: ColourTransform,
                 settings: PropagationSettings, flow: FlowEstimator,
                 anchor_flow: FlowEstimator | None = None, window: Window | None = None):
        self.settings = settings
        self.colour = colour
        self.flow = flow                           # consecutive frames (chaining, occlusion)
        # frame -> anchor refinement; its own DIS instance (run() uses both at once)
        self.anchor_flow = anchor_flow or FlowEstimator(flow.preset, flow.scale)
        self.anchors_used = 1
        self.size = source.shape[1], source.shape[0]
        window = window or full_window(source)
        self._anchor_layer = layer
        self._set_anchor(source, window)
        self._prev_gray = to_gray(source)          # tracking state (frame t-1)
        self._prev_src = source                    # blending state (frame t-1)
        self._prev_layer = crop(layer, window)
        self._prev_conf = np.ones(self._valid.shape, np.float32)
        self.confidence = True          # False: skip the confidence (only keyframes use it)

    def _set_anchor(self, source: np.ndarray, window: Window) -> None:
        x0, y0, x1, y1 = window
        self._anchor = source
        self._anchor_gray = to_gray(source)
        self._window = window                      # the tracking state's window
        self._coords = _moved(identity_map(y1 - y0, x1 - x0), x0, y0)
        self._valid = np.ones((y1 - y0, x1 - x0), np.float32)
        self._entered = np.zeros((y1 - y0, x1 - x0), np.float32)   # came in past the edge
        self._since_refine = 0

    def step(self, frame: np.ndarray, window: Window | None = None) -> tuple[np.ndarray,
                                                                             np.ndarray]:
        return self.blend(self.track(frame, window=window))

    def run(self, frames: Iterable[np.ndarray], window_of=None) -> Iterator[tuple]:
        """``(frame, layer, confidence, window)`` for each of ``frames``, as :meth:`step`
        gives them, on three stages that overlap: the consecutive flows of frame t+2 (they
        need only the source frames), the anchor map of frame t+1 (chaining, re-anchoring)
        and the layer of frame t, each on its own thread (OpenCV releases the GIL).
        ``window_of(frame)``, called in order on the flows' thread, gives each frame's
        window (default: the whole frame)."""
        it = iter(frames)
        prev_gray = self._prev_gray
        queue: deque = deque()
        with ThreadPoolExecutor(1) as flows, ThreadPoolExecutor(1) as anchors:
            def flows_of(prev: np.ndarray, gray: np.ndarray, frame: np.ndarray) -> tuple:
                return self.pair_flows(prev, gray, window_of(frame) if window_of else None)

            def submit(frame: np.ndarray) -> None:
                nonlocal prev_gray
                gray = to_gray(frame)
                pair = flows.submit(flows_of, prev_gray, gray, frame)
                prev_gray = gray
                queue.append(anchors.submit(lambda: self.track(frame, pair.result())))

            for frame in islice(it, 2):
                submit(frame)
            while queue:
                tracked = queue.popleft().result()
                nxt = next(it, None)
                if nxt is not None:
                    submit(nxt)
                layer, conf = self.blend(tracked)
                yield tracked.frame, layer, conf, tracked.window

    def pair_flows(self, prev_gray: np.ndarray, gray: np.ndarray,
                   window: Window | None = None) -> tuple:
        """(gray, backward flow t -> t-1, its forward-backward consistency as float32,
        window): the flows of the window (default: the whole frame) of both frames."""
        window = window or full_window(gray)
        a = np.ascontiguousarray(crop(gray, window))
        b = np.ascontiguousarray(crop(prev_gray, window))
        back = self.flow(a, b)                           # frame t -> t-1
        fwd = self.flow(b, a)                            # frame t-1 -> t
        return gray, back, fb_consistency(back, fwd).astype(np.float32), window

    def track(self, frame: np.ndarray, pair: tuple | None = None,
              window: Window | None = None) -> Tracked:
        """The chained (and re-anchored) map frame t -> anchor over ``window``; ``pair`` is
        :meth:`pair_flows` of the previous and this frame when already computed."""
        s = self.settings
        gray, back, cons, window = pair or self.pair_flows(self._prev_gray, to_gray(frame),
                                                           window)
        x0, y0 = window[:2]
        px, py, px1, py1 = self._window
        pmap = _moved(flow_to_map(back), x0, y0)        # frame px of frame t-1
        prev_map = _moved(pmap, -px, -py)                # px of the previous window
        if self._window != full_window(frame):          # carried from outside it: lost
            cons = cv2.multiply(cons, inside(prev_map, size=(px1 - px, py1 - py)))
        to_prev = sample_map(prev_map)                  # converted once, used five times
        self._coords = remap(self._coords, to_prev)
        self._valid = cv2.multiply(remap(self._valid, to_prev), cons)
        self._entered = cv2.max(remap(self._entered, to_prev, border="constant"),
                                1 - inside(pmap, size=self.size))
        self._since_refine += 1
        here = crop(frame, window)
        refine = s.refine_every and self._since_refine >= s.refine_every
        err_a = self._refine(gray, here, window) if refine else None
        to_anchor = sample_map(self._coords)
        if err_a is None:
            err_a = _photo_error(here, remap(self._anchor, to_anchor))
        to_prev_frame = to_prev if pmap is prev_map else sample_map(pmap)
        out = Tracked(frame, window, to_prev_frame, to_prev, cons, to_anchor, self._valid,
                      err_a)
        coverage = float(np.mean(self._valid * _ramp(err_a, s.photo_lo, s.photo_hi)))
        if coverage < s.min_coverage:                   # anchor mostly out of view: move it
            self._set_anchor(frame, window)
            out.new_anchor = True
        self._window = window
        self._prev_gray = gray
        return out

    def blend(self, t: Tracked) -> tuple[np.ndarray, np.ndarray]:
        """The layer of a tracked frame (its window's) from the anchor's and the previous
        frame's."""
        s = self.settings
        here = crop(t.frame, t.window)
        w_a = self._feather(t.valid * _ramp(t.err_anchor, s.photo_lo, s.photo_hi))
        w_p = self._feather(t.cons * _ramp(_photo_error(here, remap(self._prev_src, t.pmap)),
                                           s.photo_lo, s.photo_hi))
        from_prev = remap(self._prev_layer, t.prev_map)
        from_anchor = remap(self._anchor_layer, t.coords)
        # carried = w_p * from_prev + (1 - w_p) * revealed (the colour-edit payload), then
        # layer = w_a * from_anchor + (1 - w_a) * carried: per-pixel blends in one pass each
        fill = revealed_layer(here, self.colour, s.transfer, from_prev[..., 3])
        carried = cv2.blendLinear(from_prev, fill, w_p, 1 - w_p)
        layer = cv2.blendLinear(from_anchor, carried, w_a, 1 - w_a)
        if s.smoothing > 0:       # exponential smoothing along the flow: less flicker
            keep = w_p * np.float32(s.smoothing)
            layer = cv2.blendLinear(from_prev, layer, keep, 1 - keep)
        conf = None
        if self.confidence:
            conf = w_a + (1 - w_a) * w_p * 0.5 * remap(self._prev_conf, t.prev_map)
        if t.new_anchor:
            self._anchor_layer = self._whole(layer, t.window)
            self.anchors_used += 1
        self._prev_src, self._prev_layer, self._prev_conf = t.frame, layer, conf
        return layer, conf

    def _whole(self, layer: np.ndarray, window: Window) -> np.ndarray:
        """(H, W, 4) layer: the window's ``layer`` in place, no edit elsewhere."""
        w, h = self.size
        if layer.shape[:2] == (h, w):
            return layer
        out = np.zeros((h, w, layer.shape[2]), np.float32)
        x0, y0, x1, y1 = window
        out[y0:y1, x0:x1] = layer
        return out

    def _matched_window(self, window: Window) -> Window:
        """The window both the frame and the anchor are cropped to for re-anchoring:
        ``window`` grown to hold where the chain puts its pixels on the anchor (sampled;
        a margin of MATCH_MARGIN px), inside the frame."""
        x0, y0, x1, y1 = window
        w, h = self.size
        if (x1 - x0, y1 - y0) == (w, h):
            return window
        ok = self._valid[::4, ::4] > 0.5
        if not ok.any():
            return window
        to = self._coords[::4, ::4][ok]                                  # (n, 2) anchor px
        lo = np.floor(to.min(0)).astype(int) - MATCH_MARGIN
        hi = np.ceil(to.max(0)).astype(int) + MATCH_MARGIN
        return (max(0, min(x0, lo[0])), max(0, min(y0, lo[1])), min(w, max(x1, hi[0])),
                min(h, max(y1, hi[1])))

    def _refine(self, gray: np.ndarray, frame: np.ndarray, window: Window) -> np.ndarray:
        """Re-anchor: direct flow from the frame (``gray``: whole; ``frame``: the window's
        crop) to the anchor, started from the chained map, over the window grown to hold
        the pixels' matches (:meth:`_matched_window`); keep, per pixel, whichever of the
        chained and direct maps explains the frame better (the chain's drift is removed
        without trusting the direct flow where it fails). Returns the (h, w) photometric
        error of the map kept."""
        self._since_refine = 0
        s = self.settings
        big = self._matched_window(window)
        bx, by, bx1, by1 = big
        x0, y0, x1, y1 = window
        inner = (slice(y0 - by, y1 - by), slice(x0 - bx, x1 - bx))       # window in ``big``
        init = np.zeros((by1 - by, bx1 - bx, 2), np.float32)   # outside the window: no guess
        init[inner] = map_to_flow(_moved(self._coords, -x0, -y0))
        direct = self.anchor_flow(np.ascontiguousarray(crop(gray, big)),
                                  np.ascontiguousarray(crop(self._anchor_gray, big)), init=init)
        new = _moved(flow_to_map(np.ascontiguousarray(direct[inner])), x0, y0)
        err_new = _photo_error(frame, remap(self._anchor, new))
        err_chain = _photo_error(frame, remap(self._anchor, self._coords))
        err_old = err_chain + (1 - self._valid) * 1e3
        # pixels the chain lost come back only when the direct flow explains them well, and
        # never what came in past the frame's edge: the anchor never showed it, so a match
        # there is a look-alike, a different one each frame, and the carried edit would boil
        take = ((err_new < err_old) & ((self._valid > 0.5) | (err_new < 0.5 * s.photo_lo))
                & (self._entered < 0.5))
        # in place: this frame's chained maps and errors are new arrays nothing else holds
        np.copyto(self._coords, new, where=take[..., None])
        # a pixel the chain lost (occluded on the way) is trusted again once the direct
        # flow explains it; the photometric ramp in blend() still judges it
        np.copyto(self._valid, np.float32(1.0), where=take)
        np.copyto(err_chain, err_new, where=take)
        return err_chain

    def _feather(self, weight: np.ndarray) -> np.ndarray:
        k = self.settings.feather
        if k <= 1:
            return weight
        # erode then blur: seams move into the trusted side, never onto untrusted pixels
        w = cv2.erode(weight, np.ones((k, k), np.uint8))
        return cv2.blur(w, (k, k))

