"""animakit.svd, the backend the SVD-family engines share: sizes, windows, the process-wide
component cache (one read per weights and placement, across renders and engines), and
each engine's own params."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import animakit
from animakit.cache import MODELS
from animakit.errors import ParamError
from animakit.params import build_params, param_specs
from animakit.svd import (SVDParams, model_size, placement, size_multiple, tiny_svd_components,
                          to_frames, to_tensor, windows)
from benchmarks.groundtruth.i2v_measures import synthetic_scene

pytestmark = pytest.mark.usefixtures("torch_one_thread")

ENGINES = {"video.i2v": "svd", "editing.first_frame": "svd-inversion",
           "portrait.pose": "mimicmotion"}


@pytest.fixture(scope="module")
def tiny():
    return tiny_svd_components(seed=0, num_frames=3)


@pytest.fixture(scope="module")
def folder(tiny, tmp_path_factory):
    """The tiny parts saved as a diffusers-layout checkpoint folder (safetensors)."""
    path = tmp_path_factory.mktemp("svd") / "tiny-svd"
    tiny.as_pipeline().save_pretrained(path)
    return path


def test_size_rule_comes_from_the_model_config(tiny):
    assert size_multiple(tiny) == 4                     # 2x VAE, one UNet downsampling
    assert model_size(1920, 1080, 64, long_side=1024) == (1024, 576)
    assert model_size(1000, 563, 64) == (1024, 576)
    assert model_size(10, 3, 64) == (64, 64)            # never below one multiple


def test_windows_chain_or_tile():
    assert windows(7, 3) == [(0, 3), (2, 5), (4, 7)]    # chained: share one frame
    assert windows(3, 8) == [(0, 3)]
    assert windows(10, 4, 2, full=True) == [(0, 4), (2, 6), (4, 8), (6, 10)]
    assert windows(9, 4, 1, full=True) == [(0, 4), (3, 7), (5, 9)]
    assert windows(5, 1) == [(0, 2), (1, 3), (2, 4), (3, 5)]   # at least overlap + 1


def test_frames_round_trip():
    frames = [np.random.default_rng(i).integers(0, 256, (6, 4, 3), dtype=np.uint8)
              for i in range(2)]
    x = to_tensor(frames)
    assert x.shape == (2, 3, 6, 4) and x.min() >= -1 and x.max() <= 1
    assert all(np.array_equal(a, b) for a, b in zip(frames, to_frames(x)))


@pytest.mark.parametrize("pipeline,engine", ENGINES.items())
def test_engine_settings_belong_to_the_engine(pipeline, engine):
    """Loading settings are declared once (SVDParams) and inherited by each engine's Params;
    the pipeline's own params hold none of them, and they work as flat keywords only with
    their engine chosen."""
    cls = animakit.load_pipeline(pipeline)        # the instance: its class's attributes
    own = {s.name for s in cls.engine_param_specs(engine)}
    shared = {s.name for s in param_specs(SVDParams)}
    assert shared <= own and not own & {s.name for s in param_specs(cls.Params)}
    assert issubclass(cls.engines[engine].Params, SVDParams)
    assert all(s.help and not s.help.startswith(engine) for s in cls.engine_param_specs(engine))
    with pytest.raises(ParamError, match=f"a setting of the {engine} engine"):
        cls.split_kwargs({"steps": 3})
    p = build_params(cls.params_class(engine), {"steps": "3", "dtype": "float32"})
    assert p.steps == 3 and isinstance(p, cls.Params) and isinstance(p, SVDParams)


def test_examples_with_engine_settings_name_the_engine():
    for name in ENGINES:
        cls = animakit.load_pipeline(name)
        common = {s.name for s in param_specs(cls.Params)}
        for ex in cls.examples:
            engine = ex.get("engine", cls.default_engine)
            own = {s.name for s in cls.engine_param_specs(engine)}
            assert set(ex.get("params", {})) <= common | own, ex
            assert set(ex.get("params", {})) <= common or "engine" in ex, ex


def test_weights_are_read_once_per_process(folder):
    """Two renders, two pipeline instances and two engines with the same weights and
    placement: one read. Another dtype releases the copy and reads again."""
    slot = f"svd:{folder}"
    before = MODELS.loads[slot]
    image = synthetic_scene(16, 16, (4, 4, 10, 10), seed=1)
    kw = dict(engine="svd", image=image, weights=str(folder), width=16, height=16, steps=1,
              num_frames=2, generator=0)
    a = animakit.load_pipeline("video.i2v")(**kw)
    b = animakit.load_pipeline("video.i2v", fresh=True)(**kw)
    assert MODELS.loads[slot] == before + 1
    assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames))
    p = animakit.load_pipeline("editing.first_frame").params_class("svd-inversion")(
        weights=str(folder))
    comps = animakit.load_pipeline("editing.first_frame").engine("svd-inversion").components(p)
    assert comps is MODELS.get(slot, MODELS.key(slot), lambda: None)
    assert MODELS.loads[slot] == before + 1 and comps.source == str(folder)
    assert comps.attention_backend == "sdpa"
    animakit.load_pipeline("video.i2v")(**{**kw, "dtype": "bfloat16"})
    assert MODELS.loads[slot] == before + 2 and MODELS.key(slot)[0].dtype == torch.bfloat16


def test_placement_reads_the_engine_params(monkeypatch, folder):
    monkeypatch.setenv("ANIMAKIT_SVD_WEIGHTS", str(folder))
    where = placement(SVDParams(device="cpu", cpu_offload=True, forward_chunking=True))
    assert where.weights == str(folder) and where.dtype == torch.float32
    assert where.cpu_offload and where.forward_chunking


def test_mimicmotion_loads_through_the_shared_cache(folder, tmp_path):
    """The mimicmotion engine reads the SVD folder and its checkpoint through the shared
    cache, in its own slot (its checkpoint replaces UNet weights), with the pose guider."""
    from safetensors.torch import save_file
    from animakit.portrait.pose.mimicmotion import PoseNet
    comps = tiny_svd_components(seed=0, num_frames=3)
    net = PoseNet(comps.unet.config.block_out_channels[0])
    state = {f"pose_net.{k}": v for k, v in net.state_dict().items()}
    state.update({f"unet.{k}": v.contiguous() for k, v in comps.unet.state_dict().items()})
    ckpt = tmp_path / "MimicMotion_tiny.safetensors"
    save_file(state, ckpt)
    pipe = animakit.load_pipeline("portrait.pose")
    p = pipe.params_class("mimicmotion")(weights=str(folder), checkpoint=str(ckpt))
    slot = f"svd:{folder}+mimicmotion"
    before = MODELS.loads[slot]
    loaded = pipe.engine("mimicmotion").components(p)
    again = animakit.load_pipeline("portrait.pose", fresh=True).engine("mimicmotion").components(p)
    assert loaded is again and MODELS.loads[slot] == before + 1
    assert isinstance(loaded.extra["pose_net"], PoseNet)
    injected = dataclasses.replace(comps, extra={"pose_net": net})
    assert pipe.engine("mimicmotion").use_components(injected).components(p) is injected
