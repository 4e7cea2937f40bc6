"""Benchmark the motion brush's reach; prints one JSON object.

A large painting of a portrait's hair, dragged up and right by about a quarter of the face
width (12 frames, flow engine). Reported: the lowest per-frame PSNR of the eyes-and-nose
box (never painted, well outside the stroke's edge) against the source, with the old reach
(soft edge = 6 % of the image's short side) and the current one (a few px set by the painted
region), in the same run, plus the automatic edge in px and the render time of each.

    python benchmarks/brush.py [--image /work/shared/dev-data/portrait_s1.jpg]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import animakit  # noqa: E402
from animakit.media import load_image  # noqa: E402
from animakit.video.brush import load_brush, stroke_edge  # noqa: E402
from benchmarks.groundtruth.i2v_measures import psnr  # noqa: E402

# in the pixels of portrait_s1.jpg (1145 x 1145): the hair down to the brows, both sides
HAIR = [[270, 420], [300, 250], [400, 140], [560, 110], [720, 150], [820, 260], [850, 420],
        [800, 560], [740, 470], [700, 410], [560, 400], [420, 420], [330, 520]]
DRAG = [[560, 250], [600, 160]]
EYES_NOSE = (400, 450, 640, 580)          # x0, y0, x1, y1


def reach_figures(image: Path, num_frames: int) -> dict:
    pipe = animakit.load_pipeline("video.i2v")
    src = load_image(image)
    h, w = src.shape[:2]
    brush = {"strokes": [{"mask": HAIR, "trajectory": DRAG}]}
    x0, y0, x1, y1 = EYES_NOSE
    box = np.zeros((h, w), bool)
    box[y0:y1, x0:x1] = True
    out = {}
    for name, falloff in (("old_6pct_short_side", 0.06 * min(w, h)), ("few_px_per_stroke", 0.0)):
        t0 = time.perf_counter()
        frames = pipe(image=image, brush=brush, num_frames=num_frames, falloff=falloff).frames
        wall = time.perf_counter() - t0
        per_frame = [psnr(f, src, box) for f in frames]
        out[name] = {"eyes_nose_min_psnr_db": round(min(per_frame), 2),
                     "edge_px": round(falloff or stroke_edge(load_brush(brush, (w, h)).strokes[0].mask), 2),
                     "render_s": round(wall, 2)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", type=Path, default=Path("/work/shared/dev-data/portrait_s1.jpg"))
    ap.add_argument("--frames", type=int, default=12)
    args = ap.parse_args()
    if not args.image.exists():
        sys.exit(f"brush benchmark: {args.image.name} not found (pass --image)")
    print(json.dumps({"image": args.image.name, "frames": args.frames,
                      **reach_figures(args.image, args.frames)}))


if __name__ == "__main__":
    main()
