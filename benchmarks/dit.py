"""Benchmark of the shipped latent VideoDiT; prints one JSON object.

    python benchmarks/dit.py                       # everything
    python benchmarks/dit.py --skip-speed --grid docs/dit_samples   # quality + sample grid

Quality, on ``--clips`` seeded random full prompts with the default sampling: the pixel
measures of :mod:`benchmarks.groundtruth.dit_measures` (one-piece frames, solidity, seams,
every attribute read from the pixels) and the evaluator classifier (trained on real clips
only), each against the prompt; the same on real clips as the ceiling; the 12 old labels as
prompts; and given frames: the first frame (image-to-video) and first + last (in-betweening),
PSNR of the output's given frames against the input. Speed: seconds to sample one clip on one
thread, and training throughput (samples/s) of our model against diffusers'
``LatteTransformer3DModel`` at the same width, depth and tokens, interleaved in the same run.
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
from animakit.dit.autoencoder import decode_clips, encode_clips  # noqa: E402
from animakit.dit.classifier import ClipClassifier, real_accuracy  # noqa: E402
from animakit.dit.data import ATTRIBUTES, LABELS, Spec, make_batch, random_spec, to_uint8  # noqa: E402
from animakit.dit.pipeline import grid_frames, load_model  # noqa: E402
from animakit.dit.sample import frame_condition, sample_latents  # noqa: E402
from animakit.dit.settings import (DEFAULT_GUIDANCE, DEFAULT_GUIDANCE_MIN_NOISE, DEFAULT_SHIFT,  # noqa: E402
                                   DEFAULT_STEPS)
from animakit.dit.text import requested, token_batch  # noqa: E402
from benchmarks.groundtruth.dit_measures import matches, measure_clip, pooled_seam_ratio  # noqa: E402


def generate(model, vae, prompts: list[str], cond: torch.Tensor | None, sampler: dict,
             batch: int = 24, seed: int = 1000) -> torch.Tensor:
    """Clips (N, F, 3, H, W) in [-1, 1] for ``prompts``, seeded per batch."""
    out = []
    for i in range(0, len(prompts), batch):
        c = None if cond is None else cond[i:i + batch]
        z = sample_latents(model, token_batch(prompts[i:i + batch]), c,
                           generator=torch.Generator().manual_seed(seed + i), **sampler)
        out.append(decode_clips(vae, z))
    return torch.cat(out)


def psnr_db(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over items of the PSNR (dB) of images in [-1, 1], a and b (N, 3, H, W)."""
    mse = ((a.float() - b.float()) ** 2).mean(dim=(1, 2, 3)).clamp_min(1e-10)
    return float((10 * torch.log10(4 / mse)).mean())


def quality(clips: torch.Tensor, prompts: list[str], judge: ClipClassifier) -> dict:
    """Pixel measures and prompt accuracy (by the evaluator and by the pixels) of clips."""
    measures = [measure_clip(c) for c in to_uint8(clips)]
    asked = [requested(p) for p in prompts]
    judged = judge.predict(clips)
    by_pixels = [matches(m.read, a) for m, a in zip(measures, asked)]
    by_judge = [matches(j, a) for j, a in zip(judged, asked)]

    def accuracy(hits: list[dict[str, bool]]) -> dict:
        per = {k: float(np.mean([h[k] for h in hits if k in h])) for k in ATTRIBUTES
               if any(k in h for h in hits)}
        return {"all_asked_attributes": float(np.mean([all(h.values()) for h in hits])), **per}
    shape_hits = [m.box_fill_shape == a["shape"] for m, a in zip(measures, asked) if "shape" in a]
    return {"clips": len(prompts),
            "one_piece_frames": float(np.mean([m.one_piece for m in measures])),
            "solidity": float(np.mean([m.solidity for m in measures])),
            "turned_frames": float(np.mean([m.turned for m in measures])),
            "moves_as_prompted": float(np.mean([h.get("direction", True) for h in by_pixels])),
            "seam_ratio": pooled_seam_ratio(measures),
            "median_path_residual_px": float(np.nanmedian([m.path_residual_px for m in measures])),
            "prompt_accuracy_by_pixels": accuracy(by_pixels),
            # the bounding-box fill, the shape reading used before the fit to ideal shapes
            **({"shape_by_box_fill": float(np.mean(shape_hits))} if shape_hits else {}),
            "prompt_accuracy_by_evaluator": accuracy(by_judge)}


def prompt_set(n: int, seed: int = 2024) -> list[Spec]:
    rng = np.random.default_rng(seed)
    return [random_spec(rng) for _ in range(n)]


@torch.no_grad()
def real_reference(judge: ClipClassifier, specs: list[Spec]) -> dict:
    """The same measures on real clips of the same prompts: the ceiling."""
    x, _, _ = make_batch(len(specs), np.random.default_rng([7, 7]), specs=specs)
    q = quality(x, [s.prompt() for s in specs], judge)
    q["evaluator_heldout_accuracy"] = real_accuracy(judge)
    return q


@torch.no_grad()
def given_frames(model, vae, judge, specs: list[Spec], sampler: dict) -> dict:
    """Image-to-video (first frame given, prompt = direction and speed) and in-betweening
    (first and last given, empty prompt): PSNR of the given frames and the motion."""
    real, _, _ = make_batch(len(specs), np.random.default_rng([8, 8]), specs=specs)
    z = encode_clips(vae, real).float()
    n = len(specs)
    yes, no = torch.ones(n, dtype=torch.bool), torch.zeros(n, dtype=torch.bool)
    motion = [s.prompt(frozenset({"direction", "speed"})) for s in specs]
    out: dict = {"autoencoder_psnr_db": psnr_db(decode_clips(vae, z).flatten(0, 1), real.flatten(0, 1))}
    for pin in (True, False):
        sampler_pin = {**sampler, "pin_given": pin}
        i2v = generate(model, vae, motion, frame_condition(z, yes, no), sampler_pin)
        tween = generate(model, vae, [""] * n, frame_condition(z, yes, yes), sampler_pin)
        key = "pinned" if pin else "model_only"
        out[key] = {"first_frame_psnr_db": psnr_db(i2v[:, 0], real[:, 0]),
                    "image_to_video": quality(i2v, motion, judge),
                    "inbetween_first_psnr_db": psnr_db(tween[:, 0], real[:, 0]),
                    "inbetween_last_psnr_db": psnr_db(tween[:, -1], real[:, -1]),
                    "inbetween_middle_psnr_db": psnr_db(tween[:, 8], real[:, 8])}
    return out


SCREEN = ({}, {"steps": 8}, {"steps": 12}, {"steps": 16}, {"steps": 20}, {"steps": 24},
          {"guidance_scale": 2.0}, {"guidance_scale": 4.0}, {"guidance_min_noise": 0.0},
          {"shift": 3.0})


def screen(model, vae, judge, n: int, sampler: dict) -> list[dict]:
    """The headline measures of ``n`` clips for each sampling change in :data:`SCREEN` (same
    prompts and seeds), with the wall time per clip."""
    specs = prompt_set(n, 99)
    prompts = [s.prompt() for s in specs]
    rows = []
    for change in SCREEN:
        t0 = time.perf_counter()
        q = quality(generate(model, vae, prompts, None, {**sampler, **change}), prompts, judge)
        rows.append({"change": change or "default", "s_per_clip": round((time.perf_counter() - t0) / n, 3),
                     **{k: q[k] for k in ("one_piece_frames", "solidity", "moves_as_prompted", "seam_ratio")},
                     "all_attributes_by_pixels": q["prompt_accuracy_by_pixels"]["all_asked_attributes"],
                     "shape_by_pixels": q["prompt_accuracy_by_pixels"]["shape"],
                     "all_attributes_by_evaluator": q["prompt_accuracy_by_evaluator"]["all_asked_attributes"]})
    return rows


def old_labels(model, vae, judge, per_label: int, sampler: dict) -> dict:
    prompts = list(LABELS) * per_label
    return quality(generate(model, vae, prompts, None, sampler), prompts, judge)


def sample_time(model, vae, sampler: dict, clips: int = 1, repeats: int = 3) -> float:
    """Median seconds per clip to sample and decode ``clips`` clips at once."""
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        generate(model, vae, ["a small green triangle moving left fast"] * clips, None, sampler,
                 seed=r)
        times.append((time.perf_counter() - t0) / clips)
    return statistics.median(times)


def speed_models(width: int, blocks: int, heads: int, channels: int) -> tuple[torch.nn.Module, ...]:
    """Ours (per-frame patches of 2 latent pixels, ``blocks`` alternating blocks, prompt
    cross-attention) and Latte with ``blocks / 2`` spatial + ``blocks / 2`` temporal blocks: same
    width, depth and tokens (16 x 4 x 4), both cross-attending to 8 prompt tokens."""
    from diffusers import LatteTransformer3DModel
    from animakit.dit.models import VideoDiT
    torch.manual_seed(0)
    ours = VideoDiT(sample_size=8, num_frames=16, in_channels=channels, cond_channels=channels + 1,
                    patch_size=2, tubelet_size=1, hidden_size=width, depth=blocks, num_heads=heads)
    latte = LatteTransformer3DModel(
        num_attention_heads=heads, attention_head_dim=width // heads,
        in_channels=2 * channels + 1, out_channels=channels, num_layers=blocks // 2,
        sample_size=8, patch_size=2, norm_type="ada_norm_single", caption_channels=width,
        cross_attention_dim=width, activation_fn="gelu-approximate", attention_bias=True,
        norm_elementwise_affine=False, norm_eps=1e-6, video_length=16)
    return ours, latte


def train_step_fn(model: torch.nn.Module, batch: int, channels: int):
    """A closure doing one AdamW step of an MSE loss on random data for ``model``."""
    from diffusers import LatteTransformer3DModel
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, 16, channels, 8, 8)
    cond = torch.randn(batch, 16, channels + 1, 8, 8)
    target = torch.randn_like(x)
    t = torch.rand(batch) * 1000
    ids = token_batch(["a small green triangle moving left fast"] * batch)
    text = torch.randn(batch, ids.shape[1], model.config.get("caption_channels") or 1)
    latte = isinstance(model, LatteTransformer3DModel)

    def step() -> None:
        if latte:      # Latte takes (B, C, F, H, W); its caption is 8 random prompt features
            out = model(torch.cat([x, cond], 2).transpose(1, 2), timestep=t.long(),
                        encoder_hidden_states=text).sample.transpose(1, 2)
        else:
            out = model(x, t, ids, cond).sample
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


def train_throughput(batch: int, rounds: int, iters: int, channels: int, width: int = 128,
                     blocks: int = 8, heads: int = 4) -> dict:
    """Samples/s of ours and Latte, best of ``rounds`` interleaved rounds (the least disturbed
    by other jobs on a shared machine) and their median."""
    ours, latte = speed_models(width, blocks, heads, channels)
    steps = {"ours": train_step_fn(ours.train(), batch, channels),
             "latte": train_step_fn(latte.train(), batch, channels)}
    per_iter = timed_rounds(steps, rounds, iters)
    best = {k: batch / min(v) for k, v in per_iter.items()}
    median = {k: batch / statistics.median(v) for k, v in per_iter.items()}
    return {"tokens_per_clip": 16 * 4 * 4, "width": width,
            "depth": f"{blocks // 2} spatial + {blocks // 2} temporal blocks", "batch": batch,
            "ours_params": sum(p.numel() for p in ours.parameters()),
            "latte_params": sum(p.numel() for p in latte.parameters()),
            "estimator": f"best of {rounds} interleaved rounds of {iters} steps",
            "ours_samples_per_s": round(best["ours"], 2), "latte_samples_per_s": round(best["latte"], 2),
            "speedup": round(best["ours"] / best["latte"], 3),
            "ours_samples_per_s_median": round(median["ours"], 2),
            "latte_samples_per_s_median": round(median["latte"], 2),
            "speedup_median": round(median["ours"] / median["latte"], 3)}


def shipped_train_throughput(model, batch: int, rounds: int, iters: int) -> dict:
    """Samples/s of a fresh model with the shipped config (tubelets): the speed of
    ``python -m dit.train`` without data, encoding and EMA."""
    from animakit.dit.models import VideoDiT
    torch.manual_seed(0)
    fresh = VideoDiT.from_config(model.config).train()
    per_iter = timed_rounds({"shipped": train_step_fn(fresh, batch, model.config.in_channels)},
                            rounds, iters)["shipped"]
    return {"batch": batch, "samples_per_s": round(batch / min(per_iter), 2),
            "samples_per_s_median": round(batch / statistics.median(per_iter), 2)}


def write_grid(clips: torch.Tensor, stem: Path, cols: int, upscale: int = 3, colors: int = 64) -> None:
    """STEM.gif (clips tiled ``cols`` wide, animated, upscaled, one shared palette so it stays a
    few hundred KB) and STEM.png (every third frame of each clip as a row)."""
    from PIL import Image
    frames = to_uint8(clips)
    big = grid_frames(frames, upscale, cols=cols)
    stem.parent.mkdir(parents=True, exist_ok=True)
    palette = Image.fromarray(np.concatenate(list(big[::3]), axis=0)).quantize(
        colors, dither=Image.Dither.NONE)
    gif = [Image.fromarray(fr).quantize(palette=palette, dither=Image.Dither.NONE) for fr in big]
    gif[0].save(stem.with_suffix(".gif"), save_all=True, append_images=gif[1:], duration=125, loop=0)
    rows = [np.concatenate(list(c[::3]), axis=1) for c in frames]
    Image.fromarray(np.concatenate(rows, axis=0).repeat(3, 0).repeat(3, 1)).save(stem.with_suffix(".png"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default=str(ASSETS / "dit"))
    ap.add_argument("--classifier", default=str(ASSETS / "dit" / "classifier"))
    ap.add_argument("--clips", type=int, default=96, help="random full prompts to generate")
    ap.add_argument("--per-label", type=int, default=4, help="clips per old label")
    ap.add_argument("--given", type=int, default=48, help="clips per given-frame test")
    ap.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    ap.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE)
    ap.add_argument("--shift", type=float, default=DEFAULT_SHIFT, help="scheduler time shift")
    ap.add_argument("--guidance-min-noise", type=float, default=DEFAULT_GUIDANCE_MIN_NOISE,
                    help="guide only at noise levels >= this")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--speed-batch", type=int, default=8)
    ap.add_argument("--speed-rounds", type=int, default=5)
    ap.add_argument("--speed-iters", type=int, default=3)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--grid", type=Path, default=None, help="write STEM.gif and STEM.png")
    ap.add_argument("--screen", type=int, default=0, metavar="N",
                    help="also screen sampling options on N clips each")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, vae = load_model(args.weights)
    sampler = {"steps": args.steps, "guidance_scale": args.guidance, "shift": args.shift,
               "guidance_min_noise": args.guidance_min_noise}
    result: dict = {"checkpoint": args.weights, "device": "cpu", "torch_threads": args.threads,
                    "parameters": sum(p.numel() for p in model.parameters()),
                    "autoencoder_parameters": sum(p.numel() for p in vae.parameters()),
                    "config": {k: v for k, v in model.config.items() if not k.startswith("_")},
                    "sampling": {"scheduler": "FlowMatchEulerDiscreteScheduler", **sampler}}
    if not args.skip_quality:
        judge = ClipClassifier.from_pretrained(args.classifier, local_files_only=True).eval()
        specs = prompt_set(args.clips)
        prompts = [s.prompt() for s in specs]
        t0 = time.perf_counter()
        clips = generate(model, vae, prompts, None, sampler)
        result["generated"] = quality(clips, prompts, judge)
        result["generated"]["generation_wall_s"] = round(time.perf_counter() - t0, 1)
        result["real_reference"] = real_reference(judge, specs)
        result["old_labels"] = old_labels(model, vae, judge, args.per_label, sampler)
        result["given_frames"] = given_frames(model, vae, judge, prompt_set(args.given, 77), sampler)
        if args.screen:
            result["sampling_screen"] = screen(model, vae, judge, args.screen, sampler)
        if args.grid:
            write_grid(clips[:24], args.grid, cols=6)
            args.grid.with_suffix(".txt").write_text("\n".join(prompts[:24]) + "\n")
            result["grid"] = [str(args.grid.with_suffix(".gif")), str(args.grid.with_suffix(".png"))]
    if not args.skip_speed:
        torch.set_num_threads(1)
        result["sample_s_per_clip_1_thread"] = round(sample_time(model, vae, sampler), 3)
        result["sample_s_per_clip_1_thread_batch_8"] = round(sample_time(model, vae, sampler, 8), 3)
        torch.set_num_threads(args.threads)
        result["train_throughput"] = train_throughput(args.speed_batch, args.speed_rounds,
                                                      args.speed_iters, model.config.in_channels)
        result["train_throughput_shipped_config"] = shipped_train_throughput(
            model, args.speed_batch, args.speed_rounds, args.speed_iters)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
