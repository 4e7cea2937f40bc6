"""Outputs, signals and user mistakes (issue 13, defects 2-4): an unsafe target is refused
up front with one line and nothing touched; SIGTERM and SIGKILL leave no debris."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import animakit
from animakit.errors import InputError

ASSETS = Path(animakit.ASSETS)


# -- defects 2, 3, 4: outputs, signals, user mistakes ------------------------------------------
PORTRAIT, SPEECH = ASSETS / "portrait.png", ASSETS / "speech.wav"
TALK = ["portrait.talking", "-q", "-i", f"image={PORTRAIT}", "-i", f"audio={SPEECH}",
        "-p", "duration=0.4"]


def animakit_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "animakit"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def assert_refused(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    # TFLite (under mediapipe) logs "INFO: Created ... delegate" from C++ once a face model
    # loads; that line is not ours to silence here
    lines = [ln for ln in proc.stderr.strip().splitlines() if not ln.startswith("INFO: ")]
    assert len(lines) == 1 and lines[0].startswith("animakit: error: "), proc.stderr
    assert all(w in lines[0] for w in words), lines[0]


@pytest.fixture
def files(tmp_path) -> Path:
    """A folder with a source video, a config file, a text file named like a video, and a
    text file named like a landmark export, and a folder named like a video."""
    (tmp_path / "clip.mp4").write_bytes((ASSETS / "editing" / "source.mp4").read_bytes())
    (tmp_path / "config.toml").write_text("answer = 42\n")
    (tmp_path / "notes.mp4").write_text("not a video\n")
    (tmp_path / "notes.npz").write_text("not landmarks\n")
    (tmp_path / "clipdir.mp4").mkdir()
    return tmp_path


@pytest.mark.parametrize("args, words", [
    (["editing.first_frame", "-q", "-i", "video=clip.mp4", "-i",
      f"edited={ASSETS / 'editing' / 'edited_first_frame.png'}", "-o", "clip.mp4"],
     ["clip.mp4: the output is the input clip.mp4"]),
    ([*TALK, "--export", "preview=o.mp4", "-o", "o.mp4"], ["o.mp4: --export preview would"]),
    ([*TALK, "--export", "landmarks=config.toml", "-o", "o.mp4"], ["writes .npz, not .toml"]),
    ([*TALK, "--export", "landmarks=notes.npz", "-o", "o.mp4"], ["notes.npz: --export landmarks exists"]),
    ([*TALK, "-o", "notes.mp4"], ["notes.mp4: the output exists and is not"]),
    ([*TALK, "--seed", "99999999999999999999999", "-o", "o.mp4"], ["seed: must be an integer from 0 to 9223372036854775807"]),
    ([*TALK, "-o", "clipdir.mp4"], ["clipdir.mp4: is a directory"]),
], ids=["output-is-input", "export-is-output", "export-suffix", "export-other-type",
        "output-other-type", "seed-overflow", "output-is-directory"])
def test_cli_refuses_a_target_up_front_and_touches_nothing(args, words, files):
    before = snapshot(files)
    assert_refused(animakit_cli("run", *args, cwd=files), *words)
    assert snapshot(files) == before


def test_overwrite_lets_the_api_replace_what_it_refuses(files):
    edit = {"video": files / "clip.mp4", "edited": ASSETS / "editing" / "edited_first_frame.png"}
    with pytest.raises(InputError, match="the output is the input"):
        animakit.render("editing.first_frame", files / "clip.mp4", inputs=edit, progress=False)
    with pytest.raises(InputError, match="is not a"):
        animakit.render("video.kenburns", files / "notes.mp4", inputs={"image": PORTRAIT},
                        params={"duration": 0.2}, progress=False)
    result = animakit.render("video.kenburns", files / "notes.mp4", inputs={"image": PORTRAIT},
                             params={"duration": 0.2}, progress=False, overwrite=True)
    assert result.frames == 5 and (files / "notes.mp4").read_bytes()[4:8] == b"ftyp"
    again = animakit.render("video.kenburns", files / "notes.mp4", inputs={"image": PORTRAIT},
                            params={"duration": 0.4}, progress=False)    # a video: replaced
    assert again.frames == 10


def test_job_writing_another_jobs_input_is_refused(tmp_path):
    from animakit.jobs import load_jobs
    jobs = tmp_path / "jobs.toml"
    jobs.write_text('[[job]]\nname = "a"\npipeline = "p"\noutput = "a.mp4"\n'
                    'inputs = { image = "b.npz" }\n'
                    '[[job]]\nname = "b"\npipeline = "p"\noutput = "b.mp4"\n'
                    'exports = { landmarks = "b.npz" }\n')
    with pytest.raises(InputError, match=r"job 'b' writes \S*b.npz, an input of job 'a'"):
        load_jobs(jobs)


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a tmpfs: ``tmpfs("ro")`` or ``tmpfs("size=8k")``; skipped where we may not."""
    mounted: list[Path] = []

    def mount(options: str) -> Path:
        where = tmp_path / f"mnt{len(mounted)}"
        where.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                          capture_output=True).returncode != 0:
            pytest.skip("cannot mount a tmpfs here")
        mounted.append(where)
        return where
    yield mount
    for where in mounted:
        subprocess.run(["umount", str(where)], capture_output=True)


def test_output_in_a_read_only_directory_is_one_line(tmpfs, tmp_path):
    ro = tmpfs("ro,size=64k")
    assert_refused(animakit_cli("run", *TALK, "-o", str(ro / "o.mp4")), "cannot write in")
    assert list(ro.iterdir()) == []


def test_export_to_a_full_disk_is_one_line_and_keeps_nothing(tmpfs, tmp_path):
    full = tmpfs("size=8k")
    proc = animakit_cli("run", *TALK, "--export", f"landmarks={full / 'l.npz'}",
                        "-o", str(tmp_path / "o.mp4"))
    assert_refused(proc, "l.npz: could not write --export landmarks: No space left on device")
    assert list(full.iterdir()) == [] and not (tmp_path / "o.mp4").exists()


def test_export_os_error_removes_what_the_render_wrote(tmp_path, monkeypatch):
    def no_space(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(np, "savez_compressed", no_space)
    with pytest.raises(InputError, match="clips.npz: could not write --export clips: No space"):
        animakit.render("dit.generate", tmp_path / "a.mp4", seed=3, progress=False,
                        params={"steps": 1, "num_clips": 1, "upscale": 1}, exports={"clips": tmp_path / "clips.npz"})
    assert list(tmp_path.iterdir()) == []


def start_long_render(out: Path) -> subprocess.Popen:
    """``animakit run`` of a 5-minute Ken Burns, returned once its hidden temp file exists."""
    exe = Path(sys.executable).parent / "animakit"
    proc = subprocess.Popen([str(exe), "run", "video.kenburns", "-q", "-i", f"image={PORTRAIT}",
                             "-p", "duration=300", "-o", str(out)], stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    deadline = time.monotonic() + 120
    while not list(out.parent.glob(".o.*.part.mp4")):
        assert proc.poll() is None and time.monotonic() < deadline, "no temp file appeared"
        time.sleep(0.05)
    time.sleep(0.5)
    return proc


def test_sigterm_cleans_up_like_ctrl_c(tmp_path):
    proc = start_long_render(tmp_path / "o.mp4")
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert err.strip() == "animakit: terminated; no partial output was kept"
    assert list(tmp_path.iterdir()) == []


def test_next_run_sweeps_what_a_sigkill_left(tmp_path):
    proc = start_long_render(tmp_path / "o.mp4")
    proc.kill()
    proc.wait(timeout=60)
    left = list(tmp_path.glob(".o.*.part.mp4"))
    assert left and str(proc.pid) in left[0].name      # the owner is named in the file
    live = tmp_path / f".o.{os.getppid()}.abc.part.mp4"  # a running process's: kept
    live.write_bytes(b"x")
    animakit.render("video.kenburns", tmp_path / "o.mp4", inputs={"image": PORTRAIT},
                    params={"duration": 0.2}, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["o.mp4", live.name])


def test_scratch_folders_are_removed_and_stale_ones_swept(tmp_path, monkeypatch):
    import tempfile

    from animakit.media.partfiles import scratch_dir
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stale = tmp_path / f"animakit-edit-{2**22 + 7}-abc"     # above any pid_max: gone
    stale.mkdir()
    (stale / "src.npy").write_bytes(b"0" * 1000)
    live = tmp_path / f"animakit-edit-{os.getppid()}-abc"
    live.mkdir()
    with scratch_dir("animakit-edit-") as mine:
        assert mine.is_dir() and str(os.getpid()) in mine.name and not stale.exists()
    assert not mine.exists() and live.exists()
