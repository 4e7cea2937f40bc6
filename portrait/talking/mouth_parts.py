"""What shows through the parted lips, painted per pixel in the face's own frame.

Everything is laid out in face units (face widths) on axes ``u`` (across the face, from
the mouth's rest center) and ``v`` (down the face): the upper teeth hang from the skull
(their biting edge is a fixed curve just under the rest lip seam), the lower teeth and the
tongue ride on the jaw (they drop with the chin). So each mouth shape shows what it should
without being told: a wide /a/ shows both rows and the tongue between them, a narrow /u/
only the front incisors, an /f/ the upper teeth resting on the raised lower lip, and a
closed /m/ nothing.

Layers, back to front: dark cavity (darkest at the back of a wide opening), tongue,
lower teeth, upper teeth. Shading: the lips' shadow on what is just inside them, the sides
of the arch turning away from the light, each tooth rounded, the picture's own left/right
light fall-off, and less light inside a narrow opening.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# tooth boundaries from the midline (face widths, seen from the front: the arch turns
# away, so the farther teeth look narrower); the outermost is where the arch leaves view
UPPER_TEETH = np.array([0.0, 0.052, 0.090, 0.121, 0.145, 0.165, 0.182], np.float32)
LOWER_TEETH = np.array([0.0, 0.032, 0.062, 0.090, 0.115, 0.137, 0.157], np.float32)
UPPER_SHOW = 0.013        # upper biting edge below the rest lip seam
LOWER_SHOW = -0.007       # lower biting edge above the seam (behind the upper: overbite)
UPPER_ARCH = 0.45         # how fast the upper biting edge rises toward the sides (per u²)
LOWER_ARCH = -0.25        # the lower one falls


@dataclass
class Palette:
    """RGB float colours of one source (0..255)."""
    teeth: np.ndarray
    cavity: np.ndarray
    tongue: np.ndarray
    light_tilt: float     # brightness change per face width across u (the face's own light)


@dataclass
class Layout:
    """One frame's mouth in face units: curves sampled on the patch's ``u`` columns."""
    u: np.ndarray          # (h, w) across
    v: np.ndarray          # (h, w) down
    v_upper: np.ndarray    # (h, w) the upper lip's inner edge at each pixel's u
    v_lower: np.ndarray    # (h, w) the lower lip's inner edge
    upper_edge: np.ndarray  # (h, w) upper teeth biting edge
    lower_edge: np.ndarray  # (h, w) lower teeth biting edge
    px: float              # one pixel in face units (anti-aliasing width)
    show_upper: bool       # False when the source's own teeth cover the upper row


def _smoothstep(x):
    t = np.minimum(np.maximum(x, 0.0), 1.0)
    return t * t * (3 - 2 * t)


def _ramp(x, px):
    """0 -> 1 across one pixel around x = 0 (anti-aliased edge of a region x > 0)."""
    return np.minimum(np.maximum(0.5 + x / px, 0.0), 1.0)


def _tooth_coords(u: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(q, gap_distance, index) of each pixel's tooth: q in -1..1 across the tooth,
    distance (face units) to the nearest boundary between teeth, and the tooth's rank
    from the midline (0 = central)."""
    a = np.abs(u)
    k = np.clip(np.searchsorted(bounds, a) - 1, 0, len(bounds) - 2)
    lo, hi = bounds[k], bounds[k + 1]
    q = 2 * (a - lo) / (hi - lo) - 1
    dist = np.minimum(a - lo, hi - a)
    return q, dist, k.astype(np.float32)


def _teeth_shade(lay: Layout, edge: np.ndarray, coords, upper: bool) -> np.ndarray:
    """(h, w) brightness of a row of teeth at tooth ``coords`` (from _tooth_coords): rounded
    teeth, dark seams opening to a notch at the biting edge, the arch turning into shadow at
    the sides, the lip's shadow at the gum."""
    q, dist, k = coords
    to_edge = (edge - lay.v) if upper else (lay.v - edge)          # > 0 on the tooth
    notch = 0.0006 + 0.0028 * _smoothstep(1 - to_edge / 0.008)      # seam width, face units
    seam = 1 - (0.12 + 0.2 * _smoothstep(1 - to_edge / 0.02)) * np.exp(
        -(dist / np.maximum(notch, 0.7 * lay.px)) ** 2)
    round_ = 1 - 0.12 * q ** 2
    side = 1 - 0.5 * _smoothstep((np.abs(lay.u) - 0.05) / 0.13)
    lip = lay.v - lay.v_upper if upper else lay.v_lower - lay.v
    shadow = 0.66 + 0.34 * _smoothstep(lip / 0.02)
    if not upper:
        shadow = shadow * 0.8                                      # lower in the mouth, less light
    # thin translucent biting edge
    enamel = 1 - 0.1 * (1 - _smoothstep(to_edge / 0.004))
    # no two teeth alike: a fixed small brightness offset per tooth and side
    jitter = 1 + 0.035 * np.sin(7.3 * k + 2.1 * np.sign(lay.u) + (0.0 if upper else 1.7))
    return seam * round_ * side * shadow * enamel * (1 - 0.03 * k) * jitter


def _tooth_cover(lay: Layout, edge: np.ndarray, bounds: np.ndarray, q: np.ndarray, upper: bool) -> np.ndarray:
    """(h, w) 0..1 coverage of a teeth row (tooth coordinate ``q``); each tooth's biting
    corners slightly rounded off."""
    corner = 0.004 * q ** 6
    inside = (edge - corner - lay.v) if upper else (lay.v - edge - corner)
    width = _ramp(bounds[-1] - np.abs(lay.u), lay.px * 4)
    return _ramp(inside, lay.px) * width


def paint_interior(lay: Layout, pal: Palette) -> np.ndarray:
    """(h, w, 3) float32 RGB of the mouth interior for ``lay`` (before grain matching)."""
    gap = np.maximum(lay.v_lower - lay.v_upper, 0.0)
    mid = 0.5 * (lay.v_upper + lay.v_lower)
    # light comes in through the opening: a slit is dark inside, a wide /a/ less so
    opening = float(np.max(gap)) if gap.size else 0.0
    inflow = 0.45 + 0.55 * _smoothstep(opening / 0.11)
    light = inflow * (1 + pal.light_tilt * lay.u)
    # cavity: darkest at the back (the middle of a wide opening), reddish toward the lips
    depth = _smoothstep(np.minimum(lay.v - lay.v_upper, lay.v_lower - lay.v) / 0.03)
    across = 1 - _smoothstep((np.abs(lay.u) - 0.04) / 0.12)
    cav = (1.0 - 0.55 * depth * across) * (0.8 + 0.2 * _smoothstep((lay.v - lay.v_upper) / 0.05))
    img = pal.cavity[None, None, :] * (cav * light)[..., None]
    # tongue: an arch just behind the lower teeth, lit on its top, falling off to the sides
    top = lay.lower_edge - 0.016 - 0.018 * (1 - np.minimum((lay.u / 0.13) ** 2, 1))
    tongue = _ramp(lay.v - top, lay.px * 2) * _ramp(0.16 - np.abs(lay.u), lay.px * 6)
    tongue = tongue * _ramp(lay.v - mid + 0.3 * gap, lay.px * 3)    # only in the lower part
    ridge = 0.75 + 0.35 * np.exp(-((lay.v - top - 0.008) / 0.01) ** 2)
    ridge = ridge * (1 - 0.35 * _smoothstep((lay.v - lay.lower_edge + 0.004) / 0.01))
    t_shade = ridge * (1 - 0.5 * _smoothstep((np.abs(lay.u) - 0.05) / 0.1)) * light
    img = _over(img, pal.tongue[None, None, :] * t_shade[..., None], tongue)
    coords = _tooth_coords(lay.u, LOWER_TEETH)
    lower = _tooth_cover(lay, lay.lower_edge, LOWER_TEETH, coords[0], False)   # behind the upper row
    lit = 1 + pal.light_tilt * lay.u                  # the teeth stand in the outside light
    l_shade = _teeth_shade(lay, lay.lower_edge, coords, False) * lit * (0.7 + 0.3 * inflow)
    img = _over(img, _lit_teeth(pal, l_shade), lower)
    if lay.show_upper:
        coords = _tooth_coords(lay.u, UPPER_TEETH)
        upper = _tooth_cover(lay, lay.upper_edge, UPPER_TEETH, coords[0], True)
        u_shade = _teeth_shade(lay, lay.upper_edge, coords, True) * lit
        img = _over(img, _lit_teeth(pal, u_shade), upper)
    return img.astype(np.float32)


def _lit_teeth(pal: Palette, shade: np.ndarray) -> np.ndarray:
    """(h, w, 3) teeth colour at ``shade`` (h, w): shadows inside a mouth are warm (light
    bounced off the lips and tongue), not grey."""
    s = shade[..., None]
    return pal.teeth * s + pal.cavity * (0.9 * np.maximum(1 - s, 0))


def _over(img: np.ndarray, top: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha[..., None]
    return img * (1 - a) + top * a
