"""Hand-made additions to the generic tabs, keyed by pipeline name."""
from __future__ import annotations

from typing import Callable

CUSTOM_TABS: dict[str, Callable] = {}
