"""editing.first_frame on public first-frame-editing demos (AnyV2V's, edited first frames
nobody here made), before and after layer propagation, in one run.

The demos come from a checkout of https://github.com/TIGER-AI-Lab/AnyV2V (``--anyv2v``):
``demo/<clip>.mp4`` and ``demo/<clip>/edited_first_frame/<edit>.png`` (16 frames, 512x512,
8 fps). "before" is another animakit tree's editing pipeline (``--before-python``, an
interpreter whose ``animakit`` is e.g. the main branch), "after" is this tree's (default
``propagation=auto``). Per demo and side:

- ``persistence``: mean |output - source| at the last frame / at the first frame (1 = the
  edit holds, lower = it fades back to the source);
- ``warp_gradient_ratio``: the output's warp error (flow and occlusions estimated on the
  source, DIS medium and the forward-backward test) divided by its mean squared spatial
  gradient, over the same for the source (1 = as steady as the source once the texture's
  contrast is accounted for); ``..._own_flow``: the same with the flow estimated on the
  output itself (a carried layer moves as its mesh does, not as the source's pixels: the
  source's flow misjudges it where the new outline differs); ``..._excess_share_in_24px_border``:
  how much of the output's warp error over the source's lies within 24 px of the frame's
  edges (18 % of a 512² frame's area);
- ``recolour_reference_warp_gradient_ratio`` (appearance edits): the same measure of the
  source recoloured by the edit's colour transform where the output differs from the
  source, carrying no detail (:func:`recolour_reference`): how far the measure moves with
  the edit's change of contrast alone;
- ``fps``: frames per second of the whole pipeline, mp4 in, mp4 out (best of two), on the
  16-frame clip and on a 46-frame ping-pong of it (:func:`ping_pong`).

Writes a figure of frames 0/5/10/15 (before above after, per demo) with ``--figure`` and
prints one JSON object.
``python benchmarks/editing_demos.py --anyv2v PATH [--before-python PY] [--figure PNG]``
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from animakit.editing.flow import FlowEstimator, fb_consistency  # noqa: E402
from animakit.media import load_image, open_video, save_image  # noqa: E402
from benchmarks.groundtruth.editing_clip import gradient_energy, warp, warp_error  # noqa: E402

DEMOS = {   # name: (clip, edited first frame), as in AnyV2V's demo folder
    "shirt_red": ("Man Walking", "change his clothes to red"),
    "kitten_dog": ("A kitten turning its head on a wooden floor",
                   "A dog turning its head on a wooden floor"),
    "starry_night": ("An Old Man Doing Exercises For The Body And Mind", "starry night style"),
}
FIGURE_FRAMES = (0, 5, 10, 15)

_RUN = """
import sys, numpy as np, animakit
pipe = animakit.load_pipeline("editing.first_frame")
out = pipe(video=sys.argv[1], edited=sys.argv[2])
np.save(sys.argv[3], np.stack(out.frames))
"""


def demo_paths(repo: Path, name: str) -> tuple[Path, Path]:
    clip, edit = DEMOS[name]
    return repo / "demo" / f"{clip}.mp4", repo / "demo" / clip / "edited_first_frame" / f"{edit}.png"


def frames_with(python: str, video: Path, edited: Path, tmp: Path) -> np.ndarray:
    """(T, H, W, 3) output of the editing pipeline run by ``python`` (its own animakit)."""
    out = tmp / "frames.npy"
    subprocess.run([python, "-c", _RUN, str(video), str(edited), str(out)], check=True,
                   cwd=tmp, env={**os.environ, "PYTHONPATH": ""})
    return np.load(out)


def source_flows(source: np.ndarray) -> tuple[list, list]:
    """Backward flows t -> t-1 and their forward-backward validity, on the source."""
    est = FlowEstimator("medium")
    flows, valid = [], []
    for t in range(1, len(source)):
        back, fwd = est(source[t], source[t - 1]), est(source[t - 1], source[t])
        flows.append(back)
        valid.append(fb_consistency(back, fwd))
    return flows, valid


def warp_gradient(clip: np.ndarray, flows: list, valid: list) -> float:
    """Mean warp error of ``clip`` along the source's flow over its gradient energy."""
    err = np.mean([warp_error(clip[t], clip[t - 1], flows[t - 1], valid[t - 1])
                   for t in range(1, len(clip))])
    return float(err) / max(gradient_energy(clip), 1e-9)


def border_excess_share(clip: np.ndarray, source: np.ndarray, flows: list, valid: list,
                        px: int = 24) -> float:
    """Share of ``clip``'s warp error in excess of the source's (each over its gradient
    energy, as :func:`warp_gradient`) that lies within ``px`` of the frame's edges: where
    carried texture slides at the border rather than flickers inside the frame."""
    excess = np.zeros(source.shape[1:3], np.float64)
    for c, sign in ((clip, 1.0), (source, -1.0)):
        g = max(gradient_energy(c), 1e-9)
        for t in range(1, len(c)):
            wb = warp(c[t - 1], flows[t - 1]).astype(np.float32)
            d = np.mean((c[t].astype(np.float32) - wb) ** 2, -1) * valid[t - 1]
            excess += sign * d / g
    border = np.ones(excess.shape, bool)
    border[px:-px, px:-px] = False
    total = excess.sum()
    return float(excess[border].sum() / total) if total > 0 else 0.0


def edited_region(out: np.ndarray, source: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels the edit changed in any frame (over 12 levels), grown by 4 px."""
    changed = (np.abs(out.astype(np.int16) - source.astype(np.int16)).max(-1) > 12).any(0)
    return cv2.dilate(changed.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0


def region_warp_gradient(clip: np.ndarray, flows: list, valid: list, region: np.ndarray) -> float:
    """:func:`warp_gradient` inside ``region`` only: outside an edit both clips hold the same
    pixels and the same warp error, while a frame-wide gradient energy would still count
    the edit's change of texture (a plain red shirt for a checked one)."""
    err = np.mean([warp_error(clip[t], clip[t - 1], flows[t - 1], valid[t - 1] & region)
                   for t in range(1, len(clip))])
    f = clip.astype(np.float32)
    g = (np.diff(f, axis=2)[:, :-1] ** 2 + np.diff(f, axis=1)[:, :, :-1] ** 2).mean(-1)
    return float(err) / max(float(g[:, region[:-1, :-1]].mean()), 1e-9)


def recolour_reference(source: np.ndarray, edited: np.ndarray, out: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8: each source frame through the edit's colour transform (fitted as
    the flow engine fits it, on the first frame's grown edit region), blended in where
    ``out`` differs from the source. It carries no detail, so it is as steady as the source
    but for the transform's change of contrast: what a pure recolour in the output's own
    region scores on :func:`warp_gradient`."""
    from animakit.editing.colour import fit_colour_transform
    from animakit.editing.flow_engine import FlowEditParams, region_mask
    from animakit.editing.regions import find_edit_region
    p = FlowEditParams()                                  # the engine's defaults
    region = find_edit_region(source[0], edited, None, p.mask_threshold)
    mask = region_mask(region, p.mask_grow) > 0.5
    colour = fit_colour_transform(source[0], edited, mask.astype(np.float32))
    frames = source.astype(np.float32)
    weight = np.clip(np.abs(out.astype(np.float32) - frames).max(-1, keepdims=True) / 24, 0, 1)
    graded = np.stack([colour(f) for f in source])
    return np.clip(frames + weight * (graded - frames) + 0.5, 0, 255).astype(np.uint8)


def persistence(out: np.ndarray, source: np.ndarray) -> float:
    """Mean abs difference from the source at the last frame over that at the first."""
    d = [float(np.abs(out[i].astype(np.float32) - source[i]).mean()) for i in (0, -1)]
    return d[1] / max(d[0], 1e-9)


def pipeline_fps(video: Path, edited: Path, tmp: Path) -> float:
    """Frames per second of this tree's pipeline, mp4 to mp4 through the API, best of two."""
    import animakit
    from animakit import render
    pipe = animakit.load_pipeline("editing.first_frame")
    best = 0.0
    for _ in range(2):
        t0 = time.perf_counter()
        summary = render(pipe, tmp / "out.mp4", progress=False,
                         inputs={"video": str(video), "edited": str(edited)})
        best = max(best, summary.frames / (time.perf_counter() - t0))
    return round(best, 2)


def ping_pong(source: np.ndarray, path: Path) -> Path:
    """``source`` played forwards, backwards and forwards again (3F - 2 frames) as an mp4 at
    ``path``: a longer clip of the same content, so the start-up weighs on the frame rate
    as little as on the synthetic case's 48 frames."""
    from animakit.media import write_video
    frames = list(source)
    write_video(path, frames + frames[::-1][1:] + frames[1:], 8, crf=12)
    return path


def measure(name: str, repo: Path, before_python: str | None, tmp: Path) -> tuple[dict, dict]:
    """(figures, frames by side) of one demo."""
    import animakit
    video, edited = demo_paths(repo, name)
    source = np.stack(list(open_video(video)))
    out = animakit.load_pipeline("editing.first_frame")(video=video, edited=edited)
    sides = {"after": np.stack(out.frames)}
    if before_python:
        sides["before"] = frames_with(before_python, video, edited, tmp)
    flows, valid = source_flows(source)
    src_wg = warp_gradient(source, flows, valid)
    result = {"clip": video.name, "edited": edited.name, "frames": len(source),
              "propagation": out.extras.get("propagation"), "edit_kind": out.extras.get("edit_kind")}
    for side, frames in sides.items():
        own = warp_gradient(frames, *source_flows(frames)) / src_wg
        region = edited_region(frames, source)
        in_edit = (region_warp_gradient(frames, flows, valid, region)
                   / region_warp_gradient(source, flows, valid, region))
        result[side] = {"persistence": round(persistence(frames, source), 3),
                        "warp_gradient_ratio": round(warp_gradient(frames, flows, valid) / src_wg, 3),
                        "warp_gradient_ratio_own_flow": round(own, 3),
                        "warp_gradient_ratio_edited_region": round(in_edit, 3),
                        "warp_excess_share_in_24px_border": round(
                            border_excess_share(frames, source, flows, valid), 3),
                        "edited_region_share": round(float(region.mean()), 3)}
    sides["source"], sides["edited"] = source, load_image(edited, max_side=None)
    if result["edit_kind"] == "appearance":        # a recolour: what a pure one would score
        reference = recolour_reference(source, sides["edited"], sides["after"])
        result["after"]["recolour_reference_warp_gradient_ratio"] = round(
            warp_gradient(reference, flows, valid) / src_wg, 3)
    result["after"]["fps_end_to_end"] = pipeline_fps(video, edited, tmp)
    result["after"]["fps_end_to_end_ping_pong"] = pipeline_fps(
        ping_pong(source, tmp / "ping_pong.mp4"), edited, tmp)
    return result, sides


def figure(rows: dict, path: Path, scale: int = 256) -> None:
    """Per demo: the source, before and after at frames 0/5/10/15 (scaled to ``scale``)."""
    strips = []
    for name, sides in rows.items():
        for side in ("source", "before", "after"):
            if side not in sides:
                continue
            tiles = [cv2.resize(sides[side][i], (scale, scale), interpolation=cv2.INTER_AREA)
                     for i in FIGURE_FRAMES]
            tile = np.concatenate(tiles, 1)
            cv2.putText(tile, f"{name}: {side}", (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                        (255, 255, 255), 2, cv2.LINE_AA)
            cv2.putText(tile, f"{name}: {side}", (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                        (0, 0, 0), 1, cv2.LINE_AA)
            strips.append(tile)
    save_image(path, np.concatenate(strips, 0))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--anyv2v", type=Path, required=True, help="a checkout of AnyV2V")
    ap.add_argument("--before-python", help="interpreter of the tree to compare against")
    ap.add_argument("--figure", type=Path, help="where to write the before/after figure")
    args = ap.parse_args()
    results, rows = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in DEMOS:
            results[name], rows[name] = measure(name, args.anyv2v, args.before_python, Path(tmp))
    if args.figure:
        figure(rows, args.figure)
    print(json.dumps({"demos": results, "targets": {"persistence_shape": 0.85,
                                                    "warp_gradient_ratio": 1.1,
                                                    "fps_end_to_end": 15.0},
                      "load_average_1min": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
