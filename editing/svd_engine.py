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

from itertools import islice
from typing import Any, Callable, Iterator

import cv2
import numpy as np
import torch
from tqdm.auto import tqdm

from animakit.errors import InputError
from animakit.pipeline import Engine, FrameStream
from animakit.render import SHOW_PROGRESS
from animakit.svd import SVDComponents, SVDComponentsUser, decode_vae_latents, encode_vae_latents

from .inputs import load_edit_image, open_source_video
from .svd_invert import Regeneration, conditioning, invert, regenerate, schedule


def size_multiple(comps: SVDComponents) -> int:
    """Pixel multiple the model needs: VAE factor x the UNet's total downsampling."""
    return comps.vae_scale_factor * 2 ** (len(comps.unet.config.block_out_channels) - 1)


def model_size(w: int, h: int, long_side: int, multiple: int) -> tuple[int, int]:
    """(width, height) for the model: the video's aspect, long side ``long_side``, both
    rounded to ``multiple``."""
    s = long_side / max(w, h)
    return (max(multiple, round(w * s / multiple) * multiple),
            max(multiple, round(h * s / multiple) * multiple))


def windows(num_frames: int, length: int) -> list[tuple[int, int]]:
    """[start, end) frame ranges of at most ``length`` frames, consecutive ranges sharing
    one frame, covering ``num_frames``."""
    length = max(2, length)
    out, start = [], 0
    while True:
        end = min(num_frames, start + length)
        out.append((start, end))
        if end == num_frames:
            return out
        start = end - 1


def to_tensor(frames: list[np.ndarray]) -> torch.Tensor:
    """(N, 3, H, W) float32 in [-1, 1] from N (H, W, 3) uint8 frames."""
    x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


def to_frames(x: torch.Tensor) -> list[np.ndarray]:
    """N (H, W, 3) uint8 frames from (N, 3, H, W) in [-1, 1]."""
    x = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return list(x.permute(0, 2, 3, 1).cpu().numpy())


def torch_generator(generator: Any) -> torch.Generator:
    """A CPU ``torch.Generator`` from a generator, an int seed or None (seed 0)."""
    if isinstance(generator, torch.Generator):
        return generator
    g = torch.Generator()
    if generator is None:
        return g.manual_seed(0)
    if isinstance(generator, (int, np.integer)):
        return g.manual_seed(int(generator))
    return g.manual_seed(int(np.random.default_rng(generator).integers(2 ** 31)))


class SVDInversionEngine(SVDComponentsUser, Engine):
    name = "svd-inversion"
    help = ("neural (AnyV2V on Stable Video Diffusion): Euler inversion of the source clip, "
            "regeneration from the edited first frame with conv / spatial / temporal "
            "feature injection; needs SVD weights (--weights)")
    neural = True


    def stream(self, inputs: dict[str, Any], params: Any, generator: Any = None) -> FrameStream:
        for name in ("keyframes", "mask"):
            if name in inputs:
                raise InputError(name, "the svd-inversion engine edits from the first frame "
                                       "only; use the flow engine for keyframes and masks")
        reader, n = open_source_video(inputs["video"])
        notes: list[str] = []
        edited = load_edit_image(inputs["edited"], "edited", reader.size, notes)
        comps = self.components(params)
        size = model_size(*reader.size, params.svd_size, size_multiple(comps))
        length = params.window or int(comps.unet.config.num_frames)
        spans = windows(n, length)
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
        noise = torch.randn(edited.shape, generator=gen)
        args = (f, fps, p.motion_bucket_id, p.noise_aug_strength, noise)
        src_cond = conditioning(comps, src[:1], *args)
        edit_cond = conditioning(comps, edited, *args)
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
