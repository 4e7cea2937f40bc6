"""The ``mimicmotion`` engine: the driver retargeted onto the reference (as the rig does),
drawn as OpenPose-coloured skeletons, and an SVD UNet + pose guider denoising the video.

The SVD parts load through the shared backend (:mod:`animakit.svd`: cached per process,
CPU offload, attention and chunking switches); the MimicMotion checkpoint's fine-tuned UNet
and pose guider are applied to them once, in their own cache slot."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from animakit.errors import WeightsNotFoundError
from animakit.params import param
from animakit.pipeline import Engine, FrameStream
from animakit.seeding import torch_generator
from animakit.svd import (SVDComponents, SVDEngineMixin, SVDParams, cached_components,
                          model_size, placement, size_multiple, to_frames, to_tensor)

from .reference import load_driver, load_reference, targets
from .skeleton import render_pose_image

POSE_CELL = 8    # skeleton-image pixels per latent cell: the pose guider downsamples 8x


@dataclass
class MimicMotionParams(SVDParams):
    """The mimicmotion engine's own settings (loading ones from :class:`animakit.svd.SVDParams`;
    ``weights`` is an SVD img2vid-xt checkpoint)."""
    checkpoint: str = param("", "MimicMotion .safetensors (default: MimicMotion*.safetensors "
                            "inside the weights folder)")
    steps: int = param(25, "denoising steps", min=1, max=200)
    guidance: float = param(2.0, "classifier-free guidance scale", min=1.0, max=10.0, advanced=True)
    window: int = param(16, "frames per window", min=2, max=72, advanced=True)
    overlap: int = param(6, "frames shared by consecutive windows (the reference frame, which "
                         "every window holds, counts as one)", min=0, max=64, advanced=True)
    noise_aug: float = param(0.0, "noise added to the reference latents", min=0.0, max=1.0, advanced=True)


def find_checkpoint(weights: str, checkpoint: str) -> Path:
    if checkpoint:
        return Path(checkpoint)
    folder = Path(weights).expanduser()
    found = sorted(folder.glob("*[Mm]imic[Mm]otion*.safetensors")) if folder.is_dir() else []
    if not found:
        raise WeightsNotFoundError(weights or "weights", "no MimicMotion*.safetensors next to the "
                                   "SVD folders; pass --param checkpoint=PATH")
    return found[0]


def add_pose_guider(comps: SVDComponents, checkpoint: str) -> None:
    """Apply a MimicMotion checkpoint to freshly loaded SVD parts: its fine-tuned UNet
    weights, and its pose guider as ``comps.extra["pose_net"]`` (in the parts' dtype)."""
    from .mimicmotion import PoseNet, load_checkpoint
    pose_net = PoseNet(noise_latent_channels=comps.unet.config.block_out_channels[0])
    load_checkpoint(find_checkpoint(comps.source, checkpoint), pose_net, comps.unet)
    comps.extra["pose_net"] = pose_net.to(dtype=comps.dtype).eval().requires_grad_(False)


class MimicMotionEngine(SVDEngineMixin, Engine):
    """Injected components (:meth:`use_components`) carry the pose guider as
    ``extra["pose_net"]``. ``callback_on_step_end(components, step, timestep,
    {"latents": ...})`` may return replacement latents."""
    name = "mimicmotion"
    neural = True
    help = ("neural (MimicMotion design): SVD img2vid UNet + CLIP image encoder + VAE with a pose "
            "guider on skeleton images; needs --param weights=SVD_FOLDER and the MimicMotion "
            "checkpoint (.safetensors); GPU recommended")
    Params = MimicMotionParams

    def load(self, p: Any) -> SVDComponents:
        return cached_components(placement(p), functools.partial(
            add_pose_guider, checkpoint=p.checkpoint), tag="mimicmotion", key=(p.checkpoint,))

    def stream(self, inputs: dict[str, Any], params: Any, generator: Any = None) -> FrameStream:
        comps = self.components(params)
        ref = load_reference(inputs, params.size)
        seq = load_driver(inputs["driving"], params.fps, params.duration)
        tg = targets(ref, seq, smoothing=params.smoothing, mode=params.retarget,
                     root_motion=params.root_motion)
        f = comps.vae_scale_factor
        h0, w0 = ref.image.shape[:2]
        w, h = model_size(w0, h0, size_multiple(comps))
        pw, ph = w // f * POSE_CELL, h // f * POSE_CELL
        sx, sy = pw / w0, ph / h0
        pts = np.concatenate([ref.points[None], tg.points]) * np.array([sx, sy, 1], np.float32)
        vis = np.concatenate([ref.visibility[None], tg.visibility])
        poses = [render_pose_image(p, v, (pw, ph)) for p, v in zip(pts, vis)]
        image = cv2.resize(ref.image, (w, h), interpolation=cv2.INTER_AREA)

        def frames():
            from .mimicmotion import sample
            out = sample(comps, comps.extra["pose_net"], to_tensor([image]), to_tensor(poses),
                         steps=params.steps, min_guidance=params.guidance,
                         max_guidance=params.guidance, window=params.window,
                         overlap=params.overlap, fps=int(round(seq.fps)),
                         noise_aug=params.noise_aug, decode_chunk_size=params.decode_chunk_size,
                         generator=torch_generator(generator),
                         callback_on_step_end=self.callback_on_step_end)
            yield from to_frames(out.frames)

        return FrameStream(frames(), fps=seq.fps, size=(w, h), num_frames=len(tg.points),
                           extras={"targets": tg.points})
