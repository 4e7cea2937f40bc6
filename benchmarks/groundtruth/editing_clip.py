"""Synthetic clips with a known edited truth, for tests, the benchmark and the example asset.

A textured background pans (with a slow wobble) behind a textured disc that travels,
turns and occludes / reveals the background. The *edit* is a colour grade (an RGB
hue rotation with a contrast lift) applied to the whole scene plus a stripe pattern painted
on the disc's own texture, so it moves and turns with the disc. Because the grade is
affine and both clips are rendered from textures by the same resampling, the edited clip
is exactly the clip a perfect propagation of the edited first frame would produce.

The ``star`` edit changes the disc's shape: the disc is redrawn as a gold five-pointed star
that moves and turns exactly as the disc does, the background untouched; where the disc
showed and the star does not, the truth shows the background that was behind the disc.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from animakit.editing.flow import warp


@dataclass
class SyntheticClip:
    source: np.ndarray    # (T, H, W, 3) uint8
    truth: np.ndarray     # (T, H, W, 3) uint8, the source with the edit on every frame
    flows: np.ndarray     # (T-1, H, W, 2) float32 true backward flow, frame t -> t-1
    truth_flows: np.ndarray | None = None   # the truth's flow when its shapes differ (star)

    def flows_of_truth(self) -> np.ndarray:
        """(T-1, H, W, 2) true backward flow of the edited clip."""
        return self.flows if self.truth_flows is None else self.truth_flows


def _texture(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """(h, w, 3) float32 colourful multi-scale noise in 0-255."""
    out = np.zeros((h, w, 3), np.float32)
    for sigma, amp in ((12.0, 1.0), (5.0, 0.7), (2.0, 0.45)):
        n = rng.standard_normal((h, w, 3)).astype(np.float32)
        n = cv2.GaussianBlur(n, (0, 0), sigma)
        out += amp * n / (n.std() + 1e-6)
    out = 128 + 38 * out
    return np.clip(out, 8, 247)


def grade(rgb: np.ndarray, contrast: float = 1.15) -> np.ndarray:
    """The colour part of the edit: a 120 degree hue rotation in RGB (a rotation about the
    grey axis: it keeps every colour's distance from mid-grey) and a ``contrast`` lift
    (affine, so it commutes with resampling). (..., 3) float -> (..., 3) float."""
    a = np.deg2rad(120.0)
    c, s = np.cos(a), np.sin(a)
    k = (1 - c) / 3
    r3 = np.sqrt(1 / 3) * s
    rot = np.array([[c + k, k - r3, k + r3], [k + r3, c + k, k - r3], [k - r3, k + r3, c + k]])
    return (rgb - 128.0) @ rot.T * contrast + 128.0


def _stripes(size: int) -> np.ndarray:
    """(size, size, 1) float32 soft diagonal stripe weights in [0, 1]."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    return (0.5 + 0.5 * np.sin((x + y) * 2 * np.pi / 14.0))[..., None] ** 2


def _star(d: int, points: int = 5, outer: float = 0.49, inner: float = 0.24) -> np.ndarray:
    """(d, d) float32 anti-aliased alpha of a star centred in a d x d square (radii as
    shares of d)."""
    a = np.arange(2 * points) * np.pi / points - np.pi / 2
    r = np.where(np.arange(2 * points) % 2 == 0, outer, inner) * d
    pts = np.stack([d / 2 + r * np.cos(a), d / 2 + r * np.sin(a)], 1)
    big = np.zeros((d * 4, d * 4), np.uint8)
    cv2.fillPoly(big, [np.round(pts * 4 - 1.5).astype(np.int32)], 255)
    return cv2.resize(big, (d, d), interpolation=cv2.INTER_AREA).astype(np.float32) / 255


def _gold(fg: np.ndarray) -> np.ndarray:
    """The star's texture: the disc's texture, darkened and pushed towards gold."""
    lum = fg.mean(axis=2, keepdims=True)
    return 0.45 * lum + 0.55 * np.array([235.0, 180.0, 30.0])


def make_clip(num_frames: int = 48, size: int = 256, seed: int = 0,
              speed: float = 1.0, edit: str = "stripes", contrast: float = 1.15) -> SyntheticClip:
    """A ``num_frames`` x ``size`` x ``size`` clip and its edited truth. ``speed`` scales
    every motion (1.0: background ~1.5 px/frame, disc ~3 px/frame). ``edit``: "stripes"
    (colour grade everywhere plus yellow stripes painted on the disc: a texture edit) or
    "grade" (the colour grade alone) or "star" (the disc redrawn as a star, background
    untouched: a shape edit). ``contrast`` is the grade's contrast lift: above 1
    it scales every difference between pixels, so any temporal error measured on the
    edited clip (even the truth's) grows by ``contrast`` squared in mean-squared terms."""
    if edit not in ("stripes", "grade", "star"):
        raise ValueError(f"edit must be 'stripes', 'grade' or 'star', not {edit!r}")
    rng = np.random.default_rng(seed)
    margin = int(size * 0.2 + 3 * speed * num_frames)
    bg = _texture(size + 2 * margin, size + 2 * margin, rng)
    d = int(size * 0.38)                              # disc texture side
    fg = _texture(d, d, rng)
    yy, xx = np.mgrid[0:d, 0:d].astype(np.float32)
    alpha = np.clip(d * 0.46 - np.hypot(xx - d / 2 + 0.5, yy - d / 2 + 0.5) + 0.5, 0, 1)
    fg_edit = grade(fg, contrast)
    if edit == "stripes":
        fg_edit = fg_edit * (1 - 0.75 * _stripes(d)) + np.array([250, 230, 40]) * 0.75 * _stripes(d)
    bg_edit = grade(bg, contrast)
    alpha_edit = alpha
    if edit == "star":
        fg_edit, bg_edit, alpha_edit = _gold(fg), bg, _star(d)
    src, tru, flows, tflows = [], [], [], []
    prev_bg = prev_fg = None
    for t in range(num_frames):
        bx = margin - size * 0.1 + speed * (1.5 * t + 4 * np.sin(t / 7.0))
        by = margin - size * 0.05 + speed * (0.6 * t + 3 * np.cos(t / 9.0))
        m_bg = np.array([[1, 0, -bx], [0, 1, -by]], np.float64)
        cx = size * 0.3 + speed * 3.0 * t * (size / 256) ** 0.5
        cy = size * 0.55 - speed * 1.2 * t * (size / 256) ** 0.5 + 6 * np.sin(t / 5.0)
        m_fg = cv2.getRotationMatrix2D((d / 2, d / 2), 0.3 * speed * t, 1.0)
        m_fg[:, 2] += (cx - d / 2, cy - d / 2)
        frames = []
        for bgt, fgt, alp in ((bg, fg, alpha), (bg_edit, fg_edit, alpha_edit)):
            b = cv2.warpAffine(bgt.astype(np.float32), m_bg, (size, size), flags=cv2.INTER_CUBIC)
            f = cv2.warpAffine(fgt.astype(np.float32), m_fg, (size, size), flags=cv2.INTER_CUBIC)
            a = cv2.warpAffine(alp, m_fg, (size, size), flags=cv2.INTER_LINEAR)[..., None]
            frames.append(np.clip(b * (1 - a) + f * a + 0.5, 0, 255).astype(np.uint8))
        src.append(frames[0])
        tru.append(frames[1])
        if prev_bg is not None:
            flows.append(_true_backward_flow(m_bg, m_fg, prev_bg, prev_fg, alpha, size))
            if edit == "star":
                tflows.append(_true_backward_flow(m_bg, m_fg, prev_bg, prev_fg, alpha_edit, size))
        prev_bg, prev_fg = m_bg, m_fg
    empty = np.zeros((0, size, size, 2), np.float32)
    return SyntheticClip(np.stack(src), np.stack(tru), np.stack(flows) if flows else empty,
                         (np.stack(tflows) if tflows else empty) if edit == "star" else None)


def _true_backward_flow(m_bg, m_fg, prev_bg, prev_fg, alpha, size) -> np.ndarray:
    """(H, W, 2) flow frame t -> t-1 from the known layer transforms (disc where it covers)."""
    grid = np.stack(np.meshgrid(np.arange(size), np.arange(size)), -1).reshape(-1, 2).astype(np.float64)
    out = []
    for m, pm in ((m_bg, prev_bg), (m_fg, prev_fg)):
        inv = cv2.invertAffineTransform(m)            # frame -> layer texture
        tex = grid @ inv[:, :2].T + inv[:, 2]
        prev = tex @ pm[:, :2].T + pm[:, 2]           # layer texture -> previous frame
        out.append((prev - grid).reshape(size, size, 2))
    a = cv2.warpAffine(alpha, m_fg, (size, size), flags=cv2.INTER_LINEAR)[..., None] > 0.5
    return np.where(a, out[1], out[0]).astype(np.float32)


def temporal_error(frames: np.ndarray, flows: np.ndarray) -> float:
    """Mean warp error (:func:`warp_error`) between consecutive ``frames``
    (T, H, W, 3) with the true backward ``flows`` (T-1, H, W, 2) of :func:`make_clip`.
    Motion boundaries (pixels whose true flow differs from a neighbour's by > 0.5 px,
    dilated by 3 px: they hold the occlusions) and pixels whose flow leaves the frame are
    left out."""
    errs = []
    for t in range(1, len(frames)):
        f = flows[t - 1]
        gx = np.abs(np.diff(f, axis=1, prepend=f[:, :1])).max(-1)
        gy = np.abs(np.diff(f, axis=0, prepend=f[:1])).max(-1)
        boundary = cv2.dilate(((gx > 0.5) | (gy > 0.5)).astype(np.uint8), np.ones((7, 7)))
        h, w = f.shape[:2]
        xs = np.arange(w)[None, :] + f[..., 0]
        ys = np.arange(h)[:, None] + f[..., 1]
        inside = (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)
        errs.append(warp_error(frames[t], frames[t - 1], f, inside & (boundary == 0)))
    return float(np.mean(errs))


def warp_error(frames_a: np.ndarray, frames_b: np.ndarray, flow_ab: np.ndarray,
               valid: np.ndarray | None = None) -> float:
    """Mean squared RGB error (0-255 scale) between ``frames_a`` and ``frames_b`` warped
    onto it, over ``valid`` pixels: the usual temporal-consistency measure."""
    wb = warp(frames_b, flow_ab).astype(np.float32)
    d = np.mean((frames_a.astype(np.float32) - wb) ** 2, axis=-1)
    if valid is not None:
        d = d[valid]
    return float(d.mean()) if d.size else 0.0


def gradient_energy(frames: np.ndarray) -> float:
    """Mean squared spatial RGB gradient (forward differences, 0-255 scale) of ``frames``
    (T, H, W, 3): how much texture and contrast a clip shows. Warp errors divided by it
    compare clips whose textures differ (a restyle, a redrawn object)."""
    f = frames.astype(np.float32)
    gx = np.diff(f, axis=2)[:, :-1]
    gy = np.diff(f, axis=1)[:, :, :-1]
    return float(np.mean(gx * gx + gy * gy))
