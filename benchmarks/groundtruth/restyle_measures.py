"""Temporal stability of a restyled clip: warp error divided by the output's mean spatial
gradient, both over the pixels the source's own flow tracks reliably.

A styled video that boils changes where the scene does not move; its consecutive frames,
aligned by the *source's* optical flow, disagree. Dividing by the mean gradient makes
looks of different contrast comparable (an ink-line look has more edges to misalign
than a soft wash), so the ratio between two renderings of one look (carried by flow
vs filtered frame by frame) is the measure of boiling.
"""
from __future__ import annotations

import numpy as np

from animakit.editing.flow import FlowEstimator, fb_consistency, warp


def source_flows(sources: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """For t = 1..N-1: (backward flow t -> t-1, (H, W) bool mask of reliable pixels)."""
    dis = FlowEstimator("medium")
    out = []
    for a, b in zip(sources[:-1], sources[1:]):
        back, fwd = dis(b, a), dis(a, b)
        out.append((back, fb_consistency(back, fwd)))
    return out


def warp_error_over_gradient(frames: list[np.ndarray],
                             flows: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean over t of |out_t - warp(out_{t-1})| / mean |grad out_t| on reliable pixels."""
    ratios = []
    for t, (back, ok) in enumerate(flows, start=1):
        cur = frames[t].astype(np.float32)
        prev = warp(frames[t - 1].astype(np.float32), back)
        err = np.abs(cur - prev).mean(axis=2)
        gray = cur.mean(axis=2)
        grad = np.abs(np.diff(gray, axis=0, append=gray[-1:])) + \
            np.abs(np.diff(gray, axis=1, append=gray[:, -1:]))
        m = ok & (np.abs(back).sum(axis=2) < 1e6)
        if m.sum() < 0.05 * m.size:
            continue
        ratios.append(err[m].mean() / max(grad[m].mean(), 1e-3))
    return float(np.mean(ratios))
