"""Closing eyes by folding them with the mesh, so a shut eye shows the source's own lid and
lashes.

A blink moves the upper and lower lid points onto one meeting curve (see the rig's blink
basis). What lies between them (sclera, iris) is then folded away by the warp, as a real
lid covers it. The iris landmarks are not lid points, and a driver may leave them where
they were, so :func:`irises_inside_lids` keeps each iris inside its eye's current opening.
Otherwise a shut eye would keep a stretched iris showing through it.

(Painting a lid over the eye instead was tried: it looks plausible, but MediaPipe then
shifts its whole face estimate by about 1 % of the face width on every blink. Folding
moves the estimate about half as much. See docs/portrait_talking.md.)
"""
from __future__ import annotations

import numpy as np

from .rig import (LEFT_EYE_CORNERS, LEFT_IRIS, LEFT_LOWER_LID, LEFT_UPPER_LID, RIGHT_EYE_CORNERS,
                  RIGHT_IRIS, RIGHT_LOWER_LID, RIGHT_UPPER_LID)

# per eye: corner indices, upper-lid and lower-lid indices (corner to corner), iris
# indices (centre first)
EYES = ((RIGHT_EYE_CORNERS, RIGHT_UPPER_LID, RIGHT_LOWER_LID, RIGHT_IRIS),
        (LEFT_EYE_CORNERS, LEFT_UPPER_LID, LEFT_LOWER_LID, LEFT_IRIS))


def lid_curves(points: np.ndarray, ex: np.ndarray, ey: np.ndarray, corners, upper, lower):
    """Functions u -> v of the upper and lower lid (u along ``ex``, v along ``ey``, both
    unit (2,) vectors of the face frame; ``points`` (478, 2))."""
    def curve(idx):
        pts = points[[corners[0]] + list(idx) + [corners[1]]]
        u, v = pts @ ex, pts @ ey
        order = np.argsort(u)
        return lambda q: np.interp(q, u[order], v[order])
    return curve(upper), curve(lower)


def eye_openings(points: np.ndarray, ex: np.ndarray, ey: np.ndarray) -> list[float]:
    """Lid gap (along ``ey``, pixels) at each iris centre for ``points`` (478, 2)."""
    out = []
    for corners, upper, lower, iris in EYES:
        up, low = lid_curves(points, ex, ey, corners, upper, lower)
        u = points[iris[0]] @ ex
        out.append(float(low(u) - up(u)))
    return out


def irises_inside_lids(target: np.ndarray, rest_openings: list[float], ex: np.ndarray,
                       ey: np.ndarray) -> np.ndarray:
    """``target`` (478, 2) with each iris squeezed into its eye's opening: the centre kept
    between the lids, the other iris points' vertical offsets scaled by how far the eye is
    open relative to the source (``rest_openings``, from :func:`eye_openings`)."""
    out = target
    for (corners, upper, lower, iris), rest in zip(EYES, rest_openings):
        up, low = lid_curves(target, ex, ey, corners, upper, lower)
        pts = target[iris]
        u, v = pts @ ex, pts @ ey
        top, bottom = up(u[0]), low(u[0])
        ratio = float(np.clip((bottom - top) / max(rest, 1e-6), 0.0, 1.0))
        if ratio >= 1.0 and top <= v[0] <= bottom:
            continue
        centre = float(np.clip(v[0], top, bottom)) if bottom > top else 0.5 * (top + bottom)
        new_v = centre + (v - v[0]) * ratio
        if out is target:
            out = target.copy()
        out[iris] = pts + (new_v - v)[:, None] * ey
    return out
