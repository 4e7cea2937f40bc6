"""The motion brush: parsing, errors naming the stroke, PCHIP paths, Euler-integrated motion."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from animakit.video.brush import Brush, BrushMotion, load_brush, pchip_path, soft_weight
from animakit.errors import InputError, MediaError

SIZE = (160, 120)
SQUARE = [[40, 40], [80, 40], [80, 80], [40, 80]]


def brush_dict(**stroke):
    s = {"mask": SQUARE, "trajectory": [[60, 60], [100, 70]], **stroke}
    return {"strokes": [s], "static": [[[120, 0], [160, 0], [160, 40], [120, 40]]]}


def test_polygon_mask_static_and_strength():
    b = load_brush(brush_dict(strength=0.5), SIZE)
    assert isinstance(b, Brush) and b.size == SIZE
    m = b.strokes[0].mask
    assert m.shape == (120, 160) and m[60, 60] and not m[10, 10]
    assert abs(int(m.sum()) - 40 * 40) <= 2 * 41          # the polygon's area, edges aside
    assert b.static[10, 140] and not b.static[60, 60]
    assert b.strokes[0].strength == 0.5
    np.testing.assert_allclose(b.strokes[0].offsets(3)[-1], [20, 5])


def test_json_file_and_png_mask_relative_to_it(tmp_path):
    mask = np.zeros((120, 160), np.uint8)
    mask[40:80, 40:80] = 255
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"strokes": [{"mask": "m.png", "trajectory": [[60, 60], [70, 60]]}]}))
    b = load_brush(path, SIZE)
    assert b.strokes[0].mask.sum() == 1600 and not b.static.any()
    # a half-size image: the mask is resized with the same aspect
    assert load_brush(path, (80, 60)).strokes[0].mask.sum() == 400


@pytest.mark.parametrize("stroke, words", [
    ({"trajectory": [[60, 60]]}, ["stroke 0", "at least 2 points"]),
    ({"mask": [[0, 0], [0, 0], [0, 0]]}, ["stroke 0", "empty"]),
    ({"mask": [[10, 10], [20, 10]]}, ["stroke 0", "at least 3 points"]),
    ({"mask": [[10, 10], [500, 10], [10, 50]]}, ["stroke 0", "outside the image"]),
    ({"trajectory": [[60, 60], [60, -30]]}, ["stroke 0", "trajectory", "outside"]),
    ({"strength": "big"}, ["stroke 0", "strength"]),
    ({"strength": 9}, ["stroke 0", "strength"]),
    ({"trajectory": "up"}, ["stroke 0", "trajectory", "[x, y]"]),
    ({"speed": 2}, ["stroke 0", "unknown key"]),
    ({"trajectory": [[60, 60], [60, 60]]}, ["stroke 0", "does not go anywhere"]),
])
def test_bad_strokes_name_the_stroke(stroke, words):
    with pytest.raises(InputError) as e:
        load_brush(brush_dict(**stroke), SIZE)
    for w in words:
        assert w in str(e.value)


def test_unreadable_mask_png_and_bad_files(tmp_path):
    (tmp_path / "m.png").write_bytes(b"not a png")
    (tmp_path / "b.json").write_text(json.dumps(
        {"strokes": [{"mask": "m.png", "trajectory": [[1, 1], [2, 2]]}]}))
    with pytest.raises(MediaError, match="stroke 0.*m.png"):
        load_brush(tmp_path / "b.json", SIZE)
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(MediaError, match="not valid JSON"):
        load_brush(tmp_path / "bad.json", SIZE)
    with pytest.raises(MediaError, match="not found"):
        load_brush(tmp_path / "missing.json", SIZE)
    with pytest.raises(InputError, match="static region 0"):
        load_brush({"static": [[[1, 1], [2, 2]]]}, SIZE)
    with pytest.raises(InputError, match="stroke 1"):
        load_brush({"strokes": [brush_dict()["strokes"][0], "x"]}, SIZE)


def test_pchip_path_passes_through_points_at_constant_speed():
    pts = np.array([[0, 0], [30, 40], [60, 0], [90, 40]], float)
    p = pchip_path(pts, 200)
    np.testing.assert_allclose(p[0], pts[0])
    np.testing.assert_allclose(p[-1], pts[-1])
    for q in pts[1:-1]:                                   # every control point is visited
        assert np.linalg.norm(p - q, axis=1).min() < 1.0
    step = np.linalg.norm(np.diff(p, axis=0), axis=1)
    assert step.max() / step.mean() < 1.6                 # near-constant speed
    # monotone between points (PCHIP does not overshoot): y stays within [0, 40]
    assert p[:, 1].min() >= -1e-6 and p[:, 1].max() <= 40 + 1e-6


def test_soft_weight_falloff():
    mask = np.zeros((50, 50), bool)
    mask[20:30, 20:30] = True
    w = soft_weight(mask, 10)
    assert w[25, 25] == 1 and w[25, 5] == 0
    assert 0 < w[25, 34] < 1 and w[25, 32] > w[25, 36]    # decreasing away from the mask


def test_motion_region_follows_path_exactly_and_static_stays():
    b = load_brush(brush_dict(), SIZE)
    b.static[:, :10] = True
    m = BrushMotion(b, 9, falloff=12)
    truth = b.strokes[0].offsets(9)
    inside = np.array([[50.0, 50.0], [70.0, 75.0]], np.float32)
    still = np.array([[5.0, 5.0], [150.0, 110.0]], np.float32)
    for t, p in enumerate(m.forward_positions(np.concatenate([inside, still]))):
        np.testing.assert_allclose(p[:2] - inside, np.repeat(truth[t][None], 2, 0), atol=1e-4)
        np.testing.assert_array_equal(p[2:], still)
    d = list(m.displacements())
    assert len(d) == 9 and d[0].shape == (120, 160, 2)
    np.testing.assert_allclose(d[-1][60, 60], truth[-1], atol=1e-4)
    assert np.abs(d[-1][:, :10]).max() == 0                 # static pixels never move
    near = d[-1][60, 84]                                    # inside the falloff band: partial
    assert 0 < near[0] < truth[-1][0]


def test_anchored_loop_motion_returns_home():
    b = load_brush({"strokes": [{"mask": SQUARE, "trajectory": [[60, 60], [64, 60]]}]}, SIZE)
    m = BrushMotion(b, 8, falloff=0, anchored=True, loop=True)
    start = np.array([[45.0, 60.0]], np.float32)
    back = list(m.backward_positions(start))
    assert len(back) == 8
    # backward from frame T: the particle at frame 0 sits upstream by the whole path
    np.testing.assert_allclose(back[0], start - [[4.0, 0.0]], atol=1e-4)


def test_transparent_png_masks_and_static_pngs(tmp_path):
    layer = np.zeros((120, 160, 4), np.uint8)            # a painted layer: white RGB everywhere,
    layer[..., :3] = 255                                  # the stroke only in alpha
    layer[40:80, 40:80, 3] = 255
    cv2.imwrite(str(tmp_path / "paint.png"), layer)
    still = np.zeros((120, 160), np.uint8)
    still[:20, :20] = 255
    cv2.imwrite(str(tmp_path / "still.png"), still)
    (tmp_path / "b.json").write_text(json.dumps(
        {"strokes": [{"mask": "paint.png", "trajectory": [[60, 60], [70, 60]]}],
         "static": ["still.png"]}))
    b = load_brush(tmp_path / "b.json", SIZE)
    assert b.strokes[0].mask.sum() == 1600
    assert b.static.sum() == 400


def test_backward_positions_checkpointed_equal_plain_integration():
    b = load_brush({"strokes": [{"mask": SQUARE, "trajectory": [[60, 60], [70, 50], [66, 62]]}]}, SIZE)
    for n in (1, 5, 10, 17):
        m = BrushMotion(b, n, falloff=15, anchored=True, loop=True)
        pts = np.array([[45.0, 60.0], [85.0, 70.0], [120.0, 100.0]], np.float32)
        plain, p = [None] * n, pts.copy()
        for t in range(n - 1, -1, -1):
            p = p - m.velocity(t, m.weights_at(p))
            plain[t] = p
        got = list(m.backward_positions(pts))
        assert len(got) == n
        for a, c in zip(got, plain):
            np.testing.assert_array_equal(a, c)


def test_save_brush_round_trip(tmp_path):
    from animakit.video.brush import save_brush
    drawn = np.zeros((120, 160), bool)
    drawn[30:60, 50:90] = True
    path = save_brush(tmp_path / "studio.json",
                      [{"mask": drawn, "trajectory": [(70, 45), (90, 40)], "strength": 0.5},
                       {"mask": SQUARE, "trajectory": [[60, 60], [60, 70]]}],
                      static=[np.pad(np.ones((10, 10), bool), ((0, 110), (0, 150)))])
    b = load_brush(path, SIZE)
    np.testing.assert_array_equal(b.strokes[0].mask, drawn)
    assert b.strokes[0].strength == 0.5 and b.strokes[1].mask[60, 60]
    assert b.static.sum() == 100
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "studio.json", "studio.static0.png", "studio.stroke0.png"]
