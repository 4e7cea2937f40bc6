"""One live session: a WebRTC peer connection whose camera frames go through a plugin's
:class:`~.processor.LiveProcessor` and come back as a video track.

Latest frame wins: a reader task keeps only the newest camera frame, and the worker (one
thread per session, so a slow plugin never blocks the event loop) takes it when it is
free; frames that arrived meanwhile are counted as dropped, never queued. A data channel
carries stats to the page (fps, server latency, notices) and param updates back.
"""
from __future__ import annotations

import asyncio
import fractions
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from .processor import LiveProcessor
from .recorder import LiveRecorder
from .stamp import read_stamp, write_stamp

log = logging.getLogger("animakit.live")

SILENT_S = 5.0          # a session whose camera / microphone sent nothing this long is closed
TICK_FPS = 30.0         # output rate of a microphone-only session
CLOCK = 90000           # RTP video clock


class Stats:
    """Rates over a sliding second, and the mean server latency (frame received -> sent)."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.frames_in = self.frames_out = self.dropped = 0
        self.latency_ms = 0.0
        self._window: list[float] = []

    def delivered(self, latency_s: float) -> None:
        now = time.monotonic()
        self.frames_out += 1
        self._window.append(now)
        self.latency_ms += 0.1 * (1000 * latency_s - self.latency_ms)

    def fps(self) -> float:
        now = time.monotonic()
        self._window = [t for t in self._window if now - t <= 2.0]
        return len(self._window) / min(2.0, max(now - self.t0, 1e-3))

    def as_dict(self) -> dict[str, Any]:
        return {"fps_out": round(self.fps(), 1), "frames_in": self.frames_in,
                "frames_out": self.frames_out, "dropped": self.dropped,
                "server_ms": round(self.latency_ms, 1)}


def _mono(frame: Any) -> np.ndarray:
    """(n,) float32 in [-1, 1] from an av.AudioFrame of any layout and sample format."""
    a = frame.to_ndarray()
    ch = len(frame.layout.channels)
    if frame.format.is_planar:
        a = a.reshape(ch, -1).mean(0)
    else:
        a = a.reshape(-1, ch).mean(1)
    scale = 32768.0 if np.issubdtype(a.dtype, np.integer) or frame.format.name.startswith("s16") else 1.0
    return (a / scale).astype(np.float32)


class LiveSession:
    """Owns the peer connection, the processor and the worker; :meth:`close` frees all."""

    def __init__(self, token: str, processor: LiveProcessor, driver: str, stamp: bool = False):
        self.token, self.processor, self.driver, self.stamp = token, processor, driver, stamp
        self.pc = RTCPeerConnection()
        self.worker = ThreadPoolExecutor(1, thread_name_prefix=f"live-{token[:6]}")
        self.stats = Stats()
        self.out = OutputTrack(self)
        self.recorder: LiveRecorder | None = None
        self.closed = asyncio.Event()
        self._latest: Any = None             # newest camera frame not yet taken
        self._new_frame = asyncio.Event()
        self._ready = asyncio.Event()         # a new output frame for the track
        self._frame: Any = None               # newest output av.VideoFrame
        self._stamp_value: int | None = None
        self._tasks: list[asyncio.Task] = []
        self._channel: Any = None
        self.last_input = time.monotonic()
        self.t0 = time.monotonic()
        self._wire()

    # -- signalling -------------------------------------------------------------------
    def _wire(self) -> None:
        pc = self.pc

        @pc.on("track")
        def on_track(track):
            if track.kind == "video":
                self._spawn(self._read_video(track))
            elif track.kind == "audio":
                self._spawn(self._read_audio(track))

        @pc.on("datachannel")
        def on_channel(channel):
            self._channel = channel
            channel.on("message", self._on_message)

        @pc.on("connectionstatechange")
        async def on_state():
            if pc.connectionState in ("failed", "closed"):
                await self.close()

    async def answer(self, sdp: str, kind: str) -> dict[str, str]:
        """Apply the browser's offer; return the answer (ICE gathered, no trickle)."""
        self.pc.addTrack(self.out)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        self._spawn(self._process_loop())
        self._spawn(self._watch())
        self._spawn(self._send_stats())
        return {"sdp": self.pc.localDescription.sdp, "type": self.pc.localDescription.type}

    def _spawn(self, coro) -> None:
        self._tasks.append(asyncio.ensure_future(coro))

    def _on_message(self, message: Any) -> None:
        try:
            msg = json.loads(message)
        except (TypeError, ValueError):
            return
        if isinstance(msg, dict) and isinstance(msg.get("params"), dict) and not self.closed.is_set():
            self.worker.submit(self.processor.update, msg["params"])

    # -- media in ---------------------------------------------------------------------
    async def _read_video(self, track) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.last_input = time.monotonic()
            self.stats.frames_in += 1
            if self._latest is not None:
                self.stats.dropped += 1
            self._latest = (frame, self.last_input)
            self._new_frame.set()

    async def _read_audio(self, track) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.last_input = time.monotonic()
            samples = _mono(frame)
            self.processor.audio(samples, frame.sample_rate)
            rec = self.recorder
            if rec is not None:
                rec.audio(samples, frame.sample_rate)

    # -- processing -------------------------------------------------------------------
    async def _next_input(self) -> tuple[Any, float]:
        """(newest camera frame or None, when it arrived): waits for a camera frame, or
        ticks at TICK_FPS when the camera is not a driver."""
        if "camera" not in self.driver:
            await asyncio.sleep(1.0 / TICK_FPS)
            return None, time.monotonic()
        await self._new_frame.wait()
        self._new_frame.clear()
        item, self._latest = self._latest, None
        return item

    async def _process_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.closed.is_set():
            frame, arrived = await self._next_input()
            try:
                self._frame = await loop.run_in_executor(self.worker, self._process, frame)
            except Exception:
                log.exception("live session %s: the processor failed", self.token[:6])
                await self.close()
                return
            self.stats.delivered(time.monotonic() - arrived)
            self._ready.set()

    def _process(self, frame: Any) -> Any:
        """Worker thread: camera av.VideoFrame (or None) -> output av.VideoFrame."""
        image = None if frame is None else frame.to_ndarray(format="rgb24")   # (H, W, 3)
        if self.stamp and image is not None:
            self._stamp_value = read_stamp(image)
        t = time.monotonic() - self.t0
        out = self.processor.video(image, t)                               # (h, w, 3)
        if self.stamp and self._stamp_value is not None:
            out = out.copy()
            write_stamp(out, self._stamp_value)
        rec = self.recorder
        if rec is not None:
            rec.frame(out, t, image)
        return VideoFrame.from_ndarray(np.ascontiguousarray(out), format="rgb24")

    async def next_output(self) -> Any:
        """The next output frame; the last one again after a second without a new one
        (keeps the stream alive while the camera stalls)."""
        try:
            await asyncio.wait_for(self._ready.wait(), 1.0)
        except asyncio.TimeoutError:
            pass
        self._ready.clear()
        if self._frame is None:
            w, h = self.processor.size
            self._frame = VideoFrame.from_ndarray(np.zeros((h, w, 3), np.uint8), format="rgb24")
        return self._frame

    # -- housekeeping -----------------------------------------------------------------
    async def _watch(self) -> None:
        """Close the session when its peer has gone silent for SILENT_S."""
        while not self.closed.is_set():
            await asyncio.sleep(0.5)
            if time.monotonic() - self.last_input > SILENT_S:
                log.info("live session %s: no media for %.0f s, closing", self.token[:6], SILENT_S)
                await self.close()

    async def _send_stats(self) -> None:
        while not self.closed.is_set():
            await asyncio.sleep(0.5)
            ch = self._channel
            if ch is not None and ch.readyState == "open":
                msg = {**self.stats.as_dict(), "notice": self.processor.notice,
                       "recording": self.recorder is not None}
                try:
                    ch.send(json.dumps(msg))
                except Exception:          # the channel closed between the check and the send
                    return

    def start_recording(self, path: Path, fps: float = 25.0, with_camera: bool = False) -> None:
        """Record output frames (and the microphone) into ``path`` until :meth:`stop_recording`;
        ``with_camera`` puts the camera frame beside each."""
        if self.recorder is not None:
            self.recorder.abort()
        self.recorder = LiveRecorder(path, fps, with_camera=with_camera)
        self.processor.capture(True)

    def stop_recording(self) -> LiveRecorder | None:
        """The recorder detached from the stream (None when not recording); the caller
        finishes or aborts it."""
        rec, self.recorder = self.recorder, None
        self.processor.capture(False)
        return rec

    async def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        rec = self.stop_recording()
        if rec is not None:
            rec.abort()
        await self.pc.close()
        self.worker.submit(self.processor.close)
        self.worker.shutdown(wait=False)


class OutputTrack(MediaStreamTrack):
    """The processed frames as a WebRTC video track, stamped with wall-clock pts."""
    kind = "video"

    def __init__(self, session: LiveSession):
        super().__init__()
        self.session = session
        self._start: float | None = None

    async def recv(self):
        frame = await self.session.next_output()
        now = time.monotonic()
        if self._start is None:
            self._start = now
        frame.pts = int((now - self._start) * CLOCK)
        frame.time_base = fractions.Fraction(1, CLOCK)
        return frame
