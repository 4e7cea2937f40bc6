"""The per-frame latent autoencoder the DiT works in, and its training.

A frame (3, 32, 32) is coded as an 8x8 latent (4x spatial compression) of two parts:

- a **thumbnail**: the frame average-pooled 4x4 (3 channels), fixed, not learned;
- ``learned_channels`` channels from a small convolutional encoder (diffusers' ``Encoder``
  blocks, two downsamplings, no attention) as a diagonal Gaussian with a light KL weight.

The decoder (diffusers' ``Decoder`` blocks) reads both parts and adds its output to the
bilinearly upsampled thumbnail, so it only has to learn what the thumbnail lacks: edges and
texture. (The thumbnail alone gives ~27 dB; a plain AutoencoderKL of the same size spent its
first few hundred CPU steps below that.) Frames are coded one at a time: a clip
(B, F, 3, H, W) becomes a latent clip (B, F, C, H/4, W/4). After training, per-channel
``latents_mean`` / ``latents_std`` are set so the latents the DiT sees are ~N(0, 1).
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.autoencoders.vae import Decoder, DiagonalGaussianDistribution, Encoder
from diffusers.models.modeling_utils import ModelMixin
from tqdm.auto import tqdm

from .data import make_batch

THUMB = 3                      # thumbnail channels (RGB)
LEARNED_CHANNELS = 3
LATENT_CHANNELS = THUMB + LEARNED_CHANNELS
DOWNSCALE = 4


class FrameAutoencoder(ModelMixin, ConfigMixin):
    """frames (N, 3, H, W) in [-1, 1] <-> normalised latents (N, 3 + learned, H/4, W/4)."""

    @register_to_config
    def __init__(self, learned_channels: int = LEARNED_CHANNELS,
                 channels: tuple[int, ...] = (32, 64, 64),
                 latents_mean: tuple[float, ...] | None = None,
                 latents_std: tuple[float, ...] | None = None):
        super().__init__()
        groups = min(16, channels[0])
        self.encoder = Encoder(3, learned_channels, ("DownEncoderBlock2D",) * len(channels),
                               tuple(channels), 1, groups, double_z=True,
                               mid_block_add_attention=False)
        self.decoder = Decoder(THUMB + learned_channels, 3, ("UpDecoderBlock2D",) * len(channels),
                               tuple(channels), 1, groups, mid_block_add_attention=False)
        self.scale = 2 ** (len(channels) - 1)
        c = THUMB + learned_channels
        self.register_buffer("mean", torch.tensor(latents_mean or [0.0] * c).view(1, c, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(latents_std or [1.0] * c).view(1, c, 1, 1),
                             persistent=False)
        with torch.no_grad():        # posterior std starts at e^-3, not 1: unit noise would
            self.encoder.conv_out.bias[learned_channels:] = -6.0   # drown a fresh encoder
        nn.init.zeros_(self.decoder.conv_out.weight)   # a fresh decoder returns the upsampled
        nn.init.zeros_(self.decoder.conv_out.bias)     # thumbnail

    def posterior(self, x: torch.Tensor) -> DiagonalGaussianDistribution:
        """The learned part's Gaussian posterior for frames (N, 3, H, W)."""
        return DiagonalGaussianDistribution(self.encoder(x))

    def thumbnail(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, self.scale)

    def encode_raw(self, x: torch.Tensor, sample: bool = False,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, DiagonalGaussianDistribution]:
        """(unnormalised latent (N, C, h, w), posterior) of frames (N, 3, H, W)."""
        dist = self.posterior(x)
        learned = dist.sample(generator) if sample else dist.mean
        return torch.cat([self.thumbnail(x), learned], dim=1), dist

    def decode_raw(self, z: torch.Tensor) -> torch.Tensor:
        """Frames (N, 3, H, W) from an unnormalised latent (N, C, h, w)."""
        base = F.interpolate(z[:, :THUMB], scale_factor=self.scale, mode="bilinear",
                             align_corners=False)
        return base + self.decoder(z)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised latents (N, C, h, w) of frames (N, 3, H, W): the posterior mean."""
        return (self.encode_raw(x)[0] - self.mean) / self.std

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode_raw(z * self.std + self.mean)


def build_autoencoder(learned_channels: int = LEARNED_CHANNELS,
                      channels: tuple[int, ...] = (32, 64, 64)) -> FrameAutoencoder:
    return FrameAutoencoder(learned_channels, channels)


def encode_clips(vae: FrameAutoencoder, clips: torch.Tensor) -> torch.Tensor:
    """clips (B, F, 3, H, W) in [-1, 1] -> normalised latents (B, F, C, H/4, W/4)."""
    b, f = clips.shape[:2]
    return vae.encode(clips.flatten(0, 1).to(vae.device, vae.dtype)).unflatten(0, (b, f))


def decode_clips(vae: FrameAutoencoder, latents: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """Normalised latents (B, F, C, h, w) -> clips (B, F, 3, 4h, 4w) in [-1, 1] (float32)."""
    b, f = latents.shape[:2]
    z = latents.flatten(0, 1).to(vae.device, vae.dtype)
    out = torch.cat([vae.decode(z[i:i + batch]) for i in range(0, len(z), batch)])
    return out.float().clamp(-1, 1).unflatten(0, (b, f))


def frame_batch(clips: int, per_clip: int, rng: np.random.Generator) -> torch.Tensor:
    """(clips * per_clip, 3, H, W) frames in [-1, 1], ``per_clip`` random frames of each clip."""
    x, _, _ = make_batch(clips, rng)
    idx = np.stack([rng.choice(x.shape[1], per_clip, replace=False) for _ in range(clips)])
    return x[torch.arange(clips)[:, None], torch.from_numpy(idx)].flatten(0, 1)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of images in [-1, 1] (peak-to-peak 2)."""
    mse = float(((a.float() - b.float()) ** 2).mean())
    return 10 * math.log10(4.0 / max(mse, 1e-12))


@torch.no_grad()
def heldout_psnr(vae: FrameAutoencoder, clips: int = 48, seed: int = 4242) -> float:
    """Reconstruction PSNR (dB) of whole held-out clips, through the posterior mean."""
    x, _, _ = make_batch(clips, np.random.default_rng([seed, 0]))
    return psnr(decode_clips(vae, encode_clips(vae, x)), x)


@torch.no_grad()
def set_latent_stats(vae: FrameAutoencoder, clips: int = 64, seed: int = 777) -> None:
    """Set the per-channel latents_mean / latents_std from real clips, so latents are ~N(0, 1)."""
    x, _, _ = make_batch(clips, np.random.default_rng([seed, 0]))
    z = vae.encode_raw(x.flatten(0, 1).to(vae.device, vae.dtype))[0]     # (N, C, h, w)
    mean, std = z.mean(dim=(0, 2, 3)), z.std(dim=(0, 2, 3))
    vae.register_to_config(latents_mean=mean.tolist(), latents_std=std.tolist())
    vae.mean.copy_(mean.view_as(vae.mean))
    vae.std.copy_(std.view_as(vae.std))


def train_autoencoder(vae: FrameAutoencoder, opt: torch.optim.Optimizer, start: int, steps: int,
                      lr: float, kl_weight: float, seed: int, losses: list[float],
                      deadline: float | None, save) -> int:
    """AdamW steps ``start`` .. ``steps`` of MSE + 0.5 L1 + ``kl_weight`` KL on 64-frame
    batches (the KL per latent value), cosine learning rate down to lr / 10; calls ``save(step)`` every 100 steps and at
    the end. Returns the step reached (earlier than ``steps`` when ``deadline`` passes)."""
    vae.train()
    bar = tqdm(total=steps, initial=start, desc="autoencoder", dynamic_ncols=True)
    step = start
    while step < steps and (deadline is None or time.time() < deadline):
        x = frame_batch(16, 4, np.random.default_rng([seed, 1, step]))
        gen = torch.Generator().manual_seed(seed * 7919 + step)
        for g in opt.param_groups:
            g["lr"] = lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        z, dist = vae.encode_raw(x.to(vae.device), sample=True,
                                 generator=gen if vae.device.type == "cpu" else None)
        err = vae.decode_raw(z).float() - x.to(z.device)
        kl = dist.kl().mean() / dist.mean[0].numel()                 # per latent value
        loss = err.pow(2).mean() + 0.5 * err.abs().mean() + kl_weight * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
        if step % 100 == 0 or step == steps:
            save(step)
    bar.close()
    vae.eval()
    return step


def load_autoencoder(folder: Path, device: str | torch.device = "cpu") -> FrameAutoencoder:
    return FrameAutoencoder.from_pretrained(folder, local_files_only=True,
                                            use_safetensors=True).to(device).eval()
