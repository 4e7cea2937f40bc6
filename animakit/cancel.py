"""Stopping a render from outside: a per-render cancel flag that the render checks.

A thread cannot be killed from another one, so a front end that wants to stop a render (the
studio's Cancel button) sets that render's :class:`CancelFlag`; the render calls
:func:`check` between frames, the SVD-family samplers between denoising steps, and engines in
their long loops before the first frame (pose tracking, sampling). ``check`` raises
:class:`Cancelled`, the render removes its partial files, and the thread is free again::

    flag = CancelFlag()
    with cancellable(flag):          # in the rendering thread
        render(...)                  # raises Cancelled soon after flag.cancel()
    flag.cancel()                    # from any other thread

Outside :func:`cancellable` (the CLI, plain library calls) ``check`` does nothing.
"""
from __future__ import annotations

import contextlib
import threading
from contextvars import ContextVar
from typing import Iterator

from .errors import AnimakitError


class Cancelled(AnimakitError):
    """The render was cancelled on request; nothing was kept."""

    def __init__(self) -> None:
        super().__init__("cancelled; nothing was kept")


class CancelFlag:
    """One render's flag: set from any thread, read by the rendering one."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


# the flag of the render running in this thread (None: nothing can cancel it)
_FLAG: ContextVar[CancelFlag | None] = ContextVar("animakit_cancel_flag", default=None)


@contextlib.contextmanager
def cancellable(flag: CancelFlag) -> Iterator[CancelFlag]:
    """Within the block, :func:`check` in this thread raises once ``flag`` is set."""
    token = _FLAG.set(flag)
    try:
        yield flag
    finally:
        _FLAG.reset(token)


def check() -> None:
    """Raise :class:`Cancelled` if the current render's flag is set; cheap enough per frame."""
    flag = _FLAG.get()
    if flag is not None and flag.cancelled:
        raise Cancelled()


def current_flag() -> CancelFlag | None:
    """The flag the current render checks, for handing to a worker thread it starts."""
    return _FLAG.get()
