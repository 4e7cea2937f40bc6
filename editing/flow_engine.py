"""The weight-free "flow" engine: DIS optical flow propagation of the edited first frame
(and keyframes) through the source video, streamed frame by frame.

Without keyframes the clip is one forward pass that holds only a few frames in memory.
With keyframes, each stretch between two keyframes is propagated from both ends: the
stretch's source frames and the backward pass's layers are kept in temporary disk-backed
arrays (RAM stays bounded; disk use is about 20 bytes per pixel per frame of the
stretch), then the forward pass blends the two by confidence and distance.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .flow import FlowEstimator
from animakit.media.partfiles import scratch_dir
from animakit.errors import InputError
from animakit.params import param
from animakit.pipeline import Engine, FrameStream
from animakit.threads import one_thread

from .colour import ColourTransform, fit_colour_transform
from .inputs import (check_keyframe_indices, keyframe_sources, load_edit_image, load_mask,
                     open_source_video)
from .layers import Confinement, plan_layer, render_layer_frame, soft_mask
from .propagate import (PropagationSettings, Propagator, compose, compose_window,
                        initial_layer)
from .regions import WHOLE_FRAME_FRACTION, EditRegion, find_edit_region

FULL_FRAME_FRACTION = WHOLE_FRAME_FRACTION   # an automatic mask above this share = whole frame
KEEP_DECODED_BYTES = 256 * 2**20     # a layer's pass 1 keeps the frames for pass 2 up to this


def auto_mask(source: np.ndarray, edited: np.ndarray, threshold: float, grow: int) -> np.ndarray:
    """(H, W) float32 soft mask of where ``edited`` differs from ``source`` (its main
    parts, :func:`~editing.regions.find_edit_region`); the whole frame when the edit
    covers most of it (a restyle)."""
    return region_mask(find_edit_region(source, edited, None, threshold), grow)


def region_mask(region: EditRegion, grow: int) -> np.ndarray:
    """(H, W) float32 soft mask of an edit region grown by ``grow`` px and feathered."""
    if region.whole_frame:
        return np.ones(region.region.shape, np.float32)
    return soft_mask(region.region, grow)


def choose_propagation(requested: str, region: EditRegion, has_keyframes: bool) -> str:
    """``flow`` or ``layer``: ``auto`` carries shape edits as layers, everything else (and
    any clip with keyframes) by the per-pixel flow."""
    if requested == "layer" and has_keyframes:
        raise InputError("keyframes", "propagation=layer carries the first frame's edit "
                                      "only; use propagation=flow (or auto) with keyframes")
    if requested != "auto":
        return requested
    return "layer" if region.kind == "shape" and not has_keyframes else "flow"


class _Setup:
    """Everything the frame generator needs, loaded and checked up front."""

    def __init__(self, inputs: dict[str, Any], params: Any):
        self.reader, self.num_frames = open_source_video(inputs["video"])
        self.size = self.reader.size
        self.notes: list[str] = []
        self.edits = {0: load_edit_image(inputs["edited"], "edited", self.size, self.notes)}
        if "keyframes" in inputs:
            sources = keyframe_sources(inputs["keyframes"])
            check_keyframe_indices(list(sources), self.num_frames)
            for i, src in sorted(sources.items()):
                self.edits[i] = load_edit_image(src, f"keyframe {i}", self.size, self.notes)
        self.user_mask = load_mask(inputs["mask"], self.size, self.notes) \
            if "mask" in inputs else None
        self.params = params
        self.settings = PropagationSettings(
            transfer=params.transfer, refine_every=params.refine_every,
            photo_lo=params.match_tolerance, photo_hi=params.match_tolerance * 2.8,
            feather=params.feather, smoothing=params.temporal_smoothing)
        long_side = max(self.size)
        self.flow_scale = min(1.0, params.flow_size / long_side)

    def estimators(self) -> tuple[FlowEstimator, FlowEstimator]:
        """(consecutive-frame estimator, anchor-refinement estimator)."""
        p = self.params
        return (FlowEstimator("fast", self.flow_scale),
                FlowEstimator(p.flow_preset, self.flow_scale))


def _anchor_regions(setup: _Setup, sources: dict[int, np.ndarray]) -> dict[int, EditRegion]:
    """Each edited frame's :class:`EditRegion` (the user's mask for the first)."""
    p = setup.params
    return {i: find_edit_region(sources[i], edited, setup.user_mask if i == 0 else None,
                                p.mask_threshold) for i, edited in setup.edits.items()}


def _anchor_masks(setup: _Setup, sources: dict[int, np.ndarray],
                  regions: dict[int, EditRegion]) -> dict[int, np.ndarray]:
    """Each edited frame's soft mask: the user's own for the first, else the region's."""
    masks = {i: region_mask(r, setup.params.mask_grow) for i, r in regions.items()}
    if setup.user_mask is not None:
        masks[0] = setup.user_mask
    return masks


def _fit_colour(setup: _Setup, sources: dict[int, np.ndarray],
                masks: dict[int, np.ndarray]) -> ColourTransform:
    src = np.concatenate([sources[i].reshape(-1, 3) for i in setup.edits])
    edt = np.concatenate([setup.edits[i].reshape(-1, 3) for i in setup.edits])
    w = np.concatenate([masks[i].reshape(-1) for i in setup.edits])
    return fit_colour_transform(src, edt, (w > 0.5).astype(np.float32))


def _read_keyframe_sources(setup: _Setup, frames: "_Frames") -> dict[int, np.ndarray]:
    """Source frames at the keyframe indices. The first comes from ``frames`` (and is pushed
    back for the render); later keyframes cost one extra decode pass."""
    first = next(frames).copy()
    frames.pending = first
    out = {0: first}
    wanted = set(setup.edits) - {0}
    for i, frame in enumerate(setup.reader if wanted else ()):
        if i in wanted:
            out[i] = frame.copy()
            if wanted <= out.keys():
                break
    return out


def _frames(setup: _Setup, extras: dict) -> Iterator[np.ndarray]:
    p = setup.params
    frames = _Frames(setup.reader)
    sources = _read_keyframe_sources(setup, frames)
    regions = _anchor_regions(setup, sources)
    route = choose_propagation(p.propagation, regions[0], len(setup.edits) > 1)
    extras["propagation"], extras["edit_kind"] = route, regions[0].kind
    if route == "layer":
        yield from _layer_frames(setup, frames, regions[0], extras)
        return
    # without keyframes the one stretch's confinement is built on a worker meanwhile
    confining = _confinement_soon(sources[0], regions[0], p) if len(setup.edits) == 1 else None
    masks = _anchor_masks(setup, sources, regions)
    colour = _fit_colour(setup, sources, masks)
    layers = {i: initial_layer(sources[i], setup.edits[i], masks[i], colour, p.transfer)
              for i in setup.edits}
    if p.transfer == "detail":
        for i, layer in layers.items():
            # off its region an anchor's payload only undoes the colour transform (the mask's
            # grown rim is background); a pixel the flow maps there (a turning sleeve onto the
            # background beside it) would lose the edit
            layer[..., :3] *= regions[i].region[..., None]
    keys = sorted(layers)
    extras["keyframes"] = keys
    extras["edit_mask_coverage"] = float(masks[0].mean())
    fast, precise = setup.estimators()
    for k, start in enumerate(keys):
        end = keys[k + 1] if k + 1 < len(keys) else None
        first = next(frames).copy()
        yield compose(first, layers[start], colour, p.transfer)
        if end is not None:
            confine = None
        elif confining is not None:                      # start == 0: built meanwhile
            confine = confining.result()
        else:
            confine = _confinement(first, regions[start], p)
        prop = Propagator(first, layers[start], colour, setup.settings, fast, precise,
                          window=confine.window if confine else None)
        if end is None:
            prop.confidence = False
            if confine is None:
                for frame, layer, _, _ in prop.run(frames):
                    yield compose(frame, layer, colour, p.transfer)
            else:
                yield from _confined(prop, frames, confine, colour, p.transfer)
        else:
            yield from _two_sided(frames, start, end, prop, layers[end], colour, setup,
                                  fast, precise)
        extras["anchor_switches"] = extras.get("anchor_switches", 0) + prop.anchors_used - 1


def _confinement(first: np.ndarray, region: EditRegion, p: "FlowEditParams"):
    """The :class:`Confinement` keeping a local edit to its object's tracked segment (no
    bleed onto what moves past it); None for whole-frame edits."""
    if region.whole_frame or not region.region.any():
        return None
    return Confinement(first, region.region, p.mask_grow)


def _confinement_soon(first: np.ndarray, region: EditRegion, p: "FlowEditParams") -> Future:
    """:func:`_confinement` of the first frame, being built on a worker thread (its object
    tracker's set-up overlaps the colour fit and the first frame's composing)."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="animakit-confinement")
    future = pool.submit(_confinement, first, region, p)
    pool.shutdown(wait=False)                    # the worker ends with its one task
    return future


def _confined(prop: Propagator, frames: Iterator[np.ndarray], confine: Confinement,
              colour: ColourTransform, transfer: str) -> Iterator[np.ndarray]:
    """The propagator's frames with each layer kept to its object. The object's tracker
    needs only source frames: it runs on the propagator's flows thread, ahead of the
    layer, and its segment gives the window the propagator works on (the object and a
    margin: nothing outside it can show the edit)."""
    segments: deque = deque()

    def window_of(frame: np.ndarray):
        segments.append(confine.segments(frame))
        return confine.window

    for frame, layer, _, window in prop.run(frames, window_of):
        cut = Confinement.apply(layer, segments.popleft(), window)
        yield compose_window(frame, cut, window, colour, transfer)


def _layer_frames(setup: _Setup, frames: "_Frames", region: EditRegion,
                  extras: dict) -> Iterator[np.ndarray]:
    """The clip with the first frame's edit carried as a layer: pass 1 (``frames``, the
    first one still to come) tracks the object and builds the background plate, pass 2
    renders (the video is decoded twice)."""
    if not region.region.any():
        raise InputError("mask", "the edit region is empty: nothing to carry as a layer")
    first = next(frames)
    kept = _Kept(frames, first, KEEP_DECODED_BYTES)
    plan = plan_layer(kept, first, setup.edits[0], region.region, setup.params.mask_grow)
    extras.update(plan.stats)
    for t, frame in enumerate(kept.frames or setup.reader):
        yield render_layer_frame(frame, plan, min(t, len(plan.motions) - 1))


class _Kept:
    """Iterates ``frames`` (pass 1), keeping a copy of each, after ``first``, while they
    fit in ``budget`` bytes: :attr:`frames` is then the whole clip for pass 2 (a short
    clip is decoded once), else None (pass 2 decodes again)."""

    def __init__(self, frames: Iterator[np.ndarray], first: np.ndarray, budget: int):
        self._frames = frames
        self._kept: list[np.ndarray] | None = [first.copy()]
        self._budget = budget
        self.frames: list[np.ndarray] | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        for frame in self._frames:
            if self._kept is not None:
                if (len(self._kept) + 1) * frame.nbytes <= self._budget:
                    self._kept.append(frame.copy())
                else:
                    self._kept = None                   # too long: pass 2 decodes again
            yield frame
        self.frames, self._kept = self._kept, None


def _two_sided(frames: "_Frames", start: int, end: int, forward: Propagator,
               end_layer: np.ndarray, colour: ColourTransform, setup: _Setup,
               fast: FlowEstimator, precise: FlowEstimator) -> Iterator[np.ndarray]:
    """Frames start+1 .. end-1, blending the forward propagation with a backward one from
    the keyframe at ``end``; leaves ``frames`` positioned at ``end``."""
    n = end - start - 1
    w, h = setup.size
    with scratch_dir("animakit-edit-") as tmp:
        src = np.lib.format.open_memmap(Path(tmp) / "src.npy", "w+", np.uint8, (n + 1, h, w, 3))
        for j in range(n + 1):
            src[j] = next(frames)
        back_layers = np.lib.format.open_memmap(Path(tmp) / "lay.npy", "w+", np.float16,
                                                (max(n, 1), h, w, 4))
        back_conf = np.lib.format.open_memmap(Path(tmp) / "conf.npy", "w+", np.float16,
                                              (max(n, 1), h, w))
        backward = Propagator(np.array(src[n]), end_layer, colour, setup.settings, fast, precise)
        for j in range(n - 1, -1, -1):
            back_layers[j], back_conf[j] = backward.step(np.array(src[j]))
        for j in range(n):
            frame = np.array(src[j])
            layer_f, conf_f = forward.step(frame)
            t = (j + 1) / (n + 1)                           # 0 at start, 1 at end
            wf = conf_f * (1 - t) + 1e-3 * (1 - t)
            wb = back_conf[j].astype(np.float32) * t + 1e-3 * t
            a = (wb / (wf + wb))[..., None]
            layer = (1 - a) * layer_f + a * back_layers[j].astype(np.float32)
            yield compose(frame, layer, colour, setup.params.transfer)
        frames.pending = np.array(src[n])       # the keyframe opens the next stretch


class _Frames:
    """Iterator over the reader's frames that allows one frame to be pushed back."""

    def __init__(self, reader):
        self._it = iter(reader)
        self.pending: np.ndarray | None = None

    def __iter__(self) -> "_Frames":
        return self

    def __next__(self) -> np.ndarray:
        if self.pending is not None:
            frame, self.pending = self.pending, None
            return frame
        return next(self._it)


@dataclass
class FlowEditParams:
    """The flow engine's own settings."""
    propagation: str = param("auto", "how the edit travels: 'flow' = per pixel along the "
                             "optical flow (appearance edits: recolours, restyles); 'layer' = "
                             "the edited region as one piece following its object's motion "
                             "(edits that change an object's shape); 'auto' = layer for "
                             "shape edits, flow otherwise", choices=("auto", "flow", "layer"))
    transfer: str = param("detail", "what the flow carries: 'detail' = the edit's departure "
                          "from a colour grade, rebuilt on each frame (keeps the video's own "
                          "detail and lighting); 'pixels' = the edited pixels themselves "
                          "(opaque additions)", choices=("detail", "pixels"))
    flow_preset: str = param("balanced", "DIS preset of the frame-to-anchor flow "
                             "('balanced' = medium's scale with fewer iterations; the "
                             "consecutive-frame flow always uses 'fast')",
                             choices=("ultrafast", "fast", "balanced", "medium"))
    flow_size: int = param(512, "longest side the flow is estimated at (larger videos are "
                           "scaled down for the flow only)", min=64, max=4096, advanced=True)
    refine_every: int = param(1, "re-anchor (direct flow to the anchor frame) every N "
                              "frames; 0 = only chain consecutive flows", min=0, max=100, advanced=True)
    temporal_smoothing: float = param(0.5, "share of the previous frame's edit (carried along "
                                      "the flow) kept where it is consistent: less flicker, "
                                      "0 = off", min=0.0, max=0.9, step=0.05, advanced=True)
    match_tolerance: float = param(10.0, "mean RGB difference (0-255) up to which a flow "
                                   "match is fully trusted; 2.8x this is rejected",
                                   min=1.0, max=80.0, advanced=True)
    mask_threshold: float = param(12.0, "automatic mask: RGB difference (0-255) between the "
                                  "edited and original first frames that counts as edited",
                                  min=1.0, max=255.0, advanced=True)
    mask_grow: int = param(6, "automatic mask: pixels to grow it by (also its feather)",
                           min=0, max=64, advanced=True)
    feather: int = param(5, "pixels over which sources of the edit are blended at seams",
                         min=0, max=31, advanced=True)


class FlowEditEngine(Engine):
    name = "flow"
    help = ("weight-free: DIS optical flow with forward-backward occlusion checks, "
            "re-anchored propagation and keyframe blending (CPU, real time at 512 px)")
    Params = FlowEditParams

    def stream(self, inputs: dict[str, Any], params: Any, generator: Any = None) -> FrameStream:
        setup = _Setup(inputs, params)
        extras: dict[str, Any] = {}
        stream = FrameStream(_generate(setup, extras), fps=setup.reader.fps, size=setup.size,
                             num_frames=setup.num_frames, audio=setup.reader.audio(),
                             extras=extras)
        stream.warnings.extend(setup.notes)
        return stream


def _generate(setup: _Setup, extras: dict) -> Iterator[np.ndarray]:
    # OpenCV and OpenBLAS on one thread for the whole stream, suspended or not: its stages
    # run on threads of their own (flows, tracking, blending, the decoder's and encoder's
    # processes), which already fill the cores; splitting each call across them only adds
    # hand-offs, and OpenBLAS's idle workers spin
    with one_thread():
        yield from _frames(setup, extras)
