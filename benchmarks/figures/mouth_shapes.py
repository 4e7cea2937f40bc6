"""Mouth shapes for /a/, /u/, /i/, /m/, /f/ made by moving the source's landmarks directly
(no audio, no phoneme model): they test that the renderer takes every configuration a
viseme driver can ask for, and they pose the side-by-side figure.

Each shape is the rig's jaw / width / smile controls plus a smooth displacement field
around the mouth in face units (``rig.uv``): rounding pulls the lips toward the midline and
pushes them away from the seam (protrusion seen from the front); the /f/ tuck lifts the
lower lip to just under the upper teeth' biting edge and the upper lip a little.
"""
from __future__ import annotations

import numpy as np

from animakit.portrait.talking.rig import (LOWER_LIP_INNER, LOWER_LIP_OUTER, UPPER_LIP_INNER,
                                           UPPER_LIP_OUTER, Expression, FaceRig)

SHAPES = ("a", "u", "i", "m", "f")


def _mouth_weight(rig: FaceRig, reach_u: float = 0.22, reach_v: float = 0.12) -> np.ndarray:
    """(478,) 1 at the mouth center, falling off smoothly over the given reach (face units)."""
    c = rig.uv[[13, 14]].mean(0)
    d = ((rig.uv[:, 0] - c[0]) / reach_u) ** 2 + ((rig.uv[:, 1] - c[1]) / reach_v) ** 2
    return np.exp(-d)


def _rounded(rig: FaceRig, amount: float) -> np.ndarray:
    """(478, 2) face-unit displacement: lips toward the midline and away from the seam."""
    c = rig.uv[[13, 14]].mean(0)
    g = _mouth_weight(rig)
    du = -amount * 0.55 * (rig.uv[:, 0] - c[0]) * g
    side = np.sign(rig.uv[:, 1] - c[1])
    dv = amount * 0.012 * side * g
    dv[UPPER_LIP_INNER + LOWER_LIP_INNER] *= 0.5
    return np.stack([du, dv], 1)


def _tucked(rig: FaceRig) -> np.ndarray:
    """(478, 2) face-unit displacement of /f/: lower lip up under the upper teeth."""
    c = rig.uv[[13, 14]].mean(0)
    across = np.clip(1 - (np.abs(rig.uv[:, 0] - c[0]) / 0.2) ** 2, 0, 1)
    d = np.zeros((len(rig.uv), 2))
    d[UPPER_LIP_INNER + UPPER_LIP_OUTER, 1] -= 0.016 * across[UPPER_LIP_INNER + UPPER_LIP_OUTER]
    low = LOWER_LIP_INNER[1:-1]
    d[low, 1] += (c[1] + 0.006 - rig.uv[low, 1]) * across[low] ** 0.5 - 0.004
    d[LOWER_LIP_OUTER[1:-1], 1] -= 0.006 * across[LOWER_LIP_OUTER[1:-1]]
    return d


def shape_landmarks(rig: FaceRig, shape: str) -> np.ndarray:
    """(478, 3) posed landmarks of the source in mouth shape ``shape`` (one of SHAPES)."""
    expr = {"a": Expression(jaw=1.0), "u": Expression(jaw=0.35), "i": Expression(jaw=0.3, width=1.3, smile=0.3),
            "m": Expression(jaw=-0.35), "f": Expression(jaw=0.1)}[shape]
    pts = rig.target(expr)
    extra = {"u": lambda: _rounded(rig, 1.0), "f": lambda: _tucked(rig)}.get(shape)
    if extra is not None:
        d = extra()
        pts[:, :2] += (d[:, :1] * rig.ex + d[:, 1:] * rig.ey) * rig.width
    return pts
