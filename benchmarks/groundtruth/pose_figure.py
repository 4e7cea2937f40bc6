"""A synthetic figure with known joints and procedural motions (walk, wave, dance).

Used for the shipped example assets and for exact tests: :func:`figure_pose` is 2D forward
kinematics from a few joint angles to the 33 MediaPipe keypoints, :func:`draw_figure` paints
a shaded person (a face with eyes, brows, nose, mouth, ears and hair; tapering limbs; hands
with fingers; T-shirt, jeans, shoes) at any such pose, with its mask, so that MediaPipe reads
it about as well as a photo. Angles are in degrees from "straight down", positive towards
image +x.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from animakit.portrait.pose.skeleton import N_POSE


@dataclass
class Angles:
    root: tuple[float, float] = (0.0, 0.0)   # mid-hip offset in body units (x, y)
    lean: float = 0.0                         # spine tilt
    head: float = 0.0                         # head tilt relative to the spine
    l_arm: float = 32.0                       # upper arms (person's left is image +x)
    l_fore: float = 22.0
    r_arm: float = -32.0
    r_fore: float = -22.0
    l_leg: float = 6.0
    l_shin: float = 3.0
    r_leg: float = -6.0
    r_shin: float = -3.0
    l_arm_z: float = 0.0                      # depth of each forearm (negative = nearer)
    r_arm_z: float = 0.0


# bone lengths as fractions of the figure's height unit U
SPINE, NECK, SHOULDER, HIP, UPPER_ARM, FOREARM, THIGH, SHIN, HAND, FOOT = (
    0.29, 0.12, 0.105, 0.065, 0.18, 0.165, 0.24, 0.23, 0.05, 0.06)
PALM_TURN = 2.5       # how fast a hand turns over as its forearm rises past horizontal


def _dir(deg: float) -> np.ndarray:
    a = np.radians(deg)
    return np.array([np.sin(a), np.cos(a)])


def figure_pose(a: Angles, hip: tuple[float, float], unit: float) -> tuple[np.ndarray, np.ndarray]:
    """(33, 3) keypoints in pixels and (33,) visibility (all 1) for angles ``a``, the mid-hip
    at pixel ``hip`` and a body unit of ``unit`` pixels (the figure is ~1.05 units tall)."""
    p = np.zeros((N_POSE, 3), np.float64)
    root = np.array(hip) + np.array(a.root) * unit
    up = -_dir(a.lean)
    side = np.array([-up[1], up[0]])              # +x when upright (the person's left)
    neck = root + up * SPINE * unit
    p[11, :2], p[12, :2] = neck + side * SHOULDER * unit, neck - side * SHOULDER * unit
    p[23, :2], p[24, :2] = root + side * HIP * unit, root - side * HIP * unit
    head_up = -_dir(a.lean + a.head)
    head_side = np.array([head_up[1], -head_up[0]]) * -1
    nose = neck + head_up * NECK * unit
    p[0, :2] = nose
    e = 0.028 * unit
    for i, (dx, dy) in {1: (0.6, -0.5), 2: (1.0, -0.55), 3: (1.4, -0.5), 4: (-0.6, -0.5),
                        5: (-1.0, -0.55), 6: (-1.4, -0.5), 7: (2.3, -0.1), 8: (-2.3, -0.1),
                        9: (0.7, 0.9), 10: (-0.7, 0.9)}.items():
        p[i, :2] = nose + (head_side * dx - head_up * dy) * e
    for s, sh, el, wr, arm, fore, hand in ((1, 11, 13, 15, a.l_arm, a.l_fore, (17, 19, 21)),
                                           (-1, 12, 14, 16, a.r_arm, a.r_fore, (18, 20, 22))):
        p[el, :2] = p[sh, :2] + _dir(arm + a.lean) * UPPER_ARM * unit
        p[wr, :2] = p[el, :2] + _dir(fore + a.lean) * FOREARM * unit
        d = _dir(fore + a.lean)
        # hanging, the back of the hand faces the camera (thumb inwards); raised, the palm does
        n = np.array([d[1], -d[0]]) * s * np.clip(PALM_TURN * d[1], -1, 1)
        p[hand[0], :2] = p[wr, :2] + d * HAND * unit * 0.8 + n * 0.02 * unit
        p[hand[1], :2] = p[wr, :2] + d * HAND * unit - n * 0.01 * unit
        p[hand[2], :2] = p[wr, :2] + d * HAND * unit * 0.55 - n * 0.024 * unit
    for s, hp, kn, an, hl, toe, leg, shin in ((1, 23, 25, 27, 29, 31, a.l_leg, a.l_shin),
                                              (-1, 24, 26, 28, 30, 32, a.r_leg, a.r_shin)):
        p[kn, :2] = p[hp, :2] + _dir(leg) * THIGH * unit
        p[an, :2] = p[kn, :2] + _dir(shin) * SHIN * unit
        p[hl, :2] = p[an, :2] + np.array([-0.1 * s, 0.3]) * FOOT * unit
        p[toe, :2] = p[an, :2] + np.array([0.7 * s, 0.55]) * FOOT * unit
    p[[13, 15, 17, 19, 21], 2] = np.array([0.3, 1, 1, 1, 1]) * a.l_arm_z * unit
    p[[14, 16, 18, 20, 22], 2] = np.array([0.3, 1, 1, 1, 1]) * a.r_arm_z * unit
    p[[0] + list(range(1, 11)), 2] = -0.1 * unit
    return p.astype(np.float32), np.ones(N_POSE, np.float32)


SKIN, SHIRT, TROUSERS, SHOES, HAIR = ((232, 180, 142), (205, 60, 62), (48, 78, 150),
                                     (50, 42, 40), (70, 45, 28))
LIGHT = np.array([0.0, 0.0, 1.0])   # from the camera: shading turns with a limb, as a rig's does


def background(size: tuple[int, int]) -> np.ndarray:
    """A textured scene (sky gradient, hills, tiled floor), (H, W, 3) uint8."""
    w, h = size
    y = np.linspace(0, 1, h)[:, None, None]
    img = (np.array([120, 170, 235]) * (1 - y) + np.array([225, 235, 245]) * y) * np.ones((1, w, 1))
    img = img.astype(np.uint8)
    horizon = int(h * 0.78)
    xs = np.arange(w)
    hills = (horizon - h * 0.12 - h * 0.05 * np.sin(xs / w * 7) - h * 0.03 * np.sin(xs / w * 17))
    for x in xs:
        img[int(hills[x]):horizon, x] = (90, 150, 90)
    tile = max(8, w // 12)
    yy, xx = np.mgrid[horizon:h, 0:w]
    checker = ((xx // tile + (yy - horizon) // (tile // 2)) % 2).astype(bool)
    img[horizon:h][checker] = (180, 150, 120)
    img[horizon:h][~checker] = (150, 120, 95)
    for cx in range(w // 8, w, w // 3):
        cv2.circle(img, (cx, int(h * 0.12)), max(4, w // 25), (255, 255, 255), -1, cv2.LINE_AA)
    return img


def _blend(img: np.ndarray, mask: np.ndarray, box: tuple[slice, slice], alpha: np.ndarray,
           colour: np.ndarray) -> None:
    """Paint ``colour`` (h, w, 3) float over ``img[box]`` with ``alpha`` (h, w); grow ``mask``."""
    a = alpha[..., None]
    img[box] = np.clip(img[box] * (1 - a) + colour * a, 0, 255).astype(np.uint8)
    mask[box] = np.maximum(mask[box], (alpha * 255).astype(np.uint8))


def _grid(img: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """(box slices, xs (h, w), ys (h, w)) pixel-centre coordinates of ``img`` in [lo, hi]."""
    h, w = img.shape[:2]
    x0, y0 = np.clip(np.floor(lo).astype(int), 0, (w, h))
    x1, y1 = np.clip(np.ceil(hi).astype(int) + 1, 0, (w, h))
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    return (slice(y0, y1), slice(x0, x1)), xs, ys


def _shade(colour, nx: np.ndarray, ny: np.ndarray) -> np.ndarray:
    """(h, w, 3) colour lit from LIGHT on a surface with normal (nx, ny, sqrt(1 - nx² - ny²))."""
    nz = np.sqrt(np.clip(1 - nx * nx - ny * ny, 0, 1))
    lit = 0.5 + 0.62 * np.clip(nx * LIGHT[0] + ny * LIGHT[1] + nz * LIGHT[2], 0, 1)
    return np.asarray(colour, np.float32) * lit[..., None]


def _limb(img, mask, a, b, ra: float, rb: float, colour) -> None:
    """A shaded tapered capsule from ``a`` (radius ``ra``) to ``b`` (radius ``rb``)."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    r = max(ra, rb) + 2
    box, xs, ys = _grid(img, np.minimum(a, b) - r, np.maximum(a, b) + r)
    if xs.size == 0:
        return
    ab = b - a
    t = np.clip(((xs - a[0]) * ab[0] + (ys - a[1]) * ab[1]) / max(float(ab @ ab), 1e-6), 0, 1)
    dx, dy = xs - (a[0] + t * ab[0]), ys - (a[1] + t * ab[1])
    rad = ra + (rb - ra) * t
    dist = np.sqrt(dx * dx + dy * dy)
    alpha = np.clip(rad - dist + 0.5, 0, 1)
    _blend(img, mask, box, alpha, _shade(colour, dx / rad, dy / rad))


def _ellipse(img, mask, c, axes, angle: float, colour, flat: float = 1.0) -> None:
    """A shaded filled ellipse at ``c`` with semi-axes ``axes`` rotated by ``angle`` degrees;
    ``flat`` < 1 flattens the shading."""
    r = max(axes) + 2
    c = np.asarray(c, np.float32)
    box, xs, ys = _grid(img, c - r, c + r)
    if xs.size == 0:
        return
    co, si = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    u = ((xs - c[0]) * co + (ys - c[1]) * si) / axes[0]
    v = (-(xs - c[0]) * si + (ys - c[1]) * co) / axes[1]
    rho = np.sqrt(u * u + v * v)
    alpha = np.clip((1 - rho) * min(axes) + 0.5, 0, 1)
    nx, ny = (u * co - v * si) * flat, (u * si + v * co) * flat
    _blend(img, mask, box, alpha, _shade(colour, nx, ny))


def _polygon(img, mask, pts: np.ndarray, colour, axis: tuple[np.ndarray, np.ndarray]) -> None:
    """A filled polygon ``pts`` (N, 2), shaded as a cylinder around the line ``axis``."""
    box, xs, ys = _grid(img, pts.min(0) - 2, pts.max(0) + 2)
    if xs.size == 0:
        return
    cover = np.zeros(xs.shape, np.uint8)
    poly = np.round((pts - (box[1].start, box[0].start)) * 4).astype(np.int32)
    cv2.fillPoly(cover, [poly], 255, cv2.LINE_AA, shift=2)
    a, b = axis
    d = (b - a) / max(float(np.linalg.norm(b - a)), 1e-6)
    half = float(np.abs((pts - a) @ np.array([-d[1], d[0]])).max())
    u = ((xs - a[0]) * -d[1] + (ys - a[1]) * d[0]) / half
    _blend(img, mask, box, cover / 255.0, _shade(colour, u * -d[1] * 0.9, u * d[0] * 0.9))


def _unit_axes(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(up, side) unit vectors of the head: nose minus neck, and its right-hand normal."""
    neck = (p[11] + p[12]) / 2
    up = (p[0] - neck) / max(float(np.linalg.norm(p[0] - neck)), 1e-6)
    return up, np.array([-up[1], up[0]])


def _head(img, mask, p: np.ndarray, unit: float) -> None:
    """Hair, ears, a shaded face with eyes, brows, nose and mouth at the face keypoints."""
    up, side = _unit_axes(p)
    c = p[0] + up * 0.018 * unit
    ang = float(np.degrees(np.arctan2(up[0], -up[1])))
    rw, rh = 0.06 * unit, 0.074 * unit
    _ellipse(img, mask, c + up * 0.012 * unit, (rw * 1.14, rh * 1.1), ang, HAIR)
    for ear in (7, 8):
        _ellipse(img, mask, p[ear], (0.011 * unit, 0.019 * unit), ang, SKIN)
    _ellipse(img, mask, c, (rw, rh), ang, SKIN, flat=0.7)
    no = np.zeros_like(mask)
    fringe = c + up * 0.058 * unit
    _ellipse(img, no, fringe, (rw * 1.02, 0.032 * unit), ang, HAIR)
    e = 0.028 * unit
    for eye, brow_dir in ((2, 1), (5, -1)):
        _ellipse(img, no, p[eye], (0.4 * e, 0.22 * e), ang, (245, 245, 240), flat=0.3)
        iris = p[eye] + side * brow_dir * 0.05 * e
        _ellipse(img, no, iris, (0.17 * e, 0.2 * e), ang, (60, 40, 30))
        brow = p[eye] + up * 0.5 * e
        _limb(img, no, brow - side * 0.4 * e, brow + side * 0.4 * e - up * 0.08 * e * brow_dir,
              0.09 * e, 0.07 * e, HAIR)
    _limb(img, no, p[0] + up * 0.55 * e, p[0], 0.1 * e, 0.22 * e, np.array(SKIN) * 0.85)
    for s in (-1, 1):
        nostril = p[0] + side * s * 0.15 * e - up * 0.05 * e
        _ellipse(img, no, nostril, (0.08 * e,) * 2, ang, (120, 70, 60))
    mouth = (p[9] + p[10]) / 2 - up * 0.1 * e
    _limb(img, no, p[9], mouth, 0.1 * e, 0.16 * e, (175, 70, 75))
    _limb(img, no, mouth, p[10], 0.16 * e, 0.1 * e, (175, 70, 75))


def _hand(img, mask, p: np.ndarray, wr: int, tips: tuple[int, int, int], unit: float) -> None:
    """Palm from the wrist to the pinky and index knuckles, four fingers and a thumb."""
    pinky, index, thumb = p[tips[0]], p[tips[1]], p[tips[2]]
    knuckles = (pinky + index) / 2
    d = (knuckles - p[wr]) / max(float(np.linalg.norm(knuckles - p[wr])), 1e-6)
    across = index - pinky
    w = 0.017 * unit
    palm = np.array([p[wr] + across / 2.4, index, pinky, p[wr] - across / 2.4])
    _polygon(img, mask, palm, SKIN, (p[wr], knuckles))
    _ellipse(img, mask, knuckles, (float(np.linalg.norm(across)) * 0.6, w * 0.9),
             float(np.degrees(np.arctan2(across[1], across[0]))), SKIN)
    for k in range(4):
        base = index + (pinky - index) * k / 3
        _limb(img, mask, base, base + d * (0.034 - 0.004 * k) * unit, 0.0065 * unit,
              0.0055 * unit, SKIN)
    inwards = across / max(float(np.linalg.norm(across)), 1e-6)
    base = p[wr] + across * 0.3 + d * 0.01 * unit
    _limb(img, mask, base, thumb, 0.009 * unit, 0.007 * unit, SKIN)
    _limb(img, mask, thumb, thumb + (d * 0.6 - inwards * 0.2) * 0.025 * unit, 0.007 * unit,
          0.0055 * unit, SKIN)


def draw_figure(points: np.ndarray, size: tuple[int, int], unit: float,
                scene: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A shaded person at ``points`` (33, 3) over ``scene`` (default :func:`background`):
    (H, W, 3) uint8 image and (H, W) uint8 mask. Limbs are drawn back to front by depth."""
    img = (scene if scene is not None else background(size)).copy()
    mask = np.zeros(img.shape[:2], np.uint8)
    p = points[:, :2].astype(np.float32)
    neck = (p[11] + p[12]) / 2
    root = (p[23] + p[24]) / 2
    u = unit

    def arm(sh, el, wr, tips):
        _limb(img, mask, p[sh], p[el], 0.04 * u, 0.034 * u, SKIN)
        _limb(img, mask, p[el], p[wr], 0.032 * u, 0.022 * u, SKIN)
        _hand(img, mask, p, wr, tips, u)
        _limb(img, mask, p[sh], p[sh] + (p[el] - p[sh]) * 0.45, 0.046 * u, 0.042 * u, SHIRT)

    def leg(hp, kn, an, heel, toe):
        _limb(img, mask, p[an], p[heel], 0.024 * u, 0.02 * u, SHOES)
        _limb(img, mask, p[heel], p[toe], 0.02 * u, 0.017 * u, SHOES)
        _limb(img, mask, p[kn], p[an], 0.043 * u, 0.03 * u, TROUSERS)
        _limb(img, mask, p[hp], p[kn], 0.058 * u, 0.044 * u, TROUSERS)

    def torso():
        side = (p[11] - p[12]) / max(float(np.linalg.norm(p[11] - p[12])), 1e-6)
        _limb(img, mask, neck, neck + (p[0] - neck) * 0.6, 0.03 * u, 0.028 * u, SKIN)
        waist = neck + (root - neck) * 0.78
        hw = float(np.linalg.norm(p[23] - p[24])) / 2 + 0.045 * u
        pelvis = np.array([waist + side * hw, waist - side * hw, p[24] - side * 0.05 * u,
                           root + (root - neck) * 0.12, p[23] + side * 0.05 * u])
        _polygon(img, mask, pelvis, TROUSERS, (neck, root))
        sw = float(np.linalg.norm(p[11] - p[12])) / 2
        down = (root - neck) / max(float(np.linalg.norm(root - neck)), 1e-6)
        def sides(c, off):      # the point ``off`` (side, down) in units and its mirror
            return [c(s) + side * s * off[0] * u + down * off[1] * u for s in (1, -1)]
        l_sh, r_sh = sides(lambda s: p[11] if s > 0 else p[12], (0.035, -0.03))
        l_arm, r_arm = sides(lambda s: p[11] if s > 0 else p[12], (0.045, 0.05))
        l_rib, r_rib = sides(lambda s: neck + side * s * sw * 0.85, (0, 0.2))
        l_hip, r_hip = sides(lambda s: waist + side * s * (hw + 0.004 * u), (0, 0))
        l_col, r_col = sides(lambda s: neck, (0.03, -0.04))
        shirt = np.array([l_sh, l_arm, l_rib, l_hip, r_hip, r_rib, r_arm, r_sh, r_col, l_col])
        _polygon(img, mask, shirt, SHIRT, (neck, root))
        _limb(img, mask, waist - side * hw, waist + side * hw, 0.01 * u, 0.01 * u, (70, 50, 40))

    items = [(float(points[[13, 15], 2].mean()), lambda: arm(11, 13, 15, (17, 19, 21))),
             (float(points[[14, 16], 2].mean()), lambda: arm(12, 14, 16, (18, 20, 22))),
             (0.0, torso), (-0.01, lambda: _head(img, mask, p, u)),
             (0.02, lambda: leg(23, 25, 27, 29, 31)), (0.02, lambda: leg(24, 26, 28, 30, 32))]
    for _, draw in sorted(items, key=lambda t: -t[0]):
        draw()
    return img, mask


def _leg_drop(leg: float, shin: float, leg0: float, shin0: float) -> float:
    """How far (body units) the hip sinks when a leg bends from (leg0, shin0) to (leg, shin)."""
    c = np.cos(np.radians([leg0, shin0, leg, shin]))
    return float(THIGH * (c[0] - c[2]) + SHIN * (c[1] - c[3]))


def _dance(a: Angles, ph: float) -> Angles:
    """One frame of the dance at phase ``ph`` (radians): the left arm rises overhead through a
    bent elbow (so the hand stays near the body) while the right forearm folds across the
    chest, the body sways, and the knees bend twice per loop (the hip sinks, feet stay put)."""
    up = 0.5 - 0.5 * np.cos(ph)
    fold = min(1.0, up / 0.45)
    bounce = 0.5 - 0.5 * np.cos(2 * ph)
    l_leg, l_shin = a.l_leg + 16 * bounce, a.l_shin - 12 * bounce
    drop = _leg_drop(l_leg, l_shin, a.l_leg, a.l_shin)
    tuck = np.sin(np.pi * fold)             # elbow in at the side while the forearm swings up
    return replace(a, l_arm=a.l_arm - 22 * tuck + 130 * up ** 2,
                   l_fore=a.l_fore + 150 * fold + 10 * up,
                   r_arm=a.r_arm - 55 * up, r_fore=a.r_fore + 85 * up, r_arm_z=-0.3 * up,
                   lean=6 * np.sin(ph), head=-8 * np.sin(ph),
                   l_leg=l_leg, l_shin=l_shin, r_leg=-l_leg, r_shin=-l_shin,
                   root=(0.03 * np.sin(ph) - 0.04 * tuck, drop))


def motion(kind: str, n: int) -> list[Angles]:
    """``n`` frames of a looping procedural motion: ``walk``, ``wave`` or ``dance``."""
    out = []
    for i in range(n):
        ph = 2 * np.pi * i / n
        a = Angles()
        if kind == "walk":
            sw = 28 * np.sin(ph)
            a = replace(a, l_leg=sw, l_shin=sw - 12 * max(0, np.sin(ph + 1.2)),
                        r_leg=-sw, r_shin=-sw - 12 * max(0, -np.sin(ph + 1.2)),
                        l_arm=12 - 0.8 * sw, l_fore=10 - 0.8 * sw, r_arm=-12 + 0.8 * sw,
                        r_fore=-10 + 0.8 * sw, root=(0.08 * np.sin(ph / 2), -0.015 * abs(np.cos(ph))))
        elif kind == "wave":
            a = replace(a, l_arm=135 + 8 * np.sin(ph), l_fore=175 + 25 * np.sin(2 * ph),
                        head=6 * np.sin(ph), lean=-3 * np.sin(ph))
        elif kind == "dance":
            a = _dance(a, ph)
        else:
            raise ValueError(f"unknown motion {kind!r}")
        out.append(a)
    return out


def motion_sequence(kind: str, n: int, size: tuple[int, int], fps: float = 24.0):
    """(points (n, 33, 3), visibility (n, 33)) of a procedural motion in a frame of ``size``,
    with the same framing as :func:`reference_figure`."""
    hip, unit = framing(size)
    pts, vis = zip(*(figure_pose(a, hip, unit) for a in motion(kind, n)))
    return np.array(pts), np.array(vis)


def framing(size: tuple[int, int]) -> tuple[tuple[float, float], float]:
    """Mid-hip pixel and body unit placing a standing figure in a frame of ``size``."""
    w, h = size
    unit = h * 0.66
    return (w / 2, h * 0.93 - (THIGH + SHIN + 0.03) * unit), unit


def driver_framing(size: tuple[int, int]) -> tuple[tuple[float, float], float]:
    """Mid-hip pixel and body unit of the dancer in the shipped driving clip: shorter than the
    reference figure and off-centre, so retargeting has work to do."""
    (x, y), unit = framing(size)
    return (x + 0.04 * size[0], y + 0.05 * size[1]), unit * 0.85


def reference_figure(size: tuple[int, int] = (360, 640), angles: Angles | None = None):
    """(image, mask, points (33, 3), visibility) of the figure standing in a scene."""
    hip, unit = framing(size)
    pts, vis = figure_pose(angles or Angles(), hip, unit)
    img, mask = draw_figure(pts, size, unit)
    return img, mask, pts, vis


def write_assets(folder: str = "assets/pose", size: tuple[int, int] = (360, 640),
                 frames: int = 48, fps: float = 24.0) -> None:
    """Regenerate the shipped examples: the reference figure (image, mask, keypoints), the
    three procedural pose files, and a driving clip of a differently proportioned figure
    dancing (so retargeting has work to do)."""
    import json
    from pathlib import Path

    from animakit.media import save_image, write_video

    from animakit.portrait.pose.posefile import PoseSequence

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    img, mask, pts, vis = reference_figure(size)
    save_image(out / "figure.png", img)
    save_image(out / "figure_mask.png", mask)
    (out / "figure_keypoints.json").write_text(json.dumps(
        {"points": np.round(pts[:, :2], 2).tolist(), "visibility": vis.tolist()}))
    for kind in ("walk", "wave", "dance"):
        p, v = motion_sequence(kind, frames, size, fps)
        PoseSequence(p, v, fps, size).save(out / f"{kind}.npz")
    hip, unit = driver_framing(size)
    scene = np.full((size[1], size[0], 3), (225, 228, 232), np.uint8)
    clip = [draw_figure(figure_pose(a, hip, unit)[0], size, unit, scene)[0]
            for a in motion("dance", frames)]
    write_video(out / "dance_driver.mp4", clip, fps)


if __name__ == "__main__":
    write_assets()
