"""editing.restyle, looks engine: every look on the shipped clip (assets/editing/source.mp4)
is steadier carried by flow than filtered frame by frame, changes the frames the way its
medium does, keeps the clip's length and rate; bad inputs are one-line errors."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import animakit
from animakit.errors import InputError, MediaError
from animakit.media import open_video
from animakit.editing.looks import LOOKS, fit_look
from animakit.editing.restyle_animatediff import sliding_windows, window_weights
from benchmarks.groundtruth.restyle_measures import source_flows, warp_error_over_gradient

CLIP = animakit.ASSETS / "editing" / "source.mp4"
N = 24


@pytest.fixture(scope="module")
def pipe():
    return animakit.load_pipeline("editing.restyle")


@pytest.fixture(scope="module")
def sources():
    return [f.copy() for f, _ in zip(open_video(CLIP), range(N))]


@pytest.fixture(scope="module")
def flows(sources):
    return source_flows(sources)


def render(pipe, look: str, carry: str = "flow") -> list[np.ndarray]:
    stream = pipe.stream(video=CLIP, look=look, carry=carry)
    return [f for f, _ in zip(stream, range(N))]


def saturation(frames) -> float:
    return float(np.mean([cv2.cvtColor(f, cv2.COLOR_RGB2HSV)[..., 1].mean() for f in frames]))


@pytest.mark.parametrize("look", LOOKS)
def test_carried_look_boils_less_than_per_frame_filtering(pipe, flows, look):
    carried = warp_error_over_gradient(render(pipe, look, "flow"), flows)
    per_frame = warp_error_over_gradient(render(pipe, look, "none"), flows)
    assert carried < 0.8 * per_frame, (look, carried, per_frame)


def test_cartoon_quantises_colours_and_draws_ink(pipe, sources):
    out = render(pipe, "cartoon")[:4]
    for src, frame in zip(sources, out):
        distinct_src = len(np.unique(src.reshape(-1, 3), axis=0))
        distinct_out = len(np.unique(frame.reshape(-1, 3), axis=0))
        assert distinct_out < distinct_src / 4, (distinct_out, distinct_src)
    look = fit_look("cartoon", sources[0], colours=6)
    inked = fit_look("cartoon", sources[0], colours=6, lines=2.0)(sources[0])
    plain = fit_look("cartoon", sources[0], colours=6, lines=0.0)(sources[0])
    assert (inked.max(axis=2) < 40).mean() > (plain.max(axis=2) < 40).mean() + 0.005
    assert len(np.unique(plain.reshape(-1, 3), axis=0)) <= 6 + 1 and look.palette_lab.shape == (6, 3)


def test_pencil_is_graphite_on_paper(pipe, sources):
    out = render(pipe, "pencil")[:4]
    assert saturation(out) < 0.3 * saturation(sources[:4])
    assert np.mean([f.mean() for f in out]) > np.mean([s.mean() for s in sources[:4]])


def test_watercolour_is_lighter_and_smoother(pipe, sources):
    out = render(pipe, "watercolour")[:4]
    assert np.mean([f.mean() for f in out]) > np.mean([s.mean() for s in sources[:4]]) + 5
    def lap(f):      # detail at the scale of the shapes (the paper grain is finer)
        gray = cv2.GaussianBlur(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 2)
        return np.abs(cv2.Laplacian(gray, cv2.CV_32F)).mean()
    assert np.mean([lap(f) for f in out]) < np.mean([lap(s) for s in sources[:4]])


def test_oil_and_anime_change_the_frames(pipe, sources):
    for look in ("oil", "anime"):
        out = render(pipe, look)[:4]
        diff = np.mean([np.abs(f.astype(int) - s).mean() for f, s in zip(out, sources)])
        assert diff > 8, (look, diff)
        assert saturation(out) > saturation(sources[:4]), look


def test_render_keeps_length_rate_and_keys(pipe, tmp_path):
    res = animakit.render("editing.restyle", tmp_path / "out.mp4", inputs={"video": CLIP},
                          params={"look": "pencil", "key_every": 10, "rekey_share": 1.0}, progress=False)
    src = open_video(CLIP)
    out = open_video(tmp_path / "out.mp4")
    assert out.num_frames == src.num_frames and abs(out.fps - src.fps) < 0.01
    keys = pipe.stream(video=CLIP, look="pencil", key_every=10, rekey_share=1.0)
    list(keys)
    assert keys.extras["keyframes"] == [0, 10, 20, 30]
    assert res.frames == src.num_frames


def test_windows_cover_the_clip_with_overlap():
    assert sliding_windows(10, 16, 4) == [(0, 10)]
    spans = sliding_windows(40, 16, 4)
    assert spans[0] == (0, 16) and spans[-1] == (24, 40)
    assert all(b - a == 16 for a, b in spans)
    assert all(a2 < b1 for (_, b1), (a2, _) in zip(spans, spans[1:]))
    w = window_weights(16, 4)
    assert w[0] < w[3] < w[8] == 1 and float(w.min()) > 0


def test_bad_inputs(pipe, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(MediaError, match="notes.mp4"):
        list(pipe.stream(video=text))
    with pytest.raises(InputError, match="look"):
        pipe(video=CLIP, look="crayon")
    with pytest.raises(InputError, match="animatediff"):
        pipe(video=CLIP, edited=animakit.ASSETS / "editing" / "edited_first_frame.png")
    with pytest.raises(InputError, match="does not exist|no such|not found"):
        pipe(video=tmp_path / "missing.mp4")


def test_cli_missing_weights_is_one_line(tmp_path):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "animakit", "run", "editing.restyle",
                           "-i", f"video={CLIP}", "-e", "animatediff", "-o",
                           str(tmp_path / "out.mp4")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "animakit: error: weights: no Stable Diffusion 1.5 checkpoint given; give -p weights="
        "<Stable Diffusion 1.5 folder or cached hub id> and -p motion_adapter=<AnimateDiff "
        "motion adapter folder or cached hub id>; nothing is downloaded"]
    assert not list(tmp_path.iterdir())
