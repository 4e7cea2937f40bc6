"""What every SVD-family engine shares: its loading params, and its models.

An engine declares ``Params`` as a subclass of :class:`SVDParams` (weights, device, dtype and
the memory switches, declared once here) and mixes in :class:`SVDEngineMixin`, which gives it
:meth:`~SVDEngineMixin.components` (loaded through the process-wide cache, or injected with
:meth:`~SVDEngineMixin.use_components` in tests) and a diffusers-style
``callback_on_step_end``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..cancel import check as check_cancelled
from ..params import param
from .components import SVDComponents
from .placement import cached_components, placement


@dataclass
class SVDParams:
    """Which SVD checkpoint to load, where it runs and how it saves memory."""
    weights: str = param("", "SVD checkpoint: a diffusers-layout folder or a hub id already in "
                         "the local cache (default $ANIMAKIT_SVD_WEIGHTS); nothing is downloaded")
    device: str = param("auto", "torch device (auto = cuda when available)", advanced=True)
    dtype: str = param("auto", "weights precision (auto = float16 on GPU, float32 on CPU)",
                       choices=("auto", "float16", "bfloat16", "float32"), advanced=True)
    attention: str = param("auto", "attention backend (auto = xformers if installed, else SDPA)",
                           choices=("auto", "sdpa", "xformers"), advanced=True)
    cpu_offload: bool = param(False, "keep the networks on the CPU until each runs (low GPU "
                              "memory, slower)", advanced=True)
    forward_chunking: bool = param(False, "UNet feed-forward one frame at a time (low memory)", advanced=True)
    decode_chunk_size: int = param(8, "frames VAE-encoded / decoded at once (less = less memory)",
                                   min=1, max=64, advanced=True)


class SVDEngineMixin:
    """Mix into an :class:`~animakit.pipeline.Engine` whose ``Params`` subclass
    :class:`SVDParams`. ``callback_on_step_end(...)``, when set, is called after every
    denoising step with the latents (the engine's docs give its arguments). What the
    samplers read back is never None: it checks the render's cancel flag after each step
    (:mod:`animakit.cancel`), then calls the one set here."""

    def __init__(self) -> None:
        super().__init__()
        self._given: SVDComponents | None = None
        self._on_step: Callable[..., Any] | None = None

    @property
    def callback_on_step_end(self) -> Callable[..., Any]:
        on_step = self._on_step

        def step_end(*args: Any, **kwargs: Any) -> Any:
            check_cancelled()           # a cancelled render stops between denoising steps
            return on_step(*args, **kwargs) if on_step is not None else None

        return step_end

    @callback_on_step_end.setter
    def callback_on_step_end(self, fn: Callable[..., Any] | None) -> None:
        self._on_step = fn

    def use_components(self, comps: SVDComponents):
        """Use already-built components (e.g. tiny random ones in tests) instead of loading;
        only this engine instance sees them. Returns self."""
        self._given = comps
        return self

    def components(self, p: Any) -> SVDComponents:
        """The components a render with params ``p`` runs on: the injected ones, else those
        loaded for ``p``'s placement (read once per process, see :func:`cached_components`)."""
        if self._given is not None:
            return self._given
        return self.load(p)

    def load(self, p: Any) -> SVDComponents:
        """Load (or find cached) components for ``p``. Engines that change the parts override
        this and pass a ``prepare`` step and ``tag`` to :func:`cached_components`."""
        return cached_components(placement(p))
