"""Loading what drives a talking portrait: the source face, audio blocks, driving-video
landmarks, landmark files; writing landmark files in bounded memory."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import IO, Any, Iterator

import numpy as np

from animakit.errors import MediaError, NoFaceError, ParamError
from ..landmarks import N_FACE, FaceMesher, detect_faces, detect_faces_tiled
from animakit.media import (AudioClip, atomic_output, check_readable, checked_audio_info,
                            load_audio, stream_audio)
from animakit.media.video import VideoReader

ANALYSIS_SR = 16000
BLOCK_SECONDS = 10.0
FULL_AUDIO_SECONDS = 900.0     # keep decoded samples in memory up to this length


def faces_in(image: np.ndarray, at_least: int = 2) -> list:
    """Every face in ``image`` in ``face_index`` order; the tiled second pass runs when the
    whole-image pass finds fewer than ``at_least``."""
    faces = detect_faces(image, max_faces=max(4, at_least))
    if len(faces) < at_least:
        faces = detect_faces_tiled(image, max_faces=max(16, at_least))
    return faces


def source_face(image: np.ndarray, name: str, face_index: int) -> np.ndarray:
    """(478, 3) landmarks of face ``face_index`` (0 = largest) in ``image``. A second,
    tiled pass runs only when the first finds fewer faces than asked for: faces in a
    group photo or a grid of portraits are too small for the whole-image detector."""
    faces = faces_in(image, at_least=face_index + 1)
    if not faces:
        raise NoFaceError(name, "no face found in the image (a frontal face at least ~40 px "
                                "wide is needed)")
    if face_index >= len(faces):
        raise ParamError("param face_index", f"{face_index} asked for, but {name} shows only "
                                             f"{len(faces)} face(s) (0 = the largest)")
    return faces[face_index].points.astype(np.float64)


def audio_duration(path: Path) -> float:
    """Seconds of audio in ``path``: from the container header, else by decoding in blocks."""
    seconds = checked_audio_info(path).duration
    if seconds > 0:
        return seconds
    n = sum(len(b) for b in stream_audio(path, ANALYSIS_SR, BLOCK_SECONDS))
    return n / ANALYSIS_SR


def open_audio(source: Any, name: str = "audio") -> tuple[AudioClip, float, bool]:
    """(clip for muxing, duration s, whether the clip holds all samples). Files longer than
    FULL_AUDIO_SECONDS keep only their first block in memory: the writer muxes from the
    path, and the motion streams the file again in blocks."""
    if isinstance(source, AudioClip):
        clip = load_audio(source, ANALYSIS_SR)
        return clip, clip.duration, True
    path = check_readable(source, name)
    duration = audio_duration(path)
    if duration <= FULL_AUDIO_SECONDS:
        clip = load_audio(path, ANALYSIS_SR, name=name)
        return clip, clip.duration, True
    first = next(stream_audio(path, ANALYSIS_SR, BLOCK_SECONDS, name=name))
    return AudioClip(first, ANALYSIS_SR, path, 0.0), duration, False


def audio_blocks(clip: AudioClip, complete: bool) -> Iterator[np.ndarray]:
    """Consecutive blocks of 16 kHz samples: from memory when ``complete``, else streamed
    from the clip's file."""
    if not complete:
        yield from stream_audio(clip.path, ANALYSIS_SR, BLOCK_SECONDS)
        return
    step = int(BLOCK_SECONDS * ANALYSIS_SR)
    for i in range(0, len(clip.samples), step):
        yield clip.samples[i:i + step]


def video_landmarks(reader: VideoReader) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """(frame, (478, 3) landmarks of the largest face or None) for each driving frame."""
    with FaceMesher(max_faces=1, video=True) as mesher:
        for frame in reader:
            faces = mesher(frame)
            yield frame, (faces[0].points.astype(np.float64) if faces else None)


def first_face(reader: VideoReader) -> np.ndarray:
    """(478, 3) landmarks of the first driving frame with a face, else NoFaceError."""
    for _, pts in video_landmarks(reader):
        if pts is not None:
            return pts
    raise NoFaceError(reader.path, "no face found in any frame of the driving video")


def load_landmark_file(source: Any) -> dict[str, Any]:
    """Read a landmark ``.npz``: ``landmarks`` (T, 478, 3) float pixels (NaN rows = face lost),
    ``fps``; optional ``reference`` (478, 3) and ``image_size`` (w, h). Checks every shape."""
    path = check_readable(source, "landmarks")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise MediaError(path, f"not a readable landmark .npz file ({e})") from None
    if "landmarks" not in data or "fps" not in data:
        raise MediaError(path, f"a landmark file needs the arrays 'landmarks' and 'fps'; "
                               f"found {', '.join(data) or 'none'}")
    lm = data["landmarks"]
    if lm.ndim != 3 or lm.shape[1:] != (N_FACE, 3) or lm.shape[0] < 1:
        raise MediaError(path, f"'landmarks' must have shape (frames, {N_FACE}, 3); got {lm.shape}")
    if not np.issubdtype(lm.dtype, np.floating):
        raise MediaError(path, f"'landmarks' must be floating point, got {lm.dtype}")
    fps = np.asarray(data["fps"]).reshape(-1)
    if fps.size != 1 or not np.isfinite(fps[0]) or not 0 < fps[0] <= 1000:
        raise MediaError(path, f"'fps' must be one number in (0, 1000]; got {data['fps']!r}")
    ref = data.get("reference")
    if ref is not None and ref.shape != (N_FACE, 3):
        raise MediaError(path, f"'reference' must have shape ({N_FACE}, 3); got {ref.shape}")
    valid = np.isfinite(lm).all(axis=(1, 2))
    if not valid.any():
        raise MediaError(path, "every frame in 'landmarks' is missing (NaN)")
    if ref is None:
        ref = lm[int(np.argmax(valid))]
    return {"landmarks": lm.astype(np.float64), "valid": valid, "fps": float(fps[0]),
            "reference": np.asarray(ref, dtype=np.float64), "path": path}


class LandmarkSpool:
    """Per-frame (478, 3) float32 landmarks appended to an anonymous temporary file, then
    written as a landmark ``.npz`` without holding them all in memory."""

    def __init__(self):
        import tempfile
        self.file: IO[bytes] = tempfile.TemporaryFile()
        self.count = 0

    def append(self, points: np.ndarray) -> None:
        self.file.write(np.ascontiguousarray(points, dtype=np.float32).tobytes())
        self.count += 1

    def write_npz(self, path: Path, fps: float, reference: np.ndarray, image_size) -> None:
        """Write ``landmarks``, ``fps``, ``reference``, ``image_size`` to ``path`` atomically."""
        if self.count == 0:
            raise MediaError(path, "no frames were rendered, so there are no landmarks to export")
        with atomic_output(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED,
                                                         allowZip64=True) as zf:
            with zf.open("landmarks.npy", "w", force_zip64=True) as f:
                header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                          "fortran_order": False, "shape": (self.count, N_FACE, 3)}
                np.lib.format.write_array_header_1_0(f, header)
                self.file.seek(0)
                while chunk := self.file.read(1 << 20):
                    f.write(chunk)
                self.file.seek(0, io.SEEK_END)
            for name, arr in (("fps", np.float64(fps)), ("reference", reference.astype(np.float32)),
                              ("image_size", np.asarray(image_size, np.int64))):
                buf = io.BytesIO()
                np.save(buf, arr)
                zf.writestr(f"{name}.npy", buf.getvalue())
