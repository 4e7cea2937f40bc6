"""Where SVD networks run, and loading them once per process.

A :class:`Placement` is everything that decides what a load produces: the weights, device,
dtype and the memory / speed switches (CPU offload, attention backend, UNet feed-forward
chunking). :func:`cached_components` keeps the placed components in
:data:`animakit.cache.MODELS` under the slot ``"svd:<weights>"``, keyed by the placement, so
two engines or two renders with the same weights and placement read them once, and a
render with another device or dtype releases the old copy before loading.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..cache import MODELS
from ..errors import ParamError
from .components import SVDComponents, load_svd_components, weights_source

DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def resolve_device_dtype(device: str = "auto", dtype: str = "auto") -> tuple[str, torch.dtype]:
    """The torch device and dtype that ``device`` / ``dtype`` params name. ``auto`` means
    CUDA when available and float16 there, float32 on the CPU. Raises :class:`ParamError`."""
    device = device if device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        torch.device(device)
    except RuntimeError:
        raise ParamError("param device", f"{device!r} is not a torch device") from None
    if dtype != "auto" and dtype not in DTYPES:
        raise ParamError("param dtype", f"{dtype!r} is not one of auto, {', '.join(DTYPES)}")
    return device, DTYPES.get(dtype, torch.float16 if device.startswith("cuda") else torch.float32)


@dataclass(frozen=True)
class Placement:
    """What a load depends on (and the cache key of its result)."""
    weights: str                   # folder or hub id ("" = none given)
    device: str                    # resolved torch device, e.g. "cuda", "cpu"
    dtype: torch.dtype
    cpu_offload: bool = False      # weights on the CPU until each network runs (CUDA only)
    attention: str = "auto"        # "auto" / "xformers" / "sdpa"
    forward_chunking: bool = False  # UNet feed-forward one frame at a time


def placement(p: Any) -> Placement:
    """The placement an engine's params ask for (see :class:`animakit.svd.SVDParams`)."""
    device, dtype = resolve_device_dtype(p.device, p.dtype)
    return Placement(weights_source(p.weights), device, dtype, bool(p.cpu_offload),
                     p.attention, bool(p.forward_chunking))


def place(comps: SVDComponents, where: Placement) -> SVDComponents:
    """Put ``comps`` where ``where`` says: on the device (or CPU-offloaded), with the attention
    backend and feed-forward chunking switched; returns comps."""
    if where.cpu_offload and where.device.startswith("cuda"):
        enable_model_cpu_offload(comps, where.device)
    else:
        comps.to(where.device)
    comps.attention_backend = enable_fast_attention(comps, where.attention)
    enable_low_memory(comps, forward_chunking=where.forward_chunking)
    return comps


def load_placed(where: Placement,
                prepare: Callable[[SVDComponents], None] | None = None) -> SVDComponents:
    """Components read from ``where.weights`` in its dtype, changed by ``prepare`` (e.g. an
    engine's fine-tuned UNet weights and extra networks) on the CPU, then placed."""
    comps = load_svd_components(where.weights or None, torch_dtype=where.dtype)
    if prepare is not None:
        prepare(comps)
    return place(comps, where)


def cached_components(where: Placement,
                      prepare: Callable[[SVDComponents], None] | None = None, *,
                      tag: str = "", key: tuple = ()) -> SVDComponents:
    """Placed components for ``where``, loaded at most once per process while it (and
    ``key``) stay the same. Engines that change the parts with ``prepare`` name the change
    with ``tag`` (its own slot ``"svd:<weights>+<tag>"``, so the plain parts are not
    touched) and what it depends on with ``key`` (e.g. a checkpoint path)."""
    slot = f"svd:{where.weights}" + (f"+{tag}" if tag else "")
    return MODELS.get(slot, (where, *key), lambda: load_placed(where, prepare))


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
    image_encoder -> unet -> vae); an engine's small ``extra`` networks stay on the device.
    Returns the diffusers pipeline that owns the hooks; call the networks directly as usual —
    the hooks move them."""
    pipe = comps.as_pipeline()
    pipe.enable_model_cpu_offload(device=device)
    comps.execution_device = torch.device(device)
    for m in comps.extra.values():
        m.to(device)
    return pipe
