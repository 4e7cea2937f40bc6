"""Stable Video Diffusion components, shared by every SVD-based engine.

One place that knows how to get the five parts of an SVD checkpoint (spatio-temporal UNet,
temporal-decoder VAE, CLIP image encoder + its feature extractor, Euler scheduler):

* :func:`load_svd_components` — from a local folder in the diffusers layout
  (``unet/ vae/ image_encoder/ feature_extractor/ scheduler/``) or a hub id already in the
  local Hugging Face cache (``local_files_only``: nothing is ever downloaded). Missing or
  broken weights raise :class:`~animakit.errors.WeightsNotFoundError` naming what was tried.
* :func:`tiny_svd_components` — tiny random-weight parts (the diffusers test-suite sizes) for
  end-to-end tests on CPU in seconds.
* :func:`img2vid_xt_configs` / :func:`random_svd_components` — the real
  ``stable-video-diffusion-img2vid-xt`` configs, to build full-size random-weight models for
  GPU speed / memory benchmarks.

Plus the shared steps every SVD sampler needs, with shapes stated:
:func:`encode_clip_image`, :func:`encode_vae_latents`, :func:`decode_vae_latents`,
:func:`added_time_ids`, and the switches :func:`enable_fast_attention` /
:func:`enable_low_memory`.

Example::

    from animakit.svd import load_svd_components
    parts = load_svd_components("/models/svd-xt", torch_dtype=torch.float16).to("cuda")
    pipe = parts.as_pipeline()          # a diffusers StableVideoDiffusionPipeline
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable

import torch

from .errors import ParamError, WeightsNotFoundError

SUBFOLDERS = ("unet", "vae", "image_encoder", "feature_extractor", "scheduler")
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
    """The five parts of a Stable Video Diffusion checkpoint, plus where they came from."""
    unet: Any                # diffusers.UNetSpatioTemporalConditionModel
    vae: Any                 # diffusers.AutoencoderKLTemporalDecoder
    image_encoder: Any       # transformers.CLIPVisionModelWithProjection
    feature_extractor: Any   # transformers.CLIPImageProcessor
    scheduler: Any           # diffusers.EulerDiscreteScheduler
    source: str = "<random>"
    execution_device: torch.device | None = None   # set by CPU offload: where the nets run

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
        return {"unet": self.unet, "vae": self.vae, "image_encoder": self.image_encoder}

    def to(self, device: str | torch.device | None = None,
           dtype: torch.dtype | None = None) -> "SVDComponents":
        """Move the three networks in place; returns self."""
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
        return StableVideoDiffusionPipeline(unet=self.unet, vae=self.vae,
                                            image_encoder=self.image_encoder,
                                            scheduler=self.scheduler,
                                            feature_extractor=self.feature_extractor)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("source", "execution_device")}


# -- loading --------------------------------------------------------------------------------
def resolve_device_dtype(device: str = "auto", dtype: str = "auto") -> tuple[str, torch.dtype]:
    """The torch device and dtype that ``device`` / ``dtype`` params name. ``auto`` means
    CUDA when available and float16 there, float32 on the CPU. Raises :class:`ParamError`."""
    device = device if device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        torch.device(device)
    except RuntimeError:
        raise ParamError("param device", f"{device!r} is not a torch device") from None
    dtypes = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}
    if dtype != "auto" and dtype not in dtypes:
        raise ParamError("param dtype", f"{dtype!r} is not one of auto, {', '.join(dtypes)}")
    return device, dtypes.get(dtype, torch.float16 if device.startswith("cuda") else torch.float32)


class ComponentCache:
    """An engine's loaded SVD components: loaded on first use, reloaded only when the
    weights, device, dtype or a memory switch change; :meth:`use` injects prebuilt ones
    (tiny random components in tests)."""

    def __init__(self):
        self.components: SVDComponents | None = None
        self.key: tuple | None = None
        self.attention_backend = ""

    def use(self, comps: SVDComponents) -> None:
        self.components, self.key = comps, ("<given>",)

    def get(self, weights: str | None, device: str = "auto", dtype: str = "auto", *,
            cpu_offload: bool = False, attention: str = "auto",
            forward_chunking: bool | None = None) -> SVDComponents:
        if self.key == ("<given>",):
            return self.components
        dev, torch_dtype = resolve_device_dtype(device, dtype)
        key = (weights, torch_dtype, dev, cpu_offload, attention, forward_chunking)
        if self.key != key:
            self.components = None
            comps = load_svd_components(weights or None, torch_dtype=torch_dtype)
            if cpu_offload and dev.startswith("cuda"):
                enable_model_cpu_offload(comps, dev)
            else:
                comps.to(dev)
            self.attention_backend = enable_fast_attention(comps, attention)
            if forward_chunking is not None:
                enable_low_memory(comps, forward_chunking=forward_chunking)
            self.components, self.key = comps, key
        return self.components


class SVDComponentsUser:
    """Engine side of :class:`ComponentCache`, shared by the SVD-based engines: components
    injected with :meth:`use_components` or loaded (and cached) for a render's params, and a
    diffusers-style ``callback_on_step_end``. :meth:`load_options` adds an engine's own
    loading params."""

    def __init__(self) -> None:
        self._cache = ComponentCache()
        self.callback_on_step_end: Callable[[int, float, dict], Any] | None = None

    def use_components(self, comps: SVDComponents):
        """Use already-built components (e.g. tiny random ones in tests) instead of loading."""
        self._cache.use(comps)
        return self

    def load_options(self, p: Any) -> dict[str, Any]:
        return {"cpu_offload": p.cpu_offload}

    def components(self, p: Any) -> SVDComponents:
        """Loaded components for params ``p`` (cached while weights / dtype / device match)."""
        if p is None:                  # whatever is in use now (injected or already loaded)
            return self._cache.components
        return self._cache.get(p.weights, p.device, p.dtype, **self.load_options(p))


def _looks_like_hub_id(text: str) -> bool:
    parts = text.split("/")
    return len(parts) == 2 and all(parts) and not text.startswith((".", "/", "~"))


def resolve_weights(weights: str | os.PathLike | None, env: str = "ANIMAKIT_SVD_WEIGHTS") -> str:
    """The folder or hub id to load: ``weights`` if given, else ``$ANIMAKIT_SVD_WEIGHTS``.
    Raises :class:`WeightsNotFoundError` when neither is set, or a folder does not exist."""
    value = str(weights) if weights else os.environ.get(env, "")
    if not value:
        raise WeightsNotFoundError("weights", f"no SVD weights given (and ${env} is not set); "
                                              f"{WEIGHTS_HINT}")
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


# -- configs ----------------------------------------------------------------------------------
def img2vid_xt_configs() -> dict[str, dict]:
    """The configs of ``stabilityai/stable-video-diffusion-img2vid-xt``, one dict per part
    (``unet``, ``vae``, ``image_encoder``, ``feature_extractor``, ``scheduler``)."""
    return copy.deepcopy({
        "unet": dict(
            sample_size=96, in_channels=8, out_channels=4, num_frames=25,
            down_block_types=("CrossAttnDownBlockSpatioTemporal",) * 3 + ("DownBlockSpatioTemporal",),
            up_block_types=("UpBlockSpatioTemporal",) + ("CrossAttnUpBlockSpatioTemporal",) * 3,
            block_out_channels=(320, 640, 1280, 1280), addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=768, layers_per_block=2, cross_attention_dim=1024,
            transformer_layers_per_block=1, num_attention_heads=(5, 10, 20, 20)),
        "vae": dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                    block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
                    sample_size=768, scaling_factor=0.18215, force_upcast=True),
        "image_encoder": dict(hidden_size=1280, intermediate_size=5120, projection_dim=1024,
                              num_hidden_layers=32, num_attention_heads=16, image_size=224,
                              patch_size=14, hidden_act="gelu", layer_norm_eps=1e-5),
        "feature_extractor": dict(crop_size=224, size={"shortest_edge": 224}, do_center_crop=True,
                                  do_normalize=True, do_resize=True, do_rescale=True,
                                  image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD), resample=3),
        "scheduler": _svd_scheduler_config(),
    })


def tiny_svd_configs(num_frames: int = 8) -> dict[str, dict]:
    """Tiny configs (the sizes of diffusers' SVD fast tests): a UNet of a few hundred k
    parameters, a 2x-downsampling VAE, a 32-px CLIP. Same keys as :func:`img2vid_xt_configs`.
    ``num_frames`` is the UNet's nominal clip length (engines chain segments beyond it)."""
    return copy.deepcopy({
        "unet": dict(
            sample_size=32, in_channels=8, out_channels=4, num_frames=num_frames,
            down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
            up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
            block_out_channels=(32, 64), layers_per_block=2, cross_attention_dim=32,
            num_attention_heads=8, projection_class_embeddings_input_dim=96,
            addition_time_embed_dim=32),
        "vae": dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                    block_out_channels=(32, 64), latent_channels=4),
        "image_encoder": dict(hidden_size=32, projection_dim=32, num_hidden_layers=5,
                              num_attention_heads=4, image_size=32, intermediate_size=37,
                              patch_size=1),
        "feature_extractor": dict(crop_size=32, size=32),
        "scheduler": _svd_scheduler_config(),
    })


def _svd_scheduler_config() -> dict:
    return dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                beta_schedule="scaled_linear", interpolation_type="linear",
                prediction_type="v_prediction", sigma_min=0.002, sigma_max=700.0, steps_offset=1,
                timestep_spacing="leading", timestep_type="continuous", use_karras_sigmas=True)


def random_svd_components(configs: dict[str, dict] | None = None, *, seed: int = 0,
                          torch_dtype: torch.dtype | None = None,
                          device: str | torch.device | None = None) -> SVDComponents:
    """SVD parts with random weights built from ``configs`` (default: the real img2vid-xt
    sizes — about 2.3 GB of parameters; build on the GPU with ``device="cuda"``)."""
    from diffusers import (AutoencoderKLTemporalDecoder, EulerDiscreteScheduler,
                           UNetSpatioTemporalConditionModel)
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    cfg = configs if configs is not None else img2vid_xt_configs()
    ctx = torch.device(device) if device is not None else torch.device("cpu")
    with ctx:
        torch.manual_seed(seed)
        unet = UNetSpatioTemporalConditionModel(**cfg["unet"])
        torch.manual_seed(seed)
        vae = AutoencoderKLTemporalDecoder(**cfg["vae"])
        torch.manual_seed(seed)
        image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(**cfg["image_encoder"]))
    comps = SVDComponents(unet=unet, vae=vae, image_encoder=image_encoder,
                          feature_extractor=CLIPImageProcessor(**cfg["feature_extractor"]),
                          scheduler=EulerDiscreteScheduler(**cfg["scheduler"]),
                          source="<random>").eval()
    if torch_dtype is not None:
        comps.to(dtype=torch_dtype)
    return comps


def tiny_svd_components(seed: int = 0, num_frames: int = 8) -> SVDComponents:
    """Tiny random-weight SVD parts for CPU tests (seconds per clip, deterministic per seed)."""
    return random_svd_components(tiny_svd_configs(num_frames), seed=seed)


# -- switches -------------------------------------------------------------------------------
def enable_fast_attention(comps: SVDComponents, prefer: str = "auto") -> str:
    """Use xformers when installed and ``prefer`` allows it, else PyTorch SDPA.
    Returns the backend chosen: ``"xformers"`` or ``"sdpa"``."""
    if prefer in ("auto", "xformers") and comps.device.type == "cuda":
        try:
            import xformers  # noqa: F401
            comps.unet.enable_xformers_memory_efficient_attention()
            comps.vae.enable_xformers_memory_efficient_attention()
            return "xformers"
        except Exception:   # not installed or not built for this GPU: fall through to SDPA
            pass
    from diffusers.models.attention_processor import AttnProcessor2_0
    comps.unet.set_attn_processor(AttnProcessor2_0())
    comps.vae.set_attn_processor(AttnProcessor2_0())
    return "sdpa"


def enable_low_memory(comps: SVDComponents, *, forward_chunking: bool = True) -> None:
    """UNet feed-forward chunking (one frame at a time through the FF layers) to cut the
    activation peak. Combine with CPU offload (:func:`enable_model_cpu_offload`) and a small
    ``decode_chunk_size``."""
    if forward_chunking:
        comps.unet.enable_forward_chunking(chunk_size=1, dim=1)


def enable_model_cpu_offload(comps: SVDComponents, device: str | torch.device = "cuda") -> Any:
    """Keep each network on the CPU until it runs (accelerate hooks, diffusers' order
    image_encoder -> unet -> vae). Returns the diffusers pipeline that owns the hooks; call
    the networks directly as usual — the hooks move them."""
    pipe = comps.as_pipeline()
    pipe.enable_model_cpu_offload(device=device)
    comps.execution_device = torch.device(device)
    return pipe


# -- shared steps -------------------------------------------------------------------------
def encode_clip_image(comps: SVDComponents, image: torch.Tensor) -> torch.Tensor:
    """CLIP image embeddings of ``image`` (B, 3, H, W) in [0, 1]: (B, 1, D).

    Resized with antialiasing to the encoder's input size and CLIP-normalised, as SVD does."""
    import torch.nn.functional as F
    size = int(comps.image_encoder.config.image_size)
    mean = torch.tensor(getattr(comps.feature_extractor, "image_mean", CLIP_MEAN))
    std = torch.tensor(getattr(comps.feature_extractor, "image_std", CLIP_STD))
    x = image.float().to(comps.device)
    x = F.interpolate(x, size=(size, size), mode="bicubic", antialias=True, align_corners=False)
    x = (x.clamp(0, 1) - mean.view(1, 3, 1, 1).to(x)) / std.view(1, 3, 1, 1).to(x)
    x = x.to(comps.image_encoder.dtype)
    return comps.image_encoder(x).image_embeds.unsqueeze(1)


def encode_vae_latents(comps: SVDComponents, frames: torch.Tensor, *, sample: bool = False,
                       generator: torch.Generator | None = None, chunk_size: int = 8) -> torch.Tensor:
    """VAE latents (N, 4, H/f, W/f) of ``frames`` (N, 3, H, W) in [-1, 1], unscaled (multiply
    by ``vae.config.scaling_factor`` for diffusion space). ``sample=False`` takes the mode."""
    vae = comps.vae
    upcast = vae.dtype == torch.float16 and getattr(vae.config, "force_upcast", False)
    if upcast:      # the SD encoder overflows in float16; run it in float32 like diffusers
        vae.encoder.float()
        vae.quant_conv.float()
    try:
        out = []
        dtype = torch.float32 if upcast else vae.dtype
        for i in range(0, frames.shape[0], chunk_size):
            x = frames[i:i + chunk_size].to(comps.device, dtype)
            dist = vae.encode(x).latent_dist
            out.append(dist.sample(generator) if sample else dist.mode())
    finally:
        if upcast:
            vae.encoder.half()
            vae.quant_conv.half()
    return torch.cat(out)


def decode_vae_latents(comps: SVDComponents, latents: torch.Tensor,
                       chunk_size: int = 8) -> torch.Tensor:
    """Frames (N, 3, H, W) in [-1, 1], float32, from diffusion-space latents (N, 4, h, w):
    divided by the scaling factor, decoded ``chunk_size`` frames at a time (the temporal
    decoder mixes frames inside a chunk; smaller chunks use less memory)."""
    scale = comps.vae.config.scaling_factor
    out = []
    for i in range(0, latents.shape[0], max(1, chunk_size)):
        z = latents[i:i + chunk_size].to(comps.device, comps.vae.dtype) / scale
        out.append(comps.vae.decode(z, num_frames=z.shape[0]).sample.float())
    return torch.cat(out)


def added_time_ids(comps: SVDComponents, fps: int, motion_bucket_id: int, noise_aug_strength: float,
                   batch: int = 1) -> torch.Tensor:
    """SVD micro-conditioning (batch, 3): ``[fps - 1, motion_bucket_id, noise_aug_strength]``
    (SVD was trained on fps - 1). Checked against the UNet's embedding width."""
    ids = torch.tensor([[fps - 1, motion_bucket_id, noise_aug_strength]], dtype=torch.float32)
    expected = comps.unet.add_embedding.linear_1.in_features
    got = comps.unet.config.addition_time_embed_dim * 3
    if expected != got:
        raise ValueError(f"UNet expects an added-time embedding of {expected}, config gives {got}")
    return ids.repeat(batch, 1)
