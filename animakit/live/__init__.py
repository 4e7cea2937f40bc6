"""Live transport: a plugin's per-session frame processor driven over WebRTC (aiortc)
from the studio's own server, or from a local camera (``animakit live``).

A pipeline goes live by returning a :class:`LiveSpec` from its ``live()`` hook; the
kernel builds the studio's Live tab, the signalling routes and the CLI window from it.
aiortc is imported only when a session starts.
"""
import warnings

from .processor import DRIVERS, LiveProcessor, LiveSpec

__all__ = ["DRIVERS", "LiveProcessor", "LiveSpec", "live_pipelines"]


def live_pipelines() -> dict[str, tuple[type, LiveSpec]]:
    """Registered pipelines with a live mode: name -> (class, spec), in studio order."""
    from ..registry import pipeline_classes
    classes = pipeline_classes()
    out = {}
    for name in sorted(classes, key=lambda n: (classes[n].studio_order, n)):
        try:
            spec = classes[name].live()
        except Exception as e:      # a plugin's bug costs its live mode, not the studio
            warnings.warn(f"animakit: skipping the live mode of {name!r}: {e}", stacklevel=2)
            continue
        if spec is not None:
            out[name] = (classes[name], spec)
    return out
