"""A small spatio-temporal diffusion transformer for latent video (Latte-style, factorized
attention), conditioned on a prompt through cross-attention and on given frames through
extra input channels.

Read top to bottom, in the spirit of facebookresearch/DiT ``models.py``:

    latent video (B, F, C, h, w) ++ condition (B, F, C + 1, h, w)   given frames' latents + mask
      -> patch tokens (B, T, S, D)        per-frame patches (tubelet_size=1) or tubelets
      -> + sin-cos spatial and temporal positions
      -> blocks alternating spatial attention (over S, per time step) and temporal attention
         (over T, per spatial position); each also cross-attends to the prompt tokens and is
         modulated by adaLN-Zero on timestep + pooled prompt
      -> final adaLN + linear -> unpatchify -> (B, F, C_out, h, w)

The prompt is a short sequence of word ids (:mod:`dit.text`) read by a small transformer
:class:`TextEncoder`; the single ``<null>`` token is the unconditional prompt of
classifier-free guidance. Size presets are functions in :data:`DIT_PRESETS`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from torch import nn

try:  # optional memory-efficient attention
    import xformers.ops as xops
except ImportError:  # pragma: no cover - xformers is not installed on CPU machines
    xops = None


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN modulation. x (N, L, D); shift, scale (N, D)."""
    return torch.addcmul(shift.unsqueeze(1), x, 1 + scale.unsqueeze(1))


# ---------------------------------------------------------------------------------------
#  Embeddings of timestep, label and position
# ---------------------------------------------------------------------------------------

class TimestepEmbedder(nn.Module):
    """Scalar timesteps (N,) in [0, 1000] -> (N, D) through sinusoidal features and an MLP."""

    def __init__(self, hidden_size: int, freq_size: int = 256):
        super().__init__()
        self.freq_size = freq_size
        self.mlp = nn.Sequential(nn.Linear(freq_size, hidden_size), nn.SiLU(),
                                 nn.Linear(hidden_size, hidden_size))

    @staticmethod
    def sinusoid(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
        half = dim // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32,
                                                               device=t.device) / half)
        args = t.float()[:, None] * freqs[None]                        # (N, half)
        return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)   # (N, dim)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        freq = self.sinusoid(t, self.freq_size).to(self.mlp[0].weight.dtype)
        return self.mlp(freq)


class TextEncoder(nn.Module):
    """Prompt token ids (N, L) -> token features (N, L, D), pooled feature (N, D) and the
    padding mask (N, L) (True = a real token): word + position embeddings and ``layers``
    pre-norm transformer encoder layers over the non-padding tokens."""

    def __init__(self, vocab_size: int, max_tokens: int, dim: int, num_heads: int, layers: int):
        super().__init__()
        self.words = nn.Embedding(vocab_size, dim)
        self.positions = nn.Parameter(torch.zeros(1, max_tokens, dim))
        layer = nn.TransformerEncoderLayer(dim, num_heads, 2 * dim, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        keep = ids != 0                                                  # PAD is id 0
        h = self.words(ids) + self.positions[:, :ids.shape[1]]
        h = self.norm(self.encoder(h, src_key_padding_mask=~keep))      # (N, L, D)
        w = keep.unsqueeze(-1).to(h.dtype)
        pooled = (h * w).sum(1) / w.sum(1).clamp_min(1)                 # (N, D)
        return h, pooled, keep


def sincos_1d(dim: int, positions: np.ndarray) -> np.ndarray:
    """positions (M,) -> (M, dim): half sines, half cosines."""
    omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
    out = np.outer(positions.reshape(-1).astype(np.float64), omega)     # (M, dim/2)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(dim: int, grid_h: int, grid_w: int) -> np.ndarray:
    """(grid_h * grid_w, dim): half the channels encode the row, half the column."""
    ys, xs = np.meshgrid(np.arange(grid_h), np.arange(grid_w), indexing="ij")
    return np.concatenate([sincos_1d(dim // 2, ys), sincos_1d(dim // 2, xs)], axis=1)


# ---------------------------------------------------------------------------------------
#  Attention and the transformer block
# ---------------------------------------------------------------------------------------

class Attention(nn.Module):
    """Multi-head self-attention of (B, T, S, D) tokens along one axis: ``"spatial"`` (over the S
    tokens of each time step) or ``"temporal"`` (over the T steps of each position). QK-LayerNorm,
    ``F.scaled_dot_product_attention`` (or xformers when asked and installed).

    The q, k, v projections live in one fused ``qkv`` Linear (one parameter, one checkpoint key)
    but are applied as three matmuls on row blocks of its weight, so q and k come out contiguous
    and their LayerNorms need no copies. The tokens stay in (B, T, S, D) order: the attention
    axis is picked by permuting views, so no block re-orders the whole sequence."""

    def __init__(self, dim: int, num_heads: int, qk_norm: bool = True):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.q_norm = nn.LayerNorm(dim // num_heads, eps=1e-6) if qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(dim // num_heads, eps=1e-6) if qk_norm else nn.Identity()
        self.proj = nn.Linear(dim, dim)
        self.use_xformers = False

    def project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (..., D) -> normalised q, normalised k, v, each (..., H, Dh) and contiguous."""
        d = x.shape[-1]
        w, bias = self.qkv.weight, self.qkv.bias
        q, k, v = (F.linear(x, w[i * d:(i + 1) * d], bias[i * d:(i + 1) * d])
                   .unflatten(-1, (self.num_heads, -1)) for i in range(3))
        return self.q_norm(q), self.k_norm(k), v

    def xformers_applies(self, x: torch.Tensor) -> bool:
        """Whether this call goes through xformers: asked for, installed, and on CUDA."""
        return self.use_xformers and xops is not None and x.is_cuda

    def forward(self, x: torch.Tensor, axis: str) -> torch.Tensor:
        """x (B, T, S, D) -> (B, T, S, D), attending along ``axis``."""
        b, t, s, d = x.shape
        a, length = (t, s) if axis == "spatial" else (s, t)              # A = the other axis
        q, k, v = self.project(x)                                       # (B, T, S, H, Dh)
        if self.xformers_applies(x):
            order = (0, 1, 2, 3, 4) if axis == "spatial" else (0, 2, 1, 3, 4)
            q, k, v = (z.permute(order).reshape(b * a, length, self.num_heads, -1)
                       for z in (q, k, v))                              # (N, L, H, Dh)
            out = xops.memory_efficient_attention(q, k, v)
            out = out.view(b, a, length, self.num_heads, -1).transpose(2, 3)
        else:
            order = (0, 1, 3, 2, 4) if axis == "spatial" else (0, 2, 3, 1, 4)
            q, k, v = (z.permute(order).reshape(b * a, self.num_heads, length, -1)
                       for z in (q, k, v))                              # (N, H, L, Dh)
            out = F.scaled_dot_product_attention(q, k, v).view(b, a, self.num_heads, length, -1)
        order = (0, 1, 3, 2, 4) if axis == "spatial" else (0, 3, 1, 2, 4)
        return self.proj(out.permute(order).reshape(b, t, s, d))       # via (B, T, S, H, Dh)


class CrossAttention(nn.Module):
    """Tokens (N, L, D) attend to prompt features (N, M, D); ``keep`` (N, M) masks padding."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, dim * 2)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, text: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        n, length, d = x.shape
        q = self.q(x).view(n, length, self.num_heads, -1).transpose(1, 2)          # (N, H, L, Dh)
        k, v = (z.view(n, text.shape[1], self.num_heads, -1).transpose(1, 2)
                for z in self.kv(text).chunk(2, dim=-1))                          # (N, H, M, Dh)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep[:, None, None, :])
        return self.proj(out.transpose(1, 2).reshape(n, length, d))


class DiTBlock(nn.Module):
    """Pre-norm transformer block: self-attention along ``axis`` (``"spatial"``: over the S
    tokens of one time step; ``"temporal"``: over the T steps of one position), cross-attention
    to the prompt (PixArt-alpha's placement: after self-attention, unmodulated), then the MLP.
    Self-attention and MLP are modulated by adaLN-Zero."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, axis: str):
        super().__init__()
        self.axis = axis
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm_cross = nn.LayerNorm(dim, eps=1e-6)
        self.cross = CrossAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"),
                                 nn.Linear(hidden, dim))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor, text: torch.Tensor,
                keep: torch.Tensor) -> torch.Tensor:
        """x (B, T, S, D), c (B, D), text (B, M, D), keep (B, M) -> (B, T, S, D)."""
        mods = self.ada(c)[:, None, None].chunk(6, dim=-1)              # 6 x (B, 1, 1, D)
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = mods
        h = torch.addcmul(shift_a, self.norm1(x), 1 + scale_a)
        x = torch.addcmul(x, gate_a, self.attn(h, self.axis))
        x = x + self.cross(self.norm_cross(x).flatten(1, 2), text, keep).view_as(x)
        h = torch.addcmul(shift_m, self.norm2(x), 1 + scale_m)
        return torch.addcmul(x, gate_m, self.mlp(h))


class FinalLayer(nn.Module):
    """adaLN + linear from D to one patch's values: (N, L, D) -> (N, L, patch_dim)."""

    def __init__(self, dim: int, patch_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(dim, patch_dim)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.ada(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm(x), shift, scale))


# ---------------------------------------------------------------------------------------
#  The model
# ---------------------------------------------------------------------------------------

@dataclass
class VideoDiTOutput(BaseOutput):
    sample: torch.Tensor     # (B, F, C_out, h, w)


class VideoDiT(ModelMixin, ConfigMixin):
    """Prompt- and frame-conditioned latent video diffusion transformer.

    ``forward(sample (B, F, C, h, w), timestep (B,) in [0, 1000], prompt_ids (B, M),
    condition (B, F, cond_channels, h, w) or None)`` (or ``prompt_features`` from
    :meth:`encode_prompt` in place of the ids) returns :class:`VideoDiTOutput` with
    ``sample`` (B, F, out_channels, h, w): the velocity (noise - clean latent) by default.
    ``condition`` holds the latents of given frames (zero elsewhere) and a mask channel that is
    1 on given frames; None means no frame is given. ``depth`` counts blocks; they alternate
    spatial, temporal, spatial, ...
    """

    _supports_gradient_checkpointing = True

    @register_to_config
    def __init__(self, sample_size: int = 8, num_frames: int = 16, in_channels: int = 4,
                 out_channels: int | None = None, cond_channels: int = 5, patch_size: int = 2,
                 tubelet_size: int = 1, hidden_size: int = 128, depth: int = 8,
                 num_heads: int = 4, mlp_ratio: float = 4.0, vocab_size: int = 32,
                 max_tokens: int = 8, text_layers: int = 2,
                 prediction_type: str = "velocity"):
        super().__init__()
        if prediction_type not in ("sample", "velocity"):
            raise ValueError("prediction_type must be 'sample' (clean latent) or 'velocity'")
        if sample_size % patch_size or num_frames % tubelet_size:
            raise ValueError("sample_size / num_frames must be multiples of patch / tubelet size")
        self.out_channels = out_channels or in_channels
        self.grid = sample_size // patch_size
        self.num_steps = num_frames // tubelet_size
        patch_in = tubelet_size * patch_size * patch_size * (in_channels + cond_channels)
        patch_out = tubelet_size * patch_size * patch_size * self.out_channels
        self.patch_embed = nn.Linear(patch_in, hidden_size)
        self.t_embedder = TimestepEmbedder(hidden_size)
        self.text_encoder = TextEncoder(vocab_size, max_tokens, hidden_size, num_heads, text_layers)
        self.text_pool = nn.Linear(hidden_size, hidden_size)
        pos_s = sincos_2d(hidden_size, self.grid, self.grid)             # (S, D)
        pos_t = sincos_1d(hidden_size, np.arange(self.num_steps))        # (T, D)
        pos = torch.from_numpy(pos_s).float()[None] + torch.from_numpy(pos_t).float()[:, None]
        self.register_buffer("pos_embed", pos[None], persistent=False)  # (1, T, S, D)
        self.blocks = nn.ModuleList(
            DiTBlock(hidden_size, num_heads, mlp_ratio, "spatial" if i % 2 == 0 else "temporal")
            for i in range(depth))
        self.final_layer = FinalLayer(hidden_size, patch_out)
        self.gradient_checkpointing = False
        self.initialize_weights()

    def initialize_weights(self) -> None:
        def xavier(m: nn.Module) -> None:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        self.apply(xavier)
        nn.init.normal_(self.text_encoder.words.weight, std=0.02)
        nn.init.normal_(self.text_encoder.positions, std=0.02)
        for layer in (self.t_embedder.mlp[0], self.t_embedder.mlp[2]):
            nn.init.normal_(layer.weight, std=0.02)
        for block in self.blocks:                     # adaLN-Zero: every block starts as identity
            nn.init.zeros_(block.ada[-1].weight)
            nn.init.zeros_(block.ada[-1].bias)
            nn.init.zeros_(block.cross.proj.weight)   # and so does its cross-attention
            nn.init.zeros_(block.cross.proj.bias)
        for layer in (self.final_layer.ada[-1], self.final_layer.linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def set_use_xformers(self, enabled: bool = True) -> None:
        if enabled and xops is None:
            raise ImportError("xformers is not installed")
        for m in self.modules():
            if isinstance(m, Attention):
                m.use_xformers = enabled

    # -- patches ---------------------------------------------------------------------------
    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F, C, h, w) -> (B, T, S, tubelet * p * p * C)."""
        b, f, c, h, w = x.shape
        p, q, g = self.config.patch_size, self.config.tubelet_size, self.grid
        x = x.reshape(b, f // q, q, c, g, p, g, p)
        x = x.permute(0, 1, 4, 6, 2, 5, 7, 3)                  # (B, T, gh, gw, q, p, p, C)
        return x.reshape(b, f // q, g * g, q * p * p * c)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, S, tubelet * p * p * C) -> (B, F, C, h, w)."""
        b, t = x.shape[:2]
        p, q, g, c = self.config.patch_size, self.config.tubelet_size, self.grid, self.out_channels
        x = x.reshape(b, t, g, g, q, p, p, c)
        x = x.permute(0, 1, 4, 7, 2, 5, 3, 6)                  # (B, T, q, C, gh, p, gw, p)
        return x.reshape(b, t * q, c, g * p, g * p)

    def empty_condition(self, sample: torch.Tensor) -> torch.Tensor:
        """(B, F, cond_channels, h, w) zeros: no frame given."""
        b, f, _, h, w = sample.shape
        return sample.new_zeros(b, f, self.config.cond_channels, h, w)

    # -- forward ---------------------------------------------------------------------------
    def encode_prompt(self, prompt_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(token features (B, M, D), pooled (B, D), padding mask (B, M)) of prompt ids (B, M):
        a sampler computes them once and passes them to every step as ``prompt_features``."""
        return self.text_encoder(prompt_ids.to(self.device))

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor | float,
                prompt_ids: torch.Tensor | None, condition: torch.Tensor | None = None,
                return_dict: bool = True, prompt_features: tuple | None = None
                ) -> VideoDiTOutput | tuple:
        b = sample.shape[0]
        if not torch.is_tensor(timestep) or timestep.ndim == 0:
            timestep = torch.as_tensor(timestep, device=sample.device).reshape(1)
        timestep = timestep.to(sample.device).expand(b)
        if condition is None:
            condition = self.empty_condition(sample)
        x = torch.cat([sample, condition.to(sample.dtype)], dim=2)     # (B, F, C + Cc, h, w)
        x = self.patch_embed(self.patchify(x))                   # (B, T, S, D)
        x = x + self.pos_embed.to(x.dtype)
        text, pooled, keep = prompt_features or self.encode_prompt(prompt_ids)
        c = self.t_embedder(timestep) + self.text_pool(pooled)   # (B, D)
        for block in self.blocks:
            if torch.is_grad_enabled() and self.gradient_checkpointing:
                x = self._gradient_checkpointing_func(block, x, c, text, keep)
            else:
                x = block(x, c, text, keep)                      # (B, T, S, D)
        t, s, d = x.shape[1:]
        x = self.final_layer(x.reshape(b, t * s, d), c)          # (B, T*S, patch_out)
        out = self.unpatchify(x.reshape(b, t, s, -1))            # (B, F, C_out, h, w)
        return VideoDiTOutput(sample=out) if return_dict else (out,)


# ---------------------------------------------------------------------------------------
#  Size presets
# ---------------------------------------------------------------------------------------

def DiT_tiny(**kw) -> VideoDiT:
    return VideoDiT(hidden_size=kw.pop("hidden_size", 128), depth=kw.pop("depth", 8),
                    num_heads=kw.pop("num_heads", 4), **kw)


def DiT_S(**kw) -> VideoDiT:
    return VideoDiT(hidden_size=kw.pop("hidden_size", 384), depth=kw.pop("depth", 12),
                    num_heads=kw.pop("num_heads", 6), **kw)


def DiT_B(**kw) -> VideoDiT:
    return VideoDiT(hidden_size=kw.pop("hidden_size", 768), depth=kw.pop("depth", 12),
                    num_heads=kw.pop("num_heads", 12), **kw)


DIT_PRESETS = {"tiny": DiT_tiny, "S": DiT_S, "B": DiT_B}
