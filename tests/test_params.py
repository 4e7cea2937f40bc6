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
