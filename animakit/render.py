"""Render a pipeline straight into a video file, in bounded memory, with a tqdm bar."""
from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .errors import InputError
from .media.video import VideoWriter
from .pipeline import Pipeline

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v")
# whether bars inside an engine (e.g. pose tracking) show: render_to_file's ``progress``
SHOW_PROGRESS: ContextVar[bool] = ContextVar("animakit_show_progress", default=True)


def render_to_file(pipe: Pipeline, output: str | Path, *, inputs: dict[str, Any] | None = None,
                   params: Any = None, engine: str | None = None, generator: Any = None,
                   exports: dict[str, str | Path] | None = None, crf: int | None = None,
                   progress: bool = True, desc: str | None = None) -> dict[str, Any]:
    """Stream ``pipe`` into ``output``; write each requested side output (``exports``:
    name -> path). Returns a summary: frames, fps, seconds of video, extras, warnings."""
    output = Path(output)
    if output.suffix.lower() not in VIDEO_SUFFIXES:
        raise InputError(output, f"output must be a video file ({', '.join(VIDEO_SUFFIXES)})")
    kwargs = dict(inputs or {})
    if isinstance(params, dict):
        kwargs.update(params)
        params = None
    token = SHOW_PROGRESS.set(progress)
    try:
        return _render(pipe, output, kwargs, params, engine, generator, exports, crf, progress, desc)
    finally:
        SHOW_PROGRESS.reset(token)


def _render(pipe: Pipeline, output: Path, kwargs: dict[str, Any], params: Any, engine: str | None,
            generator: Any, exports: dict[str, str | Path] | None, crf: int | None,
            progress: bool, desc: str | None) -> dict[str, Any]:
    stream = pipe.stream(params=params, engine=engine, generator=generator, **kwargs)
    exports = {k: Path(v) for k, v in (exports or {}).items()}
    unknown = sorted(set(exports) - set(stream.side_outputs))
    if unknown:
        raise InputError(f"--export {unknown[0]}", f"{pipe.name} has no side output "
                         f"{unknown[0]!r}; it offers: {', '.join(stream.side_outputs) or 'none'}")
    writer_kw = {"crf": crf} if crf is not None else {}
    bar = tqdm(total=stream.num_frames, desc=desc or pipe.name, unit="frame",
               disable=not progress, leave=False)
    try:
        with VideoWriter(output, stream.fps, audio=stream.audio, **writer_kw) as writer:
            for frame in stream:
                writer.write(frame)
                bar.update(1)
    finally:
        bar.close()
    for name, path in exports.items():
        stream.side_outputs[name](path)
    return {"output": str(output), "frames": writer.frames_written, "fps": stream.fps,
            "seconds": writer.frames_written / stream.fps, "warnings": list(stream.warnings),
            "extras": {k: v for k, v in stream.extras.items() if _jsonable(v)}}


def _jsonable(v: Any) -> bool:
    return isinstance(v, (int, float, str, bool, type(None))) or (
        isinstance(v, (list, tuple)) and all(isinstance(x, (int, float, str, bool)) for x in v))
