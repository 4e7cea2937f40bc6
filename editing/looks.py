"""Weight-free looks: still-image filters that turn a video frame into a cartoon, an anime
cel, a pencil sketch, a watercolour or an oil painting.

A :class:`Look` is fitted once on the clip's first frame (:func:`fit_look`): the cartoon's
palette, the paper and canvas textures are fixed there, so every later frame is styled with
the same colours and the same grain (a palette refitted per frame would make colours jump).
Calling it on an (H, W, 3) uint8 RGB frame returns the styled (H, W, 3) uint8 frame.

The filters, all OpenCV:

- **cartoon / anime**: edge-preserving smoothing (repeated bilateral filtering at half
  size), colour quantisation to a k-means palette in Lab, ink lines from the extended
  difference of Gaussians (XDoG, Winnemoeller et al. 2012); anime adds saturation, a cel
  shading of two or three tones per colour and thinner lines.
- **pencil**: colour-dodge sketch of the luminance (gray / blurred inverse), graphite
  hatching in the shadows (noise smeared along a diagonal), paper grain.
- **watercolour**: domain-transform smoothing, washed-out colours that pool and darken at
  region edges, pigment granulation and a wobble of the edges by low-frequency noise.
- **oil**: OpenCV's oil-painting filter (most frequent colour in a neighbourhood), then
  impasto: a brush-stroke height field lit from the top left.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

LOOKS = ("cartoon", "anime", "pencil", "watercolour", "oil")


@dataclass
class Look:
    """A fitted look: call it on frames of the size it was fitted at."""
    name: str
    strength: float = 1.0            # 0 = the source frame, 1 = the full look
    colours: int = 10                # cartoon / anime palette size
    lines: float = 1.0               # ink / pencil line weight (0 = none)
    palette_lab: np.ndarray | None = None                  # (K, 3) float32 Lab
    textures: dict[str, np.ndarray] = field(default_factory=dict)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        out = _FILTERS[self.name](self, frame)
        if self.strength < 1.0:
            out = cv2.addWeighted(out, self.strength, frame, 1 - self.strength, 0)
        return out


def fit_look(name: str, first: np.ndarray, *, strength: float = 1.0, colours: int = 10,
             lines: float = 1.0, seed: int = 0) -> Look:
    """The look ``name`` fitted on ``first`` (H, W, 3) uint8: palette and textures."""
    if name not in LOOKS:
        raise ValueError(f"unknown look {name!r}; choose one of {', '.join(LOOKS)}")
    look = Look(name, strength, colours, lines)
    h, w = first.shape[:2]
    rng = np.random.default_rng(seed)
    if name in ("cartoon", "anime", "watercolour"):
        base = _smooth(first, passes=3 if name == "cartoon" else 2)
        if name != "cartoon":
            base = _saturate(base, 1.35 if name == "anime" else 1.25)
        look.palette_lab = _palette(base, colours + (6 if name == "watercolour" else 0), rng)
        look.textures["palette_table"] = _palette_table(look.palette_lab)
        pal = cv2.cvtColor(look.palette_lab[None], cv2.COLOR_Lab2RGB)[0]        # (K, 3) 0..1
        look.textures["palette_rgb"] = (np.clip(pal, 0, 1) * 255 + 0.5).astype(np.uint8)
    look.textures["grain"] = _grain(h, w, rng)
    if name == "pencil":
        look.textures["hatch"] = _hatching(h, w, rng)
    if name == "watercolour":
        look.textures["wobble"] = _wobble(h, w, rng)
    if name == "oil":
        look.textures["strokes"] = _stroke_field(h, w, rng)
    return look


# -- shared pieces -------------------------------------------------------------------------
def _smooth(rgb: np.ndarray, passes: int = 3) -> np.ndarray:
    """(H, W, 3) uint8 edge-preserving smoothing: bilateral passes at half size, upsampled
    (flat regions, sharp boundaries; the palette and the ink lines bring the detail)."""
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (max(8, w // 2), max(8, h // 2)), interpolation=cv2.INTER_AREA)
    for _ in range(passes):
        small = cv2.bilateralFilter(small, 9, 40, 5)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _saturate(rgb: np.ndarray, factor: float) -> np.ndarray:
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 1] = np.clip(hsv[..., 1] * factor, 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] * 1.05 + 8, 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def _palette(rgb: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """(K, 3) float32 Lab palette: k-means of a pixel sample of ``rgb``."""
    lab = _lab(rgb).reshape(-1, 3)
    sample = lab[rng.choice(len(lab), min(len(lab), 20000), replace=False)]
    cv2.setRNGSeed(int(rng.integers(1 << 30)))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.1)
    _, _, centres = cv2.kmeans(sample, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    return centres.astype(np.float32)


def _palette_table(palette_lab: np.ndarray) -> np.ndarray:
    """(64, 64, 64) uint8: the nearest palette entry (Lab distance) of every RGB cell of 4
    levels per channel, so quantising a frame is one table look-up per pixel."""
    levels = np.arange(64, dtype=np.float32) * 4 + 2
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1)   # (64,64,64,3)
    lab = _lab(grid.reshape(-1, 1, 3)).reshape(-1, 3)
    d = (lab * lab).sum(1, keepdims=True) - 2 * lab @ palette_lab.T \
        + (palette_lab * palette_lab).sum(1)[None]                              # (64^3, K)
    return d.argmin(1).astype(np.uint8).reshape(64, 64, 64)


def _quantise(rgb: np.ndarray, look: "Look") -> np.ndarray:
    """(H, W, 3) uint8: every pixel replaced by its nearest palette colour, the label map
    median-filtered (no single-pixel specks; every colour stays a palette colour)."""
    q = rgb >> 2
    idx = cv2.medianBlur(look.textures["palette_table"][q[..., 0], q[..., 1], q[..., 2]], 3)
    return look.textures["palette_rgb"][idx]


def _xdog(gray: np.ndarray, sigma: float, k: float = 1.6, threshold: float = 0.008,
          phi: float = 90.0) -> np.ndarray:
    """(H, W) float32 ink in [0, 1] (1 = line): the difference of Gaussians (the dark side
    of an edge is negative) through a soft threshold, as XDoG does."""
    g = gray.astype(np.float32) / 255.0
    g1 = cv2.GaussianBlur(g, (0, 0), sigma)
    g2 = cv2.GaussianBlur(g, (0, 0), sigma * k)
    d = g2 - g1 - threshold                                  # > 0 on the dark side of edges
    return np.clip(np.tanh(phi * d), 0, 1).astype(np.float32)


def _grain(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W) float32 paper grain around 1 (fine noise plus a soft fibre pattern)."""
    fine = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 0.7)
    soft = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 3.0)
    return 1.0 + 0.05 * fine / (fine.std() + 1e-6) + 0.04 * soft / (soft.std() + 1e-6)


def _hatching(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W) float32 in [0, 1]: graphite strokes, random dots smeared along a diagonal."""
    dots = (rng.random((h, w)) < 0.06).astype(np.float32)
    n = max(9, (min(h, w) // 40) | 1)
    kernel = np.eye(n, dtype=np.float32)[::-1] / n                   # 45-degree line
    strokes = cv2.filter2D(dots, -1, kernel)
    return np.clip(strokes / (strokes.max() + 1e-6) * 2.5, 0, 1)


def _wobble(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W, 2) float32 absolute map: the identity displaced by smooth noise (~2 px)."""
    s = max(h, w) / 128
    noise = [cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 6 * s)
             for _ in range(2)]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    amp = 1.2 * s
    return np.stack([xs + amp * noise[0] / (noise[0].std() + 1e-6),
                     ys + amp * noise[1] / (noise[1].std() + 1e-6)], axis=-1)


def _stroke_field(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W) float32 brush-stroke height: noise smeared in short strokes of mixed angle."""
    noise = rng.random((h, w)).astype(np.float32)
    n = max(9, (min(h, w) // 24) | 1)
    out = np.zeros((h, w), np.float32)
    for angle in (30, 150):
        k = np.zeros((n, n), np.float32)
        c = n // 2
        dx, dy = np.cos(np.radians(angle)), np.sin(np.radians(angle))
        for t in np.linspace(-c, c, 2 * n):
            k[int(round(c + t * dy)), int(round(c + t * dx))] = 1
        out += cv2.filter2D(noise, -1, k / k.sum())
    return cv2.GaussianBlur(out / 2, (0, 0), 0.8)


# -- the looks -----------------------------------------------------------------------------
def _cartoon(look: Look, frame: np.ndarray, anime: bool = False) -> np.ndarray:
    base = _smooth(frame, passes=2 if anime else 3)
    if anime:
        base = _saturate(base, 1.35)
    flat = _quantise(base, look)
    if anime:                                                    # cel shading: 2 tones
        gray = cv2.cvtColor(base, cv2.COLOR_RGB2GRAY).astype(np.float32)
        shade = cv2.GaussianBlur(gray, (0, 0), 2) < 85
        flat = np.where(shade[..., None], (flat * 0.78).astype(np.uint8), flat)
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    scale = max(frame.shape[:2]) / 512
    ink = _xdog(gray, sigma=(1.0 if anime else 1.4) * max(scale, 0.5))
    ink = np.clip(ink * look.lines, 0, 1)
    out = flat.astype(np.float32) * (1 - ink[..., None]) + 20 * ink[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


def _pencil(look: Look, frame: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    s = max(frame.shape[:2]) / 512
    blur = cv2.GaussianBlur(255 - gray, (0, 0), 6 * max(s, 0.4))
    sketch = np.clip(gray * 255 / np.maximum(255 - blur, 1), 0, 255)     # colour dodge
    sketch = 255 - (255 - sketch) * min(1.0, 0.6 + 0.6 * look.lines)
    tone = cv2.GaussianBlur(gray, (0, 0), 3 * max(s, 0.4)) / 255
    dark = np.clip((0.45 - tone) / 0.35, 0, 1)                          # hatch the shadows
    out = sketch * (1 - 0.45 * dark * look.textures["hatch"]) * look.textures["grain"]
    paper = np.array([246, 242, 232], np.float32) / 255
    return np.clip(out[..., None] * paper, 0, 255).astype(np.uint8)


def _watercolour(look: Look, frame: np.ndarray) -> np.ndarray:
    wob = look.textures["wobble"]
    src = cv2.remap(frame, wob[..., 0], wob[..., 1], cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REFLECT)
    # washes: the frame's colours flattened to the fitted palette, their borders softened
    wash = _quantise(_saturate(_smooth(src, passes=2), 1.25), look)
    wash = cv2.GaussianBlur(wash, (0, 0), 1.2 * max(1.0, max(frame.shape[:2]) / 512))
    c = wash.astype(np.float32) / 255
    c = 1 - 0.85 * (1 - c)                                  # thinned pigment: lighter
    # pigment density d > 1 darkens (Bousseau et al. 2006: C' = C - (C - C^2)(d - 1)):
    # it pools where a wash meets a lighter one, and settles in the paper's grain
    lum = c.mean(axis=2)
    pooling = np.clip(cv2.GaussianBlur(lum, (0, 0), 4) - lum, 0, 0.15) * 5
    density = 1 + pooling + 2.0 * (look.textures["grain"] - 1)
    c = c - (c - c * c) * (density[..., None] - 1)
    ink = _xdog(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), 1.5, threshold=0.02) * look.lines
    c *= 1 - 0.25 * ink[..., None]                          # faint pencil under-drawing
    paper = np.array([250, 247, 238], np.float32) / 255
    return np.clip(c * paper * 255, 0, 255).astype(np.uint8)


def _oil(look: Look, frame: np.ndarray) -> np.ndarray:
    s = max(frame.shape[:2]) / 512
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (max(8, w // 2), max(8, h // 2)), interpolation=cv2.INTER_AREA)
    paint = cv2.xphoto.oilPainting(cv2.cvtColor(small, cv2.COLOR_RGB2BGR),
                                   max(2, min(4, round(2.5 * s))), 1)
    paint = cv2.cvtColor(cv2.resize(paint, (w, h), interpolation=cv2.INTER_CUBIC),
                         cv2.COLOR_BGR2RGB)
    paint = _saturate(paint, 1.15)
    lum = cv2.cvtColor(paint, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    height = look.textures["strokes"] * 0.7 + cv2.GaussianBlur(lum, (0, 0), 1.0) * 0.3
    gx = cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=3)
    light = 1 + 0.6 * (-gx - gy)                                      # lit from top left
    out = paint.astype(np.float32) * np.clip(light, 0.75, 1.25)[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


_FILTERS = {
    "cartoon": lambda look, f: _cartoon(look, f, anime=False),
    "anime": lambda look, f: _cartoon(look, f, anime=True),
    "pencil": _pencil,
    "watercolour": _watercolour,
    "oil": _oil,
}
