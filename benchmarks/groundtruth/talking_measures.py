"""Quality measures of talking-portrait renders, shared by the benchmark and the tests.

Every measure re-detects faces on the output frames with MediaPipe (image mode, each frame
independent), so it judges what a viewer sees, not what the engine intended.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import cv2
import numpy as np

from animakit.portrait.landmarks import FaceMesher

from animakit.portrait.talking.rig import face_width

EYES_NOSE = [33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 1]   # eye corners and nose: no blink motion


def redetect(frames: Iterable[np.ndarray]) -> np.ndarray:
    """(T, 478, 3) landmarks of the largest face per frame (NaN where none is found)."""
    out = []
    with FaceMesher(max_faces=1) as mesher:
        for f in frames:
            faces = mesher(f)
            out.append(faces[0].points if faces else np.full((478, 3), np.nan, np.float32))
    return np.stack(out).astype(np.float64)


def mouth_opening(landmarks: np.ndarray) -> np.ndarray:
    """(T,) inner-lip gap (13 to 14) over face width, per frame of (T, 478, 3) landmarks."""
    gap = np.linalg.norm(landmarks[:, 14, :2] - landmarks[:, 13, :2], axis=1)
    fw = np.linalg.norm(landmarks[:, 234, :2] - landmarks[:, 454, :2], axis=1)
    return gap / fw


def rms_envelope(samples: np.ndarray, sr: int, fps: float, num_frames: int) -> np.ndarray:
    """(num_frames,) RMS of the audio in a window of one frame period centered on each frame."""
    half = int(round(sr / fps / 2))
    out = np.zeros(num_frames)
    for i in range(num_frames):
        c = int(round(i / fps * sr))
        seg = samples[max(0, c - half):c + half]
        out[i] = float(np.sqrt(np.mean(seg.astype(np.float64) ** 2))) if len(seg) else 0.0
    return out


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation over the entries where both are finite."""
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if len(a) < 3 or a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def face_region_mask(points: np.ndarray, shape: tuple[int, int], dilate: float = 0.5) -> np.ndarray:
    """(H, W) bool: the face mesh's convex hull dilated by ``dilate`` face widths."""
    mask = np.zeros(shape, np.uint8)
    hull = cv2.convexHull(np.round(points[:, :2]).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    r = max(1, int(round(dilate * face_width(points))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(mask, kernel) > 0


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB between uint8 images over ``mask`` (all pixels if None); 100 when identical."""
    d = a.astype(np.float64) - b.astype(np.float64)
    if mask is not None:
        d = d[mask]
    mse = float(np.mean(d ** 2))
    return 100.0 if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def jitter(landmarks: np.ndarray, points: Sequence[int] = EYES_NOSE) -> np.ndarray:
    """(T-1,) mean frame-to-frame motion of ``points`` over face width."""
    p = landmarks[:, points, :2]
    step = np.linalg.norm(np.diff(p, axis=0), axis=2).mean(1)
    fw = np.linalg.norm(landmarks[1:, 234, :2] - landmarks[1:, 454, :2], axis=1)
    return step / fw


def normalized_mean_error(found: np.ndarray, expected: np.ndarray) -> float:
    """Mean point distance over face width between (T, 478, 3) landmark sets (2D, finite frames)."""
    ok = np.isfinite(found).all(axis=(1, 2))
    d = np.linalg.norm(found[ok, :, :2] - expected[ok, :, :2], axis=2).mean(1)
    fw = np.linalg.norm(expected[ok, 234, :2] - expected[ok, 454, :2], axis=1)
    return float(np.mean(d / fw))



def mouth_width(landmarks: np.ndarray) -> np.ndarray:
    """(T,) mouth-corner distance (61 to 291) over face width, per frame."""
    w = np.linalg.norm(landmarks[:, 61, :2] - landmarks[:, 291, :2], axis=1)
    fw = np.linalg.norm(landmarks[:, 234, :2] - landmarks[:, 454, :2], axis=1)
    return w / fw


def vowel_width(landmarks: np.ndarray, envelope: np.ndarray, share: float = 0.5) -> float:
    """Median mouth width over the frames of a one-word clip whose audio RMS is at least
    ``share`` of the word's loudest frame (its vowel)."""
    loud = envelope >= share * envelope.max()
    return float(np.nanmedian(mouth_width(landmarks)[loud]))


def lips_shut_between(opening: np.ndarray, rest: float = 0.0, peak_share: float = 0.5,
                      shut_share: float = 0.3) -> bool:
    """Whether the lips shut between the vowels of a word: between the first and the last
    frame opened to ``peak_share`` of the word's peak opening, some frame is opened less
    than ``shut_share`` of it. ``opening``: (T,) re-detected inner-lip gap; ``rest``: the
    gap MediaPipe reads on the source's own closed mouth (lip thickness at the midline),
    subtracted first so that "shut" means back to the source's closed lips."""
    o = np.maximum(np.nan_to_num(opening, nan=rest) - rest, 0.0)
    peak = o.max()
    wide = np.flatnonzero(o >= peak_share * peak)
    if peak <= 0 or len(wide) < 2:
        return False
    return bool(o[wide[0]:wide[-1] + 1].min() < shut_share * peak)
