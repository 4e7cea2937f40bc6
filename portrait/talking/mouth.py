"""Mouth interior where the lips part: smooth inner-lip edge, teeth, tongue and cavity
shaded in the face's own light, blurred and grained like the photo.

When the source mouth is already open (a smile showing teeth), its own interior travels
with the upper lip (the upper teeth are fixed to the skull) and only the newly opened part
is synthesized, below the source's own teeth.
"""
from __future__ import annotations

import cv2
import numpy as np

from .contours import inner_lip_curves, opening_outline, polygon_area, polygon_mask
from .grain import Grain, blur_sigma, noise_sigma
from .mouth_parts import LOWER_ARCH, LOWER_SHOW, UPPER_ARCH, UPPER_SHOW, Layout, Palette, paint_interior
from .rig import LOWER_LIP_INNER, LOWER_LIP_OUTER, UPPER_LIP_INNER, UPPER_LIP_OUTER, face_frame

INNER_POLY = UPPER_LIP_INNER + LOWER_LIP_INNER[::-1][1:-1]
OUTER_POLY = UPPER_LIP_OUTER + LOWER_LIP_OUTER[::-1][1:-1]
SKULL = [1, 4, 5, 195, 197, 6]       # nose bridge and tip: move with the head, not the mouth
CHIN = 152
CHEEKS = (50, 280)                   # subject's right and left cheek
OPEN_AREA = 4e-4                     # a source opening above this (face widths²) shows its interior


class FaceAxes:
    """Face units of one pose of the mesh: ``uv(p)`` maps pixels to (across, down) face widths
    from the skull anchor. ``points``: (478, 2+) pixels."""

    def __init__(self, points: np.ndarray):
        _, self.ex, self.ey, self.width = face_frame(points)
        self.anchor = np.asarray(points)[SKULL, :2].mean(0)

    def uv(self, p: np.ndarray) -> np.ndarray:
        d = np.asarray(p, np.float64)[..., :2] - self.anchor
        return np.stack([d @ self.ex, d @ self.ey], -1) / self.width


def curve_at(curve_uv: np.ndarray, u: np.ndarray) -> np.ndarray:
    """v of a curve (M, 2) in face units, interpolated at ``u`` (any shape)."""
    o = np.argsort(curve_uv[:, 0])
    return np.interp(u, curve_uv[o, 0], curve_uv[o, 1])


def uncrossed(upper: np.ndarray, lower: np.ndarray, down: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inner-lip curves (M, 2) with each lower sample kept at or below its upper partner
    along ``down`` (2,): pressed lips meet instead of outlining a folded, crossed opening."""
    gap = (lower - upper) @ down                                       # (M,)
    return upper, lower - np.minimum(gap, 0.0)[:, None] * down


def face_hull_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) bool: inside the convex hull of the face mesh."""
    hull = cv2.convexHull(np.round(points[:468, :2]).astype(np.int32))
    m = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(m, hull, 1)
    return m.astype(bool)


def region_color(crop: np.ndarray, mask: np.ndarray, default) -> np.ndarray:
    """(3,) median RGB of ``crop`` under ``mask``, ``default`` when the mask is empty."""
    return np.median(crop[mask], 0).astype(np.float64) if mask.any() else np.asarray(default, float)


def own_teeth_color(px: np.ndarray, skin: np.ndarray, default: np.ndarray) -> np.ndarray:
    """(3,) colour of the teeth among the source opening's pixels ``px`` (N, 3): bright and
    unsaturated next to the lips and skin; ``default`` when fewer than a few show."""
    px = px.astype(np.float64)
    hi, lo = px.max(1), px.min(1)
    teeth = px[((hi - lo) < 0.38 * np.maximum(hi, 1)) & (px.mean(1) > 0.75 * skin.mean())]
    if len(teeth) < 12:
        return default
    lum = teeth.mean(1)                   # the lit enamel, not the blurred rim around it
    return np.clip(np.median(teeth[lum >= np.percentile(lum, 60)], 0), 0, 255)


def source_palette(crop: np.ndarray, points: np.ndarray, fw: float, opening: np.ndarray) -> Palette:
    """Colours of the source: cavity and tongue from the lips, teeth from its own teeth
    when it shows them (else an off-white in the picture's colour cast), and the light's
    left/right fall-off from the two cheeks."""
    shape = crop.shape[:2]
    inner = polygon_mask(opening, shape) > 0.5
    lips = (polygon_mask(points[OUTER_POLY], shape) > 0.5) & ~inner
    lip = region_color(crop, lips, (150.0, 80, 80))
    skin = region_color(crop, face_hull_mask(points, shape) & ~lips & ~inner, (190.0, 150, 130))
    light = float(np.clip(skin.mean() / 170.0, 0.55, 1.15))
    # off-white in the picture's colour cast (warm light, a painting's varnish)
    cast = (skin / max(skin.mean(), 1.0)) ** 0.45
    teeth = np.clip(np.array([236.0, 230, 218]) * light * cast, 0, 255)
    if polygon_area(opening) / fw ** 2 > OPEN_AREA:
        teeth = own_teeth_color(crop[inner], skin, teeth)
    # lit enamel is about as bright as the lit skin, whatever the picture's exposure
    teeth = np.clip(teeth * max(1.0, 1.02 * skin.mean() / max(teeth.mean(), 1.0)), 0, 255)
    r = max(2, int(0.03 * fw))
    cheek = []
    for i in CHEEKS:
        x, y = np.round(points[i, :2]).astype(int)
        patch = crop[max(y - r, 0): y + r, max(x - r, 0): x + r]
        cheek.append(float(patch.mean()) if patch.size else skin.mean())
    du = max(abs(float((points[CHEEKS[1], :2] - points[CHEEKS[0], :2]) @ face_frame(points)[1])) / fw, 0.1)
    tilt = float(np.clip((cheek[1] - cheek[0]) / max(np.mean(cheek), 1.0) / du, -1.5, 1.5))
    tongue = 0.8 * (0.35 * lip + 0.65 * skin * np.array([0.92, 0.6, 0.6]))  # duller than lips
    f32 = lambda c: np.clip(c, 0, 255).astype(np.float32)      # noqa: E731  (float32 math per frame)
    return Palette(teeth=f32(teeth), cavity=f32(lip * np.array([0.4, 0.19, 0.18])),
                   tongue=f32(tongue), light_tilt=tilt)


class MouthPainter:
    """Paints the mouth interior into warped crops of one source face.

    ``crop``: (h, w, 3) uint8 source crop; ``points``: (478, 2+) source landmarks in crop
    pixels; ``face_width``: pixels.
    """

    def __init__(self, crop: np.ndarray, points: np.ndarray, face_width: float, seed: int = 0):
        self.crop = crop
        self.fw = float(face_width)
        pts = np.asarray(points, np.float64)[:, :2]
        upper, lower = inner_lip_curves(pts)
        self.src_inner = opening_outline(upper, lower)                    # (K, 2) pixels
        self.src_gap = polygon_area(self.src_inner) / self.fw ** 2      # face-width² units
        self.has_interior = self.src_gap > OPEN_AREA
        axes = FaceAxes(pts)
        up_uv, low_uv = axes.uv(upper), axes.uv(lower)
        self.center_u = float(axes.uv(pts[[13, 14]].mean(0))[0])
        self.seam_v = float(curve_at((up_uv + low_uv) / 2, np.array(self.center_u)))
        self.src_lower_uv = low_uv                                       # (M, 2) face units
        self.chin_v = float(axes.uv(pts[CHIN])[1])
        self.palette = source_palette(crop, pts, self.fw, self.src_inner)
        face = face_hull_mask(pts, crop.shape[:2])
        self.grain = Grain(crop.shape[:2], blur_sigma(crop, face), noise_sigma(crop, face), seed)
        self.src_alpha = self._own_interior_alpha(crop, pts) if self.has_interior else None
        # painting resolution: every pixel for a crisp photo, every 2nd or 3rd for a soft one
        # (an enlarged block is about as soft as a 0.5-block blur; the rest is blurred after)
        self.step = int(np.clip(self.grain.extra_blur // 0.9, 1, 3))
        self.residual_blur = float(np.sqrt(max(self.grain.extra_blur ** 2 - (0.5 * self.step) ** 2
                                               if self.step > 1 else self.grain.extra_blur ** 2, 0.0)))

    def _own_interior_alpha(self, crop: np.ndarray, pts: np.ndarray) -> np.ndarray:
        """(h, w) float32: where the source's own opening shows teeth or mouth, not lip
        (MediaPipe's inner-lip points often sit a little inside the red of the lips)."""
        inside = polygon_mask(self.src_inner, crop.shape[:2])
        lips = (polygon_mask(pts[OUTER_POLY], crop.shape[:2]) > 0.5) & (inside < 0.5)
        lip = region_color(crop, lips, (150.0, 80, 80))
        px = crop.astype(np.float32)
        lum, chroma = px.mean(2), px.max(2) - px.min(2)
        teeth = np.clip((0.45 - chroma / np.maximum(px.max(2), 1)) / 0.15, 0, 1)
        teeth *= np.clip((lum - 0.8 * lip.mean()) / 20.0, 0, 1)             # bright, unsaturated
        dark = np.clip((0.4 * lip.mean() - lum) / 12.0, 0, 1)               # the gap behind them
        alpha = inside * np.maximum(teeth, dark)
        return cv2.GaussianBlur(alpha, (0, 0), max(0.6, self.grain.extra_blur))

    def layout(self, points: np.ndarray, axes: FaceAxes, curves, shape: tuple[int, int],
               offset, step: int = 1) -> Layout:
        """Face-unit geometry of the patch ``shape`` (h, w) at crop ``offset`` (x, y) for posed
        landmarks ``points`` (478, 2) in crop pixels, their ``axes`` and inner-lip ``curves``;
        sampled every ``step`` pixels (at the centres of step x step blocks)."""
        up, low = curves
        h, w = shape
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32) * step + (step - 1) / 2.0
        pix = np.stack([xs + offset[0], ys + offset[1]], -1)
        uv = axes.uv(pix).astype(np.float32)
        u, v = uv[..., 0], uv[..., 1]
        uc = u - self.center_u                                           # from the rest midline
        jaw = float(axes.uv(points[CHIN])[1]) - self.chin_v              # chin drop, face widths
        upper_edge = self.seam_v + UPPER_SHOW - UPPER_ARCH * uc ** 2
        if self.has_interior:        # continuing the source's own teeth, never over them
            upper_edge = np.maximum(upper_edge, curve_at(self.src_lower_uv, u) - 0.002)
        lower_edge = self.seam_v + LOWER_SHOW - LOWER_ARCH * uc ** 2 + jaw
        f32 = lambda a: np.asarray(a, np.float32)                           # noqa: E731
        return Layout(u=uc, v=v, v_upper=f32(curve_at(axes.uv(up), u)),
                      v_lower=f32(curve_at(axes.uv(low), u)), upper_edge=f32(upper_edge),
                      lower_edge=f32(lower_edge), px=step / axes.width, show_upper=True)

    def paint(self, crop: np.ndarray, points: np.ndarray, upper_shift: np.ndarray) -> None:
        """Paint into ``crop`` (h, w, 3) uint8 in place, for posed landmarks ``points`` (478, 2)
        in crop pixels; ``upper_shift`` (2,) is how far the upper inner lip moved."""
        axes = FaceAxes(points)
        down = axes.ey
        curves = uncrossed(*inner_lip_curves(points), down)
        outline = opening_outline(*curves)
        if float(((curves[1] - curves[0]) @ down).max()) < 0.3 and not self.has_interior:
            return                                          # lips shut: nothing shows
        h, w = crop.shape[:2]
        pad = int(np.ceil(3 * self.grain.extra_blur)) + 3
        x0, y0 = np.floor(outline.min(0)).astype(int) - pad
        x1, y1 = np.ceil(outline.max(0)).astype(int) + pad
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        shape = (y1 - y0, x1 - x0)
        mask = polygon_mask(outline, shape, (x0, y0))
        if self.grain.extra_blur > 0.3:     # the lip edge as soft as the photo's edges
            mask = cv2.GaussianBlur(mask, (0, 0), self.grain.extra_blur)
        if mask.max() < 0.02:
            return
        interior = self._interior(points, axes, curves, shape, (x0, y0))
        # the grain travels with the teeth (the upper lip's motion), not with the frame
        sx, sy = int(round(float(upper_shift[0]))), int(round(float(upper_shift[1])))
        interior = self.grain.apply(interior, (x0 - sx, y0 - sy), self.residual_blur)
        if self.has_interior:
            self._paste_source(interior, shape, (x0, y0), upper_shift)
        inside = cv2.convertScaleAbs(interior)          # saturating float -> uint8
        crop[y0:y1, x0:x1] = cv2.blendLinear(inside, crop[y0:y1, x0:x1], mask,
                                             np.ascontiguousarray(1.0 - mask))

    def _interior(self, points, axes, curves, shape, offset) -> np.ndarray:
        """(h, w, 3) float32 painted interior of the patch ``shape`` at ``offset``. A soft photo
        is painted every ``step`` pixels and enlarged: its own blur hides the difference."""
        f = self.step
        if f == 1:
            return paint_interior(self.layout(points, axes, curves, shape, offset), self.palette)
        h, w = shape
        small = (-(-h // f), -(-w // f))
        img = paint_interior(self.layout(points, axes, curves, small, offset, f), self.palette)
        # block centres land exactly on the small image's pixels
        return cv2.resize(img, (small[1] * f, small[0] * f), interpolation=cv2.INTER_LINEAR)[:h, :w]

    def _paste_source(self, interior: np.ndarray, shape, offset, upper_shift) -> None:
        """Overlay the source's own mouth interior, moved with the upper lip."""
        ox, oy = offset
        dx, dy = float(upper_shift[0]), float(upper_shift[1])
        m = np.float32([[1, 0, dx - ox], [0, 1, dy - oy]])
        h, w = shape
        patch = cv2.warpAffine(self.crop, m, (w, h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        alpha = cv2.warpAffine(self.src_alpha, m, (w, h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT)[..., None]
        interior[:] = interior + alpha * (patch - interior)
