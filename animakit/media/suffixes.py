"""File suffixes by media kind: the one list that input checks, upload controls and output
checks all read."""
from __future__ import annotations

# containers the streaming reader opens (ffmpeg decodes them all)
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
# containers that hold what the writer encodes (H.264 yuv420p + AAC); .webm and .avi do not
OUTPUT_VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".mov", ".mkv", ".m4v")
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
