"""Benchmark of editing.restyle's looks engine: does carrying the look along the flow stop
it boiling, and how fast is it?

For every look, on each clip (the shipped assets/editing/source.mp4, plus the dev-data face
and dance clips when present), in one run:

- the temporal warp error divided by the output's mean spatial gradient
  (:func:`benchmarks.groundtruth.restyle_measures.warp_error_over_gradient`: the source's own
  DIS flow aligns consecutive output frames, reliable pixels only) of the look carried by
  flow (``carry=flow``, the default) and of the same look filtered on every frame
  independently (``carry=none``), and their ratio (< 1: carrying is steadier);
- the keys the carrier made;
- fps end to end at 512x512 (mp4 in, mp4 out through ``animakit.render``) per look.

Prints one JSON object. ``python benchmarks/restyle.py [--frames 48] [--quick]``;
``--figure docs/restyle_frames.jpg`` instead writes the README figure: frames 0 / 12 / 24 /
36 of a clip (the dev-data dance clip when present, else the shipped one), source on top,
then each look carried by flow.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import animakit  # noqa: E402
from animakit.media import open_video, write_video  # noqa: E402
from animakit.editing.looks import LOOKS  # noqa: E402
from benchmarks.groundtruth.restyle_measures import (source_flows,  # noqa: E402
                                                     warp_error_over_gradient)

DEV = Path("/work/shared/dev-data")


def clips(frames: int, quick: bool, long_side: int = 512) -> dict[str, list[np.ndarray]]:
    """name -> source frames (long side at most ``long_side``)."""
    paths = {"disc (assets/editing/source.mp4)": animakit.ASSETS / "editing" / "source.mp4"}
    if not quick:
        for name in ("face_driving_d11.mp4", "dance_fullbody.mp4"):
            if (DEV / name).exists():
                paths[name] = DEV / name
    out = {}
    for name, path in paths.items():
        frames_ = []
        for f, _ in zip(open_video(path), range(frames)):
            s = long_side / max(f.shape[:2])
            if s < 1:
                f = cv2.resize(f, (round(f.shape[1] * s) // 2 * 2, round(f.shape[0] * s) // 2 * 2),
                               interpolation=cv2.INTER_AREA)
            frames_.append(f)
        out[name] = frames_
    return out


def stability(pipe, path: Path, flows, look: str, n: int) -> dict:
    res = {}
    for carry in ("flow", "none"):
        stream = pipe.stream(video=path, look=look, carry=carry)
        frames = [f for f, _ in zip(stream, range(n))]
        res[carry] = round(warp_error_over_gradient(frames, flows), 4)
        if carry == "flow":
            res["keys"] = list(stream.extras.get("keyframes", []))
    res["ratio_flow_vs_per_frame"] = round(res["flow"] / res["none"], 3)
    return res


def fps_512(tmp: Path, frames: int) -> dict:
    face = DEV / "face_driving_d11.mp4"
    if face.exists():
        src = [f for f, _ in zip(open_video(face), range(frames))]
    else:
        base = cv2.resize(next(iter(open_video(animakit.ASSETS / "editing" / "source.mp4"))),
                          (512, 512), interpolation=cv2.INTER_CUBIC)
        src = [np.roll(base, 3 * i, axis=1) for i in range(frames)]
    write_video(tmp / "in512.mp4", src, 25)
    out = {}
    for look in LOOKS:
        t = time.perf_counter()
        animakit.render("editing.restyle", tmp / f"{look}.mp4", inputs={"video": tmp / "in512.mp4"},
                        params={"look": look}, progress=False)
        out[look] = round(frames / (time.perf_counter() - t), 2)
    return out


def figure(path: Path, clip: Path, picks=(0, 12, 24, 36), height: int = 320) -> None:
    """Rows: the source, then each look, at frames ``picks``; labels on the left."""
    pipe = animakit.load_pipeline("editing.restyle")
    rows = [[f for i, f in zip(range(picks[-1] + 1), open_video(clip)) if i in picks]]
    names = ["source"] + list(LOOKS)
    for look in LOOKS:
        rows.append([f for i, f in zip(range(picks[-1] + 1), pipe.stream(video=clip, look=look))
                     if i in picks])
    tiles = []
    for name, row in zip(names, rows):
        row = [cv2.resize(f, (round(f.shape[1] * height / f.shape[0]), height),
                          interpolation=cv2.INTER_AREA) for f in row]
        strip = np.concatenate(row, axis=1)
        cv2.putText(strip, name, (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 0, 0), 4)
        cv2.putText(strip, name, (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2)
        tiles.append(strip)
    grid = np.concatenate(tiles, axis=0)
    cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--quick", action="store_true", help="shipped clip only, fewer frames")
    ap.add_argument("--figure", type=Path, help="write the frames figure here and stop")
    a = ap.parse_args()
    if a.figure:
        dance = DEV / "dance_fullbody.mp4"
        with tempfile.TemporaryDirectory() as tmp:
            clip = Path(tmp) / "clip.mp4"          # long side 640, as the figure shows it
            frames = next(iter(clips(37, False, long_side=640).values())) if not dance.exists() \
                else clips(37, False, long_side=640)["dance_fullbody.mp4"]
            write_video(clip, frames, 24, crf=12)
            figure(a.figure, clip)
        print(json.dumps({"figure": str(a.figure)}))
        return
    n = 24 if a.quick else a.frames
    pipe = animakit.load_pipeline("editing.restyle")
    result = {"frames": n, "stability": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, frames in clips(n, a.quick).items():
            path = tmp / f"{len(result['stability'])}.mp4"
            write_video(path, frames, 25, crf=12)
            frames = [f.copy() for f in open_video(path)]       # what the engine reads
            flows = source_flows(frames)
            result["stability"][name] = {look: stability(pipe, path, flows, look, n)
                                         for look in LOOKS}
        result["fps_512_end_to_end"] = fps_512(tmp, n)
    ratios = [r["ratio_flow_vs_per_frame"] for c in result["stability"].values()
              for r in c.values()]
    result["worst_ratio"] = max(ratios)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
