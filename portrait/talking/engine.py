"""The weight-free ``mesh`` engine: MediaPipe mesh → motion model → piecewise-affine warp →
mouth interior → feathered paste-back, streamed frame by frame."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import cv2
import numpy as np

from animakit.errors import MediaError, ParamError
from animakit.media import OUTPUT_VIDEO_SUFFIXES, AudioClip, load_image
from animakit.media.video import VideoReader, VideoWriter
from animakit.pipeline import Engine, FrameStream
from animakit.seeding import seed_of
from animakit.threads import one_thread

from .audio_motion import Blinker, SpeechMotion, frame_features, initial_level
from .compositor import FaceCompositor
from .drive import RelativeMotion
from .params import TalkingParams, offsets_of
from .phones import aligned_phones, check_text
from .visemes import VisemeTrack
from .mouth import INNER_POLY, OUTER_POLY
from .rig import (LEFT_BROW, LEFT_LOWER_LID, LEFT_UPPER_LID, RIGHT_BROW, RIGHT_LOWER_LID,
                  RIGHT_UPPER_LID, Expression, FaceRig)
from .sources import (ANALYSIS_SR, LandmarkSpool, audio_blocks, first_face, load_landmark_file,
                      open_audio, source_face, video_landmarks)

DEFAULT_FPS = 25.0
FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
             377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
SKETCH = [(FACE_OVAL, True), (OUTER_POLY, True), (INNER_POLY, True),
          (RIGHT_UPPER_LID, False), (RIGHT_LOWER_LID, False), (LEFT_UPPER_LID, False),
          (LEFT_LOWER_LID, False), (RIGHT_BROW[:5], False), (LEFT_BROW[:5], False),
          ([1, 4, 5, 195, 197, 6, 168], False)]
NO_DRIVER_SECONDS = 5.0
SILENT_FEATURES = np.array([-120.0, -120.0, 0.0, 0.0])

Driven = Iterator[tuple[np.ndarray, Any]]     # (posed (478, 3) landmarks, driver view or None)


@dataclass
class Job:
    """Everything prepared up front for one render; ``targets()`` can be replayed."""
    image: np.ndarray
    points: np.ndarray
    rig: FaceRig
    compositor: FaceCompositor
    params: TalkingParams
    fps: float
    num_frames: int
    driver: str
    seed: int
    audio: AudioClip | None = None
    make_targets: Callable[["Job"], Driven] | None = None
    extras: dict = field(default_factory=dict)     # public: goes to FrameStream.extras
    private: dict = field(default_factory=dict)    # driver objects the motion replays from

    def targets(self) -> Driven:
        return self.make_targets(self)


def _expression(expr: Expression, p: TalkingParams, off: Expression, blink: float) -> Expression:
    """Apply the region multipliers, the offsets and a blink to a driver's expression."""
    return Expression(
        jaw=max(-1.0, p.lips * expr.jaw + off.jaw), width=p.lips * expr.width,
        smile=off.smile, brow=p.brows * expr.brow + off.brow,
        blink_r=float(np.clip(p.eyes * blink + off.blink_r, -0.3, 1.0)),
        blink_l=float(np.clip(p.eyes * blink + off.blink_l, -0.3, 1.0)),
        gaze_x=off.gaze_x, gaze_y=off.gaze_y, pucker=p.lips * expr.pucker, tuck=p.lips * expr.tuck,
        yaw=p.head * expr.yaw + off.yaw,
        pitch=p.head * expr.pitch + off.pitch, roll=p.head * expr.roll + off.roll)


def _speech_targets(job: Job) -> Driven:
    """Audio (or no driver: silence) → posed landmarks, one per frame."""
    p, rng = job.params, np.random.default_rng(job.seed)
    off = offsets_of(p)
    blinker = Blinker(job.fps, p.blink_rate, np.random.default_rng(job.seed + 1))
    if job.driver == "audio":
        blocks = audio_blocks(job.private["audio_clip"], job.private["audio_complete"])
        first = next(blocks, np.zeros(0, np.float32))
        n0 = max(1, int(len(first) / ANALYSIS_SR * job.fps))
        level = initial_level(np.array(list(frame_features([first], ANALYSIS_SR, job.fps, n0))))

        def chained():
            yield first
            yield from blocks
        feats = frame_features(chained(), ANALYSIS_SR, job.fps, job.num_frames,
                               closures=p.lip_closures)
    else:
        level = -20.0
        feats = (SILENT_FEATURES for _ in range(job.num_frames))
    motion = SpeechMotion(job.fps, rng, p.smoothing, level, shut_jaw=job.rig.shut_jaw())
    track = viseme_track(job)
    for k, f in enumerate(feats):
        shape = track.shape(k) if track else None
        expr = _expression(motion.step(f, shape), p, off, blinker())
        if track:
            job.extras["phonemes_english_share"] = round(track.english_share, 3)
        yield job.rig.target(expr), f


def viseme_track(job: Job) -> VisemeTrack | None:
    """Phone-driven mouth shapes for an audio driver (``phonemes`` not off): aligned to the
    text when one was given, else recognized in blocks alongside the render."""
    p = job.params
    if job.driver != "audio" or p.phonemes == "off":
        return None
    if "aligned" in job.private:
        return VisemeTrack(None, job.fps, p.phonemes, aligned=job.private["aligned"])
    clip, complete = job.private["audio_clip"], job.private["audio_complete"]
    return VisemeTrack(audio_blocks(clip, complete), job.fps, p.phonemes)


def _driven_targets(job: Job, sequence: Iterator[tuple[Any, np.ndarray | None]],
                    reference: np.ndarray, src_fps: float) -> Driven:
    """Driver landmark frames (sampled at ``src_fps``) → posed landmarks at ``job.fps``."""
    p = job.params
    motion = RelativeMotion(job.rig, reference, job.fps, p.smoothing, p.lips, p.eyes, p.brows,
                            p.head, offsets_of(p))
    it = iter(sequence)
    j, item = -1, (None, None)
    for i in range(job.num_frames):
        want = int(math.floor(i * src_fps / job.fps + 1e-6))
        while j < want:
            nxt = next(it, None)
            j += 1
            item = nxt if nxt is not None else (item[0], None)
        yield motion(item[1]), item
    job.extras["lost_frames"] = motion.lost


def _video_targets(job: Job) -> Driven:
    reader: VideoReader = job.private["reader"]
    yield from _driven_targets(job, video_landmarks(reader), job.private["reference"], reader.fps)


def _file_targets(job: Job) -> Driven:
    data = job.private["landmark_data"]
    seq = ((None, lm if ok else None) for lm, ok in zip(data["landmarks"], data["valid"]))
    yield from _driven_targets(job, seq, data["reference"], data["fps"])


def prepare(inputs: dict[str, Any], p: TalkingParams, seed: int) -> Job:
    """Load the driver (cheap checks first), then the source: detect the face, build the
    rig and compositor."""
    src = inputs["image"]
    name = str(src) if isinstance(src, (str, Path)) else "image"
    image = load_image(src, name=name)
    driver, make, fps, seconds, audio, private = _open_driver(inputs, p)
    points = source_face(image, name, p.face_index)
    rig = FaceRig(points)
    comp = FaceCompositor(image, points, p.crop_scale, p.feather, rig=rig)
    comp.fold_blinks = driver in ("audio", "none")
    if p.text.strip():     # the clip is whole in memory: check_text bounds its length
        words = text_words(p, driver, seconds)
        aligned = aligned_phones(private["audio_clip"].samples, words,
                                 _name_of(inputs.get("audio"), "audio"))
        if aligned:
            private["aligned"] = aligned
        else:               # no word placed: recognize the phones instead, and say so
            private["text_unplaced"] = True
    seconds = p.duration or seconds
    n = max(1, int(round(seconds * fps)))
    if audio is not None:    # the writer muxes from audio.path when there is one
        audio = audio.slice(0, min(seconds, audio.duration))
    extras = {"face_width": round(rig.width, 2), "crop_box": list(comp.box), "driver": driver}
    if private.get("text_unplaced"):
        extras["text_alignment"] = "no word placed: phones recognized instead"
    return Job(image, points, rig, comp, p, float(fps), n, driver, seed, audio, make, extras,
               private)


def text_words(p: TalkingParams, driver: str, seconds: float) -> list[str]:
    """The transcript's dictionary words; :class:`ParamError` where text cannot apply."""
    if driver != "audio":
        raise ParamError("param text", "applies to an audio driver only (drop text)")
    if p.phonemes == "off":
        raise ParamError("param text", "needs phonemes=auto or en (it times the phones)")
    return check_text(p.text, seconds)


def _name_of(src: Any, default: str) -> str:
    """The user's own name for an input: the path as given, else ``default``."""
    return str(src) if isinstance(src, (str, Path)) else default


def _open_driver(inputs: dict[str, Any], p: TalkingParams):
    """(driver name, target maker, fps, seconds, AudioClip or None, private state)."""
    private: dict[str, Any] = {}
    if "audio" in inputs:
        audio, seconds, complete = open_audio(inputs["audio"])
        private["audio_clip"], private["audio_complete"] = audio, complete
        return "audio", _speech_targets, p.fps or DEFAULT_FPS, seconds, audio, private
    if "driving" in inputs:
        reader = VideoReader(inputs["driving"], name="driving video")
        private["reference"] = first_face(reader)
        private["reader"] = reader
        audio = open_audio(reader.path, "driving video")[0] if reader.has_audio else None
        return ("driving", _video_targets, p.fps or reader.fps, reader.num_frames / reader.fps,
                audio, private)
    if "landmarks" in inputs:
        data = load_landmark_file(inputs["landmarks"])
        private["landmark_data"] = data
        return ("landmarks", _file_targets, p.fps or data["fps"],
                len(data["landmarks"]) / data["fps"], None, private)
    return "none", _speech_targets, p.fps or DEFAULT_FPS, NO_DRIVER_SECONDS, None, private


def driver_panel(job: Job, target: np.ndarray, view: Any, height: int) -> np.ndarray:
    """(height, w, 3) uint8 picture of what drives the frame: the driving video frame, or
    the posed mesh with the audio level for audio / landmark / no driver."""
    if job.driver == "driving" and isinstance(view, tuple) and view[0] is not None:
        frame = view[0]
        w = max(2, int(round(frame.shape[1] * height / frame.shape[0])))
        return cv2.resize(frame, (w, height), interpolation=cv2.INTER_AREA)
    panel = np.full((height, height, 3), 24, np.uint8)
    x0, y0, x1, y1 = job.compositor.box
    s = 0.9 * height / max(x1 - x0, y1 - y0)
    xy = (target[:, :2] - [x0, y0]) * s + 0.05 * height
    thick = max(1, height // 256)
    for idx, closed in SKETCH:
        pts = np.round(xy[idx] * 8).astype(np.int32)
        cv2.polylines(panel, [pts], closed, (120, 220, 255), thick, cv2.LINE_AA, shift=3)
    if job.driver == "audio" and isinstance(view, np.ndarray):
        level = float(np.clip((view[0] + 60.0) / 60.0, 0, 1))
        bar = int(level * (height - 8))
        panel[height - 4 - bar:height - 4, 4:4 + max(6, height // 40)] = (255, 180, 60)
    return panel


def rendered(job: Job) -> Iterator[tuple[np.ndarray, Any, np.ndarray]]:
    """(posed landmarks, driver view, (H, W, 3) frame) per frame; each frame is computed
    on one thread (:func:`animakit.threads.one_thread`); the consumer runs as it likes."""
    driven = job.targets()
    while True:
        with one_thread():
            item = next(driven, None)
            if item is None:
                return
            frame = job.compositor.render(item[0])
        yield item[0], item[1], frame


class MeshEngine(Engine):
    name = "mesh"
    help = ("weight-free: MediaPipe face mesh, audio / landmark motion model, piecewise-affine "
            "warp, synthesized mouth interior; real time on a CPU")

    def stream(self, inputs: dict[str, Any], params: TalkingParams, generator: Any = None) -> FrameStream:
        job = prepare(inputs, params, seed_of(generator))
        spool = LandmarkSpool()

        def frames() -> Iterator[np.ndarray]:
            for target, _, frame in rendered(job):
                spool.append(target)
                yield frame

        h, w = job.image.shape[:2]
        side = {"landmarks": lambda path: export_landmarks(job, spool, Path(path)),
                "preview": lambda path: write_preview(job, Path(path))}
        return FrameStream(frames(), fps=job.fps, size=(w, h), num_frames=job.num_frames,
                           audio=job.audio, side_outputs=side, extras=job.extras,
                           export_suffixes={"landmarks": (".npz",), "preview": OUTPUT_VIDEO_SUFFIXES})


def export_landmarks(job: Job, spool: LandmarkSpool, path: Path) -> None:
    """The rendered motion as a landmark file (posed source landmarks per frame, the source's
    rest landmarks as ``reference``); replays the motion if the stream was not consumed."""
    if spool.count < job.num_frames:
        spool = LandmarkSpool()
        for target, _ in job.targets():
            spool.append(target)
    h, w = job.image.shape[:2]
    spool.write_npz(path, job.fps, job.points, (w, h))


def write_preview(job: Job, path: Path) -> None:
    """Side-by-side video: driver | output (re-renders the same deterministic motion)."""
    h = job.image.shape[0]
    with VideoWriter(path, job.fps, audio=job.audio) as writer:
        for target, view, frame in rendered(job):
            writer.write(np.hstack([driver_panel(job, target, view, h), frame]))
    if writer.frames_written == 0:
        raise MediaError(path, "no frames to preview")

