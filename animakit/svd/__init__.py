"""The shared Stable Video Diffusion backend of every SVD-family engine.

* :mod:`.components` — the five checkpoint parts (:class:`SVDComponents`) and reading them
  from a folder or a cached hub id (:func:`load_svd_components`; nothing is downloaded).
* :mod:`.configs` — real and tiny configs, random-weight builds for tests and benchmarks.
* :mod:`.placement` — device / dtype, CPU offload, attention, feed-forward chunking, and
  :func:`cached_components`: loaded once per process through :data:`animakit.cache.MODELS`.
* :mod:`.steps` — what every sampler shares: frames <-> tensors, sizes, windows, noise,
  guidance ramps, CLIP / VAE encoding, decoding, :func:`image_conditioning`.
* :mod:`.engine` — :class:`SVDParams` (the loading params every engine declares once) and
  :class:`SVDEngineMixin` (components loaded or injected, ``callback_on_step_end``).

Example::

    from animakit.svd import load_svd_components
    parts = load_svd_components("/models/svd-xt", torch_dtype=torch.float16).to("cuda")
    pipe = parts.as_pipeline()          # a diffusers StableVideoDiffusionPipeline
"""
from .components import (SUBFOLDERS, WEIGHTS_HINT, SVDComponents, load_svd_components,
                         resolve_weights, weights_source)
from .configs import (img2vid_xt_configs, random_svd_components, tiny_svd_components,
                      tiny_svd_configs)
from .engine import SVDEngineMixin, SVDParams
from .placement import (Placement, cached_components, enable_fast_attention, enable_low_memory,
                        enable_model_cpu_offload, load_placed, place, placement,
                        resolve_device_dtype)
from .steps import (Conditioning, added_time_ids, decode_vae_latents, encode_clip_image,
                    encode_vae_latents, frame_guidance, image_conditioning, model_size, randn,
                    size_multiple, stack, to_frames, to_tensor, windows)

__all__ = [
    "SUBFOLDERS", "WEIGHTS_HINT", "SVDComponents", "load_svd_components", "resolve_weights",
    "weights_source", "img2vid_xt_configs", "random_svd_components", "tiny_svd_components",
    "tiny_svd_configs", "SVDEngineMixin", "SVDParams", "Placement", "cached_components",
    "enable_fast_attention", "enable_low_memory", "enable_model_cpu_offload", "load_placed",
    "place", "placement", "resolve_device_dtype", "Conditioning", "added_time_ids",
    "decode_vae_latents", "encode_clip_image", "encode_vae_latents", "frame_guidance",
    "image_conditioning", "model_size", "randn", "size_multiple", "stack", "to_frames",
    "to_tensor", "windows",
]
