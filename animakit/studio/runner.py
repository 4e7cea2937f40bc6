"""What the studio's buttons call: check upload limits, render into the studio's own output
folder, turn user mistakes into a readable Gradio error."""
from __future__ import annotations

import logging
import re
import tempfile
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import ASSETS
from ..errors import AnimakitError, InputError
from ..media import VIDEO_SUFFIXES, VideoReader, checked_audio_info
from ..registry import load_pipeline
from ..render import RenderResult, render as render_file

log = logging.getLogger("animakit.studio")


@dataclass(frozen=True)
class Limits:
    max_upload_mb: int = 200          # enforced by Gradio itself (launch max_file_size)
    max_seconds: float = 600.0        # audio / video inputs
    max_side: int = 4096              # video inputs; images are downscaled by load_image


LIMITS = Limits()


def output_dir() -> Path:
    d = Path(tempfile.gettempdir()) / "animakit-studio"
    d.mkdir(parents=True, exist_ok=True)
    return d


def check_limits(kinds: dict[str, str], inputs: dict[str, Any], limits: Limits = LIMITS) -> None:
    """Reject over-long or oversized uploads up front with a message naming the upload by its
    file name (never the server's path). Only headers are read: nothing is decoded here."""
    for name, value in inputs.items():
        try:
            _check_limit(name, kinds.get(name), Path(str(value)), limits)
        except InputError as e:
            raise InputError(Path(str(value)).name, e.problem) from None


def _check_limit(name: str, kind: str | None, path: Path, limits: Limits) -> None:
    """One input's limits; errors may name the server path (check_limits renames them)."""
    if path.suffix.lower() in VIDEO_SUFFIXES:   # a 'driving' input may be a .npz instead
        v = VideoReader(path, name=name)
        if v.duration > limits.max_seconds:
            raise InputError(path.name, f"{name} is {v.duration:.0f} s long; the studio takes up "
                             f"to {limits.max_seconds:.0f} s (use the CLI for longer renders)")
        if max(v.size) > limits.max_side:
            raise InputError(path.name, f"{name} is {v.size[0]}x{v.size[1]}; the studio takes "
                             f"up to {limits.max_side} px on the long side")
    elif kind == "audio":
        seconds = checked_audio_info(path, name).duration
        if seconds > limits.max_seconds:
            raise InputError(path.name, f"{name} is {seconds:.0f} s long; the studio takes "
                             f"up to {limits.max_seconds:.0f} s (use the CLI for longer renders)")


def render(name: str, engine: str | None, inputs: dict[str, Any], params: dict[str, Any],
           seed: int | None = None, exports: tuple[str, ...] = ()) -> tuple[str, str, dict]:
    """Render pipeline ``name``; returns (video path, a markdown summary, side-output paths).
    Raises :class:`AnimakitError` for user mistakes."""
    pipe = load_pipeline(name)
    kinds = {i.name: i.kind for i in pipe.inputs}
    inputs = {k: v for k, v in inputs.items() if v not in (None, "")}
    check_limits(kinds, inputs)
    stem = f"{name.replace('.', '_')}-{time.strftime('%H%M%S')}-{uuid.uuid4().hex[:6]}"
    result = render_file(pipe, output_dir() / f"{stem}.mp4", inputs=inputs, params=params,
                         engine=engine, seed=seed, progress=True,
                         exports={e: output_dir() / f"{stem}-{e}{_suffix(e)}" for e in exports})
    side = {e: str(p) for e, p in result.exports.items() if p.exists()}
    return str(result.output), summary_markdown(result), side


def summary_markdown(result: RenderResult) -> str:
    """The studio's line under the video: frames, rate, speed, then each warning."""
    wall = result.wall_seconds
    lines = [f"**{result.frames} frames** at {result.fps:g} fps "
             f"({result.seconds:.2f} s of video) rendered in {wall:.1f} s "
             f"({1000 * wall / max(1, result.frames):.0f} ms/frame)"]
    lines += [f"⚠️ {w}" for w in result.warnings]
    return "\n\n".join(lines)


def _suffix(export: str) -> str:
    return ".mp4" if export == "preview" else ".npz"


def example_inputs(example: dict) -> dict[str, str]:
    return {k: str(ASSETS / v) for k, v in example.get("inputs", {}).items()}


# an absolute path of two or more parts; group 1 is its last part (the file's own name)
_SERVER_PATH = re.compile(r"(?:/[^/\s'\"():,]+)+/([^/\s'\"():,]+)")


def without_paths(message: str) -> str:
    """``message`` with every absolute path cut to its file name: uploads sit in server
    folders whose names the user never chose and must not learn."""
    return _SERVER_PATH.sub(r"\1", message)


def describe_error(e: Exception) -> str:
    """The line the studio shows for ``e``: the user's mistake, or a pointer to the log."""
    if isinstance(e, AnimakitError):
        return without_paths(str(e))
    log.error("internal error in the studio:\n%s", traceback.format_exc())
    return without_paths(f"internal error ({type(e).__name__}: {e}); the details are in the "
                         "server log")
