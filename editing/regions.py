"""Where a first-frame edit applies and what kind of edit it is.

An edit is one of three kinds (:func:`edit_kind`):

- ``whole-frame``: the edit covers most of the frame (a restyle, a global grade);
- ``appearance``: a local edit that keeps the region's structure (a recolour, a tint, a
  pattern that follows the existing edges): the edges of the edited region line up with
  the source's;
- ``shape``: a local edit whose structure differs from the source's (a kitten turned into a
  dog, a hat added, a disc redrawn as a star): the edited region's gradients do not line up
  with the source's.

Appearance edits are carried by the per-pixel flow (:mod:`editing.propagate`), confined to
the edited object's tracked segment; shape edits travel as a layer (:mod:`editing.layers`).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

WHOLE_FRAME_FRACTION = 0.4    # an edit over more of the frame than this is a restyle
MIN_COMPONENT = 0.1           # parts of the edit smaller than this share of the largest go
SEPARATION = 3.0             # a local edit's difference over the re-rendered rest's
SHAPE_STRUCTURE = 0.45        # gradient agreement below this = the shape changed


@dataclass
class EditRegion:
    """The edit of one anchor frame (arrays (H, W))."""
    region: np.ndarray        # bool: pixels the edit changed (or the user's mask)
    whole_frame: bool         # the edit covers most of the frame
    structure: float          # agreement of source and edited gradients in the region, 0-1

    @property
    def kind(self) -> str:
        """``whole-frame``, ``appearance`` or ``shape``."""
        if self.whole_frame:
            return "whole-frame"
        return "shape" if self.structure < SHAPE_STRUCTURE else "appearance"

    @property
    def area(self) -> float:
        """Share of the frame the region covers."""
        return float(self.region.mean())


def changed_pixels(source: np.ndarray, edited: np.ndarray, threshold: float) -> np.ndarray:
    """(H, W) bool: where the edited frame differs from the source by more than
    ``threshold`` (max RGB difference after a 3x3 blur), specks opened away."""
    diff = cv2.absdiff(source, edited).max(axis=2)
    hard = (cv2.blur(diff, (3, 3)) > threshold).astype(np.uint8)
    return cv2.morphologyEx(hard, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0


def local_change(source: np.ndarray, edited: np.ndarray, threshold: float) -> np.ndarray:
    """(H, W) bool changed pixels of an edit. An image editor often re-renders the whole
    frame (every pixel off by a few levels) while changing one object a lot: when the
    fixed ``threshold`` marks most of the frame, a threshold between the two levels (Otsu's
    on the blurred difference) is tried, and kept when it isolates a local part that stands
    out clearly (its mean difference at least ``SEPARATION`` times the rest's)."""
    changed = changed_pixels(source, edited, threshold)
    if changed.mean() <= WHOLE_FRAME_FRACTION:
        return changed
    diff = cv2.GaussianBlur(cv2.absdiff(source, edited).max(axis=2), (0, 0), 2)
    level, _ = cv2.threshold(diff, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    local = changed_pixels(source, edited, max(threshold, level))
    inside, outside = diff[local], diff[~local]
    if (local.mean() <= WHOLE_FRAME_FRACTION and inside.size and outside.size
            and inside.mean() >= SEPARATION * max(outside.mean(), 1.0)):
        return local
    return changed


def main_parts(hard: np.ndarray) -> np.ndarray:
    """(H, W) bool: ``hard``'s connected parts of at least ``MIN_COMPONENT`` of the largest
    one's area (an image editor's scattered re-encoding changes go), closed and with holes
    filled (the object under a patterned edit is one piece)."""
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    closed = cv2.morphologyEx(hard.astype(np.uint8), cv2.MORPH_CLOSE, k)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    if n <= 1:
        return closed > 0
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= MIN_COMPONENT * areas.max()) + 1
    out = np.isin(labels, keep).astype(np.uint8)
    return fill_holes(out)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool ``mask`` with every hole (background not connected to the border) filled."""
    h, w = mask.shape
    pad = np.zeros((h + 2, w + 2), np.uint8)
    pad[1:-1, 1:-1] = mask > 0
    flood = pad.copy()
    cv2.floodFill(flood, np.zeros((h + 4, w + 4), np.uint8), (0, 0), 1)
    return ((pad > 0) | (flood == 0))[1:-1, 1:-1]


def structure_agreement(source: np.ndarray, edited: np.ndarray, region: np.ndarray) -> float:
    """How well the edited frame's edges line up with the source's inside ``region``, 0-1:
    the correlation of the two gradient-magnitude maps (luminance, lightly blurred), each
    normalised, so a recolour that keeps the edges scores high whatever it does to their
    contrast, and a redrawn object scores low."""
    if region.sum() < 16:
        return 1.0
    mags = []
    for img in (source, edited):
        g = cv2.GaussianBlur(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 1.5)
        gx = cv2.Sobel(g, cv2.CV_32F, 1, 0)
        gy = cv2.Sobel(g, cv2.CV_32F, 0, 1)
        mags.append(cv2.magnitude(gx, gy)[region])
    a, b = (m - m.mean() for m in mags)
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float(max(0.0, (a * b).sum() / den)) if den > 1e-6 else 1.0


def find_edit_region(source: np.ndarray, edited: np.ndarray, user_mask: np.ndarray | None,
                     threshold: float) -> EditRegion:
    """The :class:`EditRegion` of an edited frame: where it differs from ``source`` (or
    the user's ``mask`` (H, W) in [0, 1], white = edit), and its kind."""
    if user_mask is not None:
        region = user_mask > 0.5
        whole = False
    else:
        changed = local_change(source, edited, threshold)
        whole = changed.mean() > WHOLE_FRAME_FRACTION
        region = np.ones_like(changed) if whole else main_parts(changed)
    return EditRegion(region, whole, 1.0 if whole else
                      structure_agreement(source, edited, region))


def shape_note(region: EditRegion) -> str | None:
    """A plain-language note for a person uploading a shape-changing edit, else None."""
    if region.kind != "shape":
        return None
    return ("The edit changes an object's shape (its outline or structure differs from the "
            f"video's, over {100 * region.area:.0f}% of the frame): the edited object will be "
            "carried as a layer that follows the original object's motion, and what the "
            "original object leaves uncovered is filled from the background. Set "
            "propagation=flow to carry it pixel by pixel instead.")
