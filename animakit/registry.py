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

from .errors import PipelineNotFoundError
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


def pipeline_classes() -> dict[str, type[Pipeline]]:
    """Every pipeline that loads, by name. A broken plugin is skipped with a warning."""
    out: dict[str, type[Pipeline]] = {}
    for name, ep in sorted(_entry_points().items()):
        try:
            cls = ep.load()
        except Exception as e:  # a third-party plugin must not take the host down
            warnings.warn(f"animakit: skipping pipeline {name!r} ({ep.value}): {e}")
            continue
        out[name] = cls
    out.update(_extra)
    return out


def pipeline_names() -> list[str]:
    return sorted(pipeline_classes())


def load_pipeline(name: str) -> Pipeline:
    classes = pipeline_classes()
    if name not in classes:
        raise PipelineNotFoundError(name, list(classes))
    return classes[name]()


def refresh() -> None:
    _entry_points.cache_clear()
