"""The run API (``animakit.render``) and engines that load once: every front end (the API,
``animakit render``'s job runner, the studio) renders through it, and two renders with the
same weights read the checkpoint once; other weights release the first model."""
from __future__ import annotations

import gc
import shutil
import weakref
from pathlib import Path

import pytest

import animakit
from animakit import cache
from animakit.cache import MODELS
from animakit.dit.pipeline import MODEL_SLOT
from animakit.errors import InputError, ParamError
from animakit.media import VideoReader
from animakit.render import RenderResult

ROOT = Path(__file__).resolve().parent.parent
# the shipped VideoDiT, as fast as it samples: one step, one clip, 34x34 frames
FAST = {"steps": 1, "num_clips": 1, "upscale": 1}


def weights_copy(folder: Path) -> Path:
    """A copy of the shipped checkpoint (config + safetensors, and its vae/) in ``folder``."""
    (folder / "vae").mkdir(parents=True)
    for f in ("config.json", "diffusion_pytorch_model.safetensors"):
        shutil.copy(ROOT / "assets" / "dit" / f, folder / f)
        shutil.copy(ROOT / "assets" / "dit" / "vae" / f, folder / "vae" / f)
    return folder


def test_render_returns_a_result_and_writes_the_exports(tmp_path):
    result = animakit.render("dit.generate", tmp_path / "a.mp4", params=FAST, seed=3,
                             exports={"clips": tmp_path / "clips.npz"}, progress=False)
    assert isinstance(result, RenderResult)
    assert result.output == tmp_path / "a.mp4"
    assert result.frames == 16 == VideoReader(result.output).num_frames
    assert result.fps == 8 and result.seconds == 2.0 and result.wall_seconds > 0
    assert result.exports == {"clips": tmp_path / "clips.npz"} and (tmp_path / "clips.npz").exists()
    assert result.extras == {"prompts": ["a red disk moving right"]} and result.warnings == ()
    assert result.to_json()["exports"] == {"clips": str(tmp_path / "clips.npz")}


def test_render_refuses_a_bad_output_and_a_seed_with_a_generator(tmp_path):
    with pytest.raises(InputError, match="output must be a video file"):
        animakit.render("dit.generate", tmp_path / "a.webm", params=FAST)
    with pytest.raises(ParamError, match="a seed or a generator"):
        animakit.render("dit.generate", tmp_path / "a.mp4", params=FAST, seed=1, generator=2)
    assert list(tmp_path.iterdir()) == []


def test_one_seed_one_render_whatever_form_it_takes(tmp_path):
    """``seed=5``, an int generator and a seeded torch.Generator draw the same noise."""
    import torch
    from animakit.media import read_video
    outs = []
    for i, kw in enumerate(({"seed": 5}, {"generator": 5},
                            {"generator": torch.Generator().manual_seed(5)})):
        animakit.render("dit.generate", tmp_path / f"{i}.mp4", params=FAST, progress=False, **kw)
        outs.append(read_video(tmp_path / f"{i}.mp4")[0])
    assert all((a == b).all() for o in outs[1:] for a, b in zip(outs[0], o))
    animakit.render("dit.generate", tmp_path / "6.mp4", params=FAST, progress=False, seed=6)
    assert not all((a == b).all() for a, b in zip(outs[0], read_video(tmp_path / "6.mp4")[0]))


def test_two_api_renders_read_the_weights_once(tmp_path):
    for name in ("a", "b"):
        animakit.render("dit.generate", tmp_path / f"{name}.mp4", params=FAST, progress=False)
    assert MODELS.loads[MODEL_SLOT] == 1


def test_two_jobs_read_the_weights_once(tmp_path):
    """Two dit.generate jobs run one after the other in a process share the loaded model
    (each local-executor worker is such a process; run_inline makes it this one)."""
    from animakit.jobs import load_jobs, run_inline, run_jobs
    jobs = tmp_path / "jobs.toml"
    jobs.write_text("[defaults]\npipeline = 'dit.generate'\n"
                    "[defaults.params]\nsteps = 1\nnum_clips = 1\nupscale = 1\n"
                    "[[job]]\noutput = 'a.mp4'\nseed = 1\n"
                    "[[job]]\noutput = 'b.mp4'\n[job.params]\nlabel = 'square-up'\n")
    results = run_jobs(load_jobs(jobs), progress=False, executor=run_inline)
    assert [r.status for r in results] == ["done", "done"], results
    assert all(r.result.frames == 16 and r.result.output.exists() for r in results)
    assert MODELS.loads[MODEL_SLOT] == 1


def test_two_studio_renders_read_the_weights_once(tmp_path, monkeypatch):
    from animakit.studio import runner
    monkeypatch.setattr(runner, "output_dir", lambda: tmp_path)
    for seed in (0, 1):
        video, summary, side = runner.render("dit.generate", None, {}, dict(FAST), seed=seed,
                                             exports=("clips",))
        assert Path(video).exists() and summary.startswith("**16 frames**")
        assert Path(side["clips"]).exists()
    assert MODELS.loads[MODEL_SLOT] == 1


def test_new_weights_release_the_old_model_and_clear_releases_it(tmp_path):
    a, b = weights_copy(tmp_path / "A"), weights_copy(tmp_path / "B")
    engine = animakit.load_pipeline("dit.generate").engine("dit")

    def render_with(weights: Path) -> weakref.ref:
        animakit.render("dit.generate", tmp_path / "out.mp4",
                        params={**FAST, "weights": str(weights)}, progress=False)
        return weakref.ref(engine.models(str(weights))[0])   # the cached model: no new load

    model_a = render_with(a)
    assert model_a() is not None and MODELS.loads[MODEL_SLOT] == 1
    model_b = render_with(b)
    gc.collect()
    assert MODELS.loads[MODEL_SLOT] == 2 and model_a() is None and model_b() is not None
    cache.clear()
    gc.collect()
    assert model_b() is None


def test_the_name_animakit_render_is_the_function():
    """The module of the same name stays importable by its dotted path."""
    import sys
    from animakit.render import SHOW_PROGRESS, render
    assert animakit.render is render and callable(animakit.render)
    assert sys.modules["animakit.render"].SHOW_PROGRESS is SHOW_PROGRESS
