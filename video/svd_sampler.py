"""One Stable Video Diffusion clip, with the training-free motion brush.

:func:`sample_svd_clip` is SVD's image-to-video sampler (CLIP + VAE conditioning, fps /
motion-bucket / noise-augmentation micro-conditioning, frame-wise linear CFG, Euler steps),
plus two optional controls:

* ``guide`` — a brush guide clip (F, 3, H, W): the conditioning image warped along the
  brush flow. Its VAE latents, noised to the sigma of step ``k = steps * (1 - guide_strength)``,
  replace pure noise and sampling runs from step k (SDEdit on the whole clip), so the
  layout of the motion comes from the brush and the detail from the model;
* ``static_mask`` — (h, w) in latent cells, 1 = must not move: during the first
  ``static_anchor`` fraction of the steps those cells are reset after every step to the
  source latent noised to the current sigma (a fixed noise draw), as in blended diffusion.

Without either it gives diffusers' ``StableVideoDiffusionPipeline`` frames for the same
components, seed and settings (``tests/test_i2v_svd.py`` checks this).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from tqdm.auto import tqdm

from animakit.svd import (SVDComponents, decode_vae_latents, encode_vae_latents, frame_guidance,
                          image_conditioning, randn)


@dataclass
class SVDSettings:
    """Everything one clip needs besides the images (see ``SVDI2VParams`` for meanings)."""
    num_frames: int = 14
    fps: int = 7
    motion_bucket_id: int = 127
    noise_aug_strength: float = 0.02
    steps: int = 25
    min_guidance: float = 1.0
    max_guidance: float = 3.0
    guide_strength: float = 0.8
    static_anchor: float = 0.5
    decode_chunk_size: int = 8


@dataclass
class SVDClipOutput:
    frames: torch.Tensor       # (F, 3, H, W) float32 in [-1, 1]
    latents: torch.Tensor      # (1, F, 4, h, w) diffusion-space latents before decoding


@torch.no_grad()
def sample_svd_clip(comps: SVDComponents, image: torch.Tensor, s: SVDSettings, *,
                    guide: torch.Tensor | None = None, static_mask: torch.Tensor | None = None,
                    generator: torch.Generator | None = None, decode: bool = True,
                    callback_on_step_end: Callable | None = None,
                    progress: bool = True) -> SVDClipOutput:
    """Sample ``s.num_frames`` frames from ``image`` (1, 3, H, W) in [-1, 1].

    ``guide``: (F, 3, H, W) in [-1, 1] or None. ``static_mask``: (h, w) float in [0, 1]
    at latent resolution or None. ``callback_on_step_end(comps, step, timestep,
    {"latents": ...})`` may return a dict with replacement ``latents`` (diffusers convention)."""
    device, dtype = comps.device, comps.dtype
    n = s.num_frames
    cfg = s.max_guidance > 1.0
    image = image.to(device, torch.float32)
    aug_noise = randn(image.shape, generator, device)                          # (1, 3, H, W)
    cond = image_conditioning(comps, image, n, s.fps, s.motion_bucket_id, s.noise_aug_strength,
                              aug_noise)
    if cfg:
        cond = cond.with_unconditional()

    sched = comps.fresh_scheduler()
    sched.set_timesteps(s.steps, device=device)
    start = int(round(s.steps * (1.0 - s.guide_strength))) if guide is not None else 0
    start = min(start, s.steps - 1)
    if hasattr(sched, "set_begin_index"):
        sched.set_begin_index(start)
    timesteps = sched.timesteps[start:]

    h, w = image.shape[-2] // comps.vae_scale_factor, image.shape[-1] // comps.vae_scale_factor
    noise = randn((1, n, 4, h, w), generator, device)
    scale = comps.vae.config.scaling_factor
    if guide is not None:
        z_guide = encode_vae_latents(comps, guide.to(device)).float() * scale     # (F, 4, h, w)
        latents = z_guide.unsqueeze(0) + sched.sigmas[start].to(device) * noise
    else:
        latents = noise * sched.init_noise_sigma
    latents = latents.to(dtype)

    anchor_steps = int(round(len(timesteps) * s.static_anchor)) if static_mask is not None else 0
    if anchor_steps:
        z_src = encode_vae_latents(comps, image).float() * scale                 # (1, 4, h, w)
        m = static_mask.to(device, torch.float32).view(1, 1, 1, h, w)
        anchor_noise = randn((1, n, 4, h, w), generator, device)

    guidance = frame_guidance(s.min_guidance, s.max_guidance, n, device, dtype)
    for i, t in enumerate(tqdm(timesteps, desc="svd", disable=not progress, leave=False)):
        x = torch.cat([latents] * 2) if cfg else latents
        x = torch.cat([sched.scale_model_input(x, t), cond.image_latents], dim=2)
        pred = comps.unet(x, t, encoder_hidden_states=cond.embeds, added_time_ids=cond.time_ids,
                          return_dict=False)[0]
        if cfg:
            uncond, cond_pred = pred.chunk(2)
            pred = uncond + guidance * (cond_pred - uncond)
        latents = sched.step(pred, t, latents).prev_sample
        if i < anchor_steps:
            sigma = sched.sigmas[sched.step_index].to(device)
            target = z_src.unsqueeze(1) + sigma * anchor_noise
            latents = (m * target + (1 - m) * latents.float()).to(dtype)
        if callback_on_step_end is not None:
            out = callback_on_step_end(comps, i, t, {"latents": latents}) or {}
            latents = out.get("latents", latents)

    frames = decode_vae_latents(comps, latents[0], s.decode_chunk_size) if decode else \
        torch.empty(0)
    return SVDClipOutput(frames=frames, latents=latents)
