"""Run a batch of jobs on Ray: the same job file on a laptop (a local Ray started here) or on
a cluster (``address="auto"`` or ``"ray://host:port"``).

Each job is one Ray task named ``animakit:<job name>`` (the worker's process title reads
``ray::animakit:<job name>`` while it runs), declaring ``num_cpus=1`` and, for a neural
engine on a cluster with GPUs, ``num_gpus=1``. Tasks rather than engine-keyed actors: a task
is simpler to cancel and retry, and Ray re-uses its worker processes, so the process cache
(:mod:`animakit.cache`) stays warm and a neural engine's weights load once per worker
process, not once per job — except after a worker died or a job was cancelled.

Retries are the driver's, not Ray's: each task runs with ``max_retries=0`` and the driver
resubmits a job whose worker died (up to ``retries`` times). Ray's own retries are invisible
to the driver, so the attempt that died could not be reported as it ends, and a per-job
timeout would span every attempt.

Inputs and outputs are paths on storage every node sees: relative paths are refused.
``ray`` is imported only inside this module's functions, never when animakit is imported.
"""
from __future__ import annotations

import dataclasses
import logging
import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from tqdm.auto import tqdm

from .errors import AnimakitError, InputError
from .jobfile import Job
from .jobrun import BatchCancelled, JobResult, run_job
from .registry import pipeline_class

if TYPE_CHECKING:
    from ray import ObjectRef

CANCEL_GRACE_S = 5.0       # how long a force-cancelled task may take to die before the sweep


# -- the entry point ----------------------------------------------------------------------------

def run_on_ray(jobs: list[Job], *, address: str | None = None, workers: int | None = None,
               retries: int = 1, timeout: float | None = None, progress: bool = True,
               on_result: Callable[[JobResult], None] | None = None) -> list[JobResult]:
    """Render every job as a Ray task; returns one final result per job, in job order.

    ``on_result`` is called with every attempt's result as it ends, in completion order (a
    worker that died is a ``failed`` attempt, followed by the retry's). At most ``workers``
    jobs run at once (default: every CPU of the cluster). ``timeout`` (seconds, per attempt,
    counted from submission) force-cancels a job and reports it failed. On Ctrl-C or SIGTERM
    (within about a second) the outstanding tasks are force-cancelled, their partial files
    removed, and :class:`BatchCancelled` raised with the signal and every job's end. Raises :class:`InputError` for a relative path or a Ray
    cluster that cannot be reached."""
    check_shared_paths(jobs)
    if retries < 0:
        raise InputError("retries", f"must be 0 or more, got {retries}")
    if workers is not None and workers < 1:
        raise InputError("workers", f"must be 1 or more, got {workers}")
    if not jobs:
        return []
    ray = ray_module()
    started_here = connect(ray, address, workers)
    try:
        batch = _Batch(ray, jobs, concurrency(ray, workers, progress), retries, timeout,
                       progress, on_result)
        return batch.run()
    finally:
        if started_here:
            ray.shutdown()


# -- paths every node sees ----------------------------------------------------------------------

def job_paths(job: Job) -> list[tuple[str, str]]:
    """(what, path) for the job's output, its path-valued inputs and its exports."""
    found = [("output", str(job.output))]
    found += [(f"input {k}", str(v)) for k, v in job.inputs.items() if isinstance(v, (str, Path))]
    found += [(f"export {k}", str(v)) for k, v in job.exports.items()]
    return found


def check_shared_paths(jobs: list[Job]) -> None:
    """Refuse a relative path: it names a file on the driver only, not on shared storage."""
    for job in jobs:
        for what, path in job_paths(job):
            if path and not Path(path).is_absolute():
                raise InputError(f"job {job.name!r}", f"{what} {path!r} is a relative path; "
                                 "Ray workers need absolute paths on storage every node sees")


# -- connecting ---------------------------------------------------------------------------------

def ray_module() -> Any:
    """``ray``, imported on first use, or a one-line InputError naming the extra."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")   # else Ray writes a token to ~/.ray
    try:
        import ray
    except ImportError:
        raise InputError("--executor ray", "Ray is not installed; pip install 'animakit[ray]'"
                         ) from None
    return ray


def connect(ray: Any, address: str | None, workers: int | None) -> bool:
    """Join the running Ray, the cluster at ``address``, or start a local one; True when
    this call started (and so must shut down) Ray."""
    if ray.is_initialized():
        return False
    options = dict(log_to_driver=False, logging_level=logging.WARNING)
    try:
        if address:
            ray.init(address=address, **options)
        else:
            cpus = os.cpu_count() or 1
            ray.init(num_cpus=min(workers or cpus, cpus), include_dashboard=False, **options)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise InputError(f"--address {address}" if address else "ray",
                         f"could not start or reach Ray ({str(e).strip().splitlines()[0]})"
                         ) from None
    return True


def concurrency(ray: Any, workers: int | None, progress: bool) -> int:
    """How many jobs run at once: ``workers``, capped at the cluster's CPUs (more would
    only queue inside Ray, where the per-job timeout would count the wait)."""
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    if workers and workers > cpus and progress:
        tqdm.write(f"animakit: {workers} workers asked, the Ray cluster has {cpus} CPUs; "
                   f"running {cpus} jobs at once", file=sys.stderr)
    return min(workers or cpus, cpus)


# -- per-job resources --------------------------------------------------------------------------

def is_neural(job: Job) -> bool:
    """Whether the job's engine is a neural one (False when the pipeline or engine is
    unknown: the task then fails with the usual one-line error)."""
    try:
        cls = pipeline_class(job.pipeline)
    except AnimakitError:
        return False
    engine = cls.engines.get(job.engine or cls.default_engine)
    return bool(engine and engine.neural)


def task_options(job: Job, cluster_has_gpu: bool) -> dict[str, Any]:
    """Ray options of the job's task: one CPU, one GPU for a neural engine where GPUs exist."""
    gpus = 1 if cluster_has_gpu and is_neural(job) else 0
    return dict(name=f"animakit:{job.name}", num_cpus=1, num_gpus=gpus, max_retries=0)


def render_on_worker(job: Job) -> JobResult:
    """The task body: one job, no progress bars (the driver shows the overall one)."""
    return run_job(job, progress=False)


# -- partial files ------------------------------------------------------------------------------

def sweep_partial_files(jobs: list[Job]) -> list[Path]:
    """Remove the temporary files (``.<stem>.*.part*`` beside an output or export) left by
    killed attempts of ``jobs``; returns what was removed. One listing per folder."""
    wanted: dict[Path, set[str]] = {}
    for job in jobs:
        for what, path in job_paths(job):
            if what == "output" or what.startswith("export"):
                p = Path(path)
                wanted.setdefault(p.parent, set()).add(f".{p.stem}.")
    removed = []
    for folder, prefixes in wanted.items():
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if ".part" in name and name.startswith(".") and \
                    any(name.startswith(pre) for pre in prefixes):
                entry.unlink(missing_ok=True)
                removed.append(entry)
    return removed


# -- the batch ----------------------------------------------------------------------------------

@dataclasses.dataclass
class _Running:
    index: int                 # the job's position in the batch
    attempt: int
    submitted: float           # time.monotonic()


class _Batch:
    """Submits at most ``limit`` tasks at a time, collects them as they finish, retries the
    ones whose worker died, cancels the overdue ones."""

    def __init__(self, ray: Any, jobs: list[Job], limit: int, retries: int,
                 timeout: float | None, progress: bool,
                 on_result: Callable[[JobResult], None] | None):
        self.ray, self.jobs, self.limit = ray, jobs, limit
        self.retries, self.timeout, self.progress = retries, timeout, progress
        self.on_result = on_result
        self.task = ray.remote(render_on_worker)
        self.has_gpu = ray.cluster_resources().get("GPU", 0) > 0
        self.queue: list[tuple[int, int]] = [(i, 1) for i in reversed(range(len(jobs)))]
        self.running: dict[ObjectRef, _Running] = {}
        self.cancelled: list[ObjectRef] = []
        self.retrying: set[tuple[int, int]] = set()     # (job, attempt) that will be retried
        self.final: dict[int, JobResult] = {}
        self.bar = tqdm(total=len(jobs), desc="jobs", unit="job", disable=not progress,
                        position=0)

    def run(self) -> list[JobResult]:
        try:
            with _stop_signals() as received:
                while self.queue or self.running:
                    if received:
                        raise _Stopped(received[0])
                    self.fill()
                    self.collect()
                    self.cancel_overdue()
        except (KeyboardInterrupt, _Stopped) as e:
            signum = e.signum if isinstance(e, _Stopped) else signal.SIGINT
            self.cancel_all(f"cancelled (stopped by {signal.Signals(signum).name})")
            raise BatchCancelled(signum, self.ended()) from None
        except BaseException:
            self.cancel_all("cancelled (interrupted)")
            raise
        finally:
            self.bar.close()
            self.finish()
        return [self.final[i] for i in range(len(self.jobs))]

    def ended(self) -> list[JobResult]:
        """Every job's end so far: its final result, or ``cancelled`` if it never ended."""
        return [self.final.get(i) or JobResult(job.name, job.output, "cancelled",
                                               error="cancelled before it started")
                for i, job in enumerate(self.jobs)]

    def fill(self) -> None:
        while self.queue and len(self.running) < self.limit:
            index, attempt = self.queue.pop()
            job = self.jobs[index]
            ref = self.task.options(**task_options(job, self.has_gpu)).remote(job)
            self.running[ref] = _Running(index, attempt, time.monotonic())

    def wait_s(self) -> float:
        """How long to wait for a result: until the next deadline, at most a second."""
        if self.timeout is None:
            return 1.0
        now = time.monotonic()
        first = min(r.submitted for r in self.running.values()) + self.timeout
        return max(0.0, min(1.0, first - now))

    def collect(self) -> None:
        """Take every finished task: wait for one, then sweep up the rest without waiting
        (one wait per result would cost the driver O(running) per job on a big cluster)."""
        ready, rest = self.ray.wait(list(self.running), num_returns=1, timeout=self.wait_s())
        if ready and rest:
            ready += self.ray.wait(rest, num_returns=len(rest), timeout=0)[0]
        for ref in ready:
            run = self.running.pop(ref)
            self.end(run, self.outcome(ref, run))

    def outcome(self, ref: ObjectRef, run: _Running) -> JobResult:
        """The attempt's result; a task that raised or a worker that died becomes failed."""
        job = self.jobs[run.index]
        seconds = time.monotonic() - run.submitted
        try:
            result = self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as e:   # a bug, not a dead worker
            error = f"internal error: {str(e).strip().splitlines()[-1][:300]}"
        except self.ray.exceptions.TaskCancelledError:
            error = "cancelled"
        except self.ray.exceptions.RayError as e:       # worker or node died, out of memory
            return self.died(run, type(e).__name__, seconds)
        else:
            return dataclasses.replace(result, attempt=run.attempt)
        return JobResult(job.name, job.output, "failed", error=error, attempt=run.attempt,
                         seconds=seconds)

    def died(self, run: _Running, why: str, seconds: float) -> JobResult:
        job = self.jobs[run.index]
        retry = run.attempt <= self.retries
        if retry:
            self.queue.append((run.index, run.attempt + 1))
            self.retrying.add((run.index, run.attempt))
        error = (f"the Ray worker running it died ({why}) on attempt {run.attempt}"
                 + ("; retrying" if retry else ""))
        return JobResult(job.name, job.output, "failed", error=error, attempt=run.attempt,
                         seconds=seconds)

    def end(self, run: _Running, result: JobResult) -> None:
        """Report one attempt; the job's last attempt is its final result."""
        if self.on_result is not None:
            self.on_result(result)
        if (run.index, run.attempt) in self.retrying:
            return
        self.final[run.index] = result
        self.bar.update(1)
        if result.status == "failed" and self.progress:
            tqdm.write(f"animakit: job {result.name!r} failed: {result.error}")

    def cancel_overdue(self) -> None:
        if self.timeout is None:
            return
        now = time.monotonic()
        for ref, run in list(self.running.items()):
            if now - run.submitted >= self.timeout:
                self.cancel(ref)
                job = self.jobs[run.index]
                self.end(run, JobResult(job.name, job.output, "failed",
                                        error=f"timed out after {self.timeout:g} s",
                                        attempt=run.attempt, seconds=now - run.submitted))

    def cancel(self, ref: ObjectRef) -> None:
        del self.running[ref]
        self.ray.cancel(ref, force=True)
        self.cancelled.append(ref)

    def cancel_all(self, error: str) -> None:
        """Force-cancel every running task and report each as a failed attempt."""
        now = time.monotonic()
        for ref, run in list(self.running.items()):
            self.cancel(ref)
            job = self.jobs[run.index]
            self.end(run, JobResult(job.name, job.output, "cancelled", error=error,
                                    attempt=run.attempt, seconds=now - run.submitted))
        self.queue.clear()

    def finish(self) -> None:
        """Let the cancelled tasks die, then remove every partial file of the batch's jobs
        (a killed attempt cannot remove its own)."""
        if self.cancelled:
            try:
                self.ray.wait(self.cancelled, num_returns=len(self.cancelled),
                              timeout=CANCEL_GRACE_S)
            except Exception:   # noqa: BLE001 - Ray already shutting down: sweep anyway
                pass
        sweep_partial_files(self.jobs)


class _Stopped(Exception):
    """SIGINT or SIGTERM arrived while the batch ran."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _stop_signals():
    """While the batch runs, SIGINT and SIGTERM stop it (main thread only): the handler only
    records the signal in the list it yields, and the batch loop, whose steps wait at most
    a second, stops at its next step. An exception raised from the handler would land
    inside Ray's own calls, which may swallow it (the batch then runs on) or fail with a
    SystemError."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, _frame: object) -> None:
        received.append(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
