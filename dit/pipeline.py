"""``dit.generate``: prompt-driven latent video generation with the shipped VideoDiT.

    pipe = animakit.load_pipeline("dit.generate")
    out = pipe(prompt="a small green triangle moving left fast", num_clips=4)   # 2x2 grid
    out = pipe(image="drawing.png", prompt="moving up")        # animate a given first frame
    out = pipe(image="a.png", last_image="b.png")              # in-between two frames

    animakit run dit.generate -p prompt="a red disk moving up" --export clips=red.npz -o red.mp4
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from animakit import ASSETS
from animakit.cache import MODELS
from animakit.errors import ParamError, WeightsNotFoundError
from animakit.media import atomic_output, load_image
from animakit.params import param
from animakit.pipeline import Engine, FrameStream, InputSpec, Pipeline
from animakit.render import SHOW_PROGRESS
from animakit.seeding import torch_generator

from .data import LABELS, NUM_FRAMES, SIZE, to_uint8
from .settings import DEFAULT_GUIDANCE, DEFAULT_GUIDANCE_MIN_NOISE, DEFAULT_STEPS
from .text import PromptError, tokenize

if TYPE_CHECKING:
    from .autoencoder import FrameAutoencoder

    from .models import VideoDiT

DEFAULT_WEIGHTS = ASSETS / "dit"
MODEL_SLOT = "dit.generate/dit"      # the process-wide cache slot of the loaded VideoDiT
LABEL_CHOICES = ("",) + LABELS + ("all",)


@dataclass
class DiTParams:
    prompt: str = param("a red disk moving right", "what to generate: \"a [small|large] [colour] "
                        "[disk|square|triangle] moving [right|left|down|up] [slow|fast]\"; any "
                        "word may be left out, and the empty prompt leaves everything to chance")
    label: str = param("", "an old class label (shape-direction) used as the prompt, or 'all' "
                       "for one clip per label; empty = use the prompt", choices=LABEL_CHOICES,
                       advanced=True)
    seed: int = param(0, "random seed of the initial noise", min=0, max=2**31 - 1)
    steps: int = param(DEFAULT_STEPS, "flow-matching Euler steps", min=1, max=200, advanced=True)
    guidance_scale: float = param(DEFAULT_GUIDANCE, "classifier-free guidance on the prompt "
                                  "(1 = off)", min=0.0, max=20.0, advanced=True)
    guidance_min_noise: float = param(DEFAULT_GUIDANCE_MIN_NOISE, "guide only while the noise "
                                      "level is at least this (0 = every step)", min=0.0, max=1.0,
                                      advanced=True)
    num_clips: int = param(1, "clips to generate, laid out as a grid in each frame "
                           "('all' makes one per label)", min=1, max=64)
    fps: float = param(8.0, "output frame rate", min=1, max=60, advanced=True)
    upscale: int = param(8, "nearest-neighbour display upscale of the 32x32 clips", min=1, max=32, advanced=True)
    weights: str = param("", "folder of a trained model (config.json + safetensors, and the "
                         "autoencoder in vae/); empty = the shipped assets/dit", advanced=True)


def load_model(weights: str | Path | None = None, device: str | torch.device = "cpu"
               ) -> tuple[VideoDiT, FrameAutoencoder]:
    """The VideoDiT saved in ``weights`` (default: the shipped ``assets/dit``) and its
    autoencoder (``weights/vae``), in eval mode. (diffusers is imported here, not with the
    module: listing the pipeline stays light.)"""
    from .autoencoder import load_autoencoder
    from .models import VideoDiT
    folder = Path(weights) if weights else DEFAULT_WEIGHTS
    for part in (folder, folder / "vae"):
        if not (part / "config.json").is_file() or not any(part.glob("*.safetensors")):
            raise WeightsNotFoundError(part, "no model here (needs config.json and a .safetensors "
                                             "file); train one with `python -m dit.train --out "
                                             "FOLDER` and set the weights param to FOLDER")
    try:
        model = VideoDiT.from_pretrained(folder, local_files_only=True, use_safetensors=True)
        vae = load_autoencoder(folder / "vae", device)
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as e:
        raise WeightsNotFoundError(folder, f"could not load the VideoDiT: {e}") from None
    return model.to(device).eval(), vae


def model_frame(source: Any, name: str) -> np.ndarray:
    """An image input as one (SIZE, SIZE, 3) uint8 frame: centre-cropped to a square and
    area-resized to the model's resolution."""
    import cv2
    image = load_image(source, name=name)
    h, w = image.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    square = image[y0:y0 + side, x0:x0 + side]
    return cv2.resize(square, (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def grid_frames(clips: np.ndarray, upscale: int, cols: int | None = None) -> np.ndarray:
    """clips (N, F, h, w, 3) uint8 -> (F, H, W, 3) uint8 frames, clips tiled in a near-square
    grid with a 1-pixel (pre-upscale) dark gutter, upscaled by nearest neighbour, even size."""
    n, f, h, w, _ = clips.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    canvas = np.full((f, rows * (h + 1) + 1, cols * (w + 1) + 1, 3), 16, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        canvas[:, 1 + r * (h + 1):1 + r * (h + 1) + h, 1 + c * (w + 1):1 + c * (w + 1) + w] = clips[i]
    canvas = canvas.repeat(upscale, axis=1).repeat(upscale, axis=2)
    height, width = canvas.shape[1:3]
    return canvas[:, :height - height % 2, :width - width % 2]


class DiTEngine(Engine):
    name = "dit"
    help = ("the shipped latent VideoDiT (rectified flow, classifier-free guidance on the "
            "prompt); CPU or GPU")
    neural = True
    weights_included = True          # the checkpoint ships in assets/dit

    def __init__(self) -> None:
        self.device = "cuda" if torch.cuda.is_available() else "cpu"

    def models(self, weights: str) -> tuple[VideoDiT, FrameAutoencoder]:
        """The VideoDiT and autoencoder in ``weights`` on this engine's device, read from disk
        only when the process does not hold them already (other weights in the slot are
        released)."""
        folder = Path(weights).resolve() if weights else DEFAULT_WEIGHTS
        # keyed by the resolved folder; loaded by the name the user gave, which errors repeat
        return MODELS.get(MODEL_SLOT, (str(folder), self.device),
                          lambda: load_model(weights, self.device))

    @staticmethod
    def prompts_for(params: DiTParams) -> list[str]:
        if params.label == "all":
            return list(LABELS) * max(1, params.num_clips // len(LABELS))
        prompt = params.label or params.prompt
        try:
            tokenize(prompt)
        except PromptError as e:
            raise ParamError("param prompt", str(e)) from None
        return [prompt] * params.num_clips

    def condition(self, vae: FrameAutoencoder, inputs: dict[str, Any], n: int) -> torch.Tensor | None:
        """(n, F, C + 1, h, w) latents of the given first / last frames and their mask, or None."""
        from .autoencoder import encode_clips
        from .data import frames_to_tensor
        from .sample import frame_condition
        given = {k: model_frame(inputs[k], k)
                 for k in ("image", "last_image") if k in inputs}
        if not given:
            return None
        frames = np.zeros((NUM_FRAMES, SIZE, SIZE, 3), np.uint8)
        if "image" in given:
            frames[0] = given["image"]
        if "last_image" in given:
            frames[-1] = given["last_image"]
        with torch.no_grad():
            z = encode_clips(vae, frames_to_tensor(frames)[None]).float()     # (1, F, C, h, w)
        flags = [torch.tensor(["image" in given]), torch.tensor(["last_image" in given])]
        return frame_condition(z, *flags).expand(n, -1, -1, -1, -1)

    def stream(self, inputs: dict[str, Any], params: DiTParams, generator: Any = None) -> FrameStream:
        prompts = self.prompts_for(params)
        model, vae = self.models(params.weights)
        cond = self.condition(vae, inputs, len(prompts))
        gen = torch_generator(generator, default=params.seed)
        extras: dict[str, Any] = {"prompts": prompts}
        cells = math.ceil(math.sqrt(len(prompts)))
        rows = math.ceil(len(prompts) / cells)
        width = (cells * (SIZE + 1) + 1) * params.upscale
        height = (rows * (SIZE + 1) + 1) * params.upscale

        def frames():
            from .autoencoder import decode_clips
            from .sample import sample_latents
            from .text import token_batch
            latents = sample_latents(model, token_batch(prompts), cond, steps=params.steps,
                                     guidance_scale=params.guidance_scale, generator=gen,
                                     guidance_min_noise=params.guidance_min_noise,
                                     progress=SHOW_PROGRESS.get())
            with torch.no_grad():
                extras["clips"] = to_uint8(decode_clips(vae, latents))      # (N, F, h, w, 3)
            yield from grid_frames(extras["clips"], params.upscale)

        def save_clips(path: Path) -> None:
            """The raw clips (N, F, h, w, 3) uint8 and their prompts, as .npz."""
            with atomic_output(path) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez_compressed(fh, clips=extras["clips"], prompts=np.array(extras["prompts"]))

        return FrameStream(frames(), fps=params.fps, size=(width - width % 2, height - height % 2),
                           num_frames=NUM_FRAMES, extras=extras,
                           side_outputs={"clips": save_clips},
                           export_suffixes={"clips": (".npz",)})


class DiTGeneratePipeline(Pipeline):
    name = "dit.generate"
    title = "DiT generator"
    help = ("Generate short clips of a shape moving as a prompt says, optionally from a given "
            "first and/or last frame, with a small latent video diffusion transformer trained "
            "in this project (shipped in assets/dit).")
    inputs = (InputSpec("image", "image", "first frame to animate (optional; a shape on a muted "
                        "background, shown at 32x32)", required=False),
              InputSpec("last_image", "image", "last frame to reach (optional; with image: "
                        "in-betweening)", required=False, advanced=True))
    Params = DiTParams
    engines = {"dit": DiTEngine}
    default_engine = "dit"
    studio_order = 50
    # The first is the studio's one-click example: 4 clips keep it a few seconds on a CPU.
    examples = (
        {"label": "a small green triangle moving left fast, 4 clips", "inputs": {},
         "params": {"prompt": "a small green triangle moving left fast", "num_clips": 4, "seed": 3}},
        {"label": "a drawn triangle, animated: a triangle moving up slow", "inputs": {"image": "dit/drawn_triangle.png"},
         "params": {"prompt": "a triangle moving up slow", "num_clips": 4, "seed": 1}},
        {"label": "in-between a first and a last frame", "inputs": {
            "image": "dit/tween_first.png", "last_image": "dit/tween_last.png"},
         "params": {"prompt": "", "num_clips": 4, "seed": 2}},
        {"label": "all 12 old labels", "inputs": {}, "params": {"label": "all", "seed": 0}},
    )

    @classmethod
    def studio_extras(cls, ctx) -> None:
        """The studio tab's own part: draw a first or last frame on a canvas."""
        from .studio import extras      # imports gradio: only when the tab is built
        extras(ctx)
