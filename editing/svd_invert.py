"""Euler (EDM) inversion of a clip's SVD latents and regeneration from them with feature
injection — the sampler behind the ``svd-inversion`` engine.

SVD samples with diffusers' ``EulerDiscreteScheduler`` (Karras sigmas, continuous
timesteps ``0.25 * log(sigma)``, v-prediction). With ``D(x, sigma)`` the denoised estimate,
one Euler step is ``x' = x + (x - D) / sigma * (sigma' - sigma)``.

* Inversion runs that ODE backwards, from the clean latents at the smallest sigma up to
  ``sigma_max``, evaluating the slope at the current point (the DDIM-inversion
  approximation), conditioned on the source first frame, without guidance. Every step's
  latent is kept: the regeneration's source branch replays them.
* Regeneration starts from the inverted noise, conditioned on the edited first frame, and
  for the first fractions of the steps runs the source branch alongside (batch sample 0)
  so :class:`~editing.svd_inject.FeatureInjector` can hand its features to the edit.

Shapes: latents ``(1, F, 4, h, w)`` in diffusion space (VAE latents times the scaling
factor); frames ``(F, 3, H, W)`` in [-1, 1].
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from animakit.svd import Conditioning, SVDComponents, frame_guidance, stack

from .svd_inject import FeatureInjector, active_kinds


def schedule(comps: SVDComponents, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(sigmas (steps + 1,), ending in 0, and UNet timesteps (steps,)), float32 on CPU."""
    sched = comps.fresh_scheduler()
    sched.set_timesteps(steps, device="cpu")
    return sched.sigmas.float(), sched.timesteps.float()


def _denoised(comps: SVDComponents, x: torch.Tensor, sigma: float, t: float,
              cond: Conditioning) -> torch.Tensor:
    """D(x, sigma): (B, F, 4, h, w) denoised latents for latents ``x`` of the same shape."""
    c_in = 1.0 / (sigma ** 2 + 1) ** 0.5
    inp = torch.cat([(x * c_in).to(comps.dtype), cond.image_latents.to(comps.dtype)], dim=2)
    ts = torch.full((x.shape[0],), t, device=x.device, dtype=comps.dtype)
    out = comps.unet(inp, ts, encoder_hidden_states=cond.embeds, added_time_ids=cond.time_ids,
                     return_dict=False)[0].float().to(x.device)   # offload hooks: on GPU
    if comps.scheduler.config.prediction_type == "v_prediction":
        return x / (sigma ** 2 + 1) - out * (sigma / (sigma ** 2 + 1) ** 0.5)
    return x - sigma * out                                                 # epsilon


def invert(comps: SVDComponents, latents: torch.Tensor, cond: Conditioning,
           sigmas: torch.Tensor, timesteps: torch.Tensor, iterations: int = 0,
           progress: Callable[[int], Any] | None = None) -> list[torch.Tensor]:
    """Inverted latents ``[x_0, ..., x_{N-1}]``, ``x_i`` at ``sigmas[i]`` (x_0 = the noise
    at sigma_max), from clean ``latents`` (1, F, 4, h, w) in diffusion space.

    ``iterations`` > 0 refines each step by fixed-point iteration towards the exact inverse
    of the sampler's Euler step, ``x_i = x_{i+1} - d(x_i, sigma_i) (sigma_{i+1} - sigma_i)``
    (the slope taken where the sampler will take it; Pan et al. 2023, ReNoise 2024)."""
    n = len(timesteps)
    x = latents.float()
    out = [x]                                       # x_{N-1}: sigma_min ~ 0.002, ~clean
    for i in range(n - 1, 0, -1):
        s, s_prev = float(sigmas[i]), float(sigmas[i - 1])
        d = (x - _denoised(comps, x, s, float(timesteps[i]), cond)) / s
        guess = x + d * (s_prev - s)
        for _ in range(iterations):
            d = (guess - _denoised(comps, guess, s_prev, float(timesteps[i - 1]), cond)) / s_prev
            guess = x + d * (s_prev - s)
        x = guess
        out.append(x)
        if progress:
            progress(1 + iterations)
    return out[::-1]


@dataclass
class Regeneration:
    """Settings of one regeneration."""
    thresholds: dict[str, float]          # kind -> fraction of the steps it is injected for
    guidance: float = 1.0                 # guidance at the last frame (1.0 at the first)
    callback_on_step_end: Callable[..., Any] | None = None   # (comps, step, t, {"latents"})


def regenerate(comps: SVDComponents, inverted: list[torch.Tensor], source: Conditioning,
               edit: Conditioning, sigmas: torch.Tensor, timesteps: torch.Tensor,
               settings: Regeneration, progress: Callable[[int], Any] | None = None
               ) -> torch.Tensor:
    """Edited latents (1, F, 4, h, w), sampled from ``inverted[0]`` conditioned on ``edit``,
    with the source branch (``inverted[i]`` conditioned on ``source``) injecting its
    features while their thresholds last."""
    n = len(timesteps)
    x = inverted[0].clone()
    cfg = settings.guidance > 1.0
    edit_conds = [edit.unconditional(), edit] if cfg else [edit]
    scale = frame_guidance(1.0, settings.guidance, x.shape[1], x.device) if cfg else None
    with FeatureInjector(comps.unet) as injector:
        for i in range(n):
            s, s_next, t = float(sigmas[i]), float(sigmas[i + 1]), float(timesteps[i])
            kinds = active_kinds(i, n, settings.thresholds)
            branches = ([inverted[i]] if kinds else []) + [x] * len(edit_conds)
            conds = ([source] if kinds else []) + edit_conds
            injector.set(kinds, len(branches))
            den = _denoised(comps, torch.cat(branches), s, t, stack(conds))
            den = den[1:] if kinds else den
            if cfg:
                den = den[0:1] + scale * (den[1:2] - den[0:1])
            x = x + (x - den) / s * (s_next - s) if s_next > 0 else den
            if settings.callback_on_step_end is not None:
                out = settings.callback_on_step_end(comps, i, t, {"latents": x}) or {}
                x = out.get("latents", x)
            if progress:
                progress(1)
    return x
