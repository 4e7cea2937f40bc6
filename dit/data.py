"""The procedural video dataset the DiT is trained on, and its prompts.

A clip is ``NUM_FRAMES`` frames of ``SIZE`` x ``SIZE`` RGB: one anti-aliased shape moving in a
straight line over a static, muted, low-contrast textured background. Each clip is described
by a :class:`Spec` of five attributes, and its prompt names them::

    "a small green triangle moving left fast"
     a [size] [colour] shape moving direction [speed]

Training drops attributes from prompts at random (see :func:`training_prompt`), so any subset
of them is a valid prompt; the old label form ``"disk-right"`` reads as ``"a disk moving
right"``. Clips are rendered on the fly from a numpy ``Generator``: the data set is unbounded
and every sample is reproducible from its seed.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass

import cv2
import numpy as np
import torch

SIZE = 32
NUM_FRAMES = 16
SHAPES = ("disk", "square", "triangle")
DIRECTIONS = ("right", "left", "down", "up")
DIRECTION_VECTORS = {"right": (1.0, 0.0), "left": (-1.0, 0.0), "down": (0.0, 1.0), "up": (0.0, -1.0)}
COLOURS = {"red": 0.0, "yellow": 0.15, "green": 0.33, "cyan": 0.5, "blue": 0.63, "purple": 0.8}
HUE_JITTER = 0.02
SIZES = {"small": (3.5, 4.5), "large": (6.0, 7.0)}     # radius range in px
SPEEDS = {"slow": 0.4, "fast": 1.0}                     # px per frame: 6 or 15 px per clip
LABELS = tuple(f"{s}-{d}" for s in SHAPES for d in DIRECTIONS)    # the old 12 class labels
ATTRIBUTES = ("size", "colour", "shape", "direction", "speed")


@dataclass(frozen=True)
class Spec:
    """What one clip shows."""
    shape: str
    direction: str
    colour: str
    size: str
    speed: str

    def prompt(self, keep: frozenset[str] = frozenset(ATTRIBUTES)) -> str:
        """``"a [size] [colour] [shape] moving [direction] [speed]"`` naming the attributes in
        ``keep``; without shape it says "shape", without direction it drops "moving"."""
        words = ["a"] + [getattr(self, k) for k in ("size", "colour") if k in keep]
        words.append(self.shape if "shape" in keep else "shape")
        if "direction" in keep:
            words += ["moving", self.direction]
        if "speed" in keep:
            words.append(self.speed)
        return " ".join(words)


def random_spec(rng: np.random.Generator) -> Spec:
    pick = lambda options: str(options[rng.integers(len(options))])   # noqa: E731
    return Spec(pick(SHAPES), pick(DIRECTIONS), pick(tuple(COLOURS)), pick(tuple(SIZES)),
                pick(tuple(SPEEDS)))


def training_prompt(spec: Spec, rng: np.random.Generator, drop: float = 0.25,
                    null: float = 0.1) -> str:
    """The prompt of a training clip: empty with probability ``null`` (for classifier-free
    guidance), else each attribute kept with probability ``1 - drop``."""
    if rng.random() < null:
        return ""
    return spec.prompt(frozenset(k for k in ATTRIBUTES if rng.random() >= drop))


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


def shape_coverage(shape: str, cx: np.ndarray, cy: np.ndarray, r: float | np.ndarray,
                   size: int = SIZE, angle: float = 0.0) -> np.ndarray:
    """Anti-aliased coverage (F, size, size) in [0, 1] of ``shape`` centred at (cx[f], cy[f]),
    of radius ``r`` (one for all, or one per frame shaped (F, 1, 1)), turned by ``angle``
    radians (the data's shapes are never turned)."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    dx = xs[None] - cx[:, None, None]
    dy = ys[None] - cy[:, None, None]
    if angle:
        c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
        dx, dy = c * dx + s * dy, c * dy - s * dx
    if shape == "disk":
        sdf = np.sqrt(dx ** 2 + dy ** 2) - r
    elif shape == "square":
        sdf = np.maximum(np.abs(dx), np.abs(dy)) - r * 0.85
    else:   # upward triangle: three half-planes of an equilateral triangle
        k = np.sqrt(3.0)
        sdf = np.maximum.reduce([(k * dx - dy) / 2 - r / 2, (-k * dx - dy) / 2 - r / 2,
                                 dy - r / 2 - r * 0.25])
    return np.clip(0.5 - sdf, 0.0, 1.0).astype(np.float32)


def trajectory(direction: str, r: float, speed: float, rng: np.random.Generator,
               num_frames: int = NUM_FRAMES, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Centres (cx, cy), each (F,), of a straight constant-speed path that stays in frame."""
    vx, vy = DIRECTION_VECTORS[direction]
    travel = speed * (num_frames - 1)
    lo, hi = r + 1.0, size - r - 1.0
    along = rng.uniform(lo, max(lo, hi - travel))
    across = rng.uniform(lo, hi)
    steps = np.arange(num_frames, dtype=np.float32) * speed
    if vx:
        cx = along + steps if vx > 0 else size - along - steps
        cy = np.full(num_frames, across, np.float32)
    else:
        cy = along + steps if vy > 0 else size - along - steps
        cx = np.full(num_frames, across, np.float32)
    return cx.astype(np.float32), cy.astype(np.float32)


def shape_colour(colour: str, rng: np.random.Generator) -> np.ndarray:
    """(3,) RGB in [0, 1]: the named hue with jitter, saturated and bright."""
    hue = (COLOURS[colour] + rng.uniform(-HUE_JITTER, HUE_JITTER)) % 1.0
    return np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.75, 1.0), rng.uniform(0.85, 1.0)),
                    np.float32)


def make_clip(spec: Spec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One clip: frames (F, H, W, 3) float in [0, 1] and the true centres (F, 2) as (x, y)."""
    r = rng.uniform(*SIZES[spec.size])
    cx, cy = trajectory(spec.direction, r, SPEEDS[spec.speed], rng)
    cover = shape_coverage(spec.shape, cx, cy, r)[..., None]                # (F, H, W, 1)
    colour = shape_colour(spec.colour, rng)
    frames = background(rng)[None] * (1 - cover) + colour * cover          # (F, H, W, 3)
    return frames.astype(np.float32), np.stack([cx, cy], axis=1)


def make_batch(batch_size: int, rng: np.random.Generator, specs: list[Spec] | None = None
               ) -> tuple[torch.Tensor, list[Spec], np.ndarray]:
    """A batch: clips (B, F, 3, H, W) in [-1, 1], their specs (random unless given) and the
    true centres (B, F, 2)."""
    specs = specs if specs is not None else [random_spec(rng) for _ in range(batch_size)]
    clips, centres = zip(*(make_clip(s, rng) for s in specs))
    x = torch.from_numpy(np.stack(clips)).permute(0, 1, 4, 2, 3) * 2 - 1
    return x.contiguous(), list(specs), np.stack(centres)


def to_uint8(clips: torch.Tensor) -> np.ndarray:
    """(B, F, 3, H, W) in [-1, 1] -> (B, F, H, W, 3) uint8."""
    x = ((clips.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 1, 3, 4, 2).cpu().numpy()


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(..., H, W, 3) uint8 -> (..., 3, H, W) float in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).float() / 127.5 - 1
    return x.movedim(-1, -3).contiguous()
