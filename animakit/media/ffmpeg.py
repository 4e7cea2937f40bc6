"""The ffmpeg binary that imageio-ffmpeg ships, and up-front checks of input files."""
from __future__ import annotations

import functools
from pathlib import Path

from ..errors import MediaError


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def describe_input(path: Path) -> str:
    """What ``ffmpeg -i path`` prints about the file: container, duration, each stream with
    its codec, size, rate. Only the header is read (the imageio-ffmpeg wheel has no ffprobe)."""
    import subprocess
    proc = subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", str(path)],
                          capture_output=True)
    return proc.stderr.decode("utf-8", "replace")


def decode_errors(path: Path, start: float = 0.0) -> str:
    """The first problem ffmpeg's decoder reports in the video of ``path`` from ``start``
    seconds on ("partial file", "Invalid NAL unit size ..."), without its "[h264 @ 0x..]"
    prefix; empty when the video decodes cleanly."""
    import re
    import subprocess
    proc = subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error",
                           "-ss", f"{max(0.0, start):.3f}", "-i", str(path), "-map", "0:v:0",
                           "-f", "null", "-"], capture_output=True)
    lines = [re.sub(r"^(\[[^]]*\]\s*)+", "", line).strip()
             for line in proc.stderr.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    # a container cut short says so in words; prefer that to the codec's symptoms
    return next((line for line in lines if "partial file" in line), lines[0] if lines else "")


def check_readable(source: str | Path, name: str = "input") -> Path:
    """The path, if it names a non-empty regular file; else a :class:`MediaError`."""
    path = Path(source).expanduser()
    if not path.exists():
        raise MediaError(path, f"{name} file not found")
    if path.is_dir():
        raise MediaError(path, f"{name} is a folder, not a file")
    if path.stat().st_size == 0:
        raise MediaError(path, f"{name} file is empty (0 bytes)")
    return path


def publish(tmp: Path, final: Path) -> None:
    """Rename a finished temporary file into place with ordinary permissions (mkstemp makes
    its files 0600; an output should be as readable as any file the user creates)."""
    import os
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, final)


class atomic_output:
    """``with atomic_output("x.npz") as tmp: np.savez(tmp, ...)`` — the file appears at its
    final path only if the block completes; otherwise the temporary file is removed."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __enter__(self) -> Path:
        import os
        import tempfile

        from .partfiles import part_prefix
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=part_prefix(self.path), suffix=f".part{self.path.suffix}",
                                    dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None and self.tmp.exists() and self.tmp.stat().st_size > 0:
            publish(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
        return False
