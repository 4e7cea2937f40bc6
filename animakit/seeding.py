"""Seeds and generators: the one place a seed becomes a random generator.

Every front end hands an engine a ``generator`` that may be None, an int seed, a
``torch.Generator`` or a ``numpy.random.Generator``; engines turn it into what they draw from
with these three functions, so one seed reproduces one render whatever the entry point.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ParamError

SEED_MAX = 2 ** 31 - 1


def seed_of(generator: Any, default: int = 0) -> int:
    """An integer seed from a torch / numpy generator, an int, or None (``default``)."""
    if generator is None:
        return int(default)
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return int(generator)
    if hasattr(generator, "initial_seed"):                      # torch.Generator
        return int(generator.initial_seed()) % (2 ** 63)
    if isinstance(generator, np.random.Generator):
        return int(generator.integers(0, SEED_MAX))
    raise ParamError("generator", f"expected a torch.Generator, numpy Generator or int seed, "
                                  f"got {type(generator).__name__}")


def numpy_rng(generator: Any = None, default: int = 0) -> np.random.Generator:
    """A numpy Generator for weight-free engines; renders are reproducible by default."""
    if isinstance(generator, np.random.Generator):
        return generator
    return np.random.default_rng(seed_of(generator, default))


def torch_generator(generator: Any = None, device: Any = "cpu", default: int = 0) -> Any:
    """A ``torch.Generator`` on ``device``: the given one, or one seeded from ``generator``."""
    import torch
    if isinstance(generator, torch.Generator):
        return generator
    return torch.Generator(device=device).manual_seed(seed_of(generator, default))


def generator_for(seed: int | None) -> Any:
    """What a front end passes for an optional user seed: None, or a seeded CPU
    ``torch.Generator`` (the diffusers convention)."""
    return None if seed is None else torch_generator(int(seed))
