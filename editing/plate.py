"""The background plate of a carried layer: the scene behind the edited object, in the
anchor frame's coordinates, on a canvas that reaches past the frame's edges.

Pass 1 fills it from each frame's background (the pixels the object does not cover), moved
back to the anchor by the background's homography: inside the frame, only the box the
cleared area spans; past the frame's edges (a panning camera shows scene the anchor did
not), wherever a frame reaches. After tracking, :meth:`Plate.finish` puts the edited frame
wherever it shows background, and inpaints (Telea) what the layer needs but no frame showed.
Without the margin a clip that pans under a moving object would sample past the plate's
edge, and the replicated edge shows as streaks.
"""
from __future__ import annotations

import cv2
import numpy as np

from .mesh import mesh_box
from .regions import fill_holes

BACKGROUND_MATCH = 28.0    # max RGB difference of the edited frame from the plate = background
GRABCUT_SIDE = 192         # long side GrabCut works at (its answer is upsampled)
PAD_SHARE = 0.25           # the canvas reaches this share of the frame's side past each edge


def translation(dx: float, dy: float) -> np.ndarray:
    """(3, 3) homography moving points by (dx, dy)."""
    return np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], np.float64)


class Plate:
    """The canvas: ``image`` (H + 2 py, W + 2 px, 3) float32 and ``known`` bool, canvas
    pixel (u, v) being anchor pixel (u - px, v - py) with ``pad`` = (px, py). ``box``: the
    part of the anchor frame the cleared area spans (x0, y0, x1, y1, exclusive)."""

    def __init__(self, size: tuple[int, int], box: tuple[int, int, int, int]):
        w, h = size
        self.size = size
        self.pad = (int(round(PAD_SHARE * w)), int(round(PAD_SHARE * h)))
        px, py = self.pad
        self.image = np.zeros((h + 2 * py, w + 2 * px, 3), np.float32)
        self.known = np.zeros(self.image.shape[:2], bool)
        self.inside = (slice(py, py + h), slice(px, px + w))
        x0, y0, x1, y1 = box
        self.box = (x0 + px, y0 + py, x1 + px, y1 + py)                 # canvas px
        self.margin = np.ones_like(self.known)
        self.margin[self.inside] = False
        self.from_anchor = translation(px, py)                           # anchor -> canvas

    def wants(self, homography: np.ndarray) -> bool:
        """Whether a frame with this background motion (anchor -> frame) can fill anything."""
        back = self.from_anchor @ np.linalg.inv(homography)
        return self.box_open() or self._reach(back) is not None

    def box_open(self) -> bool:
        """Whether the box still has pixels no frame has filled."""
        x0, y0, x1, y1 = self.box
        return not self.known[y0:y1, x0:x1].all()

    def add(self, frame: np.ndarray, free: np.ndarray, homography: np.ndarray) -> None:
        """Fill unknown pixels of the box and of the margin with the frame's ``free`` (H, W)
        bool background, ``homography`` (anchor -> frame) moving it back. In place."""
        back = self.from_anchor @ np.linalg.inv(homography)              # frame -> canvas
        if self.box_open():
            self._fill(frame, free, back, self.box, None)
        reach = self._reach(back)
        if reach is not None:
            self._fill(frame, free, back, reach, self.margin)

    def _reach(self, back: np.ndarray) -> tuple[int, int, int, int] | None:
        """The canvas box the frame covers when it reaches past the anchor's edges (and the
        margin there is not all known yet), else None."""
        w, h = self.size
        corners = np.array([[[0, 0], [w, 0], [0, h], [w, h]]], np.float32)
        c = cv2.perspectiveTransform(corners, back)[0]
        ch, cw = self.known.shape
        x0, y0 = np.clip(np.floor(c.min(0)).astype(int), 0, [cw, ch])
        x1, y1 = np.clip(np.ceil(c.max(0)).astype(int), 0, [cw, ch])
        px, py = self.pad
        past = x0 < px or y0 < py or x1 > px + w or y1 > py + h
        if not past or x1 <= x0 or y1 <= y0:
            return None
        open_margin = self.margin[y0:y1, x0:x1] & ~self.known[y0:y1, x0:x1]
        return (x0, y0, x1, y1) if open_margin.any() else None

    def _fill(self, frame: np.ndarray, free: np.ndarray, back: np.ndarray,
              box: tuple[int, int, int, int], only: np.ndarray | None) -> None:
        x0, y0, x1, y1 = box
        to_box = translation(-x0, -y0) @ back
        size = (x1 - x0, y1 - y0)
        seen = cv2.warpPerspective(free.astype(np.uint8), to_box, size, flags=cv2.INTER_NEAREST) > 0
        new = seen & ~self.known[y0:y1, x0:x1]
        if only is not None:
            new &= only[y0:y1, x0:x1]
        if new.any():
            warped = cv2.warpPerspective(frame, to_box, size, flags=cv2.INTER_LINEAR)
            self.image[y0:y1, x0:x1][new] = warped[new]
            self.known[y0:y1, x0:x1] |= new

    def anchor_view(self) -> tuple[np.ndarray, np.ndarray]:
        """(image, known) views of the anchor frame's part of the canvas."""
        return self.image[self.inside], self.known[self.inside]

    def finish(self, edited: np.ndarray, region: np.ndarray, after: np.ndarray,
               needed: tuple[int, int, int, int]) -> dict:
        """Complete the plate in place (:func:`complete_plate` inside the frame; past its
        edges, inpaint the unknown pixels of ``needed``, the canvas box the layer samples)
        and return its make-up."""
        image, known = self.anchor_view()
        image[:], stats = complete_plate(edited, region, after, image, known)
        x0, y0, x1, y1 = needed
        holes = np.zeros(self.known.shape, np.uint8)
        holes[y0:y1, x0:x1] = (self.margin & ~self.known)[y0:y1, x0:x1]
        stats["plate_past_the_frame_px"] = int((self.margin & self.known).sum())
        stats["plate_past_the_frame_inpainted_px"] = int(holes.sum())
        if holes.any():
            filled = cv2.inpaint(np.clip(self.image, 0, 255).astype(np.uint8), holes, 5,
                                 cv2.INPAINT_TELEA)
            self.image[holes > 0] = filled[holes > 0]
            self.known |= holes > 0
        return stats


def edited_outline(anchor: np.ndarray, edited: np.ndarray, region: np.ndarray,
                   plate: np.ndarray, known: np.ndarray) -> np.ndarray:
    """(H, W) bool: the edited object inside ``region``. Where the plate saw the
    background, the pixels that differ from it; elsewhere GrabCut on the edited frame,
    with those answers as hard labels and the frame outside the region as background."""
    diff = cv2.GaussianBlur(np.abs(edited.astype(np.float32) - plate).max(axis=2), (0, 0), 0.7)
    fg_sure = region & known & (diff > BACKGROUND_MATCH)
    bg_sure = ~region | (known & (diff <= BACKGROUND_MATCH))
    unsure = region & ~known
    if unsure.sum() < 32:
        return fill_holes(fg_sure)
    labels = np.where(bg_sure, cv2.GC_BGD, cv2.GC_PR_FGD).astype(np.uint8)
    labels[fg_sure] = cv2.GC_FGD
    x0, y0, x1, y1 = mesh_box(region, 24, (region.shape[1], region.shape[0]))
    crop = labels[y0:y1 + 1, x0:x1 + 1]
    if (crop == cv2.GC_BGD).sum() < 32:
        return region
    out = np.zeros_like(region)
    out[y0:y1 + 1, x0:x1 + 1] = grabcut_foreground(edited[y0:y1 + 1, x0:x1 + 1], crop)
    out &= region
    return fill_holes(cv2.morphologyEx(out.astype(np.uint8), cv2.MORPH_OPEN,
                                       np.ones((3, 3), np.uint8)))


def grabcut_foreground(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(h, w) bool foreground of GrabCut (4 iterations) on ``image`` (h, w, 3) RGB started
    from ``labels`` (h, w) of cv2.GC_*, run on a copy at most GRABCUT_SIDE px on the long
    side (its cost grows with the area, and the colour models need no more); the answer is
    brought back to full size, where the hard labels are kept as given."""
    h, w = labels.shape
    scale = min(1.0, GRABCUT_SIDE / max(h, w))
    img, lab = image, labels.copy()
    if scale < 1.0:
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        img = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        lab = cv2.resize(labels, size, interpolation=cv2.INTER_NEAREST)
    bgm, fgm = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    # its colour models start from k-means on OpenCV's RNG, which is per thread and moves
    # on from call to call: seeded, the same inputs give the same outline in every render
    cv2.setRNGSeed(0)
    cv2.grabCut(np.ascontiguousarray(img[..., ::-1]), lab, None, bgm, fgm, 4,
                cv2.GC_INIT_WITH_MASK)
    fg = ((lab == cv2.GC_FGD) | (lab == cv2.GC_PR_FGD)).astype(np.float32)
    if scale < 1.0:
        fg = cv2.resize(fg, (w, h), interpolation=cv2.INTER_LINEAR)
    out = fg > 0.5
    out[labels == cv2.GC_FGD] = True
    out[labels == cv2.GC_BGD] = False
    return out


def complete_plate(edited: np.ndarray, region: np.ndarray, after: np.ndarray,
                   plate: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, dict]:
    """(H, W, 3) float32 background plate and its make-up: the edited frame wherever it
    shows background (outside the edited object), the later frames' background where the
    object covered it, inpainting (Telea) where it was never seen."""
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    obj = cv2.dilate(after.astype(np.uint8), k) > 0
    out = plate.copy()
    out[~obj] = edited[~obj]
    have = known | ~obj
    holes = (~have).astype(np.uint8)
    if holes.any():
        filled = cv2.inpaint(np.clip(out, 0, 255).astype(np.uint8), holes, 5, cv2.INPAINT_TELEA)
        out[holes > 0] = filled[holes > 0]
    area = max(int(obj.sum()), 1)
    return out, {"plate_from_later_frames": round(float((known & obj).sum()) / area, 3),
                 "plate_inpainted": round(float(holes.sum()) / area, 3)}
