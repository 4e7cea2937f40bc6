"""Telling an object's colours from its surroundings': a colour log-likelihood ratio.

Two RGB histograms of the anchor frame (16 bins a channel, smoothed over neighbouring bins),
one of the object and one of a ring of background around it, give per colour
``log p(colour | object) - log p(colour | background)``: above 0, a pixel looks more like
the object than like what surrounds it. :class:`~editing.layers.Confinement` uses it to
find the parts of its object that come into view after the anchor (a sleeve turning
towards the camera), which the anchor's segment, moved, cannot cover.
"""
from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

BINS = 16                  # histogram bins a channel
SHIFT = 4                  # uint8 value >> SHIFT = its bin
SMOOTH_BINS = 0.7          # Gaussian smoothing of the histograms, in bins
FLOOR = 1e-5               # probability floor of an empty bin
_INDEX = np.array([[BINS * BINS, BINS, 1]], np.float32)   # (r, g, b) bins -> flat index


class ColourModel:
    """The log-likelihood ratio table of ``inside`` over ``outside`` ((H, W) bool) colours
    of ``image`` (H, W, 3) uint8."""

    def __init__(self, image: np.ndarray, inside: np.ndarray, outside: np.ndarray):
        p_in, p_out = _histogram(image[inside]), _histogram(image[outside])
        self.table = (np.log(p_in + FLOOR) - np.log(p_out + FLOOR)).astype(np.float32).ravel()

    def ratio(self, image: np.ndarray, blur: int = 7) -> np.ndarray:
        """(h, w) float32 log-likelihood ratio of each pixel of ``image`` (h, w, 3) uint8,
        averaged over ``blur`` x ``blur`` px (a checked or striped object mixes colours)."""
        bins = np.right_shift(image, SHIFT).astype(np.float32)
        index = cv2.transform(bins, _INDEX)                                 # (h, w) float32
        llr = self.table[index.astype(np.int32)]
        return cv2.blur(llr, (blur, blur)) if blur > 1 else llr


def _histogram(pixels: np.ndarray) -> np.ndarray:
    """(BINS, BINS, BINS) float32 smoothed, normalised histogram of (N, 3) uint8 colours."""
    q = np.right_shift(pixels, SHIFT).astype(np.int32)
    flat = (q[:, 0] * BINS + q[:, 1]) * BINS + q[:, 2]
    h = np.bincount(flat, minlength=BINS ** 3).astype(np.float32).reshape(BINS, BINS, BINS)
    h = ndimage.gaussian_filter(h, SMOOTH_BINS, mode="nearest")
    return h / max(float(h.sum()), 1e-9)
