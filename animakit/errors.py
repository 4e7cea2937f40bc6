"""User-facing errors. Each message names the file (or parameter) and what is wrong with it.

The CLI prints ``str(error)`` on one line and exits with code 2; the studio shows it as a
Gradio error. Anything that is *not* an :class:`AnimakitError` is a bug and keeps its traceback.
"""
from __future__ import annotations

from pathlib import Path


class AnimakitError(Exception):
    """Base of every error that is the user's to fix."""


class InputError(AnimakitError):
    """An input file or value is unusable. ``source`` names it (a path, input name or param)."""

    def __init__(self, source: object, problem: str):
        self.source = str(source) if source is not None else "<input>"
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class MediaError(InputError):
    """The file is missing, empty, corrupt, or not the kind of media expected."""


class ImageTooLargeError(InputError):
    """The image's pixel count exceeds the configured cap."""


class NoFaceError(InputError):
    """No face was found where one is required."""


class NoPersonError(InputError):
    """No person (body pose) was found where one is required."""


class ParamError(InputError):
    """A parameter value is of the wrong type or out of range."""


class WeightsNotFoundError(InputError):
    """A neural engine's weights could not be found at the folder or hub id given."""


class PipelineNotFoundError(AnimakitError):
    def __init__(self, name: str, known: list[str]):
        super().__init__(f"no pipeline named {name!r}; known: {', '.join(sorted(known)) or 'none'}")


def describe(path: object) -> str:
    """Short display form of a path for messages."""
    return str(Path(path)) if isinstance(path, (str, Path)) else type(path).__name__
