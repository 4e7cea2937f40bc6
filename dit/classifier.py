"""The evaluator: a small 3D CNN that reads every attribute of a clip, trained on real clips.

It is the judge of generated clips (prompt accuracy in ``benchmarks/dit.py`` and the tests),
so it never sees generated data. One head per attribute of :class:`dit.data.Spec` (shape,
direction, colour, size, speed). Train and ship it with::

    python -m dit.classifier --steps 600 --out assets/dit/classifier
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn
from tqdm.auto import tqdm

from .data import ATTRIBUTES, Spec, make_batch
from .text import ATTRIBUTE_WORDS

HEADS = {k: len(ATTRIBUTE_WORDS[k]) for k in ATTRIBUTES}      # attribute -> number of values


class ClipClassifier(ModelMixin, ConfigMixin):
    """clips (B, F, 3, H, W) in [-1, 1] -> {attribute: logits (B, values)}."""

    @register_to_config
    def __init__(self, width: int = 16):
        super().__init__()
        w = width

        def stage(cin: int, cout: int, stride: tuple[int, int, int]) -> nn.Sequential:
            return nn.Sequential(nn.Conv3d(cin, cout, 3, stride=stride, padding=1),
                                 nn.BatchNorm3d(cout), nn.ReLU(inplace=True))

        self.features = nn.Sequential(stage(3, w, (1, 2, 2)), stage(w, 2 * w, (2, 2, 2)),
                                      stage(2 * w, 4 * w, (2, 2, 2)))
        self.heads = nn.ModuleDict({k: nn.Linear(8 * w, n) for k, n in HEADS.items()})

    def forward(self, clips: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.features(clips.transpose(1, 2)).flatten(2)              # (B, 4w, F/4 * 16)
        # mean and max pooling: the object covers a few cells, which a mean alone dilutes
        x = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)             # (B, 8w)
        return {k: head(x) for k, head in self.heads.items()}

    @torch.no_grad()
    def predict(self, clips: torch.Tensor, batch_size: int = 64) -> list[Spec]:
        """The attributes read from clips (B, F, 3, H, W) in [-1, 1]."""
        self.eval()
        idx = {k: [] for k in HEADS}
        for i in range(0, len(clips), batch_size):
            logits = self(clips[i:i + batch_size].to(self.device, self.dtype))
            for k in HEADS:
                idx[k].append(logits[k].argmax(1).cpu())
        idx = {k: torch.cat(v).tolist() for k, v in idx.items()}
        return [Spec(**{k: ATTRIBUTE_WORDS[k][idx[k][i]] for k in HEADS}) for i in range(len(clips))]


def targets(specs: list[Spec]) -> dict[str, torch.Tensor]:
    """{attribute: (B,) value indices} of specs."""
    return {k: torch.tensor([ATTRIBUTE_WORDS[k].index(getattr(s, k)) for s in specs])
            for k in HEADS}


def train_classifier(steps: int, batch_size: int = 32, seed: int = 1234,
                     progress: bool = True) -> ClipClassifier:
    """A classifier trained for ``steps`` AdamW steps on fresh procedural clips."""
    torch.manual_seed(seed)
    model = ClipClassifier()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    model.train()
    bar = tqdm(range(steps), desc="dit classifier", disable=not progress)
    for step in bar:
        x, specs, _ = make_batch(batch_size, np.random.default_rng([seed, step]))
        logits, y = model(x), targets(specs)
        loss = sum(nn.functional.cross_entropy(logits[k], y[k]) for k in HEADS)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    return model.eval()


def real_accuracy(model: ClipClassifier, n: int = 240, seed: int = 99) -> dict[str, float]:
    """Per-attribute accuracy on ``n`` held-out real clips (a seed the training never used)."""
    x, specs, _ = make_batch(n, np.random.default_rng([seed, 10**6]))
    pred = model.predict(x)
    return {k: float(np.mean([getattr(p, k) == getattr(s, k) for p, s in zip(pred, specs)]))
            for k in HEADS}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Train the DiT evaluation classifier.")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("assets/dit/classifier"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    model = train_classifier(args.steps, args.batch_size)
    acc = real_accuracy(model)
    model.save_pretrained(args.out, safe_serialization=True)
    print(f"held-out real accuracy {acc}; {time.time() - t0:.0f} s; saved {args.out}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
