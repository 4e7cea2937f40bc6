"""Benchmark of editing.first_frame's flow engine on synthetic clips with a known truth.

A textured background pans behind a textured disc that travels and turns; the edit (a hue
rotation + contrast grade on everything, stripes painted on the disc) is rendered on every
frame to give the truth. Measures, in one run:

- PSNR of the propagated clip against the truth (mean and worst frame);
- temporal warp error of the output vs the source's own (true flow, non-occluded pixels);
- speed of the whole engine (flow + propagation + compositing) at 512x512.

Prints one JSON object. ``python benchmarks/editing.py [--frames 48] [--size 512]``
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

# this file is named like the plugin package: import the package, not this script
_here = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _here]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from animakit.flow import FlowEstimator, warp_error  # noqa: E402
from editing.colour import fit_colour_transform
from editing.flow_engine import auto_mask
from editing.first_frame import FirstFrameEditParams
from editing.propagate import PropagationSettings, Propagator, compose, initial_layer
from editing.synthetic import make_clip


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-10)))


def propagate(source: np.ndarray, edited: np.ndarray, p: FirstFrameEditParams) -> list:
    """The flow engine's per-frame work on in-memory frames (the pipeline adds only video
    decoding around it)."""
    mask = auto_mask(source[0], edited, p.mask_threshold, p.mask_grow)
    colour = fit_colour_transform(source[0], edited, (mask > 0.5).astype(np.float32))
    settings = PropagationSettings(transfer=p.transfer, refine_every=p.refine_every,
                                   photo_lo=p.match_tolerance, photo_hi=2.8 * p.match_tolerance,
                                   feather=p.feather, smoothing=p.temporal_smoothing)
    layer = initial_layer(source[0], edited, mask, colour, p.transfer)
    scale = min(1.0, p.flow_size / source.shape[2])
    fast = FlowEstimator("fast", scale * 0.5 if source.shape[2] >= 384 else scale)
    prop = Propagator(source[0], layer, colour, settings, fast, FlowEstimator(p.flow_preset, scale))
    out = [compose(source[0], layer, colour, p.transfer)]
    for frame, layer, _ in prop.run(source[1:]):
        out.append(compose(frame, layer, colour, p.transfer))
    return out


def temporal_error(frames: np.ndarray, flows: np.ndarray) -> float:
    """Mean warp error between consecutive frames with the true flow (occlusions masked by
    the true flow's own forward-backward test is not available, so pixels whose true flow
    differs from a 3x3 neighbour's by > 0.5 px — motion boundaries — are left out)."""
    errs = []
    for t in range(1, len(frames)):
        f = flows[t - 1]
        gx = np.abs(np.diff(f, axis=1, prepend=f[:, :1])).max(-1)
        gy = np.abs(np.diff(f, axis=0, prepend=f[:1])).max(-1)
        boundary = cv2.dilate(((gx > 0.5) | (gy > 0.5)).astype(np.uint8), np.ones((7, 7)))
        h, w = f.shape[:2]
        xs = np.arange(w)[None, :] + f[..., 0]
        ys = np.arange(h)[:, None] + f[..., 1]
        inside = (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)
        errs.append(warp_error(frames[t], frames[t - 1], f, inside & (boundary == 0)))
    return float(np.mean(errs))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--transfer", default="detail", choices=("detail", "pixels"))
    args = ap.parse_args()
    clip = make_clip(args.frames, args.size)
    params = FirstFrameEditParams(transfer=args.transfer)
    propagate(clip.source[:3], clip.truth[0], params)               # warm-up
    t0 = time.perf_counter()
    out = propagate(clip.source, clip.truth[0], params)
    seconds = time.perf_counter() - t0
    scores = [psnr(o, t) for o, t in zip(out[1:], clip.truth[1:])]  # frame 0 is the input
    out_err = temporal_error(np.stack(out), clip.flows)
    src_err = temporal_error(clip.source, clip.flows)
    truth_err = temporal_error(clip.truth, clip.flows)
    print(json.dumps({
        "clip": {"frames": args.frames, "size": args.size, "transfer": args.transfer},
        "psnr_mean_db": round(float(np.mean(scores)), 2),
        "psnr_min_db": round(float(np.min(scores)), 2),
        "psnr_target": {"mean": 30.0, "min": 25.0},
        "warp_error_output": round(out_err, 3),
        "warp_error_source": round(src_err, 3),
        "warp_error_truth": round(truth_err, 3),
        "warp_error_ratio": round(out_err / max(src_err, 1e-9), 3),
        "warp_error_ratio_target": 1.2,
        "fps": round((args.frames - 1) / seconds, 2),
        "fps_target": 20.0,
        "note": "fps measured on a shared CPU; excludes video decode/encode",
    }))


if __name__ == "__main__":
    main()
