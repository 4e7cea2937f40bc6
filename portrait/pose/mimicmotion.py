"""MimicMotion-style sampling: an SVD img2vid UNet conditioned on the reference image (CLIP
embedding + VAE latents) and on rendered skeleton images through a small pose guider whose
features are added to the UNet's ``conv_in`` output. Long clips are denoised in overlapping
windows, each holding the reference frame 0 as anchor, blended with triangular weights.

State-dict names follow the public MimicMotion checkpoint: ``pose_net.conv_layers.{0..14}``,
``pose_net.final_proj``, ``pose_net.scale`` and ``unet.*`` (diffusers UNet names).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from animakit.errors import WeightsNotFoundError
from animakit.svd import (SVDComponents, decode_vae_latents, frame_guidance, image_conditioning,
                          randn, windows)

CONVERT_HINT = ("convert the released .pth once with: python -c \"import torch; from safetensors."
                "torch import save_file; save_file(torch.load('MimicMotion_1-1.pth', "
                "weights_only=True), 'MimicMotion_1-1.safetensors')\"")


class PoseNet(ModelMixin, ConfigMixin):
    """Pose guider: (N, 3, H, W) skeleton images in [-1, 1] -> (N, C, H/8, W/8) features added
    to the UNet's first feature map. Layer indices match MimicMotion's ``conv_layers``."""

    @register_to_config
    def __init__(self, noise_latent_channels: int = 320):
        super().__init__()
        chans = [(3, 3, 3, 1), (3, 16, 4, 2), (16, 16, 3, 1), (16, 32, 4, 2), (32, 32, 3, 1),
                 (32, 64, 4, 2), (64, 64, 3, 1), (64, 128, 3, 1)]
        layers: list[nn.Module] = []
        for cin, cout, k, s in chans:
            layers += [nn.Conv2d(cin, cout, kernel_size=k, stride=s, padding=1), nn.SiLU()]
        self.conv_layers = nn.Sequential(*layers)
        self.final_proj = nn.Conv2d(128, noise_latent_channels, kernel_size=1)
        self.scale = nn.Parameter(torch.full((1,), 2.0))
        nn.init.zeros_(self.final_proj.weight)     # starts as "no pose", as trained from
        nn.init.zeros_(self.final_proj.bias)

    def forward(self, pose: torch.Tensor) -> torch.Tensor:
        if pose.ndim == 5:                          # (B, F, 3, H, W) -> (B*F, 3, H, W)
            pose = pose.flatten(0, 1)
        return self.final_proj(self.conv_layers(pose)) * self.scale


def load_checkpoint(path: str | Path, pose_net: PoseNet, unet: nn.Module | None = None) -> None:
    """Load a MimicMotion checkpoint (.safetensors) into ``pose_net`` (and ``unet``: its
    ``unet.*`` keys replace the SVD UNet's weights). Raises :class:`WeightsNotFoundError`."""
    from safetensors.torch import load_file
    p = Path(path).expanduser()
    if p.suffix == ".pth" or p.suffix == ".ckpt":
        raise WeightsNotFoundError(p, f"pickled checkpoints are not loaded; {CONVERT_HINT}")
    if not p.is_file():
        raise WeightsNotFoundError(p, "MimicMotion checkpoint not found; pass --param "
                                      "checkpoint=/path/MimicMotion_1-1.safetensors")
    try:
        state = load_file(str(p))
    except Exception as e:   # safetensors raises its own error types
        raise WeightsNotFoundError(p, f"not a readable .safetensors file ({e})") from None
    pose = {k[len("pose_net."):]: v for k, v in state.items() if k.startswith("pose_net.")}
    if not pose:
        raise WeightsNotFoundError(p, "holds no pose_net.* weights (not a MimicMotion checkpoint)")
    try:
        pose_net.load_state_dict(pose, strict=True)
        if unet is not None:
            un = {k[len("unet."):]: v for k, v in state.items() if k.startswith("unet.")}
            if un:
                unet.load_state_dict(un, strict=True)
    except RuntimeError as e:
        raise WeightsNotFoundError(p, f"weights do not fit the model ({str(e)[:200]})") from None


def window_indices(num_frames: int, window: int, overlap: int) -> list[list[int]]:
    """Frame indices of each window: frame 0 (the reference anchor) + ``window - 1``
    consecutive frames, stepping ``window - overlap`` (the anchor counts as one shared frame,
    so overlap 0 and 1 both tile the frames edge to edge); the last window ends on the last
    frame."""
    length = min(window, num_frames) - 1
    shared = min(max(0, overlap - 1), length - 1)
    return [[0, *range(1 + s, 1 + e)]
            for s, e in windows(num_frames - 1, length, shared, full=True)]


def triangular_weights(window: int) -> torch.Tensor:
    """(window,) blending weights peaking mid-window, ~0 at both ends."""
    w = (torch.arange(window) + 0.5) * 2.0 / window
    return torch.minimum(w, 2.0 - w)


@dataclass
class MimicMotionOutput:
    frames: torch.Tensor          # (F - 1, 3, H, W) float in [-1, 1], F = number of poses


class _AddToConvIn:
    """Forward hook adding the current window's pose features to ``unet.conv_in``'s output."""

    def __init__(self):
        self.features: torch.Tensor | None = None

    def __call__(self, module, args, output):
        return output if self.features is None else output + self.features.to(output)


@torch.no_grad()
def sample(comps: SVDComponents, pose_net: PoseNet, reference: torch.Tensor, poses: torch.Tensor, *,
           steps: int = 25, min_guidance: float = 2.0, max_guidance: float = 2.0,
           window: int = 16, overlap: int = 6, fps: int = 7, motion_bucket_id: int = 127,
           noise_aug: float = 0.0, decode_chunk_size: int = 8,
           generator: torch.Generator | None = None,
           callback_on_step_end: Callable | None = None) -> MimicMotionOutput:
    """Denoise a clip. ``reference`` (1, 3, H, W) in [-1, 1]; ``poses`` (F, 3, Hp, Wp) skeleton
    images in [-1, 1] with the reference's own pose first (Hp = H / f * 8 for a VAE scale
    factor f). Returns frames 1..F-1 (the anchor dropped). ``callback_on_step_end(comps,
    step, timestep, {"latents": ...})`` may return replacement latents."""
    device, dtype = comps.device, comps.dtype
    n = poses.shape[0]
    f = comps.vae_scale_factor
    h, w = reference.shape[-2] // f, reference.shape[-1] // f
    cfg = max_guidance > 1.0
    reference = reference.to(device)
    aug = randn(reference.shape, generator, device) if noise_aug > 0 else None
    cond = image_conditioning(comps, reference, n, fps, motion_bucket_id, noise_aug, aug)
    if cfg:
        cond = cond.with_unconditional()
    pose_feat = pose_net(poses.to(device, pose_net.dtype)).to(dtype)            # (F, C, h, w)
    sched = comps.fresh_scheduler()
    sched.set_timesteps(steps, device=device)
    latents = randn((1, n, 4, h, w), generator, device, dtype) * sched.init_noise_sigma
    guidance = frame_guidance(min_guidance, max_guidance, n, device)
    spans = window_indices(n, window, overlap)
    weights = triangular_weights(len(spans[0])).to(device, dtype)
    hook = _AddToConvIn()
    handle = comps.unet.conv_in.register_forward_hook(hook)
    try:
        for i, t in enumerate(sched.timesteps):
            x = torch.cat([latents] * 2) if cfg else latents
            x = torch.cat([sched.scale_model_input(x, t), cond.image_latents], dim=2)
            pred = torch.zeros_like(x[:, :, :4])
            count = torch.zeros(n, device=device, dtype=dtype)
            for idx in spans:
                feat = pose_feat[idx]
                hook.features = torch.cat([feat] * x.shape[0]) if x.shape[0] > 1 else feat
                out = comps.unet(x[:, idx], t, encoder_hidden_states=cond.embeds,
                                 added_time_ids=cond.time_ids, return_dict=False)[0]
                pred[:, idx] += out * weights[:, None, None, None]
                count[idx] += weights
            pred = pred / count.view(1, n, 1, 1, 1)
            if cfg:
                uncond, cond_pred = pred.chunk(2)
                pred = uncond + guidance * (cond_pred - uncond)
            latents = sched.step(pred, t, latents, return_dict=False)[0]
            if callback_on_step_end is not None:
                res = callback_on_step_end(comps, i, t, {"latents": latents}) or {}
                latents = res.get("latents", latents)
    finally:
        handle.remove()
        hook.features = None
    frames = decode_vae_latents(comps, latents[0], decode_chunk_size)          # (F, 3, H, W)
    return MimicMotionOutput(frames[1:])
