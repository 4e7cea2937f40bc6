"""The local executor's figures: checking a 20,000-job file, the driver's memory with 20,000
jobs queued, and a 24-job kenburns batch at ``--workers 2`` (time to the first finished job,
jobs per minute). Prints one JSON object, also saved to benchmarks/results/batch_local.json.
(benchmarks/batch.py compares the local and the Ray executor.)

    python benchmarks/batch_local.py
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from animakit import ASSETS  # noqa: E402
from animakit.jobfile import jobs_from_toml, load_jobs  # noqa: E402

RESULT = ROOT / "benchmarks" / "results" / "batch_local.json"
PORTRAIT = ASSETS / "portrait.png"
# a short kenburns clip: 1 s of video at 10 fps, 128 px wide
JOB = ('[[job]]\npipeline = "video.kenburns"\noutput = "out/o{i}.mp4"\n'
       f'inputs = {{{{ image = "{PORTRAIT}" }}}}\n'
       'params = {{ duration = 1.0, fps = 10, width = 128 }}\n')


def job_file(folder: Path, n: int) -> Path:
    path = folder / f"jobs{n}.toml"
    path.write_text("".join(JOB.format(i=i) for i in range(n)))
    return path


def validate_seconds(path: Path, repeats: int = 3) -> dict[str, float]:
    """Best of ``repeats`` (a shared machine only ever adds time): CPU seconds to parse the
    TOML and to check the parsed jobs (types, paths, duplicates), and wall seconds of the
    whole ``load_jobs``."""
    text = path.read_text()
    best = {"parse_cpu_s": 1e9, "check_cpu_s": 1e9, "load_jobs_wall_s": 1e9}
    for _ in range(repeats):
        c0 = time.process_time()
        data = tomllib.loads(text)
        c1 = time.process_time()
        jobs_from_toml(data, path)
        c2 = time.process_time()
        t0 = time.perf_counter()
        load_jobs(path)
        t1 = time.perf_counter()
        for key, value in (("parse_cpu_s", c1 - c0), ("check_cpu_s", c2 - c1),
                           ("load_jobs_wall_s", t1 - t0)):
            best[key] = round(min(best[key], value), 3)
    return best


def manifest_lines(path: Path) -> list[dict]:
    m = path.with_name(path.name + ".manifest.jsonl")
    if not m.exists():
        return []
    return [json.loads(ln) for ln in m.read_text().splitlines() if ln.endswith("}")]


def driver(path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "animakit", "render", str(path), "-q", *args],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def driver_rss_mb(path: Path) -> float:
    """The driver's RSS (workers not counted) once its first job has finished, then the
    batch is stopped with SIGINT."""
    proc = driver(path, "--workers", "2")
    while not manifest_lines(path):
        time.sleep(0.05)
    rss = psutil.Process(proc.pid).memory_info().rss
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    return round(rss / 2**20, 1)


def batch_timing(path: Path, n: int) -> dict[str, float]:
    """Start to first finished job, and the whole batch, as the user's clock sees them."""
    t0 = time.perf_counter()
    proc = driver(path, "--workers", "2")
    first = None
    while proc.poll() is None:
        if first is None and manifest_lines(path):
            first = time.perf_counter() - t0
        time.sleep(0.02)
    total = time.perf_counter() - t0
    done = sum(r["status"] == "done" for r in manifest_lines(path))
    return {"first_finished_s": round(first or total, 2), "total_s": round(total, 2),
            "done": done, "jobs_per_min": round(60 * n / total, 1)}


def main() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        big, small = _fresh(folder, 20000), _fresh(folder, 24)
        figures = {
            "validate_20000_jobs": validate_seconds(big),
            "driver_rss_mb": {"20000_jobs_queued": driver_rss_mb(big),
                              "24_jobs_queued": driver_rss_mb(_fresh(folder / "rss", 24))},
            "kenburns_24_jobs_workers_2": batch_timing(small, 24),
            "cores": len(os.sched_getaffinity(0)),
            "before_this_change": {"duplicate_check_20000_jobs_s": 125,
                                   "note": "as reported in issue 14 (quadratic check)"},
        }
    RESULT.parent.mkdir(exist_ok=True)
    RESULT.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures))
    return figures


def _fresh(folder: Path, n: int) -> Path:
    """A job file of ``n`` jobs in a folder of its own (its own outputs and manifest)."""
    sub = folder / f"jobs{n}"
    sub.mkdir(parents=True)
    return job_file(sub, n)


if __name__ == "__main__":
    main()
