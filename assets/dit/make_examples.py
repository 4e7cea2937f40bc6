"""Regenerate the DiT tab's example frames.

    .venv/bin/python assets/dit/make_examples.py

- ``drawn_triangle.png``: a 256x256 canvas as the studio's drawing panel starts it (a
  training-like background, seed 11) with a green triangle drawn freehand: wobbly corners and
  a thick stroke, filled, as a user would paint it.
- ``tween_first.png``, ``tween_last.png``: the first and last frames (shown 4x, nearest
  neighbour) of a procedural clip of a large yellow disk moving right fast, the
  in-betweening example's two ends.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from animakit.dit.data import Spec, make_clip
from animakit.dit.studio import canvas_background
from animakit.media import save_image

HERE = Path(__file__).resolve().parent


def drawn_triangle() -> np.ndarray:
    img = canvas_background(11).copy()
    rng = np.random.default_rng(3)
    corners = np.array([[128, 70], [184, 170], [72, 168]], np.float64) + rng.normal(0, 5, (3, 2))
    path = np.concatenate([np.linspace(corners[i], corners[(i + 1) % 3], 12) for i in range(3)])
    path += rng.normal(0, 1.5, path.shape)                       # a hand's wobble
    pts = path.round().astype(np.int32)
    colour = (46, 220, 70)
    cv2.fillPoly(img, [pts], colour, lineType=cv2.LINE_AA)
    cv2.polylines(img, [pts], True, colour, thickness=7, lineType=cv2.LINE_AA)
    return img


def tween_ends() -> tuple[np.ndarray, np.ndarray]:
    frames, _ = make_clip(Spec("disk", "right", "yellow", "large", "fast"),
                          np.random.default_rng(21))
    ends = (frames[0], frames[-1])
    return tuple((f * 255).round().astype(np.uint8).repeat(4, 0).repeat(4, 1) for f in ends)


def main() -> None:
    save_image(HERE / "drawn_triangle.png", drawn_triangle())
    first, last = tween_ends()
    save_image(HERE / "tween_first.png", first)
    save_image(HERE / "tween_last.png", last)


if __name__ == "__main__":
    main()
