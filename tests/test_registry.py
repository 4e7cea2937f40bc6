"""Discovery through the ``animakit.pipelines`` entry-point group, as a third party would."""
from __future__ import annotations

import sys

import pytest

from animakit import registry
from animakit.errors import PipelineNotFoundError
from animakit.video.kenburns import KenBurnsPipeline
from conftest import WOBBLE_PLUGIN


def test_builtin_pipeline_found_through_entry_points():
    assert "video.kenburns" in registry._entry_points()
    assert registry.pipeline_classes()["video.kenburns"] is KenBurnsPipeline


def test_third_party_plugin_registers_the_same_way(install_plugin):
    install_plugin("wobble_plugin", WOBBLE_PLUGIN,
                   {"thirdparty.wobble": "wobble_plugin:WobblePipeline",
                    "thirdparty.broken": "wobble_plugin:DoesNotExist"})
    with pytest.warns(UserWarning, match="thirdparty.broken"):
        names = registry.pipeline_names()
    assert "thirdparty.wobble" in names and "thirdparty.broken" not in names
    out = registry.load_pipeline("thirdparty.wobble")(frames=3)
    assert len(out.frames) == 3 and out.fps == 10


def test_unknown_pipeline_lists_known_ones():
    with pytest.raises(PipelineNotFoundError, match="video.kenburns"):
        registry.load_pipeline("no.such")


def test_listing_and_weight_free_runs_do_not_import_diffusers():
    """The neural engines' model code (diffusers, which pulls in torch._dynamo: ~1.2 s) loads
    with their weights, not with the pipelines; gradio loads with the studio, not with a
    pipeline's studio hook: `animakit pipelines` and a weight-free render start fast."""
    import subprocess
    from pathlib import Path
    code = ("import sys, io, contextlib\n"
            "from animakit.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    assert main(['pipelines', '--json']) == 0\n"
            "from animakit import load_pipeline\n"
            "out = load_pipeline('portrait.pose')(image='assets/pose/figure.png',\n"
            "    driving='assets/pose/wave.npz', keypoints='assets/pose/figure_keypoints.json',\n"
            "    mask='assets/pose/figure_mask.png', size=256, duration=0.2)\n"
            "assert len(out.frames) > 0\n"
            "print(sorted(m for m in ('diffusers', 'transformers', 'gradio') if m in sys.modules))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=Path(__file__).resolve().parent.parent,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "[]"
