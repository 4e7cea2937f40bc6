"""SVD model configs and random-weight builds.

* :func:`tiny_svd_components` — tiny random-weight parts (the diffusers test-suite sizes) for
  end-to-end tests on CPU in seconds.
* :func:`img2vid_xt_configs` / :func:`random_svd_components` — the real
  ``stable-video-diffusion-img2vid-xt`` configs, to build full-size random-weight models for
  GPU speed / memory benchmarks.
"""
from __future__ import annotations

import copy

import torch

from .components import CLIP_MEAN, CLIP_STD, SVDComponents


def img2vid_xt_configs() -> dict[str, dict]:
    """The configs of ``stabilityai/stable-video-diffusion-img2vid-xt``, one dict per part
    (``unet``, ``vae``, ``image_encoder``, ``feature_extractor``, ``scheduler``)."""
    return copy.deepcopy({
        "unet": dict(
            sample_size=96, in_channels=8, out_channels=4, num_frames=25,
            down_block_types=("CrossAttnDownBlockSpatioTemporal",) * 3 + ("DownBlockSpatioTemporal",),
            up_block_types=("UpBlockSpatioTemporal",) + ("CrossAttnUpBlockSpatioTemporal",) * 3,
            block_out_channels=(320, 640, 1280, 1280), addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=768, layers_per_block=2, cross_attention_dim=1024,
            transformer_layers_per_block=1, num_attention_heads=(5, 10, 20, 20)),
        "vae": dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                    block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
                    sample_size=768, scaling_factor=0.18215, force_upcast=True),
        "image_encoder": dict(hidden_size=1280, intermediate_size=5120, projection_dim=1024,
                              num_hidden_layers=32, num_attention_heads=16, image_size=224,
                              patch_size=14, hidden_act="gelu", layer_norm_eps=1e-5),
        "feature_extractor": dict(crop_size=224, size={"shortest_edge": 224}, do_center_crop=True,
                                  do_normalize=True, do_resize=True, do_rescale=True,
                                  image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD), resample=3),
        "scheduler": _svd_scheduler_config(),
    })


def tiny_svd_configs(num_frames: int = 8) -> dict[str, dict]:
    """Tiny configs (the sizes of diffusers' SVD fast tests): a UNet of a few hundred k
    parameters, a 2x-downsampling VAE, a 32-px CLIP. Same keys as :func:`img2vid_xt_configs`.
    ``num_frames`` is the UNet's nominal clip length (engines chain segments beyond it)."""
    return copy.deepcopy({
        "unet": dict(
            sample_size=32, in_channels=8, out_channels=4, num_frames=num_frames,
            down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
            up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
            block_out_channels=(32, 64), layers_per_block=2, cross_attention_dim=32,
            num_attention_heads=8, projection_class_embeddings_input_dim=96,
            addition_time_embed_dim=32),
        "vae": dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                    block_out_channels=(32, 64), latent_channels=4),
        "image_encoder": dict(hidden_size=32, projection_dim=32, num_hidden_layers=5,
                              num_attention_heads=4, image_size=32, intermediate_size=37,
                              patch_size=1),
        "feature_extractor": dict(crop_size=32, size=32),
        "scheduler": _svd_scheduler_config(),
    })


def _svd_scheduler_config() -> dict:
    return dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                beta_schedule="scaled_linear", interpolation_type="linear",
                prediction_type="v_prediction", sigma_min=0.002, sigma_max=700.0, steps_offset=1,
                timestep_spacing="leading", timestep_type="continuous", use_karras_sigmas=True)


def random_svd_components(configs: dict[str, dict] | None = None, *, seed: int = 0,
                          torch_dtype: torch.dtype | None = None,
                          device: str | torch.device | None = None) -> SVDComponents:
    """SVD parts with random weights built from ``configs`` (default: the real img2vid-xt
    sizes — about 2.3 GB of parameters; build on the GPU with ``device="cuda"``)."""
    from diffusers import (AutoencoderKLTemporalDecoder, EulerDiscreteScheduler,
                           UNetSpatioTemporalConditionModel)
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    cfg = configs if configs is not None else img2vid_xt_configs()
    ctx = torch.device(device) if device is not None else torch.device("cpu")
    with ctx:
        torch.manual_seed(seed)
        unet = UNetSpatioTemporalConditionModel(**cfg["unet"])
        torch.manual_seed(seed)
        vae = AutoencoderKLTemporalDecoder(**cfg["vae"])
        torch.manual_seed(seed)
        image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(**cfg["image_encoder"]))
    comps = SVDComponents(unet=unet, vae=vae, image_encoder=image_encoder,
                          feature_extractor=CLIPImageProcessor(**cfg["feature_extractor"]),
                          scheduler=EulerDiscreteScheduler(**cfg["scheduler"]),
                          source="<random>").eval()
    if torch_dtype is not None:
        comps.to(dtype=torch_dtype)
    return comps


def tiny_svd_components(seed: int = 0, num_frames: int = 8) -> SVDComponents:
    """Tiny random-weight SVD parts for CPU tests (seconds per clip, deterministic per seed)."""
    return random_svd_components(tiny_svd_configs(num_frames), seed=seed)
