"""The five parts of a Stable Video Diffusion checkpoint, and reading them from disk.

:func:`load_svd_components` reads a local folder in the diffusers layout (``unet/ vae/
image_encoder/ feature_extractor/ scheduler/``) or a hub id already in the local Hugging
Face cache (``local_files_only``: nothing is ever downloaded). Missing or broken weights
raise :class:`~animakit.errors.WeightsNotFoundError` naming what was tried.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from ..errors import WeightsNotFoundError

SUBFOLDERS = ("unet", "vae", "image_encoder", "feature_extractor", "scheduler")
WEIGHTS_ENV = "ANIMAKIT_SVD_WEIGHTS"
WEIGHTS_HINT = ("point at an SVD checkpoint with the weights parameter (CLI: -p weights=/path/to/folder, "
                "or set $ANIMAKIT_SVD_WEIGHTS): a diffusers folder holding unet/ vae/ image_encoder/ "
                "feature_extractor/ scheduler/ (e.g. a local copy of "
                "stabilityai/stable-video-diffusion-img2vid-xt), or a hub id already in the local "
                "Hugging Face cache; nothing is downloaded")

# CLIP normalisation used by SVD's feature extractor (OpenAI CLIP statistics).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass
class SVDComponents:
    """The five parts of a Stable Video Diffusion checkpoint, plus where they came from and
    how they were placed. ``extra`` holds an engine's own networks that travel with the parts
    (moved and cast with them, e.g. a pose guider or another adapter network)."""
    unet: Any                # diffusers.UNetSpatioTemporalConditionModel
    vae: Any                 # diffusers.AutoencoderKLTemporalDecoder
    image_encoder: Any       # transformers.CLIPVisionModelWithProjection
    feature_extractor: Any   # transformers.CLIPImageProcessor
    scheduler: Any           # diffusers.EulerDiscreteScheduler
    source: str = "<random>"
    execution_device: torch.device | None = None   # set by CPU offload: where the nets run
    attention_backend: str = ""                    # set when placed: "sdpa" or "xformers"
    extra: dict[str, torch.nn.Module] = field(default_factory=dict)

    @property
    def vae_scale_factor(self) -> int:
        """Pixels per latent cell (8 for real SVD, 2 for the tiny test VAE)."""
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def device(self) -> torch.device:
        """Where the networks run (the GPU under CPU offload, though weights sit on the CPU)."""
        return self.execution_device or self.unet.device

    @property
    def dtype(self) -> torch.dtype:
        return self.unet.dtype

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"unet": self.unet, "vae": self.vae, "image_encoder": self.image_encoder,
                **self.extra}

    def to(self, device: str | torch.device | None = None,
           dtype: torch.dtype | None = None) -> "SVDComponents":
        """Move the networks in place; returns self."""
        for m in self.modules().values():
            m.to(device=device, dtype=dtype)
        return self

    def eval(self) -> "SVDComponents":
        for m in self.modules().values():
            m.eval().requires_grad_(False)
        return self

    def fresh_scheduler(self) -> Any:
        """A new scheduler from the same config (schedulers keep per-run state)."""
        return type(self.scheduler).from_config(self.scheduler.config)

    def as_pipeline(self) -> Any:
        """A diffusers ``StableVideoDiffusionPipeline`` sharing these modules (no copy)."""
        from diffusers import StableVideoDiffusionPipeline
        return StableVideoDiffusionPipeline(**self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        """The five parts by name (the diffusers pipeline's keyword arguments)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in SUBFOLDERS}


def _looks_like_hub_id(text: str) -> bool:
    parts = text.split("/")
    return len(parts) == 2 and all(parts) and not text.startswith((".", "/", "~"))


def weights_source(weights: str | os.PathLike | None) -> str:
    """What a ``weights`` param names: itself, or ``$ANIMAKIT_SVD_WEIGHTS`` when empty."""
    return str(weights) if weights else os.environ.get(WEIGHTS_ENV, "")


def resolve_weights(weights: str | os.PathLike | None) -> str:
    """The folder or hub id to load: ``weights`` if given, else ``$ANIMAKIT_SVD_WEIGHTS``.
    Raises :class:`WeightsNotFoundError` when neither is set, or a folder does not exist."""
    value = weights_source(weights)
    if not value:
        raise WeightsNotFoundError("weights", f"no SVD weights given (and ${WEIGHTS_ENV} is not "
                                              f"set); {WEIGHTS_HINT}")
    path = Path(value).expanduser()
    if path.exists():
        if not path.is_dir():
            raise WeightsNotFoundError(path, f"is a file, not a checkpoint folder; {WEIGHTS_HINT}")
        missing = [s for s in SUBFOLDERS if not (path / s).is_dir()]
        if missing:
            raise WeightsNotFoundError(path, f"is not an SVD checkpoint folder (missing "
                                             f"{', '.join(m + '/' for m in missing)}); {WEIGHTS_HINT}")
        return str(path)
    if not _looks_like_hub_id(value):
        raise WeightsNotFoundError(value, f"no such folder; {WEIGHTS_HINT}")
    return value


def load_svd_components(weights: str | os.PathLike | None, *, torch_dtype: torch.dtype | None = None,
                        variant: str | None = None, device: str | torch.device | None = None,
                        ) -> SVDComponents:
    """Load the five SVD parts from a local folder or a cached hub id (never downloads).

    ``variant="fp16"`` picks ``*.fp16.safetensors`` files when the checkpoint has them.
    Only safetensors weights are read. Raises :class:`WeightsNotFoundError` naming the
    folder / id tried and how to point at one.
    """
    from diffusers import (AutoencoderKLTemporalDecoder, EulerDiscreteScheduler,
                           UNetSpatioTemporalConditionModel)
    from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

    source = resolve_weights(weights)
    common = {"local_files_only": True}
    model_kw = {**common, "torch_dtype": torch_dtype, "use_safetensors": True}
    if variant:
        model_kw["variant"] = variant
    loaders = {
        "unet": lambda: UNetSpatioTemporalConditionModel.from_pretrained(source, subfolder="unet",
                                                                         **model_kw),
        "vae": lambda: AutoencoderKLTemporalDecoder.from_pretrained(source, subfolder="vae", **model_kw),
        "image_encoder": lambda: CLIPVisionModelWithProjection.from_pretrained(
            source, subfolder="image_encoder", **{k: v for k, v in model_kw.items()
                                                  if k != "torch_dtype"},
            **({"dtype": torch_dtype} if torch_dtype is not None else {})),
        "feature_extractor": lambda: CLIPImageProcessor.from_pretrained(
            source, subfolder="feature_extractor", **common),
        "scheduler": lambda: EulerDiscreteScheduler.from_pretrained(source, subfolder="scheduler",
                                                                    **common),
    }
    parts = {}
    for name, load in loaders.items():
        try:
            parts[name] = load()
        except (OSError, ValueError, EnvironmentError, KeyError) as e:
            raise WeightsNotFoundError(source, f"{_load_problem(source, name, e)}; "
                                               f"{WEIGHTS_HINT}") from None
    comps = SVDComponents(**parts, source=source).eval()
    if device is not None:
        comps.to(device)
    return comps


def _load_problem(source: str, part: str, error: Exception) -> str:
    if not Path(source).exists():
        from huggingface_hub.constants import HF_HUB_CACHE
        return f"the SVD {part} is not in the local Hugging Face cache ({HF_HUB_CACHE})"
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"could not load the SVD {part} ({reason[:200]})"
