"""The evaluation classifier: a small 3D CNN trained on the real procedural clips.

It is the judge of generated clips (label accuracy in ``benchmarks/dit.py`` and the tests),
so it never sees generated data. Train and ship it with::

    python -m dit.classifier --steps 200 --threads 1 --out assets/dit/classifier
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

from .data import NUM_CLASSES, make_batch


class ClipClassifier(ModelMixin, ConfigMixin):
    """clips (B, F, 3, H, W) in [-1, 1] -> logits (B, num_classes)."""

    @register_to_config
    def __init__(self, num_classes: int = NUM_CLASSES, width: int = 16):
        super().__init__()
        w = width

        def stage(cin: int, cout: int, stride: tuple[int, int, int]) -> nn.Sequential:
            return nn.Sequential(nn.Conv3d(cin, cout, 3, stride=stride, padding=1),
                                 nn.BatchNorm3d(cout), nn.ReLU(inplace=True))

        self.features = nn.Sequential(stage(3, w, (1, 2, 2)), stage(w, 2 * w, (2, 2, 2)),
                                      stage(2 * w, 4 * w, (2, 2, 2)))
        self.head = nn.Linear(4 * w, num_classes)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        x = self.features(clips.transpose(1, 2))            # (B, 4w, F/4, H/8, W/8)
        return self.head(x.mean(dim=(2, 3, 4)))             # (B, num_classes)

    @torch.no_grad()
    def predict(self, clips: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """Predicted labels (B,) for clips (B, F, 3, H, W) in [-1, 1]."""
        self.eval()
        out = [self(clips[i:i + batch_size].to(self.device, self.dtype)).argmax(1).cpu()
               for i in range(0, len(clips), batch_size)]
        return torch.cat(out)


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
        x, y, _ = make_batch(batch_size, np.random.default_rng([seed, step]))
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    return model.eval()


def real_accuracy(model: ClipClassifier, n: int = 240, seed: int = 99) -> float:
    """Accuracy on ``n`` held-out real clips (a seed the training never used)."""
    labels = np.arange(n) % NUM_CLASSES
    x, y, _ = make_batch(n, np.random.default_rng([seed, 10**6]), labels=labels)
    return float((model.predict(x) == y).float().mean())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Train the DiT evaluation classifier.")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("assets/dit/classifier"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    model = train_classifier(args.steps, args.batch_size)
    acc = real_accuracy(model)
    model.save_pretrained(args.out, safe_serialization=True)
    print(f"held-out real accuracy {acc:.3f}; {time.time() - t0:.0f} s; saved {args.out}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
