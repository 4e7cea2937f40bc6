"""Unit tests of the shared helpers behind portrait.talking: mesh warp, temporal filters,
streamed audio features, the face rig and relative transfer (no video rendering)."""
from __future__ import annotations

import numpy as np
import pytest

from animakit.portrait.talking.meshwarp import MeshWarp
from animakit.portrait.talking.motion import AttackRelease, HoldAndEase, OneEuroFilter
from animakit.portrait.talking.audio_motion import SpeechMotion, frame_features
from animakit.portrait.talking.drive import RelativeMotion, similarity
from animakit.portrait.talking.rig import Expression, FaceRig, rotation_matrix


def _texture(h=120, w=160, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    import cv2
    noise = rng.uniform(0, 255, (h // 4, w // 4, 3)).astype(np.uint8)
    return cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)


def test_meshwarp_moves_interior_by_known_vector_and_keeps_border():
    img = _texture()
    gx, gy = np.meshgrid(np.linspace(40, 120, 9), np.linspace(30, 90, 7))
    pts = np.stack([gx.ravel(), gy.ravel()], 1)
    warp = MeshWarp(pts, (160, 120), max_grid=200)
    out = warp.warp(img, np.tile([3.0, -2.0], (len(pts), 1)))
    # inside the moved patch, output(x) == source(x - d)
    inner = out[40:80, 55:105].astype(float)
    expect = img[42:82, 52:102].astype(float)
    assert np.abs(inner - expect).mean() < 2.0
    # the border never moves, so a paste-back is seamless
    assert np.array_equal(out[0], img[0]) and np.array_equal(out[:, -1], img[:, -1])
    # zero deltas are the identity
    assert np.array_equal(warp.warp(img, np.zeros_like(pts)), img)


def test_meshwarp_inverse_field_inverts_a_smooth_forward_motion():
    pts = np.array([[80.0, 60.0], [60.0, 50.0], [100.0, 70.0]])
    warp = MeshWarp(pts, (160, 120))
    deltas = np.array([[6.0, 4.0], [5.0, 3.0], [5.0, 5.0]])
    u = warp.inverse_field(deltas, iterations=4)
    d = warp.field(deltas)
    gw, gh = warp.grid
    # the point that lands at x came from x - u(x), whose forward motion is u(x)
    j, i = int(80 / 160 * gw), int(60 / 120 * gh)
    assert np.allclose(u[i, j], d[i, j], atol=1.0)
    assert np.linalg.norm(u[i, j]) > 4


def test_one_euro_filter_removes_jitter_but_follows_a_step():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(25.0, min_cutoff=0.5, beta=2.0)
    noisy = [f(1.0 + 0.02 * rng.standard_normal(3)) for _ in range(50)]
    assert np.std(np.diff(np.array(noisy[10:]), axis=0)) < 0.01
    out = [f(np.full(3, 3.0)) for _ in range(15)]
    assert np.all(out[-1] > 2.8)


def test_attack_release_and_hold_and_ease():
    env = AttackRelease(25.0, attack=0.01, release=0.5)
    assert env(1.0) > 0.9
    assert 0.8 < env(0.0) < 1.0                        # slow release
    h = HoldAndEase(25.0, rest=np.zeros(2), hold=0.2, ease_out=0.2)
    h(np.ones(2))
    held = [h(None) for _ in range(9)]
    assert np.allclose(held[0], 1.0)                   # held
    assert held[-1][0] < 1.0                           # easing toward rest
    later = [h(None) for _ in range(30)]
    assert later[-1][0] < 0.05


def _tone_bursts(sr=16000) -> np.ndarray:
    t = np.arange(int(3.0 * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * ((t % 1.0) < 0.5)
    return x.astype(np.float32)


def test_frame_features_are_identical_however_the_audio_is_blocked():
    x = _tone_bursts()
    whole = np.array(list(frame_features([x], 16000, 25.0, 75)))
    blocks = [x[i:i + 3001] for i in range(0, len(x), 3001)]
    parts = np.array(list(frame_features(iter(blocks), 16000, 25.0, 75)))
    assert whole.shape == (75, 4)
    assert np.allclose(whole, parts, atol=1e-4)


def test_speech_motion_opens_on_sound_and_closes_in_silence():
    x = _tone_bursts()
    feats = list(frame_features([x], 16000, 25.0, 75))
    motion = SpeechMotion(25.0, np.random.default_rng(0), 0.3, level_db=-13.0)
    jaw = np.array([motion.step(f).jaw for f in feats])
    assert jaw[3:11].mean() > 0.3                      # bursts at 0-0.5 s, 1-1.5 s, ...
    assert jaw[19:24].max() < 0.05                     # silence at 0.5-1.0 s, after the release


def _synthetic_face() -> np.ndarray:
    """A plausible (478, 3) mesh: real MediaPipe geometry is not needed for the algebra,
    but the rig needs eye corners left/right of the mouth, a face width, and depth."""
    rng = np.random.default_rng(3)
    pts = np.zeros((478, 3))
    pts[:, 0] = rng.uniform(100, 200, 478)
    pts[:, 1] = rng.uniform(100, 230, 478)
    pts[:, 2] = rng.uniform(-20, 20, 478)
    pts[234], pts[454] = [95, 150, 30], [205, 150, 30]
    pts[[33, 133]] = [[115, 140, 0], [140, 140, 0]]
    pts[[362, 263]] = [[160, 140, 0], [185, 140, 0]]
    pts[13], pts[14] = [150, 200, -10], [150, 201, -10]
    return pts


def test_relative_motion_round_trips_the_same_face_exactly():
    src = _synthetic_face()
    rig = FaceRig(src)
    motion = RelativeMotion(rig, src, 25.0, smoothing=0.0)
    moved = rig.target(Expression(jaw=0.6, yaw=8, roll=-5, brow=0.5))
    assert np.allclose(motion(moved), moved, atol=1e-6)


def test_relative_motion_is_normalized_by_driver_size_and_pose():
    src = _synthetic_face()
    rig = FaceRig(src)
    # the driver: the same face twice as large and tilted by 20 degrees
    rot = rotation_matrix(0, 0, 20)
    driver_ref = 2.0 * src @ rot.T + [50, -30, 0]
    driver_rig = FaceRig(driver_ref)
    driven = driver_rig.target(Expression(jaw=0.7))
    motion = RelativeMotion(rig, driver_ref, 25.0, smoothing=0.0)
    got = motion(driven)
    want = rig.target(Expression(jaw=0.7))
    assert np.abs(got - want)[:, :2].max() < 0.05 * rig.width
    s, r, t = similarity(src, driver_ref)
    assert abs(s - 2.0) < 1e-6


@pytest.mark.parametrize("name", ["jaw", "smile", "blink_r", "brow", "gaze_x"])
def test_each_rig_control_moves_the_mesh(name):
    rig = FaceRig(_synthetic_face())
    moved = rig.target(Expression(**{name: 1.0}))
    assert np.abs(moved - rig.points).max() > 0.5


def test_shut_jaw_brings_parted_source_lips_together():
    src = _synthetic_face()
    src[14] = [150, 208, -10]                  # lips parted at rest (8 px of 110)
    rig = FaceRig(src)
    assert rig.shut_jaw() < -0.3
    shut = rig.target(Expression(jaw=rig.shut_jaw()))
    assert abs(shut[14, 1] - shut[13, 1]) < 0.5
    assert FaceRig(_synthetic_face()).shut_jaw() > -0.15   # nearly closed source: hardly moves


def test_a_full_closure_reaches_the_shut_jaw():
    motion = SpeechMotion(25.0, np.random.default_rng(0), 0.5, -20.0, shut_jaw=-0.4)
    loud = np.array([-18.0, -20.0, 0.5, 0.05, 0.0])
    for _ in range(10):
        open_ = motion.step(loud)
    assert open_.jaw > 0.2
    assert motion.step(np.r_[loud[:4], 1.0]).jaw == pytest.approx(-0.4, abs=0.02)


def test_one_thread_sets_and_restores_cv2_and_blas_threads():
    import cv2
    from threadpoolctl import threadpool_info
    from animakit.threads import one_thread

    def blas():
        return [d["num_threads"] for d in threadpool_info() if d["internal_api"] == "openblas"]
    cv2.setNumThreads(2)
    before = blas()
    with one_thread():
        assert cv2.getNumThreads() == 1 and set(blas()) == {1}
        with one_thread():            # nested: the inner exit keeps the limit
            pass
        assert cv2.getNumThreads() == 1 and set(blas()) == {1}
    assert cv2.getNumThreads() == 2 and blas() == before
