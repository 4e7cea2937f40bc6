"""editing.restyle, animatediff engine: end to end on tiny random-weight SD 1.5 parts and a
motion adapter written as safetensors folders (CPU, seconds): the same result as diffusers'
own AnimateDiffVideoToVideoPipeline in one window, sliding windows over more than 16
frames, seeds, the step callback, the cache, and one-line messages for missing weights."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import animakit
from animakit.cache import MODELS
from animakit.errors import InputError, WeightsNotFoundError
from animakit.media import open_video, write_video
from animakit.editing.animatediff_load import SLOT
from animakit.editing.animatediff_tiny import write_tiny_animatediff, write_tiny_ip_adapter

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    sd, ma = write_tiny_animatediff(tmp_path_factory.mktemp("ad"))
    return {"weights": str(sd), "motion_adapter": str(ma)}


def clip(path, n: int, w: int = 32, h: int = 32):
    rng = np.random.default_rng(1)
    base = (rng.random((h, w * 2, 3)) * 255).astype(np.uint8)
    frames = [np.ascontiguousarray(base[:, i:i + w]) for i in range(n)]
    write_video(path, frames, 10, crf=12)
    return path


@pytest.fixture(scope="module")
def pipe():
    return animakit.load_pipeline("editing.restyle")


def run(pipe, video, weights, **kw):
    args = dict(engine="animatediff", steps=4, strength=0.8, size=32, guidance=3.0,
                prompt="a cartoon", negative_prompt="blurry", decode_chunk_size=8)
    args.update(kw)
    return pipe(video=video, **weights, **args, generator=torch.Generator().manual_seed(0))


def test_one_window_matches_the_diffusers_pipeline(pipe, weights, tmp_path):
    video = clip(tmp_path / "v.mp4", 8)
    ours = run(pipe, video, weights).frames
    model = pipe.engine("animatediff").pipeline(
        pipe.params_class("animatediff")(**weights))
    from PIL import Image
    src = [Image.fromarray(f) for f in open_video(video)]
    ref = model(video=src, prompt="a cartoon", negative_prompt="blurry", strength=0.8,
                num_inference_steps=4, guidance_scale=3.0, height=32, width=32,
                generator=torch.Generator().manual_seed(0), output_type="np",
                decode_chunk_size=8).frames[0]
    ref = (np.clip(ref, 0, 1) * 255 + 0.5).astype(np.uint8)
    assert len(ours) == len(ref) == 8
    assert np.abs(np.stack(ours).astype(int) - ref).max() <= 1


def test_sliding_windows_over_16_frames(pipe, weights, tmp_path):
    video = clip(tmp_path / "long.mp4", 22)
    engine = pipe.engine("animatediff")
    seen = []
    engine.callback_on_step_end = lambda p, i, t, d: seen.append(tuple(d["latents"].shape))
    try:
        a = run(pipe, video, weights, overlap=4)
    finally:
        engine.callback_on_step_end = None
    b = run(pipe, video, weights, overlap=4)
    assert a.extras["windows"] == [(0, 16), (6, 22)]
    assert len(a.frames) == 22 and a.frames[0].shape == (32, 32, 3)
    assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames))      # seeded
    assert len(seen) == 3 and seen[0] == (1, 4, 22, 16, 16)   # strength 0.8 of 4 steps
    src = list(open_video(video))
    assert np.mean([np.abs(f.astype(int) - s).mean() for f, s in zip(a.frames, src)]) > 5
    c = run(pipe, video, weights, overlap=0)        # same spans, no blending ramp
    assert not all(np.array_equal(x, y) for x, y in zip(a.frames, c.frames))


def test_weights_are_loaded_once(pipe, weights, tmp_path):
    video = clip(tmp_path / "v.mp4", 4)
    run(pipe, video, weights)
    loads = MODELS.loads[SLOT]
    run(pipe, video, weights, prompt="a watercolour")
    assert MODELS.loads[SLOT] == loads


def test_missing_weights_say_what_is_missing(pipe, weights, tmp_path):
    video = clip(tmp_path / "v.mp4", 4)
    with pytest.raises(WeightsNotFoundError, match="no Stable Diffusion 1.5 checkpoint given"):
        pipe(video=video, engine="animatediff", motion_adapter=weights["motion_adapter"])
    with pytest.raises(WeightsNotFoundError, match="no AnimateDiff motion adapter given"):
        pipe(video=video, engine="animatediff", weights=weights["weights"])
    with pytest.raises(WeightsNotFoundError, match="no-such-sd"):
        pipe(video=video, engine="animatediff", weights=str(tmp_path / "no-such-sd"),
             motion_adapter=weights["motion_adapter"])
    with pytest.raises(WeightsNotFoundError, match="missing unet/"):
        pipe(video=video, engine="animatediff", weights=str(tmp_path),
             motion_adapter=weights["motion_adapter"])
    with pytest.raises(WeightsNotFoundError, match="someone/not-cached"):
        pipe(video=video, engine="animatediff", weights=weights["weights"],
             motion_adapter="someone/not-cached")
    edited = animakit.ASSETS / "editing" / "edited_first_frame.png"
    with pytest.raises(InputError, match="IP-Adapter"):
        pipe(video=video, edited=edited, engine="animatediff", **weights)
    with pytest.raises(WeightsNotFoundError, match="IP-Adapter"):
        pipe(video=video, edited=edited, engine="animatediff", **weights,
             ip_adapter=str(tmp_path / "ip.safetensors"))
    with pytest.raises(InputError, match="overlap"):
        pipe(video=video, engine="animatediff", **weights, window=4, overlap=4)


def test_edited_first_frame_steers_through_the_ip_adapter(pipe, weights, tmp_path):
    ip = write_tiny_ip_adapter(tmp_path / "ip", weights["weights"], weights["motion_adapter"])
    video = clip(tmp_path / "v.mp4", 4)
    red, blue = np.zeros((32, 32, 3), np.uint8), np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = blue[..., 2] = 255
    kw = dict(ip_adapter=str(ip), ip_adapter_scale=2.0, strength=0.9)
    a = np.stack(run(pipe, video, weights, edited=red, **kw).frames).astype(int)
    again = np.stack(run(pipe, video, weights, edited=red, **kw).frames).astype(int)
    b = np.stack(run(pipe, video, weights, edited=blue, **kw).frames).astype(int)
    assert np.array_equal(a, again)
    assert np.abs(a - b).mean() > 0.1
    with pytest.raises(InputError, match="edited"):
        run(pipe, video, weights, **kw)
