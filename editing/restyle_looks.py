"""The weight-free "looks" engine of ``editing.restyle``: a look (:mod:`editing.looks`) is
applied to key frames and carried through the video by optical flow, so its strokes, lines
and grain stay on the surfaces they were painted on instead of boiling frame to frame.

How a clip is styled:

1. frame 0 is styled with the look (fitted on it: palette, textures) — the first key;
2. a :class:`~editing.propagate.Propagator` carries the key's pixels (``transfer="pixels"``)
   along the source's DIS flow, with forward-backward and photometric checks; pixels the
   key cannot explain (disocclusions, new content) take the look applied to the current
   frame (the propagator's "revealed" fill is the styled frame);
3. when the carried key explains too little of the frame (more than ``rekey_share``
   of it revealed or only carried) or ``key_every`` frames have passed, the current frame becomes a new
   key, styled afresh, and the old propagation cross-fades into the new one over
   ``crossfade`` frames (no pop where the two differ).

``carry="none"`` styles every frame independently (the baseline the benchmark compares
against; it boils).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import cv2
import numpy as np

from animakit.errors import InputError
from animakit.params import param
from animakit.pipeline import Engine, FrameStream

from .flow import FlowEstimator
from .inputs import open_source_video
from .looks import LOOKS, Look, fit_look
from .propagate import PropagationSettings, Propagator, initial_layer


class LookFill:
    """The propagator's fill for pixels no key explains: the look applied to the current
    frame, as float32 (H, W, 3) (the propagator calls it where it would call a colour
    transform). The last frame's result is kept, so the carrier reuses it."""

    def __init__(self, look: Look):
        self.look = look
        self._last: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        if self._last is None or self._last[0] is not frame:
            self._last = (frame, self.look(frame).astype(np.float32))
        return self._last[1]


@dataclass
class KeyState:
    """One key's propagation and how many frames it has carried."""
    prop: Propagator
    since: int = 0


class LookCarrier:
    """Styles a stream of source frames: keys carried by flow, re-keyed on drift."""

    def __init__(self, look: Look, p: Any, size: tuple[int, int]):
        self.look = look
        self.fill = LookFill(look)
        self.p = p
        self.settings = PropagationSettings(transfer="pixels", refine_every=1,
                                            photo_lo=p.match_tolerance,
                                            photo_hi=p.match_tolerance * 2.8,
                                            feather=3, smoothing=0.0)
        scale = min(1.0, p.flow_size / max(size))
        self.fast = FlowEstimator("fast", scale)
        self.precise = FlowEstimator(p.flow_preset, scale)
        self.keys: list[int] = []

    def key(self, frame: np.ndarray, index: int) -> tuple[KeyState, np.ndarray]:
        """A new key at ``frame``: its propagation and its styled (H, W, 3) uint8 pixels."""
        styled = self.look(frame)
        mask = np.ones(frame.shape[:2], np.float32)
        layer = initial_layer(frame, styled, mask, self.fill, "pixels")
        prop = Propagator(frame, layer, self.fill, self.settings, self.fast, self.precise)
        self.keys.append(index)
        return KeyState(prop), styled

    def frames(self, source: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        """(H, W, 3) uint8 styled frames, one per source frame."""
        p = self.p
        first = next(source)
        current, styled = self.key(first, 0)
        yield styled
        fading: KeyState | None = None
        fade_step = 0
        for i, frame in enumerate(source, start=1):
            layer, conf = current.prop.step(frame)
            current.since += 1
            out = self.sharpened(frame, layer[..., :3], conf)
            if fading is not None:
                old, _ = fading.prop.step(frame)
                fade_step += 1
                a = fade_step / (p.crossfade + 1)               # 0 -> 1 over the fade
                out = cv2.addWeighted(old[..., :3], 1 - a, out, a, 0)
                if fade_step >= p.crossfade:
                    fading = None
            yield np.clip(out + 0.5, 0, 255).astype(np.uint8)
            if fading is None and self.wants_key(conf, current.since):
                old = current
                current, _ = self.key(frame, i)
                if p.crossfade > 0:
                    fading, fade_step = old, 0

    def sharpened(self, frame: np.ndarray, carried: np.ndarray,
                  conf: np.ndarray) -> np.ndarray:
        """(H, W, 3) float32: the carried layer where a key explains it; where it was only
        carried from earlier frames (confidence below 1/4: two frames or more, resampled
        each time) the look of this frame takes over, so nothing smears."""
        a = np.clip(conf * 4, 0, 1)[..., None]
        return carried * a + self.fill(frame) * (1 - a)

    def wants_key(self, conf: np.ndarray, since: int) -> bool:
        """Re-key when the key no longer explains enough of the frame (confidence below
        1/2: carried or revealed), or it is old enough."""
        p = self.p
        if p.key_every and since >= p.key_every:
            return True
        return since >= 2 and float((conf < 0.5).mean()) > p.rekey_share


@dataclass
class LooksParams:
    """The looks engine's own settings."""
    look: str = param("cartoon", "the medium: cartoon (flat colours, ink lines), anime (cel "
                      "shading, thin lines), pencil (sketch with hatching), watercolour, oil",
                      choices=LOOKS)
    strength: float = param(1.0, "mix of the look over the source (0 = source, 1 = full look)",
                            min=0.0, max=1.0, step=0.05)
    colours: int = param(10, "cartoon / anime: palette size (fitted on the first frame)",
                         min=2, max=32)
    lines: float = param(1.0, "ink / pencil line weight (0 = none)", min=0.0, max=3.0, step=0.1)
    carry: str = param("flow", "flow = style key frames and carry them along the motion (no "
                       "boiling); none = style every frame on its own", choices=("flow", "none"))
    rekey_share: float = param(0.15, "re-key when more than this share of the frame is not "
                               "explained by the key (revealed or only carried)",
                               min=0.0, max=1.0, step=0.05)
    key_every: int = param(0, "also re-key every N frames (0 = only on drift)", min=0, max=10000)
    crossfade: int = param(6, "frames over which an old key fades into a new one",
                           min=0, max=60)
    match_tolerance: float = param(12.0, "mean RGB difference (0-255) up to which a flow match "
                                   "is fully trusted; 2.8x this is rejected", min=1.0, max=80.0)
    flow_preset: str = param("balanced", "DIS preset of the frame-to-key flow",
                             choices=("ultrafast", "fast", "balanced", "medium"))
    flow_size: int = param(512, "longest side the flow is estimated at", min=64, max=4096)


class LooksEngine(Engine):
    name = "looks"
    help = ("weight-free: cartoon / anime / pencil / watercolour / oil looks on key frames, "
            "carried by optical flow so strokes do not boil (CPU)")
    Params = LooksParams

    def stream(self, inputs: dict[str, Any], params: Any, generator: Any = None) -> FrameStream:
        if "edited" in inputs:
            raise InputError("edited", "the looks engine styles the frames itself; an edited "
                                       "first frame is read by the animatediff engine (or carry "
                                       "your own edit with editing.first_frame)")
        reader, n = open_source_video(inputs["video"])
        extras: dict[str, Any] = {"look": params.look}
        return FrameStream(_styled(reader, params, extras), fps=reader.fps, size=reader.size,
                           num_frames=n, audio=reader.audio(), extras=extras)


def _styled(reader: Any, p: Any, extras: dict) -> Iterator[np.ndarray]:
    """Styled frames of ``reader``; fills ``extras["keyframes"]`` as keys are made."""
    source = iter(reader)
    first = next(source)
    look = fit_look(p.look, first, strength=p.strength, colours=p.colours, lines=p.lines)
    if p.carry == "none":
        yield look(first)
        for frame in source:
            yield look(frame)
        return
    carrier = LookCarrier(look, p, reader.size)
    extras["keyframes"] = carrier.keys
    yield from carrier.frames(_chain([first], source))


def _chain(head: list[np.ndarray], rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield from head
    yield from rest
