"""Sampling a :class:`~dit.models.VideoDiT` with rectified flow (flow matching), in latent space.

Training and sampling share one convention, the one diffusers'
``FlowMatchEulerDiscreteScheduler`` uses::

    z_sigma = (1 - sigma) * z0 + sigma * noise,   sigma in [0, 1],  timestep = 1000 * sigma
    model(z_sigma, timestep, prompt, condition) predicts the velocity  v = noise - z0

so an Euler step from sigma to sigma' is ``z + (sigma' - sigma) * v``. A model with
``prediction_type="sample"`` outputs the clean latent instead, turned into the velocity
``(z_sigma - z0_hat) / sigma``. Classifier-free guidance mixes the prompted and empty-prompt
velocities, ``v_u + w * (v_c - v_u)``; given frames condition both.
"""
from __future__ import annotations

from typing import Callable

import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from tqdm.auto import tqdm

from animakit.cancel import check as check_cancelled

from .models import VideoDiT
from .settings import DEFAULT_GUIDANCE, DEFAULT_GUIDANCE_MIN_NOISE, DEFAULT_SHIFT, DEFAULT_STEPS
from .text import NULL


def make_scheduler(shift: float = DEFAULT_SHIFT) -> FlowMatchEulerDiscreteScheduler:
    """Euler flow-matching scheduler; ``shift`` > 1 spends more steps at high noise (SD3)."""
    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)


def flow_matching_target(x0: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """(noisy input, velocity target) for clean clips x0 (B, F, C, H, W) at sigma (B,)."""
    s = sigma.view(-1, *([1] * (x0.ndim - 1)))
    return (1 - s) * x0 + s * noise, noise - x0


def frame_condition(latents: torch.Tensor, first: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    """(B, F, C + 1, h, w): the latents of the given frames (zero elsewhere) and a mask channel.
    ``first`` / ``last`` (B,) bool say which clips give their first / last frame."""
    mask = torch.zeros_like(latents[:, :, :1])                       # (B, F, 1, h, w)
    mask[:, 0] = first.view(-1, 1, 1, 1).to(mask.dtype)
    mask[:, -1] = torch.maximum(mask[:, -1], last.view(-1, 1, 1, 1).to(mask.dtype))
    return torch.cat([latents * mask, mask], dim=2)


def velocity(model_output: torch.Tensor, x_t: torch.Tensor, sigma: torch.Tensor | float,
             prediction_type: str, min_sigma: float = 0.0) -> torch.Tensor:
    """The velocity (noise - x0) from a model output (B, F, C, H, W) at noise level sigma (B,)."""
    if prediction_type == "velocity":
        return model_output
    s = torch.as_tensor(sigma, dtype=x_t.dtype, device=x_t.device).clamp_min(max(min_sigma, 1e-4))
    s = s.view(-1, *([1] * (x_t.ndim - 1))) if s.ndim else s
    return (x_t - model_output) / s


@torch.no_grad()
def sample_latents(model: VideoDiT, prompt_ids: torch.Tensor, condition: torch.Tensor | None = None,
                   *, steps: int = DEFAULT_STEPS, guidance_scale: float = DEFAULT_GUIDANCE,
                   generator: torch.Generator | None = None, progress: bool = False,
                   shift: float = DEFAULT_SHIFT, pin_given: bool = True,
                   guidance_min_noise: float = DEFAULT_GUIDANCE_MIN_NOISE,
                   callback_on_step_end: Callable[[int, float, torch.Tensor], None] | None = None
                   ) -> torch.Tensor:
    """Latent clips (B, F, C, h, w) (float32, on CPU) for prompt ids (B, M).

    ``condition`` (B, F, C + 1, h, w) holds the latents of given frames and their mask (see
    :func:`frame_condition`); with ``pin_given`` the given frames are also held on their
    noisy path at every step, as inpainting samplers do, so they come out as given.
    Guidance applies only at noise levels >= ``guidance_min_noise`` (guidance in a limited
    interval, Kynkäänniemi et al. 2024); the later steps run the prompt's branch alone.
    ``generator`` seeds the initial noise (drawn on CPU so a seed gives the same clip on any
    device). ``callback_on_step_end(step_index, timestep, latents)`` runs after each step.
    """
    cfg = model.config
    device, dtype = model.device, model.dtype
    b = prompt_ids.shape[0]
    shape = (b, cfg.num_frames, cfg.in_channels, cfg.sample_size, cfg.sample_size)
    noise = torch.randn(shape, generator=generator, dtype=torch.float32).to(device)
    x = noise
    ids = prompt_ids.to(device)
    null = torch.zeros_like(ids)
    null[:, 0] = NULL
    cond = (condition if condition is not None else model.empty_condition(x)).to(device, torch.float32)
    given, z_given = cond[:, :, -1:] > 0.5, cond[:, :, :-1]
    scheduler = make_scheduler(shift)
    scheduler.set_timesteps(steps, device=device)
    guided = guidance_scale != 1.0
    kind = cfg.get("prediction_type", "velocity")
    prompts = model.encode_prompt(torch.cat([ids, null]) if guided else ids)   # once, not per step
    cin = (torch.cat([cond, cond]) if guided else cond).to(dtype)
    for i, t in enumerate(tqdm(scheduler.timesteps, disable=not progress, desc="dit sampling")):
        check_cancelled()               # sampling comes before the first frame
        sigma = float(t) / 1000
        both = guided and sigma >= guidance_min_noise
        xin = torch.cat([x, x]) if both else x
        out = model(xin.to(dtype), t.expand(len(xin)), None, cin[:len(xin)],
                    prompt_features=tuple(f[:len(xin)] for f in prompts)).sample.float()
        v = velocity(out, xin, sigma, kind)
        if both:
            v_cond, v_uncond = v.chunk(2)
            v = v_uncond + guidance_scale * (v_cond - v_uncond)
        x = scheduler.step(v, t, x).prev_sample
        if pin_given:
            s_next = float(scheduler.sigmas[i + 1])
            x = torch.where(given, (1 - s_next) * z_given + s_next * noise, x)
        if callback_on_step_end is not None:
            callback_on_step_end(i, float(t), x)
    return x.cpu()
