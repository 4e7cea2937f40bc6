"""dit: model shapes, save/load, training reduces the loss, flow-matching sampler, tracker,
the dit.generate pipeline, and the shipped checkpoint judged by the shipped classifier."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import animakit
from animakit.errors import ParamError, WeightsNotFoundError
from animakit.dit.data import NUM_CLASSES, make_batch, to_uint8
from benchmarks.groundtruth.dit_measures import measure_clip, track
from animakit.dit.models import DIT_PRESETS, VideoDiT
from animakit.dit.sample import flow_matching_target, sample_clips
from animakit.dit.train import flow_loss

torch.set_num_threads(1)
SHIPPED = animakit.ASSETS / "dit"


def tiny_model(**kw) -> VideoDiT:
    cfg = dict(sample_size=16, num_frames=4, patch_size=4, tubelet_size=1, hidden_size=32,
               depth=2, num_heads=2, num_classes=NUM_CLASSES)
    cfg.update(kw)
    torch.manual_seed(0)
    return VideoDiT(**cfg)


@pytest.mark.parametrize("tubelet,out_channels", [(1, None), (2, None), (2, 6)])
def test_model_output_shape(tubelet, out_channels):
    model = tiny_model(tubelet_size=tubelet, out_channels=out_channels)
    x = torch.randn(3, 4, 3, 16, 16)
    out = model(x, torch.tensor([0.0, 500.0, 999.0]), torch.tensor([0, 5, NUM_CLASSES])).sample
    assert out.shape == (3, 4, out_channels or 3, 16, 16)
    assert torch.isfinite(out).all()


def test_patchify_round_trip_and_block_axes():
    model = tiny_model(tubelet_size=2)
    x = torch.randn(2, 4, 3, 16, 16)
    tokens = model.patchify(x)
    assert tokens.shape == (2, 2, 16, 2 * 4 * 4 * 3)        # (B, T, S, q*p*p*C)
    assert torch.equal(model.unpatchify(tokens), x)
    assert [b.axis for b in model.blocks] == ["spatial", "temporal"]


def test_adaln_zero_initial_output_is_zero():
    model = tiny_model()
    x = torch.randn(2, 4, 3, 16, 16)
    assert torch.count_nonzero(model(x, 500.0, torch.tensor([1, 2])).sample) == 0


def test_temporal_blocks_mix_frames_and_spatial_blocks_do_not():
    model = tiny_model(depth=1)                                  # one spatial block only
    for p in model.parameters():                                 # break the zero init
        torch.nn.init.normal_(p, std=0.05)
    x = torch.randn(1, 4, 3, 16, 16)
    y = x.clone()
    y[:, 3] += 1.0                                               # change the last frame only
    model.eval()
    a, b = model(x, 10.0, torch.tensor([0])).sample, model(y, 10.0, torch.tensor([0])).sample
    assert torch.allclose(a[:, :3], b[:, :3], atol=1e-5)         # other frames untouched
    model2 = tiny_model(depth=2)
    for p in model2.parameters():
        torch.nn.init.normal_(p, std=0.05)
    model2.eval()
    a, b = model2(x, 10.0, torch.tensor([0])).sample, model2(y, 10.0, torch.tensor([0])).sample
    assert not torch.allclose(a[:, 0], b[:, 0], atol=1e-5)      # temporal attention mixes


def test_presets_build():
    assert set(DIT_PRESETS) == {"tiny", "S", "B"}
    m = DIT_PRESETS["tiny"](sample_size=16, num_frames=4, num_classes=3)
    assert m.config.hidden_size == 128


def test_save_load_round_trip(tmp_path: Path):
    model = tiny_model()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.02)
    model.save_pretrained(tmp_path, safe_serialization=True)
    assert (tmp_path / "diffusion_pytorch_model.safetensors").is_file()
    loaded = VideoDiT.from_pretrained(tmp_path, local_files_only=True).eval()
    model.eval()
    x = torch.randn(2, 4, 3, 16, 16)
    labels = torch.tensor([3, 7])
    assert loaded.config.tubelet_size == model.config.tubelet_size
    assert torch.allclose(model(x, 300.0, labels).sample, loaded(x, 300.0, labels).sample)


def test_refiner_starts_as_identity_and_round_trips(tmp_path: Path):
    """A fresh refiner head adds nothing; init_weights copies a plain model into a refined one;
    after training-like changes the refined model saves and loads exactly."""
    import argparse
    from animakit.dit.train import init_weights
    plain = tiny_model()
    for p in plain.parameters():
        torch.nn.init.normal_(p, std=0.02)
    plain.save_pretrained(tmp_path / "plain", safe_serialization=True)
    refined, ema = tiny_model(refiner_channels=4), tiny_model(refiner_channels=4)
    init_weights(refined, ema, tmp_path / "plain")
    plain.eval(), refined.eval()                      # no label dropout
    x, labels = torch.randn(2, 4, 3, 16, 16), torch.tensor([3, 7])
    with torch.no_grad():
        assert torch.equal(plain(x, 300.0, labels).sample, refined(x, 300.0, labels).sample)
        torch.nn.init.normal_(refined.refiner.conv_out.weight, std=0.02)
        out = refined(x, 300.0, labels).sample
    assert out.shape == x.shape and not torch.equal(out, plain(x, 300.0, labels).sample)
    refined.save_pretrained(tmp_path / "refined", safe_serialization=True)
    loaded = VideoDiT.from_pretrained(tmp_path / "refined", local_files_only=True).eval()
    assert loaded.config.refiner_channels == 4
    assert torch.allclose(loaded(x, 300.0, labels).sample, out)
    with pytest.raises(ValueError):                   # a refined model is no init for a plain one
        init_weights(tiny_model(), tiny_model(), tmp_path / "refined")
    groups = __import__("dit.train", fromlist=["param_groups"]).param_groups(
        refined, argparse.Namespace(lr=1e-4, refiner_lr=1e-3))
    assert [g["lr"] for g in groups] == [1e-4, 1e-3]


def test_sampler_options():
    from animakit.dit.sample import opposite_labels
    assert opposite_labels(torch.arange(4), 12).tolist() == [1, 0, 3, 2]   # right<->left, down<->up
    model = tiny_model()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.05)
    model.eval()

    def run(**kw):
        return sample_clips(model, [0, 5], steps=4, generator=torch.Generator().manual_seed(0), **kw)
    # guidance only for sigma in an interval that no step reaches == no guidance at all
    assert torch.equal(run(guidance_scale=4.0, guidance_interval=(2.0, 3.0)), run(guidance_scale=1.0))
    base = run()
    for kw in ({"shift": 3.0}, {"negative": "opposite"}, {"grid_jitter": 1}):
        out = run(**kw)
        assert out.shape == base.shape and torch.isfinite(out).all() and not torch.equal(out, base)
    with pytest.raises(ValueError):
        run(negative="nope")


def test_training_steps_reduce_loss():
    model = tiny_model(hidden_size=48, depth=2)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    clips, labels, _ = make_batch(8, np.random.default_rng(0))
    x0 = clips[:, ::4, :, 8:24, 8:24].contiguous()              # (8, 4, 3, 16, 16) real crops

    def loss_at(seed: int) -> torch.Tensor:
        return flow_loss(model, x0, labels, torch.Generator().manual_seed(seed))

    with torch.no_grad():
        model.eval()
        before = np.mean([loss_at(s).item() for s in range(4)])
    model.train()
    for step in range(40):
        loss = loss_at(100 + step)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        model.eval()
        after = np.mean([loss_at(s).item() for s in range(4)])
    assert after < 0.8 * before


@pytest.mark.parametrize("prediction_type", ["velocity", "sample"])
def test_flow_matching_sampler_recovers_data_with_oracle(prediction_type):
    """With the exact velocity (x_sigma - x0) / sigma, or the exact clean clip, Euler steps on
    the straight path land on x0."""
    x0 = torch.rand(2, 4, 3, 16, 16) * 2 - 1

    class Oracle(VideoDiT):
        def forward(self, sample, timestep, class_labels, return_dict=True):
            sigma = (timestep.float() / 1000).view(-1, 1, 1, 1, 1)
            ref = x0.repeat(sample.shape[0] // x0.shape[0], 1, 1, 1, 1)   # cond + null halves
            exact = (sample - ref) / sigma if prediction_type == "velocity" else ref
            return type("O", (), {"sample": exact})()

    oracle = Oracle(sample_size=16, num_frames=4, patch_size=4, hidden_size=32, depth=0,
                    num_heads=2, num_classes=NUM_CLASSES, prediction_type=prediction_type).eval()
    out = sample_clips(oracle, [0, 1], steps=5, guidance_scale=3.0,
                       generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out, x0.clamp(-1, 1), atol=1e-3)
    xt, v = flow_matching_target(x0, torch.zeros_like(x0), torch.tensor([0.5, 0.5]))
    assert torch.allclose(xt, 0.5 * x0) and torch.allclose(v, -x0)


def test_tracker_on_real_clips_follows_true_centres():
    x, y, centres = make_batch(12, np.random.default_rng(3), labels=np.arange(12))
    clips = to_uint8(x)
    for clip, label, true in zip(clips, y.tolist(), centres):
        est, _ = track(clip)
        assert np.abs(est - true).max() < 1.5
        assert measure_clip(clip, label).direction_ok


def test_pipeline_with_random_tiny_weights(tmp_path: Path):
    model = VideoDiT(sample_size=16, num_frames=4, patch_size=4, hidden_size=32, depth=2,
                     num_heads=2, num_classes=NUM_CLASSES)
    model.save_pretrained(tmp_path / "w", safe_serialization=True)
    pipe = animakit.load_pipeline("dit.generate")
    stream = pipe.stream(label="square-up", num_clips=3, steps=2, upscale=2,
                         weights=str(tmp_path / "w"))
    frames = list(stream)
    assert len(frames) == stream.num_frames == 4
    assert frames[0].shape == (stream.size[1], stream.size[0], 3) == (70, 70, 3)   # 2x2 grid
    assert frames[0].dtype == np.uint8
    assert stream.extras["labels"] == ["square-up"] * 3
    stream.side_outputs["clips"](tmp_path / "clips.npz")
    saved = np.load(tmp_path / "clips.npz")
    assert saved["clips"].shape == (3, 4, 16, 16, 3) and list(saved["labels"]) == ["square-up"] * 3
    out = pipe(label="all", steps=1, upscale=1, weights=str(tmp_path / "w"))
    assert out.extras["clips"].shape == (NUM_CLASSES, 4, 16, 16, 3)
    a = pipe(label="disk-left", seed=5, steps=2, upscale=1, weights=str(tmp_path / "w")).frames
    b = pipe(label="disk-left", seed=5, steps=2, upscale=1, weights=str(tmp_path / "w")).frames
    assert all(np.array_equal(p, q) for p, q in zip(a, b))


def test_pipeline_errors(tmp_path: Path):
    pipe = animakit.load_pipeline("dit.generate")
    with pytest.raises(WeightsNotFoundError, match="nowhere"):
        pipe(weights=str(tmp_path / "nowhere"))
    with pytest.raises(ParamError):
        pipe(label="hexagon-right")
    with pytest.raises(ParamError):
        pipe(steps=0)


@pytest.mark.skipif(not (SHIPPED / "classifier" / "config.json").is_file(),
                    reason="shipped checkpoint not present")
def test_shipped_checkpoint_samples_pass_the_classifier():
    """Looser than the benchmark's 90 % target (97.9 % on 96 clips, docs/dit.md), as 12 clips
    are few: content right nearly always, the full label in at least 3 of 4 clips."""
    from animakit.dit.classifier import ClipClassifier
    from animakit.dit.pipeline import load_model
    model = load_model(SHIPPED)
    judge = ClipClassifier.from_pretrained(SHIPPED / "classifier", local_files_only=True)
    labels = torch.arange(NUM_CLASSES)
    clips = sample_clips(model, labels, generator=torch.Generator().manual_seed(123))
    pred = judge.predict(clips)
    shape_acc = (pred // 4 == labels // 4).float().mean().item()
    label_acc = (pred == labels).float().mean().item()
    assert shape_acc >= 0.9, f"shape accuracy {shape_acc:.2f}"
    assert label_acc >= 0.75, f"label accuracy {label_acc:.2f}"


# Output of the shipped checkpoint on a fixed input, computed with the model code as it was
# before the speed work (commit 21a5eef, float32, one thread): 12 values spread over the output
# (flat index 0, 8192, ..., 90112) and two summaries. The code that trains faster must give the
# same function.
SHIPPED_REFERENCE = {
    "values": [-0.10884303, 0.04385707, 0.06881484, -0.10440637, -0.03129725, 0.04247736,
               -0.06623989, -0.13304418, -0.04527282, -0.03362773, -0.12557219, -0.05132956],
    "mean_abs": 0.0914134681224823,
    "rms": 0.1200551986694336,
}


def test_shipped_checkpoint_output_unchanged_by_speed_work():
    from animakit.dit.pipeline import load_model
    model = load_model(SHIPPED).eval()
    x = torch.randn(2, 16, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model(x, torch.tensor([250.0, 800.0]), torch.tensor([3, 12])).sample
    assert out.shape == (2, 16, 3, 32, 32)
    flat = out.flatten()
    picked = flat[torch.arange(12) * 8192]
    assert torch.allclose(picked, torch.tensor(SHIPPED_REFERENCE["values"]), rtol=0, atol=1e-5)
    assert abs(out.abs().mean().item() - SHIPPED_REFERENCE["mean_abs"]) <= 1e-6
    assert abs(out.pow(2).mean().sqrt().item() - SHIPPED_REFERENCE["rms"]) <= 1e-6


def test_xformers_branch_matches_sdpa(monkeypatch):
    """The xformers branch (CUDA only in use) on CPU through a stand-in with xformers'
    layout, (N, L, H, Dh) in and out: same output as the SDPA branch along both axes."""
    import types
    from animakit.dit import models

    def memory_efficient_attention(q, k, v):
        out = torch.nn.functional.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return out.transpose(1, 2).contiguous()

    torch.manual_seed(0)
    attn = models.Attention(32, 4).eval()
    x = torch.randn(2, 3, 5, 32)
    with torch.no_grad():
        want = {axis: attn(x, axis) for axis in ("spatial", "temporal")}
        monkeypatch.setattr(models, "xops", types.SimpleNamespace(
            memory_efficient_attention=memory_efficient_attention))
        monkeypatch.setattr(models.Attention, "xformers_applies", lambda self, x: True)
        for axis in ("spatial", "temporal"):
            torch.testing.assert_close(attn(x, axis), want[axis], atol=1e-5, rtol=1e-5)
