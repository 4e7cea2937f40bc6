"""Train a :class:`~dit.models.VideoDiT` on the procedural clips of :mod:`dit.data`.

    python -m dit.train --preset tiny --steps 3000 --out assets/dit --work /tmp/dit-run

Rectified-flow objective (see :mod:`dit.sample`), AdamW, EMA of the weights, bf16 autocast on
GPU (fp32 on CPU), a tqdm bar, a resumable training state in ``--work`` (``state.pt``, loaded
with ``weights_only=True``), and at the end (and at every ``--save-every``) the EMA weights as
a diffusers model (``config.json`` + ``diffusion_pytorch_model.safetensors``) in ``--out`` with
``loss_curve.png`` and ``training.json`` next to them.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .data import NUM_CLASSES, NUM_FRAMES, SIZE, make_batch
from .models import DIT_PRESETS, VideoDiT
from .sample import flow_matching_target, velocity


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="tiny", choices=sorted(DIT_PRESETS))
    ap.add_argument("--hidden-size", type=int, default=None, help="override the preset's width")
    ap.add_argument("--depth", type=int, default=None, help="override the preset's block count")
    ap.add_argument("--patch-size", type=int, default=4)
    ap.add_argument("--tubelet-size", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--ema-decay", type=float, default=0.995)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--out", type=Path, default=Path("assets/dit"))
    ap.add_argument("--work", type=Path, default=Path("out/dit-train"),
                    help="folder of the resumable training state")
    ap.add_argument("--save-every", type=int, default=250)
    ap.add_argument("--max-minutes", type=float, default=None,
                    help="stop (and export) after this much training wall time")
    ap.add_argument("--no-resume", action="store_true")
    ap.add_argument("--refiner-channels", type=int, default=0,
                    help="add a full-resolution conv refiner head with this many channels")
    ap.add_argument("--refiner-lr", type=float, default=None, help="default: --lr")
    ap.add_argument("--init-from", type=Path, default=None,
                    help="start a fresh run from the weights of a saved VideoDiT folder (layers it "
                         "lacks, e.g. a new refiner, keep their initialisation)")
    return ap.parse_args(argv)


def build_model(args: argparse.Namespace) -> VideoDiT:
    overrides = {k: v for k, v in (("hidden_size", args.hidden_size), ("depth", args.depth))
                 if v is not None}
    return DIT_PRESETS[args.preset](**overrides, sample_size=SIZE, num_frames=NUM_FRAMES, in_channels=3,
                                    patch_size=args.patch_size, tubelet_size=args.tubelet_size,
                                    num_classes=NUM_CLASSES, refiner_channels=args.refiner_channels)


def sample_sigmas(n: int, generator: torch.Generator) -> torch.Tensor:
    """Logit-normal(0, 1) noise levels (B,) in (0, 1): most weight on the middle of the path."""
    return torch.sigmoid(torch.randn(n, generator=generator))


def flow_loss(model: VideoDiT, x0: torch.Tensor, labels: torch.Tensor,
              generator: torch.Generator) -> torch.Tensor:
    """Mean squared velocity error on a batch x0 (B, F, C, H, W) in [-1, 1]. An x-predicting
    model's velocity divides by sigma, floored at 0.05 so the loss weight stays bounded."""
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    sigma = sample_sigmas(x0.shape[0], generator).to(x0.device)
    xt, target = flow_matching_target(x0, noise, sigma)
    out = model(xt, sigma * 1000, labels).sample.float()
    kind = model.config.prediction_type
    pred = velocity(out, xt, sigma, kind, min_sigma=0.05)
    if kind == "sample":        # same floor on the target: ||x0_hat - x0||^2 / max(sigma, 0.05)^2
        target = velocity(x0, xt, sigma, kind, min_sigma=0.05)
    return torch.nn.functional.mse_loss(pred, target)


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p.detach(), 1 - decay)


def save_loss_curve(losses: list[float], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    y = np.asarray(losses)
    k = max(1, len(y) // 50)
    smooth = np.convolve(y, np.ones(k) / k, mode="valid")
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(y, alpha=0.3, lw=0.7, label="per step")
    ax.plot(np.arange(len(smooth)) + k - 1, smooth, lw=1.5, label=f"mean of {k}")
    ax.set(xlabel="step", ylabel="flow-matching MSE", yscale="log", title="VideoDiT training loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def export(ema: VideoDiT, out: Path, losses: list[float], info: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    ema.save_pretrained(out, safe_serialization=True)
    save_loss_curve(losses, out / "loss_curve.png")
    (out / "training.json").write_text(json.dumps(info, indent=2) + "\n")


def save_state(path: Path, model, ema, opt, step: int, losses: list[float], wall: float) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                "step": torch.tensor(step), "losses": torch.tensor(losses),
                "wall": torch.tensor(wall)}, tmp)
    os.replace(tmp, path)


def param_groups(model: VideoDiT, args: argparse.Namespace) -> list[dict]:
    """AdamW groups: the refiner (if any) at ``--refiner-lr``, everything else at ``--lr``."""
    refiner = [p for n, p in model.named_parameters() if n.startswith("refiner.")]
    rest = [p for n, p in model.named_parameters() if not n.startswith("refiner.")]
    groups = [{"params": rest, "lr": args.lr, "base_lr": args.lr}]
    if refiner:
        lr = args.refiner_lr or args.lr
        groups.append({"params": refiner, "lr": lr, "base_lr": lr})
    return groups


def init_weights(model: VideoDiT, ema: VideoDiT, folder: Path) -> None:
    """Copy a saved VideoDiT's weights into model and ema; only refiner layers may be missing."""
    src = VideoDiT.from_pretrained(folder, local_files_only=True, use_safetensors=True).state_dict()
    for m in (model, ema):
        missing, unexpected = m.load_state_dict(src, strict=False)
        if unexpected or any(not k.startswith("refiner.") for k in missing):
            raise ValueError(f"{folder}: weights do not fit this model (missing {missing}, "
                             f"unexpected {unexpected})")
    print(f"initialised from {folder}", file=sys.stderr)


def _out_of_time(args: argparse.Namespace, elapsed_s: float) -> bool:
    return args.max_minutes is not None and elapsed_s > args.max_minutes * 60


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(args.seed)
    model = build_model(args).to(device)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.AdamW(param_groups(model, args), weight_decay=0.0, betas=(0.9, 0.99))
    step, losses, wall = 0, [], 0.0
    state_path = args.work / "state.pt"
    args.work.mkdir(parents=True, exist_ok=True)
    if state_path.exists() and not args.no_resume:
        st = torch.load(state_path, map_location=device, weights_only=True)
        model.load_state_dict(st["model"])
        ema.load_state_dict(st["ema"])
        opt.load_state_dict(st["opt"])
        step, losses, wall = int(st["step"]), st["losses"].tolist(), float(st["wall"])
        print(f"resumed from {state_path} at step {step}", file=sys.stderr)
    elif args.init_from is not None:
        init_weights(model, ema, args.init_from)
    n_params = sum(p.numel() for p in model.parameters())
    info = {"command": "python -m dit.train " + shlex.join(argv if argv is not None else sys.argv[1:]),
            "preset": args.preset, "parameters": n_params,
            "config": {k: v for k, v in model.config.items() if not k.startswith("_")},
            "batch_size": args.batch_size, "lr": args.lr, "refiner_lr": args.refiner_lr, "ema_decay": args.ema_decay,
            "objective": "rectified flow (velocity), logit-normal sigma",
            "hardware": f"{device.type}: " + (torch.cuda.get_device_name() if device.type == "cuda"
                                               else f"{platform.processor() or platform.machine()}, "
                                                    f"{args.threads} torch threads"),
            "torch": torch.__version__,
            "init_from": str(args.init_from) if args.init_from else None}
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else None
    model.train()
    bar = tqdm(total=args.steps, initial=step, desc="dit train", dynamic_ncols=True)
    t0 = time.time() - wall
    while step < args.steps and not _out_of_time(args, time.time() - t0):
        rng = np.random.default_rng([args.seed, step])        # resumable without saved RNG state
        gen = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
        x0, labels, _ = make_batch(args.batch_size, rng)
        x0, labels = x0.to(device), labels.to(device)
        for g in opt.param_groups:
            g["lr"] = g["base_lr"] * min(1.0, (step + 1) / args.warmup)
        if amp is not None:
            with amp:
                loss = flow_loss(model, x0, labels, gen)
        else:
            loss = flow_loss(model, x0, labels, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        update_ema(ema, model, min(args.ema_decay, (1 + step) / (10 + step)))
        losses.append(loss.item())
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
        if step % args.save_every == 0 or step == args.steps or _out_of_time(args, time.time() - t0):
            wall = time.time() - t0
            save_state(state_path, model, ema, opt, step, losses, wall)
            info.update(steps=step, wall_time_s=round(wall, 1),
                        samples_per_s=round(step * args.batch_size / wall, 2),
                        final_loss=float(np.mean(losses[-100:])))
            export(ema, args.out, losses, info)
    bar.close()


if __name__ == "__main__":
    main()
