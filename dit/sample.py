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

from animakit.cancel import check as check_cancelled

from .models import VideoDiT
from .settings import (DEFAULT_GUIDANCE, DEFAULT_NEGATIVE, DEFAULT_SHIFT,  # noqa: F401
                       DEFAULT_STEPS, NEGATIVES)


def make_scheduler(shift: float = DEFAULT_SHIFT) -> FlowMatchEulerDiscreteScheduler:
    """Euler flow-matching scheduler; ``shift`` > 1 spends more steps at high noise (SD3)."""
    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)


def opposite_labels(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The same shape moving the other way: labels are shape * 4 + direction with directions
    (right, left, down, up), so the opposite direction flips the lowest bit."""
    if num_classes % 4:
        raise ValueError(f"opposite-direction guidance needs shape x 4 directions, got {num_classes} classes")
    return labels ^ 1


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
                 shift: float = DEFAULT_SHIFT, negative: str = DEFAULT_NEGATIVE,
                 guidance_interval: tuple[float, float] = (0.0, 1.0), grid_jitter: int = 0,
                 callback_on_step_end: Callable[[int, float, torch.Tensor], None] | None = None
                 ) -> torch.Tensor:
    """Generate one clip per label: returns (B, F, C, H, W) in [-1, 1] (float32, on CPU).

    ``generator`` seeds the initial noise (drawn on CPU so a seed gives the same clip on any
    device). ``callback_on_step_end(step_index, timestep, latents)`` is called after each step.
    ``negative`` is what guidance pushes away from: the null label (plain CFG) or the same shape
    moving the opposite way; guidance applies only for sigma in ``guidance_interval``;
    ``grid_jitter`` > 0 averages that many model calls per step on inputs rolled by a random
    offset below the patch size (so patch-grid artefacts do not line up from step to step).
    """
    if negative not in NEGATIVES:
        raise ValueError(f"negative must be one of {NEGATIVES}, got {negative!r}")
    cfg = model.config
    device, dtype = model.device, model.dtype
    labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
    b = labels.shape[0]
    shape = (b, cfg.num_frames, cfg.in_channels, cfg.sample_size, cfg.sample_size)
    x = torch.randn(shape, generator=generator, dtype=torch.float32).to(device)
    labels = labels.to(device)
    null = torch.full_like(labels, cfg.num_classes) if negative == "null" else \
        opposite_labels(labels, cfg.num_classes)
    scheduler = make_scheduler(shift)
    scheduler.set_timesteps(steps, device=device)
    use_cfg = guidance_scale != 1.0
    kind = cfg.get("prediction_type", "velocity")
    for i, t in enumerate(tqdm(scheduler.timesteps, disable=not progress, desc="dit sampling")):
        check_cancelled()               # sampling comes before the first frame
        sigma = float(t) / 1000
        guided = use_cfg and guidance_interval[0] <= sigma <= guidance_interval[1]
        xin, lab = (torch.cat([x, x]), torch.cat([labels, null])) if guided else (x, labels)
        out = 0
        for _ in range(max(1, grid_jitter)):
            shifts = tuple(int(v) for v in torch.randint(0, cfg.patch_size, (2,), generator=generator)) \
                if grid_jitter else (0, 0)
            o = model(xin.roll(shifts, (-2, -1)).to(dtype), t.expand(len(lab)), lab).sample.float()
            out = out + o.roll((-shifts[0], -shifts[1]), (-2, -1)) / max(1, grid_jitter)
        v = velocity(out, xin, sigma, kind)
        if guided:
            v_cond, v_uncond = v.chunk(2)
            v = v_uncond + guidance_scale * (v_cond - v_uncond)
        x = scheduler.step(v, t, x).prev_sample
        if callback_on_step_end is not None:
            callback_on_step_end(i, float(t), x)
    return x.clamp(-1, 1).cpu()
