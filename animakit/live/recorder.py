"""Recording a live session: output frames at a constant frame rate (a frame repeated
over a stall, skipped when two arrive in one slot) and the microphone's samples, muxed
into an mp4 by the kernel's writer when the recording stops."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ..media import AudioClip
from ..media.video import VideoWriter


class LiveRecorder:
    """Thread-safe: frames come from the session's worker, samples from the event loop,
    :meth:`finish` from the studio."""

    def __init__(self, path: Path, fps: float = 25.0, max_seconds: float = 600.0,
                 with_camera: bool = False):
        self.path, self.fps, self.max_frames = Path(path), float(fps), int(max_seconds * fps)
        # camera | output side by side (for checking the motion against its driver)
        self.with_camera = with_camera
        self._writer = VideoWriter(self.path, self.fps, crf=20, preset="ultrafast")
        self._lock = threading.Lock()
        self._t0: float | None = None
        self._samples: list[np.ndarray] = []
        self._rate = 0
        self.closed = False

    def frame(self, image: np.ndarray, t: float, camera: np.ndarray | None = None) -> None:
        """Add output ``image`` (h, w, 3) uint8 shown at session time ``t`` s (made from
        ``camera`` (H, W, 3), drawn beside it when recording ``with_camera``)."""
        if self.with_camera:
            image = beside(camera, image)
        with self._lock:
            if self.closed:
                return
            if self._t0 is None:
                self._t0 = t
            slot = int((t - self._t0) * self.fps)
            n = min(slot + 1, self.max_frames) - self._writer.frames_written
            for _ in range(max(0, n)):
                self._writer.write(image)

    def audio(self, samples: np.ndarray, rate: int) -> None:
        with self._lock:
            if not self.closed and self._t0 is not None:
                self._rate = rate
                self._samples.append(np.asarray(samples, np.float32))

    def finish(self) -> Path:
        """Write the mp4 (with the microphone's audio when there was any) and return its path."""
        with self._lock:
            self.closed = True
            if self._samples:
                self._writer.audio = AudioClip(np.concatenate(self._samples), self._rate)
            return self._writer.close()

    def abort(self) -> None:
        with self._lock:
            self.closed = True
            self._writer.abort()


def beside(camera: np.ndarray | None, image: np.ndarray) -> np.ndarray:
    """(h, w' + w, 3): ``camera`` scaled to ``image``'s height (black without one), then ``image``."""
    import cv2
    h = image.shape[0]
    if camera is None:
        return np.hstack([np.zeros((h, h * 4 // 3, 3), np.uint8), image])
    w = max(2, round(camera.shape[1] * h / camera.shape[0]))
    return np.hstack([cv2.resize(camera, (w, h), interpolation=cv2.INTER_AREA), image])
