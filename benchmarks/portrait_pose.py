"""portrait.pose rig engine figures; prints one JSON object.

- pck@0.1: MediaPipe re-detects the pose on each output frame; fraction of joints (nose,
  shoulders .. ankles, target visibility >= 0.5) within 0.1 x torso size of the retargeted
  target. On the dev dance clip + illustration (if /work/shared/dev-data exists) and on the
  shipped synthetic driving clip.
- delta_e: CIE76 distance between the mean Lab colour of the body in the reference and in each
  output frame (body = renderer coverage > 0.5), averaged over frames.
- background: mean |output - reference| outside the swept region (the reference body and every
  rendered body, dilated), and the fraction of those pixels exactly unchanged.
- fps at 512 px: pose detection on the driver + rig render, frames / wall seconds.

    .venv/bin/python benchmarks/portrait_pose.py [--seconds 4] [--size 512]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from animakit.landmarks import PoseDetector
from animakit.media import open_video
from animakit.skeleton import pck
from portrait.pose.posefile import detect_pose_video
from portrait.pose.reference import load_driver, load_reference, targets
from portrait.pose.rig_engine import rig_renderer

ROOT = Path(__file__).resolve().parents[1]
DEV = Path("/work/shared/dev-data")
JOINTS = (0,) + tuple(range(11, 29))


def _lab_mean(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(img.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    return lab[mask].mean(axis=0)


def measure(image: Path, driving: Path, seconds: float, size: int) -> dict:
    t0 = time.perf_counter()
    ref = load_reference({"image": str(image)}, size)
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    fps = open_video(driving).fps
    seq = detect_pose_video(driving, max_side=size,
                            max_frames=None if not seconds else int(round(seconds * fps)))
    seq = load_driver(seq, None, seconds)
    t_detect = time.perf_counter() - t0
    t0 = time.perf_counter()
    tg = targets(ref, seq, smoothing=0.5, mode="skeleton", root_motion=1.0)
    renderer = rig_renderer(ref, None, True)
    t_setup = time.perf_counter() - t0
    frames, coverages = [], []
    t0 = time.perf_counter()
    for pts in tg.points:
        frames.append(renderer.render(pts))
        coverages.append(renderer.last_coverage > 0.5)
    t_render = time.perf_counter() - t0
    n = len(frames)

    scores, found = [], 0
    with PoseDetector() as det:
        for f, tgt, vis in zip(frames, tg.points, tg.visibility):
            pose = det(f)
            if pose is None:
                scores.append(0.0)
                continue
            found += 1
            s = pck(pose.points, tgt, 0.1, joints=JOINTS, visibility=vis)
            if s == s:
                scores.append(s)
    ref_body = ref.alpha > 0.5
    ref_lab = _lab_mean(ref.image, ref_body)
    de = [float(np.linalg.norm(_lab_mean(f, c) - ref_lab)) for f, c in zip(frames, coverages) if c.any()]
    swept = ref_body.copy()
    for c in coverages:
        swept |= c
    r = max(3, round(max(swept.shape) / 60))
    swept = cv2.dilate(swept.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2)) > 0
    outside = ~swept
    diffs = [np.abs(f[outside].astype(int) - ref.image[outside]) for f in frames]
    return {
        "frames": n, "size": list(ref.image.shape[1::-1]), "legs_rigged": ref.legs,
        "lost_frames": tg.lost_frames, "flipped_frames": tg.flipped_frames,
        "pck@0.1": round(float(np.mean(scores)), 4), "redetected_frames": found,
        "delta_e_mean_body_colour": round(float(np.mean(de)), 3),
        "background_mean_abs_diff_outside_swept": round(float(np.mean([d.mean() for d in diffs])), 4),
        "background_unchanged_fraction": round(float(np.mean([(d.max(axis=1) == 0).mean() for d in diffs])), 5),
        "outside_swept_fraction_of_frame": round(float(outside.mean()), 4),
        "fps_detect": round(n / t_detect, 2), "fps_render": round(n / t_render, 2),
        "fps_total_incl_detection": round(n / (t_detect + t_render + t_setup + t_ref), 2),
        "seconds_reference_setup": round(t_ref + t_setup, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--size", type=int, default=512)
    args = ap.parse_args()
    out = {"engine": "rig", "note": "CPU timings; 2 shared cores under contention unless re-run"}
    assets = ROOT / "assets" / "pose"
    out["shipped_clip"] = measure(assets / "figure.png", assets / "dance_driver.mp4", 0, args.size)
    if (DEV / "dance_fullbody.mp4").exists():
        out["dev_dance"] = measure(DEV / "fullbody_ref_illustration.png", DEV / "dance_fullbody.mp4",
                                   args.seconds, args.size)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
