"""Loading the AnimateDiff video-to-video model from weights the user supplies.

Three parts, each a local folder or a hub id already in the Hugging Face cache (nothing is
downloaded):

- ``weights``: a Stable Diffusion 1.5 checkpoint in diffusers layout (``unet/``, ``vae/``,
  ``text_encoder/``, ``tokenizer/``, ``scheduler/``), e.g. a fine-tune for a style;
- ``motion_adapter``: an AnimateDiff ``MotionAdapter`` (``config.json`` +
  ``diffusion_pytorch_model.safetensors``), e.g. ``guoyww/animatediff-motion-adapter-v1-5-3``;
- ``ip_adapter`` (optional): an IP-Adapter ``.safetensors`` file whose folder holds its
  ``image_encoder/`` (the layout of ``h94/IP-Adapter``'s ``models/``).

:func:`cached_pipeline` builds a diffusers ``AnimateDiffVideoToVideoPipeline`` with a DDIM
scheduler (AnimateDiff's: linear betas, linspace timesteps), places it (device, dtype, CPU
offload, attention, VAE slicing, feed-forward chunking) and keeps it in
:data:`animakit.cache.MODELS`, so a second render with the same weights reads nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from animakit.cache import MODELS
from animakit.errors import WeightsNotFoundError
from animakit.svd import resolve_device_dtype

SD_SUBFOLDERS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
HINT = ("give -p weights=<Stable Diffusion 1.5 folder or cached hub id> and "
        "-p motion_adapter=<AnimateDiff motion adapter folder or cached hub id>; "
        "nothing is downloaded")
SLOT = "editing.restyle/animatediff"


@dataclass(frozen=True)
class ADPlacement:
    """What a load depends on (and the cache key of its result)."""
    weights: str
    motion_adapter: str
    ip_adapter: str
    device: str
    dtype: torch.dtype
    cpu_offload: bool = False
    attention: str = "auto"
    vae_slicing: bool = False
    forward_chunking: bool = False


def ad_placement(p: Any) -> ADPlacement:
    device, dtype = resolve_device_dtype(p.device, p.dtype)
    return ADPlacement(p.weights, p.motion_adapter, p.ip_adapter, device, dtype,
                       bool(p.cpu_offload), p.attention, bool(p.vae_slicing),
                       bool(p.forward_chunking))


def _is_hub_id(text: str) -> bool:
    parts = text.split("/")
    return len(parts) == 2 and all(parts) and not text.startswith((".", "/", "~"))


def checked_source(value: str, what: str, param: str, needs: tuple[str, ...] = ()) -> str:
    """``value`` when it names an existing folder holding ``needs`` (or looks like a hub id,
    checked when loading); else :class:`WeightsNotFoundError` naming what is missing."""
    if not value:
        raise WeightsNotFoundError(param, f"no {what} given; {HINT}")
    path = Path(value).expanduser()
    if path.exists():
        if not path.is_dir():
            raise WeightsNotFoundError(value, f"is a file, not a {what} folder; {HINT}")
        missing = [n + "/" for n in needs if not (path / n).is_dir()]
        if missing:
            raise WeightsNotFoundError(value, f"is not a {what} folder (missing "
                                              f"{', '.join(missing)}); {HINT}")
        return str(path)
    if not _is_hub_id(value):
        raise WeightsNotFoundError(value, f"no such {what} folder; {HINT}")
    return value


def checked_ip_adapter(value: str) -> Path:
    """The IP-Adapter ``.safetensors`` file, its folder holding ``image_encoder/``."""
    path = Path(value).expanduser()
    if not path.is_file() or path.suffix != ".safetensors":
        raise WeightsNotFoundError(value, "no IP-Adapter weights here: give -p ip_adapter=<an "
                                          "ip-adapter_sd15.safetensors file whose folder holds "
                                          "image_encoder/>; nothing is downloaded")
    if not (path.parent / "image_encoder").is_dir():
        raise WeightsNotFoundError(value, "its folder has no image_encoder/ (the IP-Adapter's "
                                          "CLIP image encoder, as in h94/IP-Adapter models/)")
    return path


def _load(kind: str, source: str, fn: Any) -> Any:
    try:
        return fn()
    except (OSError, ValueError, KeyError, EnvironmentError) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        if not Path(source).exists():
            reason = "not in the local Hugging Face cache"
        raise WeightsNotFoundError(source, f"could not load the {kind} ({reason}); "
                                           f"{HINT}") from None


def load_pipeline(where: ADPlacement) -> Any:
    """A placed diffusers ``AnimateDiffVideoToVideoPipeline`` for ``where``."""
    sd = checked_source(where.weights, "Stable Diffusion 1.5 checkpoint", "weights",
                        SD_SUBFOLDERS)
    ma = checked_source(where.motion_adapter, "AnimateDiff motion adapter", "motion_adapter")
    ip = checked_ip_adapter(where.ip_adapter) if where.ip_adapter else None
    from diffusers import (AnimateDiffVideoToVideoPipeline, AutoencoderKL, DDIMScheduler,
                           MotionAdapter, UNet2DConditionModel)
    from transformers import CLIPTextModel, CLIPTokenizer
    kw = {"local_files_only": True}
    mkw = {**kw, "use_safetensors": True, "torch_dtype": where.dtype}
    parts = {
        "unet": _load("SD 1.5 unet", sd, lambda: UNet2DConditionModel.from_pretrained(
            sd, subfolder="unet", **mkw)),
        "vae": _load("SD 1.5 vae", sd, lambda: AutoencoderKL.from_pretrained(
            sd, subfolder="vae", **mkw)),
        "text_encoder": _load("SD 1.5 text encoder", sd, lambda: CLIPTextModel.from_pretrained(
            sd, subfolder="text_encoder", dtype=where.dtype, **kw, use_safetensors=True)),
        "tokenizer": _load("SD 1.5 tokenizer", sd, lambda: CLIPTokenizer.from_pretrained(
            sd, subfolder="tokenizer", **kw)),
        "scheduler": _load("SD 1.5 scheduler", sd, lambda: DDIMScheduler.from_pretrained(
            sd, subfolder="scheduler", clip_sample=False, timestep_spacing="linspace",
            beta_schedule="linear", steps_offset=1, **kw)),
        "motion_adapter": _load("motion adapter", ma, lambda: MotionAdapter.from_pretrained(
            ma, **mkw)),
    }
    pipe = AnimateDiffVideoToVideoPipeline(**parts)     # builds the UNetMotionModel
    if ip is not None:
        _load("IP-Adapter", str(ip), lambda: pipe.load_ip_adapter(
            str(ip.parent), subfolder="", weight_name=ip.name, image_encoder_folder="image_encoder",
            local_files_only=True))
    if pipe.unet.dtype != where.dtype:
        pipe.to(dtype=where.dtype)
    return place(pipe, where)


def place(pipe: Any, where: ADPlacement) -> Any:
    """Move ``pipe`` where ``where`` says and switch its memory savers on."""
    if where.cpu_offload and where.device.startswith("cuda"):
        pipe.enable_model_cpu_offload(device=where.device)
    else:
        pipe.to(where.device)
    pipe.attention_backend = _attention(pipe, where)
    if where.vae_slicing:
        pipe.vae.enable_slicing()
    if where.forward_chunking:
        pipe.unet.enable_forward_chunking(chunk_size=1, dim=1)
    return pipe


def _attention(pipe: Any, where: ADPlacement) -> str:
    """xformers when installed and allowed on CUDA, else PyTorch SDPA (diffusers' default)."""
    if where.attention in ("auto", "xformers") and where.device.startswith("cuda"):
        try:
            import xformers  # noqa: F401
            pipe.enable_xformers_memory_efficient_attention()
            return "xformers"
        except Exception:    # not installed or not built for this GPU: keep SDPA
            pass
    return "sdpa"


def cached_pipeline(where: ADPlacement) -> Any:
    """The placed pipeline for ``where``, loaded at most once per process while it stays
    the same (another placement releases the old one first)."""
    return MODELS.get(SLOT, (where,), lambda: load_pipeline(where))
