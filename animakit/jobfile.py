"""Batch job files (TOML) for ``animakit render``: parsing, type checks, duplicate and
``--root`` guards.

::

    [defaults]                 # optional: merged into every job
    engine = "fast"
    [defaults.params]
    fps = 25

    [[job]]
    name = "wobble"            # optional, defaults to the output's stem
    pipeline = "myplugin.wobble"
    output = "out/wobble.mp4"  # relative paths are relative to the job file
    seed = 0                   # optional
    inputs = { image = "photo.png", audio = "speech.wav" }
    params = { amount = 0.5 }
    exports = { }              # optional side outputs, name = path

Every check here is linear in the number of jobs (one pass, dict lookups), so a job file of
tens of thousands of jobs is refused or accepted in well under a second of Python work.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError
from .media.ffmpeg import check_readable

_JOB_KEYS = {"name", "pipeline", "output", "engine", "seed", "inputs", "params", "exports"}
_DEFAULT_KEYS = _JOB_KEYS - {"name", "output"}
_TABLES = ("inputs", "params", "exports")
_TOML_TYPE = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
              list: "an array", dict: "a table"}


@dataclass
class Job:
    name: str
    pipeline: str
    output: Path
    inputs: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    exports: dict[str, str] = field(default_factory=dict)
    engine: str | None = None
    seed: int | None = None
    overwrite: bool = False          # ``animakit render --overwrite``: see animakit.targets

    def written_paths(self) -> list[Path]:
        """The video and every side output this job writes."""
        return [self.output, *(Path(p) for p in self.exports.values())]


def load_jobs(path: str | Path) -> list[Job]:
    """Parse and check a job file. Raises :class:`InputError` naming the file and job."""
    path = check_readable(path, "job file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, f"not valid TOML ({e})") from None
    return jobs_from_toml(data, path)


def jobs_from_toml(data: dict[str, Any], path: Path) -> list[Job]:
    """The checked jobs of a parsed job file (``path`` names it in errors): one pass over
    the jobs, then one over what they write."""
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise InputError(f"{path} [defaults]", f"must be a table, got {_kind(defaults)}")
    checked_entries(defaults, f"{path} [defaults]", _DEFAULT_KEYS)
    raw_jobs = data.get("job")
    if not isinstance(raw_jobs, list) or not raw_jobs:
        raise InputError(path, "no [[job]] tables found")
    name, base = str(path), os.path.abspath(path.parent)     # once, not per job
    jobs = [job_from_entry(raw, defaults, name, base, i) for i, raw in enumerate(raw_jobs, 1)]
    check_no_shared_outputs(jobs, path)
    return jobs


def job_from_entry(raw: Any, defaults: dict[str, Any], file: str, base: str, i: int) -> Job:
    """The ``i``-th ``[[job]]`` table of ``file``, type-checked and merged with
    ``[defaults]``; relative paths are joined to ``base``, the file's folder."""
    where = f"{file} job {i}"
    if not isinstance(raw, dict):
        raise InputError(where, f"must be a table, got {_kind(raw)}")
    if isinstance(raw.get("name"), str):
        where += f" ({raw['name']!r})"
    checked_entries(raw, where, _JOB_KEYS)
    merged = {**{k: v for k, v in defaults.items() if k not in _TABLES}, **raw}
    for key in _TABLES:
        merged[key] = {**defaults.get(key, {}), **raw.get(key, {})}
    for key in ("pipeline", "output"):
        if not merged.get(key):
            raise InputError(where, f"missing {key!r}")
    out = Path(_resolve(base, merged["output"]))
    return Job(name=str(merged.get("name") or out.stem), pipeline=merged["pipeline"],
               output=out, inputs={k: _resolve(base, v) for k, v in merged["inputs"].items()},
               params=dict(merged["params"]),
               exports={k: _resolve(base, v) for k, v in merged["exports"].items()},
               engine=merged.get("engine"), seed=merged.get("seed"))


def checked_entries(table: dict[str, Any], where: str, allowed: set[str]) -> dict[str, Any]:
    """``table`` unchanged once every key is allowed and holds a value of the right type."""
    for key, value in table.items():
        if key not in allowed:
            raise InputError(where, f"unknown key {key!r}; allowed: {', '.join(sorted(allowed))}")
        problem = _type_problem(key, value)
        if problem:
            raise InputError(where, f"{key!r} {problem}, got {_kind(value)}")
        if key in ("inputs", "exports"):
            for name, v in value.items():
                if not isinstance(v, str) or not v:
                    raise InputError(where, f"{key}.{name} must be a path (a string), "
                                            f"got {_kind(v)}")
    return table


def _type_problem(key: str, value: Any) -> str | None:
    """What ``value`` should have been for ``key``, or None when it is fine."""
    if key in _TABLES:
        return None if isinstance(value, dict) else "must be a table (key = value, ...)"
    if key == "seed":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "must be an integer"
    return None if isinstance(value, str) else "must be a string"


def _kind(value: Any) -> str:
    return _TOML_TYPE.get(type(value), type(value).__name__)


def _resolve(base: str, value: Any) -> Any:
    """``value`` joined to the job file's folder unless absolute; ``..`` and ``.`` folded
    (as strings: no file-system call per path; ``--root`` follows symlinks itself)."""
    if not isinstance(value, str) or not value:
        return value
    joined = value if os.path.isabs(value) else f"{base}/{value}"
    if "/." in joined or "//" in joined:      # normpath only where there is work for it
        joined = os.path.normpath(joined)
    return joined


def check_no_shared_outputs(jobs: list[Job], path: Path) -> None:
    """Refuse two jobs (or one job twice) writing one file, and a job writing a file another
    job reads (jobs run in any order, so that job would read a half-made or replaced file).
    Paths compare after symlinks and ``..``; dicts keep it linear in jobs."""
    writer: dict[str, tuple[str, str]] = {}
    for job in jobs:
        for key in (str(job.output), *job.exports.values()):
            real = os.path.realpath(key)
            if real in writer:
                raise InputError(path, f"jobs {writer[real][0]!r} and {job.name!r} both write "
                                       f"{key}")
            writer[real] = (job.name, key)
    for job in jobs:
        for value in job.inputs.values():
            real = os.path.realpath(value) if isinstance(value, str) and value else None
            if real in writer and writer[real][0] != job.name:
                raise InputError(path, f"job {writer[real][0]!r} writes {writer[real][1]}, "
                                       f"an input of job {job.name!r}")


def check_inside_root(jobs: list[Job], root: str | Path) -> None:
    """Refuse any input, output or export outside ``root``, after following symlinks and
    ``..`` (a render service must not read or write where the job file's author says)."""
    base = os.path.realpath(root)
    if not os.path.isdir(base):
        raise InputError(f"--root {root}", "not a folder")
    prefix = base.rstrip(os.sep) + os.sep
    for job in jobs:
        paths = [*job.written_paths(), *(v for v in job.inputs.values() if isinstance(v, str))]
        for p in paths:
            real = os.path.realpath(p)
            if real != base and not real.startswith(prefix):
                raise InputError(f"job {job.name!r}", f"{p} is outside --root {base}")
