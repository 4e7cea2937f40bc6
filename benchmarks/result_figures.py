"""Result figures for the README, rendered through the public API from the shipped assets;
prints one JSON object (the files written and what they show).

- ``docs/portrait_pose_frames.png``: portrait.pose, top the shipped driving clip, bottom the
  rig engine's output on ``figure.png`` with the retargeted skeleton drawn over it.
- ``docs/editing_frames.jpg``: editing.first_frame, top the shipped source clip (with the
  edited first frame in the first column), bottom the propagated edit.

    .venv/bin/python benchmarks/result_figures.py [--out docs]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

# benchmarks/editing.py would shadow the editing package: import the package, not the script
_here = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _here]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import animakit  # noqa: E402
from animakit.media import VideoReader, load_image, save_image  # noqa: E402
from PIL import Image  # noqa: E402
from animakit.portrait.pose.skeleton import draw_skeleton  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"


def grid(rows: list[list[np.ndarray]], height: int, gap: int = 4) -> np.ndarray:
    """(H, W, 3) uint8: rows of frames, each scaled to ``height``, on a white ground."""
    lines = []
    for row in rows:
        cells = [cv2.resize(f, (round(f.shape[1] * height / f.shape[0]), height),
                            interpolation=cv2.INTER_AREA) for f in row]
        pad = np.full((height, gap, 3), 255, np.uint8)
        lines.append(np.concatenate([x for c in cells for x in (c, pad)][:-1], axis=1))
    width = max(line.shape[1] for line in lines)
    lines = [np.pad(line, ((0, 0), (0, width - line.shape[1]), (0, 0)), constant_values=255)
             for line in lines]
    sep = np.full((gap, width, 3), 255, np.uint8)
    return np.concatenate([x for line in lines for x in (line, sep)][:-1], axis=0)


def pose_figure(path: Path, picks: tuple[int, ...] = (0, 9, 18, 27, 36, 45)) -> dict:
    driving = ASSETS / "pose" / "dance_driver.mp4"
    out = animakit.load_pipeline("portrait.pose")(image=ASSETS / "pose" / "figure.png",
                                                    driving=driving)
    targets = out.extras["targets"]
    driver = list(VideoReader(driving))
    bottom = [draw_skeleton(out.frames[i], targets[i]) for i in picks]
    save_image(path, grid([[driver[i] for i in picks], bottom], 320))
    return {"file": str(path.relative_to(ROOT)), "frames": list(picks),
            "top": "shipped driving clip", "bottom": "rig output + retargeted skeleton"}


def editing_figure(path: Path, picks: tuple[int, ...] = (8, 16, 24, 35)) -> dict:
    source = ASSETS / "editing" / "source.mp4"
    edited = ASSETS / "editing" / "edited_first_frame.png"
    out = animakit.load_pipeline("editing.first_frame")(video=source, edited=edited)
    frames = list(VideoReader(source))
    picks = tuple(i for i in picks if i < len(frames))
    top = [frames[0]] + [frames[i] for i in picks]
    bottom = [load_image(edited)] + [out.frames[i] for i in picks]
    Image.fromarray(grid([top, bottom], 192)).save(path, quality=92)
    return {"file": str(path.relative_to(ROOT)), "frames": [0, *picks],
            "top": "source clip", "bottom": "edited first frame, then the propagated edit"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(json.dumps({"pose": pose_figure(args.out.resolve() / "portrait_pose_frames.png"),
                      "editing": editing_figure(args.out.resolve() / "editing_frames.jpg")}))


if __name__ == "__main__":
    main()
