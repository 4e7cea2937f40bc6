"""``portrait.talking``: a portrait that talks, driven by audio, a driving video or a landmark file."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from animakit.errors import InputError, NoFaceError
from animakit.pipeline import InputSpec, Pipeline

from .engine import MeshEngine
from .params import TalkingParams

if TYPE_CHECKING:
    from animakit.live import LiveSpec
    from animakit.studio import TabContext

DRIVERS = ("audio", "driving", "landmarks")


class TalkingPortraitPipeline(Pipeline):
    """Source portrait + at most one driver. With no driver, the portrait holds its pose
    with the expression offsets, natural blinks and a faint idle sway for ``duration``
    seconds (5 by default)."""
    name = "portrait.talking"
    title = "Talking portrait"
    help = ("Talking portrait from speech audio, a driving face video or a landmark file: "
            "lips, jaw, blinks, brows and head motion, pasted back at full resolution.")
    inputs = (
        InputSpec("image", "image", "the portrait to animate (with several faces, the largest; "
                  "choose another under Advanced)"),
        InputSpec("audio", "audio", "speech (wav/mp3/ogg/flac, any rate and length) that drives "
                                    "lips, jaw, blinks, brows and head", required=False),
        InputSpec("driving", "video", "a face video whose expression and head motion are "
                                      "transferred (relative to its first face)", required=False,
                  label="driving face video"),
        InputSpec("landmarks", "file", "a landmark sequence .npz (478x3 per frame + fps), as "
                                       "saved by an earlier render", required=False,
                  extensions=(".npz",), advanced=True, label="landmark motion"),
    )
    Params = TalkingParams
    examples = (
        {"label": "portrait speaking", "inputs": {"image": "portrait.png", "audio": "speech.wav"},
         "params": {}},
        {"label": "driven by a face video", "inputs": {"image": "portrait.png",
                                                       "driving": "talking/driving_face.mp4"},
         "params": {}},
        {"label": "replay a landmark file, half head motion, smiling",
         "inputs": {"image": "portrait.png", "landmarks": "talking/driving_face_landmarks.npz"},
         "params": {"head": 0.5, "smile": 0.4}},
    )
    engines = {"mesh": MeshEngine}
    default_engine = "mesh"
    studio_order = 10

    @classmethod
    def studio_extras(cls, ctx: TabContext) -> None:
        """The studio tab's own part: live expression preview, landmark export."""
        from .studio import extras      # imports gradio: only when the tab is built
        extras(ctx)

    def input_notes(self, inputs: dict[str, Any]) -> list[str]:
        """At upload: a portrait without a face cannot render (raised); several faces get a
        note saying which one moves."""
        given = [d for d in DRIVERS if d in inputs]
        if len(given) > 1:
            raise InputError(Path(str(inputs[given[1]])).name,
                             f"one driver at a time: use the {given[0]} or the "
                             f"{given[1]}, not both")
        if "image" not in inputs:
            return []
        from animakit.media import load_image

        from .sources import faces_in
        name = Path(str(inputs["image"])).name
        faces = faces_in(load_image(inputs["image"], name=name))
        if not faces:
            raise NoFaceError(name, "no face found. Use a photo with a face seen from the "
                                    "front, at least about 40 pixels wide")
        if len(faces) > 1:
            return [f"{name}: {len(faces)} faces found; the largest one will talk (to choose "
                    "another, set 'which face' under Advanced)"]
        return []

    @classmethod
    def live(cls) -> LiveSpec:
        """Camera / microphone -> this portrait in real time (see :mod:`.live`)."""
        from .live import live_spec
        return live_spec()

    def check_inputs(self, inputs: dict[str, Any]) -> None:
        super().check_inputs(inputs)
        given = [d for d in DRIVERS if d in inputs]
        if len(given) > 1:
            raise InputError(given[1], f"{self.name} takes one driver at a time; got "
                                       f"{' and '.join(given)} (drop all but one)")
