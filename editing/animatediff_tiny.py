"""Tiny random-weight AnimateDiff parts (the sizes of diffusers' own AnimateDiff fast
tests), written as a diffusers-layout SD 1.5 folder plus a motion-adapter folder in
safetensors: end-to-end tests of the animatediff engine run on the CPU in seconds, through
the same loading code as real weights. The tokenizer is a byte-level CLIP vocabulary built
here (no download)."""
from __future__ import annotations

import json
from pathlib import Path

import torch


def _byte_vocab() -> dict[str, int]:
    """CLIP's byte-level alphabet (each byte, alone and word-final) and its two specials."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    extra = [256 + i for i in range(256 - len(printable))]   # GPT-2's bytes_to_unicode
    chars = [chr(c) for c in printable + extra]
    tokens = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(tokens)}


def write_tiny_animatediff(folder: str | Path, seed: int = 0) -> tuple[Path, Path]:
    """Write tiny random SD 1.5 parts and a motion adapter under ``folder``; returns
    (sd folder, motion adapter folder)."""
    from diffusers import AutoencoderKL, DDIMScheduler, MotionAdapter, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    root = Path(folder)
    sd, ma = root / "sd15", root / "motion_adapter"
    channels = (8, 8)
    torch.manual_seed(seed)
    UNet2DConditionModel(block_out_channels=channels, layers_per_block=2, sample_size=8,
                         in_channels=4, out_channels=4, cross_attention_dim=8,
                         down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                         up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                         norm_num_groups=2).save_pretrained(sd / "unet")
    torch.manual_seed(seed)
    AutoencoderKL(block_out_channels=channels, in_channels=3, out_channels=3,
                  down_block_types=["DownEncoderBlock2D"] * 2,
                  up_block_types=["UpDecoderBlock2D"] * 2, latent_channels=4,
                  norm_num_groups=2).save_pretrained(sd / "vae")
    torch.manual_seed(seed)
    CLIPTextModel(CLIPTextConfig(bos_token_id=512, eos_token_id=513, hidden_size=8,
                                 intermediate_size=37, layer_norm_eps=1e-5,
                                 num_attention_heads=4, num_hidden_layers=5, pad_token_id=513,
                                 vocab_size=514)).save_pretrained(sd / "text_encoder")
    tok = sd / "tokenizer"
    tok.mkdir(parents=True, exist_ok=True)
    (tok / "vocab.json").write_text(json.dumps(_byte_vocab()))
    (tok / "merges.txt").write_text("#version: 0.2\n")
    CLIPTokenizer(str(tok / "vocab.json"), str(tok / "merges.txt"),
                  model_max_length=77).save_pretrained(tok)
    DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="linear",
                  clip_sample=False).save_pretrained(sd / "scheduler")
    torch.manual_seed(seed)
    MotionAdapter(block_out_channels=channels, motion_layers_per_block=2,
                  motion_norm_num_groups=2, motion_num_attention_heads=4).save_pretrained(ma)
    return sd, ma


def write_tiny_ip_adapter(folder: str | Path, sd: str | Path, ma: str | Path,
                          seed: int = 0) -> Path:
    """Write a tiny random IP-Adapter for the tiny parts of :func:`write_tiny_animatediff`
    (h94/IP-Adapter's layout: ``ip-adapter.safetensors`` beside ``image_encoder/``);
    returns the ``.safetensors`` path."""
    from diffusers import MotionAdapter, UNet2DConditionModel, UNetMotionModel
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    root = Path(folder)
    torch.manual_seed(seed)
    encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=8, projection_dim=8, num_hidden_layers=2, num_attention_heads=2,
        image_size=32, patch_size=8, intermediate_size=16))
    encoder.save_pretrained(root / "image_encoder")
    unet = UNetMotionModel.from_unet2d(UNet2DConditionModel.from_pretrained(sd, subfolder="unet"),
                                       MotionAdapter.from_pretrained(ma))
    cad = unet.config.cross_attention_dim
    weights = {"image_proj.proj.weight": torch.randn(4 * cad, 8) * 0.3,
               "image_proj.proj.bias": torch.zeros(4 * cad),
               "image_proj.norm.weight": torch.ones(cad),
               "image_proj.norm.bias": torch.zeros(cad)}
    key = 1          # diffusers numbers the cross-attention processors 1, 3, 5, ...
    for name in unet.attn_processors:
        if name.endswith("attn1.processor") or "motion_modules" in name:
            continue
        block = name.split(".")[0]
        channels = unet.config.block_out_channels
        hidden = (channels[-1] if block == "mid_block" else
                  list(reversed(channels))[int(name[len("up_blocks.")])] if block == "up_blocks"
                  else channels[int(name[len("down_blocks.")])])
        for kv in ("to_k_ip", "to_v_ip"):
            weights[f"ip_adapter.{key}.{kv}.weight"] = torch.randn(hidden, cad) * 0.3
        key += 2
    path = root / "ip-adapter.safetensors"
    save_file({k: v.contiguous() for k, v in weights.items()}, str(path))
    return path
