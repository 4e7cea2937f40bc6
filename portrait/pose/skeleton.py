"""MediaPipe 33-point body topology and skeleton drawing.

Keypoint arrays are ``(33, 2+)`` float pixels (x right, y down, optional z) with a ``(33,)``
visibility in [0, 1]. Two drawing styles:

- :func:`draw_skeleton` overlays the MediaPipe-33 bones on a frame (previews, debugging);
- :func:`render_pose_image` draws the OpenPose-18 body in the colour code DWPose / MimicMotion
  pose guiders were trained on, on black (the neural engines' conditioning images).
"""
from __future__ import annotations

import cv2
import numpy as np

N_POSE = 33

NAMES = ("nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
         "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
         "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
         "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
         "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
         "right_heel", "left_foot_index", "right_foot_index")

# The MediaPipe drawing topology (undirected).
BONES: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10),
    (11, 12), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),
    (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28),
    (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32))

LEFT = (1, 2, 3, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31)
RIGHT = (4, 5, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32)
# Index permutation that swaps left and right (for mirroring a pose).
_m = list(range(N_POSE))
for _l, _r in zip(LEFT, RIGHT):
    _m[_l], _m[_r] = _r, _l
MIRROR = tuple(_m)

LEGS = (25, 26, 27, 28, 29, 30, 31, 32)      # knees, ankles, heels, toes
FEET = (27, 28, 29, 30, 31, 32)

# OpenPose-18 body: index -> MediaPipe index, or -1 for the neck (mid-shoulders).
OPENPOSE18_FROM_MP = (0, -1, 12, 14, 16, 11, 13, 15, 24, 26, 28, 23, 25, 27, 5, 2, 8, 7)
OPENPOSE18_LIMBS = ((1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
                    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17))
OPENPOSE18_COLORS = ((255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0),
                     (85, 255, 0), (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255),
                     (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255), (170, 0, 255),
                     (255, 0, 255), (255, 0, 170), (255, 0, 85))


def to_openpose18(points: np.ndarray, visibility: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(18, 2) OpenPose body points and (18,) visibility from MediaPipe (33, 2+) points."""
    pts = np.zeros((18, 2), np.float32)
    vis = np.zeros(18, np.float32)
    for k, m in enumerate(OPENPOSE18_FROM_MP):
        if m < 0:
            pts[k] = (points[11, :2] + points[12, :2]) / 2
            vis[k] = min(visibility[11], visibility[12])
        else:
            pts[k] = points[m, :2]
            vis[k] = visibility[m]
    return pts, vis


def _color(i: int, side_colors: bool) -> tuple[int, int, int]:
    if not side_colors:
        return (255, 255, 255)
    if i in LEFT:
        return (255, 140, 0)
    if i in RIGHT:
        return (0, 160, 255)
    return (240, 240, 240)


def draw_skeleton(image: np.ndarray, points: np.ndarray, visibility: np.ndarray | None = None,
                  *, min_visibility: float = 0.3, thickness: int | None = None,
                  color: tuple[int, int, int] | None = None) -> np.ndarray:
    """A copy of ``image`` (H, W, 3) uint8 with the MediaPipe-33 bones drawn: left side orange,
    right side blue (or all ``color``). Joints below ``min_visibility`` are skipped."""
    out = np.ascontiguousarray(image).copy()
    vis = np.ones(len(points)) if visibility is None else np.asarray(visibility)
    t = thickness or max(1, round(max(out.shape[:2]) / 250))
    pts = np.round(np.asarray(points)[:, :2] * 4).astype(np.int32)   # 2 bits sub-pixel
    for a, b in BONES:
        if vis[a] >= min_visibility and vis[b] >= min_visibility:
            c = color or _color(b if a in (0, 9) else a, True)
            cv2.line(out, tuple(pts[a]), tuple(pts[b]), c, t, cv2.LINE_AA, shift=2)
    for i, p in enumerate(pts):
        if vis[i] >= min_visibility:
            cv2.circle(out, tuple(p), 4 * (t + 1), color or _color(i, True), -1, cv2.LINE_AA, shift=2)
    return out


def render_pose_image(points: np.ndarray, visibility: np.ndarray, size: tuple[int, int], *,
                      min_visibility: float = 0.3, stick_width: float | None = None) -> np.ndarray:
    """The OpenPose-18 body drawn on black at ``size`` = (width, height): (H, W, 3) uint8.

    Limbs are filled ellipses at 60 % opacity and joints filled circles, in the OpenPose colour
    code, as the DWPose drawings MimicMotion's pose guider was trained on."""
    w, h = size
    canvas = np.zeros((h, w, 3), np.uint8)
    p18, v18 = to_openpose18(np.asarray(points, np.float32), np.asarray(visibility, np.float32))
    sw = stick_width or max(2.0, 4.0 * max(w, h) / 512)
    for k, (a, b) in enumerate(OPENPOSE18_LIMBS):
        if v18[a] < min_visibility or v18[b] < min_visibility:
            continue
        layer = canvas.copy()
        (xa, ya), (xb, yb) = p18[a], p18[b]
        length = float(np.hypot(xb - xa, yb - ya))
        angle = float(np.degrees(np.arctan2(yb - ya, xb - xa)))
        poly = cv2.ellipse2Poly((int((xa + xb) / 2), int((ya + yb) / 2)),
                                (max(1, int(length / 2)), max(1, int(sw))), int(angle), 0, 360, 1)
        cv2.fillConvexPoly(layer, poly, OPENPOSE18_COLORS[k])
        canvas = cv2.addWeighted(canvas, 0.4, layer, 0.6, 0)
    for k in range(18):
        if v18[k] >= min_visibility:
            cv2.circle(canvas, (int(p18[k, 0]), int(p18[k, 1])), max(2, int(sw)),
                       OPENPOSE18_COLORS[k], -1)
    return canvas


def torso_size(points: np.ndarray) -> float:
    """Torso diagonal-based body scale in pixels: the larger of the two shoulder-to-opposite-hip
    distances (the PCK normaliser used in this project)."""
    p = np.asarray(points)[:, :2]
    return float(max(np.linalg.norm(p[11] - p[24]), np.linalg.norm(p[12] - p[23]), 1e-6))


def pck(pred: np.ndarray, target: np.ndarray, threshold: float = 0.1,
        joints: tuple[int, ...] | None = None, visibility: np.ndarray | None = None) -> float:
    """Fraction of ``joints`` whose predicted position lies within ``threshold`` x torso size
    (of ``target``) of the target. ``pred``/``target``: (33, 2+) pixels."""
    idx = np.array(joints if joints is not None else range(len(target)))
    if visibility is not None:
        idx = idx[np.asarray(visibility)[idx] >= 0.5]
    if len(idx) == 0:
        return float("nan")
    d = np.linalg.norm(np.asarray(pred)[idx, :2] - np.asarray(target)[idx, :2], axis=1)
    return float(np.mean(d <= threshold * torso_size(target)))
