"""Speech audio → per-frame face controls, streamed: hours of audio in bounded memory.

Per video frame, a 50 ms Hann window (centered slightly ahead of the frame: the mouth leads
the sound) gives the loudness of the voiced band (100-2500 Hz), the spectral centroid and
the share of fricative energy (> 4 kHz). Loudness is normalized against an adaptive speech
level, so quiet and loud recordings move the mouth alike; silence gates to a closed mouth.
With ``closures``, a fifth feature marks lip closures (/m/ murmurs, /p/ /b/ closures;
:mod:`.closures`), which shut the mouth past the opening's smoothing. Secondary motion
follows the speech: brows on emphasis, nods on stressed syllables, a slow sway that calms
in pauses, and blinks at a natural rate.
"""
from __future__ import annotations

import math
from typing import Iterable, Iterator

import numpy as np

from .motion import AttackRelease

from .closures import CONTEXT_S, frame_closures
from .rig import Expression
from .visemes import MouthShape

SILENCE_DB = -55.0        # frames quieter than this (dBFS) are silence
DYNAMIC_RANGE_DB = 30.0   # loudness range mapped onto closed .. fully open


def frame_features(blocks: Iterable[np.ndarray], sr: int, fps: float, num_frames: int,
                   lead: float = 0.03, window: float = 0.05,
                   closures: bool = False) -> Iterator[np.ndarray]:
    """Yield (4,) float64 per frame: [total dB, voiced-band dB, centroid 0..1, fricative share],
    exactly ``num_frames`` of them (padding with silence past the audio's end). With
    ``closures``, (5,): a fifth column, lip closure 0..1 (:mod:`.closures`), decided with
    CONTEXT_S of audio on each side of the frame."""
    win = int(round(window * sr))
    # samples needed past a frame's center (and kept before it); closures need their context
    reach = max(win // 2, int(round((CONTEXT_S + 0.06) * sr)) if closures else 0)
    hann = np.hanning(win).astype(np.float32)
    freqs = np.fft.rfftfreq(win, 1.0 / sr)
    voiced = (freqs >= 100) & (freqs <= 2500)
    fric = freqs >= 4000
    cband = (freqs >= 150) & (freqs <= 4000)
    start = -(win // 2)        # absolute sample index of buf[0]; negative = leading zero pad
    buf = np.zeros(win // 2, np.float32)
    i = 0

    def center(k: int) -> int:
        return int(round((k / fps + lead) * sr))

    def compute(frames_idx: list[int], buf: np.ndarray, start: int) -> np.ndarray:
        idx = np.array([center(k) - win // 2 - start for k in frames_idx])[:, None] + np.arange(win)
        seg = buf[np.clip(idx, 0, len(buf) - 1)] * ((idx >= 0) & (idx < len(buf)))
        feats = _features(seg * hann, freqs, voiced, fric, cband)
        if not closures:
            return feats
        centers = np.array([int(round(k / fps * sr)) for k in frames_idx])   # no lead: the
        # lips are shut exactly while the closure silences the sound
        return np.column_stack([feats, frame_closures(buf, start, centers, sr, fps)])

    done = False
    it = iter(blocks)
    while i < num_frames:
        block = None if done else next(it, None)
        if block is None:
            done = True
        else:
            buf = np.concatenate([buf, block.astype(np.float32)])
        end = start + len(buf)
        ready = []
        k = i
        while k < num_frames and (done or center(k) + reach <= end):
            ready.append(k)
            k += 1
        if ready:
            yield from compute(ready, buf, start)
            i = k
            keep_from = max(0, center(i) - reach - start)
            buf, start = buf[keep_from:], start + keep_from


def _features(seg: np.ndarray, freqs, voiced, fric, cband) -> np.ndarray:
    """(n, 4) features of windowed segments (n, win)."""
    spec = np.abs(np.fft.rfft(seg, axis=1)) ** 2
    total = spec.sum(1) + 1e-12
    norm = seg.shape[1] * 0.375          # Hann power, so a full-scale sine reads about 0 dB
    db_total = 10 * np.log10(total / norm ** 2 * 2 + 1e-12)
    db_voiced = 10 * np.log10(spec[:, voiced].sum(1) / norm ** 2 * 2 + 1e-12)
    c = spec[:, cband]
    centroid = (c * freqs[cband]).sum(1) / (c.sum(1) + 1e-12)
    centroid = np.clip((centroid - 300.0) / 1700.0, 0.0, 1.0)
    fric_share = spec[:, fric].sum(1) / total
    return np.stack([db_total, db_voiced, centroid, fric_share], 1)


class SmoothNoise:
    """Band-limited noise in about [-1, 1]: a few slow sines with seeded frequencies and phases."""

    def __init__(self, rng: np.random.Generator, low: float = 0.06, high: float = 0.35, n: int = 3):
        self.f = rng.uniform(low, high, n)
        self.phase = rng.uniform(0, 2 * np.pi, n)
        self.amp = rng.uniform(0.6, 1.0, n)
        self.amp /= self.amp.sum()

    def __call__(self, t: float) -> float:
        return float((self.amp * np.sin(2 * np.pi * self.f * t + self.phase)).sum())


class Blinker:
    """Blink closure 0..1 per frame at about ``rate`` blinks per minute (gamma-distributed
    intervals, never closer than 1.2 s): a 100 ms close, 40 ms hold, 200 ms open."""
    CLOSE, HOLD, OPEN = 0.10, 0.04, 0.20      # seconds (a 340 ms blink)

    def __init__(self, fps: float, rate: float, rng: np.random.Generator):
        self.dt, self.rate, self.rng = 1.0 / fps, rate, rng
        self.t = 0.0
        self.next = self._interval() * rng.uniform(0.3, 1.0) if rate > 0 else math.inf

    def _interval(self) -> float:
        mean = 60.0 / self.rate
        return max(1.2, float(self.rng.gamma(4.0, mean / 4.0)))

    def __call__(self) -> float:
        self.t += self.dt
        s = self.t - self.next
        close, hold, opening = self.CLOSE, self.HOLD, self.OPEN
        if s < 0:
            return 0.0
        if s < close:
            return float(np.sin(0.5 * np.pi * s / close))
        if s < close + hold:
            return 1.0
        if s < close + hold + opening:
            x = (s - close - hold) / opening
            return float(1 - x * x * (3 - 2 * x))
        self.next = self.t + self._interval()
        return 0.0


class SpeechMotion:
    """Turns per-frame audio features into :class:`Expression` s (before user multipliers)."""

    def __init__(self, fps: float, rng: np.random.Generator, smoothing: float = 0.5,
                 level_db: float = -20.0, shut_jaw: float = 0.0):
        """``shut_jaw``: the jaw control that presses the lips together (<= 0; 0 when the
        source's lips already meet at rest), reached on a full lip closure."""
        self.fps, self.t = fps, 0.0
        self.shut_jaw = shut_jaw
        self.level = level_db
        self.open_env = AttackRelease(fps, attack=0.015 + 0.05 * smoothing,
                                      release=0.04 + 0.12 * smoothing)
        # lip closures bypass the opening's smoothing: a 60 ms /p/ is 1.5 frames at 25 fps
        self.closure_env = AttackRelease(fps, attack=0.01, release=0.02)
        self.width_env = AttackRelease(fps, attack=0.05 + 0.1 * smoothing, release=0.08 + 0.15 * smoothing)
        # viseme channels are already smooth (dominance blending): a light touch only
        self.shape_env = AttackRelease(fps, attack=0.02 + 0.03 * smoothing,
                                       release=0.03 + 0.04 * smoothing, initial=np.zeros(3))
        self.slow_db = AttackRelease(fps, attack=0.4, release=0.4, initial=level_db - 10)
        self.emph_env = AttackRelease(fps, attack=0.06, release=0.35)
        self.nod_env = AttackRelease(fps, attack=0.12, release=0.5)
        self.activity = AttackRelease(fps, attack=0.25, release=1.5)
        self.yaw_n, self.pitch_n, self.roll_n = SmoothNoise(rng), SmoothNoise(rng), SmoothNoise(rng)

    def _phone_closure(self, shape: MouthShape, db_voiced: float) -> float:
        """A recognized /m b p/ shuts the lips only where the sound allows it: lips shut
        pass little sound (a murmur is ~10 dB under the vowels), so near the speech level
        a closure is a recognition slip and fades out."""
        room = np.clip((self.level - 4.0 - db_voiced) / 6.0, 0.0, 1.0)
        return float(shape.closed * room)

    def step(self, feat: np.ndarray, shape: MouthShape | None = None) -> Expression:
        """``feat``: (4,) or, with lip closures, (5,) from :func:`frame_features`; ``shape``:
        the frame's viseme shape when phones are known, else the width follows the
        spectral centroid. The loudness drives the opening either way."""
        db_total, db_voiced, centroid, fric = feat[:4]
        acoustic = feat[4] if len(feat) > 4 else 0.0
        closure = float(self.closure_env(max(acoustic, self._phone_closure(shape, db_voiced))
                                         if shape else acoustic))
        self.t += 1.0 / self.fps
        silent = db_total < SILENCE_DB
        if not silent and db_voiced > self.level - 12:   # track the speech level slowly
            rate = 0.05 if db_voiced > self.level else 0.004
            self.level += rate * (db_voiced - self.level)
        raw = 0.0 if silent else (db_voiced - (self.level - DYNAMIC_RANGE_DB)) / DYNAMIC_RANGE_DB
        raw = float(np.clip(raw, 0.0, 1.15)) ** 1.3
        if shape is None:
            raw *= 1.0 - 0.6 * fric
            spread = float(np.clip((centroid - 0.45) * 2.2, -1, 1) * min(1.0, raw * 1.5))
            rnd = tuck = 0.0
        else:        # the phones scale the jaw for this sound (half of it: loudness leads)
            raw *= 0.5 + 0.5 * shape.open
            spread, rnd, tuck = self.shape_env(np.array([shape.spread, shape.round, shape.tuck]))
        opening = float(self.open_env(raw)) * (1.0 - closure)
        width = float(self.width_env(spread)) if shape is None else float(spread)
        slow = float(self.slow_db(db_voiced if not silent else SILENCE_DB - 10))
        emph = float(self.emph_env(np.clip((db_voiced - slow - 4.0) / 8.0, 0, 1) if not silent else 0))
        nod = float(self.nod_env(raw))
        act = float(self.activity(1.0 if raw > 0.1 else 0.0))
        calm = 0.25 + 0.75 * act
        return Expression(
            jaw=0.7 * opening + closure * self.shut_jaw, width=0.6 * width, brow=0.6 * emph,
            pucker=float(rnd), tuck=float(tuck) * (1.0 - closure),
            yaw=2.2 * calm * self.yaw_n(self.t), roll=1.0 * calm * self.roll_n(self.t),
            pitch=1.8 * nod + 0.8 * calm * self.pitch_n(self.t))


def initial_level(features: np.ndarray) -> float:
    """Starting speech level (dB): the 90th percentile of voiced loudness over non-silent frames."""
    loud = features[features[:, 0] >= SILENCE_DB, 1]
    return float(np.percentile(loud, 90)) if len(loud) else -20.0
