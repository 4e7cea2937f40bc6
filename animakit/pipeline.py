"""The pipeline protocol.

A pipeline has a dotted ``name``, named ``inputs``, one ``Params`` dataclass (see
:mod:`animakit.params`) for what every engine reads, and a dict of ``engines``, one of them
``default_engine``. An engine may declare its own ``Params`` dataclass for the rest (steps,
weights, device, ...): a render validates the pipeline's fields plus the chosen engine's, and
the engine receives one object holding both (:func:`engine_params_class`).

Calling it follows diffusers habits::

    pipe = load_pipeline("myplugin.wobble")
    out = pipe(image="photo.jpg", amount=0.5, generator=torch.Generator().manual_seed(0))
    out.frames  # list of (H, W, 3) uint8 RGB arrays
    out.fps, out.audio

``pipe.stream(...)`` takes the same arguments and returns a :class:`FrameStream`: an iterable
of frames whose fps, size and audio are known before the first frame, so long renders
run in bounded memory straight into :class:`animakit.media.VideoWriter`.
"""
from __future__ import annotations

import abc
import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Iterator

import numpy as np

from .errors import InputError, ParamError
from .media.audio import AudioClip
from .params import build_params, param_specs

if TYPE_CHECKING:  # the studio imports gradio; a pipeline never does until its tab is built
    from .live import LiveSpec
    from .studio.tabs import TabContext

INPUT_KINDS = ("image", "audio", "video", "file")


@dataclass(frozen=True)
class InputSpec:
    """One named input. ``kind`` is image / audio / video / file; ``file`` inputs list
    the accepted ``extensions`` (e.g. ``(".npz",)``); ``accepts`` lists further kinds a
    single input may take (``driving`` may be a video or a pose file)."""
    name: str
    kind: str
    help: str
    required: bool = True
    extensions: tuple[str, ...] = ()
    accepts: tuple[str, ...] = ()
    advanced: bool = False          # an optional input most people skip (the studio folds it)
    label: str | None = None        # the studio's words for it (None: the name, spaced)

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ")

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "help": self.help,
                "required": self.required, "extensions": list(self.extensions),
                "accepts": list(self.accepts), "advanced": self.advanced, "label": self.title}


@dataclass
class PipelineOutput:
    frames: list[np.ndarray]           # each (H, W, 3) uint8 RGB
    fps: float
    audio: AudioClip | None = None
    extras: dict[str, Any] = field(default_factory=dict)


class FrameStream:
    """Frames produced one at a time, with what the writer needs known up front.

    ``side_outputs`` maps a name (e.g. ``"landmarks"``, ``"preview"``) to a function that
    writes that extra result to a path once the stream is exhausted (CLI ``--export NAME=PATH``).
    ``export_suffixes`` maps a side output's name to the file suffixes it writes (e.g.
    ``(".npz",)``); the run API refuses an export path with another suffix.
    ``extras`` is free-form data the engine fills in as it goes (measures, warnings).
    """

    def __init__(self, frames: Iterable[np.ndarray], fps: float, size: tuple[int, int],
                 num_frames: int | None = None, audio: AudioClip | None = None,
                 side_outputs: dict[str, Callable[[Path], None]] | None = None,
                 extras: dict[str, Any] | None = None,
                 export_suffixes: dict[str, tuple[str, ...]] | None = None):
        self._frames = frames
        self.fps = float(fps)
        self.size = (int(size[0]), int(size[1]))   # (width, height)
        self.num_frames = num_frames
        self.audio = audio
        self.side_outputs = side_outputs or {}
        self.export_suffixes = dict(export_suffixes or {})
        self.extras = extras if extras is not None else {}
        self.warnings: list[str] = []

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self._frames)

    def __len__(self) -> int:
        if self.num_frames is None:
            raise TypeError("this stream's length is not known in advance")
        return self.num_frames

    def collect(self) -> PipelineOutput:
        frames = list(self)
        return PipelineOutput(frames=frames, fps=self.fps, audio=self.audio, extras=self.extras)


class Engine(abc.ABC):
    """One way of producing a pipeline's frames. Subclasses set ``name``/``help`` and
    implement :meth:`stream`. Neural engines set ``neural = True``; ``Params`` is the
    engine's own params dataclass (None: it reads only the pipeline's)."""
    name: ClassVar[str] = ""
    help: ClassVar[str] = ""
    neural: ClassVar[bool] = False
    # a neural engine whose weights ship with animakit (nothing to download or point at)
    weights_included: ClassVar[bool] = False
    Params: ClassVar[type | None] = None

    @abc.abstractmethod
    def stream(self, inputs: dict[str, Any], params: Any, generator: Any = None) -> FrameStream:
        """Frames for ``inputs`` (name -> path or loaded object) and validated ``params``."""


class Pipeline:
    """Base of every pipeline. Subclasses set the class attributes below."""
    name: ClassVar[str]
    # what people call it (the studio's tab, e.g. "Talking portrait"); empty: the name
    title: ClassVar[str] = ""
    help: ClassVar[str] = ""
    inputs: ClassVar[tuple[InputSpec, ...]] = ()
    Params: ClassVar[type]
    engines: ClassVar[dict[str, type[Engine]]] = {}
    default_engine: ClassVar[str] = ""
    # One-click examples for the studio and docs: each {"label": str, "inputs": {name: path
    # relative to assets/}, "params": {...}, optional "engine"}. The first is the tab's default.
    examples: ClassVar[tuple[dict, ...]] = ()
    # The studio shows one tab per pipeline, sorted by (studio_order, name): lower first.
    studio_order: ClassVar[int] = 100

    @classmethod
    def studio_extras(cls, ctx: TabContext) -> None:
        """Add this pipeline's own components to its studio tab (default: none). Called inside
        the tab's result column before the Render button is wired, so it may add side outputs
        (``ctx.exports`` / ``ctx.extra_outputs``). Import gradio and layout code inside it, so
        that listing pipelines never imports them."""

    @classmethod
    def live(cls) -> LiveSpec | None:
        """This pipeline's live mode (:mod:`animakit.live`: a per-session frame processor
        the studio's Live tab and ``animakit live`` drive from a camera), or None."""
        return None

    def __init__(self):
        self._engines: dict[str, Engine] = {}

    @classmethod
    def display_name(cls) -> str:
        """The pipeline's :attr:`title`, or its dotted name when it has none."""
        return cls.title or cls.name

    def input_notes(self, inputs: dict[str, Any]) -> list[str]:
        """Warnings a person should see at upload, before rendering, about ``inputs``
        (input name -> path, any subset present). Raises InputError for what cannot render."""
        return []

    # -- description -------------------------------------------------------------------
    @classmethod
    def describe(cls) -> dict:
        """Everything the CLI, job files and the studio show: inputs, the params every
        engine reads, and each engine with its own params."""
        return {"name": cls.name, "title": cls.display_name(), "help": cls.help,
                "inputs": [i.to_json() for i in cls.inputs],
                "engines": [{"name": n, "help": e.help, "neural": e.neural,
                             "default": n == cls.default_engine,
                             "params": [s.to_json() for s in cls.engine_param_specs(n)]}
                            for n, e in cls.engines.items()],
                "params": [s.to_json() for s in param_specs(cls.Params)],
                "examples": [dict(e) for e in cls.examples]}

    @classmethod
    def engine_param_specs(cls, engine: str) -> list:
        """The specs of engine ``engine``'s own params (empty when it has none)."""
        own = cls.engines[engine].Params
        return param_specs(own) if own is not None else []

    @classmethod
    def params_class(cls, engine: str | None = None) -> type:
        """The dataclass a render with ``engine`` validates: the pipeline's params plus the
        engine's own."""
        name = engine or cls.default_engine
        if name not in cls.engines:
            raise ParamError("engine", f"{cls.name} has no engine {name!r}; "
                             f"choose one of {', '.join(cls.engines)}")
        return engine_params_class(cls.Params, cls.engines[name].Params)

    # -- calling -------------------------------------------------------------------------
    def engine(self, name: str | None = None) -> Engine:
        name = name or self.default_engine
        if name not in self.engines:
            raise ParamError("engine", f"{self.name} has no engine {name!r}; "
                             f"choose one of {', '.join(self.engines)}")
        if name not in self._engines:
            self._engines[name] = self.engines[name]()
        return self._engines[name]

    def split_kwargs(self, kwargs: dict[str, Any], params: Any = None,
                     engine: str | None = None) -> tuple[dict, Any]:
        """Separate input keywords from param overrides; validate both against the
        pipeline's params plus ``engine``'s own."""
        cls = self.params_class(engine)
        input_names = {i.name for i in self.inputs}
        param_names = {s.name for s in param_specs(cls)}
        inputs, overrides = {}, {}
        for key, value in kwargs.items():
            if key in input_names:
                if value is not None:
                    inputs[key] = value
            elif key in param_names:
                overrides[key] = value
            else:
                raise self._unknown_param(key, engine, input_names, param_names)
        if isinstance(params, dict):
            overrides = {**params, **overrides}
            params = None
        elif params is not None and not isinstance(params, self.Params):
            raise ParamError("params", f"expected {self.Params.__name__}")
        self.check_inputs(inputs)
        return inputs, build_params(cls, overrides, base=params)

    def _unknown_param(self, key: str, engine: str | None, input_names: set[str],
                       param_names: set[str]) -> ParamError:
        owners = [n for n in self.engines if key in {s.name for s in self.engine_param_specs(n)}]
        if owners:
            return ParamError(f"param {key}", f"a setting of the {' / '.join(owners)} engine, "
                              f"not of {engine or self.default_engine}; choose it with "
                              f"engine={owners[0]} (CLI: -e {owners[0]})")
        return ParamError(key, f"{self.name} has no input or parameter named {key!r}; "
                               f"inputs: {', '.join(sorted(input_names)) or 'none'}; "
                               f"params: {', '.join(sorted(param_names))}")

    def check_inputs(self, inputs: dict[str, Any]) -> None:
        """Required inputs present. Pipelines with 'one of' rules override and call super."""
        for spec in self.inputs:
            if spec.required and spec.name not in inputs:
                raise InputError(spec.name, f"{self.name} needs the input {spec.name!r} "
                                            f"({spec.help})")

    def stream(self, *, params: Any = None, engine: str | None = None, generator: Any = None,
               **kwargs: Any) -> FrameStream:
        inputs, p = self.split_kwargs(kwargs, params, engine)
        return self.engine(engine).stream(inputs, p, generator)

    def __call__(self, *, params: Any = None, engine: str | None = None, generator: Any = None,
                 **kwargs: Any) -> PipelineOutput:
        return self.stream(params=params, engine=engine, generator=generator, **kwargs).collect()


@functools.lru_cache(maxsize=None)
def engine_params_class(pipeline_params: type, engine_params: type | None) -> type:
    """One dataclass with the pipeline's fields, then the engine's: what the engine receives.
    Its instances are also instances of both classes. Raises TypeError on a name clash."""
    if engine_params is None:
        return pipeline_params
    clash = {f.name for f in dataclasses.fields(pipeline_params)} & {
        f.name for f in dataclasses.fields(engine_params)}
    if clash:
        raise TypeError(f"{engine_params.__name__} repeats {pipeline_params.__name__}'s "
                        f"field(s) {', '.join(sorted(clash))}")
    merged = type(engine_params.__name__, (engine_params, pipeline_params),
                  {"__module__": engine_params.__module__, "__doc__": engine_params.__doc__})
    return dataclass(merged)
