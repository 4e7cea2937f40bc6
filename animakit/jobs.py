"""Batch jobs for ``animakit render``: the job file (:func:`load_jobs`, :class:`Job`), one
job in this process (:func:`run_job`, :class:`JobResult`) and a whole batch
(:func:`run_jobs`) on the local executor or any executor of the same signature (Ray's
``run_on_ray``), with a run manifest and ``resume``.

A failing job is reported and the others go on. The pieces live in :mod:`.jobfile`,
:mod:`.jobrun`, :mod:`.local_executor` and :mod:`.manifest`; this module is their front.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol

from .jobfile import Job, check_inside_root, load_jobs
from .jobrun import JobResult, run_inline, run_job
from .local_executor import BatchCancelled, remove_partial_files, run_local
from .manifest import ManifestWriter, default_manifest, is_done, last_records

__all__ = ["Job", "JobResult", "load_jobs", "run_job", "run_jobs", "run_inline", "BatchCancelled",
           "Executor", "check_inside_root", "default_manifest"]


class Executor(Protocol):
    """What runs a list of jobs: :func:`~animakit.local_executor.run_local` (the default),
    :func:`~animakit.jobrun.run_inline` (in this process) or Ray's ``run_on_ray``. ``on_result`` sees every attempt as it ends."""

    def __call__(self, jobs: list[Job], *, workers: int | None = ..., retries: int = ...,
                 timeout: float | None = ..., progress: bool = ...,
                 on_result: Callable[[JobResult], None] | None = ...) -> list[JobResult]: ...


def run_jobs(jobs: list[Job], workers: int = 1, resume: bool = False, progress: bool = True,
             *, retries: int = 1, timeout: float | None = None,
             manifest: str | Path | None = None,
             on_result: Callable[[JobResult], None] | None = None,
             executor: Executor = run_local) -> list[JobResult]:
    """Render every job in ``workers`` processes; one result per job, in job order.

    ``manifest``: the JSON-lines file each attempt is appended to; with ``resume`` the jobs
    it shows done (and whose files still match) are ``skipped``. A dead worker's job is
    tried ``retries`` more times; ``timeout`` bounds each attempt in seconds. Raises
    :class:`BatchCancelled` (with every job's result) when SIGINT / SIGTERM stop it."""
    records = last_records(manifest) if (resume and manifest is not None) else {}
    skipped = {i for i, job in enumerate(jobs) if is_done(job, records)}
    pending = [job for i, job in enumerate(jobs) if i not in skipped]
    writer = ManifestWriter(manifest) if manifest is not None else None
    for job in pending:                       # what a killed run of these jobs left behind
        remove_partial_files(job)
    callback = _both(writer, on_result)
    try:
        ran = executor(pending, workers=workers, retries=retries, timeout=timeout,
                       progress=progress, on_result=callback) if pending else []
    except BatchCancelled as e:
        raise BatchCancelled(e.signum, _merged(jobs, skipped, e.results)) from None
    finally:
        if writer is not None:
            writer.close()
    return _merged(jobs, skipped, ran)


def _both(*callbacks: Callable[[JobResult], None] | None) -> Callable[[JobResult], None] | None:
    """One callback calling each of ``callbacks`` that is given."""
    given = [c for c in callbacks if c is not None]
    if not given:
        return None

    def call(result: JobResult) -> None:
        for c in given:
            c(result)
    return call


def _merged(jobs: list[Job], skipped: set[int], ran: list[JobResult]) -> list[JobResult]:
    """Skipped and run results back in job order, matched by output (unique per job file;
    a cancelled batch may have returned fewer)."""
    by_output = {str(r.output): r for r in ran}
    out = []
    for i, job in enumerate(jobs):
        r = JobResult(job.name, job.output, "skipped") if i in skipped \
            else by_output.get(str(job.output))
        if r is not None:
            out.append(r)
    return out
