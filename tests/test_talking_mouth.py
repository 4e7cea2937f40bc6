"""The talking mouth up close: smooth inner-lip curves, shaded teeth with a gap, the source's
own teeth kept, the photo's grain and sharpness matched, every viseme shape rendered."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from animakit.media import load_image
from animakit.portrait.talking.compositor import FaceCompositor
from animakit.portrait.talking.contours import (inner_lip_curves, opening_outline, polygon_area,
                                                polygon_mask, smooth_curve, turning_angles)
from animakit.portrait.talking.grain import blur_sigma, noise_sigma
from animakit.portrait.talking.mouth import OUTER_POLY, MouthPainter
from animakit.portrait.talking.rig import LOWER_LIP_INNER, UPPER_LIP_INNER, FaceRig
from animakit.portrait.talking.sources import source_face
from benchmarks.figures.mouth_shapes import SHAPES, shape_landmarks

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / "assets/portrait.png"
SCALE = 3          # the shipped 512² portrait enlarged: a 270 px face, as in a phone photo


@pytest.fixture(scope="module")
def face():
    """(image, (478, 3) landmarks, rig) of the shipped portrait enlarged SCALE times."""
    img = load_image(IMAGE)
    big = cv2.resize(img, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_CUBIC)
    pts = source_face(img, "portrait.png", 0).copy()
    pts *= SCALE
    return big, pts, FaceRig(pts)


def _closed_source(pts: np.ndarray, noise: float, blur: float, seed: int = 0):
    """(crop, points): a plain skin crop with red lips whose inner lips meet (no teeth in the
    source), with Gaussian ``blur`` (px) and ``noise`` (0..255 sigma)."""
    p = pts[:, :2].copy()
    seam = (p[UPPER_LIP_INNER] + p[LOWER_LIP_INNER]) / 2
    p[UPPER_LIP_INNER], p[LOWER_LIP_INNER] = seam, seam
    h, w = int(p[:, 1].max() + 80), int(p[:, 0].max() + 80)
    img = np.empty((h, w, 3), np.float32)
    img[:] = (205, 160, 140)
    img[:, : w // 2] *= 0.92                                     # light from the image's right
    lips = polygon_mask(p[OUTER_POLY], (h, w))[..., None]
    img = img * (1 - lips) + np.float32([170, 70, 75]) * lips
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    img += np.random.default_rng(seed).normal(0, noise, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8), p


def _painted(face, shape: str, noise: float = 3.0, blur: float = 1.0):
    """(painter, source crop, painted crop, posed points) for mouth ``shape`` on a closed source."""
    _, pts, rig = face
    crop, p = _closed_source(pts, noise, blur)
    painter = MouthPainter(crop, p, rig.width)
    closed = pts.copy()
    closed[:, :2] = p
    target = shape_landmarks(FaceRig(closed), shape)[:, :2]
    out = crop.copy()
    painter.paint(out, target, np.zeros(2))
    return painter, crop, out, target


def test_inner_lip_curves_pass_the_landmarks_without_corners(face):
    _, _, rig = face
    for shape in ("a", "u", "i", "f"):
        target = shape_landmarks(rig, shape)
        for idx, curve in zip((UPPER_LIP_INNER, LOWER_LIP_INNER), inner_lip_curves(target)):
            assert np.allclose(curve[::8], target[idx, :2])        # through every landmark
            smooth = np.degrees(turning_angles(curve)).max()
            polygon = np.degrees(turning_angles(target[idx, :2])).max()
            # the polygon turns all at once at a landmark; the curve spreads it over 8 steps
            assert smooth < 25.0 and smooth < polygon / 3, (shape, smooth, polygon)


def test_smooth_curve_is_exact_on_a_line_and_bends_gently_on_a_zigzag():
    line = np.stack([np.arange(6.0), 2 * np.arange(6.0)], 1)
    assert np.abs(np.cross(smooth_curve(line)[:, :2] - line[0], line[-1] - line[0])).max() < 1e-9
    zig = np.array([[0, 0], [10, 4], [20, 0], [30, 4], [40, 0.0]])
    assert np.degrees(turning_angles(smooth_curve(zig, 16))).max() < 15.0
    assert np.degrees(turning_angles(zig)).max() > 40.0


def test_open_mouth_shows_shaded_upper_teeth_a_gap_and_lower_teeth(face):
    painter, _, out, target = _painted(face, "a")
    up, low = inner_lip_curves(target)
    mid_u, mid_l = up[len(up) // 2], low[len(low) // 2]
    x = int(round((mid_u[0] + mid_l[0]) / 2))
    col = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)[int(mid_u[1]) + 2: int(mid_l[1]) - 1, x].astype(float)
    n = len(col)
    top, middle, bottom = col[: n // 5], col[2 * n // 5: 3 * n // 5], col[-n // 6:]
    assert top.max() > 150 and middle.max() < 90 and bottom.max() > middle.max() + 40, col
    # shaded, not a flat band: the teeth darken toward the mouth corners
    gray = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).astype(float)
    row = int(round(mid_u[1] + 0.25 * (mid_l[1] - mid_u[1]) * 0.5))
    center = gray[row, x - 3: x + 4].mean()
    side_x = int(round(x + 0.14 * painter.fw))
    assert gray[row, side_x - 3: side_x + 4].mean() < center - 25


def test_closed_shapes_paint_nothing_and_all_viseme_shapes_render(face):
    image, pts, rig = face
    comp = FaceCompositor(image, pts, rig=rig)
    widths = {}
    for shape in SHAPES:
        frame = comp.render(shape_landmarks(rig, shape))
        assert frame.shape == image.shape and frame.dtype == np.uint8
        up, low = inner_lip_curves(shape_landmarks(rig, shape))
        widths[shape] = np.ptp(opening_outline(up, low)[:, 0])
    assert widths["u"] < 0.85 * widths["i"]
    # a closed source: /m/ (lips pressed) changes no pixel of the warped crop
    painter, crop, out, _ = _painted(face, "m")
    assert np.array_equal(out, crop)


def test_f_shows_upper_teeth_resting_on_the_lower_lip(face):
    _, _, out, target = _painted(face, "f")
    up, low = inner_lip_curves(target)
    x = int(round(up[len(up) // 2][0]))
    y0, y1 = int(up[len(up) // 2][1]) + 2, int(low[len(low) // 2][1]) - 1
    gray = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)[y0:y1, x].astype(float)
    assert len(gray) >= 3 and np.median(gray) > 140                # teeth fill the narrow gap


def test_a_source_that_shows_teeth_keeps_its_own(face):
    image, pts, rig = face
    comp = FaceCompositor(image, pts, rig=rig)
    painter = comp.mouth
    assert painter.has_interior
    target = shape_landmarks(rig, "a")
    out = comp.render_crop(target)
    shift = (target[UPPER_LIP_INNER[1:-1], :2] - pts[UPPER_LIP_INNER[1:-1], :2]).mean(0)
    m = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
    h, w = painter.crop.shape[:2]
    moved = cv2.warpAffine(painter.crop, m, (w, h))
    own = cv2.warpAffine(painter.src_alpha, m, (w, h)) > 0.9
    assert own.sum() > 200
    diff = np.abs(out[own].astype(int) - moved[own].astype(int)).mean()
    assert diff < 10.0, diff


@pytest.mark.parametrize("noise", [2.0, 8.0])
def test_painted_mouth_has_the_source_grain(face, noise):
    painter, crop, out, target = _painted(face, "a", noise=noise, blur=1.0)
    assert abs(painter.grain.sigma_noise - noise) < 0.35 * noise
    up, low = inner_lip_curves(target)
    inside = cv2.erode((polygon_mask(opening_outline(up, low), out.shape[:2]) > 0.99).astype(np.uint8),
                       np.ones((5, 5), np.uint8)).astype(bool)
    painted = noise_sigma(out, inside, block=6)
    assert noise / 2 < painted < noise * 2, (painted, noise)


def test_painted_mouth_is_as_soft_as_the_source():
    """Estimators on known inputs, then the painted teeth edge of a soft vs a crisp source."""
    rng = np.random.default_rng(1)
    flat = np.clip(128 + rng.normal(0, 5, (200, 200, 3)), 0, 255).astype(np.uint8)
    assert abs(noise_sigma(flat) - 5) < 1.0
    step = np.zeros((200, 200, 3), np.float32)
    step[:, 100:] = 200
    for s in (1.0, 2.5, 4.0):
        est = blur_sigma(cv2.GaussianBlur(step, (0, 0), s).astype(np.uint8))
        assert abs(est - s) < 0.3 * s + 0.3, (s, est)


def test_soft_source_gets_softer_teeth_edges(face):
    def edge_energy(blur):
        _, _, out, target = _painted(face, "a", noise=0.0, blur=blur)
        up, low = inner_lip_curves(target)
        box = opening_outline(up, low)
        x0, y0 = np.floor(box.min(0)).astype(int)
        x1, y1 = np.ceil(box.max(0)).astype(int)
        g = cv2.cvtColor(out[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)
        return float(np.abs(cv2.Laplacian(g, cv2.CV_32F)).mean())
    assert edge_energy(3.0) < 0.6 * edge_energy(0.5)


def test_painting_stays_inside_the_opening(face):
    _, crop, out, target = _painted(face, "a")
    up, low = inner_lip_curves(target)
    box = opening_outline(up, low)
    x0, y0 = np.floor(box.min(0)).astype(int) - 12
    x1, y1 = np.ceil(box.max(0)).astype(int) + 12
    outside = np.ones(out.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(out[outside], crop[outside])
    assert polygon_area(box) > 0
