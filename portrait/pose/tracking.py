"""MediaPipe pose tracking through a driving video, fast.

The driver is decoded by ffmpeg already downscaled to the detection size (a 1080p frame is
~6 MB through the pipe, a 384-px one ~0.4 MB, and ffmpeg's scaler is cheaper than decoding at
full size and resizing in Python); ffmpeg runs in its own process, so decoding overlaps the
detector. The detector runs in tracking mode (its person detector only fires when the track is
lost) on frames whose long side is ``max_side``, and keypoints are mapped back to the video's
pixels. BlazePose resizes its person crop to 256x256 anyway, but on the benchmark clips 384 px
frames gave noisier tracks (PCK of the output 0.65 / 0.74 against 0.71 / 0.78 at 512 px) for no
measurable gain in speed (15-19 ms a frame either way), so the default stays 512.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from animakit.errors import MediaError, NoPersonError
from animakit.media import open_video
from .skeleton import N_POSE

from .posefile import PoseSequence

DETECT_SIDE = 512


def scaled_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """(width, height) with the long side at most ``max_side`` (even numbers)."""
    w, h = size
    s = min(1.0, max_side / max(w, h))
    return max(2, round(w * s / 2) * 2), max(2, round(h * s / 2) * 2)


def scaled_frames(path: Path, size: tuple[int, int], name: str) -> Iterator[np.ndarray]:
    """(h, w, 3) uint8 RGB frames of the video at ``path`` scaled by ffmpeg to ``size``."""
    import imageio_ffmpeg
    w, h = size
    gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24",
                                     output_params=["-vf", f"scale={w}:{h}:flags=area"])
    count = 0
    log = logging.getLogger("imageio_ffmpeg")
    level = log.level
    log.setLevel(logging.ERROR)          # it warns that the output size differs: we asked so
    try:
        try:
            next(gen)
        finally:
            log.setLevel(level)
        for buf in gen:
            count += 1
            yield np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3)
    except (OSError, RuntimeError) as e:
        if count == 0:
            raise MediaError(path, f"{name} has no decodable frames ({e})") from None
    finally:
        gen.close()
    if count == 0:
        raise MediaError(path, f"{name} has no decodable frames")


def detect_pose_video(path: str | Path, name: str = "driving", max_side: int = DETECT_SIDE,
                      max_frames: int | None = None, max_seconds: float | None = None,
                      timings: dict[str, float] | None = None) -> PoseSequence:
    """Track MediaPipe pose through a video: (T, 33, 3) points in the video's pixels, visibility
    0 in frames with no person. Stops after ``max_frames`` / ``max_seconds`` (plus a frame).
    ``timings``, if given, receives the seconds spent decoding (``decode``, waiting on ffmpeg)
    and detecting (``detect``). Raises :class:`NoPersonError` naming the file if no frame has a
    person."""
    from tqdm.auto import tqdm

    from ..landmarks import PoseDetector
    from animakit.cancel import check as check_cancelled
    from animakit.render import SHOW_PROGRESS

    reader = open_video(path, name)
    if max_seconds:
        n = int(np.ceil(max_seconds * reader.fps)) + 1
        max_frames = min(max_frames, n) if max_frames else n
    w, h = reader.size
    sw, sh = scaled_size((w, h), max_side)
    back = np.array([w / sw, h / sh, w / sw], np.float32)
    pts_all, vis_all = [], []
    frames = scaled_frames(reader.path, (sw, sh), name)
    t0 = time.perf_counter()
    frame = next(frames, None)
    t_decode, t_detect = time.perf_counter() - t0, 0.0
    # MediaPipe opens its models on worker threads just after the detector is built, logging as
    # it does; building it with a frame ready keeps that inside its muted first call
    with PoseDetector(video=True) as det:
        bar = tqdm(total=max_frames or reader.estimated_frames, desc="pose detection",
                   unit="frame", leave=False, disable=not SHOW_PROGRESS.get())
        while frame is not None:
            check_cancelled()           # tracking a long driver comes before the first frame
            t1 = time.perf_counter()
            pose = det(frame)
            t_detect += time.perf_counter() - t1
            if pose is None:
                pts_all.append(np.zeros((N_POSE, 3), np.float32))
                vis_all.append(np.zeros(N_POSE, np.float32))
            else:
                pts_all.append(pose.points * back)
                vis_all.append(pose.visibility)
            bar.update()
            if max_frames and len(pts_all) >= max_frames:
                break
            t0 = time.perf_counter()
            frame = next(frames, None)
            t_decode += time.perf_counter() - t0
        frames.close()
        bar.close()
    if timings is not None:
        timings.update(decode=t_decode, detect=t_detect)
    if not pts_all:
        raise MediaError(reader.path, f"{name} has no decodable frames")
    seq = PoseSequence(np.array(pts_all, np.float32), np.array(vis_all, np.float32),
                       reader.fps, (w, h))
    if not seq.detected.any():
        raise NoPersonError(reader.path, "no person found in any frame of the driving video")
    return seq
