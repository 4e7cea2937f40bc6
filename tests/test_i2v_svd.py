"""video.i2v, svd engine, end to end on tiny random-weight SVD components (CPU, seconds)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import animakit
from animakit.errors import WeightsNotFoundError
from animakit.svd import tiny_svd_components, windows
from animakit.video.svd_engine import latent_mask
from benchmarks.groundtruth.i2v_measures import synthetic_scene

S = 32                                   # frame size: 16 x 16 latent cells with the tiny VAE
FAST = dict(width=S, height=S, steps=2, num_frames=3, decode_chunk_size=3)


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def tiny():
    return tiny_svd_components(num_frames=3)


@pytest.fixture(scope="module")
def pipe(tiny):
    p = animakit.load_pipeline("video.i2v")
    p.engine("svd").use_components(tiny)
    return p


@pytest.fixture(scope="module")
def plain(pipe, image):
    """The seed-0 result without a brush."""
    return run(pipe, image, 0)


@pytest.fixture(scope="module")
def image():
    return synthetic_scene(S, S, (8, 8, 20, 20), seed=1)


BRUSH = {"strokes": [{"mask": [[8, 8], [20, 8], [20, 20], [8, 20]], "trajectory": [[14, 14], [22, 16]]}],
         "static": [[[0, 24], [32, 24], [32, 32], [0, 32]]]}


def run(pipe, image, seed=0, **kw):
    args = {**FAST, **kw}
    return pipe(engine="svd", image=image, generator=torch.Generator().manual_seed(seed), **args)


def test_seeds_reproducible_and_distinct(pipe, image, plain):
    a, b, c = plain, run(pipe, image, 0), run(pipe, image, 1)
    assert len(a.frames) == 3 and a.frames[0].shape == (S, S, 3) and a.frames[0].dtype == np.uint8
    assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames))
    assert any(not np.array_equal(x, y) for x, y in zip(a.frames, c.frames))


def test_brush_changes_the_result_and_is_reproducible(pipe, image, plain):
    off = plain
    on1 = run(pipe, image, 0, brush=BRUSH)
    on2 = run(pipe, image, 0, brush=BRUSH)
    assert all(np.array_equal(x, y) for x, y in zip(on1.frames, on2.frames))
    assert any(not np.array_equal(x, y) for x, y in zip(off.frames, on1.frames))


def test_static_mask_is_honoured_in_latent_space(pipe, image, tiny):
    """With anchoring over every step, the final latents equal the source latent exactly in
    the static cells (the last sigma is 0), and differ elsewhere."""
    from animakit.svd import encode_vae_latents
    comps = tiny
    seen = {}
    pipe.engine("svd").callback_on_step_end = lambda c, i, t, kw: seen.update(latents=kw["latents"])
    try:
        run(pipe, image, 0, brush=BRUSH, static_anchor=1.0)
    finally:
        pipe.engine("svd").callback_on_step_end = None
    lat = seen["latents"][0]                                              # (F, 4, h, w)
    src = encode_vae_latents(comps, torch.from_numpy(image).permute(2, 0, 1)[None].float()
                             / 127.5 - 1)[0] * comps.vae.config.scaling_factor
    from animakit.video.brush import load_brush
    m = latent_mask(load_brush(BRUSH, (S, S)).static, comps.vae_scale_factor).bool()
    assert m.any() and not m.all()
    for f in range(lat.shape[0]):
        torch.testing.assert_close(lat[f][:, m], src[:, m], atol=1e-5, rtol=0)
        assert (lat[f][:, ~m] - src[:, ~m]).abs().max() > 1e-2


def test_static_paste_makes_static_pixels_exact(pipe, image):
    from animakit.video.brush import load_brush
    static = load_brush(BRUSH, (S, S)).static
    pasted = run(pipe, image, 0, brush=BRUSH)
    raw = run(pipe, image, 0, brush=BRUSH, static_paste=False)
    for a, b in zip(pasted.frames, raw.frames):
        np.testing.assert_array_equal(a[static], image[static])
        assert not np.array_equal(b[static], image[static])        # the VAE alone is not exact
        np.testing.assert_array_equal(a[:12], b[:12])               # far from it, untouched


def test_loop_is_refused_clearly(pipe, image):
    from animakit.errors import ParamError
    with pytest.raises(ParamError, match="loop.*flow engine"):
        run(pipe, image, 0, loop=True)


def test_longer_clips_chain_on_the_last_frame(pipe, image):
    assert windows(7, 3) == [(0, 3), (2, 5), (4, 7)]
    assert windows(3, 3) == [(0, 3)]
    out = run(pipe, image, 0, num_frames=5, brush=BRUSH)
    assert len(out.frames) == 5 and out.extras["segments"] == [(0, 3), (2, 5)]


def test_missing_weights_name_the_folder(image, tmp_path, monkeypatch):
    monkeypatch.delenv("ANIMAKIT_SVD_WEIGHTS", raising=False)
    p = animakit.load_pipeline("video.i2v")
    with pytest.raises(WeightsNotFoundError, match="no SVD weights given"):
        p(engine="svd", image=image, **FAST)
    missing = tmp_path / "svd-xt"
    with pytest.raises(WeightsNotFoundError, match=f"{missing}.*-p weights="):
        p(engine="svd", image=image, weights=str(missing), **FAST)
    (missing / "unet").mkdir(parents=True)
    with pytest.raises(WeightsNotFoundError, match="missing vae/"):
        p(engine="svd", image=image, weights=str(missing), **FAST)
    with pytest.raises(WeightsNotFoundError, match="not in the local Hugging Face cache"):
        p(engine="svd", image=image, weights="nobody/no-such-svd", **FAST)


def test_saved_tiny_checkpoint_loads_from_a_folder(image, tmp_path, tiny, plain):
    tiny.as_pipeline().save_pretrained(tmp_path / "tiny-svd")
    p = animakit.load_pipeline("video.i2v")
    out = p(engine="svd", image=image, weights=str(tmp_path / "tiny-svd"),
            generator=torch.Generator().manual_seed(0), **FAST)
    out2 = plain
    assert all(np.abs(x.astype(int) - y.astype(int)).max() <= 1 for x, y in zip(out.frames, out2.frames))


def test_sampler_matches_diffusers_svd_pipeline_without_a_brush(tiny):
    """Same components, seed and settings: our sampler gives diffusers' frames (to float32
    rounding: the two differ only in the order of a few operations)."""
    from animakit.video.svd_sampler import SVDSettings, sample_svd_clip
    img = torch.rand(1, 3, S, S, generator=torch.Generator().manual_seed(5))
    pipe = tiny.as_pipeline()
    pipe.set_progress_bar_config(disable=True)
    ref = pipe(img, height=S, width=S, num_frames=3, num_inference_steps=2, decode_chunk_size=3,
               generator=torch.Generator().manual_seed(0), output_type="pt").frames[0]
    ours = sample_svd_clip(tiny, img * 2 - 1, SVDSettings(num_frames=3, steps=2, decode_chunk_size=3),
                           generator=torch.Generator().manual_seed(0), progress=False)
    torch.testing.assert_close((ours.frames / 2 + 0.5).clamp(0, 1), ref, atol=1e-6, rtol=0)


def test_device_and_dtype_params_resolve_in_one_place():
    import torch
    from animakit.errors import ParamError
    from animakit.svd import resolve_device_dtype
    assert resolve_device_dtype("cpu", "auto") == ("cpu", torch.float32)
    assert resolve_device_dtype("cpu", "bfloat16") == ("cpu", torch.bfloat16)
    with pytest.raises(ParamError, match="param device"):
        resolve_device_dtype("gpu0", "auto")
    with pytest.raises(ParamError, match="param dtype"):
        resolve_device_dtype("cpu", "int8")
