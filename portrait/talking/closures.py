"""Lip closures from acoustics: where the lips press together for /m/, /b/, /p/.

No phoneme model: classic rule-based cues on a fine grid (30 ms windows, 10 ms hop).

- Nasal murmur (/m/): voiced, periodic frames whose 1-4 kHz energy has fallen far below the
  neighbouring vowels' while the low band (80-500 Hz) stays strong, for 40-150 ms, with
  /m/'s antiresonance (600-1300 Hz far under 80-500 Hz). A murmur that falls less far or
  lacks that dip still counts when its resonances are /m/'s: the first near 250-400 Hz and
  the second near 1000-1200 Hz (closed lips lengthen the resonating tube), where /n/ and
  /ng/ have their second resonance at 1500-2000 Hz (Fujimura 1962); such a run must also
  be entered and left within 30 ms (a glide is slower). A murmur with the dip but /n/'s
  resonances is not /m/ (some voices, and Mandarin codas, give /n/ that dip too).
  Resonances come from linear prediction, only on the runs the energy cues found.
- Stop closure (/p/, /b/): a 30-150 ms dip of the energy above 500 Hz (a /b/ voice bar
  stays below) inside speech, with speech before it and a sharp broadband onset after it.

Acoustics cannot tell a /t/ or /k/ closure from a /p/ one, so some alveolar and velar stops
close the lips too; the figures in docs/portrait_talking.md say how often this fires.
"""
from __future__ import annotations

import functools

import numpy as np

WIN_S, HOP_S = 0.03, 0.01      # fine analysis grid
CONTEXT_S = 0.4                # audio needed on each side of a frame to decide it
NASAL_MID_DROP_DB = 18.0       # 1-4 kHz energy under the neighbouring vowels' by at least this
NASAL_LOW_KEEP_DB = 12.0       # ... while 80-500 Hz stays within this of theirs
NASAL_QUIETER_DB = 5.0         # a murmur is quieter than its vowels (a back vowel hardly is)
NASAL_ANTI_DB = 15.0           # /m/'s antiresonance: 600-1300 Hz this far under 80-500 Hz
LABIAL_MID_DROP_DB = 12.0      # ... or, with /m/'s resonances, a 1-4 kHz fall of this much
LABIAL_F1_MAX_HZ = 450.0       # /m/'s murmur: first resonance under this
LABIAL_F2_MAX_HZ = 1350.0      # ... and second under this (/n/, /ng/: 1500-2000 Hz)
ABRUPT_DB = 8.0                # ... entered and left within 30 ms by this much (a glide is slower)
ALVEOLAR_F2_MIN_HZ = 1500.0    # a murmur resonating above this is /n/ or /ng/, not /m/
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


def nasal_frames(f: np.ndarray, seg: np.ndarray | None = None, sr: int = 16000) -> np.ndarray:
    """(n,) bool: fine frames in a nasal murmur, from (n, 6) :func:`fine_features` (and the
    samples ``seg`` they came from, for the murmur's resonances)."""
    loud = _window_max(f[:, 0], 30, 30)
    vowel_mid = _window_max(f[:, 2], 15, 15)
    vowel_low = _window_max(f[:, 1], 15, 15)
    near_loud = _window_max(f[:, 0], 15, 15)
    murmur = ((f[:, 4] > 0.5) & (f[:, 0] > loud - SPEECH_DB - 10)
              & (f[:, 0] < near_loud - NASAL_QUIETER_DB) & (f[:, 1] > vowel_low - NASAL_LOW_KEEP_DB))
    drop = vowel_mid - f[:, 2]
    by_anti = murmur & (f[:, 1] - f[:, 5] > NASAL_ANTI_DB) & (drop > NASAL_MID_DROP_DB)
    out = np.zeros(len(f), bool)
    for a, b in _runs(by_anti):
        if MIN_RUN <= b - a <= NASAL_MAX_RUN and (seg is None or not alveolar(seg, sr, a, b)):
            out[a:b] = True
    if seg is None:
        return out
    for a, b in _runs(murmur & (drop > LABIAL_MID_DROP_DB) & ~out):
        if (MIN_RUN <= b - a <= NASAL_MAX_RUN and abrupt(f[:, 2], a, b)
                and labial_resonances(seg, sr, a, b)):
            out[a:b] = True
    return out


def abrupt(mid: np.ndarray, a: int, b: int) -> bool:
    """Whether the 1-4 kHz level ``mid`` (dB per fine frame) falls into run [a, b) and rises
    out of it by ABRUPT_DB within 30 ms on both sides: lips that close and open cut the
    sound off at once, where a glide (/w/) or a rounded vowel moves over 50-100 ms."""
    if a < 3 or b + 3 > len(mid):
        return False
    inside = mid[a:b].min()
    return bool(mid[a - 3:a].max() - inside > ABRUPT_DB and mid[b:b + 3].max() - inside > ABRUPT_DB)


def labial_resonances(seg: np.ndarray, sr: int, a: int, b: int) -> bool:
    """Whether fine frames [a, b) of ``seg`` resonate as an /m/ murmur: median first and
    second resonances (linear prediction) under LABIAL_F1_MAX_HZ and LABIAL_F2_MAX_HZ."""
    res = _run_resonances(seg, sr, a, b)
    return res is not None and res[0] < LABIAL_F1_MAX_HZ and res[1] < LABIAL_F2_MAX_HZ


def _run_resonances(seg: np.ndarray, sr: int, a: int, b: int) -> tuple[float, float] | None:
    """Median (first, second) resonance over fine frames [a, b) of ``seg``; None if unknown."""
    win, hop = int(round(WIN_S * sr)), int(round(HOP_S * sr))
    res = np.array([_cached_resonances(np.ascontiguousarray(seg[j * hop:j * hop + win],
                                                            np.float32).tobytes(), sr)
                    for j in range(a, b)])
    if not len(res) or np.isnan(res).all(axis=0).any():
        return None
    f1, f2 = np.nanmedian(res, axis=0)
    return float(f1), float(f2)


def alveolar(seg: np.ndarray, sr: int, a: int, b: int) -> bool:
    """Whether fine frames [a, b) of ``seg`` resonate as /n/ or /ng/ do: a median second
    resonance above ALVEOLAR_F2_MIN_HZ (some voices give /n/ a 600-1300 Hz dip too)."""
    res = _run_resonances(seg, sr, a, b)
    return res is not None and res[1] > ALVEOLAR_F2_MIN_HZ


@functools.lru_cache(maxsize=2048)
def _cached_resonances(window: bytes, sr: int) -> tuple[float, float]:
    """:func:`resonances` of a float32 window given as bytes. Each video frame decides on
    its own +-0.4 s of audio, aligned to absolute time, so a run is seen by some 20 frames
    in the very same samples: each window is fitted once."""
    return resonances(np.frombuffer(window, np.float32), sr)


def resonances(frame: np.ndarray, sr: int) -> tuple[float, float]:
    """(first, second) resonance in Hz of one window of samples: the angles of the
    all-pole fit's (autocorrelation method, order 2 + sr / 1 kHz) narrow poles above 200 Hz;
    NaN where there are not two."""
    x = np.asarray(frame, np.float64)
    x = np.append(x[0], x[1:] - 0.97 * x[:-1]) * np.hamming(len(x))      # pre-emphasis
    order = 2 + int(sr // 1000)
    r = np.array([x[:len(x) - k] @ x[k:] for k in range(order + 1)])
    if r[0] <= 1e-12:
        return float("nan"), float("nan")
    a = _levinson(r, order)
    poles = [z for z in np.roots(a) if z.imag > 0]
    freq = np.angle(poles) * sr / (2 * np.pi)
    bandwidth = -np.log(np.abs(poles)) * sr / np.pi
    found = np.sort(freq[(freq > 200) & (bandwidth < 500)])
    return (float(found[0]), float(found[1])) if len(found) >= 2 else (float("nan"),) * 2


def _levinson(r: np.ndarray, order: int) -> np.ndarray:
    """(order + 1,) prediction polynomial [1, a1, ...] from autocorrelation ``r``."""
    a = np.zeros(order + 1)
    a[0], err = 1.0, r[0]
    for i in range(1, order + 1):
        k = -(r[i] + a[1:i] @ r[i - 1:0:-1]) / err
        a[1:i + 1] += k * np.concatenate([a[i - 1:0:-1], [1.0]])
        err *= 1.0 - k * k
        if err <= 0:
            break
    return a


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
    return nasal_frames(f, seg, sr) | stop_frames(f)


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
