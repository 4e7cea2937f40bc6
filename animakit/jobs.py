"""Batch job files (TOML) for ``animakit render``.

::

    [defaults]                 # optional: merged into every job
    engine = "affine"
    [defaults.params]
    fps = 25

    [[job]]
    name = "pan"               # optional, defaults to the output's stem
    pipeline = "video.kenburns"
    output = "out/pan.mp4"     # relative paths are relative to the job file
    seed = 0                   # optional
    inputs = { image = "portrait.png", audio = "speech.wav" }
    params = { zoom_end = 1.5 }
    exports = { }              # optional side outputs, name = path

A failing job is reported and the others go on.
"""
from __future__ import annotations

import dataclasses
import platform
import time
import tomllib
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tqdm.auto import tqdm

from .errors import AnimakitError, InputError
from .media.ffmpeg import check_readable
from .render import RenderResult, render

_JOB_KEYS = {"name", "pipeline", "output", "engine", "seed", "inputs", "params", "exports"}


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


def _resolve(base: Path, value: Any) -> Any:
    if isinstance(value, str) and value and not Path(value).is_absolute():
        return str((base / value).resolve())
    return value


def load_jobs(path: str | Path) -> list[Job]:
    """Parse and check a job file. Raises :class:`InputError` naming the file and job."""
    path = check_readable(path, "job file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, f"not valid TOML ({e})") from None
    defaults = data.get("defaults", {})
    raw_jobs = data.get("job")
    if not isinstance(raw_jobs, list) or not raw_jobs:
        raise InputError(path, "no [[job]] tables found")
    base = path.parent
    jobs = []
    for i, raw in enumerate(raw_jobs, 1):
        where = f"{path} job {i}"
        unknown = sorted(set(raw) - _JOB_KEYS)
        if unknown:
            raise InputError(where, f"unknown key {unknown[0]!r}; allowed: {', '.join(sorted(_JOB_KEYS))}")
        merged = {**{k: v for k, v in defaults.items() if k not in ("inputs", "params", "exports")},
                  **raw}
        for key in ("inputs", "params", "exports"):
            merged[key] = {**defaults.get(key, {}), **raw.get(key, {})}
        for key in ("pipeline", "output"):
            if not merged.get(key):
                raise InputError(where, f"missing {key!r}")
        out = Path(_resolve(base, merged["output"]))
        jobs.append(Job(name=str(merged.get("name") or out.stem), pipeline=str(merged["pipeline"]),
                        output=out,
                        inputs={k: _resolve(base, v) for k, v in merged["inputs"].items()},
                        params=dict(merged["params"]),
                        exports={k: _resolve(base, v) for k, v in merged["exports"].items()},
                        engine=merged.get("engine"), seed=merged.get("seed")))
    names = [j.output for j in jobs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise InputError(path, f"two jobs write the same output {sorted(dup)[0]}")
    return jobs


@dataclass(frozen=True)
class JobResult:
    """How one job ended: ``done`` (with its render's result), ``failed`` (with the error
    line) or ``skipped`` (its output existed and ``resume`` was asked)."""
    name: str
    output: Path
    status: Literal["done", "failed", "skipped"]
    error: str | None = None
    result: RenderResult | None = None
    attempt: int = 1                  # 1 for the first try, 2 for the first retry, ...
    seconds: float = 0.0              # wall time of this attempt
    host: str = ""                    # the machine that ran it (Ray: the worker node)


def run_job(job: Job, progress: bool = True) -> JobResult:
    """Render one job; a failure becomes a ``failed`` result instead of an exception."""
    t0 = time.perf_counter()
    result = _attempt(job, progress)
    return dataclasses.replace(result, seconds=time.perf_counter() - t0, host=platform.node())


def _attempt(job: Job, progress: bool) -> JobResult:
    try:
        result = render(job.pipeline, job.output, inputs=job.inputs, params=job.params,
                        engine=job.engine, seed=job.seed, exports=job.exports,
                        progress=progress, desc=job.name)
    except AnimakitError as e:
        return JobResult(job.name, job.output, "failed", error=str(e))
    except Exception as e:  # a bug in one job must not stop the batch
        return JobResult(job.name, job.output, "failed",
                         error=f"internal error: {type(e).__name__}: {e}")
    return JobResult(job.name, job.output, "done", result=result)


def run_jobs(jobs: list[Job], workers: int = 1, resume: bool = False,
             progress: bool = True) -> list[JobResult]:
    """Render every job (``workers`` > 1: in that many spawned processes); returns one
    result per job, in job order."""
    results: dict[int, JobResult] = {}
    pending = []
    for i, job in enumerate(jobs):
        if resume and job.output.exists() and job.output.stat().st_size > 0:
            results[i] = JobResult(job.name, job.output, "skipped")
        else:
            pending.append(i)
    overall = tqdm(total=len(jobs), initial=len(results), desc="jobs", unit="job",
                   disable=not progress, position=0)

    def done(i: int, r: JobResult) -> None:
        results[i] = r
        overall.update(1)
        if r.status == "failed":
            tqdm.write(f"animakit: job {r.name!r} failed: {r.error}")

    try:
        if workers <= 1:
            for i in pending:
                done(i, run_job(jobs[i], progress))
        else:
            import multiprocessing as mp
            with ProcessPoolExecutor(max_workers=workers,
                                     mp_context=mp.get_context("spawn")) as pool:
                futures = {pool.submit(run_job, jobs[i], False): i for i in pending}
                for fut in as_completed(futures):
                    done(futures[fut], fut.result())
    finally:
        overall.close()
    return [results[i] for i in range(len(jobs)) if i in results]
