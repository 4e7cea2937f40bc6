"""The CLI as a user runs it: a subprocess, exit codes, one-line errors, no stray files."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from animakit.media import VideoReader

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "animakit", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_pipelines_json_lists_every_registered_pipeline():
    from animakit.registry import pipeline_names
    r = cli("pipelines", "--json")
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    assert [d["name"] for d in listed] == pipeline_names()
    kb = next(d for d in listed if d["name"] == "video.kenburns")
    assert set(kb) >= {"name", "inputs", "engines", "params"}
    assert {p["name"] for p in kb["params"]} >= {"zoom_end", "fps", "duration"}
    assert all(p["help"] for p in kb["params"])


def test_run_renders_with_audio(tmp_path, portrait, speech):
    out = tmp_path / "kb.mp4"
    r = cli("run", "video.kenburns", "-i", f"image={portrait}", "-i", f"audio={speech}",
            "-p", "width=256", "-p", "fps=20", "-o", str(out), "-q")
    assert r.returncode == 0, r.stderr
    v = VideoReader(out)
    assert v.fps == 20 and v.size == (256, 256) and v.has_audio
    assert abs(v.num_frames / 20 - v.audio().duration) < 0.1


@pytest.mark.parametrize("args,needle", [
    (["-i", "image=missing.png"], "missing.png: image file not found"),
    (["-i", "image=assets/speech.wav"], "not a readable image"),
    (["-i", "image=assets/portrait.png", "-p", "zoom_end=20"], "param zoom_end"),
    (["-i", "image=assets/portrait.png", "-p", "nope=1"], "has no input or parameter named 'nope'"),
    (["-i", "image=assets/portrait.png", "-e", "warp9"], "no engine 'warp9'"),
    (["-p", "fps=25"], "needs the input 'image'"),
    (["-i", "image=assets/portrait.png", "--export", "landmarks=x.npz"], "no side output"),
])
def test_user_errors_one_line_exit_2_no_output(tmp_path, args, needle):
    out = tmp_path / "out.mp4"
    r = cli("run", "video.kenburns", *args, "-o", str(out), "-q")
    assert r.returncode == 2
    lines = [l for l in r.stderr.splitlines() if l.strip() and "Warning" not in l
             and not l.startswith("  warnings.warn")]
    assert len(lines) == 1 and needle in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_warning_is_one_line_once(tmp_path):
    """An edited frame of another aspect ratio is resized with a warning: one
    ``animakit: warning:`` line, not Python's two-line display plus a repeat."""
    out = tmp_path / "e.mp4"
    r = cli("run", "editing.first_frame", "-i", "video=assets/editing/source.mp4",
            "-i", "edited=assets/pose/figure.png", "-o", str(out), "-q")
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("animakit: warning: edited:"), r.stderr
    assert "aspect ratio" in lines[0] and out.exists()


def test_quiet_means_no_bar_from_inside_an_engine(tmp_path):
    """``-q``: the DiT sampler's own step bar stays hidden too, and so does the summary."""
    out = tmp_path / "d.mp4"
    r = cli("run", "dit.generate", "-p", "steps=3", "-o", str(out), "-q")
    assert r.returncode == 0 and out.exists(), r.stderr
    assert r.stderr.strip() == "" and r.stdout.strip() == ""


def test_unknown_pipeline(tmp_path):
    r = cli("run", "no.such", "-o", str(tmp_path / "x.mp4"))
    assert r.returncode == 2 and "no pipeline named 'no.such'" in r.stderr


def test_render_batch_with_a_broken_job_and_resume(tmp_path, portrait):
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(f'''
[defaults.params]
fps = 10
width = 128

[[job]]
name = "good-1"
pipeline = "video.kenburns"
output = "out/a.mp4"
inputs = {{ image = "{portrait}" }}
params = {{ duration = 1.0 }}

[[job]]
name = "broken"
pipeline = "video.kenburns"
output = "out/b.mp4"
inputs = {{ image = "does-not-exist.jpg" }}

[[job]]
name = "good-2"
pipeline = "video.kenburns"
output = "out/c.mp4"
inputs = {{ image = "{portrait}" }}
params = {{ duration = 0.5, zoom_end = 2.0 }}
''')
    r = cli("render", str(jobs), "-q")
    assert r.returncode == 1
    assert "2 done, 0 skipped, 1 failed" in r.stdout
    assert "does-not-exist.jpg: image file not found" in r.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.mp4", "c.mp4"]
    assert VideoReader(tmp_path / "out/a.mp4").num_frames == 10
    r2 = cli("render", str(jobs), "-q", "--resume")
    assert "0 done, 2 skipped, 1 failed" in r2.stdout


def test_render_parallel_workers(tmp_path, portrait):
    jobs = tmp_path / "jobs.toml"
    body = "".join(f'''
[[job]]
pipeline = "video.kenburns"
output = "o{i}.mp4"
inputs = {{ image = "{portrait}" }}
params = {{ duration = 0.4, fps = 10, width = 64 }}
''' for i in range(3))
    jobs.write_text(body)
    r = cli("render", str(jobs), "-q", "--workers", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 done" in r.stdout


def test_bad_job_file(tmp_path):
    jobs = tmp_path / "jobs.toml"
    jobs.write_text("[[job]]\npipeline = 'video.kenburns'\n")
    r = cli("render", str(jobs))
    assert r.returncode == 2 and "job 1: missing 'output'" in r.stderr
    jobs.write_text("this is = = not toml")
    r = cli("render", str(jobs))
    assert r.returncode == 2 and "not valid TOML" in r.stderr


def test_example_job_file_parses():
    from animakit.jobs import load_jobs
    jobs = load_jobs(ROOT / "assets" / "jobs.example.toml")
    assert jobs and all(Path(v).exists() for j in jobs for v in j.inputs.values())


def test_example_job_file_renders_every_pipeline(tmp_path):
    """assets/jobs.example.toml holds one job per pipeline; all of them render."""
    from animakit.jobs import load_jobs, run_jobs
    from animakit.registry import pipeline_names
    jobs = load_jobs(ROOT / "assets" / "jobs.example.toml")
    assert set(pipeline_names()) <= {j.pipeline for j in jobs}
    for j in jobs:                                   # keep the repo clean: outputs in tmp
        j.output = tmp_path / j.output.name
        j.exports = {k: str(tmp_path / Path(v).name) for k, v in j.exports.items()}
    results = run_jobs(jobs, progress=False)
    assert [r.status for r in results] == ["done"] * len(jobs), results
    for j in jobs:
        assert VideoReader(j.output).num_frames >= 2
        assert all(Path(v).exists() for v in j.exports.values())
