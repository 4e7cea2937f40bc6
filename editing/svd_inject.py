"""AnyV2V-style feature injection into the SVD UNet (plug-and-play, Tumanyan et al. 2023;
AnyV2V, Ku et al. 2024).

While the edited clip is regenerated, the UNet runs on a batch whose first sample is the
*source branch* (the inverted source latent of the current step, conditioned on the
source first frame) and whose other samples are the edited branch (unconditional and
conditional halves when guidance is on). For the first fractions of the steps, features of
the source branch replace the edited branch's:

* ``conv``: the output of the second convolution of the spatial ResNet block
  ``up_blocks[1].resnets[1]`` (before the skip is added), as PnP / AnyV2V do;
* ``spatial``: the queries and keys of the spatial self-attention (``attn1`` of every
  spatial transformer block) in the up blocks that have attention;
* ``temporal``: the queries and keys of the temporal self-attention (``attn1`` of every
  temporal transformer block) in the same up blocks.

Values are never injected: the edited branch keeps its own appearance, laid out with the
source's structure and motion. Injection works by forward hooks on the ``Linear`` /
``Conv2d`` modules, so any attention backend (SDPA, xformers) and CPU offload still work.

Batch layout: every hooked activation has the sample index as its outermost factor of the
first dimension (spatial layers: ``(B * F, ...)``; temporal attention: ``(B * H * W, F, C)``),
so splitting dim 0 into ``B`` equal chunks separates the samples.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

KINDS = ("conv", "spatial", "temporal")


@dataclass
class InjectionState:
    """Which feature kinds are injected in the current UNet call (empty = none)."""
    active: set[str] = field(default_factory=set)
    calls: dict[str, int] = field(default_factory=lambda: {k: 0 for k in KINDS})


def _replace_with_source(output: torch.Tensor, batch: int) -> torch.Tensor:
    """``output`` (batch * n, ...) with every sample's chunk replaced by sample 0's."""
    chunks = output.chunk(batch, dim=0)
    return torch.cat([chunks[0]] * batch, dim=0)


def injection_sites(unet: Any) -> dict[str, list[torch.nn.Module]]:
    """The modules whose outputs are injected, by kind, for a
    ``UNetSpatioTemporalConditionModel`` (the real SVD UNet or a tiny test config)."""
    ups = unet.up_blocks
    conv_block = ups[1] if len(ups) > 1 else ups[0]
    resnet = conv_block.resnets[min(1, len(conv_block.resnets) - 1)]
    sites: dict[str, list[torch.nn.Module]] = {"conv": [resnet.spatial_res_block.conv2],
                                               "spatial": [], "temporal": []}
    for block in ups:
        for tr in getattr(block, "attentions", []):
            for b in tr.transformer_blocks:
                sites["spatial"] += [b.attn1.to_q, b.attn1.to_k]
            for b in tr.temporal_transformer_blocks:
                sites["temporal"] += [b.attn1.to_q, b.attn1.to_k]
    return sites


class FeatureInjector:
    """Installs the hooks on a UNet; use as a context manager (hooks removed on exit).

    Set :attr:`state`'s ``active`` before each UNet call, together with :attr:`batch`, the
    number of samples in that call (sample 0 = the source branch)."""

    def __init__(self, unet: Any):
        self.state = InjectionState()
        self.batch = 1
        self._handles = []
        for kind, modules in injection_sites(unet).items():
            for m in modules:
                self._handles.append(m.register_forward_hook(self._hook(kind)))

    def _hook(self, kind: str):
        def hook(module: torch.nn.Module, args: Any, output: torch.Tensor) -> Any:
            if kind not in self.state.active or self.batch < 2:
                return None
            self.state.calls[kind] += 1
            return _replace_with_source(output, self.batch)
        return hook

    def set(self, kinds: set[str], batch: int) -> None:
        self.state.active = set(kinds)
        self.batch = batch

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self) -> "FeatureInjector":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def active_kinds(step: int, steps: int, thresholds: dict[str, float]) -> set[str]:
    """Kinds injected at ``step`` (0-based) of ``steps``: those whose threshold fraction of
    the schedule has not yet been passed (``step < threshold * steps``)."""
    return {k for k, t in thresholds.items() if step < t * steps}
