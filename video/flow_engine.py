"""The weight-free ``flow`` engine of ``video.i2v``: animate the image straight from the brush.

Per frame: the particles of every pixel that can move (the brushed regions swept along their
paths, see :meth:`BrushMotion.moving_box`) are Euler-advected through the brush's velocity
fields, forward-splatted with a soft z-buffer (brushed pixels in front of what they pass
over), holes and thinly covered pixels are filled by push-pull, and static regions are pasted back from the source.
With ``loop`` the forward result is blended with the one integrated backwards from frame N
(``(1 - t/N)`` and ``t/N``, as in Eulerian cinemagraphs), so frame N equals frame 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import cv2
import numpy as np

from .brush import Brush, BrushMotion, grid_points, load_brush, stroke_edges
from animakit.errors import InputError, ParamError
from animakit.media import load_image
from animakit.params import param
from animakit.pipeline import Engine, FrameStream
from .splat import SplatAccumulator, soft_fill

from .preview import brush_preview_writer

MAX_SIDE = 4096
Z_SHARPNESS = 6.0       # importance = exp(Z_SHARPNESS * brush weight): brushed pixels win overlaps


def load_image_and_brush(inputs: dict[str, Any], width: int = 0, height: int = 0,
                         max_side: int = MAX_SIDE) -> tuple[np.ndarray, Brush | None]:
    """The (H, W, 3) uint8 image at the requested size and the brush rasterised for it
    (brush coordinates are read in the image's own pixels, then scaled)."""
    image = load_image(inputs["image"], name=str(inputs["image"]) if not hasattr(
        inputs["image"], "shape") else "image", max_side=None)
    h0, w0 = image.shape[:2]
    brush = load_brush(inputs["brush"], (w0, h0)) if "brush" in inputs else None
    w, h = output_size(w0, h0, width, height, max_side)
    if (w, h) != (w0, h0):
        interp = cv2.INTER_AREA if w < w0 else cv2.INTER_CUBIC
        image = cv2.resize(image, (w, h), interpolation=interp)
        brush = brush.resized(w, h) if brush is not None else None
    return image, brush


def output_size(w0: int, h0: int, width: int, height: int, max_side: int) -> tuple[int, int]:
    """(W, H): the requested size, one side derived from the aspect when 0, capped."""
    if width and height:
        w, h = width, height
    elif width:
        w, h = width, max(2, round(width * h0 / w0))
    elif height:
        w, h = max(2, round(height * w0 / h0)), height
    else:
        w, h = w0, h0
    s = min(1.0, max_side / max(w, h))
    return max(2, round(w * s)), max(2, round(h * s))


def scaled_brush(brush: Brush, strength: float) -> Brush:
    """The brush with every stroke's strength multiplied by ``strength``."""
    from .brush import Stroke
    return Brush(brush.size, [Stroke(s.index, s.mask, s.trajectory, s.strength * strength)
                              for s in brush.strokes], brush.static)


def brush_edges(brush: Brush, falloff: float, reveal: bool) -> list[float]:
    """Each stroke's soft edge in px: none when ``reveal`` cuts regions out, else ``falloff``
    when > 0, else each stroke's own few pixels (see :func:`~.brush.stroke_edge`)."""
    return [0.0] * len(brush.strokes) if reveal else stroke_edges(brush, falloff)


def clean_plate(image: np.ndarray, mask: np.ndarray, radius: int = 6) -> np.ndarray:
    """(H, W, 3) uint8: ``image`` with the ``mask`` (H, W) bool region inpainted (Telea,
    from a slightly grown mask so edge fringes do not leak in); unchanged outside the mask."""
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8))
    filled = cv2.inpaint(image, grown, radius, cv2.INPAINT_TELEA)
    return np.where(mask[..., None], filled, image)


class FlowRenderer:
    """Renders the frames of ``image`` (H, W, 3) uint8 moved by ``motion``.

    ``reveal``: brushed regions are cut out (build ``motion`` with no falloff) and composited
    over a clean plate (the image with the regions inpainted) instead of stretching."""

    def __init__(self, image: np.ndarray, motion: BrushMotion, loop: bool = False,
                 reveal: bool = False):
        self.image, self.motion, self.loop, self.reveal = image, motion, loop, reveal
        h, w = image.shape[:2]
        x0, y0, x1, y1 = motion.moving_box()
        margin = 8
        self.box = (max(0, x0 - margin), max(0, y0 - margin), min(w, x1 + margin), min(h, y1 + margin))
        bx0, by0, bx1, by1 = self.box
        self.pts = grid_points(w, h, self.box)                          # (N, 2) source xy
        crop = image[by0:by1, bx0:bx1]
        self.colors = crop.reshape(-1, 3).astype(np.float32)            # (N, 3)
        wmax = np.zeros(crop.shape[:2], np.float32)
        for weight in motion.weights:
            wmax = np.maximum(wmax, weight[by0:by1, bx0:bx1])
        self.importance = np.exp(Z_SHARPNESS * wmax.reshape(-1)).astype(np.float32)
        self.static = motion.static
        # pixels outside every soft support never move (their velocity is 0 where they are,
        # travelling or anchored): they are laid down once, and only the others are advected.
        self.still = wmax == 0
        keep = ~self.still.reshape(-1)
        self.pts, self.colors, self.importance = self.pts[keep], self.colors[keep], self.importance[keep]
        self.base = SplatAccumulator(by1 - by0, bx1 - bx0, 3)
        self.static_crop = self.static[by0:by1, bx0:bx1]
        if reveal:
            self.plate = clean_plate(crop, ~self.still).astype(np.float32)
            self.importance = np.ones_like(self.importance)
        else:
            self.base.add_identity(crop.astype(np.float32), self.still)

    @property
    def moves(self) -> bool:
        x0, y0, x1, y1 = self.box
        return x1 > x0 and y1 > y0

    def frames(self) -> Iterator[np.ndarray]:
        """(H, W, 3) uint8 frames 0 .. T-1."""
        n = self.motion.num_frames
        if not self.moves:
            for _ in range(n):
                yield self.image.copy()
            return
        fwd = self.motion.forward_positions(self.pts)
        bwd = self.motion.backward_positions(self.pts) if self.loop else None
        for t in range(n):
            p = next(fwd)
            alpha = t / n if self.loop else 0.0
            q = next(bwd) if bwd is not None else None
            layers = [(p, 1.0 - alpha)] + ([(q, alpha)] if q is not None and alpha > 0 else [])
            yield self.compose(layers)

    def compose(self, layers: list[tuple[np.ndarray, float]]) -> np.ndarray:
        """One frame from particle positions ``layers`` [(positions (N, 2), blend weight)]."""
        x0, y0, x1, y1 = self.box
        acc = self.base.copy()
        offset = np.array([x0, y0], np.float32)
        for pos, scale in layers:
            acc.add(pos - offset, self.colors, self.importance, scale)
        if self.reveal:   # premultiplied "over": coverage of the moved region, then the plate
            cover = np.clip(acc.weight, 0.0, 1.0).reshape(y1 - y0, x1 - x0, 1).astype(np.float32)
            region, _ = acc.resolve(min_weight=1e-6)
            region = cover * region + (1.0 - cover) * self.plate
        else:             # colours wherever anything landed, blended by coverage with a fill
            region, _ = acc.resolve(min_weight=1e-12)
            region = soft_fill(region, acc.coverage())
        out = self.image.copy()
        patch = np.clip(region + 0.5, 0, 255).astype(np.uint8)
        patch[self.static_crop] = self.image[y0:y1, x0:x1][self.static_crop]
        out[y0:y1, x0:x1] = patch
        return out


@dataclass
class FlowParams:
    """The flow engine's own settings."""
    loop: bool = param(False, "seamless loop: brushed regions flow in place and frame N wraps to "
                              "frame 0 (cinemagraph)")


class FlowEngine(Engine):
    name = "flow"
    help = "weight-free: Euler-integrated brush motion, forward splatting with hole filling, loops"
    Params = FlowParams

    def stream(self, inputs: dict[str, Any], params: Any, generator: Any = None) -> FrameStream:
        image, brush = load_image_and_brush(inputs, params.width, params.height)
        if brush is None or not brush.strokes:
            raise InputError("brush", "the flow engine moves only what the motion brush says: "
                                      "give it at least one stroke with a path (or choose the "
                                      "svd engine)")
        if params.reveal and params.loop:
            raise ParamError("param reveal", "reveal moves regions away and back-fills the "
                                             "background; it cannot loop (use one or the other)")
        brush = scaled_brush(brush, params.strength)
        h, w = image.shape[:2]
        edges = brush_edges(brush, params.falloff, params.reveal)
        motion = BrushMotion(brush, params.num_frames, edges, anchored=params.loop,
                             loop=params.loop)
        renderer = FlowRenderer(image, motion, loop=params.loop, reveal=params.reveal)
        extras = {"moving_box": renderer.box, "strokes": len(brush.strokes),
                  "static_pixels": int(brush.static.sum())}
        return FrameStream(renderer.frames(), fps=params.fps, size=(w, h),
                           num_frames=params.num_frames, extras=extras,
                           side_outputs={"brush_preview": brush_preview_writer(image, brush)},
                           export_suffixes={"brush_preview": (".png", ".jpg", ".jpeg", ".webp")})
