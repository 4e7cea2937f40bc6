"""What the studio's buttons call: check upload limits, render into the studio's own output
folder, turn user mistakes into a readable Gradio error."""
from __future__ import annotations

import logging
import re
import tempfile
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .. import ASSETS
from ..cancel import CancelFlag, Cancelled, cancellable
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
    max_age_s: float = 3600.0         # renders, brushes and uploads are deleted after this
    max_disk_mb: int = 2048           # all sessions' renders together; oldest go first


LIMITS = Limits()


def output_dir() -> Path:
    d = Path(tempfile.gettempdir()) / "animakit-studio"
    d.mkdir(parents=True, exist_ok=True)
    return d


def session_dir(session: str | None) -> Path:
    """The folder of one browser session's renders (Gradio's ``session_hash``): another
    session cannot list it, and its name cannot be guessed. Without a session (the
    Python API of the studio, tests) renders go to a shared folder."""
    safe = re.sub(r"[^A-Za-z0-9]", "", session or "")[:64] or "shared"
    d = output_dir() / f"session-{safe}"
    d.mkdir(parents=True, exist_ok=True)
    return d


def sweep(limits: Limits = LIMITS, now: float | None = None) -> list[Path]:
    """Delete studio files older than ``limits.max_age_s``, then the oldest until all left
    fit ``limits.max_disk_mb``; files still being written (``.part``) are left alone.
    Returns what was deleted."""
    now = time.time() if now is None else now
    files = sorted((p for p in output_dir().rglob("*") if p.is_file() and ".part" not in p.name),
                   key=lambda p: p.stat().st_mtime)
    total = sum(p.stat().st_size for p in files)
    gone = []
    for p in files:
        if now - p.stat().st_mtime > limits.max_age_s or total > limits.max_disk_mb * 2**20:
            total -= p.stat().st_size
            p.unlink(missing_ok=True)
            gone.append(p)
    for d in output_dir().glob("session-*"):
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()
    return gone


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


class RenderFlag(CancelFlag):
    """A tab's cancel flag that also tells when its render has ended, and whether a cancel
    ended it: Cancel's own reply can then say the final word instead of racing the render's."""

    def __init__(self) -> None:
        super().__init__()
        self.ended = threading.Event()
        self.stopped = False            # ended by Cancel, nothing kept

    def end(self, stopped: bool) -> None:
        self.stopped = stopped
        self.ended.set()


# (session, pipeline name) -> the flag of that tab's render, running or about to run
_FLAGS: dict[tuple[str, str], RenderFlag] = {}
_FLAGS_LOCK = threading.Lock()


def arm(session: str | None, name: str) -> RenderFlag:
    """A fresh cancel flag for the next render of ``name`` in ``session`` (Render was pressed):
    a Cancel pressed before it starts still reaches it."""
    with _FLAGS_LOCK:
        flag = _FLAGS[(session or "", name)] = RenderFlag()
    return flag


def cancel(session: str | None, name: str, wait: float = 0.0) -> str:
    """Ask the render of ``name`` in ``session`` to stop and wait up to ``wait`` seconds for
    it to end: "stopped" (it ended by the cancel), "ended" (it finished first), "stopping"
    (still running) or "idle" (nothing armed)."""
    with _FLAGS_LOCK:
        flag = _FLAGS.get((session or "", name))
    if flag is None:
        return "idle"
    flag.cancel()
    if not flag.ended.wait(wait):
        return "stopping"
    return "stopped" if flag.stopped else "ended"


def _taken_flag(session: str | None, name: str) -> RenderFlag:
    with _FLAGS_LOCK:
        return _FLAGS.setdefault((session or "", name), RenderFlag())


def _release_flag(session: str | None, name: str, flag: RenderFlag, stopped: bool) -> None:
    with _FLAGS_LOCK:
        if _FLAGS.get((session or "", name)) is flag:
            del _FLAGS[(session or "", name)]
    flag.end(stopped)


def render(name: str, engine: str | None, inputs: dict[str, Any], params: dict[str, Any],
           seed: int | None = None, exports: tuple[str, ...] = (),
           session: str | None = None,
           on_frame: Callable[[int, int | None], None] | None = None) -> tuple[str, str, dict]:
    """Render pipeline ``name`` into the folder of browser ``session``; returns (video path,
    a markdown summary, side-output paths). Expired files are swept first. :func:`cancel`
    stops it with :class:`~animakit.cancel.Cancelled`, leaving no file. Raises
    :class:`AnimakitError` for user mistakes."""
    sweep()
    folder = session_dir(session)
    pipe = load_pipeline(name)
    kinds = {i.name: i.kind for i in pipe.inputs}
    inputs = {k: v for k, v in inputs.items() if v not in (None, "")}
    check_limits(kinds, inputs)
    stem = f"{name.replace('.', '_')}-{time.strftime('%H%M%S')}-{uuid.uuid4().hex[:6]}"
    flag, stopped = _taken_flag(session, name), False
    try:
        with cancellable(flag):
            result = render_file(pipe, folder / f"{stem}.mp4", inputs=inputs, params=params,
                                 engine=engine, seed=seed, progress=True, on_frame=on_frame,
                                 exports={e: folder / f"{stem}-{e}{_suffix(e)}"
                                          for e in exports})
    except BaseException as e:
        stopped = isinstance(e, Cancelled)
        for p in folder.glob(f"{stem}*"):       # an export written before the failure
            p.unlink(missing_ok=True)
        raise
    finally:
        _release_flag(session, name, flag, stopped)
    side = {e: str(p) for e, p in result.exports.items() if p.exists()}
    with _FLAGS_LOCK:
        shown = _SHOWN.get((session or "", name), set())
    return str(result.output), summary_markdown(result, shown), side


# (session, pipeline name) -> the notes last shown beside that tab's inputs: a render's
# summary leaves them out, so a problem is said once, where it is
_SHOWN: dict[tuple[str, str], set[str]] = {}


def input_notes(name: str, inputs: dict[str, Any], session: str | None = None) -> str:
    """Markdown for the notes beside a tab's inputs: what :meth:`Pipeline.input_notes` and the
    upload limits say about the ``inputs`` given so far, one line per problem, files named
    by their own names. Empty when all is well."""
    pipe = load_pipeline(name)
    kinds = {i.name: i.kind for i in pipe.inputs}
    inputs = {k: v for k, v in inputs.items() if v not in (None, "")}
    if not inputs:
        return ""
    try:
        check_limits(kinds, inputs)
        notes = [without_paths(n) for n in pipe.input_notes(inputs)]
    except AnimakitError as e:
        return f"⛔ {describe_error(e)}"
    except Exception as e:                      # a plugin's check failing is not the user's
        return f"⛔ {describe_error(e)}"
    with _FLAGS_LOCK:
        _SHOWN[(session or "", name)] = set(notes)
    return "\n\n".join(f"⚠️ {n}" for n in notes)


def summary_markdown(result: RenderResult, shown: set[str] = frozenset()) -> str:
    """The studio's line under the video: frames, rate, speed, then each warning not
    ``shown`` already beside the inputs (files named by their names, never server paths)."""
    wall = result.wall_seconds
    lines = [f"**{result.frames} frames** at {result.fps:g} fps "
             f"({result.seconds:.2f} s of video) rendered in {wall:.1f} s "
             f"({1000 * wall / max(1, result.frames):.0f} ms/frame)"]
    warnings = [without_paths(w) for w in result.warnings]
    lines += [f"⚠️ {w}" for w in warnings if w not in shown]
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
