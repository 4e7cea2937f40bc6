"""A small spatio-temporal diffusion transformer for video (Latte-style, factorized attention).

Read top to bottom, in the spirit of facebookresearch/DiT ``models.py``:

    video (B, F, C, H, W)
      -> patch tokens (B, T, S, D)        per-frame patches (tubelet_size=1) or tubelets
      -> + sin-cos spatial and temporal positions
      -> blocks alternating spatial attention (over S, per time step) and temporal attention
         (over T, per spatial position), each with adaLN-Zero on timestep + class embedding
      -> final adaLN + linear -> unpatchify -> (B, F, C_out, H, W)

Class label ``num_classes`` is the null label used for classifier-free guidance.
Size presets are functions in :data:`DIT_PRESETS` (``"tiny"``, ``"S"``, ``"B"``).
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


class LabelEmbedder(nn.Module):
    """Class labels (N,) -> (N, D). Index ``num_classes`` is the null (unconditional) label;
    during training labels are replaced by it with probability ``dropout_prob``."""

    def __init__(self, num_classes: int, hidden_size: int, dropout_prob: float):
        super().__init__()
        self.num_classes = num_classes
        self.dropout_prob = dropout_prob
        self.table = nn.Embedding(num_classes + 1, hidden_size)

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        if self.training and self.dropout_prob > 0:
            drop = torch.rand(labels.shape, device=labels.device) < self.dropout_prob
            labels = torch.where(drop, torch.full_like(labels, self.num_classes), labels)
        return self.table(labels)


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


class DiTBlock(nn.Module):
    """Pre-norm transformer block with adaLN-Zero. ``axis`` is ``"spatial"`` (attend over the
    S tokens of one time step) or ``"temporal"`` (attend over the T steps of one position)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, axis: str):
        super().__init__()
        self.axis = axis
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"),
                                 nn.Linear(hidden, dim))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """x (B, T, S, D), c (B, D) -> (B, T, S, D)."""
        mods = self.ada(c)[:, None, None].chunk(6, dim=-1)              # 6 x (B, 1, 1, D)
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = mods
        h = torch.addcmul(shift_a, self.norm1(x), 1 + scale_a)
        x = torch.addcmul(x, gate_a, self.attn(h, self.axis))
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


class PixelRefiner(nn.Module):
    """A small convolutional head at full resolution, after unpatchify (as U-ViT ends on a
    conv): it sees the noisy input and the transformer's output and adds a correction, so
    detail and object edges need not pass through one D-wide token per patch, and nothing in it
    is aligned to the patch grid. FiLM on the timestep + label embedding; the last conv starts
    at zero, so a fresh refiner leaves the transformer's output unchanged.

    ``forward(sample (B, F, C, H, W), coarse (B, F, C_out, H, W), c (B, D))`` -> like coarse.
    """

    def __init__(self, in_channels: int, out_channels: int, cond_dim: int, channels: int):
        super().__init__()
        self.conv_in = nn.Conv3d(in_channels + out_channels, channels, 3, padding=1)
        self.film = nn.Sequential(nn.SiLU(), nn.Linear(cond_dim, 2 * channels))
        self.conv_mid = nn.Conv3d(channels, channels, (1, 3, 3), padding=(0, 1, 1))
        self.conv_out = nn.Conv3d(channels, out_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, sample: torch.Tensor, coarse: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        x = torch.cat([sample, coarse], 2).transpose(1, 2)                   # (B, C+C_out, F, H, W)
        # channels-last: oneDNN's 3-D convolutions run about twice as fast on this layout
        h = self.conv_in(x.contiguous(memory_format=torch.channels_last_3d))  # (B, h, F, H, W)
        shift, scale = self.film(c)[:, :, None, None, None].chunk(2, dim=1)
        h = F.silu(torch.addcmul(shift, h, 1 + scale))
        h = F.silu(self.conv_mid(h))
        return coarse + self.conv_out(h).transpose(1, 2)


# ---------------------------------------------------------------------------------------
#  The model
# ---------------------------------------------------------------------------------------

@dataclass
class VideoDiTOutput(BaseOutput):
    sample: torch.Tensor     # (B, F, C_out, H, W)


class VideoDiT(ModelMixin, ConfigMixin):
    """Class-conditional video diffusion transformer.

    ``forward(sample (B, F, C, H, W), timestep (B,) in [0, 1000], class_labels (B,))``
    returns :class:`VideoDiTOutput` with ``sample`` of shape (B, F, out_channels, H, W).
    ``depth`` counts blocks; they alternate spatial, temporal, spatial, ...
    ``prediction_type`` says what ``sample`` holds: ``"sample"`` (the clean clip, x-prediction:
    the default, because a pixel patch of 8x8x2x3 = 384 values does not fit through a width of
    128 as noise but does as a clean image) or ``"velocity"`` (noise - clean clip).
    ``refiner_channels`` > 0 adds a :class:`PixelRefiner` after unpatchify.
    """

    _supports_gradient_checkpointing = True

    @register_to_config
    def __init__(self, sample_size: int = 32, num_frames: int = 16, in_channels: int = 3,
                 out_channels: int | None = None, patch_size: int = 4, tubelet_size: int = 1,
                 hidden_size: int = 192, depth: int = 8, num_heads: int = 3,
                 mlp_ratio: float = 4.0, num_classes: int = 12, class_dropout_prob: float = 0.1,
                 prediction_type: str = "sample", refiner_channels: int = 0):
        super().__init__()
        if prediction_type not in ("sample", "velocity"):
            raise ValueError("prediction_type must be 'sample' (clean clip) or 'velocity'")
        if sample_size % patch_size or num_frames % tubelet_size:
            raise ValueError("sample_size / num_frames must be multiples of patch / tubelet size")
        self.out_channels = out_channels or in_channels
        self.grid = sample_size // patch_size
        self.num_steps = num_frames // tubelet_size
        patch_in = tubelet_size * patch_size * patch_size * in_channels
        patch_out = tubelet_size * patch_size * patch_size * self.out_channels
        self.patch_embed = nn.Linear(patch_in, hidden_size)
        self.t_embedder = TimestepEmbedder(hidden_size)
        self.y_embedder = LabelEmbedder(num_classes, hidden_size, class_dropout_prob)
        pos_s = sincos_2d(hidden_size, self.grid, self.grid)             # (S, D)
        pos_t = sincos_1d(hidden_size, np.arange(self.num_steps))        # (T, D)
        pos = torch.from_numpy(pos_s).float()[None] + torch.from_numpy(pos_t).float()[:, None]
        self.register_buffer("pos_embed", pos[None], persistent=False)  # (1, T, S, D)
        self.blocks = nn.ModuleList(
            DiTBlock(hidden_size, num_heads, mlp_ratio, "spatial" if i % 2 == 0 else "temporal")
            for i in range(depth))
        self.final_layer = FinalLayer(hidden_size, patch_out)
        self.refiner = PixelRefiner(in_channels, self.out_channels, hidden_size, refiner_channels) \
            if refiner_channels else None
        self.gradient_checkpointing = False
        self.initialize_weights()

    def initialize_weights(self) -> None:
        def xavier(m: nn.Module) -> None:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        self.apply(xavier)
        nn.init.normal_(self.y_embedder.table.weight, std=0.02)
        for layer in (self.t_embedder.mlp[0], self.t_embedder.mlp[2]):
            nn.init.normal_(layer.weight, std=0.02)
        for block in self.blocks:                     # adaLN-Zero: every block starts as identity
            nn.init.zeros_(block.ada[-1].weight)
            nn.init.zeros_(block.ada[-1].bias)
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
        """(B, F, C, H, W) -> (B, T, S, tubelet * p * p * C)."""
        b, f, c, h, w = x.shape
        p, q, g = self.config.patch_size, self.config.tubelet_size, self.grid
        x = x.reshape(b, f // q, q, c, g, p, g, p)
        x = x.permute(0, 1, 4, 6, 2, 5, 7, 3)                  # (B, T, gh, gw, q, p, p, C)
        return x.reshape(b, f // q, g * g, q * p * p * c)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, S, tubelet * p * p * C) -> (B, F, C, H, W)."""
        b, t = x.shape[:2]
        p, q, g, c = self.config.patch_size, self.config.tubelet_size, self.grid, self.out_channels
        x = x.reshape(b, t, g, g, q, p, p, c)
        x = x.permute(0, 1, 4, 7, 2, 5, 3, 6)                  # (B, T, q, C, gh, p, gw, p)
        return x.reshape(b, t * q, c, g * p, g * p)

    # -- forward ---------------------------------------------------------------------------
    def forward(self, sample: torch.Tensor, timestep: torch.Tensor | float,
                class_labels: torch.Tensor, return_dict: bool = True) -> VideoDiTOutput | tuple:
        b = sample.shape[0]
        if not torch.is_tensor(timestep) or timestep.ndim == 0:
            timestep = torch.as_tensor(timestep, device=sample.device).reshape(1)
        timestep = timestep.to(sample.device).expand(b)
        x = self.patch_embed(self.patchify(sample))              # (B, T, S, D)
        x = x + self.pos_embed.to(x.dtype)
        c = self.t_embedder(timestep) + self.y_embedder(class_labels)   # (B, D)
        for block in self.blocks:
            if torch.is_grad_enabled() and self.gradient_checkpointing:
                x = self._gradient_checkpointing_func(block, x, c)
            else:
                x = block(x, c)                                  # (B, T, S, D)
        t, s, d = x.shape[1:]
        x = self.final_layer(x.reshape(b, t * s, d), c)          # (B, T*S, patch_out)
        out = self.unpatchify(x.reshape(b, t, s, -1))            # (B, F, C_out, H, W)
        if self.refiner is not None:
            out = self.refiner(sample, out, c)
        return VideoDiTOutput(sample=out) if return_dict else (out,)


# ---------------------------------------------------------------------------------------
#  Size presets
# ---------------------------------------------------------------------------------------

def DiT_tiny(**kw) -> VideoDiT:
    return VideoDiT(hidden_size=kw.pop("hidden_size", 128), depth=kw.pop("depth", 6),
                    num_heads=kw.pop("num_heads", 4), **kw)


def DiT_S(**kw) -> VideoDiT:
    return VideoDiT(hidden_size=kw.pop("hidden_size", 384), depth=kw.pop("depth", 12),
                    num_heads=kw.pop("num_heads", 6), **kw)


def DiT_B(**kw) -> VideoDiT:
    return VideoDiT(hidden_size=kw.pop("hidden_size", 768), depth=kw.pop("depth", 12),
                    num_heads=kw.pop("num_heads", 12), **kw)


DIT_PRESETS = {"tiny": DiT_tiny, "S": DiT_S, "B": DiT_B}
