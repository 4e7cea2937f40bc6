"""Train the latent autoencoder, then the :class:`~dit.models.VideoDiT` on its latents.

    python -m dit.train --out assets/dit --work out/dit-train      # both stages, resumable

Stage 1 (``--stage vae``) trains the per-frame AutoencoderKL of :mod:`dit.autoencoder` on
frames of the procedural clips and saves it to ``OUT/vae``. Stage 2 (``--stage dit``) trains
the DiT on the autoencoder's latents of fresh clips: rectified flow (see :mod:`dit.sample`)
on a velocity target, prompts with random attributes dropped (10 % empty, for classifier-free
guidance), and the first and/or last frame given at random through the condition channels.
AdamW, EMA of the weights, bf16 autocast on GPU (fp32 on CPU), a tqdm bar, a resumable state
per stage in ``--work`` (loaded with ``weights_only=True``; the batch RNG is derived from the
step, so a resumed run sees the same data), and the EMA weights exported as a diffusers model
(``config.json`` + safetensors) with ``loss_curve.png`` and ``training.json`` next to them.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .autoencoder import (LATENT_CHANNELS, build_autoencoder, encode_clips, heldout_psnr,
                          load_autoencoder, set_latent_stats, train_autoencoder)
from .data import NUM_FRAMES, SIZE, make_batch, training_prompt
from .models import DIT_PRESETS, VideoDiT
from .sample import flow_matching_target, frame_condition, velocity
from .text import MAX_TOKENS, VOCAB, token_batch

P_FIRST, P_LAST = 0.5, 0.3          # chance that training gives the first / last frame


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stage", default="all", choices=("all", "vae", "dit"))
    ap.add_argument("--out", type=Path, default=Path("assets/dit"))
    ap.add_argument("--work", type=Path, default=Path("out/dit-train"),
                    help="folder of the resumable training states")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--no-resume", action="store_true")
    ap.add_argument("--vae-steps", type=int, default=1500)
    ap.add_argument("--vae-lr", type=float, default=1e-3)
    ap.add_argument("--kl-weight", type=float, default=1e-6,
                    help="weight of the KL term per latent value, beside the per-pixel MSE")
    ap.add_argument("--vae-minutes", type=float, default=None, help="stop stage 1 after this long")
    ap.add_argument("--preset", default="tiny", choices=sorted(DIT_PRESETS))
    ap.add_argument("--hidden-size", type=int, default=None, help="override the preset's width")
    ap.add_argument("--depth", type=int, default=None, help="override the preset's block count")
    ap.add_argument("--patch-size", type=int, default=2, help="latent pixels per patch side")
    ap.add_argument("--tubelet-size", type=int, default=2, help="latent frames per token")
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--reuse", type=int, default=2,
                    help="steps that share one batch of encoded clips (with fresh noise, noise "
                         "levels, prompts and given frames each step)")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--ema-decay", type=float, default=0.998)
    ap.add_argument("--save-every", type=int, default=250)
    ap.add_argument("--workers", type=int, default=0,
                    help="processes rendering clips ahead of the training step (0: in the loop)")
    ap.add_argument("--max-minutes", type=float, default=None,
                    help="stop stage 2 (and export) after this much training wall time")
    ap.add_argument("--init", type=Path, default=None,
                    help="start stage 2 from a saved DiT folder (model and EMA; a fresh optimizer "
                         "and schedule): continues a finished run")
    return ap.parse_args(argv)


def build_model(args: argparse.Namespace) -> VideoDiT:
    overrides = {k: v for k, v in (("hidden_size", args.hidden_size), ("depth", args.depth))
                 if v is not None}
    return DIT_PRESETS[args.preset](
        **overrides, sample_size=SIZE // 4, num_frames=NUM_FRAMES, in_channels=LATENT_CHANNELS,
        cond_channels=LATENT_CHANNELS + 1, patch_size=args.patch_size,
        tubelet_size=args.tubelet_size, vocab_size=len(VOCAB), max_tokens=MAX_TOKENS)


def sample_sigmas(n: int, generator: torch.Generator) -> torch.Tensor:
    """Logit-normal(0, 1) noise levels (B,) in (0, 1), on the generator's device: most weight
    on the middle of the path."""
    return torch.sigmoid(torch.randn(n, generator=generator, device=generator.device))


def flow_loss(model: VideoDiT, z0: torch.Tensor, prompt_ids: torch.Tensor,
              condition: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
    """Mean squared velocity error on latents z0 (B, F, C, h, w). An x-predicting model's
    velocity divides by sigma, floored at 0.05 so the loss weight stays bounded."""
    noise = torch.randn(z0.shape, generator=generator, device=generator.device).to(z0.device)
    sigma = sample_sigmas(z0.shape[0], generator).to(z0.device)
    zt, target = flow_matching_target(z0, noise, sigma)
    out = model(zt, sigma * 1000, prompt_ids, condition).sample.float()
    kind = model.config.prediction_type
    pred = velocity(out, zt, sigma, kind, min_sigma=0.05)
    if kind == "sample":
        target = velocity(z0, zt, sigma, kind, min_sigma=0.05)
    return torch.nn.functional.mse_loss(pred, target)


class ClipBatches(torch.utils.data.Dataset):
    """Item k: a batch of fresh clips (B, F, 3, H, W) and their specs, rendered from the seed
    [seed, k] — the same in the training loop or in a worker process. The clips travel as
    float16 (half the shared memory a worker's batch takes; off by < 5e-4 in [-1, 1])."""

    def __init__(self, batch_size: int, seed: int):
        self.batch_size, self.seed = batch_size, seed

    def __len__(self) -> int:
        return 2 ** 62

    def __getitem__(self, k: int) -> tuple[torch.Tensor, list]:
        clips, specs, _ = make_batch(self.batch_size, np.random.default_rng([self.seed, k]))
        return clips.half(), specs


def clip_batches(args: argparse.Namespace, first: int, device: torch.device):
    """Iterator over ClipBatches items first, first + 1, …, rendered by ``args.workers``
    processes ahead of the loop when asked."""
    ahead = {} if args.workers == 0 else {"prefetch_factor": 2, "persistent_workers": True}
    return iter(torch.utils.data.DataLoader(
        ClipBatches(args.batch_size, args.seed), batch_size=None, num_workers=args.workers,
        sampler=range(first, 2 ** 62), pin_memory=device.type == "cuda", **ahead))


def encoded_batch(vae, clips: torch.Tensor, specs: list, device: torch.device
                  ) -> tuple[torch.Tensor, list]:
    """Latents (B, F, C, h, w) of a batch of clips (B, F, 3, H, W), and their specs."""
    with torch.no_grad():
        return encode_clips(vae, clips.to(device, non_blocking=True).float()).float(), specs


def training_batch(z0: torch.Tensor, specs: list, rng: np.random.Generator, device: torch.device):
    """(latents (B, F, C, h, w), prompt ids (B, M), condition (B, F, C + 1, h, w)) for encoded
    clips: a prompt with random attributes dropped and random given frames."""
    batch_size = len(specs)
    ids = token_batch([training_prompt(s, rng) for s in specs]).to(device)
    first = torch.from_numpy(rng.random(batch_size) < P_FIRST)
    last = torch.from_numpy(rng.random(batch_size) < P_LAST)
    return z0, ids, frame_condition(z0, first.to(device), last.to(device))


def learning_rate(base: float, step: int, warmup: int, progress: float) -> float:
    """Linear warm-up, constant, then a cosine down to base / 10 over the last 40 % of the run
    (``progress`` in [0, 1]: the larger of the step and the wall-time fractions)."""
    tail = min(1.0, max(0.0, (progress - 0.6) / 0.4))
    # a Python float: a numpy scalar in the optimizer state would not load with weights_only
    return base * min(1.0, (step + 1) / warmup) * (0.1 + 0.45 * (1 + math.cos(math.pi * tail)))


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    torch._foreach_lerp_(list(ema.parameters()), [p.detach() for p in model.parameters()],
                         1 - decay)


def save_loss_curve(losses: list[float], path: Path, ylabel: str, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    y = np.asarray(losses)
    k = max(1, len(y) // 50)
    smooth = np.convolve(y, np.ones(k) / k, mode="valid")
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(y, alpha=0.3, lw=0.7, label="per step")
    ax.plot(np.arange(len(smooth)) + k - 1, smooth, lw=1.5, label=f"mean of {k}")
    ax.set(xlabel="step", ylabel=ylabel, yscale="log", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def save_state(path: Path, step: int, losses: list[float], wall: float, **modules) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({**{k: m.state_dict() for k, m in modules.items()}, "step": torch.tensor(step),
                "losses": torch.tensor(losses), "wall": torch.tensor(wall)}, tmp)
    os.replace(tmp, path)


def load_state(path: Path, device: torch.device, **modules) -> tuple[int, list[float], float]:
    st = torch.load(path, map_location=device, weights_only=True)
    for k, m in modules.items():
        m.load_state_dict(st[k])
    print(f"resumed from {path} at step {int(st['step'])}", file=sys.stderr)
    return int(st["step"]), st["losses"].tolist(), float(st["wall"])


def hardware(device: torch.device, threads: int) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name()}"
    return f"cpu: {platform.processor() or platform.machine()}, {threads} torch threads"


def run_vae_stage(args: argparse.Namespace, device: torch.device, command: str) -> None:
    torch.manual_seed(args.seed)
    vae = build_autoencoder().to(device)
    opt = torch.optim.AdamW(vae.parameters(), lr=args.vae_lr, weight_decay=0.0)
    state = args.work / "vae_state.pt"
    step, losses, wall = 0, [], 0.0
    if state.exists() and not args.no_resume:
        step, losses, wall = load_state(state, device, vae=vae, opt=opt)
    t0 = time.time() - wall
    deadline = None if args.vae_minutes is None else t0 + args.vae_minutes * 60

    def save(at: int) -> None:
        save_state(state, at, losses, time.time() - t0, vae=vae, opt=opt)

    step = train_autoencoder(vae, opt, step, args.vae_steps, args.vae_lr, args.kl_weight,
                             args.seed, losses, deadline, save)
    save(step)
    set_latent_stats(vae)
    out = args.out / "vae"
    vae.save_pretrained(out, safe_serialization=True)
    save_loss_curve(losses, out / "loss_curve.png", "MSE + 0.5 L1 + KL", "autoencoder training loss")
    info = {"command": command, "stage": "vae", "steps": step, "frames_per_step": 64,
            "wall_time_s": round(time.time() - t0, 1), "heldout_psnr_db": round(heldout_psnr(vae), 2),
            "kl_weight": args.kl_weight, "lr": args.vae_lr,
            "parameters": sum(p.numel() for p in vae.parameters()),
            "hardware": hardware(device, args.threads), "torch": torch.__version__}
    (out / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"autoencoder: held-out PSNR {info['heldout_psnr_db']} dB, saved {out}", file=sys.stderr)


def run_dit_stage(args: argparse.Namespace, device: torch.device, command: str) -> None:
    vae = load_autoencoder(args.out / "vae", device)
    torch.manual_seed(args.seed)
    model = build_model(args).to(device)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0, betas=(0.9, 0.99))
    state = args.work / "state.pt"
    step, losses, wall = 0, [], 0.0
    if state.exists() and not args.no_resume:
        step, losses, wall = load_state(state, device, model=model, ema=ema, opt=opt)
    elif args.init is not None:
        start_from(args.init, model, ema)
    info = {"command": command, "stage": "dit", "preset": args.preset,
            "parameters": sum(p.numel() for p in model.parameters()),
            "config": {k: v for k, v in model.config.items() if not k.startswith("_")},
            "batch_size": args.batch_size, "reuse": args.reuse, "lr": args.lr, "ema_decay": args.ema_decay,
            "objective": "rectified flow (velocity), logit-normal sigma, latent space",
            "p_first_frame": P_FIRST, "p_last_frame": P_LAST,
            "hardware": hardware(device, args.threads), "torch": torch.__version__}
    if args.init is not None:
        info["init"] = earlier_run(args.init)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else None
    model.train()
    bar = tqdm(total=args.steps, initial=step, desc="dit", dynamic_ncols=True)
    t0 = time.time() - wall
    encoded, pending = None, []
    batches = clip_batches(args, step // args.reuse, device)
    out_of_time = lambda: args.max_minutes is not None and time.time() - t0 > args.max_minutes * 60  # noqa: E731
    done = step >= args.steps or out_of_time()
    while not done:
        if step % args.reuse == 0 or encoded is None:     # encoding costs as much as a step
            encoded = encoded_batch(vae, *next(batches), device)
        rng = np.random.default_rng([args.seed, step, 1])
        gen = torch.Generator(device).manual_seed(args.seed * 1_000_003 + step)
        z0, ids, cond = training_batch(*encoded, rng, device)
        progress = max(step / args.steps, 0.0 if args.max_minutes is None else
                       (time.time() - t0) / (args.max_minutes * 60))
        for g in opt.param_groups:
            g["lr"] = learning_rate(args.lr, step, args.warmup, progress)
        with amp if amp is not None else torch.autocast("cpu", enabled=False):
            loss = flow_loss(model, z0, ids, cond, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        update_ema(ema, model, min(args.ema_decay, (1 + step) / (10 + step)))
        pending.append(loss.detach())
        step += 1
        bar.update(1)
        done = step >= args.steps or out_of_time()
        save_now = done or step % args.save_every == 0
        if len(pending) == 25 or save_now:   # reading a loss waits for the GPU: 25 at a time
            losses.extend(torch.stack(pending).float().cpu().tolist())
            pending = []
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
        if save_now:
            wall = time.time() - t0
            save_state(state, step, losses, wall, model=model, ema=ema, opt=opt)
            info.update(steps=step, wall_time_s=round(wall, 1),
                        samples_per_s=round(step * args.batch_size / max(wall, 1e-9), 2),
                        final_loss=float(np.mean(losses[-100:])))
            args.out.mkdir(parents=True, exist_ok=True)
            ema.save_pretrained(args.out, safe_serialization=True)
            save_loss_curve(losses, args.out / "loss_curve.png", "flow-matching MSE",
                            "VideoDiT training loss")
            (args.out / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    bar.close()


def start_from(folder: Path, model: VideoDiT, ema: torch.nn.Module) -> None:
    """Load a saved DiT's weights into ``model`` and ``ema`` (same configuration)."""
    saved = VideoDiT.from_pretrained(folder, local_files_only=True, use_safetensors=True)
    model.load_state_dict(saved.state_dict())
    ema.load_state_dict(saved.state_dict())


def earlier_run(folder: Path) -> dict:
    """What the run that made ``folder`` recorded: its command, steps and wall time."""
    path = folder / "training.json"
    if not path.exists():
        return {"folder": str(folder)}
    before = json.loads(path.read_text())
    return {"folder": str(folder), **{k: before.get(k) for k in ("command", "steps", "wall_time_s", "init")}}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    args.work.mkdir(parents=True, exist_ok=True)
    command = "python -m dit.train " + shlex.join(argv if argv is not None else sys.argv[1:])
    if args.stage in ("all", "vae"):
        run_vae_stage(args, device, command)
    if args.stage in ("all", "dit"):
        run_dit_stage(args, device, command)


if __name__ == "__main__":
    main()
