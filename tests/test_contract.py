"""Every registered pipeline keeps the contract of :mod:`animakit.testing`: its first example
renders to an mp4, stream() and __call__ agree, params round-trip through JSON, user
mistakes are InputErrors, quiet means silent."""
from __future__ import annotations

import pytest

from animakit.registry import pipeline_names
from animakit.testing import contract_for

# one torch thread: the DiT example samples several times faster on a busy CPU
TestContract = pytest.mark.usefixtures("torch_one_thread")(contract_for(pipeline_names()))
