"""animakit.video.splat: bilinear forward splatting against a brute-force reference; hole filling."""
from __future__ import annotations

import numpy as np

from animakit.video.splat import SplatAccumulator, fill_holes


def reference(dest, colors, imp, h, w):
    weight, color = np.zeros(h * w), np.zeros((h * w, colors.shape[1]))
    for (x, y), c, i in zip(dest.astype(np.float64), colors, imp.astype(np.float64)):
        x0, y0 = int(np.floor(x)), int(np.floor(y))
        fx, fy = x - x0, y - y0
        for dx, dy, b in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                          (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            if 0 <= x0 + dx < w and 0 <= y0 + dy < h:
                weight[(y0 + dy) * w + x0 + dx] += b * i
                color[(y0 + dy) * w + x0 + dx] += b * i * c
    return weight, color


def test_splat_matches_brute_force_including_borders():
    rng = np.random.default_rng(1)
    h, w = 30, 40
    dest = (rng.random((1500, 2)) * [w + 6, h + 6] - 3).astype(np.float32)   # some off-canvas
    dest[:40] = np.round(dest[:40])                                          # some exact
    colors = rng.random((1500, 3)).astype(np.float32)
    imp = rng.random(1500).astype(np.float32)
    acc = SplatAccumulator(h, w, 3)
    acc.add(dest, colors, imp, scale=0.5)
    ref_w, ref_c = reference(dest, colors, imp * 0.5, h, w)
    np.testing.assert_allclose(acc.weight, ref_w, atol=1e-5)
    np.testing.assert_allclose(acc.color, ref_c, atol=1e-5)


def test_integer_translation_is_exact_and_copy_is_independent():
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (20, 30, 3)).astype(np.float32)
    ys, xs = np.mgrid[0:20, 0:30]
    pts = np.stack([xs.ravel() + 3, ys.ravel() - 2], 1).astype(np.float32)
    base = SplatAccumulator(20, 30, 3)
    acc = base.copy()
    acc.add(pts, img.reshape(-1, 3))
    out, holes = acc.resolve()
    np.testing.assert_array_equal(out[:18, 3:], img[2:, :27])
    assert holes[:, :3].all() and holes[18:].all() and not holes[:18, 3:].any()
    assert base.weight.max() == 0


def test_fill_holes_from_surroundings():
    img = np.zeros((40, 40, 3), np.float32)
    img[:, :20] = 100
    img[:, 20:] = 200
    holes = np.zeros((40, 40), bool)
    holes[15:25, 15:25] = True
    damaged = img.copy()
    damaged[holes] = 0
    out = fill_holes(damaged, holes)
    np.testing.assert_array_equal(out[~holes], img[~holes])
    assert out[20, 15, 0] < out[20, 24, 0]             # the left side stays darker
    assert 90 <= out[holes].min() and out[holes].max() <= 210
