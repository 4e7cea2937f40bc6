"""Shared fixtures: synthetic media with a known ground truth, made in the test run."""
from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"


def moving_square_frames(n: int = 30, size: tuple[int, int] = (96, 64)) -> list[np.ndarray]:
    """A textured square moving 2 px right per frame on a gradient: each frame distinct."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    bg = np.stack([xx * 255 // w, yy * 255 // h, np.full_like(xx, 90)], -1).astype(np.uint8)
    frames = []
    for i in range(n):
        f = bg.copy()
        x0 = 4 + 2 * i % (w - 20)
        f[20:36, x0:x0 + 16] = (255, 255, 255)
        f[24:32, x0 + 4:x0 + 12] = (200, 30, 30)
        frames.append(f)
    return frames


def sine(seconds: float, sr: int = 16000, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="module")
def torch_one_thread():
    """Tiny random-weight models are dominated by thread overhead: on a busy shared CPU one
    torch thread is several times faster. Use with ``pytest.mark.usefixtures``."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def video_with_audio(tmp_path) -> tuple[Path, int, float, float]:
    """A 30-frame 25 fps clip with 1.2 s of sine audio: (path, frames, fps, seconds)."""
    from animakit.media import AudioClip, write_video
    path = tmp_path / "clip.mp4"
    write_video(path, moving_square_frames(30), 25, audio=AudioClip(sine(1.2), 16000))
    return path, 30, 25.0, 1.2


@pytest.fixture
def portrait() -> Path:
    return ASSETS / "portrait.png"


@pytest.fixture
def speech() -> Path:
    return ASSETS / "speech.wav"


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each test starts without cached pipelines or weights: a test that injects tiny
    components into a pipeline's engine must not hand them to the next test."""
    from animakit import cache
    cache.clear()
    yield
    cache.clear()


# A third-party plugin's module: one pipeline, one weight-free engine (see install_plugin).
WOBBLE_PLUGIN = """
from dataclasses import dataclass
import numpy as np
from animakit import Engine, FrameStream, InputSpec, Pipeline, param

@dataclass
class WobbleParams:
    frames: int = param(4, "frames", min=1, max=100)

class Flat(Engine):
    name = "flat"
    def stream(self, inputs, params, generator=None):
        gen = (np.full((8, 8, 3), i, np.uint8) for i in range(params.frames))
        return FrameStream(gen, fps=10, size=(8, 8), num_frames=params.frames)

class WobblePipeline(Pipeline):
    name = "thirdparty.wobble"
    inputs = ()
    Params = WobbleParams
    engines = {"flat": Flat}
    default_engine = "flat"
"""


@pytest.fixture
def install_plugin(tmp_path, monkeypatch):
    """Install a plugin as pip would: ``install(module, source, entry_points)`` writes module
    ``module`` and a dist-info declaring ``entry_points`` (pipeline name -> "module:Class")
    in the ``animakit.pipelines`` group, puts it on sys.path and re-reads the registry.
    Undone after the test."""
    from animakit import registry
    installed: list[str] = []

    def install(module: str, source: str, entry_points: dict[str, str]) -> None:
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        dist = tmp_path / f"{module}-0.1.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.1\n")
        lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
        (dist / "entry_points.txt").write_text(f"[animakit.pipelines]\n{lines}")
        installed.append(module)
        monkeypatch.syspath_prepend(str(tmp_path))
        registry.refresh()

    yield install
    for module in installed:
        sys.modules.pop(module, None)
    monkeypatch.undo()
    registry.refresh()
