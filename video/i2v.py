"""``video.i2v``: animate a still image, steered by a motion brush.

Two engines behind one pipeline:

* ``flow`` (default, weight-free): the brush's dense motion is Euler-integrated and the
  image forward-splatted along it (holes filled), with an optional seamless loop; static
  regions are copied from the source, pixel for pixel.
* ``svd`` (neural): Stable Video Diffusion from a local checkpoint; the brush is applied
  training-free (a warped guide clip as the starting point, static regions anchored to the
  source latent in the early steps).

Example::

    pipe = animakit.load_pipeline("video.i2v")
    out = pipe(image="photo.png", brush="brush.json", num_frames=48, loop=True)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from animakit.params import param
from animakit.pipeline import InputSpec, Pipeline

from .flow_engine import FlowEngine
from .svd_engine import SVDEngine

if TYPE_CHECKING:
    from animakit.studio import TabContext


@dataclass
class I2VParams:
    """What both engines read; each engine's own settings are in its ``Params``."""
    num_frames: int = param(25, "frames to generate (svd: chained in segments beyond the model's length)",
                            min=2, max=2000)
    fps: int = param(12, "output frame rate (svd: also its fps conditioning)", min=1, max=60, advanced=True)
    strength: float = param(1.0, "brush strength multiplier (scales every stroke's displacement)",
                            min=0.0, max=4.0, step=0.05)
    reveal: bool = param(False, "cut brushed regions out and move them over an inpainted "
                                "background, instead of stretching their surroundings (svd: in "
                                "its guide clip)", advanced=True)
    falloff: float = param(0.0, "soft edge around each stroke in px, where motion fades out (0 = "
                                "automatic: a few px, 6% of the square root of the stroke's area, "
                                "2-12 px)", min=0.0, max=1000.0, advanced=True)
    width: int = param(0, "output width (0: flow = the image's, svd = 1024 for landscape)",
                       min=0, max=4096, advanced=True)
    height: int = param(0, "output height (0: keep the aspect; svd rounds to its size multiple, 64)",
                        min=0, max=4096, advanced=True)


class ImageToVideoPipeline(Pipeline):
    name = "video.i2v"
    title = "Animate a photo"
    help = "Image to video with a motion brush: weight-free flow animation, or Stable Video Diffusion."
    inputs = (InputSpec("image", "image", "the still image to animate"),
              InputSpec("brush", "file", 'motion brush JSON: {"strokes": [{"mask", "trajectory", '
                                         '"strength"}], "static": [polygons]}',
                        required=False, extensions=(".json",)))
    Params = I2VParams
    engines = {"flow": FlowEngine, "svd": SVDEngine}
    default_engine = "flow"
    studio_order = 30

    @classmethod
    def studio_extras(cls, ctx: TabContext) -> None:
        """The studio tab's own part: the motion brush editor."""
        from .studio import extras      # imports gradio: only when the tab is built
        extras(ctx)

    examples = (
        {"label": "portrait: hair sways, face still", "inputs": {"image": "portrait.png",
                                                                 "brush": "i2v/portrait_brush.json"},
         "params": {"num_frames": 36, "fps": 12}},
        {"label": "portrait cinemagraph loop", "inputs": {"image": "portrait.png",
                                                          "brush": "i2v/portrait_loop_brush.json"},
         "engine": "flow", "params": {"num_frames": 36, "fps": 12, "loop": True}},
    )
