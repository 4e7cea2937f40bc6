"""The neural ``svd`` engine of ``video.i2v``: Stable Video Diffusion with a training-free brush.

Weights come from a local folder or a cached hub id (:mod:`animakit.svd`); nothing is
downloaded. With a brush, the flow engine renders a guide clip of the conditioning image
moved along the brush (same motion the ``flow`` engine would produce) and SVD refines it
(see :mod:`video.svd_sampler`); static regions are anchored to the source latent. Clips
longer than the model's frame count are chained: each segment is conditioned on the last
frame of the previous one and guided by its part of the brush motion.
"""
from __future__ import annotations

from typing import Any, Iterator

import cv2
import numpy as np
import torch

from .brush import Brush, BrushMotion
from animakit.errors import ParamError
from animakit.pipeline import Engine, FrameStream
from animakit.render import SHOW_PROGRESS
from animakit.svd import SVDComponents, SVDComponentsUser

from .flow_engine import FlowRenderer, auto_falloff, load_image_and_brush, output_size, scaled_brush
from .svd_sampler import SVDSettings, sample_svd_clip

def size_multiple(comps: SVDComponents) -> int:
    """Pixels the frame size must be a multiple of: VAE factor x UNet downsamplings (64 for SVD)."""
    return comps.vae_scale_factor * 2 ** (len(comps.unet.config.down_block_types) - 1)


def svd_size(w0: int, h0: int, width: int, height: int, multiple: int = 64) -> tuple[int, int]:
    """(W, H) for SVD: the requested size, else 1024 on the long side (its training size),
    both rounded to ``multiple``."""
    if not width and not height:
        width, height = (1024, 0) if w0 >= h0 else (0, 1024)
    w, h = output_size(w0, h0, width, height, 2048)
    return (max(multiple, round(w / multiple) * multiple),
            max(multiple, round(h / multiple) * multiple))


def to_tensor(frame: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float32 in [-1, 1]."""
    return torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 127.5 - 1.0


def to_frames(x: torch.Tensor) -> list[np.ndarray]:
    """(F, 3, H, W) in [-1, 1] -> list of (H, W, 3) uint8."""
    x = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return list(x)


def latent_mask(mask: np.ndarray, factor: int) -> torch.Tensor:
    """(H, W) bool pixel mask -> (H/f, W/f) float latent mask (cells mostly inside)."""
    h, w = mask.shape[0] // factor, mask.shape[1] // factor
    m = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    return torch.from_numpy((m >= 0.5).astype(np.float32))


def paste_alpha(mask: np.ndarray, feather: int = 3) -> np.ndarray:
    """(H, W, 1) float32: 1 on ``mask``, fading to 0 over ``feather`` px outside it."""
    dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)
    return np.clip(1.0 - dist / (feather + 1), 0.0, 1.0)[..., None].astype(np.float32)


def segments(num_frames: int, length: int) -> list[tuple[int, int]]:
    """[(start, end)) frame ranges of chained segments of ``length`` frames overlapping by
    one frame (each segment starts on the previous segment's last frame)."""
    if num_frames <= length:
        return [(0, num_frames)]
    out, start = [], 0
    while start + 1 < num_frames:
        end = min(num_frames, start + length)
        out.append((start, end))
        start = end - 1
    return out


class SVDEngine(SVDComponentsUser, Engine):
    name = "svd"
    help = "Stable Video Diffusion (local weights), brush applied training-free"
    neural = True

    @property
    def attention_backend(self) -> str:
        return self._cache.attention_backend

    def load_options(self, p: Any) -> dict[str, Any]:
        return {"cpu_offload": p.cpu_offload, "attention": p.attention,
                "forward_chunking": p.forward_chunking}

    def stream(self, inputs: dict[str, Any], params: Any, generator: Any = None) -> FrameStream:
        if params.loop:
            raise ParamError("param loop", "seamless loops are made by the flow engine; the svd "
                                           "engine cannot loop (leave loop off, or use --engine flow)")
        image, brush = load_image_and_brush(inputs, 0, 0, max_side=8192)
        comps = self.components(params)
        w, h = svd_size(image.shape[1], image.shape[0], params.width, params.height,
                        size_multiple(comps))
        image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        brush = scaled_brush(brush.resized(w, h), params.strength) if brush is not None else None
        seg_len = int(comps.unet.config.num_frames)
        extras = {"segments": segments(params.num_frames, seg_len), "size": (w, h),
                  "weights": comps.source}
        frames = self._frames(comps, image, brush, params, generator, seg_len)
        return FrameStream(frames, fps=params.fps, size=(w, h), num_frames=params.num_frames,
                           extras=extras)

    def _frames(self, comps: SVDComponents, image: np.ndarray, brush: Brush | None, p: Any,
                generator: Any, seg_len: int) -> Iterator[np.ndarray]:
        guide_frames = None
        static = None
        if brush is not None and (brush.strokes or brush.static.any()):
            if brush.strokes:
                size = (image.shape[1], image.shape[0])
                falloff = 0.0 if p.reveal else auto_falloff(p.falloff, size)
                motion = BrushMotion(brush, p.num_frames, falloff)
                guide_frames = FlowRenderer(image, motion, reveal=p.reveal).frames()
            if brush.static.any():
                static = latent_mask(brush.static, comps.vae_scale_factor)
        paste = paste_alpha(brush.static) if p.static_paste and brush is not None \
            and brush.static.any() else None
        cond = image
        for k, (start, end) in enumerate(segments(p.num_frames, seg_len)):
            guide = None
            if guide_frames is not None:
                clip = [next(guide_frames) for _ in range(end - start - (1 if k else 0))]
                guide = torch.cat([to_tensor(f) for f in ([cond] if k else []) + clip])
            settings = SVDSettings(num_frames=end - start, fps=p.fps,
                                   motion_bucket_id=p.motion_bucket_id,
                                   noise_aug_strength=p.noise_aug_strength, steps=p.steps,
                                   min_guidance=p.min_guidance, max_guidance=p.max_guidance,
                                   guide_strength=p.guide_strength, static_anchor=p.static_anchor,
                                   decode_chunk_size=p.decode_chunk_size)
            out = sample_svd_clip(comps, to_tensor(cond), settings, guide=guide, static_mask=static,
                                  generator=generator, callback_on_step_end=self.callback_on_step_end,
                                  progress=SHOW_PROGRESS.get())
            frames = to_frames(out.frames)
            if paste is not None:
                frames = [np.round(paste * image + (1 - paste) * f).astype(np.uint8) for f in frames]
            if k:
                frames = frames[1:]       # the segment's first frame repeats the previous last
            yield from frames
            cond = frames[-1]
