"""portrait.talking end to end on the shipped assets: lip sync, faithfulness, silence
stability, drivers, side outputs and bad input (thresholds looser than the benchmark's)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile as sf

import animakit
from animakit.errors import InputError, MediaError, NoFaceError, ParamError
from animakit.media import load_audio, load_image, read_video, write_video
from animakit.media.ffmpeg import ffmpeg_exe
from animakit import render
from benchmarks.groundtruth import talking_measures as M

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / "assets/portrait.png"
SPEECH = ROOT / "assets/speech.wav"
CLIP = ROOT / "assets/talking/driving_face.mp4"
LANDMARKS = ROOT / "assets/talking/driving_face_landmarks.npz"


@pytest.fixture(scope="module")
def pipe():
    return animakit.load_pipeline("portrait.talking")


@pytest.fixture(scope="module")
def speech_render(pipe):
    out = pipe(image=IMAGE, audio=SPEECH, duration=3.2)
    return out, M.redetect(out.frames)


def test_audio_render_is_lip_synced(speech_render):
    out, lm = speech_render
    assert out.fps == 25 and len(out.frames) == 80
    assert out.frames[0].shape == (512, 512, 3)
    clip = load_audio(SPEECH)
    env = M.rms_envelope(clip.samples, clip.sr, out.fps, len(out.frames))
    assert M.pearson(M.mouth_opening(lm), env) > 0.5
    assert out.audio is not None and Path(out.audio.path) == SPEECH


def test_audio_render_leaves_everything_outside_the_face_untouched(speech_render):
    out, _ = speech_render
    src = load_image(IMAGE)
    pts = M.redetect([src])[0]
    outside = ~M.face_region_mask(pts, src.shape[:2], dilate=0.5)
    assert min(M.psnr(f, src, outside) for f in out.frames[::5]) > 38.0
    x0, y0, x1, y1 = out.extras["crop_box"]
    keep = np.ones(src.shape[:2], bool)
    keep[y0:y1, x0:x1] = False
    assert all(np.array_equal(f[keep], src[keep]) for f in out.frames[::10])


def test_silence_gives_a_calm_closed_mouth(pipe, tmp_path):
    wav = tmp_path / "silence.wav"
    sf.write(wav, np.zeros(16000 * 2, np.float32), 16000)
    out = pipe(image=IMAGE, audio=wav, blink_rate=0)
    lm = M.redetect(out.frames)
    assert np.nanmax(M.jitter(lm)) < 0.01                      # < 1 % of face width per frame
    assert np.nanstd(M.mouth_opening(lm)) < 0.01
    src = load_image(IMAGE)
    assert M.psnr(out.frames[25], src) > 30


def test_blinks_close_the_eyes_without_shaking_the_face(pipe, tmp_path):
    wav = tmp_path / "silence.wav"
    sf.write(wav, np.zeros(16000 * 2, np.float32), 16000)
    out = pipe(image=IMAGE, audio=wav, blink_rate=50)
    lm = M.redetect(out.frames)
    fw = np.linalg.norm(lm[:, 234, :2] - lm[:, 454, :2], axis=1)
    lid_gap = np.linalg.norm(lm[:, 159, :2] - lm[:, 145, :2], axis=1) / fw
    assert lid_gap.min() < 0.85 * lid_gap[0]        # a blink (MediaPipe reads a folded lid as ~30 % shut)
    assert np.nanmax(M.jitter(lm)) < 0.0075                    # corners and nose hold


def test_no_driver_holds_the_portrait_with_offsets(pipe):
    base = M.mouth_opening(M.redetect([load_image(IMAGE)]))[0]
    out = pipe(image=IMAGE, duration=1.0, mouth_open=0.8, yaw=6)
    assert len(out.frames) == 25 and out.audio is None
    opening = M.mouth_opening(M.redetect(out.frames[::6]))
    assert opening.min() > base + 0.03


def test_driving_video_transfers_relative_motion(pipe, tmp_path):
    lm_path = tmp_path / "motion.npz"
    info = render(pipe, tmp_path / "out.mp4", inputs={"image": IMAGE, "driving": CLIP},
                  params={"duration": 2.0}, exports={"landmarks": lm_path},
                  progress=False)
    assert info.frames == 50 and info.extras["lost_frames"] == 0
    frames, fps = read_video(tmp_path / "out.mp4")
    assert len(frames) == 50 and fps == 25
    assert _has_audio_stream(tmp_path / "out.mp4")               # the driver's speech is muxed
    z = np.load(lm_path)
    targets = z["landmarks"].astype(np.float64)
    assert targets.shape == (50, 478, 3) and float(z["fps"]) == 25
    found = M.redetect(frames)
    still = np.repeat(z["reference"][None].astype(np.float64), len(targets), 0)
    err = M.normalized_mean_error(found, targets)
    assert err < 0.03 and err < M.normalized_mean_error(still, targets)


def test_landmark_file_replays_an_exported_motion(pipe, tmp_path):
    lm_path = tmp_path / "motion.npz"
    stream = pipe.stream(image=IMAGE, audio=SPEECH, duration=1.2)
    frames = list(stream)
    stream.side_outputs["landmarks"](lm_path)
    replay = pipe(image=IMAGE, landmarks=lm_path, smoothing=0.0)
    assert len(replay.frames) == len(frames) == 30
    assert min(M.psnr(a, b) for a, b in zip(frames, replay.frames)) > 35


def test_shipped_landmark_file_drives_the_portrait(pipe):
    out = pipe(image=IMAGE, landmarks=LANDMARKS, duration=1.0, head=0.5)
    assert len(out.frames) == 25
    src = load_image(IMAGE)
    assert max(M.psnr(f, src) for f in out.frames) < 60          # something moved


def test_largest_face_is_chosen_unless_face_index_says_otherwise(pipe):
    head = load_image(IMAGE)[30:290, 95:355]
    canvas = np.full((512, 512, 3), 200, np.uint8)           # a large face and a small mirrored one
    canvas[100:356, :256] = cv2.resize(head, (256, 256), interpolation=cv2.INTER_AREA)
    canvas[312:, 312:] = cv2.resize(head[:, ::-1], (200, 200), interpolation=cv2.INTER_AREA)
    first = pipe.stream(image=canvas, duration=0.2)
    assert first.extras["crop_box"][0] < 200
    second = pipe.stream(image=canvas, duration=0.2, face_index=1)
    assert second.extras["crop_box"][0] > 300
    with pytest.raises(ParamError, match="face_index"):
        pipe.stream(image=canvas, duration=0.2, face_index=5)


def test_render_writes_video_with_audio_preview_and_landmarks(pipe, tmp_path):
    exports = {"preview": tmp_path / "p.mp4", "landmarks": tmp_path / "l.npz"}
    info = render(pipe, tmp_path / "o.mp4", inputs={"image": IMAGE, "audio": SPEECH},
                  params={"duration": 0.6}, exports=exports, progress=False)
    assert info.frames == 15 and _has_audio_stream(tmp_path / "o.mp4")
    preview, _ = read_video(exports["preview"])
    assert len(preview) == 15 and preview[0].shape[1] == 1024
    assert np.load(exports["landmarks"])["landmarks"].shape == (15, 478, 3)


def test_lost_faces_in_the_driver_hold_and_ease(pipe, tmp_path):
    frames, fps = read_video(CLIP, max_frames=30)
    frames = [f if not 10 <= i < 18 else np.full_like(f, 90) for i, f in enumerate(frames)]
    clip = tmp_path / "gaps.mp4"
    write_video(clip, frames, fps)
    stream = pipe.stream(image=IMAGE, driving=clip)
    out = list(stream)
    assert len(out) == 30 and stream.extras["lost_frames"] >= 6
    steps = [np.abs(a.astype(int) - b).mean() for a, b in zip(out[9:20], out[10:21])]
    assert max(steps) < 3.0                                       # no jump when the face is lost


def test_bad_inputs_raise_one_clear_error(pipe, tmp_path):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((256, 256, 3), 128, np.uint8))
    with pytest.raises(NoFaceError, match="blank.png"):
        pipe.stream(image=blank, audio=SPEECH)
    with pytest.raises(InputError, match="one driver"):
        pipe.stream(image=IMAGE, audio=SPEECH, landmarks=LANDMARKS)
    bad = tmp_path / "bad.npz"
    np.savez(bad, landmarks=np.zeros((5, 468, 3)), fps=25.0)
    with pytest.raises(MediaError, match="bad.npz.*shape"):
        pipe.stream(image=IMAGE, landmarks=bad)
    nofps = tmp_path / "nofps.npz"
    np.savez(nofps, landmarks=np.zeros((5, 478, 3)))
    with pytest.raises(MediaError, match="fps"):
        pipe.stream(image=IMAGE, landmarks=nofps)
    faceless = tmp_path / "faceless.mp4"
    write_video(faceless, [np.full((64, 64, 3), 30 * i, np.uint8) for i in range(5)], 25)
    with pytest.raises(NoFaceError, match="faceless.mp4"):
        pipe.stream(image=IMAGE, driving=faceless)
    with pytest.raises(MediaError, match="missing.wav"):
        pipe.stream(image=IMAGE, audio=tmp_path / "missing.wav")
    with pytest.raises(ParamError):
        pipe.stream(image=IMAGE, lips=9.0)


def _has_audio_stream(path: Path) -> bool:
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True)
    return b"Audio:" in proc.stderr


def test_long_audio_path_streams_and_renders_the_same(pipe, monkeypatch):
    from animakit.portrait.talking import sources
    kept = pipe(image=IMAGE, audio=SPEECH, duration=0.6)
    monkeypatch.setattr(sources, "FULL_AUDIO_SECONDS", 1.0)     # force the streaming path
    streamed = pipe(image=IMAGE, audio=SPEECH, duration=0.6)
    assert len(streamed.audio.samples) < len(load_audio(SPEECH).samples)   # not all in memory
    assert Path(streamed.audio.path) == SPEECH                  # the writer muxes the file
    assert all(np.array_equal(a, b) for a, b in zip(kept.frames, streamed.frames))


def test_driving_clip_is_resampled_to_the_requested_fps(pipe):
    stream = pipe.stream(image=IMAGE, driving=CLIP, fps=12.5)       # the clip: 3 s at 25 fps
    assert stream.fps == 12.5 and stream.num_frames == 38
    short = pipe.stream(image=IMAGE, driving=CLIP, fps=12.5, duration=1.2)
    assert len(list(short)) == short.num_frames == 15


def test_examples_name_shipped_assets_and_the_first_one_renders(pipe):
    assert len(pipe.examples) >= 3
    drivers = set()
    for ex in pipe.examples:
        assert all((ROOT / "assets" / p).is_file() for p in ex["inputs"].values())
        drivers |= set(ex["inputs"]) - {"image"}
    assert drivers == {"audio", "driving", "landmarks"}
    first = pipe.examples[0]
    stream = pipe.stream(**{k: ROOT / "assets" / v for k, v in first["inputs"].items()},
                         **first["params"])
    frames = [f for _, f in zip(range(5), stream)]
    assert len(frames) == 5 and frames[0].shape == (512, 512, 3)
