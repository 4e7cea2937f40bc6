"""The neural "animatediff" engine of ``editing.restyle``: diffusers'
``AnimateDiffVideoToVideoPipeline`` (a Stable Diffusion 1.5 UNet with an AnimateDiff motion
adapter) restyles the clip from a prompt, SDEdit-style: the source frames are VAE-encoded,
noised to ``strength`` and denoised toward the prompt.

The motion module attends over a window of frames (16 for the SD 1.5 adapters). Longer clips
are denoised in **sliding windows with overlap**, all windows at every step: each window's
noise prediction is weighted by a ramp that falls to the window's ends and the overlapping
predictions are averaged before the one scheduler step over the whole clip, so neighbouring
windows agree on their shared frames and no seam appears. For a clip that fits in one
window this is exactly the diffusers pipeline's own loop (a test checks the two agree).

The prompt encoding, IP-Adapter image embedding, VAE encode / decode, scheduler and UNet are
the diffusers pipeline's; only the window loop is ours. Latents of the whole clip are kept
(64 KB per frame at 512 px); frames are decoded and yielded chunk by chunk.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import Any, Callable, Iterator

import cv2
import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from animakit.errors import InputError
from animakit.params import param
from animakit.pipeline import Engine, FrameStream
from animakit.render import SHOW_PROGRESS
from animakit.seeding import torch_generator

from .animatediff_load import ad_placement, cached_pipeline
from .inputs import load_edit_image, open_source_video


def sliding_windows(n: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """``[start, end)`` spans of at most ``window`` frames covering ``0..n``, neighbours
    sharing ``overlap`` frames (the last span ends at ``n``)."""
    if n <= window:
        return [(0, n)]
    stride = max(1, window - overlap)
    starts = list(range(0, n - window, stride)) + [n - window]
    return [(s, s + window) for s in starts]


def window_weights(length: int, overlap: int) -> torch.Tensor:
    """(length,) blend weights: 1 in the middle, ramping down over ``overlap`` frames at
    each end (never 0, so a frame covered by one window keeps it)."""
    w = torch.ones(length)
    ramp = max(1, min(overlap, length // 2))
    for i in range(ramp):
        w[i] = w[length - 1 - i] = (i + 1) / (ramp + 1)
    return w


def model_size(width: int, height: int, long_side: int, multiple: int) -> tuple[int, int]:
    """(width, height) with the long side ``long_side``, both rounded to ``multiple``."""
    s = long_side / max(width, height)
    return (max(multiple, round(width * s / multiple) * multiple),
            max(multiple, round(height * s / multiple) * multiple))


@dataclass
class AnimateDiffParams:
    """The animatediff engine's own settings."""
    weights: str = param("", "Stable Diffusion 1.5 checkpoint (diffusers layout): a folder or "
                         "a hub id already in the local cache; nothing is downloaded")
    motion_adapter: str = param("", "AnimateDiff motion adapter: a folder or cached hub id "
                                "(e.g. guoyww/animatediff-motion-adapter-v1-5-3)")
    ip_adapter: str = param("", "optional IP-Adapter .safetensors file (its folder holds "
                            "image_encoder/); needed to use the `edited` first frame")
    ip_adapter_scale: float = param(0.6, "how strongly the edited first frame steers the style",
                                    min=0.0, max=2.0, step=0.05, advanced=True)
    prompt: str = param("anime style, clean line art, flat colours, best quality",
                        "what the restyled video should look like")
    negative_prompt: str = param("blurry, low quality, deformed, watermark", "what to avoid", advanced=True)
    strength: float = param(0.6, "how far from the source (0 = unchanged, 1 = ignore it)",
                            min=0.05, max=1.0, step=0.05)
    steps: int = param(25, "DDIM steps (the run does about strength x steps)", min=1, max=200)
    guidance: float = param(7.5, "classifier-free guidance (1 = off)", min=1.0, max=30.0, advanced=True)
    size: int = param(512, "long side the model runs at (multiple of 8 x the VAE factor; the "
                      "output is resized back to the video)", min=16, max=1536, advanced=True)
    window: int = param(16, "frames per motion-module window", min=2, max=64, advanced=True)
    overlap: int = param(4, "frames shared by neighbouring windows (blended)", min=0, max=32, advanced=True)
    device: str = param("auto", "torch device (auto = cuda when available)", advanced=True)
    dtype: str = param("auto", "weights precision (auto = float16 on GPU, float32 on CPU)",
                       choices=("auto", "float16", "bfloat16", "float32"), advanced=True)
    attention: str = param("auto", "attention backend (auto = xformers if installed, else SDPA)",
                           choices=("auto", "sdpa", "xformers"), advanced=True)
    cpu_offload: bool = param(False, "keep the networks on the CPU until each runs (low GPU "
                              "memory, slower)", advanced=True)
    vae_slicing: bool = param(False, "VAE encode / decode one frame at a time (low memory)", advanced=True)
    forward_chunking: bool = param(False, "UNet feed-forward one frame at a time (low memory)", advanced=True)
    decode_chunk_size: int = param(8, "frames VAE-encoded / decoded at once", min=1, max=64, advanced=True)


class AnimateDiffEngine(Engine):
    """``callback_on_step_end(pipe, step, timestep, {"latents": ...})``, when set, is called
    after every denoising step (diffusers' convention) and may return replacement latents."""
    name = "animatediff"
    help = ("neural (AnimateDiff video-to-video on Stable Diffusion 1.5): restyle by prompt, "
            "sliding windows with blended overlaps; needs your SD 1.5 weights and a motion "
            "adapter (-p weights=... -p motion_adapter=...)")
    neural = True
    Params = AnimateDiffParams

    def __init__(self) -> None:
        self._given: Any = None
        self.callback_on_step_end: Callable[..., Any] | None = None

    def use_pipeline(self, pipe: Any) -> "AnimateDiffEngine":
        """Use an already-built diffusers pipeline (tests) instead of loading; returns self."""
        self._given = pipe
        return self

    def pipeline(self, p: Any) -> Any:
        return self._given if self._given is not None else cached_pipeline(ad_placement(p))

    def stream(self, inputs: dict[str, Any], params: Any, generator: Any = None) -> FrameStream:
        p = params
        if p.overlap >= p.window:
            raise InputError("param overlap", f"must be less than window ({p.window})")
        reader, n = open_source_video(inputs["video"])
        notes: list[str] = []
        edited = None
        if "edited" in inputs:
            if not p.ip_adapter and self._given is None:
                raise InputError("edited", "an edited first frame steers the style through an "
                                           "IP-Adapter: give -p ip_adapter=<ip-adapter_sd15."
                                           "safetensors whose folder holds image_encoder/>")
            edited = load_edit_image(inputs["edited"], "edited", reader.size, notes)
        pipe = self.pipeline(p)
        has_ip = getattr(pipe.unet, "encoder_hid_proj", None) is not None
        if edited is not None and not has_ip:
            raise InputError("edited", "the loaded model has no IP-Adapter; give -p ip_adapter")
        if edited is None and has_ip:
            raise InputError("ip_adapter", "an IP-Adapter steers the style from an edited first "
                                           "frame: give -i edited=<image>, or leave ip_adapter out")
        size = model_size(*reader.size, p.size, 8 * pipe.vae_scale_factor)
        spans = sliding_windows(n, p.window, p.overlap)
        extras = {"windows": spans, "model_size": size}
        frames = self._frames(pipe, reader, n, edited, size, spans, p,
                              torch_generator(generator))
        stream = FrameStream(frames, fps=reader.fps, size=reader.size, num_frames=n,
                             audio=reader.audio(), extras=extras)
        stream.warnings.extend(notes)
        return stream

    def _frames(self, pipe: Any, reader: Any, n: int, edited: np.ndarray | None,
                size: tuple[int, int], spans: list, p: Any,
                gen: torch.Generator) -> Iterator[np.ndarray]:
        with torch.no_grad():
            clean = encode_clip(pipe, reader, size, p.decode_chunk_size, gen)
            cond = Conditioning.make(pipe, p, edited)
            latents = denoise(pipe, clean, cond, spans, p, gen, self.callback_on_step_end)
            for chunk in decoded_chunks(pipe, latents, p.decode_chunk_size):
                for frame in chunk:
                    yield cv2.resize(frame, reader.size, interpolation=cv2.INTER_AREA
                                     if reader.size[0] < size[0] else cv2.INTER_CUBIC)


def encode_clip(pipe: Any, reader: Any, size: tuple[int, int], chunk: int,
                gen: torch.Generator) -> torch.Tensor:
    """(1, F, C, h, w) scaled latents of the clip at ``size``, read and encoded in chunks of
    ``chunk`` frames (the order diffusers' ``encode_video`` draws from ``gen``)."""
    device, dtype = pipe._execution_device, pipe.dtype
    upcast = bool(pipe.vae.config.force_upcast) and dtype == torch.float16
    if upcast:                     # the SD VAE overflows in float16 (as diffusers does)
        pipe.vae.to(dtype=torch.float32)
    out = []
    frames = iter(reader)
    while batch := [Image.fromarray(cv2.resize(f, size, interpolation=cv2.INTER_AREA))
                    for f in islice(frames, chunk)]:        # PIL: diffusers' 0..255 input
        video = pipe.video_processor.preprocess_video([batch], height=size[1], width=size[0])
        video = video[0].permute(1, 0, 2, 3).to(device,                 # (f, 3, H, W)
                                                torch.float32 if upcast else dtype)
        out.append(pipe.encode_video(video, gen, chunk))
    if upcast:
        pipe.vae.to(dtype=dtype)
    lat = torch.cat(out).to(dtype) * pipe.vae.config.scaling_factor      # (F, C, h, w)
    return lat.unsqueeze(0)


@dataclass
class Conditioning:
    """Prompt embeddings ((2 or 1), L, D: negative first under guidance) and the optional
    IP-Adapter image embeddings, computed once for every window."""
    prompt_embeds: torch.Tensor
    image_embeds: list | None
    guidance: float

    @classmethod
    def make(cls, pipe: Any, p: Any, edited: np.ndarray | None) -> "Conditioning":
        cfg = p.guidance > 1.0
        pos, neg = pipe.encode_prompt(p.prompt, pipe._execution_device, 1, cfg,
                                      p.negative_prompt or None)
        embeds = torch.cat([neg, pos]) if cfg else pos
        image = None
        if edited is not None:
            pipe.set_ip_adapter_scale(p.ip_adapter_scale)
            image = pipe.prepare_ip_adapter_image_embeds(
                Image.fromarray(edited), None, pipe._execution_device, 1, cfg)
        return cls(embeds, image, p.guidance)

    @property
    def cfg(self) -> bool:
        return self.guidance > 1.0


def denoise(pipe: Any, clean: torch.Tensor, cond: Conditioning, spans: list, p: Any,
            gen: torch.Generator, callback: Callable | None = None) -> torch.Tensor:
    """(1, C, F, h, w) restyled latents: ``clean`` (1, F, C, h, w) noised to ``strength``
    and denoised over the window ``spans``, overlaps blended every step."""
    from diffusers.pipelines.animatediff.pipeline_animatediff_video2video import (
        retrieve_timesteps)
    from diffusers.utils.torch_utils import randn_tensor

    device = pipe._execution_device
    sched = pipe.scheduler
    timesteps, count = retrieve_timesteps(sched, p.steps, device)
    timesteps, count = pipe.get_timesteps(count, timesteps, p.strength, device)
    noise = randn_tensor(clean.shape, generator=gen, device=device, dtype=clean.dtype)
    latents = sched.add_noise(clean, noise, timesteps[:1]).permute(0, 2, 1, 3, 4)
    extra = pipe.prepare_extra_step_kwargs(gen, 0.0)
    weights = [window_weights(b - a, p.overlap).to(device, latents.dtype) for a, b in spans]
    with tqdm(total=len(timesteps) * len(spans), desc="animatediff", leave=False,
              disable=not SHOW_PROGRESS.get()) as bar:
        for i, t in enumerate(timesteps):
            eps = blended_noise(pipe, latents, t, cond, spans, weights, bar.update)
            latents = sched.step(eps, t, latents, **extra).prev_sample
            if callback is not None:
                out = callback(pipe, i, t, {"latents": latents}) or {}
                latents = out.get("latents", latents)
    return latents


def blended_noise(pipe: Any, latents: torch.Tensor, t: torch.Tensor, cond: Conditioning,
                  spans: list, weights: list, progress: Callable) -> torch.Tensor:
    """(1, C, F, h, w) guided noise prediction, each window's weighted by its ramp and the
    overlaps averaged."""
    total = torch.zeros_like(latents)
    norm = torch.zeros(latents.shape[2], device=latents.device, dtype=latents.dtype)
    for (a, b), w in zip(spans, weights):
        x = latents[:, :, a:b]
        x = torch.cat([x] * 2) if cond.cfg else x
        x = pipe.scheduler.scale_model_input(x, t)
        added = {"image_embeds": cond.image_embeds} if cond.image_embeds is not None else None
        eps = pipe.unet(x, t, encoder_hidden_states=cond.prompt_embeds.repeat_interleave(
            b - a, dim=0), added_cond_kwargs=added).sample
        if cond.cfg:
            uncond, text = eps.chunk(2)
            eps = uncond + cond.guidance * (text - uncond)
        total[:, :, a:b] += eps * w.view(1, 1, -1, 1, 1)
        norm[a:b] += w
        progress(1)
    return total / norm.view(1, 1, -1, 1, 1)


def decoded_chunks(pipe: Any, latents: torch.Tensor, chunk: int) -> Iterator[list[np.ndarray]]:
    """Lists of (H, W, 3) uint8 frames, ``chunk`` frames decoded at a time."""
    for a in range(0, latents.shape[2], chunk):
        video = pipe.decode_latents(latents[:, :, a:a + chunk], chunk)   # (1, 3, f, H, W)
        frames = pipe.video_processor.postprocess_video(video=video, output_type="np")[0]
        yield [(np.clip(f, 0, 1) * 255 + 0.5).astype(np.uint8) for f in frames]
