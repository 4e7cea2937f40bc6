"""Benchmark of the shipped VideoDiT; prints one JSON object.

    python benchmarks/dit.py                       # everything
    python benchmarks/dit.py --skip-speed --grid docs/dit_samples   # quality + sample grid

Quality: ``--clips-per-label`` clips per label generated with the default sampling, judged by
the shipped classifier (trained on real procedural clips only) and by the object tracker of
:mod:`benchmarks.groundtruth.dit_measures`. Speed: seconds to sample one clip, and training throughput (samples/s) of
our model against diffusers' ``LatteTransformer3DModel`` at the same width, depth and tokens,
interleaved in the same run (best of N rounds, median beside it), and of a fresh model with the
shipped config (tubelets and pixel refiner), the speed training runs at.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from animakit import ASSETS  # noqa: E402
from animakit.dit.classifier import ClipClassifier, real_accuracy  # noqa: E402
from animakit.dit.data import LABELS, NUM_CLASSES, make_batch, to_uint8  # noqa: E402
from benchmarks.groundtruth.dit_measures import measure_clip  # noqa: E402
from animakit.dit.models import VideoDiT  # noqa: E402
from animakit.dit.pipeline import grid_frames, load_model  # noqa: E402
from animakit.dit.sample import (DEFAULT_GUIDANCE, DEFAULT_NEGATIVE, DEFAULT_SHIFT,  # noqa: E402
                        DEFAULT_STEPS, NEGATIVES, sample_clips)


def generate_all(model: VideoDiT, per_label: int, steps: int, guidance: float,
                 batch: int = 24, **sampler) -> tuple[torch.Tensor, torch.Tensor]:
    """clips (N, F, C, H, W) and labels (N,), ``per_label`` clips of every label, seeded."""
    labels = torch.arange(NUM_CLASSES).repeat(per_label)
    out = []
    for i in range(0, len(labels), batch):
        gen = torch.Generator().manual_seed(1000 + i)
        out.append(sample_clips(model, labels[i:i + batch], steps=steps, guidance_scale=guidance,
                                generator=gen, **sampler))
    return torch.cat(out), labels


def quality(clips: torch.Tensor, labels: torch.Tensor, judge: ClipClassifier) -> dict:
    pred = judge.predict(clips)
    frames = to_uint8(clips)
    measures = [measure_clip(c, int(y)) for c, y in zip(frames, labels)]
    per_label = {LABELS[k]: float((pred[labels == k] == k).float().mean()) for k in range(NUM_CLASSES)}
    cv = [m.area_cv for m in measures if np.isfinite(m.area_cv)]
    res = [m.path_residual_px for m in measures if np.isfinite(m.path_residual_px)]
    return {"clips": len(labels),
            "label_accuracy": float((pred == labels).float().mean()),
            "classifier_shape_accuracy": float((pred // 4 == labels // 4).float().mean()),
            "classifier_direction_accuracy": float((pred % 4 == labels % 4).float().mean()),
            "direction_accuracy": float(np.mean([m.direction_ok for m in measures])),
            "tracked_fraction": float(np.mean([m.direction is not None for m in measures])),
            "median_object_area_cv": float(np.median(cv)) if cv else None,
            "median_path_residual_px": float(np.median(res)) if res else None,
            "per_label_accuracy": per_label}


def real_reference(judge: ClipClassifier, n: int = 96) -> dict:
    """The same measures on real clips: the ceiling the generated clips are judged against."""
    labels = np.arange(n) % NUM_CLASSES
    x, y, _ = make_batch(n, np.random.default_rng([7, 7]), labels=labels)
    q = quality(x, y, judge)
    q.pop("per_label_accuracy")
    q["classifier_heldout_accuracy"] = real_accuracy(judge)
    return q


def sample_time(model: VideoDiT, steps: int, guidance: float, repeats: int = 3, **sampler) -> float:
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        sample_clips(model, [r % NUM_CLASSES], steps=steps, guidance_scale=guidance,
                     generator=torch.Generator().manual_seed(r), **sampler)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def speed_models(width: int, blocks: int, heads: int, patch: int) -> tuple[torch.nn.Module, ...]:
    """Ours (per-frame patches, ``blocks`` alternating blocks) and Latte with ``blocks / 2``
    spatial + ``blocks / 2`` temporal blocks: same width, depth and tokens (16 x (32/patch)^2)."""
    from diffusers import LatteTransformer3DModel
    torch.manual_seed(0)
    ours = VideoDiT(sample_size=32, num_frames=16, patch_size=patch, tubelet_size=1,
                    hidden_size=width, depth=blocks, num_heads=heads, num_classes=NUM_CLASSES)
    latte = LatteTransformer3DModel(
        num_attention_heads=heads, attention_head_dim=width // heads, in_channels=3,
        out_channels=3, num_layers=blocks // 2, sample_size=32, patch_size=patch,
        norm_type="ada_norm_single", caption_channels=width, cross_attention_dim=width,
        activation_fn="gelu-approximate", attention_bias=True, norm_elementwise_affine=False,
        norm_eps=1e-6, video_length=16)
    return ours, latte


def train_step_fn(model: torch.nn.Module, batch: int):
    """A closure doing one AdamW step of an MSE loss on random data for ``model``."""
    from diffusers import LatteTransformer3DModel
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, 16, 3, 32, 32)
    target = torch.randn_like(x)
    t = torch.rand(batch) * 1000
    labels = torch.randint(0, NUM_CLASSES, (batch,))
    text = torch.randn(batch, 1, model.config.get("caption_channels") or 1)
    latte = isinstance(model, LatteTransformer3DModel)

    def step() -> None:
        if latte:      # Latte takes (B, C, F, H, W) and a 1-token "caption" for the label
            out = model(x.transpose(1, 2), timestep=t.long(), encoder_hidden_states=text).sample
            out = out.transpose(1, 2)
        else:
            out = model(x, t, labels).sample
        loss = torch.nn.functional.mse_loss(out, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def timed_rounds(steps: dict, rounds: int, iters: int) -> dict[str, list[float]]:
    """Seconds per step of each closure in ``steps``, ``rounds`` times, interleaved so that every
    closure meets the same machine load; two warm-up steps each first."""
    for fn in steps.values():
        fn()
        fn()
    per_iter: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(rounds):
        for name, fn in steps.items():
            t0 = time.perf_counter()
            for _ in range(iters):
                fn()
            per_iter[name].append((time.perf_counter() - t0) / iters)
    return per_iter


def train_throughput(batch: int, rounds: int, iters: int, width: int = 128, blocks: int = 6,
                     heads: int = 4, patch: int = 8) -> dict:
    """Samples/s of ours and Latte, best of ``rounds`` interleaved rounds (the least disturbed
    by other jobs on a shared machine) and their median."""
    ours, latte = speed_models(width, blocks, heads, patch)
    steps = {"ours": train_step_fn(ours.train(), batch), "latte": train_step_fn(latte.train(), batch)}
    per_iter = timed_rounds(steps, rounds, iters)
    best = {k: batch / min(v) for k, v in per_iter.items()}
    median = {k: batch / statistics.median(v) for k, v in per_iter.items()}
    return {"tokens_per_clip": 16 * (32 // patch) ** 2, "width": width,
            "depth": f"{blocks // 2} spatial + {blocks // 2} temporal blocks", "batch": batch,
            "ours_params": sum(p.numel() for p in ours.parameters()),
            "latte_params": sum(p.numel() for p in latte.parameters()),
            "estimator": f"best of {rounds} interleaved rounds of {iters} steps",
            "ours_samples_per_s": round(best["ours"], 2), "latte_samples_per_s": round(best["latte"], 2),
            "speedup": round(best["ours"] / best["latte"], 3),
            "ours_samples_per_s_median": round(median["ours"], 2),
            "latte_samples_per_s_median": round(median["latte"], 2),
            "speedup_median": round(median["ours"] / median["latte"], 3)}


def shipped_train_throughput(model: VideoDiT, batch: int, rounds: int, iters: int) -> dict:
    """Samples/s of a fresh model with the shipped checkpoint's config (tubelets, pixel refiner):
    the speed ``python -m dit.train`` trains at, without data generation and EMA."""
    torch.manual_seed(0)
    fresh = VideoDiT.from_config(model.config).train()
    per_iter = timed_rounds({"shipped": train_step_fn(fresh, batch)}, rounds, iters)["shipped"]
    return {"batch": batch, "samples_per_s": round(batch / min(per_iter), 2),
            "samples_per_s_median": round(batch / statistics.median(per_iter), 2)}


def write_grid(clips: torch.Tensor, labels: torch.Tensor, stem: Path, upscale: int = 3,
               colors: int = 64) -> None:
    """docs/dit_samples.gif (3 shapes x 4 directions, animated, upscaled ``upscale`` times, one
    shared ``colors``-colour palette so it stays a few hundred KB) and .png (one row of frames
    per label)."""
    from PIL import Image
    first = to_uint8(torch.stack([clips[labels == k][0] for k in range(NUM_CLASSES)]))
    n, f, h, w, _ = first.shape
    big = grid_frames(first, upscale)                            # 4 x 3 grid, label order
    stem.parent.mkdir(parents=True, exist_ok=True)
    palette = Image.fromarray(np.concatenate(list(big[::3]), axis=0)).quantize(
        colors, dither=Image.Dither.NONE)
    gif = [Image.fromarray(fr).quantize(palette=palette, dither=Image.Dither.NONE) for fr in big]
    gif[0].save(stem.with_suffix(".gif"), save_all=True, append_images=gif[1:], duration=125, loop=0)
    rows = [np.concatenate(list(first[k, ::3]), axis=1) for k in range(n)]
    Image.fromarray(np.concatenate(rows, axis=0).repeat(3, 0).repeat(3, 1)).save(stem.with_suffix(".png"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default=str(ASSETS / "dit"))
    ap.add_argument("--classifier", default=str(ASSETS / "dit" / "classifier"))
    ap.add_argument("--clips-per-label", type=int, default=8)
    ap.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    ap.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE)
    ap.add_argument("--shift", type=float, default=DEFAULT_SHIFT, help="scheduler time shift")
    ap.add_argument("--negative", default=DEFAULT_NEGATIVE, choices=NEGATIVES,
                    help="what guidance pushes away from")
    ap.add_argument("--guidance-interval", type=float, nargs=2, default=(0.0, 1.0),
                    metavar=("LO", "HI"), help="guide only for sigma in [LO, HI]")
    ap.add_argument("--grid-jitter", type=int, default=0,
                    help="model calls per step on randomly rolled inputs (0 = off)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--speed-batch", type=int, default=8)
    ap.add_argument("--speed-rounds", type=int, default=5)
    ap.add_argument("--speed-iters", type=int, default=3)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--grid", type=Path, default=None, help="write STEM.gif and STEM.png")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.weights)
    sampler = {"shift": args.shift, "negative": args.negative,
               "guidance_interval": tuple(args.guidance_interval), "grid_jitter": args.grid_jitter}
    result: dict = {"checkpoint": args.weights, "device": "cpu", "torch_threads": args.threads,
                    "parameters": sum(p.numel() for p in model.parameters()),
                    "config": {k: v for k, v in model.config.items() if not k.startswith("_")},
                    "sampling": {"scheduler": "FlowMatchEulerDiscreteScheduler",
                                 "steps": args.steps, "guidance_scale": args.guidance,
                                 **sampler}}
    if not args.skip_quality:
        judge = ClipClassifier.from_pretrained(args.classifier, local_files_only=True).eval()
        t0 = time.perf_counter()
        clips, labels = generate_all(model, args.clips_per_label, args.steps, args.guidance,
                                     **sampler)
        result["generated"] = quality(clips, labels, judge)
        result["generated"]["generation_wall_s"] = round(time.perf_counter() - t0, 1)
        result["real_reference"] = real_reference(judge)
        if args.grid:
            write_grid(clips, labels, args.grid)
            result["grid"] = [str(args.grid.with_suffix(".gif")), str(args.grid.with_suffix(".png"))]
    if not args.skip_speed:
        result["sample_one_clip_s"] = round(sample_time(model, args.steps, args.guidance, **sampler), 3)
        result["train_throughput"] = train_throughput(args.speed_batch, args.speed_rounds,
                                                      args.speed_iters)
        result["train_throughput_shipped_config"] = shipped_train_throughput(
            model, args.speed_batch, args.speed_rounds, args.speed_iters)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
