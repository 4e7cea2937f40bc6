"""animakit: video and portrait animation — one pipeline API, a CLI, a Gradio studio."""
from __future__ import annotations

import os
from pathlib import Path

# MediaPipe / TFLite log to stderr at import and on every graph start; keep the CLI quiet.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"


def _assets_dir() -> Path:
    """The shipped assets: ``animakit/assets`` in an installed wheel, ``assets/`` beside the
    package in a source checkout (an editable install maps the same way)."""
    here = Path(__file__).resolve().parent
    return here / "assets" if (here / "assets").is_dir() else here.parent / "assets"


ASSETS = _assets_dir()

from .errors import (AnimakitError, ImageTooLargeError, InputError, MediaError,  # noqa: E402
                     NoFaceError, NoPersonError, ParamError, WeightsNotFoundError)
from .params import ParamSpec, build_params, param, param_specs  # noqa: E402
from .pipeline import Engine, FrameStream, InputSpec, Pipeline, PipelineOutput  # noqa: E402
from .registry import load_pipeline, pipeline_classes, pipeline_names  # noqa: E402
# binds the name ``animakit.render`` to the run API function (the module stays in sys.modules)
from .render import RenderResult, render  # noqa: E402

__all__ = ["ASSETS", "AnimakitError", "Engine", "FrameStream", "ImageTooLargeError",
           "InputError", "InputSpec", "MediaError", "NoFaceError", "NoPersonError", "ParamError",
           "ParamSpec", "Pipeline", "PipelineOutput", "RenderResult", "WeightsNotFoundError",
           "build_params", "load_pipeline", "param", "param_specs", "pipeline_classes",
           "pipeline_names", "render"]
