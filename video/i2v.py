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
    num_frames: int = param(25, "frames to generate (svd: chained in segments beyond the model's length)",
                            min=2, max=2000)
    fps: int = param(12, "output frame rate (svd: also its fps conditioning)", min=1, max=60)
    loop: bool = param(False, "seamless loop: brushed regions flow in place and frame N wraps to "
                              "frame 0 (cinemagraph)")
    strength: float = param(1.0, "brush strength multiplier (scales every stroke's displacement)",
                            min=0.0, max=4.0, step=0.05)
    reveal: bool = param(False, "flow: cut brushed regions out and move them over an inpainted "
                                "background, instead of stretching their surroundings")
    falloff: float = param(0.0, "soft falloff around masks in px (0 = 6% of the short side)",
                           min=0.0, max=1000.0)
    width: int = param(0, "output width (0: flow = the image's, svd = 1024 for landscape)",
                       min=0, max=4096)
    height: int = param(0, "output height (0: keep the aspect; svd rounds to multiples of 64)",
                        min=0, max=4096)
    # -- svd ------------------------------------------------------------------------------
    weights: str = param("", "svd: checkpoint folder or cached hub id (or $ANIMAKIT_SVD_WEIGHTS)")
    motion_bucket_id: int = param(127, "svd: amount of motion conditioning", min=0, max=1023)
    noise_aug_strength: float = param(0.02, "svd: noise added to the conditioning image",
                                      min=0.0, max=1.0, step=0.01)
    steps: int = param(25, "svd: denoising steps", min=1, max=200)
    min_guidance: float = param(1.0, "svd: guidance at the first frame", min=0.0, max=20.0)
    max_guidance: float = param(3.0, "svd: guidance at the last frame", min=0.0, max=20.0)
    guide_strength: float = param(0.8, "svd with a brush: how much of the schedule to run from the "
                                       "noised brush guide (1 = from pure noise)", min=0.05, max=1.0)
    static_anchor: float = param(0.5, "svd: fraction of steps during which static regions are reset "
                                      "to the source latent", min=0.0, max=1.0)
    static_paste: bool = param(True, "svd: after decoding, paste static regions from the source "
                                     "(feathered 3 px outside) so they are exactly still")
    decode_chunk_size: int = param(8, "svd: frames decoded at once (less = less memory)",
                                   min=1, max=64)
    dtype: str = param("auto", "svd: weights precision (auto = float16 on GPU, float32 on CPU)",
                       choices=("auto", "float16", "bfloat16", "float32"))
    device: str = param("auto", "svd: torch device (auto = cuda when available)")
    attention: str = param("auto", "svd: attention backend (auto = xformers if installed, else SDPA)",
                           choices=("auto", "sdpa", "xformers"))
    cpu_offload: bool = param(False, "svd: keep models on the CPU until used (low memory)")
    forward_chunking: bool = param(False, "svd: UNet feed-forward one frame at a time (low memory)")


class ImageToVideoPipeline(Pipeline):
    name = "video.i2v"
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
         "params": {"num_frames": 36, "fps": 12, "loop": True}},
    )
