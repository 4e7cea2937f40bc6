"""Temporary files that name their owner: ``.<stem>.<pid>.<random>.part<suffix>`` beside an
output, and ``<prefix><pid>-<random>`` scratch folders, so that a later run can remove what a
killed one (SIGKILL, power cut) left behind without touching a live run's files.

The batch executor's ``.<stem>.*.part*`` globs still match these names.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


def part_prefix(path: Path) -> str:
    """The ``mkstemp`` prefix of a temporary file beside ``path``: hidden, owned by this pid."""
    return f".{path.stem}.{os.getpid()}."


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one we may not signal still counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner(name: str, prefix: str) -> int | None:
    """The pid in ``<prefix><pid>.<random>...`` or ``<prefix><pid>-<random>``; None if absent."""
    head = name[len(prefix):].replace("-", ".").split(".", 1)[0]
    return int(head) if head.isdigit() else None


def sweep_stale_parts(path: Path) -> list[Path]:
    """Remove the ``.<stem>.<pid>.*.part*`` files beside ``path`` whose owner is gone."""
    prefix = f".{path.stem}."
    removed = []
    if path.parent.is_dir():
        for part in path.parent.glob(f"{prefix}*.part*"):
            pid = _owner(part.name, prefix)
            if pid is not None and pid != os.getpid() and not pid_alive(pid):
                part.unlink(missing_ok=True)
                removed.append(part)
    return removed


def sweep_stale_scratch(prefix: str) -> list[Path]:
    """Remove the ``<prefix><pid>-*`` folders in the temp directory whose owner is gone."""
    removed = []
    for d in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        pid = _owner(d.name, prefix)
        if d.is_dir() and pid is not None and pid != os.getpid() and not pid_alive(pid):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A scratch folder ``<tmp>/<prefix><pid>-<random>``, removed on exit (also on Ctrl-C or
    SIGTERM, which the CLI turns into an exception); stale ones of dead owners are swept first."""
    sweep_stale_scratch(prefix)
    with tempfile.TemporaryDirectory(prefix=f"{prefix}{os.getpid()}-") as tmp:
        yield Path(tmp)
