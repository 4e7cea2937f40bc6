"""``portrait.talking`` live: a camera face (and / or a microphone) drives the portrait in
real time, through the talking engine's relative transfer, One-Euro smoothing and rig.

The source portrait is analysed once per session (face, rig, compositor at a live
resolution); each camera frame costs one MediaPipe mesh call in tracking mode, one
similarity fit and one warp of the face crop into a reused buffer.
"""
from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from animakit.live import LiveProcessor, LiveSpec
from animakit.media import load_image
from animakit.threads import one_thread

from ..landmarks import FaceMesher
from .audio_motion import Blinker, SpeechMotion, frame_features
from .compositor import FaceCompositor
from .drive import RelativeMotion, region_weights
from .params import TalkingParams, offsets_of
from .rig import LINEAR_CONTROLS, Expression, FaceRig, rotation_matrix
from .sources import ANALYSIS_SR, LandmarkSpool, source_face

LIVE_SIDE = 512            # the portrait is rendered at most this large on its long side
DETECT_WIDTH = 640         # camera frames wider than this are downscaled before the mesh
FPS = 30.0                 # nominal rate for the filters (cameras deliver about this)
AUDIO_WINDOW_S = 0.05
LOST_NOTICE = "No face in the camera: the portrait eases to rest until one comes back."
# the talking params the live controls show; each acts on the next frame
LIVE_PARAMS = ("lips", "eyes", "brows", "head", "smile", "mouth_open", "eyes_open",
               "brow_raise", "yaw", "pitch", "roll", "gaze_x", "gaze_y", "smoothing")


def live_image(image: np.ndarray, side: int = LIVE_SIDE) -> tuple[np.ndarray, float]:
    """(the portrait scaled so its long side is at most ``side``, that scale)."""
    h, w = image.shape[:2]
    s = min(1.0, side / max(h, w))
    if s == 1.0:
        return image, 1.0
    size = (max(2, round(w * s)), max(2, round(h * s)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), s


class MicLips:
    """Microphone samples -> per-frame speech expression (jaw, width, ...), from the last
    AUDIO_WINDOW_S of audio resampled to the analysis rate."""

    def __init__(self, smoothing: float):
        self.lock = threading.Lock()
        self.buf = np.zeros(int(ANALYSIS_SR * AUDIO_WINDOW_S * 2), np.float32)
        self.motion = SpeechMotion(FPS, np.random.default_rng(0), smoothing, -30.0)

    def push(self, samples: np.ndarray, rate: int) -> None:
        n = max(1, int(round(len(samples) * ANALYSIS_SR / rate)))
        resampled = np.interp(np.linspace(0, len(samples) - 1, n), np.arange(len(samples)),
                              samples).astype(np.float32)
        with self.lock:
            self.buf = np.concatenate([self.buf, resampled])[-len(self.buf):]

    def expression(self) -> Expression:
        with self.lock:
            window = self.buf[-int(ANALYSIS_SR * AUDIO_WINDOW_S):].copy()
        feats = next(frame_features([window], ANALYSIS_SR, FPS, 1, lead=AUDIO_WINDOW_S / 2))
        return self.motion.step(feats)


class PortraitLive(LiveProcessor):
    """One session's live portrait. ``driver``: camera, microphone or camera + microphone
    (the camera moves the head, eyes and brows; the microphone the lips)."""

    def __init__(self, image: np.ndarray, name: str, params: TalkingParams, driver: str):
        self.full_size = image.shape[1], image.shape[0]
        small, self.scale = live_image(image)
        points = source_face(small, name, params.face_index)
        self.rig = FaceRig(points)
        self.comp = FaceCompositor(small, points, params.crop_scale, params.feather, rig=self.rig)
        self.comp.fold_blinks = driver == "microphone"    # camera blinks are painted lids
        self.size = small.shape[1], small.shape[0]
        self.driver, self.params = driver, params
        self.camera = "camera" in driver
        self.mesher = FaceMesher(max_faces=1, video=True) if self.camera else None
        self.mic = MicLips(params.smoothing) if "microphone" in driver else None
        self.blinker = Blinker(FPS, params.blink_rate, np.random.default_rng(1))
        self.motion: RelativeMotion | None = None
        self.lost_frames = 0
        self.notice = "Waiting for the camera…" if self.camera else None
        self.lock = threading.Lock()       # guards the spool against export from the studio
        self.spool: LandmarkSpool | None = None
        self._rest = self.rig.target(offsets_of(params))    # before any face: the offsets alone
        self._t: float | None = None

    # -- params ---------------------------------------------------------------------------
    def update(self, params: dict[str, Any]) -> None:
        known = {k: float(v) for k, v in params.items() if k in LIVE_PARAMS
                 and isinstance(v, (int, float))}
        self.params = replace(self.params, **known)
        self._rest = self.rig.target(offsets_of(self.params))
        if self.motion is not None:
            retune(self.motion, self.params, mic=self.mic is not None)

    # -- frames ---------------------------------------------------------------------------
    def video(self, frame: np.ndarray | None, t: float) -> np.ndarray:
        self._clock(t)
        with one_thread():
            target = self._target(frame)
            with self.lock:
                if self.spool is not None:
                    self.spool.append(target / self.scale)
            return self.comp.render(target)

    def _clock(self, t: float) -> None:
        """Time the filters by the frames' real spacing: a camera delivers irregularly, and
        frames dropped under load must not slow the smoothing down."""
        dt = float(np.clip(t - self._t, 1 / 120, 0.5)) if self._t is not None else 1 / FPS
        self._t = t
        if self.motion is not None:
            self.motion.gaps.dt = dt
            if self.motion.filter is not None:
                self.motion.filter.dt = dt

    def _target(self, frame: np.ndarray | None) -> np.ndarray:
        """(478, 3) posed source landmarks for this frame."""
        if not self.camera:
            return self._speech_target()
        driver = self._camera_face(frame)
        if driver is None:
            self.lost_frames += 1
            if self.lost_frames > FPS * 0.3:
                self.notice = LOST_NOTICE
            if self.motion is None:
                return self._rest
        else:
            self.lost_frames, self.notice = 0, None
            if self.motion is None:       # the first face seen is the neutral reference
                self.motion = RelativeMotion(self.rig, driver, FPS, self.params.smoothing)
                retune(self.motion, self.params, mic=self.mic is not None)
        if self.mic is not None:
            speech = self.mic.expression()
            jaw = self.params.lips * speech.jaw
            set_speech(self.motion, self.rig, self.params, jaw, self.params.lips * speech.width)
        return self.motion(driver)

    def _camera_face(self, frame: np.ndarray | None) -> np.ndarray | None:
        """(478, 3) landmarks of the camera's largest face in detection pixels, or None."""
        if frame is None:
            return None
        h, w = frame.shape[:2]
        if w > DETECT_WIDTH:                # a 4K camera: the mesh needs no more than this
            s = DETECT_WIDTH / w
            frame = cv2.resize(frame, (DETECT_WIDTH, max(2, round(h * s))), interpolation=cv2.INTER_AREA)
        faces = self.mesher(frame)
        return faces[0].points.astype(np.float64) if faces else None

    def _speech_target(self) -> np.ndarray:
        p, off = self.params, offsets_of(self.params)
        e = self.mic.expression()
        blink = self.blinker()
        expr = Expression(
            jaw=max(-1.0, p.lips * e.jaw + off.jaw), width=p.lips * e.width, smile=off.smile,
            brow=p.brows * e.brow + off.brow,
            blink_r=float(np.clip(p.eyes * blink + off.blink_r, -0.3, 1.0)),
            blink_l=float(np.clip(p.eyes * blink + off.blink_l, -0.3, 1.0)),
            gaze_x=off.gaze_x, gaze_y=off.gaze_y, yaw=p.head * e.yaw + off.yaw,
            pitch=p.head * e.pitch + off.pitch, roll=p.head * e.roll + off.roll)
        return self.rig.target(expr)

    def audio(self, samples: np.ndarray, rate: int) -> None:
        if self.mic is not None:
            self.mic.push(samples, rate)

    # -- capture and export -----------------------------------------------------------------
    def capture(self, on: bool) -> None:
        with self.lock:
            if on:
                self.spool = LandmarkSpool()
            elif self.spool is not None:
                self.kept, self.spool = self.spool, None

    def export(self, name: str, path: Path) -> None:
        """``landmarks``: the captured motion as posed source landmarks at the portrait's
        full resolution, a file ``portrait.talking`` renders with ``-i landmarks=``."""
        if name != "landmarks":
            raise KeyError(name)
        with self.lock:
            spool = self.spool or getattr(self, "kept", None)
            if spool is None:
                raise KeyError(name)
            spool.write_npz(Path(path), FPS, self.rig.points / self.scale, self.full_size)

    def close(self) -> None:
        if self.mesher is not None:
            self.mesher.close()
            self.mesher = None


def retune(motion: RelativeMotion, p: TalkingParams, mic: bool) -> None:
    """Apply the multipliers, offsets and smoothing of ``p`` to a running motion; with the
    microphone on the lips, the camera's mouth is left out."""
    motion.weights = region_weights(motion.rig, 0.0 if mic else p.lips, p.eyes, p.brows)
    motion.head = p.head
    off = offsets_of(p)
    motion.base_deltas = motion.rig.expression_deltas(off.vector()[: len(LINEAR_CONTROLS)])
    motion.offset_deltas = motion.base_deltas
    motion.offset_rot = rotation_matrix(off.yaw, off.pitch, off.roll)
    # the pose a lost face eases to carries the offsets too
    motion.gaps.rest = motion.rest_pose()
    if motion.filter is not None:
        motion.filter.min_cutoff = 0.4 + 6.0 * (1 - p.smoothing) ** 2


def set_speech(motion: RelativeMotion, rig: FaceRig, p: TalkingParams, jaw: float,
               width: float) -> None:
    """Add this frame's microphone jaw opening and mouth width to the motion's offsets."""
    controls = np.zeros(len(LINEAR_CONTROLS))
    controls[LINEAR_CONTROLS.index("jaw")] = jaw
    controls[LINEAR_CONTROLS.index("width")] = width
    motion.offset_deltas = motion.base_deltas + rig.expression_deltas(controls)


def open_live(inputs: dict[str, Any], params: dict[str, Any], driver: str) -> PortraitLive:
    """The live spec's ``open``: load and analyse the portrait once (NoFaceError if none)."""
    src = inputs.get("image")
    if src is None:
        from animakit.errors import InputError
        raise InputError("image", "drop in a portrait (or pick the example) before starting")
    name = Path(str(src)).name if isinstance(src, (str, Path)) else "image"
    image = load_image(src, name=name)
    p = TalkingParams(**{k: v for k, v in params.items() if k in TalkingParams.__dataclass_fields__})
    return PortraitLive(image, name, p, driver)


def live_spec() -> LiveSpec:
    return LiveSpec(open=open_live, inputs=("image",), params=LIVE_PARAMS,
                    drivers=("camera", "camera + microphone", "microphone"),
                    exports={"landmarks": ".npz"},
                    help="Your camera drives the portrait's head, expressions, blinks, gaze and "
                         "mouth; or the microphone its lips. Sliders act on the stream at once.",
                    example={"image": "portrait.png"})
