"""``dit.generate``: class-conditional video generation with the shipped VideoDiT.

    pipe = animakit.load_pipeline("dit.generate")
    out = pipe(label="disk-right", seed=0, num_clips=4)      # frames: 2x2 grid of clips

    animakit run dit.generate --label square-up --num-clips 4 -o square_up.mp4
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
from animakit.media import atomic_output
from animakit.params import param
from animakit.pipeline import Engine, FrameStream, Pipeline
from animakit.render import SHOW_PROGRESS
from animakit.seeding import torch_generator

from .data import LABELS, to_uint8
from .settings import DEFAULT_GUIDANCE, DEFAULT_STEPS

if TYPE_CHECKING:
    from .models import VideoDiT

DEFAULT_WEIGHTS = ASSETS / "dit"
MODEL_SLOT = "dit.generate/dit"      # the process-wide cache slot of the loaded VideoDiT
LABEL_CHOICES = LABELS + ("all",)


@dataclass
class DiTParams:
    label: str = param("disk-right", "what to generate: shape-direction, or 'all' for one clip per "
                       "label", choices=LABEL_CHOICES)
    seed: int = param(0, "random seed of the initial noise", min=0, max=2**31 - 1)
    steps: int = param(DEFAULT_STEPS, "flow-matching Euler steps", min=1, max=200, advanced=True)
    guidance_scale: float = param(DEFAULT_GUIDANCE, "classifier-free guidance (1 = off)",
                                  min=0.0, max=20.0, advanced=True)
    num_clips: int = param(1, "clips to generate, laid out as a grid in each frame "
                           "('all' makes one per label)", min=1, max=64)
    fps: float = param(8.0, "output frame rate", min=1, max=60, advanced=True)
    upscale: int = param(8, "nearest-neighbour display upscale of the 32x32 clips", min=1, max=32, advanced=True)
    weights: str = param("", "folder of a trained VideoDiT (config.json + safetensors); "
                         "empty = the shipped assets/dit", advanced=True)


def load_model(weights: str | Path | None = None, device: str | torch.device = "cpu") -> VideoDiT:
    """The VideoDiT saved in ``weights`` (default: the shipped ``assets/dit``), in eval mode.
    (diffusers is imported here, not with the module: listing the pipeline stays light.)"""
    from .models import VideoDiT
    folder = Path(weights) if weights else DEFAULT_WEIGHTS
    if not (folder / "config.json").is_file() or not any(folder.glob("*.safetensors")):
        raise WeightsNotFoundError(folder, "no VideoDiT here (needs config.json and a .safetensors "
                                           "file); train one with `python -m dit.train --out "
                                           "FOLDER` and set the weights param to FOLDER")
    try:
        model = VideoDiT.from_pretrained(folder, local_files_only=True, use_safetensors=True)
    except (OSError, ValueError, RuntimeError, KeyError) as e:
        raise WeightsNotFoundError(folder, f"could not load a VideoDiT: {e}") from None
    return model.to(device).eval()


def grid_frames(clips: np.ndarray, upscale: int) -> np.ndarray:
    """clips (N, F, h, w, 3) uint8 -> (F, H, W, 3) uint8 frames, clips tiled in a near-square
    grid with a 1-pixel (pre-upscale) dark gutter, upscaled by nearest neighbour, even size."""
    n, f, h, w, _ = clips.shape
    cols = math.ceil(math.sqrt(n))
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
    help = "the shipped VideoDiT (rectified flow, classifier-free guidance); CPU or GPU"
    neural = True
    weights_included = True          # the checkpoint ships in assets/dit

    def __init__(self) -> None:
        self.device = "cuda" if torch.cuda.is_available() else "cpu"

    def model(self, weights: str) -> VideoDiT:
        """The VideoDiT in ``weights`` on this engine's device, read from disk only when the
        process does not hold it already (other weights held in the slot are released)."""
        folder = Path(weights).resolve() if weights else DEFAULT_WEIGHTS
        # keyed by the resolved folder; loaded by the name the user gave, which errors repeat
        return MODELS.get(MODEL_SLOT, (str(folder), self.device),
                          lambda: load_model(weights, self.device))

    def labels_for(self, params: DiTParams) -> list[int]:
        if params.label == "all":
            return list(range(len(LABELS))) * max(1, params.num_clips // len(LABELS))
        return [LABELS.index(params.label)] * params.num_clips

    def stream(self, inputs: dict[str, Any], params: DiTParams, generator: Any = None) -> FrameStream:
        model = self.model(params.weights)
        if model.config.num_classes != len(LABELS):
            raise ParamError("param weights", f"{params.weights}: model has "
                             f"{model.config.num_classes} classes, expected {len(LABELS)}")
        labels = self.labels_for(params)
        gen = torch_generator(generator, default=params.seed)
        extras: dict[str, Any] = {"labels": [LABELS[i] for i in labels]}
        cells = math.ceil(math.sqrt(len(labels)))
        rows = math.ceil(len(labels) / cells)
        size = model.config.sample_size
        width = (cells * (size + 1) + 1) * params.upscale
        height = (rows * (size + 1) + 1) * params.upscale

        def frames():
            from .sample import sample_clips
            clips = sample_clips(model, labels, steps=params.steps,
                                 guidance_scale=params.guidance_scale, generator=gen,
                                 progress=SHOW_PROGRESS.get())
            extras["clips"] = to_uint8(clips)                   # (N, F, h, w, 3)
            yield from grid_frames(extras["clips"], params.upscale)

        def save_clips(path: Path) -> None:
            """The raw clips (N, F, h, w, 3) uint8 and their labels, as .npz."""
            with atomic_output(path) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez_compressed(fh, clips=extras["clips"], labels=np.array(extras["labels"]))

        return FrameStream(frames(), fps=params.fps, size=(width - width % 2, height - height % 2),
                           num_frames=model.config.num_frames, extras=extras,
                           side_outputs={"clips": save_clips},
                           export_suffixes={"clips": (".npz",)})


class DiTGeneratePipeline(Pipeline):
    name = "dit.generate"
    title = "DiT generator"
    help = ("Generate short clips of a shape moving in a direction with a small spatio-temporal "
            "diffusion transformer trained in this project (shipped in assets/dit).")
    inputs = ()
    Params = DiTParams
    engines = {"dit": DiTEngine}
    default_engine = "dit"
    studio_order = 50
    # The first is the studio's one-click example: 4 clips keep it a few seconds on a CPU.
    examples = (
        {"label": "square moving up, 4 clips", "inputs": {},
         "params": {"label": "square-up", "num_clips": 4, "seed": 3}},
        {"label": "all 12 labels", "inputs": {}, "params": {"label": "all", "seed": 0}},
    )

