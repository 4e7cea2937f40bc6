"""The run API: render a pipeline straight into a video file, in bounded memory, with a tqdm bar.

    result = animakit.render("myplugin.wobble", "out.mp4", inputs={"image": "photo.jpg"},
                             params={"amount": 0.5}, seed=0)
    result.frames, result.fps, result.wall_seconds, result.exports

The CLI (``animakit run``), the job runner (``animakit render``) and the studio all call
:func:`render`. Naming a pipeline uses the process's cached instance, so engines and their
weights load once however many renders follow.

``animakit.render`` is this function; the module stays importable by its dotted name
(``from animakit.render import RenderResult``).
"""
from __future__ import annotations

import time
from numbers import Integral
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tqdm.auto import tqdm

from .cancel import check as check_cancelled
from .errors import AnimakitError, InputError, ParamError
from .media.suffixes import OUTPUT_VIDEO_SUFFIXES
from .media.video import VideoWriter
from .pipeline import FrameStream, Pipeline
from .registry import load_pipeline
from .media.partfiles import sweep_stale_parts
from .seeding import generator_for
from .targets import check_export_suffixes, check_targets

SEED_LIMIT = 2 ** 63 - 1        # the largest seed torch.Generator.manual_seed takes

# whether bars inside an engine (e.g. pose tracking) show: render's ``progress``
SHOW_PROGRESS: ContextVar[bool] = ContextVar("animakit_show_progress", default=True)


@dataclass(frozen=True)
class RenderResult:
    """What one render wrote and how long it took."""
    output: Path
    frames: int
    fps: float
    seconds: float                                  # of video
    wall_seconds: float                             # to load, render, encode and export
    warnings: tuple[str, ...] = ()
    extras: dict[str, Any] = field(default_factory=dict)   # the JSON-safe engine extras
    exports: dict[str, Path] = field(default_factory=dict)  # side outputs written, name -> path

    def to_json(self) -> dict[str, Any]:
        """The result as plain JSON types (paths as strings)."""
        return {"output": str(self.output), "frames": self.frames, "fps": self.fps,
                "seconds": self.seconds, "wall_seconds": self.wall_seconds,
                "warnings": list(self.warnings), "extras": dict(self.extras),
                "exports": {k: str(v) for k, v in self.exports.items()}}


def render(pipeline: str | Pipeline, output: str | Path, *, inputs: dict[str, Any] | None = None,
           params: Any = None, engine: str | None = None, seed: int | None = None,
           generator: Any = None, exports: dict[str, str | Path] | None = None,
           crf: int | None = None, progress: bool = True, desc: str | None = None,
           overwrite: bool = False,
           on_frame: Callable[[int, int | None], None] | None = None) -> RenderResult:
    """Stream ``pipeline`` (a registered name or an instance) into ``output`` and write each
    requested side output (``exports``: name -> path). ``params`` is a dict or a params
    dataclass; ``seed`` is shorthand for a seeded ``torch.Generator``. A target that is an
    input, another target or an existing file of another type is refused unless
    ``overwrite`` (see :mod:`animakit.targets`). Raises
    :class:`~animakit.errors.InputError` (and its children) for user mistakes.

    ``on_frame(done, total)`` is called after each frame is written (``total`` None when the
    stream's length is unknown): the studio's progress bar. Inside
    :func:`animakit.cancel.cancellable`, a set flag stops the render before its next frame
    with :class:`~animakit.cancel.Cancelled`, and nothing is kept."""
    t0 = time.perf_counter()
    output = checked_output(output)
    check_seed(seed)
    if seed is not None and generator is not None:
        raise ParamError("seed", "give a seed or a generator, not both")
    kwargs = dict(inputs or {})
    check_targets(output, {k: Path(v) for k, v in (exports or {}).items()}, kwargs, overwrite)
    pipe = load_pipeline(pipeline) if isinstance(pipeline, str) else pipeline
    if isinstance(params, dict):
        kwargs.update(params)
        params = None
    token = SHOW_PROGRESS.set(progress)
    try:
        stream = pipe.stream(params=params, engine=engine,
                             generator=generator if seed is None else generator_for(seed), **kwargs)
        written = checked_exports(pipe, stream, exports)
        check_export_suffixes(written, stream.export_suffixes)
        for path in (output, *written.values()):
            sweep_stale_parts(path)
        frames = write_stream(stream, output, crf, progress, desc or pipe.name, on_frame)
        write_exports(stream, output, written)
    finally:
        SHOW_PROGRESS.reset(token)
    return RenderResult(output=output, frames=frames, fps=stream.fps, seconds=frames / stream.fps,
                        wall_seconds=time.perf_counter() - t0, warnings=tuple(stream.warnings),
                        extras={k: v for k, v in stream.extras.items() if _jsonable(v)},
                        exports=written)


def checked_output(output: str | Path) -> Path:
    """``output`` as a path, refused unless it names a container the writer can fill."""
    output = Path(output)
    if output.suffix.lower() not in OUTPUT_VIDEO_SUFFIXES:
        raise InputError(output, "output must be a video file "
                                 f"({', '.join(OUTPUT_VIDEO_SUFFIXES)})")
    return output


def checked_exports(pipe: Pipeline, stream: FrameStream,
                    exports: dict[str, str | Path] | None) -> dict[str, Path]:
    """The requested side outputs as paths; refuses a name the stream does not offer."""
    paths = {k: Path(v) for k, v in (exports or {}).items()}
    unknown = sorted(set(paths) - set(stream.side_outputs))
    if unknown:
        raise InputError(f"--export {unknown[0]}", f"{pipe.name} has no side output "
                         f"{unknown[0]!r}; it offers: {', '.join(stream.side_outputs) or 'none'}")
    return paths


def check_seed(seed: int | None) -> None:
    """Refuse a seed a generator cannot take (outside 0 .. 2**63-1, or not an integer)."""
    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, Integral) or not 0 <= seed <= SEED_LIMIT:
        raise ParamError("seed", f"must be an integer from 0 to {SEED_LIMIT}, got {seed!r}")


def write_exports(stream: FrameStream, output: Path, written: dict[str, Path]) -> None:
    """Write each side output; a disk error (full, read-only) removes the video and the
    exports this render wrote and becomes one :class:`InputError` naming the file."""
    done: list[Path] = []
    for name, path in written.items():
        try:
            stream.side_outputs[name](path)
        except (OSError, AnimakitError) as e:
            for p in (output, *done):
                p.unlink(missing_ok=True)
            if isinstance(e, AnimakitError):
                raise
            raise InputError(path, f"could not write --export {name}: "
                                   f"{e.strerror or e}; nothing was kept") from None
        done.append(path)


def write_stream(stream: FrameStream, output: Path, crf: int | None, progress: bool,
                 desc: str, on_frame: Callable[[int, int | None], None] | None = None) -> int:
    """Encode every frame of ``stream`` into ``output``; returns the frames written. A
    cancelled render stops before its next frame; its partial file is removed."""
    writer_kw = {"crf": crf} if crf is not None else {}
    bar = tqdm(total=stream.num_frames, desc=desc, unit="frame", disable=not progress, leave=False)
    frames = iter(stream)
    try:
        check_cancelled()
        with VideoWriter(output, stream.fps, audio=stream.audio, **writer_kw) as writer:
            for frame in frames:
                check_cancelled()
                writer.write(frame)
                bar.update(1)
                if on_frame is not None:
                    on_frame(writer.frames_written, stream.num_frames)
    except OSError as e:                # disk full, directory made read-only mid-run, ...
        raise InputError(output, f"could not write: {e.strerror or e}; nothing was kept") from None
    finally:
        bar.close()
        # a generator's own clean-up (readers, subprocesses) runs now, not when collected
        getattr(frames, "close", lambda: None)()
    return writer.frames_written


def _jsonable(v: Any) -> bool:
    return isinstance(v, (int, float, str, bool, type(None))) or (
        isinstance(v, (list, tuple)) and all(isinstance(x, (int, float, str, bool)) for x in v))
