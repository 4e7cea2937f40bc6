"""The live transport's parts without a browser: stamps, the registry's limits, the
recorder, and portrait.talking's live processor on the shipped driving clip (motion
follows the driver, no face eases to rest, a 4K camera, params, microphone lips, the
motion export re-rendered by portrait.talking)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import animakit
from animakit.errors import InputError, NoFaceError
from animakit.live import live_pipelines
from animakit.live.recorder import LiveRecorder
from animakit.live.server import Registry
from animakit.live.stamp import read_stamp, write_stamp
from animakit.media import VideoReader, load_audio, load_image
from benchmarks.groundtruth import talking_measures as M

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / "assets/portrait.png"
SPEECH = ROOT / "assets/speech.wav"
CLIP = ROOT / "assets/talking/driving_face.mp4"


def camera_frames(n: int = 75, size=(640, 480)) -> list[np.ndarray]:
    """The shipped driving clip as 640x480 camera frames."""
    out = []
    for f in VideoReader(CLIP):
        out.append(cv2.resize(f, size, interpolation=cv2.INTER_AREA))
        if len(out) >= n:
            break
    return out


@pytest.fixture(scope="module")
def frames():
    return camera_frames()


def open_portrait(driver="camera", **params):
    spec = live_pipelines()["portrait.talking"][1]
    return spec.open({"image": str(IMAGE)}, params, driver)


def test_stamp_survives_lossy_coding():
    img = np.full((480, 640, 3), 90, np.uint8)
    for value in (0, 1, 12345, 65535):
        write_stamp(img, value)
        ok, jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 40])
        assert read_stamp(cv2.imdecode(jpg, cv2.IMREAD_COLOR)) == value
    assert read_stamp(np.full((480, 640, 3), 90, np.uint8)) is None


def test_only_live_pipelines_get_a_live_mode():
    live = live_pipelines()
    assert list(live) == ["portrait.talking"]
    cls, spec = live["portrait.talking"]
    names = {s.name for s in cls.inputs}
    assert set(spec.inputs) <= names and spec.drivers[0] == "camera"


def test_portrait_follows_the_camera_face(frames):
    proc = open_portrait(smoothing=0.2)
    assert proc.size == (512, 512)
    outs = [proc.video(f, i / 25).copy() for i, f in enumerate(frames)]
    assert proc.notice is None
    drv = M.mouth_opening(M.redetect(frames))
    out = M.mouth_opening(M.redetect(outs))
    assert M.pearson(drv, out) > 0.65          # the benchmark's longer clip: >= 0.8
    assert np.abs(outs[-1].astype(int) - outs[0].astype(int)).mean() > 0.5   # it moved
    proc.close()


def test_no_face_in_the_camera_eases_to_rest_with_a_notice(frames):
    proc = open_portrait()
    for i, f in enumerate(frames[:20]):
        proc.video(f, i / 25)
    blank = np.full_like(frames[0], 40)
    outs = [proc.video(blank, (20 + i) / 25).copy() for i in range(60)]
    assert proc.notice and "No face" in proc.notice
    rest = open_portrait().video(None, 0.0)                 # a session before any face
    assert np.abs(outs[-1].astype(int) - rest.astype(int)).mean() < \
        np.abs(outs[0].astype(int) - rest.astype(int)).mean() + 1e-6
    proc.video(frames[0], 4.0)
    assert proc.notice is None                              # the face is back
    proc.close()


def test_a_4k_camera_is_downscaled_for_the_mesh(frames):
    small, big = open_portrait(), open_portrait()
    f4k = cv2.resize(frames[0], (3840, 2880), interpolation=cv2.INTER_CUBIC)
    a = small._camera_face(frames[0])
    b = big._camera_face(f4k)
    assert a is not None and b is not None
    assert np.abs(a[:, :2] - b[:, :2]).mean() < 3.0       # both in 640-wide pixels
    out = big.video(f4k, 0.0)
    assert out.shape == (512, 512, 3)


def test_sliders_act_on_the_next_frame(frames):
    proc = open_portrait()
    for i, f in enumerate(frames[:5]):
        base = proc.video(f, i / 25).copy()
    proc.update({"smile": 1.0, "yaw": 15.0, "not_a_param": 3})
    moved = proc.video(frames[5], 5 / 25)
    assert np.abs(moved.astype(int) - base.astype(int)).mean() > 1.0
    assert proc.params.smile == 1.0 and proc.params.yaw == 15.0


def test_gradio_comparison_page_runs_the_live_processor_and_carries_the_stamp(frames):
    """benchmarks/live.py's Gradio webcam side: its stream function moves the same portrait
    and copies each camera frame's stamp into the output, or the latency read is wrong."""
    from benchmarks.groundtruth.live_gradio import stream_fn
    state: dict = {}
    fn = stream_fn(open_portrait, state)
    outs = []
    for i, f in enumerate(frames[:12]):
        cam = f.copy()
        write_stamp(cam, 1000 + i)
        outs.append(fn(cam))
        assert outs[-1].shape == (512, 512, 3) and read_stamp(outs[-1]) == 1000 + i
    assert fn(None) is None and state["frames"] == 12
    assert np.abs(outs[-1][:-32].astype(int) - outs[0][:-32].astype(int)).mean() > 1.0
    state["proc"].close()


def test_microphone_drives_the_lips():
    proc = open_portrait("microphone")
    clip = load_audio(SPEECH, 48000)
    step = 48000 // 30
    openings = []
    for i in range(90):
        proc.audio(clip.samples[i * step:(i + 1) * step], 48000)
        proc.video(None, i / 30)
        openings.append(proc.mic.motion.open_env.y)
    env = M.rms_envelope(clip.samples, 48000, 30, 90)
    assert M.pearson(np.array(openings, float), env) > 0.5


def test_images_without_a_face_or_without_an_image_are_refused(tmp_path):
    spec = live_pipelines()["portrait.talking"][1]
    blank = tmp_path / "landscape.png"
    cv2.imwrite(str(blank), np.full((256, 256, 3), 128, np.uint8))
    with pytest.raises(NoFaceError, match="landscape.png"):
        spec.open({"image": str(blank)}, {}, "camera")
    with pytest.raises(InputError, match="portrait"):
        spec.open({}, {}, "camera")


def test_registry_refuses_past_its_maximum(monkeypatch):
    monkeypatch.setenv("ANIMAKIT_LIVE_MAX_SESSIONS", "1")
    reg = Registry()
    token = reg.prepare(lambda: open_portrait(), "camera")
    with pytest.raises(InputError, match="maximum"):
        reg.prepare(lambda: open_portrait(), "camera")
    assert reg.counts() == {"active": 0, "pending": 1}
    reg.close_from_thread(token)
    assert reg.counts() == {"active": 0, "pending": 0}


def test_recorder_writes_constant_rate_mp4_with_audio(tmp_path):
    rec = LiveRecorder(tmp_path / "take.mp4", fps=25)
    img = np.zeros((64, 64, 3), np.uint8)
    for t in (0.0, 0.04, 0.2, 0.4):          # a stall between 0.04 and 0.2 s repeats a frame
        rec.frame(img, 10.0 + t)
        rec.audio(np.zeros(1920, np.float32), 48000)
    path = rec.finish()
    r = VideoReader(path)
    assert r.num_frames == 11 and r.has_audio
    assert [p.name for p in tmp_path.iterdir()] == ["take.mp4"]


def test_captured_motion_re_renders_at_full_resolution(frames, tmp_path):
    big = tmp_path / "portrait_1024.png"
    cv2.imwrite(str(big), cv2.cvtColor(cv2.resize(load_image(IMAGE), (1024, 1024)),
                                       cv2.COLOR_RGB2BGR))
    spec = live_pipelines()["portrait.talking"][1]
    proc = spec.open({"image": str(big)}, {}, "camera")
    assert proc.size == (512, 512)                      # live at 512, exported at 1024
    proc.capture(True)
    for i, f in enumerate(frames[:40]):
        proc.video(f, i / 30)
    proc.capture(False)
    motion = tmp_path / "motion.npz"
    proc.export("landmarks", motion)
    with np.load(motion) as z:
        assert z["landmarks"].shape == (40, 478, 3) and tuple(z["image_size"]) == (1024, 1024)
    result = animakit.render("portrait.talking", tmp_path / "full.mp4",
                             inputs={"image": big, "landmarks": motion}, progress=False)
    r = VideoReader(result.path if hasattr(result, "path") else tmp_path / "full.mp4")
    assert (r.width, r.height) == (1024, 1024) and r.num_frames >= 40


def test_cli_live_without_the_camera_is_one_line():
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "animakit", "live", str(IMAGE), "--camera", "97",
                           "--virtual-camera"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "animakit: error: camera 97: could not be opened (is it connected, and free? try "
        "another --camera number)"]


def test_local_live_runs_from_a_capture_and_needs_pyvirtualcam(monkeypatch):
    from animakit.live import local
    class PacedClip:
        """The driving clip, looping, read at 30 fps as a camera delivers."""
        def __init__(self):
            self.cap = cv2.VideoCapture(str(CLIP))

        def read(self):
            import time
            time.sleep(1 / 30)
            ok, frame = self.cap.read()
            if not ok:
                self.cap.release()
                self.cap = cv2.VideoCapture(str(CLIP))
                ok, frame = self.cap.read()
            return ok, frame

        def release(self):
            self.cap.release()

    monkeypatch.setattr(local, "open_camera", lambda index: PacedClip())
    stats = local.run_live(str(IMAGE), window=False, seconds=2.0, params={"smile": "0.5"})
    assert stats["frames"] >= 5
    try:
        import pyvirtualcam  # noqa: F401
    except ImportError:
        with pytest.raises(InputError, match="pyvirtualcam"):
            local.run_live(str(IMAGE), window=False, virtual_camera=True, seconds=1.0)
