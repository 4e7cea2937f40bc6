"""The Gradio studio: one tab per registered pipeline (see ``app.py``)."""
from __future__ import annotations

import os

import gradio as gr

from .. import ASSETS, __version__
from ..registry import pipeline_classes
from .custom import CUSTOM_TABS
from .runner import LIMITS, output_dir
from .tabs import build_tab

ORDER = ("portrait.talking", "portrait.pose", "video.i2v", "editing.first_frame", "dit.generate")


def build_app() -> gr.Blocks:
    classes = pipeline_classes()
    names = sorted(classes, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    with gr.Blocks(title="animakit studio") as demo:
        gr.Markdown(f"# animakit studio <small>v{__version__}</small>\n"
                    "Talking portraits, pose-driven animation, image-to-video with a motion brush, "
                    "first-frame video editing and a small video DiT — weight-free engines run on "
                    "any CPU; neural engines use the weights you point them at. Each tab has "
                    "examples: click one to render it.")
        with gr.Tabs():
            for name in names:
                build_tab(classes[name], CUSTOM_TABS.get(name))
    demo.queue(default_concurrency_limit=1, max_size=32)
    return demo


def launch(demo: gr.Blocks | None = None, **kwargs) -> None:
    demo = demo or build_app()
    opts = dict(server_name=os.environ.get("ANIMAKIT_HOST", "127.0.0.1"),
                server_port=int(os.environ.get("ANIMAKIT_PORT", "7860")),
                max_file_size=f"{LIMITS.max_upload_mb}mb",
                allowed_paths=[str(ASSETS), str(output_dir())], show_error=True)
    opts.update(kwargs)
    demo.launch(**opts)
