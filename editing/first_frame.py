"""``editing.first_frame``: edit the first frame of a video with any image tool; the edit
is carried through the whole clip with the original motion.

    pipe = animakit.load_pipeline("editing.first_frame")
    out = pipe(video="clip.mp4", edited="frame0_edited.png")          # flow engine
    animakit.render(pipe, "out.mp4", inputs={"video": "clip.mp4", "edited": "frame0_edited.png"})

The output keeps the source's frame rate, frame count and audio.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from animakit.pipeline import InputSpec, Pipeline

from .flow_engine import FlowEditEngine
from .svd_engine import SVDInversionEngine

if TYPE_CHECKING:
    from animakit.studio import TabContext


@dataclass
class FirstFrameEditParams:
    """What every engine reads: nothing yet; the flow and svd-inversion engines share no
    setting, so each declares all of its own in its ``Params``."""


class FirstFrameEditPipeline(Pipeline):
    name = "editing.first_frame"
    title = "Edit a video"
    help = ("Edit the first frame with any image tool; the edit follows the video's motion "
            "(optical-flow propagation with occlusion handling and keyframes).")
    inputs = (
        InputSpec("video", "video", "the source clip"),
        InputSpec("edited", "image", "the edited first frame (any size; resized to the video)",
                  label="edited first frame"),
        InputSpec("keyframes", "file", "further edited frames: a folder of images named by "
                  "frame index (edit_0024.png) or a .json {index: image path}",
                  required=False, extensions=(".json",), advanced=True),
        InputSpec("mask", "image", "where the edit applies (white); default: where the "
                  "edited and original first frames differ", required=False, advanced=True),
    )
    Params = FirstFrameEditParams
    engines = {"flow": FlowEditEngine, "svd-inversion": SVDInversionEngine}
    default_engine = "flow"
    studio_order = 40

    def input_notes(self, inputs: dict[str, Any]) -> list[str]:
        """Warnings a person should see at upload: a note when the edited first frame changes
        an object's shape (it will be carried as a layer). Raises InputError for what cannot
        render (an unreadable video, edited frame or mask)."""
        from .upload_notes import edit_notes
        return edit_notes(inputs)

    @classmethod
    def studio_extras(cls, ctx: TabContext) -> None:
        """The studio tab's own part: make the edited first frame in the app."""
        from .studio import extras      # imports gradio: only when the tab is built
        extras(ctx)

    examples = (
        {"label": "recolour + stripes painted on the disc, carried through the motion",
         "inputs": {"video": "editing/source.mp4", "edited": "editing/edited_first_frame.png"},
         "params": {}},
        {"label": "same edit, EbSynth-like pixel transfer",
         "inputs": {"video": "editing/source.mp4", "edited": "editing/edited_first_frame.png"},
         "engine": "flow", "params": {"transfer": "pixels"}},
    )
