"""Names the studio derives from a pipeline's dotted name."""
from __future__ import annotations


def slug(name: str) -> str:
    """A dotted name with its dots as underscores: element ids and API endpoint names."""
    return name.replace(".", "_")
