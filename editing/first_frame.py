"""``editing.first_frame``: edit the first frame of a video with any image tool; the edit
is carried through the whole clip with the original motion.

    pipe = animakit.load_pipeline("editing.first_frame")
    out = pipe(video="clip.mp4", edited="frame0_edited.png")          # flow engine
    animakit.render(pipe, "out.mp4", inputs={"video": "clip.mp4", "edited": "frame0_edited.png"})

The output keeps the source's frame rate, frame count and audio.
"""
from __future__ import annotations

from dataclasses import dataclass

from animakit.params import param
from animakit.pipeline import InputSpec, Pipeline

from .flow_engine import FlowEditEngine
from .svd_engine import SVDInversionEngine


@dataclass
class FirstFrameEditParams:
    transfer: str = param("detail", "what the flow carries: 'detail' = the edit's departure "
                          "from a colour grade, rebuilt on each frame (keeps the video's own "
                          "detail and lighting); 'pixels' = the edited pixels themselves "
                          "(opaque additions)", choices=("detail", "pixels"))
    flow_preset: str = param("balanced", "DIS preset of the frame-to-anchor flow "
                             "('balanced' = medium's scale with fewer iterations; the "
                             "consecutive-frame flow always uses 'fast')",
                             choices=("ultrafast", "fast", "balanced", "medium"))
    flow_size: int = param(512, "longest side the flow is estimated at (larger videos are "
                           "scaled down for the flow only)", min=64, max=4096)
    refine_every: int = param(1, "re-anchor (direct flow to the anchor frame) every N "
                              "frames; 0 = only chain consecutive flows", min=0, max=100)
    temporal_smoothing: float = param(0.5, "share of the previous frame's edit (carried along "
                                      "the flow) kept where it is consistent: less flicker, "
                                      "0 = off", min=0.0, max=0.9, step=0.05)
    match_tolerance: float = param(10.0, "mean RGB difference (0-255) up to which a flow "
                                   "match is fully trusted; 2.8x this is rejected",
                                   min=1.0, max=80.0)
    mask_threshold: float = param(12.0, "automatic mask: RGB difference (0-255) between the "
                                  "edited and original first frames that counts as edited",
                                  min=1.0, max=255.0)
    mask_grow: int = param(6, "automatic mask: pixels to grow it by (also its feather)",
                           min=0, max=64)
    feather: int = param(5, "pixels over which sources of the edit are blended at seams",
                         min=0, max=31)
    # -- svd-inversion ----------------------------------------------------------------------
    weights: str = param("", "svd-inversion: SVD checkpoint folder or cached hub id "
                         "(or $ANIMAKIT_SVD_WEIGHTS); nothing is downloaded")
    steps: int = param(25, "svd-inversion: Euler steps (inversion and regeneration each)",
                       min=2, max=200)
    inversion_iterations: int = param(1, "svd-inversion: fixed-point refinements per inversion "
                                      "step (0 = plain Euler inversion; each costs one more "
                                      "UNet pass, and makes the inversion closer to exact)",
                                      min=0, max=10)
    conv_injection: float = param(0.2, "svd-inversion: fraction of the steps during which the "
                                  "source's ResNet (convolution) features are injected",
                                  min=0.0, max=1.0, step=0.05)
    spatial_injection: float = param(0.2, "svd-inversion: fraction of the steps during which "
                                     "the source's spatial self-attention queries/keys are "
                                     "injected", min=0.0, max=1.0, step=0.05)
    temporal_injection: float = param(0.5, "svd-inversion: fraction of the steps during which "
                                      "the source's temporal self-attention queries/keys are "
                                      "injected", min=0.0, max=1.0, step=0.05)
    guidance: float = param(2.0, "svd-inversion: classifier-free guidance at the last frame "
                            "(ramps from 1 at the first; 1 = off)", min=1.0, max=20.0)
    svd_size: int = param(1024, "svd-inversion: long side the model runs at (rounded to its "
                          "multiple; the output is resized back to the video)", min=32, max=2048)
    window: int = param(0, "svd-inversion: frames per window (0 = the UNet's num_frames); "
                        "windows share a frame and chain the edit", min=0, max=64)
    motion_bucket_id: int = param(127, "svd-inversion: motion conditioning", min=0, max=1023)
    noise_aug_strength: float = param(0.02, "svd-inversion: noise added to the conditioning "
                                      "frames", min=0.0, max=1.0, step=0.01)
    decode_chunk_size: int = param(8, "svd-inversion: frames VAE-encoded/decoded at once "
                                   "(less = less memory)", min=1, max=64)
    cpu_offload: bool = param(False, "svd-inversion: keep models on the CPU until used "
                              "(low GPU memory)")
    dtype: str = param("auto", "svd-inversion: precision (auto = float16 on GPU, float32 on CPU)",
                       choices=("auto", "float16", "bfloat16", "float32"))
    device: str = param("auto", "svd-inversion: torch device (auto = cuda when available)")


class FirstFrameEditPipeline(Pipeline):
    name = "editing.first_frame"
    help = ("Edit the first frame with any image tool; the edit follows the video's motion "
            "(optical-flow propagation with occlusion handling and keyframes).")
    inputs = (
        InputSpec("video", "video", "the source clip"),
        InputSpec("edited", "image", "the edited first frame (any size; resized to the video)"),
        InputSpec("keyframes", "file", "further edited frames: a folder of images named by "
                  "frame index (edit_0024.png) or a .json {index: image path}",
                  required=False, extensions=(".json",)),
        InputSpec("mask", "image", "where the edit applies (white); default: where the "
                  "edited and original first frames differ", required=False),
    )
    Params = FirstFrameEditParams
    engines = {"flow": FlowEditEngine, "svd-inversion": SVDInversionEngine}
    default_engine = "flow"
    examples = (
        {"label": "recolour + stripes painted on the disc, carried through the motion",
         "inputs": {"video": "editing/source.mp4", "edited": "editing/edited_first_frame.png"},
         "params": {}},
        {"label": "same edit, EbSynth-like pixel transfer",
         "inputs": {"video": "editing/source.mp4", "edited": "editing/edited_first_frame.png"},
         "params": {"transfer": "pixels"}},
    )
