"""Pose-driven full-body animation (``portrait.pose``)."""
from .pipeline import PoseParams, PosePipeline
from .posefile import PoseSequence, load_pose_file

__all__ = ["PoseParams", "PosePipeline", "PoseSequence", "load_pose_file"]
