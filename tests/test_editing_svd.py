"""editing.first_frame, svd-inversion engine: end to end on tiny random-weight SVD parts
(CPU, seconds): registration, missing weights, windows / shapes / seeds, feature
injection, and the inversion -> regeneration reconstruction check."""
import numpy as np
import pytest
import torch

import animakit
from animakit.errors import InputError, WeightsNotFoundError
from animakit.media import write_video
from animakit.svd import (encode_vae_latents, image_conditioning, model_size, tiny_svd_components,
                          to_tensor, windows)
from animakit.editing.svd_engine import SVDInversionParams
from animakit.editing.svd_inject import FeatureInjector, active_kinds, injection_sites
from animakit.editing.svd_invert import Regeneration, invert, regenerate, schedule
from benchmarks.groundtruth.editing_clip import make_clip


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def comps():
    return tiny_svd_components(seed=0)


@pytest.fixture(scope="module")
def pipe(comps):
    p = animakit.load_pipeline("editing.first_frame")
    p.engine("svd-inversion").use_components(comps)
    return p


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    clip = make_clip(10, 48, seed=2)
    src = np.ascontiguousarray(clip.source[:, 8:40])                   # 48 x 32 (w x h)
    d = tmp_path_factory.mktemp("svd")
    write_video(d / "src.mp4", list(src), 10, crf=12)
    return d / "src.mp4", np.ascontiguousarray(clip.truth[0, 8:40])


def test_engine_is_registered_as_neural():
    desc = animakit.load_pipeline("editing.first_frame").describe()
    engines = {e["name"]: e for e in desc["engines"]}
    assert engines["svd-inversion"]["neural"] and not engines["flow"]["neural"]
    names = {p["name"] for p in engines["svd-inversion"]["params"]}
    assert not {p["name"] for p in desc["params"]} & names
    assert {"weights", "steps", "conv_injection", "spatial_injection", "temporal_injection",
            "guidance", "decode_chunk_size", "cpu_offload"} <= names


def test_missing_weights_name_what_was_tried(video, tmp_path):
    pipe = animakit.load_pipeline("editing.first_frame")
    src, edited = video
    with pytest.raises(WeightsNotFoundError, match="no-such-svd-folder"):
        pipe(video=src, edited=edited, engine="svd-inversion",
             weights=str(tmp_path / "no-such-svd-folder"))
    with pytest.raises(WeightsNotFoundError, match="someone/not-a-cached-svd"):
        pipe(video=src, edited=edited, engine="svd-inversion", weights="someone/not-a-cached-svd")


def test_windows_and_sizes():
    assert windows(10, 8) == [(0, 8), (7, 10)]
    assert windows(8, 8) == [(0, 8)]
    spans = windows(50, 25)
    assert spans[0] == (0, 25) and spans[-1][1] == 50
    assert model_size(1920, 1080, 64, long_side=1024) == (1024, 576)


def test_end_to_end_shapes_and_seeds(pipe, video):
    src, edited = video
    kw = dict(video=src, edited=edited, engine="svd-inversion", steps=3, svd_size=32,
              inversion_iterations=0)
    steps = []
    engine = pipe.engine("svd-inversion")
    engine.callback_on_step_end = lambda c, i, t, d: steps.append((i, tuple(d["latents"].shape)))
    try:
        a = pipe(**kw, generator=torch.Generator().manual_seed(1))
    finally:
        engine.callback_on_step_end = None
    assert [i for i, _ in steps] == [0, 1, 2] * 2                 # 3 steps x 2 windows
    assert steps[0][1] == (1, 8, 4, 10, 16) and steps[-1][1] == (1, 3, 4, 10, 16)
    b = pipe(**kw, generator=torch.Generator().manual_seed(1))
    c = pipe(**kw, generator=torch.Generator().manual_seed(2))
    assert len(a.frames) == 10 and a.fps == 10
    assert a.frames[0].shape == (32, 48, 3) and a.frames[0].dtype == np.uint8
    assert a.extras["windows"] == [(0, 8), (7, 10)] and a.extras["model_size"] == (32, 20)
    assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames))
    assert any(not np.array_equal(x, y) for x, y in zip(a.frames, c.frames))


def test_keyframes_and_mask_are_refused(pipe, video):
    src, edited = video
    with pytest.raises(InputError, match="flow engine"):
        pipe(video=src, edited=edited, engine="svd-inversion", mask=edited)


def test_injection_hooks_copy_the_source_branch(comps):
    sites = injection_sites(comps.unet)
    assert len(sites["conv"]) == 1 and sites["spatial"] and sites["temporal"]
    assert active_kinds(1, 10, {"conv": 0.2, "temporal": 0.5}) == {"conv", "temporal"}
    assert active_kinds(3, 10, {"conv": 0.2, "temporal": 0.5}) == {"temporal"}
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 8, 16, 16, generator=g)
    kw = dict(encoder_hidden_states=torch.randn(2, 1, 32, generator=g),
              added_time_ids=torch.zeros(2, 3), return_dict=False)
    t = torch.tensor([0.5, 0.5])
    seen = []
    with torch.no_grad(), FeatureInjector(comps.unet) as inj:
        # registered after the injector's hooks, so it sees the injected output
        hook = sites["conv"][0].register_forward_hook(lambda m, i, o: seen.append(o.clone()))
        free = comps.unet(x, t, **kw)[0]
        inj.set({"conv", "spatial", "temporal"}, 2)
        injected = comps.unet(x, t, **kw)[0]
    hook.remove()
    assert all(inj.state.calls[k] > 0 for k in ("conv", "spatial", "temporal"))
    assert not torch.allclose(seen[0][:3], seen[0][3:])
    assert torch.allclose(seen[1][:3], seen[1][3:])
    assert torch.allclose(free[0], injected[0], atol=1e-5)       # the source branch is untouched
    assert not torch.allclose(free[1], injected[1], atol=1e-4)


@pytest.fixture(scope="module")
def tame(comps):
    """Tiny random parts whose UNet output layer is scaled by 0.2. A random UNet is no
    denoiser: at full scale its probability-flow ODE is chaotic at low noise levels (errors
    grow ~8x per step), so no inversion can be replayed; damping the output keeps the
    weights random but the ODE well posed, as a trained model's is."""
    t = tiny_svd_components(seed=0)
    with torch.no_grad():
        t.unet.conv_out.weight.mul_(0.2)
        t.unet.conv_out.bias.mul_(0.2)
    return t


def _reconstruction_error(comps, random_start: bool = False, **overrides) -> float:
    """RMS latent error of inversion -> regeneration with the edited frame = the original
    (``random_start``: regenerate from fresh noise instead of the inverted latents)."""
    clip = make_clip(4, 32, seed=1)
    src = to_tensor(list(clip.source))
    p = SVDInversionParams(**{"steps": 6, "inversion_iterations": 0, "guidance": 1.0,
                                **overrides})
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        target = (encode_vae_latents(comps, src) * comps.vae.config.scaling_factor)[None]
        cond = image_conditioning(comps, src[:1], 4, 7, 127, 0.02,
                                  torch.randn(1, 3, 32, 32, generator=g))
        sigmas, timesteps = schedule(comps, p.steps)
        inverted = invert(comps, target, cond, sigmas, timesteps, p.inversion_iterations)
        if random_start:
            inverted[0] = torch.randn(target.shape, generator=g) * float(sigmas[0])
        settings = Regeneration({"conv": p.conv_injection, "spatial": p.spatial_injection,
                                 "temporal": p.temporal_injection}, guidance=p.guidance)
        out = regenerate(comps, inverted, cond, cond, sigmas, timesteps, settings)
    return float((out - target).pow(2).mean().sqrt())


def test_inversion_then_regeneration_reconstructs_the_source(tame):
    none = dict(conv_injection=0.0, spatial_injection=0.0, temporal_injection=0.0)
    full = dict(conv_injection=1.0, spatial_injection=1.0, temporal_injection=1.0)
    scratch = _reconstruction_error(tame, random_start=True, **none)
    plain = _reconstruction_error(tame, **none)
    exact = _reconstruction_error(tame, inversion_iterations=2, **none)
    assert plain < 0.5 * scratch, (plain, scratch)          # the inverted noise holds the clip
    assert exact < 0.9 * plain, (exact, plain)              # fixed-point inversion: closer
    # guidance pulls the regeneration off the unguided inversion's path; the source
    # branch's injected features pull it back
    guided = _reconstruction_error(tame, inversion_iterations=1, guidance=3.0, **none)
    injected = _reconstruction_error(tame, inversion_iterations=1, guidance=3.0, **full)
    assert injected < 0.95 * guided, (injected, guided)
    print(f"reconstruction RMS: scratch {scratch:.4f} plain {plain:.4f} fixed-point {exact:.4f} "
          f"guided {guided:.4f} guided+injection {injected:.4f}")


def test_loads_a_checkpoint_folder_through_the_pipeline(comps, video, tmp_path):
    """The real loading path: a diffusers-layout folder (tiny random weights, safetensors)."""
    for name in ("unet", "vae", "image_encoder", "feature_extractor", "scheduler"):
        getattr(comps, name).save_pretrained(tmp_path / name)
    src, edited = video
    pipe = animakit.load_pipeline("editing.first_frame")
    out = pipe(video=src, edited=edited, engine="svd-inversion", weights=str(tmp_path),
               steps=2, svd_size=32, window=10, inversion_iterations=0, generator=3)
    assert len(out.frames) == 10 and out.extras["weights"] == str(tmp_path)
    assert out.extras["windows"] == [(0, 10)]


def test_reduced_precision_weights_run():
    """bfloat16 weights (CPU-supported stand-in for the GPU's float16): latents stay float32,
    the networks get their own dtype."""
    from animakit.editing.svd_engine import SVDInversionEngine
    half = tiny_svd_components(seed=0).to(dtype=torch.bfloat16)
    clip = make_clip(4, 32, seed=1)
    out = SVDInversionEngine().use_components(half).edit_window(
        half, list(clip.source), clip.truth[0], SVDInversionParams(steps=2),
        torch.Generator().manual_seed(0))
    assert len(out) == 4 and out[0].shape == (32, 32, 3) and out[0].dtype == np.uint8
