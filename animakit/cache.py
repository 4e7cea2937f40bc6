"""What a process keeps between renders: pipeline instances and the weights engines load.

Every front end (the API, ``animakit run`` / ``render`` workers, the studio) asks the same
cache, so a second render with the same weights reads nothing from disk::

    model = MODELS.get("myplugin.wobble/neural", (weights, device), lambda: load_model(weights, device))

A slot holds one model: asking with a different key (other weights, device or dtype) drops
the old model before loading the new one, so memory never holds two checkpoints of one
engine. :func:`clear` empties everything and returns the memory.
"""
from __future__ import annotations

import gc
import sys
import threading
from collections import Counter
from typing import Any, Callable, TypeVar

T = TypeVar("T")


class ModelCache:
    """Loaded models by slot (``"<pipeline>/<engine>"`` or finer), each with the key it was
    loaded for. ``loads`` counts the loads per slot (tests read it)."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[tuple, Any]] = {}
        self._lock = threading.RLock()
        self.loads: Counter[str] = Counter()

    def get(self, slot: str, key: tuple, load: Callable[[], T]) -> T:
        """The model in ``slot`` loaded for ``key``; calls ``load()`` only when the slot is
        empty or was loaded for another key (the old model is released first)."""
        with self._lock:
            entry = self._entries.get(slot)
            if entry is not None and entry[0] == key:
                return entry[1]
            if entry is not None:
                del self._entries[slot]
                entry = None
                release_memory()
            value = load()
            self.loads[slot] += 1
            self._entries[slot] = (key, value)
            return value

    def key(self, slot: str) -> tuple | None:
        """The key ``slot`` was loaded for, or None when it is empty."""
        entry = self._entries.get(slot)
        return None if entry is None else entry[0]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.loads.clear()
        release_memory()


class PipelineCache:
    """One pipeline instance per name, so its engines (and what they hold) are built once."""

    def __init__(self) -> None:
        self._instances: dict[str, Any] = {}
        self._lock = threading.RLock()

    def get(self, name: str, build: Callable[[], T]) -> T:
        with self._lock:
            if name not in self._instances:
                self._instances[name] = build()
            return self._instances[name]

    def clear(self) -> None:
        with self._lock:
            self._instances.clear()


MODELS = ModelCache()
PIPELINES = PipelineCache()


def release_memory() -> None:
    """Collect garbage and hand cached CUDA blocks back (only when torch is loaded)."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def clear() -> None:
    """Forget every cached pipeline and model; the next render loads afresh."""
    PIPELINES.clear()
    MODELS.clear()
