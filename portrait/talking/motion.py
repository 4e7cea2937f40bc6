"""Temporal smoothing for per-frame motion signals (landmarks, poses, audio envelopes).

All filters are causal and stateful: feed one sample (a scalar or an array of any shape)
per frame with :meth:`__call__`, so they run on endless streams in constant memory.

- :class:`OneEuroFilter` — Casiez et al. 2012: a low-pass whose cutoff rises with speed,
  removing jitter at rest while following fast motion with little lag.
- :class:`AttackRelease` — envelope follower with separate rise and fall times.
- :class:`HoldAndEase` — fills gaps (lost tracking): holds the last value, then eases it
  toward a rest value; eases back in when samples return.
"""
from __future__ import annotations

import math

import numpy as np


def smoothing_alpha(cutoff_hz: float, dt: float) -> float:
    """Exponential-smoothing weight of a first-order low-pass at ``cutoff_hz`` sampled every ``dt`` s."""
    tau = 1.0 / (2.0 * math.pi * max(cutoff_hz, 1e-6))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter over arrays of any fixed shape.

    ``min_cutoff`` (Hz): smoothing at rest (lower = smoother, more lag when slow).
    ``beta``: how fast the cutoff rises with speed (higher = less lag on fast motion).
    ``d_cutoff`` (Hz): low-pass on the speed estimate. The speed is taken per element,
    or over ``norm_axis`` (e.g. -1 for the xyz of each landmark) when given.
    """

    def __init__(self, fps: float, min_cutoff: float = 1.0, beta: float = 0.0,
                 d_cutoff: float = 1.0, norm_axis: int | None = None):
        self.dt = 1.0 / float(fps)
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self.norm_axis = norm_axis
        self.x: np.ndarray | None = None
        self.dx: np.ndarray | None = None

    def reset(self) -> None:
        self.x = self.dx = None

    def __call__(self, value) -> np.ndarray:
        v = np.asarray(value, dtype=np.float64)
        if self.x is None:
            self.x, self.dx = v.copy(), np.zeros_like(v)
            return self.x.copy()
        a_d = smoothing_alpha(self.d_cutoff, self.dt)
        self.dx = self.dx + a_d * ((v - self.x) / self.dt - self.dx)
        speed = np.abs(self.dx)
        if self.norm_axis is not None:
            speed = np.linalg.norm(self.dx, axis=self.norm_axis, keepdims=True)
        cutoff = self.min_cutoff + self.beta * speed
        tau = 1.0 / (2.0 * math.pi * cutoff)
        a = 1.0 / (1.0 + tau / self.dt)
        self.x = self.x + a * (v - self.x)
        return self.x.copy()


class AttackRelease:
    """Envelope follower: rises with time constant ``attack`` s, falls with ``release`` s."""

    def __init__(self, fps: float, attack: float = 0.03, release: float = 0.12, initial=0.0):
        dt = 1.0 / float(fps)
        self.a_up = 1.0 - math.exp(-dt / max(attack, 1e-6))
        self.a_down = 1.0 - math.exp(-dt / max(release, 1e-6))
        self.y = np.asarray(initial, dtype=np.float64)

    def __call__(self, value) -> np.ndarray:
        v = np.asarray(value, dtype=np.float64)
        a = np.where(v > self.y, self.a_up, self.a_down)
        self.y = self.y + a * (v - self.y)
        return np.array(self.y, copy=True)


class HoldAndEase:
    """Gap filler for signals that may be missing (``None``) on some frames.

    While samples arrive they pass through, blended in over ``ease_in`` s after a gap.
    During a gap the last value is held for ``hold`` s, then eased toward ``rest`` with
    time constant ``ease_out`` s. Before any sample has arrived, ``rest`` is returned.
    """

    def __init__(self, fps: float, rest, hold: float = 0.3, ease_out: float = 0.5,
                 ease_in: float = 0.2):
        self.dt = 1.0 / float(fps)
        self.rest = np.asarray(rest, dtype=np.float64)
        self.hold, self.ease_out, self.ease_in = hold, ease_out, ease_in
        self.current = self.rest.copy()
        self.missing_for = 0.0
        self.blend = 1.0
        self.lost = 0

    def __call__(self, value) -> np.ndarray:
        if value is None:
            self.lost += 1
            self.missing_for += self.dt
            if self.missing_for > self.hold:
                k = 1.0 - math.exp(-self.dt / max(self.ease_out, 1e-6))
                self.current = self.current + k * (self.rest - self.current)
            self.blend = 0.0
            return self.current.copy()
        v = np.asarray(value, dtype=np.float64)
        if self.missing_for > 0:
            self.missing_for = 0.0
        if self.blend < 1.0:
            self.blend = min(1.0, self.blend + self.dt / max(self.ease_in, 1e-6))
            v = self.current + self.blend * (v - self.current)
        self.current = v
        return v.copy()
