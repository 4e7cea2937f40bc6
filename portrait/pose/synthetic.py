"""A synthetic figure with known joints and procedural motions (walk, wave, dance).

Used for the shipped example assets and for exact tests: :func:`figure_pose` is 2D forward
kinematics from a few joint angles to the 33 MediaPipe keypoints, :func:`draw_figure` paints
a cartoon person (skin, striped shirt, trousers, hair, face) at any such pose, with its mask.
Angles are in degrees from "straight down", positive towards image +x.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from animakit.skeleton import N_POSE


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
        n = np.array([-d[1], d[0]]) * s
        p[hand[0], :2] = p[wr, :2] + d * HAND * unit * 0.8 + n * 0.02 * unit
        p[hand[1], :2] = p[wr, :2] + d * HAND * unit - n * 0.01 * unit
        p[hand[2], :2] = p[wr, :2] + d * HAND * unit * 0.5 - n * 0.03 * unit
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


SKIN, SHIRT, STRIPE, TROUSERS, SHOES, HAIR = ((236, 188, 150), (200, 55, 60), (250, 215, 80),
                                              (45, 70, 150), (40, 35, 35), (90, 55, 30))


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


def _capsule(img, a, b, r, color, mask):
    a, b = tuple(int(round(v * 4)) for v in a), tuple(int(round(v * 4)) for v in b)
    t = max(1, int(round(2 * r)))
    cv2.line(img, a, b, color, t, cv2.LINE_AA, shift=2)
    cv2.line(mask, a, b, 255, t, cv2.LINE_AA, shift=2)


def draw_figure(points: np.ndarray, size: tuple[int, int], unit: float,
                scene: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The cartoon person at ``points`` (33, 3) over ``scene`` (default :func:`background`):
    (H, W, 3) uint8 image and (H, W) uint8 mask. Limbs are drawn back to front by depth."""
    img = (scene if scene is not None else background(size)).copy()
    mask = np.zeros(img.shape[:2], np.uint8)
    p = points[:, :2]
    neck = (p[11] + p[12]) / 2
    limb_r = 0.035 * unit

    def arm(sh, el, wr, hand):
        _capsule(img, p[sh], p[el], limb_r * 1.1, SHIRT, mask)
        _capsule(img, p[el], p[wr], limb_r * 0.85, SKIN, mask)
        cv2.circle(img, tuple(np.round(p[hand]).astype(int)), int(limb_r * 1.1), SKIN, -1, cv2.LINE_AA)
        cv2.circle(mask, tuple(np.round(p[hand]).astype(int)), int(limb_r * 1.1), 255, -1, cv2.LINE_AA)

    def leg(hp, kn, an, toe):
        _capsule(img, p[hp], p[kn], limb_r * 1.45, TROUSERS, mask)
        _capsule(img, p[kn], p[an], limb_r * 1.2, TROUSERS, mask)
        _capsule(img, p[an], p[toe], limb_r * 0.9, SHOES, mask)

    def torso():
        quad = np.array([p[11], p[12], p[24], p[23]])
        c = quad.mean(0)
        quad = c + (quad - c) * np.array([1.12, 1.0])
        poly = np.round(quad * 4).astype(np.int32)
        cv2.fillConvexPoly(img, poly, SHIRT, cv2.LINE_AA, shift=2)
        cv2.fillConvexPoly(mask, poly, 255, cv2.LINE_AA, shift=2)
        for k in range(1, 5):        # stripes across the shirt
            t = k / 5
            a, b = quad[0] * (1 - t) + quad[3] * t, quad[1] * (1 - t) + quad[2] * t
            _capsule(img, a, b, limb_r * 0.3, STRIPE, np.zeros_like(mask))
        _capsule(img, p[11], p[12], limb_r * 1.1, SHIRT, mask)
        _capsule(img, p[23], p[24], limb_r * 1.3, TROUSERS, mask)
        _capsule(img, neck, p[0] * 0.3 + neck * 0.7, limb_r * 0.8, SKIN, mask)

    def head():
        up = p[0] - neck
        c = p[0] - up * 0.15
        r = int(0.062 * unit)
        ang = float(np.degrees(np.arctan2(up[0], -up[1])))
        cv2.ellipse(img, tuple(np.round(c).astype(int)), (r, int(r * 1.2)), ang, 0, 360, SKIN, -1, cv2.LINE_AA)
        cv2.ellipse(mask, tuple(np.round(c).astype(int)), (r, int(r * 1.2)), ang, 0, 360, 255, -1, cv2.LINE_AA)
        cv2.ellipse(img, tuple(np.round(c).astype(int)), (r + 1, int(r * 1.25)), ang, 180, 360, HAIR, -1, cv2.LINE_AA)
        for i in (2, 5):
            cv2.circle(img, tuple(np.round(p[i]).astype(int)), max(1, r // 7), (30, 30, 30), -1, cv2.LINE_AA)
        cv2.line(img, tuple(np.round(p[9]).astype(int)), tuple(np.round(p[10]).astype(int)),
                 (150, 40, 40), max(1, r // 10), cv2.LINE_AA)

    items = [(float(points[[13, 15], 2].mean()), lambda: arm(11, 13, 15, 19)),
             (float(points[[14, 16], 2].mean()), lambda: arm(12, 14, 16, 20)),
             (0.0, torso), (-0.01, head),
             (0.02, lambda: leg(23, 25, 27, 31)), (0.02, lambda: leg(24, 26, 28, 32))]
    for _, draw in sorted(items, key=lambda t: -t[0]):
        draw()
    return img, mask


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
                        r_fore=-10 + 0.8 * sw, root=(0.15 * np.sin(ph / 2), -0.015 * abs(np.cos(ph))))
        elif kind == "wave":
            a = replace(a, l_arm=120 + 10 * np.sin(ph), l_fore=170 + 35 * np.sin(2 * ph),
                        head=6 * np.sin(ph), lean=-3 * np.sin(ph))
        elif kind == "dance":
            up = 0.5 - 0.5 * np.cos(ph)
            a = replace(a, l_arm=a.l_arm + 120 * up, l_fore=a.l_fore + 140 * up,
                        r_arm=a.r_arm - 55 * up, r_fore=a.r_fore + 85 * up, r_arm_z=-0.3 * up,
                        lean=8 * np.sin(ph), l_leg=a.l_leg + 10 * up, r_leg=a.r_leg - 4 * up,
                        l_shin=a.l_shin + 4 * up,
                        root=(0.05 * np.sin(ph), 0.0), head=-8 * np.sin(ph))
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
    unit = h * 0.82
    return (w / 2, h * 0.93 - (THIGH + SHIN + 0.03) * unit), unit


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

    from .posefile import PoseSequence

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
    hip, unit = framing(size)
    unit *= 0.85                    # a shorter driver, standing further right
    hip = (hip[0] + 0.1 * size[0], hip[1] + 0.06 * size[1])
    scene = np.full((size[1], size[0], 3), (225, 228, 232), np.uint8)
    clip = [draw_figure(figure_pose(a, hip, unit)[0], size, unit, scene)[0]
            for a in motion("dance", frames)]
    write_video(out / "dance_driver.mp4", clip, fps)


if __name__ == "__main__":
    write_assets()
