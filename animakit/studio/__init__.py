"""The Gradio studio: one tab per registered pipeline (see ``app.py``), in the order of the
pipelines' ``studio_order``. A pipeline adds its own components through its
``studio_extras`` hook, built from the helpers exported here."""
from __future__ import annotations

import os
from typing import Any, Mapping

import gradio as gr

from .. import ASSETS, __version__
from ..pipeline import Pipeline
from ..live.server import lifespan as live_lifespan
from ..registry import pipeline_classes
from .controls import clean_param_value
from .runner import LIMITS, output_dir, session_dir
from .style import CSS, studio_theme
from .tabs import TabContext, build_tab, gradio_error

__all__ = ["CSS", "TabContext", "build_app", "studio_theme", "build_tab", "clean_param_value", "gradio_error",
           "launch", "launch_options", "output_dir", "session_dir", "tab_order"]


def tab_order(classes: Mapping[str, type[Pipeline]]) -> list[type[Pipeline]]:
    """The pipelines in the order their tabs appear: by ``studio_order``, then by name."""
    return [classes[n] for n in sorted(classes, key=lambda n: (classes[n].studio_order, n))]


def build_app() -> gr.Blocks:
    from ..live.tab import build_live_tabs      # it builds on this package's controls
    # Gradio's own copies of uploads and results expire as the studio's renders do
    age = int(LIMITS.max_age_s)
    with gr.Blocks(title="animakit studio", delete_cache=(max(60, age // 6), age)) as demo:
        gr.Markdown(f"## animakit studio <small>v{__version__}</small>\n"
                    "Turn photos, voices and clips into video. Every tab works on any CPU "
                    "with nothing to download; click an example to see one.",
                    elem_classes="ak-intro")
        with gr.Tabs():
            for cls in tab_order(pipeline_classes()):
                build_tab(cls)
            build_live_tabs()
    demo.queue(default_concurrency_limit=1, max_size=32)
    return demo


def launch_options(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """What :func:`launch` passes to ``Blocks.launch``. Host and port: ``ANIMAKIT_HOST`` /
    ``ANIMAKIT_PORT`` when set, else Gradio's own ``GRADIO_SERVER_NAME`` /
    ``GRADIO_SERVER_PORT``, else 127.0.0.1:7860."""
    host = environ.get("ANIMAKIT_HOST") or environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"
    port = environ.get("ANIMAKIT_PORT") or environ.get("GRADIO_SERVER_PORT") or "7860"
    if not port.strip().isdigit():
        raise ValueError(f"the studio's port must be a number, got {port!r} "
                         "(ANIMAKIT_PORT / GRADIO_SERVER_PORT)")
    return dict(server_name=host, server_port=int(port),
                max_file_size=f"{LIMITS.max_upload_mb}mb",
                allowed_paths=[str(ASSETS), str(output_dir())], show_error=True,
                theme=studio_theme(), css=CSS,
                # mounts the live transport's routes on this server (animakit.live.server)
                app_kwargs={"lifespan": live_lifespan})


def launch(demo: gr.Blocks | None = None, **kwargs: Any) -> None:
    demo = demo or build_app()
    demo.launch(**{**launch_options(), **kwargs})
