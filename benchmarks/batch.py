"""Batch executors side by side: 24 short ``video.kenburns`` jobs (1 s, 256 px wide) with the
local executor (``animakit.jobs.run_jobs``, 2 worker processes) and with Ray at the same
parallelism (a local Ray with 2 CPUs, ``run_on_ray(workers=2)``), both cold (their worker
processes import animakit on their first job). Then the Ray driver's memory with 20,000
queued jobs. Prints one JSON object, also saved to benchmarks/results/batch.json.

    python benchmarks/batch.py
"""
from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from animakit import ASSETS  # noqa: E402
from animakit.jobs import Job, JobResult, run_jobs  # noqa: E402

RESULT = ROOT / "benchmarks" / "results" / "batch.json"
N_JOBS = 24
WORKERS = 2
N_QUEUED = 20_000
QUEUE_DEADLINE_S = 60.0


def short_jobs(out: Path, n: int = N_JOBS) -> list[Job]:
    return [Job(name=f"clip{i:05d}", pipeline="video.kenburns", output=out / f"clip{i:05d}.mp4",
                inputs={"image": str(ASSETS / "portrait.png")},
                params={"duration": 1.0, "width": 256, "fps": 25, "zoom_end": 1.2 + i % 5 / 10})
            for i in range(n)]


def first_output_s(folder: Path, t0: float, stop: threading.Event, found: list) -> None:
    """Seconds from ``t0`` until the first finished video appears in ``folder`` (polled)."""
    while not stop.is_set():
        if folder.is_dir() and any(p.suffix == ".mp4" and not p.name.startswith(".")
                                   for p in folder.iterdir()):
            found.append(time.perf_counter() - t0)
            return
        time.sleep(0.01)


def timed_batch(run, out: Path) -> dict:
    """Wall time, throughput and time to the first finished job of ``run(jobs)``."""
    jobs = short_jobs(out)
    stop, first = threading.Event(), []
    t0 = time.perf_counter()
    watcher = threading.Thread(target=first_output_s, args=(out, t0, stop, first))
    watcher.start()
    try:
        results: list[JobResult] = run(jobs)
    finally:
        stop.set()
        watcher.join()
    wall = time.perf_counter() - t0
    assert all(r.status == "done" for r in results), [r.error for r in results]
    return {"wall_s": round(wall, 2), "jobs_per_min": round(len(jobs) / wall * 60, 1),
            "wall_per_job_s": round(wall / len(jobs), 3),
            "mean_job_seconds_in_worker": round(sum(r.seconds for r in results) / len(jobs), 3),
            "first_job_done_s": round(first[0], 2) if first else None}


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def driver_memory(ray) -> dict:
    """Driver RSS for 20,000 Job objects, then for 20,000 tasks submitted at once with their
    ObjectRefs held (what a driver that queued every job in Ray would carry; run_on_ray
    itself keeps at most ``workers`` tasks submitted)."""
    before = rss_mb()
    jobs = short_jobs(Path("/shared/renders"), N_QUEUED)
    with_jobs = rss_mb()
    noop = ray.remote(num_cpus=1, max_retries=0)(lambda job: None)
    t0, refs = time.perf_counter(), []
    for job in jobs:
        refs.append(noop.remote(job))
        if time.perf_counter() - t0 > QUEUE_DEADLINE_S:
            break
    submit_s = time.perf_counter() - t0
    with_refs = rss_mb()
    return {"jobs": N_QUEUED, "rss_before_mb": round(before, 1),
            "rss_20000_jobs_mb": round(with_jobs, 1),
            "jobs_only_mb": round(with_jobs - before, 1),
            "tasks_submitted": len(refs), "submit_s": round(submit_s, 1),
            "rss_with_submitted_refs_mb": round(with_refs, 1),
            "submitted_refs_mb": round(with_refs - with_jobs, 1)}


def main() -> dict:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray

    from animakit.ray_executor import run_on_ray
    with tempfile.TemporaryDirectory() as tmp:
        local = timed_batch(lambda jobs: run_jobs(jobs, workers=WORKERS, progress=False),
                            Path(tmp) / "local")
        t0 = time.perf_counter()
        ray.init(num_cpus=WORKERS, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING)
        startup = time.perf_counter() - t0
        try:
            on_ray = timed_batch(lambda jobs: run_on_ray(jobs, workers=WORKERS, progress=False),
                                 Path(tmp) / "ray")
            memory = driver_memory(ray)
        finally:
            ray.shutdown()
    on_ray["startup_s"] = round(startup, 2)
    result = {
        "jobs": N_JOBS, "workers": WORKERS, "cpus": os.cpu_count(),
        "job": "video.kenburns, 1 s at 25 fps, 256 px wide",
        "local": local, "ray": on_ray,
        "ray_overhead_per_job_s": round(on_ray["wall_per_job_s"] - local["wall_per_job_s"], 3),
        "ray_overhead_per_job_with_startup_s": round(
            (on_ray["wall_s"] + startup - local["wall_s"]) / N_JOBS, 3),
        "driver_memory": memory,
    }
    RESULT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
