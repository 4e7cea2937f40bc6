"""The photo's own sharpness and grain, measured on the face and applied to painted parts.

A synthetic part (teeth, tongue) drawn with clean anti-aliased edges and flat shading looks
pasted on a soft, noisy photo and looks smeared on a crisp, clean one. :func:`noise_sigma`
and :func:`blur_sigma` measure the source face; :class:`Grain` blurs a painted patch to
that sharpness and adds a fixed noise texture of that strength.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

# Immerkær's noise kernel: the difference of two Laplacians, blind to linear ramps
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
PAINT_SOFTNESS = 0.5      # pixels: the blur the painter's own anti-aliased edges already have


def _gray(image: np.ndarray) -> np.ndarray:
    """(h, w) float32 luminance of an (h, w, 3) RGB image."""
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32)


def noise_sigma(image: np.ndarray, mask: np.ndarray | None = None, block: int = 12) -> float:
    """Standard deviation (0..255 units) of the image noise in ``image`` (h, w, 3) uint8,
    per colour channel, from the flattest quarter of ``block``-pixel blocks inside ``mask``
    (h, w) bool: texture and edges raise a block's estimate, so the low blocks see the grain."""
    g = np.asarray(image, np.float32)
    r = np.abs(cv2.filter2D(g, -1, _NOISE_KERNEL, borderType=cv2.BORDER_REFLECT))
    r = r.mean(2) if r.ndim == 3 else r
    r = r * math.sqrt(math.pi / 2) / 6.0            # mean |response| -> sigma for white noise
    h, w = (g.shape[0] // block) * block, (g.shape[1] // block) * block
    if h == 0 or w == 0:
        return 0.0
    blocks = r[:h, :w].reshape(h // block, block, w // block, block).mean((1, 3))
    if mask is not None:
        keep = mask[:h, :w].reshape(h // block, block, w // block, block).all((1, 3))
        blocks = blocks[keep] if keep.any() else blocks.ravel()
    return float(np.percentile(blocks, 25))


def blur_sigma(image: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Gaussian sigma (pixels) of the softest blur the picture's strongest edges show.

    A step edge blurred by sigma s has a peak gradient proportional to 1/s; blurring it by
    one more pixel gives 1/sqrt(s² + 1). The ratio r of the strong-edge gradients after and
    before that extra blur therefore gives s = r / sqrt(1 - r²)."""
    g = _gray(image)
    def strong_edges(img):
        gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
        mag = cv2.magnitude(gx, gy)
        return mag[mask] if mask is not None and mask.any() else mag.ravel()
    before = strong_edges(g)
    after = strong_edges(cv2.GaussianBlur(g, (0, 0), 1.0))
    top = np.percentile(before, 99.5)
    if top < 1e-3:
        return 1.0
    r = float(np.clip(np.percentile(after, 99.5) / top, 0.05, 0.995))
    # the 3-tap Sobel itself spreads an ideal step over about 0.6 px
    return float(max(math.sqrt(max((r / math.sqrt(1 - r * r)) ** 2 - 0.6 ** 2, 0.0)), 0.0))


class Grain:
    """Blur and noise of one source, applied to painted patches of its crop.

    ``shape``: (h, w) of the crop; ``sigma_blur``, ``sigma_noise``: from the source face."""

    def __init__(self, shape: tuple[int, int], sigma_blur: float, sigma_noise: float, seed: int = 0):
        self.sigma_blur = float(sigma_blur)
        self.sigma_noise = float(sigma_noise)
        self.extra_blur = math.sqrt(max(self.sigma_blur ** 2 - PAINT_SOFTNESS ** 2, 0.0))
        rng = np.random.default_rng(seed)
        # pixel-fine grain, as noise_sigma measures it (a photo's grain is added after its blur)
        self.texture = rng.standard_normal(shape).astype(np.float32)

    def apply(self, patch: np.ndarray, offset: tuple[int, int], blur: float | None = None) -> np.ndarray:
        """``patch`` (h, w, 3) float32 at crop position ``offset`` (x, y), blurred to the
        source's sharpness (or by ``blur`` px when the patch is already partly soft), with its
        grain added (fainter in the dark, like sensor noise)."""
        out = patch
        blur = self.extra_blur if blur is None else blur
        if blur > 0.3:
            out = cv2.GaussianBlur(out, (0, 0), blur, borderType=cv2.BORDER_REPLICATE)
        if self.sigma_noise > 0.2:
            x, y = offset
            h, w = out.shape[:2]
            th, tw = self.texture.shape
            rows = (np.arange(h) + y) % th
            cols = (np.arange(w) + x) % tw
            n = self.texture[np.ix_(rows, cols)]              # tiled: any offset, any size
            lum = out.mean(2, keepdims=True)
            strength = self.sigma_noise * np.clip(np.sqrt(lum / 128.0), 0.6, 1.25)
            out = out + strength * n[..., None]
        return out
