"""``animakit render`` under the failures of a long batch: a worker killed, the driver
killed, Ctrl-C and SIGTERM, a job past its timeout; the manifest and ``--resume``; the
guards a render service needs (``--root``, job-file types, the worker cap). All on CPU with
the cheap ``video.kenburns`` pipeline at a small size."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from animakit.media import VideoReader

ROOT = Path(__file__).resolve().parent.parent


def write_jobs(tmp_path: Path, portrait: Path, durations: list[float], **extra: str) -> Path:
    """A job file of kenburns jobs ``j0``, ``j1``, ... writing ``out/j<i>.mp4`` at 10 fps
    (at this size a second of video takes about a quarter second to render)."""
    body = "[defaults.params]\nfps = 10\nwidth = 256\n" + "".join(f'''
[[job]]
name = "j{i}"
pipeline = "video.kenburns"
output = "out/j{i}.mp4"
inputs = {{ image = "{portrait}" }}
params = {{ duration = {d} }}
''' for i, d in enumerate(durations))
    path = tmp_path / "jobs.toml"
    path.write_text(body)
    return path


def start(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "animakit", "render", *args, "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            **kw)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "animakit", "render", *args, "-q"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


def busy_workers(driver: subprocess.Popen, deadline_s: float = 120,
                 not_pid: int | None = None) -> list[psutil.Process]:
    """The driver's worker processes that are encoding (have an ffmpeg child), waited for."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        assert driver.poll() is None, driver.communicate()
        busy = []
        for p in psutil.Process(driver.pid).children():
            try:
                if p.pid != not_pid and any("ffmpeg" in c.name() for c in p.children()):
                    busy.append(p)
            except psutil.NoSuchProcess:
                pass
        if busy:
            return busy
        time.sleep(0.05)
    raise AssertionError("no worker started encoding")


def manifest_records(jobs: Path) -> list[dict]:
    path = jobs.with_name(jobs.name + ".manifest.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def partial_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.part*")) if folder.exists() else []


def test_a_killed_worker_costs_one_retry_and_every_output_is_complete(tmp_path, portrait):
    durations = [8.0, 8.0, 0.5, 0.5]
    jobs = write_jobs(tmp_path, portrait, durations)
    driver = start(str(jobs), "--workers", "2")
    victim = busy_workers(driver)[0]
    victim.send_signal(signal.SIGKILL)
    out, err = driver.communicate(timeout=300)
    assert driver.returncode == 0, out + err
    assert "4 done, 0 skipped, 0 failed" in out and "(attempt 2)" in out
    for i, d in enumerate(durations):
        assert VideoReader(tmp_path / f"out/j{i}.mp4").num_frames == round(d * 10)
    assert partial_files(tmp_path) == []
    records = manifest_records(jobs)
    for r in (r for r in records if r["status"] == "done"):      # what --resume checks
        out = Path(r["output"])
        assert r["written"] == {str(out): out.stat().st_size} and r["seconds"] > 0
        assert r["host"] and r["time"] and r["error"] is None
    died = [r for r in records if r["status"] == "failed"]
    assert len(died) == 1 and died[0]["attempt"] == 1
    assert "worker process died (killed by SIGKILL)" in died[0]["error"]
    assert not psutil.pid_exists(victim.pid) or victim.status() == psutil.STATUS_ZOMBIE


def test_a_job_that_dies_every_time_is_reported_failed_after_its_retries(tmp_path, portrait):
    jobs = write_jobs(tmp_path, portrait, [8.0])
    driver = start(str(jobs), "--retries", "1")
    first = busy_workers(driver)[0]
    first.send_signal(signal.SIGKILL)
    busy_workers(driver, not_pid=first.pid)[0].send_signal(signal.SIGKILL)     # its retry
    out, err = driver.communicate(timeout=300)
    assert driver.returncode == 1, out + err
    assert "0 done, 0 skipped, 1 failed" in out and "killed by SIGKILL" in out
    assert [r["attempt"] for r in manifest_records(jobs)] == [1, 2]
    assert partial_files(tmp_path) == []


def test_driver_killed_leaves_no_orphan_and_resume_finishes_the_rest(tmp_path, portrait):
    durations = [0.5, 0.5, 8.0, 8.0, 8.0, 8.0]
    jobs = write_jobs(tmp_path, portrait, durations)
    driver = start(str(jobs), "--workers", "2")
    end = time.monotonic() + 120
    while not any(r["status"] == "done" for r in manifest_records(jobs)):
        assert time.monotonic() < end and driver.poll() is None
        time.sleep(0.05)
    busy_workers(driver)
    children = psutil.Process(driver.pid).children(recursive=True)
    driver.send_signal(signal.SIGKILL)
    driver.communicate()
    gone, alive = psutil.wait_procs(children, timeout=5)
    assert alive == [], [p.cmdline() for p in alive]
    done_before = {r["job"] for r in manifest_records(jobs) if r["status"] == "done"}
    assert 0 < len(done_before) < len(durations)

    r = cli(str(jobs), "--resume", "--workers", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    missing = len(durations) - len(done_before)
    assert f"{missing} done, {len(done_before)} skipped, 0 failed" in r.stdout
    rendered_now = [rec["job"] for rec in manifest_records(jobs)
                    if rec["status"] == "done" and rec["job"] not in done_before]
    assert sorted(rendered_now) == sorted({f"j{i}" for i in range(len(durations))} - done_before)
    for i, d in enumerate(durations):
        assert VideoReader(tmp_path / f"out/j{i}.mp4").num_frames == round(d * 10)
    assert partial_files(tmp_path) == []


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_signal_ends_the_batch_fast_with_nothing_partial(tmp_path, portrait, signum, code):
    jobs = write_jobs(tmp_path, portrait, [8.0] * 6)
    driver = start(str(jobs), "--workers", "2", start_new_session=True)
    busy_workers(driver)
    children = psutil.Process(driver.pid).children(recursive=True)
    t0 = time.monotonic()
    os.killpg(driver.pid, signum)           # as a terminal does: the driver's whole group
    out, err = driver.communicate(timeout=30)
    assert time.monotonic() - t0 < 5 and driver.returncode == code, out + err
    assert "6 jobs:" in out and "cancelled" in out and "Traceback" not in err
    assert psutil.wait_procs(children, timeout=5)[1] == []
    assert partial_files(tmp_path) == []
    for r in manifest_records(jobs):                  # what finished before the stop is whole
        if r["status"] == "done":
            assert VideoReader(r["output"]).num_frames == 80


def test_timeout_stops_a_long_job_and_the_worker_cap_warns(tmp_path, portrait):
    jobs = write_jobs(tmp_path, portrait, [900.0, 0.5])    # the long one cannot finish in 3 s
    r = cli(str(jobs), "--timeout", "3", "--workers", "999")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 done, 0 skipped, 1 failed" in r.stdout and "timed out after 3 s" in r.stdout
    cores = len(os.sched_getaffinity(0))
    assert f"animakit: warning: --workers 999 capped at {cores}" in r.stderr
    assert not (tmp_path / "out/j0.mp4").exists() and partial_files(tmp_path) == []
    assert VideoReader(tmp_path / "out/j1.mp4").num_frames == 5


def one_error_line(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


@pytest.mark.parametrize("path_of", [
    lambda tmp, root: "../escape.mp4",                                  # .. out of root
    lambda tmp, root: str(tmp / "elsewhere" / "x.mp4"),                # absolute, outside
    lambda tmp, root: "link/x.mp4",                                    # a symlink out
])
def test_root_refuses_outputs_outside_it(tmp_path, portrait, path_of):
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    img = root / "p.png"
    img.write_bytes(portrait.read_bytes())
    jobs = root / "jobs.toml"
    jobs.write_text(f'[[job]]\npipeline = "video.kenburns"\noutput = "{path_of(tmp_path, root)}"'
                    f'\ninputs = {{ image = "p.png" }}\n')
    line = one_error_line(cli(str(jobs), "--root", str(root)))
    assert "is outside --root" in line
    assert sorted(p.name for p in root.iterdir()) == ["jobs.toml", "link", "p.png"]


def test_root_refuses_inputs_outside_it_and_accepts_what_is_inside(tmp_path, portrait):
    root = tmp_path / "root"
    root.mkdir()
    jobs = root / "jobs.toml"
    jobs.write_text(f'[[job]]\npipeline = "video.kenburns"\noutput = "o.mp4"\n'
                    f'inputs = {{ image = "{portrait}" }}\n')
    assert f"{portrait} is outside --root" in one_error_line(cli(str(jobs), "--root", str(root)))
    from animakit.jobs import check_inside_root, load_jobs
    (root / "p.png").write_bytes(portrait.read_bytes())
    jobs.write_text('[[job]]\npipeline = "video.kenburns"\noutput = "sub/../o.mp4"\n'
                    'inputs = { image = "p.png" }\n')
    check_inside_root(load_jobs(jobs), root)


@pytest.mark.parametrize("toml,needle", [
    ('[[job]]\nname = "a"\npipeline = "video.kenburns"\noutput = "o.mp4"\ninputs = "x"\n',
     "job 1 ('a'): 'inputs' must be a table (key = value, ...), got a string"),
    ('[defaults]\nparams = 5\n[[job]]\npipeline = "video.kenburns"\noutput = "o.mp4"\n',
     "[defaults]: 'params' must be a table (key = value, ...), got an integer"),
    ('[[job]]\npipeline = "video.kenburns"\noutput = "o.mp4"\nseed = "7"\n',
     "job 1: 'seed' must be an integer, got a string"),
    ('[[job]]\npipeline = 3\noutput = "o.mp4"\n', "job 1: 'pipeline' must be a string"),
    ('[[job]]\npipeline = "video.kenburns"\noutput = "o.mp4"\ninputs = { image = 1 }\n',
     "job 1: inputs.image must be a path (a string), got an integer"),
    ('[[job]]\nname = "a"\npipeline = "p"\noutput = "o.mp4"\n'
     '[[job]]\nname = "b"\npipeline = "p"\noutput = "./o.mp4"\n', "jobs 'a' and 'b' both write"),
    ('[[job]]\nname = "a"\npipeline = "p"\noutput = "o.mp4"\n'
     '[[job]]\nname = "b"\npipeline = "p"\noutput = "b.mp4"\nexports = { pose = "o.mp4" }\n',
     "jobs 'a' and 'b' both write"),
])
def test_job_file_type_errors_are_one_line_naming_file_and_job(tmp_path, toml, needle):
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(toml)
    line = one_error_line(cli(str(jobs)))
    assert line.startswith(f"animakit: error: {jobs}") and needle in line, line
    assert sorted(tmp_path.iterdir()) == [jobs]


def test_twenty_thousand_jobs_validate_in_linear_time(tmp_path):
    """Checking the parsed file (types, paths, duplicates) of 20,000 jobs costs less CPU
    than 1.5x reading the TOML they came in (on any machine: both are plain Python, and
    the check's cost sits near 0.9x the parse's); 4x the jobs cost at most about 4x the
    time (no quadratic step)."""
    import tomllib
    from animakit.jobfile import jobs_from_toml

    def text(n: int) -> str:
        return "[defaults.params]\nwidth = 64\n" + "".join(
            f'[[job]]\npipeline = "video.kenburns"\noutput = "out/o{i}.mp4"\n'
            f'inputs = {{ image = "p.png" }}\nparams = {{ duration = 0.4 }}\n' for i in range(n))

    def cpu_seconds(d: dict) -> float:
        t0 = time.process_time()
        assert len(jobs_from_toml(d, tmp_path / "jobs.toml")) == len(d["job"])
        return time.process_time() - t0

    small, big_text = tomllib.loads(text(5000)), text(20000)
    t0 = time.process_time()
    big = tomllib.loads(big_text)
    t_parse = time.process_time() - t0
    cpu_seconds(small)                                         # warm
    t_small, t_big = cpu_seconds(small), cpu_seconds(big)
    assert t_big < 1.5 * t_parse and t_big < 8 * t_small + 0.05, (t_parse, t_small, t_big)


def test_resume_needs_the_manifest_and_every_file_to_match(tmp_path):
    from animakit.jobfile import Job
    from animakit.manifest import is_done
    out, export = tmp_path / "a.mp4", tmp_path / "a.npz"
    out.write_bytes(b"v" * 10)
    job = Job("a", "p", out, exports={"landmarks": str(export)})
    rec = {"status": "done", "written": {str(out): 10, str(export): 4}}
    assert not is_done(job, {str(out): rec})                   # killed before its export
    export.write_bytes(b"eeee")
    assert is_done(job, {str(out): rec})
    assert not is_done(job, {})                                # no record: render again
    assert not is_done(job, {str(out): {**rec, "status": "failed"}})
    out.write_bytes(b"v" * 3)                                  # replaced since
    assert not is_done(job, {str(out): rec})


def ray_executor_available() -> bool:
    from importlib.util import find_spec
    return find_spec("ray") is not None and find_spec("animakit.ray_executor") is not None


@pytest.mark.skipif(ray_executor_available(), reason="Ray and the Ray executor are installed")
def test_ray_executor_without_ray_is_one_line(tmp_path, portrait):
    jobs = write_jobs(tmp_path, portrait, [0.5])
    line = one_error_line(cli(str(jobs), "--executor", "ray"))
    assert line == "animakit: error: --executor ray needs Ray: pip install 'animakit[ray]'"


def test_ctrl_c_while_workers_start_up_prints_no_worker_traceback(tmp_path, portrait):
    """A worker joins its own process group only once it runs; a Ctrl-C during its
    start-up (importing animakit) must not end it with a traceback on the terminal."""
    jobs = write_jobs(tmp_path, portrait, [8.0] * 4)
    driver = start(str(jobs), "--workers", "2", start_new_session=True)
    while not psutil.Process(driver.pid).children():
        assert driver.poll() is None
        time.sleep(0.005)
    time.sleep(0.1)                         # the worker is importing, still in our group
    os.killpg(driver.pid, signal.SIGINT)
    out, err = driver.communicate(timeout=30)
    assert driver.returncode == 130 and "Traceback" not in err, out + err
    assert partial_files(tmp_path) == []
