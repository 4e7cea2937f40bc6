"""The studio is generic: tabs come from the registry in the pipelines' ``studio_order``,
a pipeline brings its own components through ``studio_extras``, and each engine's own
settings show while that engine is chosen and reach its renders only then."""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from animakit import Engine, FrameStream, Pipeline, param, registry
from animakit.studio import build_app, build_tab, tab_order
from animakit.studio.tabs import example_row
from conftest import WOBBLE_PLUGIN

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ("portrait", "video", "editing", "dit")


def tabs_of(demo: gr.Blocks) -> list[gr.Tab]:
    """The app's tabs, in the order they are shown."""
    found: list[gr.Tab] = []

    def walk(block) -> None:
        for child in getattr(block, "children", None) or []:
            if isinstance(child, gr.Tab):
                found.append(child)
            walk(child)

    walk(demo)
    return found


def inside(tab: gr.Tab, elem_id: str) -> bool:
    """Whether a component with ``elem_id`` is somewhere in ``tab``."""
    return any(getattr(c, "elem_id", None) == elem_id or inside(c, elem_id)
               for c in getattr(tab, "children", None) or [])


# the wobble plugin plus two pipelines with a studio tab of their own
STUDIO_PLUGIN = WOBBLE_PLUGIN + """
class StudioWobble(WobblePipeline):
    name = "thirdparty.studio_wobble"
    studio_order = 15            # after portrait.talking (10), before portrait.pose (20)

    @classmethod
    def studio_extras(cls, ctx):
        import gradio as gr
        gr.Slider(0, 1, value=0.5, label="wobble amount", elem_id="wobble_amount")

class ClumsyWobble(WobblePipeline):
    name = "thirdparty.clumsy"
    studio_order = 0

    @classmethod
    def studio_extras(cls, ctx):
        raise RuntimeError("a bug in the plugin")
"""


def test_a_third_party_plugin_brings_its_own_tab_in_its_order(install_plugin):
    install_plugin("studio_plugin", STUDIO_PLUGIN,
                   {"thirdparty.studio_wobble": "studio_plugin:StudioWobble",
                    "thirdparty.clumsy": "studio_plugin:ClumsyWobble"})
    with pytest.warns(UserWarning, match="studio extras of 'thirdparty.clumsy'.*a bug"):
        demo = build_app()
    # tabs are labelled with the pipelines' titles (the dotted name where a plugin gives none)
    # then the Live tab of the pipeline with a live mode
    assert [t.label for t in tabs_of(demo)] == [
        c.display_name() for c in tab_order(registry.pipeline_classes())] + ["Live"]
    tabs = {t.id.replace("_", ".", 1): t for t in tabs_of(demo)}
    labels = list(tabs)
    assert labels[:5] == ["thirdparty.clumsy", "portrait.talking", "thirdparty.studio_wobble",
                          "portrait.pose", "video.i2v"]
    assert [t.label for t in tabs_of(demo)][:5] == ["thirdparty.clumsy", "Talking portrait",
                                                    "thirdparty.studio_wobble",
                                                    "Dance from a video", "Animate a photo"]
    assert inside(tabs["thirdparty.studio_wobble"], "wobble_amount")
    assert not inside(tabs["portrait.talking"], "wobble_amount")
    # the plugins' own extras are in their own tabs; a broken hook leaves a generic tab
    assert inside(tabs["portrait.talking"], "talking_live_preview")
    assert inside(tabs["video.i2v"], "brush_editor")
    assert inside(tabs["thirdparty.clumsy"], "render_thirdparty_clumsy")


def imported_modules(path: Path) -> list[str]:
    """The absolute names of the modules ``path`` (a file under ROOT) imports, relative
    imports resolved (``from . import x`` yields ``package.x``)."""
    package = list(path.relative_to(ROOT).with_suffix("").parts)
    package = package[:-1]                       # a module's package; __init__'s is its folder
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module) if p)
            out += [module] + [f"{module}.{a.name}" for a in node.names]
    return out


def test_the_kernel_names_no_plugin():
    """No module of animakit/ imports a plugin; the studio names no pipeline."""
    plugin_module = re.compile(rf"animakit\.({'|'.join(PLUGINS)})(\.|$)")
    for path in (ROOT / "animakit").rglob("*.py"):
        for name in imported_modules(path):
            assert not plugin_module.match(name), f"{path} imports {name}"
    pipeline_name = re.compile(rf"\b({'|'.join(PLUGINS)})\.[a-z_]+")
    for path in (ROOT / "animakit" / "studio").rglob("*.py"):
        assert not pipeline_name.search(path.read_text()), path


# -- a pipeline with two engines, one with its own settings ---------------------------------
@dataclass
class TwoParams:
    frames: int = param(3, "frames", min=1, max=10)


@dataclass
class FancyParams:
    sparkle: float = param(0.5, "how much sparkle", min=0.0, max=1.0)


SEEN: list = []           # the params object each render's engine received


class Plain(Engine):
    name, help = "plain", "reads the pipeline's params only"

    def stream(self, inputs, params, generator=None):
        SEEN.append(params)
        gen = (np.full((16, 16, 3), 40 * i, np.uint8) for i in range(params.frames))
        return FrameStream(gen, fps=10, size=(16, 16), num_frames=params.frames)


class Fancy(Plain):
    name, help = "fancy", "has a setting of its own"
    Params = FancyParams


class TwoEngines(Pipeline):
    name = "test.two_engines"
    Params = TwoParams
    engines = {"plain": Plain, "fancy": Fancy}
    default_engine = "plain"
    examples = ({"label": "fancy", "engine": "fancy", "params": {"sparkle": 0.2}},
                {"label": "plain", "params": {"frames": 2}})


@pytest.fixture
def two_engines(monkeypatch):
    monkeypatch.setitem(registry._extra, TwoEngines.name, TwoEngines)
    SEEN.clear()
    yield TwoEngines
    monkeypatch.undo()
    registry.refresh()


def test_engine_settings_show_for_the_chosen_engine_only(two_engines):
    with gr.Blocks() as demo:
        with gr.Tabs():
            ctx = build_tab(two_engines)
    assert list(ctx.engine_groups) == ["fancy"] and list(ctx.engine_params["fancy"]) == ["sparkle"]
    assert "sparkle" not in ctx.params
    group = ctx.engine_groups["fancy"]
    assert group.visible is False                  # the default engine is 'plain'
    # the engine dropdown's change event sets the groups' visibility
    show = next(f for f in demo.fns.values()
                if (ctx.engine._id, "change") in [(t[0], t[1]) for t in f.targets])
    assert [o._id for o in show.outputs] == [group._id]
    assert {g: u["visible"] for g, u in show.fn("fancy").items()} == {group: True}
    assert {g: u["visible"] for g, u in show.fn("plain").items()} == {group: False}


def test_a_render_passes_the_chosen_engines_settings_only(two_engines):
    with gr.Blocks():
        ctx = build_tab(two_engines)
    run, controls = ctx.make_runner(), ctx.all_controls()
    values = {id(c): c.value for c in controls}
    values[id(ctx.engine_params["fancy"]["sparkle"])] = 0.9
    values[id(ctx.params["frames"])] = 4.0         # a slider hands back floats

    def render(engine: str):
        values[id(ctx.engine)] = engine
        video, info, *_ = run(*[values[id(c)] for c in controls])
        assert Path(video).exists() and "**4 frames**" in info
        return SEEN[-1]

    fancy = render("fancy")
    assert isinstance(fancy, FancyParams) and fancy.sparkle == 0.9 and fancy.frames == 4
    plain = render("plain")                        # the fancy setting stays behind
    assert type(plain) is TwoParams and plain.frames == 4

    run(*example_row(ctx, two_engines.examples[0]))
    assert SEEN[-1].sparkle == 0.2 and SEEN[-1].frames == 3
    run(*example_row(ctx, two_engines.examples[1]))
    assert type(SEEN[-1]) is TwoParams and SEEN[-1].frames == 2
