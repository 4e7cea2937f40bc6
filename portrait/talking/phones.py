"""English phones from speech with pocketsphinx (its wheel ships the US-English acoustic
model, the CMU dictionary and a phone trigram LM: nothing is downloaded).

Two ways to get timed phones:

- **Phone loop** (no transcript): an all-phone decode with the phone trigram LM, streamed.
  The audio is cut into utterances of 6-12 s at its quietest 200 ms, so an hour of speech
  decodes in bounded memory; each utterance is decoded when the render comes within
  reach of it, so the recognition runs in blocks alongside the render (:class:`PhoneLoop`).
- **Forced alignment** (with the text that was spoken): word alignment, then a second pass
  for phone timings (:func:`aligned_phones`). Exact timing; needs every word in the
  dictionary and the whole clip in memory, so it is limited to TEXT_MAX_SECONDS.

Is it English? A phonotactic check (phone recognition, then the English phone LM's
log-probability of what was recognized, per phone): English speech reads about -3.5 to
-4.2 nats a phone, Mandarin about -5, French -5.2. :class:`EnglishEvidence` pools the
evidence over the clip with a prior toward English, so single words are not judged on two
phones.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from animakit.errors import InputError, ParamError

SR = 16000
FRAME_S = 0.01                      # pocketsphinx frame: 10 ms
CHUNK_MIN_S, CHUNK_MAX_S = 6.0, 12.0
QUIET_WIN_S = 0.2
TEXT_MAX_SECONDS = 300.0            # forced alignment holds the clip and its lattice in memory
ENGLISH_NATS = -4.5                 # mean phone log-prob (pooled) above this reads as English
PRIOR_PHONES, PRIOR_NATS = 16, -3.9
NOISE = ("SIL", "+NSN+", "+SPN+", "+BREATH+", "+COUGH+", "+NOISE+", "+UH+", "+UM+")


@dataclass
class Phone:
    """One recognized or aligned phone: ARPAbet label (``SIL`` for silence), seconds."""
    label: str
    start: float
    end: float


def _decoder(**kw):
    """A pocketsphinx Decoder, quiet; raises a clear error when the package is missing."""
    try:
        from pocketsphinx import Decoder
    except ImportError as e:         # pragma: no cover - pocketsphinx is a core dependency
        raise ParamError("param phonemes", "needs the pocketsphinx package "
                                           "(pip install pocketsphinx), or phonemes=off") from e
    return Decoder(loglevel="FATAL", **kw)


def _model(name: str) -> str:
    from pocketsphinx import get_model_path
    return get_model_path(name)


def pcm16(samples: np.ndarray) -> bytes:
    """16-bit little-endian PCM bytes of float samples in [-1, 1]."""
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def quiet_cut(samples: np.ndarray, lo: int, hi: int) -> int:
    """Sample index in [lo, hi) at the center of the quietest QUIET_WIN_S window."""
    hop = int(FRAME_S * SR)
    seg = samples[lo:hi].astype(np.float64)
    n = len(seg) // hop
    if n < 2:
        return hi
    energy = (seg[: n * hop].reshape(n, hop) ** 2).mean(1)
    k = max(1, int(QUIET_WIN_S / FRAME_S))
    smooth = np.convolve(energy, np.ones(k) / k, mode="same")
    return lo + int(np.argmin(smooth)) * hop + hop // 2


def utterances(blocks: Iterator[np.ndarray]) -> Iterator[tuple[float, np.ndarray]]:
    """(start s, samples) pieces of a 16 kHz block stream, each CHUNK_MIN_S..CHUNK_MAX_S long
    (the last may be shorter), cut at the quietest moment; holds at most CHUNK_MAX_S plus
    one block."""
    buf, start = np.zeros(0, np.float32), 0
    lo, hi = int(CHUNK_MIN_S * SR), int(CHUNK_MAX_S * SR)
    for block in blocks:
        buf = np.concatenate([buf, np.asarray(block, np.float32)])
        while len(buf) >= hi:
            cut = quiet_cut(buf, lo, hi)
            yield start / SR, buf[:cut]
            buf, start = buf[cut:], start + cut
    if len(buf):
        yield start / SR, buf


class PhoneLoop:
    """Phone-loop recognizer: ``decode(start, samples)`` recognizes one utterance as a whole
    (the whole utterance normalizes the cepstra: fed piecewise, the running normalization
    loses the consonants of a clip's first second) and returns its phones, absolute seconds."""

    def __init__(self):
        self.decoder = _decoder(allphone=_model("en-us/en-us-phone.lm.bin"), lm=None, lw=2.0,
                                beam=1e-20, pbeam=1e-20)
        self.lm = None

    def decode(self, start: float, samples: np.ndarray) -> list[Phone]:
        d = self.decoder
        d.start_utt()
        d.process_raw(pcm16(samples), full_utt=True)
        d.end_utt()
        return [Phone(s.word, start + s.start_frame * FRAME_S, start + (s.end_frame + 1) * FRAME_S)
                for s in d.seg()]

    def english_logprobs(self, phones: list[Phone]) -> list[float]:
        """Natural-log probability of each phone under the English phone trigram, for
        phones inside speech (not after a silence: word-initial statistics are unreliable)."""
        from pocketsphinx import NGramModel
        if self.lm is None:
            self.lm = NGramModel(self.decoder.config, self.decoder.get_logmath(),
                                 _model("en-us/en-us-phone.lm.bin"))
        seq = [p.label for p in phones if p.label == "SIL" or p.label not in NOISE]
        scale = np.log(1.0001)       # pocketsphinx's log base
        return [self.lm.prob([seq[i]] + seq[max(0, i - 2):i][::-1]) * scale
                for i in range(1, len(seq)) if seq[i] != "SIL" and seq[i - 1] != "SIL"]


class EnglishEvidence:
    """Pooled phonotactic evidence that the speech so far is English."""

    def __init__(self):
        self.total, self.count = PRIOR_PHONES * PRIOR_NATS, PRIOR_PHONES

    def add(self, logprobs: list[float]) -> None:
        self.total += float(np.sum(logprobs))
        self.count += len(logprobs)

    @property
    def score(self) -> float:
        """Pooled mean log-probability per phone (nats)."""
        return self.total / self.count

    @property
    def english(self) -> bool:
        return self.score > ENGLISH_NATS


def normalized_words(text: str) -> list[str]:
    """Lower-case words of ``text`` with punctuation dropped (apostrophes kept)."""
    return re.findall(r"[a-z0-9']+", text.lower().replace("’", "'"))


def check_text(text: str, seconds: float, name: str = "param text") -> list[str]:
    """The transcript's words, all in the dictionary; :class:`ParamError` naming what is
    wrong (unknown words, audio too long) otherwise."""
    words = [w.strip("'") for w in normalized_words(text)]
    words = [w for w in words if w]
    if not words:
        raise ParamError(name, "has no English words to align (leave it empty to recognize "
                               "the phones from the audio)")
    if seconds > TEXT_MAX_SECONDS:
        raise ParamError(name, f"forced alignment takes audio up to {TEXT_MAX_SECONDS:.0f} s; "
                               f"this audio is {seconds:.0f} s (leave text empty for long audio)")
    d = _decoder(lm=None)
    unknown = sorted({w for w in words if d.lookup_word(w) is None})
    if unknown:
        shown = ", ".join(unknown[:6]) + (" ..." if len(unknown) > 6 else "")
        raise ParamError(name, f"words not in the English dictionary: {shown} (spell them as "
                               "they sound, or leave text empty)")
    return words


def aligned_phones(samples: np.ndarray, words: list[str], name: str = "audio") -> list[Phone]:
    """Phones of ``words`` force-aligned to ``samples`` (16 kHz); :class:`InputError` when
    the text cannot be aligned to this audio, [] when the aligner placed no word (it can
    end in silence alone on very short clips). Phone timings come from the state-level second
    pass; where that pass fails (it needs the acoustics to fit the model closely), each
    aligned word's span is shared among its dictionary phones, vowels weighing double."""
    d = _decoder(lm=None, beam=1e-120, wbeam=1e-100, pbeam=1e-120)
    data = pcm16(samples)
    d.set_align_text(" ".join(words))
    d.start_utt()
    d.process_raw(data, full_utt=True)
    d.end_utt()
    if d.hyp() is None:
        raise InputError(name, "the text does not match this speech (forced alignment "
                               "failed); fix the text or leave it empty")
    if not d.hyp().hypstr.strip():   # the search ended in silence alone: no word placed
        return []
    segments = [(s.word, s.start_frame, s.end_frame + 1) for s in d.seg()]
    try:
        d.set_alignment()
        d.start_utt()
        d.process_raw(data, full_utt=True)
        d.end_utt()
        phones = [Phone(p.name, p.start * FRAME_S, (p.start + p.duration) * FRAME_S)
                  for word in d.get_alignment() for p in word]
    except RuntimeError:
        phones = _split_words(d, segments)
    return [p for p in phones if p.end > p.start]


def _split_words(d, segments: list[tuple[str, int, int]]) -> list[Phone]:
    """Phones from word segments (word, start frame, end frame exclusive)."""
    out = []
    for word, a, b in segments:
        pron = None if word.startswith(("<", "[", "+")) else d.lookup_word(word)
        if not pron:
            out.append(Phone("SIL", a * FRAME_S, b * FRAME_S))
            continue
        labels = pron.split()
        w = np.array([2.0 if lab[:2] in VOWELS else 1.0 for lab in labels])
        edges = a + np.concatenate([[0], np.cumsum(w)]) / w.sum() * (b - a)
        out += [Phone(lab, edges[i] * FRAME_S, edges[i + 1] * FRAME_S)
                for i, lab in enumerate(labels)]
    return out


VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}
