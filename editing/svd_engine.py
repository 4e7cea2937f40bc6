"""The neural "svd-inversion" engine: AnyV2V on Stable Video Diffusion.

For each window of the clip (the UNet's frame count; windows share one frame, each later
window conditioned on the previous window's last edited frame):

1. the source frames are VAE-encoded and inverted with the Euler/EDM scheduler
   (:func:`editing.svd_invert.invert`), conditioned on the source's first frame;
2. the clip is regenerated from the inverted noise conditioned on the edited first frame,
   with the inversion pass's convolution, spatial-attention and temporal-attention
   features injected for the first ``conv_injection`` / ``spatial_injection`` /
   ``temporal_injection`` fractions of the steps (:mod:`editing.svd_inject`);
3. the result is decoded and resized back to the video's size.

The output keeps the source's fps, frame count and audio. Weights come from a local
folder or cached hub id (:func:`animakit.svd.load_svd_components`); nothing is downloaded.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import Any, Callable, Iterator

import cv2
import numpy as np
import torch
from tqdm.auto import tqdm

from animakit.errors import InputError
from animakit.params import param
from animakit.pipeline import Engine, FrameStream
from animakit.render import SHOW_PROGRESS
from animakit.seeding import torch_generator
from animakit.svd import (SVDComponents, SVDEngineMixin, SVDParams, decode_vae_latents,
                          encode_vae_latents, image_conditioning, model_size, randn,
                          size_multiple, to_frames, to_tensor, windows)

from .inputs import load_edit_image, open_source_video
from .svd_invert import Regeneration, invert, regenerate, schedule


@dataclass
class SVDInversionParams(SVDParams):
    """The svd-inversion engine's own settings (loading ones from
    :class:`animakit.svd.SVDParams`)."""
    steps: int = param(25, "Euler steps (inversion and regeneration each)", min=2, max=200)
    inversion_iterations: int = param(1, "fixed-point refinements per inversion step (0 = plain "
                                      "Euler inversion; each costs one more UNet pass, and makes "
                                      "the inversion closer to exact)", min=0, max=10, advanced=True)
    conv_injection: float = param(0.2, "fraction of the steps during which the source's ResNet "
                                  "(convolution) features are injected",
                                  min=0.0, max=1.0, step=0.05, advanced=True)
    spatial_injection: float = param(0.2, "fraction of the steps during which the source's "
                                     "spatial self-attention queries/keys are injected",
                                     min=0.0, max=1.0, step=0.05, advanced=True)
    temporal_injection: float = param(0.5, "fraction of the steps during which the source's "
                                      "temporal self-attention queries/keys are injected",
                                      min=0.0, max=1.0, step=0.05, advanced=True)
    guidance: float = param(2.0, "classifier-free guidance at the last frame (ramps from 1 at "
                            "the first; 1 = off)", min=1.0, max=20.0, advanced=True)
    svd_size: int = param(1024, "long side the model runs at (rounded to its size multiple; "
                          "the output is resized back to the video)", min=32, max=2048, advanced=True)
    window: int = param(0, "frames per window (0 = the UNet's num_frames); windows share a "
                        "frame and chain the edit", min=0, max=64, advanced=True)
    motion_bucket_id: int = param(127, "motion conditioning", min=0, max=1023, advanced=True)
    noise_aug_strength: float = param(0.02, "noise added to the conditioning frames",
                                      min=0.0, max=1.0, step=0.01, advanced=True)


class SVDInversionEngine(SVDEngineMixin, Engine):
    """``callback_on_step_end(components, step, timestep, {"latents": ...})`` is called after
    every regeneration step and may return replacement latents."""
    name = "svd-inversion"
    help = ("neural (AnyV2V on Stable Video Diffusion): Euler inversion of the source clip, "
            "regeneration from the edited first frame with conv / spatial / temporal "
            "feature injection; needs SVD weights (-p weights=...)")
    neural = True
    Params = SVDInversionParams

    def stream(self, inputs: dict[str, Any], params: Any, generator: Any = None) -> FrameStream:
        for name in ("keyframes", "mask"):
            if name in inputs:
                raise InputError(name, "the svd-inversion engine edits from the first frame "
                                       "only; use the flow engine for keyframes and masks")
        reader, n = open_source_video(inputs["video"])
        notes: list[str] = []
        edited = load_edit_image(inputs["edited"], "edited", reader.size, notes)
        comps = self.components(params)
        size = model_size(*reader.size, size_multiple(comps), long_side=params.svd_size)
        spans = windows(n, params.window or int(comps.unet.config.num_frames))
        extras = {"windows": spans, "model_size": size, "weights": comps.source}
        frames = self._frames(comps, reader, edited, spans, size, params,
                              torch_generator(generator), extras)
        stream = FrameStream(frames, fps=reader.fps, size=reader.size, num_frames=n,
                             audio=reader.audio(), extras=extras)
        stream.warnings.extend(notes)
        return stream

    def _frames(self, comps: SVDComponents, reader: Any, edited: np.ndarray,
                spans: list[tuple[int, int]], size: tuple[int, int], p: Any,
                gen: torch.Generator, extras: dict) -> Iterator[np.ndarray]:
        video_size = reader.size
        source = iter(reader)
        carried: list[np.ndarray] = []            # the shared frame between windows
        first_edit = cv2.resize(edited, size, interpolation=cv2.INTER_AREA)
        total = len(spans) * ((1 + p.inversion_iterations) * (p.steps - 1) + p.steps)
        fps = max(1, round(reader.fps))
        with tqdm(total=total, desc="svd-inversion", leave=False,
                  disable=not SHOW_PROGRESS.get()) as bar:
            for k, (start, end) in enumerate(spans):
                fresh = [cv2.resize(f, size, interpolation=cv2.INTER_AREA)
                         for f in islice(source, end - start - len(carried))]
                src = carried + fresh
                out = self.edit_window(comps, src, first_edit, p, gen, fps, bar.update, extras)
                carried, first_edit = src[-1:], out[-1]
                for frame in out[1:] if k else out:
                    yield cv2.resize(frame, video_size, interpolation=cv2.INTER_AREA
                                     if video_size[0] < size[0] else cv2.INTER_CUBIC)

    @torch.no_grad()
    def edit_window(self, comps: SVDComponents, src: list[np.ndarray], edited: np.ndarray,
                    p: Any, gen: torch.Generator, fps: int = 7,
                    progress: Callable | None = None,
                    extras: dict | None = None) -> list[np.ndarray]:
        """Edited frames (model size, uint8) of one window ``src`` (F frames) whose first
        frame is edited to ``edited`` (same size)."""
        latents = self.edit_latents(comps, to_tensor(src), to_tensor([edited]), p, gen, fps,
                                    progress, extras)
        return to_frames(decode_vae_latents(comps, latents[0], chunk_size=p.decode_chunk_size))

    @torch.no_grad()
    def edit_latents(self, comps: SVDComponents, src: torch.Tensor, edited: torch.Tensor,
                     p: Any, gen: torch.Generator, fps: int = 7,
                     progress: Callable | None = None,
                     extras: dict | None = None) -> torch.Tensor:
        """Edited latents (1, F, 4, h, w) in diffusion space for source frames ``src``
        (F, 3, H, W) and the edited first frame ``edited`` (1, 3, H, W), both in [-1, 1]."""
        f = src.shape[0]
        noise = randn(edited.shape, gen, "cpu")                     # one draw for both
        args = (f, fps, p.motion_bucket_id, p.noise_aug_strength, noise)
        src_cond = image_conditioning(comps, src[:1], *args)
        edit_cond = image_conditioning(comps, edited, *args)
        scale = comps.vae.config.scaling_factor
        lat = encode_vae_latents(comps, src, chunk_size=p.decode_chunk_size)
        lat = (lat.float() * scale).unsqueeze(0).to(comps.device)           # (1, F, 4, h, w)
        sigmas, timesteps = schedule(comps, p.steps)
        inverted = invert(comps, lat, src_cond, sigmas, timesteps, p.inversion_iterations,
                          progress)
        settings = Regeneration(
            thresholds={"conv": p.conv_injection, "spatial": p.spatial_injection,
                        "temporal": p.temporal_injection},
            guidance=p.guidance, callback_on_step_end=self.callback_on_step_end)
        out = regenerate(comps, inverted, src_cond, edit_cond, sigmas, timesteps, settings,
                         progress)
        if extras is not None:
            extras["injection_steps"] = {k: int(np.ceil(t * p.steps))
                                         for k, t in settings.thresholds.items()}
        return out
