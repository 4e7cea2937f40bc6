"""The procedural labelled video dataset the DiT is trained on.

A clip is ``NUM_FRAMES`` frames of ``SIZE`` x ``SIZE`` RGB: one anti-aliased shape (disk,
square or triangle; each shape has its own colour family with random jitter) moving in a
straight line at ``SPEED`` px/frame in one of four directions over a static, random,
low-contrast textured background. Label = shape x direction (12 classes).

Clips are rendered on the fly from a numpy ``Generator``, so the data set is unbounded and
every sample is reproducible from its seed.
"""
from __future__ import annotations

import colorsys

import cv2
import numpy as np
import torch

SIZE = 32
NUM_FRAMES = 16
SPEED = 1.0                          # px per frame: 15 px over a 16-frame clip
SHAPES = ("disk", "square", "triangle")
DIRECTIONS = ("right", "left", "down", "up")
DIRECTION_VECTORS = {"right": (1.0, 0.0), "left": (-1.0, 0.0), "down": (0.0, 1.0), "up": (0.0, -1.0)}
SHAPE_HUES = {"disk": 0.02, "square": 0.33, "triangle": 0.6}   # red, green, blue families
LABELS = tuple(f"{s}-{d}" for s in SHAPES for d in DIRECTIONS)
NUM_CLASSES = len(LABELS)


def label_parts(label: int) -> tuple[str, str]:
    """Label index -> (shape, direction)."""
    return SHAPES[label // len(DIRECTIONS)], DIRECTIONS[label % len(DIRECTIONS)]


def background(rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """(size, size, 3) float in [0, 1]: muted base colour + two gratings + smooth noise."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    base = np.array(colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.2, 0.5),
                                        rng.uniform(0.25, 0.45)), np.float32)
    tex = np.zeros((size, size), np.float32)
    for _ in range(2):
        angle, freq, phase = rng.uniform(0, np.pi), rng.uniform(0.15, 0.6), rng.uniform(0, 6.3)
        tex += np.sin(freq * (np.cos(angle) * xs + np.sin(angle) * ys) + phase)
    coarse = rng.standard_normal((size // 8 + 1, size // 8 + 1)).astype(np.float32)
    tex += cv2.resize(coarse, (size + 8, size + 8), interpolation=cv2.INTER_CUBIC)[4:-4, 4:-4] * 0.5
    img = base[None, None] * (1 + 0.18 * tex[..., None]) + rng.uniform(-0.03, 0.03, 3)
    return np.clip(img, 0, 1)


def shape_coverage(shape: str, cx: np.ndarray, cy: np.ndarray, r: float,
                   size: int = SIZE) -> np.ndarray:
    """Anti-aliased coverage (F, size, size) in [0, 1] of ``shape`` centred at (cx[f], cy[f])."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    dx = xs[None] - cx[:, None, None]
    dy = ys[None] - cy[:, None, None]
    if shape == "disk":
        sdf = np.sqrt(dx ** 2 + dy ** 2) - r
    elif shape == "square":
        sdf = np.maximum(np.abs(dx), np.abs(dy)) - r * 0.85
    else:   # upward triangle: three half-planes of an equilateral triangle
        k = np.sqrt(3.0)
        sdf = np.maximum.reduce([(k * dx - dy) / 2 - r / 2, (-k * dx - dy) / 2 - r / 2,
                                 dy - r / 2 - r * 0.25])
    return np.clip(0.5 - sdf, 0.0, 1.0).astype(np.float32)


def trajectory(direction: str, r: float, rng: np.random.Generator, num_frames: int = NUM_FRAMES,
               size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Centres (cx, cy), each (F,), of a straight constant-speed path that stays in frame."""
    vx, vy = DIRECTION_VECTORS[direction]
    travel = SPEED * (num_frames - 1)
    lo, hi = r + 1.0, size - r - 1.0
    along = rng.uniform(lo, hi - travel)
    across = rng.uniform(lo, hi)
    steps = np.arange(num_frames, dtype=np.float32) * SPEED
    if vx:
        cx = along + steps if vx > 0 else size - along - steps
        cy = np.full(num_frames, across, np.float32)
    else:
        cy = along + steps if vy > 0 else size - along - steps
        cx = np.full(num_frames, across, np.float32)
    return cx.astype(np.float32), cy.astype(np.float32)


def make_clip(label: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One clip: frames (F, H, W, 3) float in [0, 1] and the true centres (F, 2) as (x, y)."""
    shape, direction = label_parts(label)
    r = rng.uniform(4.5, 6.0)
    cx, cy = trajectory(direction, r, rng)
    hue = (SHAPE_HUES[shape] + rng.uniform(-0.05, 0.05)) % 1.0
    colour = np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.75, 1.0), rng.uniform(0.85, 1.0)),
                      np.float32)
    cover = shape_coverage(shape, cx, cy, r)[..., None]                 # (F, H, W, 1)
    frames = background(rng)[None] * (1 - cover) + colour * cover      # (F, H, W, 3)
    return frames.astype(np.float32), np.stack([cx, cy], axis=1)


def make_batch(batch_size: int, rng: np.random.Generator, labels: np.ndarray | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """A batch for training: clips (B, F, 3, H, W) in [-1, 1], labels (B,) int64,
    centres (B, F, 2). Labels are drawn uniformly unless given."""
    if labels is None:
        labels = rng.integers(0, NUM_CLASSES, batch_size)
    clips, centres = zip(*(make_clip(int(y), rng) for y in labels))
    x = torch.from_numpy(np.stack(clips).astype(np.float32)).permute(0, 1, 4, 2, 3) * 2 - 1
    return x.contiguous(), torch.as_tensor(np.asarray(labels), dtype=torch.long), np.stack(centres)


def to_uint8(clips: torch.Tensor) -> np.ndarray:
    """(B, F, 3, H, W) in [-1, 1] -> (B, F, H, W, 3) uint8."""
    x = ((clips.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 1, 3, 4, 2).cpu().numpy()
