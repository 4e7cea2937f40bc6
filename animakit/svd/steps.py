"""The steps every SVD-family sampler shares, with shapes stated.

Frames: ``(N, 3, H, W)`` float in [-1, 1] (:func:`to_tensor` / :func:`to_frames` convert from
and to lists of ``(H, W, 3)`` uint8 arrays). Latents: ``(B, F, 4, h, w)`` with
``h = H / vae_scale_factor``; "diffusion space" means VAE latents times the VAE's
``scaling_factor``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .components import CLIP_MEAN, CLIP_STD, SVDComponents


# -- frames and sizes -------------------------------------------------------------------------
def to_tensor(frames: list[np.ndarray]) -> torch.Tensor:
    """(N, 3, H, W) float32 in [-1, 1] from N (H, W, 3) uint8 frames."""
    x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


def to_frames(x: torch.Tensor) -> list[np.ndarray]:
    """N (H, W, 3) uint8 frames from (N, 3, H, W) in [-1, 1] (rounded to the nearest level)."""
    x = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return list(x.permute(0, 2, 3, 1).cpu().numpy())


def size_multiple(comps: SVDComponents) -> int:
    """Pixels a frame side must be a multiple of: the VAE's factor times the UNet's
    downsamplings, so every UNet level holds whole latent cells (64 for SVD: 8 x 2**3, as
    it was trained; 4 for the tiny test model). diffusers itself only asks for multiples of
    8 and pads the UNet's odd levels."""
    return comps.vae_scale_factor * 2 ** (len(comps.unet.config.block_out_channels) - 1)


def model_size(width: float, height: float, multiple: int,
               long_side: float | None = None) -> tuple[int, int]:
    """(W, H) a model runs at for a ``width`` x ``height`` picture: scaled to ``long_side``
    when given (aspect kept), each side rounded to the nearest ``multiple`` (at least one)."""
    if long_side:
        s = long_side / max(width, height)
        width, height = width * s, height * s
    return (max(multiple, round(width / multiple) * multiple),
            max(multiple, round(height / multiple) * multiple))


def windows(num_frames: int, length: int, overlap: int = 1, *,
            full: bool = False) -> list[tuple[int, int]]:
    """[start, end) spans of at most ``length`` frames covering ``range(num_frames)``, each
    starting ``overlap`` frames before the previous one ends. ``full``: every span has
    exactly ``length`` frames (the last one moves back to end on the last frame)."""
    length = max(length, overlap + 1)
    if full:
        length = min(length, num_frames)
    out, start = [], 0
    while True:
        end = min(num_frames, start + length)
        out.append((end - length if full else start, end))
        if end >= num_frames:
            return out
        start = end - overlap


# -- noise and guidance -----------------------------------------------------------------------
def randn(shape: tuple, generator: torch.Generator | None, device: torch.device | str,
          dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Gaussian noise drawn on the generator's device in float32, then moved and cast (the
    same draw on any target device: reproducible from a CPU generator)."""
    gen_device = generator.device if generator is not None else torch.device("cpu")
    return torch.randn(shape, generator=generator, device=gen_device, dtype=torch.float32).to(
        device, dtype)


def frame_guidance(first: float, last: float, num_frames: int, device: torch.device | str,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(1, F, 1, 1, 1) classifier-free guidance scales ramping linearly over the frames
    (SVD's frame-wise guidance: weak at the conditioning frame, strong at the end)."""
    g = torch.linspace(first, last, num_frames, device=device, dtype=dtype)
    return g.view(1, num_frames, 1, 1, 1)


# -- encoders and decoder ---------------------------------------------------------------------
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


# -- conditioning -----------------------------------------------------------------------------
@dataclass
class Conditioning:
    """SVD conditioning of one clip, in the networks' device and dtype: ``embeds`` (B, 1, D)
    CLIP image embedding, ``image_latents`` (B, F, 4, h, w) unscaled VAE latent of the
    (noise-augmented) conditioning image repeated over frames, ``time_ids`` (B, 3)."""
    embeds: torch.Tensor
    image_latents: torch.Tensor
    time_ids: torch.Tensor

    def unconditional(self) -> "Conditioning":
        """The classifier-free guidance's empty conditioning (SVD zeroes image and embedding)."""
        return Conditioning(torch.zeros_like(self.embeds), torch.zeros_like(self.image_latents),
                            self.time_ids)

    def with_unconditional(self) -> "Conditioning":
        """Batch of two: unconditional first, then this (diffusers' CFG layout)."""
        return stack([self.unconditional(), self])


def stack(conds: list[Conditioning]) -> Conditioning:
    """One batched conditioning from several (batch = len(conds))."""
    return Conditioning(torch.cat([c.embeds for c in conds]),
                        torch.cat([c.image_latents for c in conds]),
                        torch.cat([c.time_ids for c in conds]))


def image_conditioning(comps: SVDComponents, image: torch.Tensor, num_frames: int, fps: int,
                       motion_bucket_id: int, noise_aug_strength: float,
                       noise: torch.Tensor | None) -> Conditioning:
    """SVD's conditioning on ``image`` (1, 3, H, W) in [-1, 1]: its CLIP embedding, the VAE
    latent of ``image + noise_aug_strength * noise`` (``noise`` (1, 3, H, W), None = no
    augmentation), and the micro-conditioning ids."""
    dev, dt = comps.device, comps.dtype
    embeds = encode_clip_image(comps, (image + 1) / 2)                       # (1, 1, D)
    aug = image if noise is None else image + noise_aug_strength * noise.to(image)
    lat = encode_vae_latents(comps, aug)                                     # (1, 4, h, w)
    lat = lat.unsqueeze(1).repeat(1, num_frames, 1, 1, 1)                    # (1, F, 4, h, w)
    ids = added_time_ids(comps, fps, motion_bucket_id, noise_aug_strength)
    return Conditioning(embeds.to(dev, dt), lat.to(dev, dt), ids.to(dev, dt))
