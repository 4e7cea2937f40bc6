"""animakit.editing.flow: DIS flow, warping, composition, forward-backward occlusion test."""
import cv2
import numpy as np
import pytest

from animakit.editing.flow import (FlowEstimator, compose_flows, dense_flow, fb_consistency,
                           flow_to_map, identity_map, map_to_flow, remap, resize_flow, warp)


def _texture(h=160, w=160, seed=0):
    rng = np.random.default_rng(seed)
    n = cv2.GaussianBlur(rng.standard_normal((h, w, 3)).astype(np.float32), (0, 0), 2.5)
    return np.clip(128 + 60 * n / n.std(), 0, 255).astype(np.uint8)


def _shift(img, dx, dy):
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, img.shape[1::-1], flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REFLECT)


def test_dense_flow_recovers_translation():
    a = _texture()
    b = _shift(a, 3.5, -2.0)                   # content moves by (+3.5, -2)
    flow = dense_flow(a, b, "medium")
    inner = flow[20:-20, 20:-20].reshape(-1, 2)
    assert np.allclose(np.median(inner, axis=0), [3.5, -2.0], atol=0.15)


def test_warp_pulls_b_back_onto_a():
    a = _texture()
    b = _shift(a, 2.0, 1.0)
    flow = np.zeros(a.shape[:2] + (2,), np.float32)
    flow[...] = (2.0, 1.0)
    back = warp(b, flow)
    err = np.abs(back[10:-10, 10:-10].astype(float) - a[10:-10, 10:-10]).mean()
    assert err < 1.5
    assert back.shape == a.shape and back.dtype == np.uint8


def test_compose_translations_adds_them():
    f1 = np.full((40, 50, 2), (1.5, -0.5), np.float32)
    f2 = np.full((40, 50, 2), (2.0, 1.0), np.float32)
    assert np.allclose(compose_flows(f1, f2)[5:-5, 5:-5], (3.5, 0.5), atol=1e-4)


def test_map_flow_round_trip_and_resize():
    f = np.random.default_rng(0).normal(size=(30, 40, 2)).astype(np.float32)
    assert np.allclose(map_to_flow(flow_to_map(f)), f, atol=1e-5)
    assert np.allclose(identity_map(3, 4)[2, 1], (1, 2))
    r = resize_flow(np.full((30, 40, 2), (1.0, 2.0), np.float32), (80, 60))
    assert r.shape == (60, 80, 2) and np.allclose(r, (2.0, 4.0))


def test_remap_handles_many_channels():
    img = np.random.default_rng(1).random((32, 32, 7)).astype(np.float32)
    out = remap(img, identity_map(32, 32))
    assert out.shape == (32, 32, 7)
    assert np.allclose(out, img, atol=1e-3)
    assert remap(img[..., 0], identity_map(32, 32)).shape == (32, 32)


def test_fb_consistency_flags_the_disoccluded_strip():
    bg = _texture(seed=1)
    patch = _texture(60, 60, seed=2)
    a, b = bg.copy(), bg.copy()
    a[50:110, 40:100] = patch                  # a square moves 10 px right between a and b
    b[50:110, 50:110] = patch
    est = FlowEstimator("medium")
    fwd, bwd = est(b, a), est(a, b)            # consistency of b's pixels
    occluded = ~fb_consistency(fwd, bwd)
    strip = occluded[55:105, 41:49].mean()     # seen in b, hidden under the square in a
    elsewhere = occluded[130:, :].mean()
    assert strip > 0.5 and elsewhere < 0.1


def test_estimator_scale_and_bad_input():
    a = _texture()
    b = _shift(a, 4.0, 0.0)
    flow = FlowEstimator("fast", scale=0.5)(a, b)
    assert flow.shape == (160, 160, 2)
    assert abs(np.median(flow[20:-20, 20:-20, 0]) - 4.0) < 0.4
    with pytest.raises(ValueError):
        FlowEstimator("slow")
    with pytest.raises(ValueError):
        FlowEstimator()(a, a[:50])
