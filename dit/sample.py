"""Sampling a :class:`~dit.models.VideoDiT` with rectified flow (flow matching).

Training and sampling share one convention, the one diffusers'
``FlowMatchEulerDiscreteScheduler`` uses::

    x_sigma = (1 - sigma) * x0 + sigma * noise,   sigma in [0, 1],  timestep = 1000 * sigma
    model(x_sigma, timestep, label) predicts the velocity  v = noise - x0

so an Euler step from sigma to sigma' is ``x + (sigma' - sigma) * v``. A model with
``prediction_type="sample"`` outputs the clean clip x0_hat instead, turned into the velocity
``(x_sigma - x0_hat) / sigma``. Classifier-free guidance mixes the conditional and null-label
velocities: ``v_u + w * (v_c - v_u)``.
"""
from __future__ import annotations

from typing import Callable

import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from tqdm.auto import tqdm

from .models import VideoDiT

DEFAULT_STEPS = 20
DEFAULT_GUIDANCE = 6.0


def make_scheduler() -> FlowMatchEulerDiscreteScheduler:
    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)


def flow_matching_target(x0: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """(noisy input, velocity target) for clean clips x0 (B, F, C, H, W) at sigma (B,)."""
    s = sigma.view(-1, *([1] * (x0.ndim - 1)))
    return (1 - s) * x0 + s * noise, noise - x0


def velocity(model_output: torch.Tensor, x_t: torch.Tensor, sigma: torch.Tensor | float,
             prediction_type: str, min_sigma: float = 0.0) -> torch.Tensor:
    """The velocity (noise - x0) from a model output (B, F, C, H, W) at noise level sigma (B,)."""
    if prediction_type == "velocity":
        return model_output
    s = torch.as_tensor(sigma, dtype=x_t.dtype, device=x_t.device).clamp_min(max(min_sigma, 1e-4))
    s = s.view(-1, *([1] * (x_t.ndim - 1))) if s.ndim else s
    return (x_t - model_output) / s


@torch.no_grad()
def sample_clips(model: VideoDiT, labels: torch.Tensor | list[int], *, steps: int = DEFAULT_STEPS,
                 guidance_scale: float = DEFAULT_GUIDANCE,
                 generator: torch.Generator | None = None, progress: bool = False,
                 callback_on_step_end: Callable[[int, float, torch.Tensor], None] | None = None
                 ) -> torch.Tensor:
    """Generate one clip per label: returns (B, F, C, H, W) in [-1, 1] (float32, on CPU).

    ``generator`` seeds the initial noise (drawn on CPU so a seed gives the same clip on any
    device). ``callback_on_step_end(step_index, timestep, latents)`` is called after each step.
    """
    cfg = model.config
    device, dtype = model.device, model.dtype
    labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
    b = labels.shape[0]
    shape = (b, cfg.num_frames, cfg.in_channels, cfg.sample_size, cfg.sample_size)
    x = torch.randn(shape, generator=generator, dtype=torch.float32).to(device)
    labels = labels.to(device)
    null = torch.full_like(labels, cfg.num_classes)
    scheduler = make_scheduler()
    scheduler.set_timesteps(steps, device=device)
    use_cfg = guidance_scale != 1.0
    kind = cfg.get("prediction_type", "velocity")
    for i, t in enumerate(tqdm(scheduler.timesteps, disable=not progress, desc="dit sampling")):
        sigma = float(t) / 1000
        if use_cfg:
            out = model(torch.cat([x, x]).to(dtype), t.expand(2 * b), torch.cat([labels, null])).sample
            v_cond, v_uncond = velocity(out.float(), torch.cat([x, x]), sigma, kind).chunk(2)
            v = v_uncond + guidance_scale * (v_cond - v_uncond)
        else:
            v = velocity(model(x.to(dtype), t.expand(b), labels).sample.float(), x, sigma, kind)
        x = scheduler.step(v, t, x).prev_sample
        if callback_on_step_end is not None:
            callback_on_step_end(i, float(t), x)
    return x.clamp(-1, 1).cpu()
