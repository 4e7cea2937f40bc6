"""The contract every animakit pipeline keeps, as a pytest suite a plugin runs on itself.

In the spirit of diffusers' ``PipelineTesterMixin``: subclass :class:`PipelineContract` in a
test module and name the pipeline; every check then runs on that pipeline's first example
(``cls.examples[0]``: inputs relative to :data:`animakit.ASSETS` or absolute, params,
optional engine)::

    # myplugin/tests/test_contract.py
    from animakit.testing import PipelineContract

    class TestWobbleContract(PipelineContract):
        pipeline_name = "myplugin.wobble"

or, without writing a test file, ``python -m animakit.testing myplugin.wobble`` (no name:
every registered pipeline). :func:`contract_for` builds the class for several names at once;
``tests/test_contract.py`` runs it over every registered pipeline.

The checks: the example renders through the run API into a readable mp4 (and nothing else is
left beside it); ``stream()`` and ``__call__`` give the same frames at the same fps; params
(defaults and the example's) survive ``dataclasses.asdict`` -> JSON -> ``build_params``; an
unknown param, an out-of-range value and a text file given as each input raise
:class:`~animakit.errors.InputError`; a render with progress off prints nothing, and so does
``python -m animakit run ... -q``.

Only tests import this module (it imports pytest); the rest of animakit never does.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator, Sequence

import numpy as np
import pytest

from . import ASSETS
from .errors import InputError
from .media import VideoReader
from .params import ParamSpec, build_params, param_specs
from .pipeline import InputSpec, Pipeline
from .registry import pipeline_class, pipeline_names
from .render import render

__all__ = ["Example", "PipelineContract", "contract_for", "main"]

SEED = 0
# Extension a text file is given for each input kind, so that only its content is wrong.
TEXT_FILE_SUFFIX = {"image": ".png", "audio": ".wav", "video": ".mp4", "file": ".json"}


@dataclass(frozen=True)
class Example:
    """A pipeline's example with its inputs resolved to paths."""
    inputs: dict[str, str]
    params: dict[str, Any]
    engine: str | None


def first_example(cls: type[Pipeline]) -> Example:
    """``cls.examples[0]``, input paths made absolute against :data:`animakit.ASSETS`."""
    if not cls.examples:
        pytest.fail(f"{cls.name} has no examples: the contract needs examples[0] to render")
    ex = cls.examples[0]
    inputs = {k: str(ASSETS / v) for k, v in (ex.get("inputs") or {}).items()}
    return Example(inputs, dict(ex.get("params") or {}), ex.get("engine"))


def seeded_generator(seed: int = SEED) -> Any:
    """A fresh CPU ``torch.Generator`` (torch is imported only when a check needs one)."""
    import torch
    return torch.Generator().manual_seed(seed)


@contextlib.contextmanager
def captured_output() -> Iterator[io.StringIO]:
    """Everything written to stdout or stderr inside the block, by Python code (sys.stdout,
    sys.stderr) or by native code writing to file descriptors 1 and 2 (ffmpeg, MediaPipe)."""
    text = io.StringIO()
    with tempfile.TemporaryFile(mode="w+b") as native:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(native.fileno(), 1)
            os.dup2(native.fileno(), 2)
            with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
                yield text
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            native.seek(0)
            text.write(native.read().decode(errors="replace"))


def first_frame(pipe: Pipeline, example: Example, **changes: Any) -> np.ndarray:
    """The first frame of the example with ``changes`` applied (inputs or params): enough to
    reach a render's up-front checks and its first decode."""
    kwargs = {**example.inputs, **example.params, **changes}
    stream = pipe.stream(engine=example.engine, generator=seeded_generator(), **kwargs)
    return next(iter(stream))


def out_of_range(specs: Iterable[ParamSpec]) -> tuple[str, float] | None:
    """(name, value) just outside the range of the first numeric field with a min or max."""
    for s in specs:
        if s.type not in (int, float) or s.choices:
            continue
        if s.min is not None:
            return s.name, s.min - 1
        if s.max is not None:
            return s.name, s.max + 1
    return None


def text_file(folder: Path, spec: InputSpec) -> Path:
    """A plain text file named like input ``spec`` expects (``.png`` for an image, ...)."""
    suffix = spec.extensions[0] if spec.kind == "file" and spec.extensions else TEXT_FILE_SUFFIX.get(
        spec.kind, ".txt")
    path = folder / f"not_{spec.kind}_{spec.name}{suffix}"
    path.write_text("this is a text file, not media\n" * 4)
    return path


def json_round_trip(params: Any) -> dict[str, Any]:
    """``params`` as it comes back from a JSON file."""
    return json.loads(json.dumps(dataclasses.asdict(params)))


def cli_value(value: Any) -> str:
    """A param value as ``-p KEY=VALUE`` spells it."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return "none" if value is None else str(value)


def cli_args(name: str, example: Example, output: Path) -> list[str]:
    """``python -m animakit run`` arguments that render ``example`` quietly into ``output``."""
    args = [sys.executable, "-m", "animakit", "run", name, "-o", str(output), "-q",
            "--seed", str(SEED)]
    for key, path in example.inputs.items():
        args += ["-i", f"{key}={path}"]
    for key, value in example.params.items():
        args += ["-p", f"{key}={cli_value(value)}"]
    if example.engine:
        args += ["-e", example.engine]
    return args


@dataclass
class FileRender:
    """The example rendered once through the run API into ``output``."""
    output: Path
    frames: int
    fps: float
    printed: str


def render_file(pipe: Pipeline, example: Example, output: Path) -> FileRender:
    """``example`` rendered into ``output`` with progress off, what it printed captured.
    The suite's one call of the file-rendering run API."""
    with captured_output() as printed:
        result = render(pipe, output, inputs=example.inputs, params=example.params,
                        engine=example.engine, generator=seeded_generator(), progress=False)
    return FileRender(output, result.frames, result.fps, printed.getvalue())


class PipelineContract:
    """Mixin of contract checks for one pipeline. Set ``pipeline_name`` to a registered name,
    or override the class-scoped ``contract_class`` fixture (e.g. parametrized over several
    classes, as :func:`contract_for` does). Renders are shared per class: one to a file, one
    through ``__call__``, one through ``stream()``, one through the CLI."""
    pipeline_name: ClassVar[str] = ""

    # -- shared fixtures ------------------------------------------------------------------
    @pytest.fixture(scope="class")
    @classmethod
    def contract_class(cls) -> type[Pipeline]:
        """The pipeline class under test."""
        return pipeline_class(cls.pipeline_name)

    @pytest.fixture(scope="class")
    @classmethod
    def pipe(cls, contract_class: type[Pipeline]) -> Pipeline:
        return contract_class()

    @pytest.fixture(scope="class")
    @classmethod
    def example(cls, contract_class: type[Pipeline]) -> Example:
        return first_example(contract_class)

    @pytest.fixture(scope="class")
    @classmethod
    def file_render(cls, pipe: Pipeline, example: Example,
                    tmp_path_factory: pytest.TempPathFactory) -> FileRender:
        """The example rendered into an mp4 with progress off, its printed output captured."""
        return render_file(pipe, example, tmp_path_factory.mktemp("contract") / "example.mp4")

    # -- rendering ------------------------------------------------------------------------
    def test_example_renders_to_mp4(self, file_render: FileRender) -> None:
        reader = VideoReader(file_render.output)
        assert file_render.frames > 0
        assert reader.num_frames == file_render.frames
        assert reader.fps == pytest.approx(file_render.fps, rel=1e-3)
        leftovers = sorted(p.name for p in file_render.output.parent.iterdir())
        assert leftovers == [file_render.output.name], f"files left beside the output: {leftovers}"

    def test_stream_and_call_agree(self, pipe: Pipeline, example: Example) -> None:
        kwargs = {**example.inputs, **example.params}
        called = pipe(engine=example.engine, generator=seeded_generator(), **kwargs)
        stream = pipe.stream(engine=example.engine, generator=seeded_generator(), **kwargs)
        streamed = list(stream)
        assert stream.fps == called.fps
        assert len(streamed) == len(called.frames) > 0
        if stream.num_frames is not None:
            assert stream.num_frames == len(streamed)
        for i, (a, b) in enumerate(zip(streamed, called.frames)):
            assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3, f"frame {i}"
            assert np.array_equal(a, b), f"frame {i} differs between stream() and __call__"

    # -- params ---------------------------------------------------------------------------
    def test_default_params_round_trip_json(self, contract_class: type[Pipeline],
                                            example: Example) -> None:
        cls = contract_class.params_class(example.engine)
        params = build_params(cls)
        assert build_params(cls, json_round_trip(params)) == params

    def test_example_params_round_trip_json(self, contract_class: type[Pipeline],
                                            example: Example) -> None:
        cls = contract_class.params_class(example.engine)
        params = build_params(cls, example.params)
        assert build_params(cls, json_round_trip(params)) == params

    # -- user mistakes --------------------------------------------------------------------
    def test_unknown_param_is_an_input_error(self, pipe: Pipeline, example: Example) -> None:
        with pytest.raises(InputError):
            first_frame(pipe, example, no_such_param_xyz=1)

    def test_out_of_range_value_is_an_input_error(self, contract_class: type[Pipeline],
                                                  pipe: Pipeline, example: Example) -> None:
        bad = out_of_range(param_specs(contract_class.params_class(example.engine)))
        if bad is None:
            pytest.skip(f"{contract_class.name} has no numeric param with a min or max")
        with pytest.raises(InputError):
            first_frame(pipe, example, **{bad[0]: bad[1]})

    def test_text_file_as_each_input_is_an_input_error(
            self, contract_class: type[Pipeline], pipe: Pipeline, example: Example,
            tmp_path: Path) -> None:
        if not contract_class.inputs:
            pytest.skip(f"{contract_class.name} takes no inputs")
        problems = []
        for spec in contract_class.inputs:
            fake = text_file(tmp_path, spec)
            try:
                first_frame(pipe, example, **{spec.name: str(fake)})
            except InputError:
                continue
            except Exception as e:  # noqa: BLE001 - any other error breaks the contract
                problems.append(f"{spec.name}: {type(e).__name__}: {e}")
            else:
                problems.append(f"{spec.name}: a text file was accepted")
        assert not problems, "; ".join(problems)

    # -- quiet ----------------------------------------------------------------------------
    def test_render_without_progress_prints_nothing(self, file_render: FileRender) -> None:
        assert file_render.printed == ""

    def test_cli_quiet_prints_nothing(self, contract_class: type[Pipeline], example: Example,
                                      tmp_path: Path) -> None:
        if not _entry_point(contract_class.name):
            pytest.skip("registered at run time, so a new process cannot see it")
        output = tmp_path / "cli.mp4"
        r = subprocess.run(cli_args(contract_class.name, example, output), cwd=tmp_path,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        assert (r.stdout, r.stderr) == ("", "")
        assert output.is_file() and output.stat().st_size > 0


def _entry_point(name: str) -> bool:
    """Whether ``name`` is registered through an entry point (visible to a new process)."""
    from importlib.metadata import entry_points
    return any(ep.name == name for ep in entry_points(group="animakit.pipelines"))


def contract_for(names: Sequence[str]) -> type[PipelineContract]:
    """A :class:`PipelineContract` subclass checking each of ``names`` (test ids carry the
    name); assign it to a ``Test*`` name in a test module."""
    names = list(names)

    class Contract(PipelineContract):
        @pytest.fixture(scope="class", params=names)
        @classmethod
        def contract_class(cls, request: pytest.FixtureRequest) -> type[Pipeline]:
            return pipeline_class(request.param)

    return Contract


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m animakit.testing [NAME ...] [-- PYTEST ARGS]``: the contract over the named
    pipelines (default: every registered one). Returns pytest's exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    extra = args[args.index("--") + 1:] if "--" in args else []
    names = (args[:args.index("--")] if "--" in args else args) or pipeline_names()
    with tempfile.TemporaryDirectory(prefix="animakit-contract-") as tmp:
        test = Path(tmp) / "test_animakit_contract.py"
        test.write_text("from animakit.testing import contract_for\n\n"
                        f"TestContract = contract_for({names!r})\n")
        return int(pytest.main([str(test), "-q", "-p", "no:cacheprovider",
                                "--rootdir", tmp, *extra]))


if __name__ == "__main__":
    sys.exit(main())
