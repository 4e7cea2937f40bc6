"""portrait.pose mimicmotion engine: tiny random SVD + pose guider on CPU, end to end."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from animakit import load_pipeline
from animakit.errors import WeightsNotFoundError
from animakit.svd import tiny_svd_components
from animakit.portrait.pose.mimicmotion import PoseNet, load_checkpoint, triangular_weights, window_indices
from animakit.portrait.pose.posefile import PoseSequence
from benchmarks.groundtruth.pose_figure import motion_sequence, reference_figure

SIZE = (32, 48)


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def comps():
    return tiny_svd_components(0)


def test_posenet_keys_follow_mimicmotion_layout():
    keys = set(PoseNet(320).state_dict())
    for i in (0, 2, 4, 6, 8, 10, 12, 14):
        assert f"conv_layers.{i}.weight" in keys and f"conv_layers.{i}.bias" in keys
    assert {"final_proj.weight", "final_proj.bias", "scale"} <= keys
    assert PoseNet(320)(torch.zeros(2, 3, 64, 32)).shape == (2, 320, 8, 4)


def test_windows_cover_every_frame_with_anchor():
    idx = window_indices(30, 16, 6)
    assert all(w[0] == 0 and len(w) == 16 for w in idx)
    assert set().union(*map(set, idx)) == set(range(30))
    w = triangular_weights(16)
    assert w.argmax() in (7, 8) and w[0] < 0.1 and w[-1] < 0.1


def test_checkpoint_round_trip_and_errors(tmp_path, comps):
    from safetensors.torch import save_file
    net = PoseNet(comps.unet.config.block_out_channels[0])
    torch.nn.init.normal_(net.final_proj.weight)
    state = {f"pose_net.{k}": v for k, v in net.state_dict().items()}
    state.update({f"unet.{k}": v for k, v in comps.unet.state_dict().items()})
    save_file(state, tmp_path / "MimicMotion_tiny.safetensors")
    other = PoseNet(comps.unet.config.block_out_channels[0])
    load_checkpoint(tmp_path / "MimicMotion_tiny.safetensors", other, comps.unet)
    assert torch.equal(other.final_proj.weight, net.final_proj.weight)
    with pytest.raises(WeightsNotFoundError, match="pickled"):
        load_checkpoint(tmp_path / "MimicMotion_1-1.pth", other)
    with pytest.raises(WeightsNotFoundError, match="not found"):
        load_checkpoint(tmp_path / "missing.safetensors", other)


def test_missing_weights_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("ANIMAKIT_SVD_WEIGHTS", raising=False)
    pipe = load_pipeline("portrait.pose")
    with pytest.raises(WeightsNotFoundError, match="weights"):
        pipe(image="x.png", driving="y.npz", engine="mimicmotion", weights=str(tmp_path / "nope"))


def test_end_to_end_tiny_random(tmp_path, comps):
    from animakit.media import save_image
    img, mask, pts, vis = reference_figure(SIZE)
    save_image(tmp_path / "ref.png", img)
    save_image(tmp_path / "mask.png", mask)
    np.savez(tmp_path / "kp.npz", points=pts[None], visibility=vis[None], fps=24.0,
             image_size=np.array(SIZE))
    p, v = motion_sequence("wave", 5, SIZE)
    PoseSequence(p, v, 24.0, SIZE).save(tmp_path / "wave.npz")
    pipe = load_pipeline("portrait.pose")
    net = PoseNet(comps.unet.config.block_out_channels[0])
    torch.nn.init.normal_(net.final_proj.weight, std=0.1)
    pipe.engine("mimicmotion").use_components(replace(comps, extra={"pose_net": net}))
    kw = dict(image=str(tmp_path / "ref.png"), mask=str(tmp_path / "mask.png"),
              keypoints=str(tmp_path / "kp.npz"), driving=str(tmp_path / "wave.npz"),
              engine="mimicmotion", size=48, steps=1, window=4, overlap=2, guidance=1.0)
    a = pipe(generator=torch.Generator().manual_seed(0), **kw)
    b = pipe(generator=torch.Generator().manual_seed(0), **kw)
    assert len(a.frames) == 5 and a.frames[0].dtype == np.uint8
    assert a.frames[0].shape[2] == 3 and a.frames[0].shape[0] % 4 == 0
    assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames))   # seeded
    c = pipe(generator=torch.Generator().manual_seed(1), **{**kw, "guidance": 2.0})   # CFG path
    assert len(c.frames) == 5 and not np.array_equal(a.frames[2], c.frames[2])
