"""Regenerate the talking-portrait test assets from the shipped portrait and speech clip.

    .venv/bin/python assets/talking/make_assets.py

- ``driving_face.mp4``: 3 s, 256x256, 25 fps face clip with its speech: the astronaut
  portrait animated by ``portrait.talking`` from ``assets/speech.wav`` with exaggerated head
  motion and brows, cropped to the face. A driving video made here, from our own assets.
- ``driving_face_landmarks.npz``: that clip's motion captured with
  ``--export landmarks=...`` (the landmark-file driver's format), 2 s.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

import animakit
from animakit.media import VideoWriter

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def make_driving_clip(path: Path) -> None:
    pipe = animakit.load_pipeline("portrait.talking")
    stream = pipe.stream(image=ROOT / "assets/portrait.png", audio=ROOT / "assets/speech.wav",
                         duration=3.0, head=2.5, brows=1.5, lips=1.2, blink_rate=20,
                         generator=7)
    x0, y0, x1, y1 = stream.extras["crop_box"]
    with VideoWriter(path, stream.fps, audio=stream.audio, crf=23) as w:
        for frame in stream:
            w.write(cv2.resize(frame[y0:y1, x0:x1], (256, 256), interpolation=cv2.INTER_AREA))


def make_landmarks(clip: Path, path: Path) -> None:
    from animakit import render
    import tempfile
    pipe = animakit.load_pipeline("portrait.talking")
    with tempfile.TemporaryDirectory() as tmp:
        render(pipe, Path(tmp) / "x.mp4", inputs={"image": ROOT / "assets/portrait.png",
               "driving": clip}, params={"duration": 2.0, "smoothing": 0.3},
               exports={"landmarks": path}, progress=False)


if __name__ == "__main__":
    clip = HERE / "driving_face.mp4"
    make_driving_clip(clip)
    make_landmarks(clip, HERE / "driving_face_landmarks.npz")
    print("wrote", clip, HERE / "driving_face_landmarks.npz")
