"""Loading and checking the editing pipeline's inputs: the source video, the edited first
frame, optional keyframes and mask.

Keyframes format (``keyframes`` input), any of:

- a ``dict`` mapping frame index -> image (path or array), from Python;
- a ``.json`` file mapping index -> image path, e.g. ``{"24": "frame24_edit.png"}``
  (relative paths are taken from the JSON file's folder);
- a folder of images whose names end in the frame index, e.g. ``edit_0024.png``.

Index 0 is the ``edited`` input itself and cannot be given again as a keyframe.
"""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from animakit.errors import InputError, MediaError
from animakit.media import IMAGE_SUFFIXES, load_image, open_video


def fit_to_frame(image: np.ndarray, size: tuple[int, int], name: str,
                 notes: list[str]) -> np.ndarray:
    """``image`` resized to ``size`` = (width, height); a note (and a warning) when its
    aspect ratio differs from the video's by more than 1%."""
    h, w = image.shape[:2]
    if (w, h) == tuple(size):
        return image
    if abs((w / h) / (size[0] / size[1]) - 1) > 0.01:
        msg = (f"{name}: {w}x{h} has another aspect ratio than the video "
               f"({size[0]}x{size[1]}); stretched to fit")
        warnings.warn(msg, stacklevel=3)
        notes.append(msg)
    interp = cv2.INTER_AREA if w > size[0] else cv2.INTER_CUBIC
    return cv2.resize(image, tuple(size), interpolation=interp)


def load_edit_image(source: Any, name: str, size: tuple[int, int], notes: list[str]) -> np.ndarray:
    """(H, W, 3) uint8 edited frame at the video's size."""
    return fit_to_frame(load_image(source, name=name, max_side=None), size, name, notes)


def load_mask(source: Any, size: tuple[int, int], notes: list[str]) -> np.ndarray:
    """(H, W) float32 mask in [0, 1] (white = edit) at the video's size. A mask must have
    the video's aspect ratio (it is scaled, never stretched: a mask that does not fit
    would mark the wrong pixels) and mark something; else :class:`InputError` naming it."""
    img = load_image(source, name="mask", max_side=None)
    label = source if isinstance(source, (str, Path)) else "mask"
    h, w = img.shape[:2]
    if abs((w / h) / (size[0] / size[1]) - 1) > 0.01:
        raise InputError(label, f"mask is {w}x{h}; it must have the video's shape "
                                f"({size[0]}x{size[1]}, or the same aspect ratio)")
    mask = fit_to_frame(img, size, "mask", notes).astype(np.float32).mean(axis=2) / 255.0
    if not (mask > 0.5).any():
        raise InputError(label, "mask is empty: paint the area to edit white "
                                "(black = leave the video as it is)")
    return mask


def keyframe_sources(keyframes: Any) -> dict[int, Any]:
    """index -> image source, from a dict, a .json file or a folder (see module doc)."""
    if isinstance(keyframes, dict):
        items = keyframes.items()
        base = Path(".")
    else:
        path = Path(keyframes)
        if path.is_dir():
            items = []
            for f in sorted(path.iterdir()):
                m = re.search(r"(\d+)$", f.stem)
                if f.suffix.lower() in IMAGE_SUFFIXES and m:
                    items.append((int(m.group(1)), f))
            if not items:
                raise InputError(path, "keyframes folder holds no images named by frame index "
                                       "(e.g. edit_0024.png)")
            base = path
        elif path.suffix.lower() == ".json":
            if not path.is_file():
                raise MediaError(path, "keyframes file does not exist")
            try:
                items = json.loads(path.read_text()).items()
            except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as e:
                raise InputError(path, f"keyframes must be a JSON object "
                                       f"{{\"frame index\": \"image path\"}} ({e})") from None
            base = path.parent
        else:
            raise InputError(path, "keyframes must be a folder of images or a .json mapping "
                                   "frame index -> image path")
    out: dict[int, Any] = {}
    for key, value in items:
        try:
            index = int(key)
        except (TypeError, ValueError):
            raise InputError("keyframes", f"{key!r} is not a frame index") from None
        if isinstance(value, (str, Path)) and not Path(value).is_absolute():
            value = base / value
        out[index] = value
    return out


def open_source_video(source: Any):
    """The :class:`VideoReader` and its exact frame count; at least two frames required.
    Every caller reads the frames next: the header's decoder is kept for that."""
    reader = open_video(source, name="video", count=True, keep_decoder=True)
    n = reader.num_frames
    if n == 0:
        raise MediaError(reader.path, "video has no decodable frames")
    if n == 1:
        raise InputError(reader.path, "video has a single frame; there is no motion to "
                                      "carry the edit along (edit the image directly)")
    return reader, n


def check_keyframe_indices(indices: list[int], num_frames: int) -> None:
    for i in indices:
        if i == 0:
            raise InputError("keyframes", "index 0 is the `edited` input; give keyframes "
                                          "for later frames only")
        if not 0 < i < num_frames:
            raise InputError("keyframes", f"frame index {i} is outside the video "
                                          f"(0..{num_frames - 1})")
