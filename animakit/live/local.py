"""``animakit live IMAGE``: a local camera drives a pipeline's live mode in an OpenCV
window and, with ``--virtual-camera``, a virtual camera (pyvirtualcam) for OBS / Zoom.
No browser and no WebRTC: the same :class:`~.processor.LiveProcessor` a studio session
uses, fed from ``cv2.VideoCapture``. Latest frame wins here too: the camera is read on
its own thread and the processor takes the newest frame."""
from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import Any, Iterator

import numpy as np

from ..errors import InputError
from . import live_pipelines

WINDOW = "animakit live (q or Esc to quit)"


def choose_pipeline(name: str | None) -> tuple[type, Any]:
    """(class, LiveSpec) of pipeline ``name``, or of the only live pipeline."""
    live = live_pipelines()
    if name is not None:
        if name not in live:
            raise InputError("--pipeline", f"{name!r} has no live mode; live pipelines: "
                                           f"{', '.join(live) or 'none'}")
        return live[name]
    if not live:
        raise InputError("live", "no installed pipeline has a live mode")
    if len(live) > 1:
        raise InputError("--pipeline", f"several pipelines are live ({', '.join(live)}): "
                                       "choose one with --pipeline")
    return next(iter(live.values()))


class LatestFrame:
    """Reads ``cv2.VideoCapture`` on a thread, keeping only the newest frame (RGB)."""

    def __init__(self, capture: Any):
        self.capture, self.frame, self.count = capture, None, 0
        self.lock, self.stopped = threading.Lock(), False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import cv2
        while not self.stopped:
            ok, bgr = self.capture.read()
            if not ok:
                time.sleep(0.01)
                continue
            with self.lock:
                self.frame, self.count = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), self.count + 1

    def take(self) -> tuple[np.ndarray | None, int]:
        with self.lock:
            return self.frame, self.count

    def stop(self) -> None:
        self.stopped = True
        self.thread.join(1.0)
        self.capture.release()


def checked_params(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (strings from the command line) validated against the pipeline's params."""
    from dataclasses import asdict

    from ..params import build_params
    given = build_params(cls.Params, values)
    return {k: v for k, v in asdict(given).items() if k in values}


@contextlib.contextmanager
def native_stderr_muted() -> Iterator[None]:
    """Silence what native code writes to fd 2 inside the block."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def open_camera(index: int) -> Any:
    import cv2
    with native_stderr_muted():           # OpenCV's own warnings: the error below says it
        cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        raise InputError(f"camera {index}", "could not be opened (is it connected, and free? "
                                            "try another --camera number)")
    cap.set(cv2.CAP_PROP_FRAME_WIDTH, 640)
    cap.set(cv2.CAP_PROP_FRAME_HEIGHT, 480)
    return cap


def open_virtual_camera(size: tuple[int, int], fps: float) -> Any:
    try:
        import pyvirtualcam
    except ImportError:
        raise InputError("--virtual-camera", "needs the pyvirtualcam package (pip install "
                                             "pyvirtualcam) and a virtual camera driver "
                                             "(v4l2loopback on Linux, OBS on macOS/Windows)") from None
    try:
        return pyvirtualcam.Camera(width=size[0], height=size[1], fps=fps)
    except RuntimeError as e:
        raise InputError("--virtual-camera", f"no virtual camera device: {e}") from None


def has_display() -> bool:
    return os.name == "nt" or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) \
        or os.uname().sysname == "Darwin"


def run_live(image: str, camera: int = 0, virtual_camera: bool = False,
             pipeline: str | None = None, params: dict[str, Any] | None = None,
             window: bool = True, seconds: float | None = None) -> dict[str, Any]:
    """Drive ``image`` from camera ``camera`` until q / Esc (or ``seconds``); returns stats."""
    import cv2
    cls, spec = choose_pipeline(pipeline)
    if window and not has_display():
        if not virtual_camera:
            raise InputError("live", "no display to open a window on (DISPLAY is not set); "
                                     "use --virtual-camera, or the studio's Live tab")
        window = False
    cap = LatestFrame(open_camera(camera))       # the cheap check first
    try:
        processor = spec.open({spec.inputs[0]: image}, checked_params(cls, params or {}),
                              "camera")
    except BaseException:
        cap.stop()
        raise
    vcam = open_virtual_camera(processor.size, 30.0) if virtual_camera else None
    t0, shown, last = time.monotonic(), 0, -1
    try:
        while seconds is None or time.monotonic() - t0 < seconds:
            frame, count = cap.take()
            if frame is None or count == last:
                time.sleep(0.002)
                continue
            last = count
            out = processor.video(frame, time.monotonic() - t0)
            shown += 1
            if vcam is not None:
                vcam.send(np.ascontiguousarray(out))
            if window:
                bgr = cv2.cvtColor(out, cv2.COLOR_RGB2BGR)
                if processor.notice:
                    cv2.putText(bgr, processor.notice[:60], (8, 24), cv2.FONT_HERSHEY_SIMPLEX,
                                0.5, (40, 40, 230), 1, cv2.LINE_AA)
                cv2.imshow(WINDOW, bgr)
                if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                    break
    finally:
        cap.stop()
        processor.close()
        if vcam is not None:
            vcam.close()
        if window:
            cv2.destroyAllWindows()
    elapsed = time.monotonic() - t0
    return {"frames": shown, "fps": shown / max(elapsed, 1e-6), "camera_frames": last}
