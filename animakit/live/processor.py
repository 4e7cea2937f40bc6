"""What a plugin implements to go live: a per-session frame processor, and the spec that
tells the studio tab and the CLI which inputs, params and drivers it takes."""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

# what drives a live session: the camera, the microphone, or both
DRIVERS = ("camera", "microphone", "camera + microphone")


class LiveProcessor(abc.ABC):
    """One live session's frame source. The transport calls :meth:`video` from one worker
    thread per session, and :meth:`audio` / :meth:`update` from other threads: keep them
    cheap and guard shared state."""

    #: output frame size (w, h), fixed for the session
    size: tuple[int, int]
    #: a line the page shows about the stream (e.g. no face in the camera), or None
    notice: str | None = None

    @abc.abstractmethod
    def video(self, frame: np.ndarray | None, t: float) -> np.ndarray:
        """(h, w, 3) uint8 output for camera ``frame`` (H, W, 3) uint8 RGB, or for no
        camera frame (``None``: a microphone-only session's clock tick) at ``t`` seconds
        since the session started. The returned array may be a buffer the next call
        overwrites."""

    def audio(self, samples: np.ndarray, rate: int) -> None:
        """Microphone samples (n,) float32 in [-1, 1] at ``rate`` Hz, in order."""

    def update(self, params: dict[str, Any]) -> None:
        """New values of some of the spec's live params, effective on the next frame."""

    def capture(self, on: bool) -> None:
        """Start (True) or stop keeping what :meth:`export` writes."""

    def export(self, name: str, path: Path) -> None:
        """Write side output ``name`` (one of the spec's ``exports``) of what was captured."""
        raise KeyError(name)

    def close(self) -> None:
        """Free what the session holds (detectors, buffers)."""


@dataclass
class LiveSpec:
    """A pipeline's live mode (returned by ``Pipeline.live()``).

    ``open(inputs, params, driver)`` analyses the inputs once and returns the session's
    :class:`LiveProcessor`; it raises ``InputError`` for a bad input (no face, ...).
    """
    open: Callable[[dict[str, Any], dict[str, Any], str], LiveProcessor]
    inputs: tuple[str, ...] = ("image",)          # which of the pipeline's inputs it needs
    params: tuple[str, ...] = ()                  # which params the live controls show
    drivers: tuple[str, ...] = ("camera",)        # a subset of DRIVERS, the first the default
    exports: dict[str, str] = field(default_factory=dict)   # side output name -> suffix
    help: str = ""
    example: dict[str, str] = field(default_factory=dict)   # input name -> asset path
