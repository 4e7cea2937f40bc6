"""Streaming video I/O through the ffmpeg binary that imageio-ffmpeg ships.

Reading yields (H, W, 3) uint8 RGB frames one at a time with the stream's true fps.
Writing converts each frame to yuv420p here (:func:`i420_into`: BT.601 limited range,
the matrix ffmpeg's own rgb24 → yuv420p uses, chroma averaged over 2×2) and pipes it into
ffmpeg (command built with ffmpeg-python) for H.264: half the bytes of RGB through the
pipe, and about 2 ms of CPU per 1342² frame instead of the ~12 ms ffmpeg's scaler spends
on the same conversion. Even dimensions, audio muxed in a second pass, the whole written
to a temporary file in the destination folder and renamed into place only when complete.
"""
from __future__ import annotations

import logging
import os
import re
import subprocess
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from ..errors import MediaError
from .audio import AudioClip, has_audio, load_audio
from .ffmpeg import check_readable, decode_errors, describe_input, ffmpeg_exe, publish
from .partfiles import part_prefix

DEFAULT_CRF = 17
# x264 "veryfast" at CRF 17: on 1342² talking-portrait frames it takes under half of
# "medium"'s encoder CPU time for 0.4-0.7 dB less PSNR (about 43-44 dB against the lossless
# frames either way) and a 24 % smaller file; "superfast" / "ultrafast" are faster still
# but make 3-7x bigger files (benchmarks/talking_speed.py measures them all)
DEFAULT_PRESET = "veryfast"
# RGB -> BT.601 limited-range YCbCr, rows Y, Cb, Cr: [3 x 3 matrix | offset] for cv2.transform
_BT601 = np.array([[65.481, 128.553, 24.966, 16 * 255.0],
                   [-37.797, -74.203, 112.0, 128 * 255.0],
                   [112.0, -93.786, -18.214, 128 * 255.0]], np.float32) / 255.0
MAX_FRAME_PIXELS = 40_000_000          # 8K UHD is 33 MP; refused from the header above this
MAX_DECODED_BYTES = 4 * 2**30          # read_all refuses clips whose frames would pass this


def _not_rotation_notice(record: logging.LogRecord) -> bool:
    """imageio-ffmpeg warns that the frames' size differs from the stream's whenever a video
    carries a rotation (phone videos): ffmpeg rotates while decoding and the size we report is
    the rotated one, so the notice is expected; keep every other message."""
    return "is different from the source frame size" not in record.getMessage()


logging.getLogger("imageio_ffmpeg").addFilter(_not_rotation_notice)


class VideoReader:
    """Metadata up front (``fps``, ``size``, ``duration``, ``num_frames``, ``has_audio``),
    frames streamed by iteration. Raises :class:`MediaError` for a file that is not video."""

    def __init__(self, source: str | Path, name: str = "video", count: bool = False,
                 keep_decoder: bool = False):
        self.path = check_readable(source, name)
        self.name = name
        self._num_frames: int | None = None
        self._decoder: Iterator | None = None     # the header read's ffmpeg, still running
        # each ffmpeg run costs ~70 ms of start-up: the audio check (and the exact frame
        # count, when asked for) run beside the header's read instead of after it
        with ThreadPoolExecutor(2) as pool:
            audio = pool.submit(has_audio, self.path)
            counted = pool.submit(self._exact_count) if count else None
            self._probe(audio, keep_decoder)
            if counted is not None:
                self._num_frames = self._or_estimate(counted.result())

    def _probe(self, audio: Future, keep_decoder: bool) -> None:
        """Size, rate and duration from the header; refuses what cannot or must not be read.
        ``audio``: :func:`has_audio` of the file, running. The header comes from a decoder
        (ffmpeg decoding to RGB, as :meth:`__iter__` reads), kept for the first pass with
        ``keep_decoder``."""
        import imageio_ffmpeg
        try:
            gen = imageio_ffmpeg.read_frames(str(self.path), pix_fmt="rgb24")
            meta = next(gen)
        except (OSError, RuntimeError, StopIteration) as e:
            if _is_frameless(describe_input(self.path)):   # audio-only, 0 frames
                raise MediaError(self.path, "has no video frames") from None
            msg = str(e).strip().splitlines()
            raise MediaError(self.path, f"{self.name} is not a readable video"
                             f"{' (' + msg[-1][:120] + ')' if msg else ''}") from None
        try:
            self._take_header(meta, audio)
        except BaseException:
            gen.close()
            raise
        if keep_decoder:
            self._decoder = gen
        else:
            gen.close()

    def _take_header(self, meta: dict, audio: Future) -> None:
        """Size, rate, duration and audio from imageio-ffmpeg's reading of the header."""
        self.size = tuple(int(v) for v in meta["size"])   # (width, height), rotation applied
        # imageio-ffmpeg reads rates such as ffmpeg's "1k fps" (1000 fps) as 0: ask the header
        self.fps = float(meta.get("fps") or 0.0) or _header_fps(describe_input(self.path))
        self.duration = float(meta.get("duration") or 0.0)
        if not self.fps or self.fps <= 0:
            raise MediaError(self.path, f"{self.name} has no usable frame rate")
        if self.size[0] <= 0 or self.size[1] <= 0:
            raise MediaError(self.path, "has no video frames")
        if self.size[0] * self.size[1] > MAX_FRAME_PIXELS:
            raise MediaError(self.path, f"{self.name} frames are {self.size[0]}x{self.size[1]}; "
                                        f"the limit is {MAX_FRAME_PIXELS / 1e6:.0f} MP a frame")
        self.has_audio = bool(meta.get("audio_codec")) or audio.result()

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def height(self) -> int:
        return self.size[1]

    @property
    def num_frames(self) -> int:
        """Exact frame count (demuxes the stream once, cached; counted while the header
        was read when the reader was opened with ``count``)."""
        if self._num_frames is None:
            self._num_frames = self._or_estimate(self._exact_count())
        return self._num_frames

    def _exact_count(self) -> int | None:
        """The stream's frames as ffmpeg counts them; None if it cannot."""
        import imageio_ffmpeg
        try:
            return int(imageio_ffmpeg.count_frames_and_secs(str(self.path))[0])
        except (OSError, RuntimeError):
            return None

    def _or_estimate(self, count: int | None) -> int:
        return int(round(self.duration * self.fps)) if count is None else count

    @property
    def estimated_frames(self) -> int:
        return self._num_frames or max(1, int(round(self.duration * self.fps)))

    def close(self) -> None:
        """Stop the decoder kept from opening (``keep_decoder``) if no pass has read it."""
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None

    def __iter__(self) -> Iterator[np.ndarray]:
        import imageio_ffmpeg
        w, h = self.size
        gen, self._decoder = self._decoder, None     # the first pass: the kept decoder
        count = 0
        try:
            if gen is None:
                gen = imageio_ffmpeg.read_frames(str(self.path), pix_fmt="rgb24")
                next(gen)                             # its header
            for buf in gen:
                count += 1
                yield np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3)
        except (OSError, RuntimeError) as e:
            if count == 0:
                raise MediaError(self.path, f"{self.name} has no decodable frames ({e})") from None
        finally:
            if gen is not None:
                gen.close()
        if count == 0:
            raise MediaError(self.path, f"{self.name} has no decodable frames")
        self._check_complete(count)
        self._num_frames = count

    def _check_complete(self, count: int) -> None:
        """Refuse a file whose frames stop well short of its header's duration where the
        decoder reports damage (a cut-off download or copy): a render of the frames that did
        decode would pass for the whole video. A short video stream without decoder errors
        (audio running past the picture) is fine."""
        expected = int(round(self.duration * self.fps))
        if count >= expected - max(2, expected // 50):
            return
        problem = decode_errors(self.path, start=(count - 1) / self.fps - 1.0)
        if problem:
            raise MediaError(self.path, f"{self.name} is damaged or incomplete: its frames stop "
                                        f"after {count} of {expected} ({problem[:80]})")

    def read_all(self, max_frames: int | None = None) -> list[np.ndarray]:
        """Every frame (or the first ``max_frames``) in memory; refused from the header when
        they would not fit :data:`MAX_DECODED_BYTES` (stream long videos instead)."""
        n = min(self.estimated_frames, max_frames or self.estimated_frames)
        if n * self.width * self.height * 3 > MAX_DECODED_BYTES:
            raise MediaError(self.path, f"{self.name} is too long to hold in memory ({n} frames "
                                        f"of {self.width}x{self.height}); trim it first")
        out = []
        for f in self:
            out.append(f.copy())
            if max_frames and len(out) >= max_frames:
                break
        return out

    def audio(self, sr: int = 16000) -> AudioClip | None:
        return load_audio(self.path, sr=sr, name=self.name) if self.has_audio else None


def _is_frameless(description: str) -> bool:
    """Whether ffmpeg read the file's container (``Input #0``) and found in it no stream at all
    (a 0-frame file) or audio without video (cover art aside): such a file is well formed
    but frameless. A truncated file shows only a broken ``Data:`` stream, and is corrupt."""
    streams = [line for line in description.splitlines() if line.lstrip().startswith("Stream #")]
    video = any("Video:" in line and "attached pic" not in line for line in streams)
    audio = any("Audio:" in line for line in streams)
    return "Input #0" in description and not video and (audio or not streams)


def _header_fps(description: str) -> float:
    """The first video stream's frame rate in ffmpeg's description (``1k fps`` = 1000)."""
    m = re.search(r"Video: .*?, (\d+(?:\.\d+)?)(k?) (?:fps|tbr)", description)
    return 0.0 if m is None else float(m[1]) * (1000 if m[2] else 1)


def open_video(source, name: str = "video", count: bool = False,
               keep_decoder: bool = False) -> VideoReader:
    """A :class:`VideoReader` of ``source`` (a path, or a reader returned as is); ``count``
    counts its frames exactly while the header is read (``num_frames`` is then free);
    ``keep_decoder``, for a caller that reads the frames next, keeps the ffmpeg that read
    the header for the first pass (one ffmpeg start fewer before the first frame; it
    stops when that pass ends, at :meth:`VideoReader.close` or when the reader is
    dropped)."""
    if isinstance(source, VideoReader):
        return source
    return VideoReader(source, name, count, keep_decoder)


def even_frame(frame: np.ndarray) -> np.ndarray:
    """Pad a frame by edge replication to even width and height (yuv420p needs them)."""
    h, w = frame.shape[:2]
    ph, pw = h % 2, w % 2
    if ph or pw:
        frame = np.pad(frame, ((0, ph), (0, pw), (0, 0)), mode="edge")
    return frame


def i420_into(frame: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Fill ``out`` ((w * h * 3 // 2,) uint8) with the I420 planes of the (h, w, 3) uint8 RGB
    ``frame`` (even sides): Y, then Cb and Cr at half size, each chroma sample the mean of
    its 2×2 block (OpenCV's own RGB→I420 takes one pixel of the four, which aliases: 2-3 dB
    lost on fine colour texture)."""
    h, w = frame.shape[:2]
    n, q = w * h, (w // 2) * (h // 2)
    ycc = cv2.transform(frame, _BT601)                                    # (h, w, 3)
    half = cv2.resize(ycc, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    cv2.mixChannels([ycc], [out[:n].reshape(h, w)], [0, 0])
    cv2.mixChannels([half], [out[n:n + q].reshape(h // 2, w // 2),
                             out[n + q:].reshape(h // 2, w // 2)], [1, 0, 2, 1])
    return out


class VideoWriter:
    """Context manager::

        with VideoWriter("out.mp4", fps=25, audio=clip) as w:
            for frame in frames:
                w.write(frame)

    Nothing appears at ``path`` unless the block completes; on any exception (including
    KeyboardInterrupt) the partial files are removed.
    """

    def __init__(self, path: str | Path, fps: float, audio: AudioClip | None = None,
                 crf: int = DEFAULT_CRF, preset: str = DEFAULT_PRESET):
        self.path = Path(path)
        if not fps or fps <= 0 or fps > 1000:
            raise MediaError("fps", f"invalid frame rate {fps!r} for {self.path}")
        self.fps = float(fps)
        self.audio = audio
        self.crf = int(crf)
        self.preset = preset
        self.frames_written = 0
        self._proc: subprocess.Popen | None = None
        self._size: tuple[int, int] | None = None
        self._tmp: Path | None = None
        self._tmp_files: list[Path] = []

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False

    def _tempfile(self, suffix: str) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=part_prefix(self.path), suffix=f".part{suffix}",
                                    dir=self.path.parent)
        os.close(fd)
        p = Path(name)
        self._tmp_files.append(p)
        return p

    def _start(self, w: int, h: int) -> None:
        import ffmpeg
        self._size = (w, h)
        self._tmp = self._tempfile(".mp4")
        stream = ffmpeg.input("pipe:", format="rawvideo", pix_fmt="yuv420p", s=f"{w}x{h}",
                              framerate=self.fps)
        stream = ffmpeg.output(stream, str(self._tmp), vcodec="libx264", pix_fmt="yuv420p",
                               crf=self.crf, preset=self.preset, r=self.fps,
                               movflags="+faststart", an=None)
        args = ffmpeg.compile(stream, cmd=ffmpeg_exe(), overwrite_output=True)
        args[1:1] = ["-nostdin", "-v", "error"]
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        self._yuv = np.empty(w * h * 3 // 2, np.uint8)        # I420 planes: Y, then U, then V

    def write(self, frame: np.ndarray) -> None:
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            self.abort()
            raise ValueError(f"frames must be (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
        frame = even_frame(frame)
        h, w = frame.shape[:2]
        if self._proc is None:
            self._start(w, h)
        elif (w, h) != self._size:
            self.abort()
            raise ValueError(f"frame size changed from {self._size} to {(w, h)}")
        try:
            self._proc.stdin.write(memoryview(i420_into(np.ascontiguousarray(frame), self._yuv)))
        except BrokenPipeError:
            err = self._proc.stderr.read().decode("utf-8", "replace")
            self.abort()
            raise MediaError(self.path, f"ffmpeg stopped while encoding: {err.strip()[-200:]}") from None
        self.frames_written += 1

    def write_all(self, frames: Iterable[np.ndarray]) -> "VideoWriter":
        for f in frames:
            self.write(f)
        return self

    def abort(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None
        for p in self._tmp_files:
            p.unlink(missing_ok=True)
        self._tmp_files.clear()

    def close(self) -> Path:
        if self._proc is None:
            self.abort()
            raise MediaError(self.path, "no frames were produced; nothing written")
        self._proc.stdin.close()
        err = self._proc.stderr.read().decode("utf-8", "replace")
        if self._proc.wait() != 0:
            self.abort()
            raise MediaError(self.path, f"ffmpeg failed to encode: {err.strip()[-200:]}")
        self._proc = None
        final_tmp = self._tmp
        if self.audio is not None and (len(self.audio.samples) or self.audio.path is not None):
            final_tmp = self._mux_audio(self._tmp)
        publish(final_tmp, self.path)
        self._tmp_files = [p for p in self._tmp_files if p != final_tmp]
        for p in self._tmp_files:
            p.unlink(missing_ok=True)
        self._tmp_files.clear()
        return self.path

    def _mux_audio(self, video_tmp: Path) -> Path:
        import ffmpeg
        duration = self.frames_written / self.fps
        clip = self.audio
        if clip.path is not None and Path(clip.path).exists():
            a = ffmpeg.input(str(clip.path), ss=clip.offset) if clip.offset > 0 else \
                ffmpeg.input(str(clip.path))
        else:
            import soundfile as sf
            wav = self._tempfile(".wav")
            sf.write(str(wav), clip.samples, clip.sr, format="WAV", subtype="FLOAT")
            a = ffmpeg.input(str(wav))
        out_tmp = self._tempfile(".mp4")
        v = ffmpeg.input(str(video_tmp))
        stream = ffmpeg.output(v.video, a.audio, str(out_tmp), vcodec="copy", acodec="aac",
                               audio_bitrate="192k", t=f"{duration:.6f}", movflags="+faststart")
        args = ffmpeg.compile(stream, cmd=ffmpeg_exe(), overwrite_output=True)
        args[1:1] = ["-nostdin", "-v", "error"]
        proc = subprocess.run(args, capture_output=True)
        if proc.returncode != 0:
            self.abort()
            raise MediaError(clip.path or "audio", "could not mux the audio: "
                             + proc.stderr.decode("utf-8", "replace").strip()[-200:])
        return out_tmp


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float,
                audio: AudioClip | None = None, crf: int = DEFAULT_CRF) -> Path:
    with VideoWriter(path, fps, audio=audio, crf=crf) as w:
        w.write_all(frames)
    return Path(path)


def read_video(path: str | Path, max_frames: int | None = None) -> tuple[list[np.ndarray], float]:
    r = VideoReader(path)
    return r.read_all(max_frames), r.fps
