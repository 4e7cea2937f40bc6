"""Talking portraits: audio, driving-video or landmark-file drivers over a weight-free
mesh-warp engine. See docs/portrait_talking.md."""
from .params import TalkingParams
from .pipeline import TalkingPortraitPipeline

__all__ = ["TalkingParams", "TalkingPortraitPipeline"]
