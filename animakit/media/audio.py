"""Audio loading: any container ffmpeg reads (wav, mp3, ogg, flac, mp4 ...), decoded and
resampled once by ffmpeg to mono float32 at the analysis rate."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import MediaError
from .ffmpeg import ffmpeg_exe, check_readable


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


def load_audio(source: str | Path | AudioClip, sr: int = 16000, name: str = "audio",
               allow_empty: bool = False) -> AudioClip:
    """Decode ``source`` to mono float32 at ``sr`` Hz. Raises :class:`MediaError` naming the
    file when it is missing, empty, not audio, or holds no samples."""
    if isinstance(source, AudioClip):
        if source.sr == sr:
            return source
        import librosa
        return AudioClip(librosa.resample(source.samples, orig_sr=source.sr, target_sr=sr)
                         .astype(np.float32), sr, source.path, source.offset)
    path = check_readable(source, name)
    proc = subprocess.run(_decode_cmd(path, sr), capture_output=True)
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
