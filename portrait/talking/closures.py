"""Lip closures from acoustics: where the lips press together for /m/, /b/, /p/.

No phoneme model: classic rule-based cues on a fine grid (30 ms windows, 10 ms hop).

- Nasal murmur (/m/): voiced, periodic frames whose 1-4 kHz energy has fallen far below the
  neighbouring vowels' while the low band (80-500 Hz) stays strong, for 40-150 ms.
- Stop closure (/p/, /b/): a 30-150 ms dip of the energy above 500 Hz (a /b/ voice bar
  stays below) inside speech, with speech before it and a sharp broadband onset after it.

Acoustics cannot tell a /t/ or /k/ closure from a /p/ one, so some alveolar and velar stops
close the lips too; the figures in docs/portrait_talking.md say how often this fires.
"""
from __future__ import annotations

import numpy as np

WIN_S, HOP_S = 0.03, 0.01      # fine analysis grid
CONTEXT_S = 0.4                # audio needed on each side of a frame to decide it
NASAL_MID_DROP_DB = 18.0       # 1-4 kHz energy under the neighbouring vowels' by at least this
NASAL_LOW_KEEP_DB = 12.0       # ... while 80-500 Hz stays within this of theirs
NASAL_QUIETER_DB = 5.0         # a murmur is quieter than its vowels (a back vowel hardly is)
NASAL_ANTI_DB = 15.0           # /m/'s antiresonance: 600-1300 Hz this far under 80-500 Hz
DIP_DB = 20.0                  # a stop closure's >500 Hz energy under both sides by this
STOP_QUIETER_DB = 10.0         # ... and its whole band (a /b/ voice bar) under the loudest
                               # frame within +-150 ms by this: a closure silences the vowel
SPEECH_DB = 15.0               # "speech": within this of the local loudest frame
MIN_RUN, NASAL_MAX_RUN, STOP_MAX_RUN = 3, 15, 15   # fine frames (x 10 ms)
STOP_MIN_RUN = 2               # two 30 ms windows inside the dip: a closure of ~40 ms on


def fine_features(seg: np.ndarray, sr: int) -> np.ndarray:
    """(n, 6) [all dB, low dB, mid dB, above-500 dB, periodicity 0..1, 600-1300 Hz dB] of the
    fine frames of
    ``seg`` (samples, float32); frame j spans seg[j * hop : j * hop + win]."""
    win, hop = int(round(WIN_S * sr)), int(round(HOP_S * sr))
    n = max(0, (len(seg) - win) // hop + 1)
    if n == 0:
        return np.zeros((0, 6))
    idx = np.arange(n)[:, None] * hop + np.arange(win)
    frames = seg[idx] * np.hanning(win).astype(np.float32)
    spec = np.abs(np.fft.rfft(frames, 2 * win, axis=1)) ** 2
    freqs = np.fft.rfftfreq(2 * win, 1.0 / sr)

    def band_db(lo: float, hi: float) -> np.ndarray:
        return 10 * np.log10(spec[:, (freqs >= lo) & (freqs < hi)].sum(1) / win ** 2 + 1e-12)

    # periodicity: the autocorrelation's peak at a pitch lag, divided by the Hann window's
    # own autocorrelation there (Boersma 1993), else a 100 Hz voice reads 0.5 at best
    ac = np.fft.irfft(spec, axis=1)[:, :win]
    wac = np.fft.irfft(np.abs(np.fft.rfft(np.hanning(win), 2 * win)) ** 2)[:win]
    lags = slice(int(sr / 400), int(sr / 80))
    period = (ac[:, lags] / (wac[lags] / wac[0])).max(1) / (ac[:, 0] + 1e-12)
    return np.stack([band_db(80, 7000), band_db(80, 500), band_db(1000, 4000),
                     band_db(500, 7000), np.clip(period, 0, 1), band_db(600, 1300)], 1)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index pairs of the True runs of a boolean (n,) array."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _window_max(x: np.ndarray, before: int, after: int) -> np.ndarray:
    """(n,) max of x over [i - before, i + after]."""
    pad = np.concatenate([np.full(before, -np.inf), x, np.full(after, -np.inf)])
    return np.lib.stride_tricks.sliding_window_view(pad, before + after + 1).max(1)


def nasal_frames(f: np.ndarray) -> np.ndarray:
    """(n,) bool: fine frames in a nasal murmur, from (n, 6) :func:`fine_features`."""
    loud = _window_max(f[:, 0], 30, 30)
    vowel_mid = _window_max(f[:, 2], 15, 15)
    vowel_low = _window_max(f[:, 1], 15, 15)
    near_loud = _window_max(f[:, 0], 15, 15)
    cand = ((f[:, 4] > 0.5) & (f[:, 0] > loud - SPEECH_DB - 10)
            & (f[:, 0] < near_loud - NASAL_QUIETER_DB) & (f[:, 1] - f[:, 5] > NASAL_ANTI_DB)
            & (f[:, 2] < vowel_mid - NASAL_MID_DROP_DB) & (f[:, 1] > vowel_low - NASAL_LOW_KEEP_DB))
    out = np.zeros(len(f), bool)
    for a, b in _runs(cand):
        if MIN_RUN <= b - a <= NASAL_MAX_RUN:
            out[a:b] = True
    return out


def stop_frames(f: np.ndarray) -> np.ndarray:
    """(n,) bool: fine frames in a stop closure (a dip inside speech ended by a burst)."""
    hi, loud = f[:, 3], _window_max(f[:, 0], 30, 30)
    side = STOP_MAX_RUN
    before = _window_max(np.concatenate([[-np.inf], hi[:-1]]), side - 1, 0)
    after = _window_max(np.concatenate([hi[1:], [-np.inf]]), 0, side - 1)
    near_loud = _window_max(f[:, 0], side, side)
    cand = (hi < np.minimum(before, after) - DIP_DB) & (f[:, 0] < near_loud - STOP_QUIETER_DB)
    speech = f[:, 0] > loud - SPEECH_DB
    out = np.zeros(len(f), bool)
    for a, b in _runs(cand):
        if not STOP_MIN_RUN <= b - a <= STOP_MAX_RUN or a < 10 or b + 3 > len(f):
            continue
        # the release: within 20 ms of the dip's end the sound is back DIP_DB over the
        # closure's floor (the dip's last 30 ms window often straddles the burst already)
        burst = hi[b:b + 2].max() > hi[a:b].min() + DIP_DB
        if burst and speech[a - 10:a].any() and speech[b:b + 10].any():
            out[a:b] = True
    return out


def closure_frames(seg: np.ndarray, sr: int) -> np.ndarray:
    """(n,) bool per fine frame of ``seg``: lips closed (nasal murmur or stop closure)."""
    f = fine_features(seg, sr)
    if len(f) == 0:
        return np.zeros(0, bool)
    return nasal_frames(f) | stop_frames(f)


def frame_closures(buf: np.ndarray, start: int, centers: np.ndarray, sr: int,
                   fps: float) -> np.ndarray:
    """(k,) closure 0..1 per video frame whose sample centers (absolute) are ``centers``;
    ``buf`` holds absolute samples [start, start + len(buf)) and must cover CONTEXT_S around
    every center (zeros stand in outside). The fine grid is aligned to absolute time, so the
    result does not depend on how the audio was blocked."""
    hop, win = int(round(HOP_S * sr)), int(round(WIN_S * sr))
    ctx = int(round(CONTEXT_S * sr))
    out = np.zeros(len(centers))
    for i, c in enumerate(centers):
        a = (c - ctx) // hop * hop
        idx = np.arange(a, c + ctx + win) - start
        seg = buf[np.clip(idx, 0, len(buf) - 1)] * ((idx >= 0) & (idx < len(buf)))
        closed = closure_frames(seg.astype(np.float32), sr)
        mids = a + np.arange(len(closed)) * hop + win // 2
        near = np.abs(mids - c) <= 0.5 * sr / fps
        share = float(np.clip((closed[near].mean() - 0.2) / 0.4, 0, 1)) if near.any() else 0.0
        out[i] = 1.0 if _holds_run_middle(closed, near) else share
    return out


def _holds_run_middle(closed: np.ndarray, near: np.ndarray) -> bool:
    """Whether the middle of some closure run of ``closed`` (fine frames, bool (n,)) falls
    in ``near`` (a video frame's period): a closure shorter than a frame period would be
    split between two frames and shut neither, so the frame nearest its middle shuts fully."""
    return any(near[(a + b - 1) // 2] for a, b in _runs(closed))
