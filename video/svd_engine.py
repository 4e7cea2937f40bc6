"""The neural ``svd`` engine of ``video.i2v``: Stable Video Diffusion with a training-free brush.

Weights come from a local folder or a cached hub id (:mod:`animakit.svd`); nothing is
downloaded. With a brush, the flow engine renders a guide clip of the conditioning image
moved along the brush (same motion the ``flow`` engine would produce) and SVD refines it
(see :mod:`video.svd_sampler`); static regions are anchored to the source latent. Clips
longer than the model's frame count are chained: each segment is conditioned on the last
frame of the previous one and guided by its part of the brush motion.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import cv2
import numpy as np
import torch

from animakit.params import param
from animakit.pipeline import Engine, FrameStream
from animakit.render import SHOW_PROGRESS
from animakit.seeding import torch_generator
from animakit.svd import (SVDComponents, SVDEngineMixin, SVDParams, model_size, size_multiple,
                          to_frames, to_tensor, windows)

from .brush import Brush, BrushMotion
from .flow_engine import FlowRenderer, brush_edges, load_image_and_brush, output_size, scaled_brush
from .svd_sampler import SVDSettings, sample_svd_clip


@dataclass
class SVDI2VParams(SVDParams):
    """The svd engine's own settings (loading ones from :class:`animakit.svd.SVDParams`)."""
    motion_bucket_id: int = param(127, "amount of motion conditioning", min=0, max=1023)
    noise_aug_strength: float = param(0.02, "noise added to the conditioning image",
                                      min=0.0, max=1.0, step=0.01, advanced=True)
    steps: int = param(25, "denoising steps", min=1, max=200)
    min_guidance: float = param(1.0, "guidance at the first frame", min=0.0, max=20.0, advanced=True)
    max_guidance: float = param(3.0, "guidance at the last frame", min=0.0, max=20.0, advanced=True)
    guide_strength: float = param(0.8, "with a brush: how much of the schedule to run from the "
                                       "noised brush guide (1 = from pure noise)",
                                  min=0.05, max=1.0, advanced=True)
    static_anchor: float = param(0.5, "fraction of steps during which static regions are reset "
                                      "to the source latent", min=0.0, max=1.0, advanced=True)
    static_paste: bool = param(True, "after decoding, paste static regions from the source "
                                     "(feathered 3 px outside) so they are exactly still", advanced=True)


def svd_size(comps: SVDComponents, w0: int, h0: int, width: int, height: int) -> tuple[int, int]:
    """(W, H) for SVD: the requested size, else 1024 on the long side (its training size),
    both rounded to the model's size multiple."""
    if not width and not height:
        width, height = (1024, 0) if w0 >= h0 else (0, 1024)
    return model_size(*output_size(w0, h0, width, height, 2048), size_multiple(comps))


def latent_mask(mask: np.ndarray, factor: int) -> torch.Tensor:
    """(H, W) bool pixel mask -> (H/f, W/f) float latent mask (cells mostly inside)."""
    h, w = mask.shape[0] // factor, mask.shape[1] // factor
    m = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    return torch.from_numpy((m >= 0.5).astype(np.float32))


def paste_alpha(mask: np.ndarray, feather: int = 3) -> np.ndarray:
    """(H, W, 1) float32: 1 on ``mask``, fading to 0 over ``feather`` px outside it."""
    dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)
    return np.clip(1.0 - dist / (feather + 1), 0.0, 1.0)[..., None].astype(np.float32)


def clip_settings(p: Any, num_frames: int) -> SVDSettings:
    """The sampler settings of one ``num_frames`` segment under params ``p``."""
    return SVDSettings(num_frames=num_frames, fps=p.fps, motion_bucket_id=p.motion_bucket_id,
                       noise_aug_strength=p.noise_aug_strength, steps=p.steps,
                       min_guidance=p.min_guidance, max_guidance=p.max_guidance,
                       guide_strength=p.guide_strength, static_anchor=p.static_anchor,
                       decode_chunk_size=p.decode_chunk_size)


class SVDEngine(SVDEngineMixin, Engine):
    """``callback_on_step_end(components, step, timestep, {"latents": ...})`` may return
    replacement latents."""
    name = "svd"
    help = "Stable Video Diffusion (local weights), brush applied training-free"
    neural = True
    Params = SVDI2VParams

    def stream(self, inputs: dict[str, Any], params: Any, generator: Any = None) -> FrameStream:
        image, brush = load_image_and_brush(inputs, 0, 0, max_side=8192)
        comps = self.components(params)
        w, h = svd_size(comps, image.shape[1], image.shape[0], params.width, params.height)
        image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        brush = scaled_brush(brush.resized(w, h), params.strength) if brush is not None else None
        spans = windows(params.num_frames, int(comps.unet.config.num_frames))
        extras = {"segments": spans, "size": (w, h), "weights": comps.source}
        frames = self._frames(comps, image, brush, params, torch_generator(generator), spans)
        return FrameStream(frames, fps=params.fps, size=(w, h), num_frames=params.num_frames,
                           extras=extras)

    def _frames(self, comps: SVDComponents, image: np.ndarray, brush: Brush | None, p: Any,
                generator: torch.Generator, spans: list[tuple[int, int]]) -> Iterator[np.ndarray]:
        guide_frames = None
        static = None
        if brush is not None and (brush.strokes or brush.static.any()):
            if brush.strokes:
                motion = BrushMotion(brush, p.num_frames, brush_edges(brush, p.falloff, p.reveal))
                guide_frames = FlowRenderer(image, motion, reveal=p.reveal).frames()
            if brush.static.any():
                static = latent_mask(brush.static, comps.vae_scale_factor)
        paste = paste_alpha(brush.static) if p.static_paste and brush is not None \
            and brush.static.any() else None
        cond = image
        for k, (start, end) in enumerate(spans):
            guide = None
            if guide_frames is not None:
                clip = [next(guide_frames) for _ in range(end - start - (1 if k else 0))]
                guide = to_tensor(([cond] if k else []) + clip)
            out = sample_svd_clip(comps, to_tensor([cond]), clip_settings(p, end - start),
                                  guide=guide, static_mask=static, generator=generator,
                                  callback_on_step_end=self.callback_on_step_end,
                                  progress=SHOW_PROGRESS.get())
            frames = to_frames(out.frames)
            if paste is not None:
                frames = [np.round(paste * image + (1 - paste) * f).astype(np.uint8) for f in frames]
            if k:
                frames = frames[1:]       # the segment's first frame repeats the previous last
            yield from frames
            cond = frames[-1]
