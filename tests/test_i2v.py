"""video.i2v, flow engine: brush accuracy by tracking, static regions, loops, errors, render."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import animakit
from animakit.errors import InputError, MediaError
from benchmarks.groundtruth.i2v_measures import psnr, synthetic_scene, track_patch

ASSETS = Path(__file__).resolve().parents[1] / "assets"
W, H = 256, 160
PATCH = (60, 50, 110, 100)                       # (x0, y0, x1, y1)
STATIC = [[190, 10], [250, 10], [250, 70], [190, 70]]


@pytest.fixture(scope="module")
def pipe():
    return animakit.load_pipeline("video.i2v")


@pytest.fixture(scope="module")
def scene():
    return synthetic_scene(W, H, PATCH, seed=3)


def brush(trajectory, **extra):
    x0, y0, x1, y1 = PATCH
    return {"strokes": [{"mask": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
                         "trajectory": trajectory, **extra}],
            "static": [STATIC]}


def test_brushed_region_follows_the_trajectory_within_1px(pipe, scene):
    traj = [[85, 75], [120, 60], [150, 95], [175, 80]]
    out = pipe(image=scene, brush=brush(traj), num_frames=20, falloff=12)
    assert len(out.frames) == 20 and out.frames[0].shape == (H, W, 3)
    np.testing.assert_array_equal(out.frames[0], scene)
    from animakit.video.brush import pchip_path
    truth = pchip_path(np.array(traj, float), 20) - traj[0]
    x0, y0, x1, y1 = PATCH
    found = track_patch(out.frames, (x0 + 6, y0 + 6, x1 - 6, y1 - 6))
    err = np.abs(found - truth).max()
    assert err < 1.0, err
    assert np.abs(truth[-1] - [90, 5]).max() < 1e-6     # it really went the whole way


def test_static_region_is_pixel_identical(pipe, scene):
    # the stroke sweeps right through the static square; the square must not change at all
    out = pipe(image=scene, brush=brush([[85, 75], [220, 40]]), num_frames=12)
    static = np.zeros((H, W), bool)
    static[10:70, 190:250] = True
    for f in out.frames:
        assert psnr(f, scene, static) == float("inf")
    assert not np.array_equal(out.frames[-1], scene)


def test_strength_zero_is_still_and_strength_scales(pipe, scene):
    out = pipe(image=scene, brush=brush([[85, 75], [125, 75]]), num_frames=6, strength=0.0)
    assert all(np.array_equal(f, scene) for f in out.frames)
    out = pipe(image=scene, brush=brush([[85, 75], [125, 75]], strength=0.5), num_frames=6)
    found = track_patch(out.frames, (66, 56, 104, 94))
    assert abs(found[-1][0] - 20) < 1.0 and abs(found[-1][1]) < 1.0


def test_loop_is_seamless(pipe, scene):
    b = brush([[85, 75], [95, 75]])
    out = pipe(image=scene, brush=b, num_frames=16, loop=True)
    first, last = out.frames[0], out.frames[-1]
    np.testing.assert_array_equal(first, scene)        # frame N wraps to frame 0 = the source
    assert psnr(last, first) > psnr(out.frames[8], first)   # the clip comes back round
    assert any(not np.array_equal(f, scene) for f in out.frames)


def test_holes_are_filled(pipe, scene):
    out = pipe(image=scene, brush=brush([[85, 75], [160, 75]]), num_frames=5, falloff=1)
    last = out.frames[-1].astype(int)
    # behind the region (its old place) no black hole is left
    assert last[55:95, 62:80].mean() > 30


def test_output_size_and_brush_scaling(pipe, scene):
    out = pipe(image=scene, brush=brush([[85, 75], [125, 75]]), num_frames=4, width=128)
    assert out.frames[0].shape == (80, 128, 3)
    found = track_patch(out.frames, (33, 28, 52, 47))
    assert abs(found[-1][0] - 20) < 1.0                 # 40 px in source pixels = 20 px here


def test_portrait_example_brush(pipe):
    out = pipe(image=ASSETS / "portrait.png", brush=ASSETS / "i2v" / "portrait_brush.json",
               num_frames=6)
    data = json.loads((ASSETS / "i2v" / "portrait_brush.json").read_text())
    from animakit.video.brush import load_brush
    b = load_brush(data, (512, 512))
    src = out.frames[0]
    assert all(psnr(f, src, b.static) == float("inf") for f in out.frames)
    assert not np.array_equal(out.frames[-1], src)


def test_errors(pipe, scene, tmp_path):
    with pytest.raises(InputError, match="brush"):
        pipe(image=scene, num_frames=4)
    with pytest.raises(InputError, match="stroke 0.*at least 2 points"):
        pipe(image=scene, brush=brush([[85, 75]]), num_frames=4)
    with pytest.raises(MediaError, match="missing.json"):
        pipe(image=scene, brush=tmp_path / "missing.json", num_frames=4)
    with pytest.raises(MediaError):
        pipe(image=tmp_path / "nope.png", brush=brush([[85, 75], [90, 75]]))
    with pytest.raises(InputError, match="num_frames"):
        pipe(image=scene, brush=brush([[85, 75], [90, 75]]), num_frames=1)


def test_render_to_mp4(pipe, scene, tmp_path):
    from animakit.media import read_video
    from animakit import render
    b = tmp_path / "b.json"
    b.write_text(json.dumps(brush([[85, 75], [105, 75]])))
    img = tmp_path / "scene.png"
    from animakit.media import save_image
    save_image(img, scene)
    out, preview = tmp_path / "out.mp4", tmp_path / "brush.png"
    render(pipe, out, inputs={"image": img, "brush": b}, params={"num_frames": 8, "fps": 8},
           exports={"brush_preview": preview}, progress=False)
    frames, fps = read_video(out)
    assert len(frames) == 8 and fps == pytest.approx(8) and frames[0].shape == (H, W, 3)
    from animakit.media import load_image
    pic = load_image(preview)
    assert pic.shape == (H, W, 3)
    assert not np.array_equal(pic[75, 85], scene[75, 85])      # the stroke is drawn over the image
    assert np.array_equal(pic[150, 10], scene[150, 10])        # elsewhere untouched


def test_example_brushes_are_valid():
    from animakit.video.brush import load_brush
    for name in ("portrait_brush.json", "portrait_loop_brush.json"):
        b = load_brush(ASSETS / "i2v" / name, (512, 512))
        assert len(b.strokes) == 2 and b.static.any()


def test_reveal_cuts_out_and_backfills(pipe, scene):
    out = pipe(image=scene, brush=brush([[85, 75], [165, 75]]), num_frames=6, reveal=True)
    np.testing.assert_array_equal(out.frames[0], scene)
    found = track_patch(out.frames, (66, 56, 104, 94))
    assert np.abs(found[-1] - [80, 0]).max() < 1.0
    x0, y0, x1, y1 = PATCH
    last = out.frames[-1]
    # outside the region nothing is stretched: pixels beside it are the source's
    np.testing.assert_array_equal(last[y0 - 10:y0 - 2, x0:x1], scene[y0 - 10:y0 - 2, x0:x1])
    # the vacated place holds the inpainted background: smooth, not the patch's fine texture
    vacated = last[y0 + 5:y1 - 5, x0 + 5:x0 + 40].astype(float)
    patch = scene[y0 + 5:y1 - 5, x0 + 5:x0 + 40].astype(float)
    assert np.abs(np.diff(vacated, axis=1)).mean() < 0.5 * np.abs(np.diff(patch, axis=1)).mean()
    with pytest.raises(InputError, match="reveal"):
        pipe(image=scene, brush=brush([[85, 75], [95, 75]]), num_frames=4, reveal=True, loop=True)
