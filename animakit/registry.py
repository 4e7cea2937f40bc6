"""Pipeline discovery through the ``animakit.pipelines`` entry-point group.

Each entry point's name is the pipeline's dotted name and its value the pipeline class,
e.g. in a third-party plugin's pyproject.toml::

    [project.entry-points."animakit.pipelines"]
    "myplugin.wobble" = "myplugin.wobble:WobblePipeline"
"""
from __future__ import annotations

import functools
import warnings
from importlib.metadata import EntryPoint, entry_points

from .cache import PIPELINES
from .errors import AnimakitError, PipelineNotFoundError
from .pipeline import Pipeline

GROUP = "animakit.pipelines"
_extra: dict[str, type[Pipeline]] = {}


def register(cls: type[Pipeline]) -> type[Pipeline]:
    """Register a pipeline class at run time (tests, notebooks). Entry points are the norm."""
    _extra[cls.name] = cls
    return cls


@functools.lru_cache(maxsize=1)
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


@functools.lru_cache(maxsize=None)
def _load(name: str) -> type[Pipeline] | Exception:
    ep = _entry_points()[name]
    try:
        cls = ep.load()
    except Exception as e:  # a third-party plugin must not take the host down
        warnings.warn(f"animakit: skipping pipeline {name!r} ({ep.value}): {e}", stacklevel=2)
        return e
    if not (isinstance(cls, type) and issubclass(cls, Pipeline)):
        err = TypeError(f"{ep.value} is not an animakit Pipeline class")
        warnings.warn(f"animakit: skipping pipeline {name!r}: {err}", stacklevel=2)
        return err
    return cls


def pipeline_classes() -> dict[str, type[Pipeline]]:
    """Every pipeline that loads, by name. A broken plugin is skipped with one warning."""
    out: dict[str, type[Pipeline]] = {}
    for name in sorted(_entry_points()):
        cls = _load(name)
        if not isinstance(cls, Exception):
            out[name] = cls
    out.update(_extra)
    return dict(sorted(out.items()))


def pipeline_names() -> list[str]:
    return sorted(pipeline_classes())


def load_pipeline(name: str, *, fresh: bool = False) -> Pipeline:
    """Pipeline ``name``, the process's one instance of it (its engines and their weights are
    built once; :func:`animakit.cache.clear` forgets them). ``fresh=True`` builds a private
    instance. Only that plugin is imported."""
    if fresh:
        return pipeline_class(name)()
    return PIPELINES.get(name, lambda: pipeline_class(name)())


def pipeline_class(name: str) -> type[Pipeline]:
    """The class registered as ``name``. Raises :class:`PipelineNotFoundError`."""
    if name in _extra:
        return _extra[name]
    if name not in _entry_points():
        raise PipelineNotFoundError(name, list(pipeline_classes()))
    cls = _load(name)
    if isinstance(cls, Exception):
        raise AnimakitError(f"pipeline {name!r} is installed but failed to load: {cls}")
    return cls


def refresh() -> None:
    """Re-read the entry points (a plugin installed or removed at run time)."""
    PIPELINES.clear()
    _entry_points.cache_clear()
    _load.cache_clear()
