"""Params dataclasses: the one source of truth for CLI flags, job files and studio controls.

A pipeline's params are a plain ``@dataclass`` whose fields are declared with :func:`param`::

    @dataclass
    class TalkingParams:
        lips: float = param(1.0, "lip motion multiplier", min=0.0, max=3.0)
        fps: float | None = param(None, "output frame rate (default: the driver's)", min=1, max=120)
        mode: str = param("auto", "which thing", choices=("auto", "a", "b"))

:func:`param_specs` reads them back; :func:`build_params` turns strings or loose values
(from the CLI, a TOML job or a Gradio control) into a validated instance.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from typing import Any, Union

from .errors import ParamError

_MISSING = dataclasses.MISSING


def param(default: Any, help: str, *, min: float | None = None, max: float | None = None,
          choices: tuple | None = None, step: float | None = None, advanced: bool = False,
          label: str | None = None) -> Any:
    """Declare one params field: default, one-line help, optional numeric range or choices.
    ``advanced``: a setting most people leave alone (the studio folds it away); ``label``:
    what the studio calls it, when the field's name does not say it in words."""
    meta = {"help": help, "min": min, "max": max, "choices": tuple(choices) if choices else None,
            "step": step, "advanced": bool(advanced), "label": label}
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: type            # the base type: bool, int, float, str, list ...
    optional: bool        # None is allowed
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    step: float | None = None
    advanced: bool = False          # folded away in the studio: most people leave it alone
    label: str | None = None        # the studio's words for it (None: the name, spaced)

    @property
    def title(self) -> str:
        """What a person reads beside the control."""
        return self.label or self.name.replace("_", " ")

    def to_json(self) -> dict:
        return {"name": self.name, "type": self.type.__name__, "optional": self.optional,
                "default": self.default, "help": self.help, "min": self.min, "max": self.max,
                "choices": list(self.choices) if self.choices else None,
                "advanced": self.advanced, "label": self.title}


def _base_type(tp: Any) -> tuple[type, bool]:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        base, _ = _base_type(args[0])
        return base, True
    if origin is not None:
        return origin, False
    return tp, False


def param_specs(cls: type) -> list[ParamSpec]:
    """The specs of every field of a params dataclass, in declaration order."""
    hints = typing.get_type_hints(cls)
    specs = []
    for f in dataclasses.fields(cls):
        base, optional = _base_type(hints[f.name])
        default = f.default if f.default is not _MISSING else (
            f.default_factory() if f.default_factory is not _MISSING else None)
        m = f.metadata
        specs.append(ParamSpec(f.name, base, optional or default is None, default,
                               m.get("help", ""), m.get("min"), m.get("max"), m.get("choices"),
                               m.get("step"), bool(m.get("advanced", False)), m.get("label")))
    return specs


_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"0", "false", "no", "off", "n"}


def coerce_value(spec: ParamSpec, value: Any) -> Any:
    """Convert ``value`` (a string from the CLI, or a loose value) to the spec's type and check it."""
    name = f"param {spec.name}"
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null", "")
                         and spec.optional and spec.type is not str):
        if spec.optional:
            return None
        raise ParamError(name, "a value is required")
    tp = spec.type
    try:
        if tp is bool:
            if isinstance(value, str):
                v = value.strip().lower()
                if v not in _TRUE | _FALSE:
                    raise ValueError(value)
                value = v in _TRUE
            else:
                value = bool(value)
        elif tp is int:
            as_float = float(value)
            if not as_float.is_integer():
                raise ValueError(value)
            value = int(as_float)
        elif tp is float:
            value = float(value)
        elif tp is str:
            value = str(value)
        elif tp in (list, tuple):
            if isinstance(value, str):
                value = json.loads(value) if value.strip().startswith("[") else [
                    v.strip() for v in value.split(",") if v.strip()]
            value = tp(value)
    except (ValueError, TypeError, json.JSONDecodeError):
        raise ParamError(name, f"expected {tp.__name__}, got {value!r}") from None
    if spec.choices and value not in spec.choices:
        raise ParamError(name, f"{value!r} is not one of {', '.join(map(str, spec.choices))}")
    if tp in (int, float):
        if value != value:  # NaN
            raise ParamError(name, "NaN is not allowed")
        if spec.min is not None and value < spec.min:
            raise ParamError(name, f"{value} is below the minimum {spec.min}")
        if spec.max is not None and value > spec.max:
            raise ParamError(name, f"{value} is above the maximum {spec.max}")
    return value


def build_params(cls: type, values: dict[str, Any] | None = None, base: Any = None) -> Any:
    """A validated ``cls`` instance from ``base`` (or defaults) overridden by ``values``."""
    values = dict(values or {})
    specs = {s.name: s for s in param_specs(cls)}
    unknown = sorted(set(values) - set(specs))
    if unknown:
        raise ParamError(f"param {unknown[0]}",
                         f"unknown parameter; known: {', '.join(specs)}")
    current = dataclasses.asdict(base) if base is not None else {}
    out = {}
    for name, spec in specs.items():
        if name in values:
            out[name] = coerce_value(spec, values[name])
        elif name in current:
            out[name] = coerce_value(spec, current[name])
        else:
            out[name] = spec.default
    return cls(**out)

