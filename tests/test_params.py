from __future__ import annotations

from dataclasses import dataclass

import pytest

from animakit.errors import ParamError
from animakit.params import build_params, param, param_specs


@dataclass
class P:
    strength: float = param(1.0, "how much", min=0.0, max=2.0)
    count: int = param(3, "how many", min=1, max=10)
    fps: float | None = param(None, "rate", min=1, max=120)
    mode: str = param("a", "which", choices=("a", "b"))
    loop: bool = param(False, "loop it")


def test_specs_read_back_type_default_range_help():
    specs = {s.name: s for s in param_specs(P)}
    assert specs["strength"].type is float and specs["strength"].max == 2.0
    assert specs["fps"].optional and specs["fps"].default is None
    assert specs["mode"].choices == ("a", "b")
    assert specs["loop"].help == "loop it"


def test_strings_coerced_like_the_cli_gives_them():
    p = build_params(P, {"strength": "1.5", "count": "4", "fps": "29.97", "mode": "b", "loop": "yes"})
    assert (p.strength, p.count, p.fps, p.mode, p.loop) == (1.5, 4, 29.97, "b", True)
    assert build_params(P, {"fps": "none"}).fps is None


@pytest.mark.parametrize("values,match", [
    ({"strength": "3"}, "above the maximum"), ({"count": "0"}, "below the minimum"),
    ({"count": "2.5"}, "expected int"), ({"mode": "c"}, "not one of"),
    ({"loop": "maybe"}, "expected bool"), ({"nope": 1}, "unknown parameter"),
    ({"strength": "nan"}, "NaN"),
])
def test_bad_values_name_the_param(values, match):
    with pytest.raises(ParamError, match=match) as ei:
        build_params(P, values)
    assert str(ei.value).startswith(f"param {next(iter(values))}")


def test_overrides_apply_on_a_base_instance():
    base = build_params(P, {"count": 7})
    assert build_params(P, {"strength": 0.5}, base=base).count == 7


# -- engine params ---------------------------------------------------------------------------
from animakit.errors import InputError  # noqa: E402
from animakit.pipeline import Engine, FrameStream, Pipeline, engine_params_class  # noqa: E402


@dataclass
class SlowParams:
    steps: int = param(20, "denoising steps", min=1, max=100)


class Fast(Engine):
    name = "fast"

    def stream(self, inputs, params, generator=None):
        return FrameStream(iter(()), 10, (8, 8), 0, extras={"params": params})


class Slow(Fast):
    name = "slow"
    Params = SlowParams


class TwoEngines(Pipeline):
    name = "test.two"
    Params = P
    engines = {"fast": Fast, "slow": Slow}
    default_engine = "fast"


def test_an_engine_receives_the_pipeline_params_and_its_own():
    p = TwoEngines().stream(engine="slow", steps="7", count=2).extras["params"]
    assert (p.steps, p.count) == (7, 2) and isinstance(p, P) and isinstance(p, SlowParams)
    assert [s.name for s in param_specs(type(p))] == [*(s.name for s in param_specs(P)), "steps"]
    assert TwoEngines().stream(engine="fast").extras["params"].__class__ is P


def test_a_setting_of_another_engine_names_that_engine():
    with pytest.raises(ParamError, match="a setting of the slow engine.*engine=slow"):
        TwoEngines().stream(steps=3)
    with pytest.raises(ParamError, match="no input or parameter named 'nope'"):
        TwoEngines().stream(engine="slow", nope=3)
    assert issubclass(ParamError, InputError)


def test_engine_params_in_the_description():
    d = TwoEngines.describe()
    assert [e["params"] for e in d["engines"]][0] == []
    assert [s["name"] for s in d["engines"][1]["params"]] == ["steps"]


def test_engine_params_may_not_repeat_a_pipeline_field():
    @dataclass
    class Clash:
        count: int = param(1, "again")
    with pytest.raises(TypeError, match="count"):
        engine_params_class(P, Clash)
