"""The local executor: jobs rendered by a small pool of worker processes that survives them.

Each worker is a spawned process with its own pipe: the driver sends it one job, it sends
back one :class:`JobResult`. The driver waits on every pipe and every process sentinel at
once, so it sees a result, a dead worker (``kill -9``, the out-of-memory killer) or an
attempt past ``timeout`` as soon as it happens, and handles each the same way: kill that
worker's process group (the worker and its ffmpeg), remove the job's partial files, start
a fresh worker for what comes next. A dead worker's job is retried up to ``retries`` times;
a timed-out one is reported failed (the same render would time out again).

Workers live in their own process groups, so a terminal's Ctrl-C reaches only the driver,
which then decides: SIGINT / SIGTERM stop the batch (no new job starts, running ones are
killed and their partial files removed) and :class:`BatchCancelled` carries the results.
A worker dies with the driver, even a SIGKILLed one: ``PR_SET_PDEATHSIG`` on Linux, and a
thread polling the parent pid everywhere.
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import multiprocessing as mp
import os
import platform
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Callable, Iterator

from tqdm.auto import tqdm

from .jobfile import Job
from .jobrun import BatchCancelled, JobResult, run_job

POLL_S = 0.2            # how often the driver looks at the stop flag and the clocks
STARTED = "started"     # what a worker says when it takes a job, before its result


# -- the worker side ---------------------------------------------------------------------
def worker_main(conn: Connection, parent_pid: int) -> None:
    """Render the jobs the driver sends until it sends None or goes away."""
    os.setpgrp()                      # own group: killed as one, out of reach of Ctrl-C
    _die_with_parent(parent_pid)
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        conn.send(STARTED)            # the attempt's clock starts now, not at spawn
        conn.send(run_job(job, progress=False))


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        import ctypes
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:    # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    # the fallback where PDEATHSIG is missing; also takes this worker's ffmpeg with it
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os.killpg(os.getpgrp(), signal.SIGKILL)


# -- the driver side ---------------------------------------------------------------------
@dataclass
class _Worker:
    proc: mp.process.BaseProcess
    conn: Connection
    job: int | None = None            # index of the job it renders, None when idle
    attempt: int = 0
    sent: float = 0.0                 # when the job was handed over
    started: float | None = None      # when the worker began it (after its own start-up)


@dataclass
class _Batch:
    """What the driver knows: jobs still to send, results so far, the bar."""
    jobs: list[Job]
    queued: collections.deque = field(default_factory=collections.deque)   # (index, attempt)
    results: dict[int, JobResult] = field(default_factory=dict)
    on_result: Callable[[JobResult], None] | None = None
    bar: tqdm | None = None

    def record(self, i: int, result: JobResult, final: bool = True) -> None:
        if self.on_result is not None:
            self.on_result(result)
        if final:
            self.results[i] = result
            self.bar.update(1)
            if result.status == "failed":
                tqdm.write(f"animakit: job {result.name!r} failed: {result.error}")


def run_local(jobs: list[Job], *, workers: int | None = None, retries: int = 1,
              timeout: float | None = None, progress: bool = True,
              on_result: Callable[[JobResult], None] | None = None) -> list[JobResult]:
    """Render ``jobs`` in up to ``workers`` processes; one result per job, in job order.
    ``on_result`` sees every attempt as it ends (a retried job: its failed attempt too).
    Raises :class:`BatchCancelled` on SIGINT / SIGTERM, after cleaning up."""
    batch = _Batch(jobs, collections.deque((i, 1) for i in range(len(jobs))), on_result=on_result,
                   bar=tqdm(total=len(jobs), desc="jobs", unit="job", disable=not progress))
    pool: list[_Worker] = []
    try:
        with _stop_signals() as stop:
            _drive(batch, pool, max(1, min(workers or 1, len(jobs))), retries, timeout, stop)
            if stop:
                _cancel(batch, pool)
                raise BatchCancelled(stop[0], _in_order(batch))
    finally:
        _close(pool)
        batch.bar.close()
    return _in_order(batch)


def _drive(batch: _Batch, pool: list[_Worker], size: int, retries: int,
           timeout: float | None, stop: list[int]) -> None:
    """Hand out jobs and collect their ends until all are done or a stop signal came."""
    while (batch.queued or any(w.job is not None for w in pool)) and not stop:
        while batch.queued and (idle := _idle_worker(pool, size)) is not None:
            i, attempt = batch.queued.popleft()
            try:
                idle.conn.send(batch.jobs[i])
            except OSError:                   # it died while idle: the job waits for another
                batch.queued.appendleft((i, attempt))
                _retire(pool, idle, None)
                continue
            idle.job, idle.attempt = i, attempt
            idle.sent, idle.started = time.monotonic(), None
        busy = [w for w in pool if w.job is not None]
        wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout=POLL_S)
        for w in busy:
            _check(batch, pool, w, retries, timeout)


def _idle_worker(pool: list[_Worker], size: int) -> _Worker | None:
    """An idle worker, started now if the pool has room for one."""
    for w in [w for w in pool if w.job is None and not w.proc.is_alive()]:
        _retire(pool, w, None)                # died while idle (an OOM kill between jobs)
    for w in pool:
        if w.job is None:
            return w
    if len(pool) < size:
        pool.append(_start_worker())
        return pool[-1]
    return None


def _start_worker() -> _Worker:
    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    proc = ctx.Process(target=worker_main, args=(theirs, os.getpid()), daemon=True,
                       name="animakit-worker")
    with _signals_held():
        proc.start()
    theirs.close()
    return _Worker(proc, ours)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Start a worker with SIGINT ignored (the disposition survives exec): until it has
    its own process group, a Ctrl-C at the terminal reaches it too and would break its
    start-up with a traceback. The driver ignores SIGINT only while it forks and execs the
    worker, a few milliseconds. (Blocking the signal instead would not do: a process-wide
    signal goes to another thread that does not block it, where it is then ignored.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _check(batch: _Batch, pool: list[_Worker], w: _Worker, retries: int,
           timeout: float | None) -> None:
    """Collect ``w``'s result, or handle its death or its timeout."""
    i, job = w.job, batch.jobs[w.job]
    result = _message(w)
    if result is not None:
        w.job = None
        batch.record(i, _with_attempt(result, w.attempt))
        return
    elapsed = time.monotonic() - (w.started or w.sent)
    if w.proc.is_alive() and (timeout is None or w.started is None or elapsed <= timeout):
        return
    died = not w.proc.is_alive()
    _retire(pool, w, job)
    if died:
        error = f"worker process died ({_exit_reason(w.proc.exitcode)})"
        again = w.attempt <= retries
        if again:
            batch.queued.appendleft((i, w.attempt + 1))
            tqdm.write(f"animakit: job {job.name!r}: {error}; retrying")
    else:
        error, again = f"timed out after {timeout:g} s", False
    batch.record(i, JobResult(job.name, job.output, "failed", error=error, attempt=w.attempt,
                              seconds=elapsed, host=_host()), final=not again)


def _message(w: _Worker) -> JobResult | None:
    """``w``'s result if it has sent one; notes when it started its job on the way."""
    try:
        while w.conn.poll():
            msg = w.conn.recv()
            if msg == STARTED:
                w.started = time.monotonic()
            else:
                return msg
    except (EOFError, OSError):       # it died; the caller sees that from its sentinel
        pass
    return None


def _with_attempt(result: JobResult, attempt: int) -> JobResult:
    return dataclasses.replace(result, attempt=attempt)


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _host() -> str:
    return platform.node()


def _retire(pool: list[_Worker], w: _Worker, job: Job | None) -> None:
    """Kill ``w`` with its ffmpeg, drop it from the pool, remove its job's partial files."""
    _kill_group(w.proc)
    w.conn.close()
    pool.remove(w)
    if job is not None:
        remove_partial_files(job)


def _kill_group(proc: mp.process.BaseProcess) -> None:
    if proc.pid is not None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)      # the worker and the ffmpeg it started
        except (ProcessLookupError, PermissionError):
            proc.kill()                              # not yet in its own group
    proc.join(5)


def remove_partial_files(job: Job) -> list[Path]:
    """Remove the hidden temporary files a render of ``job`` leaves beside its video and
    exports when it is killed (``.<stem>.<random>.part<suffix>``, see VideoWriter and
    atomic_output); returns what was removed."""
    removed = []
    for p in job.written_paths():
        if p.parent.is_dir():
            for part in p.parent.glob(f".{p.stem}.*.part*"):
                part.unlink(missing_ok=True)
                removed.append(part)
    return removed


def _cancel(batch: _Batch, pool: list[_Worker]) -> None:
    """Stop: kill the running jobs, clean their files, mark them and the queued ones."""
    for w in [w for w in pool if w.job is not None]:
        i, job = w.job, batch.jobs[w.job]
        _retire(pool, w, job)
        batch.record(i, JobResult(job.name, job.output, "cancelled",
                                  error="stopped while running", attempt=w.attempt,
                                  seconds=time.monotonic() - (w.started or w.sent),
                                  host=_host()))
    while batch.queued:
        i, attempt = batch.queued.popleft()
        job = batch.jobs[i]
        batch.results[i] = JobResult(job.name, job.output, "cancelled", error="not started",
                                     attempt=attempt)


def _close(pool: list[_Worker]) -> None:
    """Let idle workers exit; kill whatever does not within a second."""
    for w in pool:
        with contextlib.suppress(OSError):
            w.conn.send(None)
    deadline = time.monotonic() + 1.0
    for w in pool:
        w.proc.join(max(0.0, deadline - time.monotonic()))
        if w.proc.is_alive():
            _kill_group(w.proc)
        w.conn.close()
    pool.clear()


def _in_order(batch: _Batch) -> list[JobResult]:
    return [batch.results[i] for i in range(len(batch.jobs)) if i in batch.results]


@contextlib.contextmanager
def _stop_signals() -> Iterator[list[int]]:
    """Yield a list that receives the number of the first SIGINT / SIGTERM; the previous
    handlers come back afterwards. Outside the main thread nothing is installed."""
    stop: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, _frame: object) -> None:
        if not stop:
            stop.append(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
