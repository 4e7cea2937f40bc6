"""Per-frame work on one thread.

A stream renders its frames one after another while the encoder (an ffmpeg process), the
decoder or the browser's transport works on the other cores, so splitting one frame's small
operations across threads only adds hand-offs. Two libraries do it by default:

- OpenBLAS: after each threaded call (a matrix product, a batch of 2×2 SVDs) its idle
  workers spin for a while, taking a core;
- OpenCV: splits each remap / resize / blur across its pool.

Measured on 2 cores: a 1342² talking-portrait frame costs 39 ms of CPU with both on their
defaults and 23 ms on one thread; the editing layer tracker 63 ms against 32 ms
(``benchmarks/talking_speed.py``, ``benchmarks/editing.py``).
"""
from __future__ import annotations

import functools
import threading
from contextlib import contextmanager
from typing import Iterator

import cv2

_lock = threading.Lock()
_state: dict = {"depth": 0, "cv2": 0, "blas": None}


@functools.lru_cache(maxsize=1)
def _openblas():
    """threadpoolctl's controller of the OpenBLAS libraries loaded now (numpy's, scipy's)."""
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController().select(internal_api="openblas")


@contextmanager
def one_thread() -> Iterator[None]:
    """Inside: OpenCV and OpenBLAS on one thread. Both settings are process-wide, so nested
    and concurrent users share them: the first in sets them, the last out restores them.
    Other BLAS libraries (a torch engine's) are left alone."""
    with _lock:
        if _state["depth"] == 0:
            _state["cv2"] = cv2.getNumThreads()
            cv2.setNumThreads(1)
            _state["blas"] = _openblas().limit(limits=1)
        _state["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0:
                cv2.setNumThreads(_state["cv2"])
                _state["blas"].restore_original_limits()
