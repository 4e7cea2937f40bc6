"""The Ray executor on a local Ray started by the test (2 CPUs, no dashboard): the example
job file renders, a worker SIGKILLed mid-job costs one retry, an overdue job is cancelled,
relative paths are refused. Select with ``-m ray``; skipped without the ``ray`` extra."""
from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from animakit import InputError
from animakit.jobs import Job, JobResult, load_jobs
from animakit.media import VideoReader

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING)
    yield ray
    ray.shutdown()


def kenburns(out: Path, name: str, seconds: float, width: int = 256) -> Job:
    return Job(name=name, pipeline="video.kenburns", output=out / f"{name}.mp4",
               inputs={"image": str(ASSETS / "portrait.png")},
               params={"duration": seconds, "width": width, "fps": 25})


def assert_complete(r: JobResult) -> None:
    """A done job whose video holds every frame its render reported, nothing partial left."""
    assert r.status == "done", r.error
    assert r.result.frames > 0
    assert VideoReader(r.output).num_frames == r.result.frames
    assert not partial_files(r.output.parent)


def partial_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if ".part" in p.name]


def example_job_file(tmp_path: Path) -> Path:
    """The shipped example job file beside links to the inputs it names, so that its
    ``../out/`` outputs land in ``tmp_path/out``."""
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()
    shutil.copy(ASSETS / "jobs.example.toml", jobs_dir / "jobs.toml")
    for name in ("portrait.png", "speech.wav", "pose", "i2v", "editing", "dit"):
        (jobs_dir / name).symlink_to(ASSETS / name)
    return jobs_dir / "jobs.toml"


def test_renders_the_example_job_file(local_ray, tmp_path):
    from animakit.ray_executor import run_on_ray
    jobs = load_jobs(example_job_file(tmp_path))
    attempts: list[JobResult] = []
    results = run_on_ray(jobs, progress=False, on_result=attempts.append)
    assert [r.name for r in results] == [j.name for j in jobs]
    assert len(attempts) == len(jobs)
    for job, r in zip(jobs, results):
        assert r.output == job.output and r.output.parent == tmp_path / "out"
        assert_complete(r)
        assert r.attempt == 1 and r.host and r.seconds > 0
        assert all(Path(p).is_file() for p in job.exports.values())


def pid_running_task(task_name: str, stop: threading.Event) -> int | None:
    """The PID of the Ray worker whose process title is ``ray::<task_name>``."""
    import psutil
    while not stop.is_set():
        for p in psutil.process_iter(["pid", "cmdline"]):
            if f"ray::{task_name}" in " ".join(p.info["cmdline"] or []):
                return p.info["pid"]
        time.sleep(0.05)
    return None


def kill_mid_render(out: Path, job: str, stop: threading.Event, killed: list) -> None:
    """SIGKILL the worker running ``job`` once its video has started (a partial file)."""
    pid = pid_running_task(f"animakit:{job}", stop)
    while pid and not stop.is_set() and not list(out.glob(f".{job}.*.part*")):
        time.sleep(0.05)
    if pid and not stop.is_set():
        killed.append((pid, (out / f"{job}.mp4").exists()))
        os.kill(pid, signal.SIGKILL)


def test_a_worker_killed_mid_job_is_retried(local_ray, tmp_path):
    from animakit.ray_executor import run_on_ray
    out = tmp_path / "out"
    jobs = [kenburns(out, "victim", 6.0, 480), kenburns(out, "other", 2.0),
            kenburns(out, "third", 1.0)]
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=kill_mid_render, args=(out, "victim", stop, killed))
    killer.start()
    attempts: list[JobResult] = []
    try:
        results = run_on_ray(jobs, retries=1, progress=False, on_result=attempts.append)
    finally:
        stop.set()
        killer.join()
    assert killed and killed[0][1] is False, "the worker was not killed mid-job"
    for r in results:
        assert_complete(r)
    assert [r.attempt for r in results] == [2, 1, 1]
    died = [a for a in attempts if a.name == "victim" and a.status == "failed"]
    assert len(died) == 1 and died[0].attempt == 1 and "died" in died[0].error
    assert len(attempts) == 4


def test_a_job_past_its_timeout_is_cancelled(local_ray, tmp_path):
    from animakit.ray_executor import run_on_ray
    out = tmp_path / "out"
    jobs = [kenburns(out, "long", 600.0, 640), kenburns(out, "short", 0.4, 128)]
    t0 = time.monotonic()
    results = run_on_ray(jobs, timeout=8, progress=False)
    assert time.monotonic() - t0 < 8 + 10
    long, short = results
    assert long.status == "failed" and long.error == "timed out after 8 s"
    assert not long.output.exists()
    assert_complete(short)
    assert not partial_files(out)


def test_relative_paths_are_refused(tmp_path):
    from animakit.ray_executor import run_on_ray
    rel = Job(name="rel", pipeline="video.kenburns", output=Path("out/rel.mp4"),
              inputs={"image": str(ASSETS / "portrait.png")})
    with pytest.raises(InputError, match="relative path"):
        run_on_ray([rel], progress=False)
    rel_input = kenburns(tmp_path, "in", 1.0)
    rel_input.inputs["image"] = "portrait.png"
    with pytest.raises(InputError, match="input image 'portrait.png' is a relative path"):
        run_on_ray([rel_input], progress=False)


def test_sweep_removes_only_the_jobs_partial_files(tmp_path):
    from animakit.ray_executor import sweep_partial_files
    job = kenburns(tmp_path, "clip", 1.0)
    keep = [tmp_path / "clip.mp4", tmp_path / ".other.x1.part.mp4", tmp_path / ".clip.txt"]
    gone = [tmp_path / ".clip.ab12.part.mp4", tmp_path / ".clip.cd34.part.wav"]
    for p in keep + gone:
        p.write_bytes(b"x")
    assert sorted(sweep_partial_files([job])) == sorted(gone)
    assert all(p.exists() for p in keep) and not any(p.exists() for p in gone)


def interrupt_mid_render(out: Path, job: str, stop: threading.Event, sent: list) -> None:
    """Ctrl-C (SIGINT to this process) once ``job``'s video has started."""
    while not stop.is_set() and not list(out.glob(f".{job}.*.part*")):
        time.sleep(0.05)
    if not stop.is_set():
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_cancels_the_running_jobs_and_leaves_nothing_partial(local_ray, tmp_path):
    from animakit.jobs import BatchCancelled
    from animakit.ray_executor import run_on_ray
    out = tmp_path / "out"
    jobs = [kenburns(out, "first", 60.0, 640), kenburns(out, "second", 60.0, 640),
            kenburns(out, "queued", 1.0)]
    stop, sent, attempts = threading.Event(), [], []
    sender = threading.Thread(target=interrupt_mid_render, args=(out, "first", stop, sent))
    sender.start()
    try:
        with pytest.raises(BatchCancelled) as stopped:
            run_on_ray(jobs, progress=False, on_result=attempts.append)
    finally:
        stop.set()
        sender.join()
    assert sent and time.monotonic() - sent[0] < 8
    assert stopped.value.signum == signal.SIGINT
    assert sorted(a.name for a in attempts) == ["first", "second"]
    assert all(a.status == "cancelled" and "SIGINT" in a.error for a in attempts)
    assert [r.status for r in stopped.value.results] == ["cancelled"] * 3
    assert not out.exists() or not list(out.iterdir())


def test_animakit_never_imports_ray_unless_asked():
    import subprocess
    import sys
    code = ("import sys, animakit, animakit.cli, animakit.jobs\n"
            "from animakit.registry import pipeline_classes\n"
            "pipeline_classes()\n"
            "assert 'ray' not in sys.modules, 'ray imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_a_neural_engine_asks_for_a_gpu_only_where_the_cluster_has_one(tmp_path):
    from animakit.ray_executor import task_options
    svd = Job(name="svd", pipeline="video.i2v", output=tmp_path / "a.mp4", engine="svd")
    flow = Job(name="flow", pipeline="video.i2v", output=tmp_path / "b.mp4")
    unknown = Job(name="nope", pipeline="no.such", output=tmp_path / "c.mp4")
    assert task_options(svd, cluster_has_gpu=True)["num_gpus"] == 1
    assert task_options(svd, cluster_has_gpu=False)["num_gpus"] == 0
    assert task_options(flow, cluster_has_gpu=True)["num_gpus"] == 0
    assert task_options(unknown, cluster_has_gpu=True)["num_gpus"] == 0
    assert task_options(flow, cluster_has_gpu=False) == dict(
        name="animakit:flow", num_cpus=1, num_gpus=0, max_retries=0)


def test_workers_are_capped_at_the_clusters_cpus(local_ray, tmp_path, capsys):
    from animakit.ray_executor import concurrency
    assert concurrency(local_ray, None, progress=True) == 2
    assert concurrency(local_ray, 1, progress=True) == 1
    assert concurrency(local_ray, 32, progress=True) == 2
    assert "32 workers asked, the Ray cluster has 2 CPUs" in capsys.readouterr().err


def test_the_cli_renders_a_job_file_on_a_running_cluster(local_ray, tmp_path):
    """``animakit render --executor ray --address auto`` joins the cluster this test started:
    the same job file, every output complete, one manifest record per job."""
    import json
    import subprocess
    import sys
    jobs_file = example_job_file(tmp_path)
    r = subprocess.run([sys.executable, "-m", "animakit", "render", str(jobs_file), "-q",
                        "--executor", "ray", "--address", "auto"],
                       capture_output=True, text=True, timeout=240,
                       env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    assert r.returncode == 0, r.stderr[-2000:]
    jobs = load_jobs(jobs_file)
    for job in jobs:
        assert VideoReader(job.output).num_frames > 0
    assert not partial_files(tmp_path / "out")
    manifest = jobs_file.parent / "jobs.toml.manifest.jsonl"
    records = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert sorted(rec["status"] for rec in records) == ["done"] * len(jobs)
