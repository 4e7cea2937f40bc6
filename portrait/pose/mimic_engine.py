"""The ``mimicmotion`` engine: the driver retargeted onto the reference (as the rig does),
drawn as OpenPose-coloured skeletons, and an SVD UNet + pose guider denoising the video."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import torch

from animakit.errors import WeightsNotFoundError
from animakit.pipeline import Engine, FrameStream
from .skeleton import render_pose_image
from animakit.svd import SVDComponents, load_svd_components, resolve_device_dtype

from .reference import load_driver, load_reference, targets

if TYPE_CHECKING:       # the module itself (diffusers) loads with the weights, not with the pipeline
    from .mimicmotion import PoseNet


def find_checkpoint(weights: str, checkpoint: str) -> Path:
    if checkpoint:
        return Path(checkpoint)
    folder = Path(weights).expanduser()
    found = sorted(folder.glob("*[Mm]imic[Mm]otion*.safetensors")) if folder.is_dir() else []
    if not found:
        raise WeightsNotFoundError(weights or "weights", "no MimicMotion*.safetensors next to the "
                                   "SVD folders; pass --param checkpoint=PATH")
    return found[0]


class MimicMotionEngine(Engine):
    name = "mimicmotion"
    neural = True
    help = ("neural (MimicMotion design): SVD img2vid UNet + CLIP image encoder + VAE with a pose "
            "guider on skeleton images; needs --param weights=SVD_FOLDER and the MimicMotion "
            "checkpoint (.safetensors); GPU recommended")

    def __init__(self):
        self.components: tuple[SVDComponents, PoseNet] | None = None   # set to skip loading

    def load(self, params: Any) -> tuple[SVDComponents, PoseNet]:
        if self.components is not None:
            return self.components
        from .mimicmotion import PoseNet, load_checkpoint
        device, dtype = resolve_device_dtype(params.device, params.dtype)
        comps = load_svd_components(params.weights, torch_dtype=dtype)
        pose_net = PoseNet(noise_latent_channels=comps.unet.config.block_out_channels[0])
        load_checkpoint(find_checkpoint(params.weights, params.checkpoint), pose_net, comps.unet)
        comps.to(device)
        pose_net.to(device, dtype)
        self.components = (comps, pose_net)
        return self.components

    def stream(self, inputs: dict[str, Any], params: Any, generator: Any = None) -> FrameStream:
        comps, pose_net = self.load(params)
        ref = load_reference(inputs, params.size)
        seq = load_driver(inputs["driving"], params.fps, params.duration)
        tg = targets(ref, seq, smoothing=params.smoothing, mode=params.retarget,
                     root_motion=params.root_motion)
        f = comps.vae_scale_factor
        h0, w0 = ref.image.shape[:2]
        mult = 8 * f
        w, h = max(mult, round(w0 / mult) * mult), max(mult, round(h0 / mult) * mult)
        pw, ph = w // f * 8, h // f * 8
        sx, sy = pw / w0, ph / h0
        pts = np.concatenate([ref.points[None], tg.points]) * np.array([sx, sy, 1], np.float32)
        vis = np.concatenate([ref.visibility[None], tg.visibility])
        poses = np.stack([render_pose_image(p, v, (pw, ph)) for p, v in zip(pts, vis)])
        image = cv2.resize(ref.image, (w, h), interpolation=cv2.INTER_AREA)
        ref_t = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
        pose_t = torch.from_numpy(poses).permute(0, 3, 1, 2).float() / 255

        def frames():
            from .mimicmotion import sample
            out = sample(comps, pose_net, ref_t, pose_t, steps=params.steps,
                         min_guidance=params.guidance, max_guidance=params.guidance,
                         window=params.window, overlap=min(params.overlap, params.window - 1),
                         fps=int(round(seq.fps)), noise_aug=params.noise_aug, generator=generator)
            for fr in out.frames:
                yield (fr.permute(1, 2, 0).float().cpu().numpy() * 255 + 0.5).astype(np.uint8)

        return FrameStream(frames(), fps=seq.fps, size=(w, h), num_frames=len(tg.points),
                           extras={"targets": tg.points})
