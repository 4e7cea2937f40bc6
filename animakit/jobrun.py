"""One job rendered in this process, and the record of how it ended (:class:`JobResult`),
shared by the local executor, the Ray executor and the run manifest."""
from __future__ import annotations

import dataclasses
import platform
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from .errors import AnimakitError
from .jobfile import Job
from .render import RenderResult, render

Status = Literal["done", "failed", "skipped", "cancelled"]


@dataclass(frozen=True)
class JobResult:
    """How one job ended: ``done`` (with its render's result), ``failed`` (with the error
    line), ``skipped`` (the manifest and the files say it is done and ``resume`` was asked)
    or ``cancelled`` (the batch was stopped by Ctrl-C / SIGTERM before it finished)."""
    name: str
    output: Path
    status: Status
    error: str | None = None
    result: RenderResult | None = None
    attempt: int = 1                  # 1 for the first try, 2 for the first retry, ...
    seconds: float = 0.0              # wall time of this attempt
    host: str = ""                    # the machine that ran it (Ray: the worker node)


class BatchCancelled(Exception):
    """SIGINT or SIGTERM stopped the batch; ``results`` holds every job's end so far
    (``cancelled`` for the ones that were running or never started)."""

    def __init__(self, signum: int, results: list[JobResult]):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum
        self.results = results


def run_job(job: Job, progress: bool = True) -> JobResult:
    """Render one job; a failure becomes a ``failed`` result instead of an exception."""
    t0 = time.perf_counter()
    result = _attempt(job, progress)
    return dataclasses.replace(result, seconds=time.perf_counter() - t0, host=platform.node())


def _attempt(job: Job, progress: bool) -> JobResult:
    try:
        result = render(job.pipeline, job.output, inputs=job.inputs, params=job.params,
                        engine=job.engine, seed=job.seed, exports=job.exports,
                        progress=progress, desc=job.name, overwrite=job.overwrite)
    except AnimakitError as e:
        return JobResult(job.name, job.output, "failed", error=str(e))
    except Exception as e:  # a bug in one job must not stop the batch
        return JobResult(job.name, job.output, "failed",
                         error=f"internal error: {type(e).__name__}: {e}")
    return JobResult(job.name, job.output, "done", result=result)


def run_inline(jobs: list[Job], *, workers: int | None = None, retries: int = 1,
               timeout: float | None = None, progress: bool = True,
               on_result: Callable[[JobResult], None] | None = None) -> list[JobResult]:
    """The executor for a library caller that wants the jobs in this very process (its
    engine cache, its debugger): one after another, no retries, no timeout, nothing to
    survive a crash; ``workers``, ``retries`` and ``timeout`` are accepted and ignored."""
    results = []
    for job in jobs:
        results.append(run_job(job, progress))
        if on_result is not None:
            on_result(results[-1])
    return results
