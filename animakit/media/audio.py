"""Audio loading: any container ffmpeg reads (wav, mp3, ogg, flac, mp4 ...), decoded and
resampled once by ffmpeg to mono float32 at the analysis rate.

Every file is probed from its header first (:func:`audio_info`): its sample rate must be an
audio rate and a whole-file decode must fit :data:`MAX_DECODE_SECONDS`, so a small file that
claims hours of audio is refused before a single sample is decoded. Longer inputs are read
as a window (``start``/``duration``) or streamed in blocks (:func:`stream_audio`)."""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import MediaError
from .ffmpeg import check_readable, describe_input, ffmpeg_exe

MIN_SAMPLE_RATE = 4000          # below this a file is not speech or music (8 kHz is telephone)
MAX_SAMPLE_RATE = 768_000       # the highest rate audio interfaces record at
MAX_DECODE_SECONDS = 3 * 3600   # whole-file decode cap: 3 h at 16 kHz is 0.7 GB of float32


@dataclass(frozen=True)
class AudioInfo:
    """What the header of an audio file (or the audio track of a video) says."""
    duration: float     # seconds; 0.0 when the container does not say
    sr: int             # samples per second of the stored stream
    channels: int


@dataclass
class AudioClip:
    """Mono audio. ``path``/``offset`` say where it came from, so the writer can mux the
    original file's audio (full quality, no re-sampling) instead of these samples."""
    samples: np.ndarray        # (n,) float32 in [-1, 1]
    sr: int
    path: Path | None = None
    offset: float = 0.0        # seconds into ``path`` where ``samples`` start

    @property
    def duration(self) -> float:
        return len(self.samples) / float(self.sr)

    def slice(self, start: float, end: float | None = None) -> "AudioClip":
        a = int(round(start * self.sr))
        b = len(self.samples) if end is None else int(round(end * self.sr))
        return AudioClip(self.samples[a:b], self.sr, self.path, self.offset + start)


def _decode_cmd(path: Path, sr: int, start: float = 0.0, duration: float | None = None) -> list[str]:
    cmd = [ffmpeg_exe(), "-nostdin", "-v", "error"]
    if start > 0:
        cmd += ["-ss", f"{start:.6f}"]
    cmd += ["-i", str(path)]
    if duration is not None:
        cmd += ["-t", f"{duration:.6f}"]
    return cmd + ["-vn", "-ac", "1", "-ar", str(sr), "-f", "f32le", "-"]


def audio_info(source: str | Path, name: str = "audio") -> AudioInfo:
    """Duration, rate and channels from the file's header, nothing decoded: libsndfile for
    the formats it knows (wav, flac, ogg ...), else ffmpeg's description of the input (the
    imageio-ffmpeg wheel ships no ffprobe). Raises :class:`MediaError` for a file with no
    audio stream."""
    path = check_readable(source, name)
    try:
        import soundfile as sf
        info = sf.info(str(path))
        return AudioInfo(float(info.duration), int(info.samplerate), int(info.channels))
    except Exception:  # not a libsndfile format (mp3 in an old libsndfile, mp4, webm ...)
        return _ffmpeg_audio_info(path, name)


def _ffmpeg_audio_info(path: Path, name: str) -> AudioInfo:
    """AudioInfo parsed from ``ffmpeg -i path`` (which prints the streams and exits)."""
    text = describe_input(path)
    stream = re.search(r"Stream #\S+.*?: Audio: .*?(\d+) Hz(?:, (mono|stereo|\d+ channels))?", text)
    if stream is None:
        raise MediaError(path, f"{name} is not a readable audio file (no audio stream found)")
    layout = stream.group(2) or "mono"
    channels = {"mono": 1, "stereo": 2}.get(layout) or int(layout.split()[0])
    return AudioInfo(_header_seconds(text), int(stream.group(1)), channels)


def _header_seconds(ffmpeg_text: str) -> float:
    """The ``Duration: HH:MM:SS.ss`` ffmpeg prints for an input, 0.0 when it says N/A."""
    m = re.search(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)", ffmpeg_text)
    return 0.0 if m is None else int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])


def checked_audio_info(path: Path, name: str = "audio",
                       max_seconds: float | None = None) -> AudioInfo:
    """The header of ``path``, refused with a :class:`MediaError` when its sample rate is not
    an audio rate or (with ``max_seconds``) it is longer than that."""
    info = audio_info(path, name)
    if not MIN_SAMPLE_RATE <= info.sr <= MAX_SAMPLE_RATE:
        raise MediaError(path, f"{name} is stored at {info.sr} Hz; audio must be "
                               f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz")
    if max_seconds is not None and info.duration > max_seconds:
        raise MediaError(path, f"{name} is {_hms(info.duration)} long; at most "
                               f"{_hms(max_seconds)} is read")
    return info


def _hms(seconds: float) -> str:
    """``8 h 0 min`` / ``12 min 5 s`` / ``42.0 s``: a length for a message."""
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"
    if seconds >= 60:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{seconds:.1f} s"


def load_audio(source: str | Path | AudioClip, sr: int = 16000, name: str = "audio",
               allow_empty: bool = False, duration: float | None = None,
               max_seconds: float = MAX_DECODE_SECONDS) -> AudioClip:
    """Decode ``source`` to mono float32 at ``sr`` Hz: the whole file, or only its first
    ``duration`` seconds. The header is checked first (rate, and length against
    ``max_seconds`` unless a ``duration`` window bounds the decode). Raises
    :class:`MediaError` naming the file when it is missing, empty, not audio, too long, or
    holds no samples."""
    if isinstance(source, AudioClip):
        if source.sr == sr:
            return source
        import librosa
        return AudioClip(librosa.resample(source.samples, orig_sr=source.sr, target_sr=sr)
                         .astype(np.float32), sr, source.path, source.offset)
    path = check_readable(source, name)
    if duration is not None and duration > max_seconds:
        raise MediaError(path, f"{duration:g} s of {name} asked for; "
                               f"at most {_hms(max_seconds)} is read")
    checked_audio_info(path, name, max_seconds=None if duration is not None else max_seconds)
    proc = subprocess.run(_decode_cmd(path, sr, duration=duration), capture_output=True)
    if proc.returncode != 0:
        raise MediaError(path, "not a readable audio file"
                         f" ({_last_line(proc.stderr) or 'ffmpeg could not decode it'})")
    samples = np.frombuffer(proc.stdout, dtype=np.float32).copy()
    if samples.size == 0 and not allow_empty:
        raise MediaError(path, "contains no audio samples")
    return AudioClip(samples, sr, path, 0.0)


def has_audio(path: str | Path) -> bool:
    """Whether ffmpeg finds an audio stream in ``path``."""
    proc = subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-vn",
                           "-ac", "1", "-ar", "8000", "-t", "0.1", "-f", "f32le", "-"],
                          capture_output=True)
    return proc.returncode == 0 and len(proc.stdout) > 0


def stream_audio(source: str | Path, sr: int = 16000, block_seconds: float = 10.0,
                 name: str = "audio") -> Iterator[np.ndarray]:
    """Yield consecutive blocks of mono float32 samples: hours of audio in bounded memory."""
    path = check_readable(source, name)
    checked_audio_info(path, name)
    proc = subprocess.Popen(_decode_cmd(path, sr), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    block = int(block_seconds * sr) * 4
    got = False
    try:
        while True:
            data = proc.stdout.read(block)
            if not data:
                break
            got = True
            yield np.frombuffer(data[: len(data) // 4 * 4], dtype=np.float32).copy()
        proc.wait()
        if proc.returncode != 0 and not got:
            raise MediaError(path, "not a readable audio file")
        if not got:
            raise MediaError(path, "contains no audio samples")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _last_line(stderr: bytes) -> str:
    lines = [l for l in stderr.decode("utf-8", "replace").strip().splitlines() if l.strip()]
    return lines[-1].strip()[:160] if lines else ""
