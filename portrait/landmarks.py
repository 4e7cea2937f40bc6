"""MediaPipe wrappers returning plain dataclasses: face mesh (478 points with iris),
body pose (33 points with visibility) and person segmentation, in image mode (each call
independent) and video mode (tracking across calls). The models ship inside the
``mediapipe==0.10.21`` wheel; nothing is downloaded.

Coordinates are pixels of the image given: ``x`` right, ``y`` down, ``z`` in the same pixel
scale (MediaPipe's z times the image width), smaller = nearer the camera.
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass

import numpy as np

N_FACE = 478
N_POSE = 33


@dataclass
class FaceLandmarks:
    points: np.ndarray            # (478, 3) float32 pixels
    image_size: tuple[int, int]   # (width, height)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the mesh in pixels."""
        p = self.points
        return float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max())

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.bbox
        return (x1 - x0) * (y1 - y0)

    @property
    def width(self) -> float:
        """Face width: the distance between the outer face-oval points at the cheeks."""
        return float(np.linalg.norm(self.points[234, :2] - self.points[454, :2]))


@dataclass
class Pose:
    points: np.ndarray            # (33, 3) float32 pixels (x, y, z)
    visibility: np.ndarray        # (33,) float32 in [0, 1]
    image_size: tuple[int, int]   # (width, height)


@contextlib.contextmanager
def _quiet_native_stderr():
    """Silence what MediaPipe's C++ side prints to fd 2 while it builds and first runs a
    graph (absl warnings that GLOG_minloglevel does not reach), so a CLI error stays one line."""
    if os.environ.get("ANIMAKIT_MEDIAPIPE_LOGS"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _Quiet:
    """Runs the wrapped MediaPipe solution's first ``process`` call with native logs muted."""

    def __init__(self, solution):
        self._solution, self._warm = solution, False

    def process(self, image):
        if self._warm:
            return self._solution.process(image)
        with _quiet_native_stderr():
            out = self._solution.process(image)
        self._warm = True
        return out

    def close(self):
        self._solution.close()


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    return np.ascontiguousarray(image)


class FaceMesher:
    """Face mesh with iris refinement. ``video=True`` tracks across consecutive calls."""

    def __init__(self, max_faces: int = 1, video: bool = False, min_confidence: float = 0.5):
        import mediapipe as mp
        with _quiet_native_stderr():
            self._mesh = _Quiet(mp.solutions.face_mesh.FaceMesh(
                static_image_mode=not video, max_num_faces=max_faces, refine_landmarks=True,
                min_detection_confidence=min_confidence, min_tracking_confidence=min_confidence))

    def __call__(self, image: np.ndarray) -> list[FaceLandmarks]:
        """All faces found, largest first."""
        image = _rgb(image)
        h, w = image.shape[:2]
        res = self._mesh.process(image)
        faces = []
        for lm in res.multi_face_landmarks or []:
            pts = np.array([(p.x * w, p.y * h, p.z * w) for p in lm.landmark], dtype=np.float32)
            faces.append(FaceLandmarks(pts, (w, h)))
        faces.sort(key=lambda f: -f.area)
        return faces

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class PoseDetector:
    """33-point body pose (BlazePose full). ``video=True`` tracks across consecutive calls."""

    def __init__(self, video: bool = False, min_confidence: float = 0.5,
                 segmentation: bool = False):
        import mediapipe as mp
        self.segmentation = segmentation
        with _quiet_native_stderr():
            self._pose = _Quiet(mp.solutions.pose.Pose(
                static_image_mode=not video, model_complexity=1, smooth_landmarks=video,
                enable_segmentation=segmentation, min_detection_confidence=min_confidence,
                min_tracking_confidence=min_confidence))
        self.last_mask: np.ndarray | None = None

    def __call__(self, image: np.ndarray) -> Pose | None:
        image = _rgb(image)
        h, w = image.shape[:2]
        res = self._pose.process(image)
        self.last_mask = None
        if res.pose_landmarks is None:
            return None
        lm = res.pose_landmarks.landmark
        pts = np.array([(p.x * w, p.y * h, p.z * w) for p in lm], dtype=np.float32)
        vis = np.array([p.visibility for p in lm], dtype=np.float32)
        if self.segmentation and res.segmentation_mask is not None:
            self.last_mask = np.asarray(res.segmentation_mask, dtype=np.float32)
        return Pose(pts, vis, (w, h))

    def close(self) -> None:
        self._pose.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class PersonSegmenter:
    """Soft person mask in [0, 1], (H, W) float32 (MediaPipe selfie segmentation)."""

    def __init__(self, landscape: bool = False):
        import mediapipe as mp
        with _quiet_native_stderr():
            self._seg = _Quiet(mp.solutions.selfie_segmentation.SelfieSegmentation(
                model_selection=1 if landscape else 0))

    def __call__(self, image: np.ndarray) -> np.ndarray:
        res = self._seg.process(_rgb(image))
        return np.asarray(res.segmentation_mask, dtype=np.float32)

    def close(self) -> None:
        self._seg.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def detect_faces(image: np.ndarray, max_faces: int = 4) -> list[FaceLandmarks]:
    """Faces in one image (image mode), in :func:`_size_order`: largest first, faces of
    about one size in reading order."""
    with FaceMesher(max_faces=max_faces) as mesher:
        return _size_order(mesher(image))


def detect_faces_tiled(image: np.ndarray, max_faces: int = 16) -> list[FaceLandmarks]:
    """Faces in one image, largest first, including those the whole-image pass misses.

    MediaPipe's face detector looks at the image shrunk to 128 px, so in a group photo or
    a grid of portraits each face is a few pixels wide and none is found. This adds a pass
    over overlapping square windows (the image's short side, then half of it; half a window
    apart) and keeps one detection per face: the one seen nearest its window's centre,
    which had the most context around it. Costs one mesh call per window (~10 for a 2x2
    grid), so callers use it only when the plain pass found too few faces."""
    image = _rgb(image)
    with FaceMesher(max_faces=max_faces) as mesher:
        # (distance from its window's centre, face); the whole image is the best window
        found = [(0.0, face) for face in mesher(image)]
        for x, y, side in _windows(*image.shape[:2]):
            for face in mesher(image[y:y + side, x:x + side]):
                pts = face.points + np.array([x, y, 0], np.float32)
                shifted = FaceLandmarks(pts, (image.shape[1], image.shape[0]))
                found.append((_off_centre(shifted, x, y, side), shifted))
    return _distinct(found)[:max_faces]


def _windows(h: int, w: int, min_side: int = 192) -> list[tuple[int, int, int]]:
    """(x, y, side) of square windows covering an (h, w) image at two scales, half a window
    apart; the whole image itself is left out (the plain pass covered it)."""
    out = []
    for side in (min(h, w), min(h, w) // 2):
        if side < min_side:
            break
        xs = range(0, max(1, w - side + 1), side // 2)
        ys = range(0, max(1, h - side + 1), side // 2)
        edge_x, edge_y = sorted({*xs, w - side}), sorted({*ys, h - side})   # reach the far edges
        out += [(x, y, side) for y in edge_y for x in edge_x if (side, side) != (h, w)]
    return out


def _off_centre(face: FaceLandmarks, x: int, y: int, side: int) -> float:
    """How far the face's centre is from its window's centre, in window sides."""
    x0, y0, x1, y1 = face.bbox
    return float(np.hypot((x0 + x1) / 2 - x - side / 2, (y0 + y1) / 2 - y - side / 2)) / side


def _distinct(found: list[tuple[float, FaceLandmarks]]) -> list[FaceLandmarks]:
    """One detection per face (best-centred first wins), in :func:`_size_order`. Two
    detections are one face when their centres are closer than half the smaller's width."""
    kept: list[FaceLandmarks] = []
    for _, face in sorted(found, key=lambda t: t[0]):
        c = face.points[:, :2].mean(0)
        if all(np.linalg.norm(c - k.points[:, :2].mean(0)) > 0.5 * min(k.width, face.width)
               for k in kept):
            kept.append(face)
    return _size_order(kept)


def _size_order(faces: list[FaceLandmarks]) -> list[FaceLandmarks]:
    """Largest first; faces of about one size (each within 30 % of the area of the largest
    of its group, as in a grid of portraits) in reading order, rows top to bottom, each left
    to right, so ``face_index`` counts them as the eye does."""
    ordered: list[FaceLandmarks] = []
    rest = sorted(faces, key=lambda f: -f.area)
    while rest:
        group = [f for f in rest if f.area >= 0.7 * rest[0].area]
        rest = rest[len(group):]
        ordered += _reading_order(group)
    return ordered


def _reading_order(faces: list[FaceLandmarks]) -> list[FaceLandmarks]:
    """Rows top to bottom, each left to right; a face starts a new row when its centre is
    more than half a face height below the centre of the row's first face."""
    def centre(f: FaceLandmarks) -> tuple[float, float]:
        x0, y0, x1, y1 = f.bbox
        return (x0 + x1) / 2, (y0 + y1) / 2

    rows: list[list[FaceLandmarks]] = []
    for face in sorted(faces, key=lambda f: centre(f)[1]):
        top = rows[-1][0] if rows else None
        if top is None or centre(face)[1] - centre(top)[1] > 0.5 * (top.bbox[3] - top.bbox[1]):
            rows.append([face])
        else:
            rows[-1].append(face)
    return [f for row in rows for f in sorted(row, key=lambda f: centre(f)[0])]


def detect_pose(image: np.ndarray) -> Pose | None:
    with PoseDetector() as det:
        return det(image)
