"""Hostile-but-fair inputs (issue 13): each is refused with one line naming the file, or read
correctly, in bounded memory, through the API, the CLI and the studio's runner alike."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import soundfile as sf

import animakit
from animakit.errors import InputError, MediaError
from animakit.media import audio_info, load_audio
from animakit.studio import runner

ASSETS = Path(animakit.ASSETS)
MAX_GROWTH_MB = 300


def peak_growth_mb(fn) -> tuple[float, object]:
    """(peak RSS growth in MB of this process plus its children while ``fn`` runs, what
    ``fn`` returned or raised): a sampler thread polls psutil every 5 ms."""
    me = psutil.Process()

    def rss() -> int:
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total

    base, peak, done = rss(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        outcome = fn()
    except Exception as e:  # the caller asserts on what was raised
        outcome = e
    finally:
        done.set()
        sampler.join()
    return (max(peak[0], rss()) - base) / 2**20, outcome


def write_long_wav(path: Path, seconds: float, sr: int, fmt: str = "WAV") -> Path:
    """A quiet tone of ``seconds`` at ``sr`` Hz, written in blocks (the test holds little)."""
    block = sr * 60
    with sf.SoundFile(str(path), "w", samplerate=sr, channels=1, format=fmt,
                      subtype="PCM_16") as f:
        for start in range(0, int(seconds * sr), block):
            n = min(block, int(seconds * sr) - start)
            t = (start + np.arange(n)) / sr
            f.write((0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32))
    return path


@pytest.fixture(scope="module")
def slow_rate_wav(tmp_path_factory) -> Path:
    """5.5 MB on disk, 8 hours on paper: 100 samples a second (the issue's upload)."""
    return write_long_wav(tmp_path_factory.mktemp("hostile") / "long_talk.wav", 8 * 3600, 100)


@pytest.fixture(scope="module")
def two_hour_soundtrack(tmp_path_factory) -> Path:
    """A real 2-hour soundtrack at 16 kHz (FLAC keeps the file small)."""
    return write_long_wav(tmp_path_factory.mktemp("long") / "soundtrack.flac", 2 * 3600, 16000,
                          fmt="FLAC")


# -- defect 1: bounded before decoded ---------------------------------------------------------
def test_header_gives_length_and_rate_without_decoding(slow_rate_wav, two_hour_soundtrack):
    info = audio_info(slow_rate_wav)
    assert (info.sr, info.channels) == (100, 1)
    assert info.duration == pytest.approx(8 * 3600)
    assert audio_info(two_hour_soundtrack).duration == pytest.approx(7200)


def test_header_of_a_video_audio_track(video_with_audio):
    path = video_with_audio[0]
    info = audio_info(path)
    assert info.sr > 0 and 1.0 < info.duration < 1.5


def test_studio_check_reads_headers_only(slow_rate_wav):
    growth, err = peak_growth_mb(lambda: runner.check_limits({"audio": "audio"},
                                                             {"audio": str(slow_rate_wav)}))
    assert growth < MAX_GROWTH_MB, f"{growth:.0f} MB"
    assert isinstance(err, InputError)
    assert str(err).startswith("long_talk.wav: ") and str(slow_rate_wav.parent) not in str(err)
    assert "100 Hz" in str(err) and "\n" not in str(err)


def test_studio_render_refuses_a_long_upload_by_its_name(two_hour_soundtrack):
    growth, err = peak_growth_mb(lambda: runner.render(
        "video.kenburns", None, {"image": str(ASSETS / "portrait.png"),
                                 "audio": str(two_hour_soundtrack)}, {"width": 64}))
    assert growth < MAX_GROWTH_MB, f"{growth:.0f} MB"
    assert isinstance(err, InputError)
    shown = runner.describe_error(err)
    assert shown.startswith("soundtrack.flac: audio is 7200 s long")
    assert "/" not in shown


@pytest.mark.parametrize("pipeline", ["video.kenburns", "portrait.talking"])
def test_api_refuses_the_slow_rate_wav_in_bounded_memory(pipeline, slow_rate_wav, tmp_path):
    out = tmp_path / "out.mp4"
    growth, err = peak_growth_mb(lambda: animakit.render(
        pipeline, out, inputs={"image": str(ASSETS / "portrait.png"), "audio": str(slow_rate_wav)},
        progress=False))
    assert growth < MAX_GROWTH_MB, f"{growth:.0f} MB"
    assert isinstance(err, MediaError), err
    assert str(err).startswith(f"{slow_rate_wav}: audio is stored at 100 Hz")
    assert list(tmp_path.iterdir()) == []


def test_load_audio_refuses_more_than_it_decodes(slow_rate_wav, tmp_path):
    long_but_real = write_long_wav(tmp_path / "a.wav", 20, 8000)
    with pytest.raises(MediaError, match=r"a\.wav: audio is 20\.0 s long; at most 10\.0 s"):
        load_audio(long_but_real, max_seconds=10)
    assert load_audio(long_but_real, sr=8000, duration=2.0, max_seconds=10).duration == 2.0
    with pytest.raises(MediaError, match="stored at 100 Hz"):
        next(animakit.media.stream_audio(slow_rate_wav))


def test_cli_one_line_exit_2(slow_rate_wav, tmp_path):
    exe = Path(sys.executable).parent / "animakit"
    proc = subprocess.run([str(exe), "run", "video.kenburns", "-q", "-i",
                           f"image={ASSETS / 'portrait.png'}", "-i", f"audio={slow_rate_wav}",
                           "-o", str(tmp_path / "o.mp4")], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "long_talk.wav: audio is stored at 100 Hz" in lines[0]
    assert list(tmp_path.iterdir()) == []


# -- defect 7: long inputs in bounded memory --------------------------------------------------
def test_kenburns_reads_only_the_soundtrack_it_needs(two_hour_soundtrack, tmp_path):
    out = tmp_path / "short.mp4"
    growth, result = peak_growth_mb(lambda: animakit.render(
        "video.kenburns", out, inputs={"image": str(ASSETS / "portrait.png"),
                                       "audio": str(two_hour_soundtrack)},
        params={"duration": 1.0, "width": 64, "fps": 10}, progress=False))
    assert not isinstance(result, Exception), result
    assert growth < MAX_GROWTH_MB, f"{growth:.0f} MB"
    assert result.frames == 10
    assert audio_info(out).duration == pytest.approx(1.0, abs=0.1)


def test_kenburns_refuses_a_soundtrack_longer_than_a_clip(two_hour_soundtrack, tmp_path):
    with pytest.raises(MediaError, match=r"soundtrack\.flac: audio is 2 h 0 min long; at most 1 h"):
        animakit.render("video.kenburns", tmp_path / "o.mp4",
                        inputs={"image": str(ASSETS / "portrait.png"),
                                "audio": str(two_hour_soundtrack)}, progress=False)
    assert list(tmp_path.iterdir()) == []


# -- defect 6: inputs read wrong or refused ---------------------------------------------------
def ffmpeg(*args: str) -> None:
    from animakit.media import ffmpeg_exe
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def odd_videos(tmp_path_factory) -> dict[str, Path]:
    """A 1000 fps clip of the editing example, an audio-only mp4 and a 0-frame mp4."""
    d = tmp_path_factory.mktemp("odd")
    paths = {k: d / f"{k}.mp4" for k in ("fps1000", "audio_only", "zero_frames")}
    ffmpeg("-i", str(ASSETS / "editing" / "source.mp4"), "-vf", "setpts=N/1000/TB", "-r", "1000",
           "-frames:v", "20", "-pix_fmt", "yuv420p", str(paths["fps1000"]))
    ffmpeg("-f", "lavfi", "-i", "sine=d=1", str(paths["audio_only"]))
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=25", "-t", "1", "-frames:v", "0",
           "-pix_fmt", "yuv420p", str(paths["zero_frames"]))
    return paths


def test_sixteen_bit_gray_png_is_scaled_not_clipped(tmp_path):
    from PIL import Image
    from animakit.media import load_image
    gray8 = np.asarray(Image.open(ASSETS / "portrait.png").convert("L"))
    Image.fromarray(gray8.astype(np.uint16) * 257).save(tmp_path / "gray16.png")
    assert Image.open(tmp_path / "gray16.png").mode in ("I;16", "I")
    for rgb in (load_image(tmp_path / "gray16.png"), load_image(tmp_path / "gray16.png", alpha=True)):
        assert np.abs(rgb[..., :3].astype(int) - gray8[..., None]).max() <= 1
    # and the talking portrait's detector finds the face in it
    from animakit.portrait.landmarks import detect_faces
    assert len(detect_faces(load_image(tmp_path / "gray16.png"))) == 1


def test_1000_fps_video_is_read_and_rendered(odd_videos, tmp_path):
    from animakit.media import VideoReader
    assert VideoReader(odd_videos["fps1000"]).fps == 1000.0
    result = animakit.render("editing.first_frame", tmp_path / "o.mp4", progress=False,
                             inputs={"video": str(odd_videos["fps1000"]),
                                     "edited": str(ASSETS / "editing" / "edited_first_frame.png")})
    assert (result.frames, result.fps) == (20, 1000.0)


@pytest.mark.parametrize("kind", ["audio_only", "zero_frames"])
def test_video_without_frames_is_one_clear_line(kind, odd_videos, tmp_path):
    path = odd_videos[kind]
    with pytest.raises(MediaError) as api:
        animakit.render("editing.first_frame", tmp_path / "o.mp4", progress=False,
                        inputs={"video": str(path),
                                "edited": str(ASSETS / "editing" / "edited_first_frame.png")})
    assert str(api.value) == f"{path}: has no video frames"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError) as studio:
        runner.check_limits({"video": "video"}, {"video": str(path)})
    assert runner.describe_error(studio.value) == f"{kind}.mp4: has no video frames"


def cli_edit(video: Path, out: Path) -> subprocess.CompletedProcess:
    """``animakit run editing.first_frame`` on ``video`` with the shipped edited frame."""
    exe = Path(sys.executable).parent / "animakit"
    return subprocess.run([str(exe), "run", "editing.first_frame", "-q", "-i", f"video={video}",
                           "-i", f"edited={ASSETS / 'editing' / 'edited_first_frame.png'}",
                           "-o", str(out)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def test_cli_video_without_frames_exit_2(odd_videos, tmp_path):
    proc = cli_edit(odd_videos["audio_only"], tmp_path / "o.mp4")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == f"animakit: error: {odd_videos['audio_only']}: has no video frames"
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def cut_videos(tmp_path_factory) -> dict[str, Path]:
    """The editing example with its index up front (as phones and web encoders write it),
    that file cut at 60 % of its bytes (a broken download), and a clip whose soundtrack runs
    a second past its picture (short video, nothing damaged)."""
    d = tmp_path_factory.mktemp("cut")
    whole, cut, long_audio = d / "whole.mp4", d / "cut.mp4", d / "long_audio.mp4"
    ffmpeg("-i", str(ASSETS / "editing" / "source.mp4"), "-c", "copy", "-movflags", "+faststart",
           str(whole))
    cut.write_bytes(whole.read_bytes()[:int(whole.stat().st_size * 0.6)])
    ffmpeg("-i", str(ASSETS / "editing" / "source.mp4"), "-f", "lavfi", "-i", "sine=d=4",
           "-map", "0:v", "-map", "1:a", "-c:v", "copy", str(long_audio))
    return {"whole": whole, "cut": cut, "long_audio": long_audio}


def test_a_cut_off_video_is_refused_not_rendered_short(cut_videos, tmp_path):
    from animakit.media import VideoReader
    total = len(list(VideoReader(cut_videos["whole"])))
    proc = cli_edit(cut_videos["cut"], tmp_path / "o.mp4")
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip()
    assert line.startswith(f"animakit: error: {cut_videos['cut']}: video is damaged or "
                           f"incomplete: its frames stop after ") and f" of {total} (" in line, line
    assert "\n" not in line and list(tmp_path.iterdir()) == []


def test_a_soundtrack_longer_than_the_picture_is_not_damage(cut_videos, tmp_path):
    from animakit.media import VideoReader
    reader = VideoReader(cut_videos["long_audio"])
    assert reader.duration * reader.fps > len(list(VideoReader(cut_videos["whole"]))) + 5
    result = animakit.render("editing.first_frame", tmp_path / "o.mp4", progress=False,
                             inputs={"video": str(cut_videos["long_audio"]),
                                     "edited": str(ASSETS / "editing" / "edited_first_frame.png")})
    assert result.frames == len(list(VideoReader(cut_videos["whole"])))


def test_video_bounded_from_its_header(odd_videos, monkeypatch):
    from animakit.media import VideoReader, video
    w, h = VideoReader(odd_videos["fps1000"]).size
    monkeypatch.setattr(video, "MAX_DECODED_BYTES", w * h * 3 * 10)     # 10 of its 20 frames
    with pytest.raises(MediaError, match="too long to hold in memory"):
        VideoReader(odd_videos["fps1000"]).read_all()
    assert len(VideoReader(odd_videos["fps1000"]).read_all(max_frames=10)) == 10
    monkeypatch.setattr(video, "MAX_FRAME_PIXELS", w * h - 1)
    with pytest.raises(MediaError, match=rf"frames are {w}x{h}; the limit is"):
        VideoReader(odd_videos["fps1000"])


# -- several faces ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def portrait_grids() -> dict[str, np.ndarray]:
    """Three portraits side by side, a 2x2 grid, and a 2x2 grid of mirrored tiles (whose
    faces the detector reads at slightly different sizes and heights), from the shipped
    portrait."""
    from animakit.media import load_image
    p = load_image(ASSETS / "portrait.png")
    m = p[:, ::-1]
    return {"strip": np.hstack([p, p, p]), "grid": np.vstack([np.hstack([p, p])] * 2),
            "mirrored": np.vstack([np.hstack([p, m]), np.hstack([m, p])])}


@pytest.mark.parametrize("layout, centres", [
    ("strip", [(224, 124), (736, 124), (1248, 124)]),
    ("grid", [(224, 124), (736, 124), (224, 636), (736, 636)]),
    ("mirrored", [(224, 124), (800, 124), (288, 636), (736, 636)])])
def test_every_face_of_a_group_is_found_in_reading_order(layout, centres, portrait_grids):
    from animakit.portrait.talking.sources import source_face
    image = portrait_grids[layout]
    for index, (cx, cy) in enumerate(centres):
        points = source_face(image, "group.png", index)
        x0, y0 = points[:, :2].min(0)
        x1, y1 = points[:, :2].max(0)
        assert abs((x0 + x1) / 2 - cx) < 20 and abs((y0 + y1) / 2 - cy) < 20, index
    from animakit.errors import ParamError
    with pytest.raises(ParamError, match=f"shows only {len(centres)} face"):
        source_face(image, "group.png", len(centres))


def test_face_index_chooses_in_a_render(portrait_grids, tmp_path):
    from animakit.media import VideoReader, save_image
    save_image(tmp_path / "strip.png", portrait_grids["strip"])
    out = tmp_path / "third.mp4"
    animakit.render("portrait.talking", out, inputs={"image": str(tmp_path / "strip.png")},
                    params={"face_index": 2, "duration": 1.0, "fps": 10}, progress=False)
    frames = VideoReader(out).read_all()
    moved = np.abs(frames[-1].astype(int) - frames[0].astype(int))[60:190]   # rows of the faces
    first, third = moved[:, 170:280].mean(), moved[:, 1194:1304].mean()
    # the third face moves (blinks, head motion); the first only shows encoding noise
    assert third > 1.0 and third > 5 * first, (first, third)


def test_the_studio_numbers_the_faces_it_found(portrait_grids, tmp_path):
    """The talking tab shows each face found with its face_index, in the order a render
    uses: a box over each face's landmarks, the rest of the image untouched."""
    from animakit.media import save_image
    from animakit.portrait.talking.sources import faces_in
    from animakit.portrait.talking.studio import numbered_faces
    image = portrait_grids["mirrored"]
    save_image(tmp_path / "grid.png", image)
    shown = numbered_faces(str(tmp_path / "grid.png"))
    changed = np.abs(shown.astype(int) - image.astype(int)).max(-1) > 30
    boxes = np.zeros_like(changed)
    for face in faces_in(image):
        x0, y0, x1, y1 = (int(round(v)) for v in face.bbox)
        boxes[max(0, y0 - 8):y1 + 8, max(0, x0 - 8):x1 + 8] = True
    assert len(faces_in(image)) == 4
    assert changed[boxes].mean() > 0.02 and not changed[~boxes].any()
    assert numbered_faces(None) is None


# -- defect 5: studio files per session -------------------------------------------------------
def test_sessions_get_their_own_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "output_dir", lambda: tmp_path)
    a, b = runner.session_dir("abc123"), runner.session_dir("def456")
    assert a != b and a.parent == b.parent == tmp_path
    assert runner.session_dir("../../etc") == tmp_path / "session-etc"
    assert runner.session_dir(None) == tmp_path / "session-shared"


def test_editor_brushes_are_studio_files_swept_like_renders(tmp_path, monkeypatch):
    from animakit.video import studio
    monkeypatch.setattr(runner, "output_dir", lambda: tmp_path)
    monkeypatch.setattr(studio, "output_dir", lambda: tmp_path)
    path = Path(studio.BrushEditor().preprocess('{"static": [[[0, 0], [64, 0], [64, 64]]]}'))
    assert path.parent == tmp_path / "brushes" and path.is_file()
    os.utime(path, (time.time() - 7200, time.time() - 7200))
    assert path in runner.sweep()


def test_sweep_expires_old_files_and_caps_disk_use(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "output_dir", lambda: tmp_path)
    now = time.time()
    old = runner.session_dir("old") / "render.mp4"
    old.write_bytes(b"x" * 10)
    os.utime(old, (now - 7200, now - 7200))
    big = [runner.session_dir("big") / f"{i}.mp4" for i in range(3)]
    for i, p in enumerate(big):
        p.write_bytes(b"x" * 2**20)
        os.utime(p, (now - 30 + i, now - 30 + i))       # oldest first: 0, 1, 2
    busy = runner.session_dir("big") / ".render.abc.part.mp4"
    busy.write_bytes(b"x" * 2**20)
    gone = runner.sweep(runner.Limits(max_age_s=3600, max_disk_mb=2), now=now)
    assert set(gone) == {old, big[0]}
    assert not (tmp_path / "session-old").exists()
    assert all(p.exists() for p in (big[1], big[2], busy))


@pytest.fixture(scope="module")
def studio_in_tmp(tmp_path_factory):
    """The studio app with its own temporary folder, so its files are this test's alone."""
    from test_studio import running_studio
    tmp = tmp_path_factory.mktemp("studio_tmp")
    with running_studio(tmp / "app.log", TMPDIR=str(tmp), GRADIO_TEMP_DIR=str(tmp / "gradio")) as url:
        yield url, tmp / "animakit-studio"


def test_studio_sessions_and_upload_errors(studio_in_tmp, slow_rate_wav):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError
    url, folder = studio_in_tmp
    clients = [Client(url, verbose=False) for _ in range(2)]
    for c in clients:
        c.predict(1, api_name="/example_video_kenburns")
    sessions = [d for d in folder.iterdir() if d.name.startswith("session-")]
    assert len(sessions) == 2 and all(len(list(d.glob("*.mp4"))) == 1 for d in sessions)
    cls = animakit.registry.pipeline_classes()["video.kenburns"]
    defaults = [("" if p["default"] is None else p["default"]) for p in cls.describe()["params"]]
    args = [handle_file(str(ASSETS / "portrait.png")), handle_file(str(slow_rate_wav)), "affine",
            0] + defaults
    with pytest.raises(AppError) as err:
        clients[0].predict(*args, api_name="/run_video_kenburns")
    assert str(err.value).startswith("long_talk.wav: audio is stored at 100 Hz")
    assert "/" not in str(err.value)
