"""Gradio controls built from the pipeline description: the params dataclass is the one
source of truth for slider ranges, defaults, choices and help text."""
from __future__ import annotations

from typing import Any

import gradio as gr

from ..media.suffixes import VIDEO_SUFFIXES as VIDEO_TYPES
from ..params import ParamSpec
from ..pipeline import InputSpec


def label_of(name: str) -> str:
    return name.replace("_", " ")


def param_control(spec: ParamSpec, render: bool = True) -> gr.Component:
    """One control for one params field (``render=False``: made now, placed later)."""
    kw = dict(label=spec.title, info=spec.help, render=render)
    if spec.choices:
        return gr.Dropdown(list(spec.choices), value=spec.default, **kw)
    if spec.type is bool:
        return gr.Checkbox(value=bool(spec.default), **kw)
    if spec.type in (int, float) and spec.optional:
        # None means "automatic": an empty box reads better than a 0 that fails the range
        return gr.Textbox(value="" if spec.default is None else str(spec.default),
                          placeholder="auto (leave empty)", **kw)
    if spec.type in (int, float):
        bounded = spec.min is not None and spec.max is not None and spec.default is not None
        if bounded and spec.max - spec.min <= 10000:
            step = spec.step or (1 if spec.type is int else _float_step(spec))
            return gr.Slider(spec.min, spec.max, value=spec.default, step=step, **kw)
        return gr.Number(value=spec.default, precision=0 if spec.type is int else None,
                         minimum=spec.min, maximum=spec.max, **kw)
    return gr.Textbox(value="" if spec.default is None else str(spec.default), **kw)


def _float_step(spec: ParamSpec) -> float:
    span = float(spec.max) - float(spec.min)
    return 0.01 if span <= 5 else 0.1 if span <= 50 else 1.0


def input_control(spec: InputSpec) -> gr.Component:
    """One upload control for one named input."""
    label = f"{spec.title.capitalize()}{'' if spec.required else ' (optional)'}: {spec.help}"
    if spec.accepts or spec.kind == "file":
        types = list(spec.extensions)
        if "video" in spec.accepts:
            types += VIDEO_TYPES
        if "image" in spec.accepts:
            types += [".png", ".jpg", ".jpeg", ".webp"]
        return gr.File(label=label, file_types=types or None, type="filepath")
    if spec.kind == "image":
        return LenientImage(label=label, type="filepath", sources=["upload", "clipboard"],
                            height=220)
    if spec.kind == "audio":
        return gr.Audio(label=label, type="filepath", sources=["upload", "microphone"])
    if spec.kind == "video":
        return gr.Video(label=label, sources=["upload"])
    raise ValueError(f"unknown input kind {spec.kind!r}")


class LenientImage(gr.Image):
    """An image upload that hands an unreadable file to the pipeline instead of failing in
    Gradio's preprocessing, so the user sees animakit's message naming the file."""

    @classmethod
    def get_block_name(cls) -> str:
        return "image"

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except Exception:
            return getattr(payload, "path", None)


def clean_param_value(spec: ParamSpec, value: Any) -> Any:
    """Gradio hands back '' for an empty textbox and floats for int sliders."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None if spec.optional else spec.default
    if isinstance(value, str) and spec.type in (int, float):
        return value.strip()        # build_params coerces and range-checks it
    if spec.type is int and isinstance(value, float) and value.is_integer():
        return int(value)
    return value
