"""Timed English phones → per-frame mouth shapes, with coarticulation.

Each phone maps to a viseme: a target on five channels — ``open`` (a scale on the
loudness-driven jaw), ``spread`` (corners out), ``round`` (lips pushed together and forward),
``closed`` (lips shut: M B P) and ``tuck`` (lower lip up to the upper teeth: F V) — with a
dominance per channel (Cohen & Massaro 1993). A frame's channel value is the
dominance-weighted mean of the targets of the phones around it, where a phone's dominance
is its strength inside its span and decays exponentially with the distance to it: slowly
before a rounded vowel (the lips round ~200 ms ahead, across the consonants before it),
quickly elsewhere. Lip contact (``closed`` for bilabials, ``tuck`` for labiodentals) is a
hard constraint instead: the lips shut or tuck through the phone whatever surrounds it,
eased over CONTACT_S. Most consonants barely dominate the lip channels, so they take the
shape of their vowels.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .phones import EnglishEvidence, Phone, PhoneLoop, utterances

CHANNELS = ("open", "spread", "round", "closed", "tuck")
LEAD_S = 0.02            # shapes lead the sound a little, as the jaw does
REACH_BEFORE, REACH_AFTER = 0.6, 0.35   # seconds of phones a frame looks at
LOOKAHEAD_S = REACH_BEFORE
CONTACT_S = 0.02         # lip closure / tuck ease in and out


@dataclass(frozen=True)
class Viseme:
    target: tuple[float, float, float, float, float]   # per CHANNELS
    strength: tuple[float, float, float, float, float]
    before: float = 0.06     # dominance decay (s) ahead of the phone: anticipation
    after: float = 0.06      # ... behind it: carry-over


_LOW = (0.3, 0.15, 0.15, 1.0, 1.0)          # consonants: the lips follow the vowels
VISEMES = {
    # silence: loudness closes the jaw anyway; a sound taken for silence still opens it
    "rest": Viseme((0.8, 0.0, 0.0, 0.0, 0.0), (0.5, 0.4, 0.3, 1.0, 1.0)),
    "closed": Viseme((0.0, 0.0, 0.0, 1.0, 0.0), (0.5, 0.15, 0.15, 30.0, 1.0), 0.03, 0.03),
    "fv": Viseme((0.3, 0.0, 0.0, 0.0, 1.0), (0.5, 0.15, 0.15, 1.0, 20.0), 0.04, 0.04),
    "round": Viseme((0.55, 0.0, 1.0, 0.0, 0.0), (0.9, 1.0, 1.0, 1.0, 1.0), 0.2, 0.08),
    "round_open": Viseme((0.8, 0.0, 0.7, 0.0, 0.0), (0.9, 1.0, 1.0, 1.0, 1.0), 0.15, 0.08),
    "spread": Viseme((0.6, 1.0, 0.0, 0.0, 0.0), (0.9, 1.0, 1.0, 1.0, 1.0)),
    "mid": Viseme((0.85, 0.5, 0.0, 0.0, 0.0), (0.9, 0.8, 0.8, 1.0, 1.0)),
    "open": Viseme((1.1, 0.15, 0.0, 0.0, 0.0), (0.9, 0.8, 0.8, 1.0, 1.0)),
    "rhotic": Viseme((0.6, 0.0, 0.45, 0.0, 0.0), (0.7, 0.5, 0.5, 1.0, 1.0), 0.1, 0.06),
    "tongue": Viseme((0.5, 0.2, 0.0, 0.0, 0.0), (0.5, 0.3, 0.3, 1.0, 1.0)),
    "postalveolar": Viseme((0.35, 0.0, 0.6, 0.0, 0.0), (0.4, 0.5, 0.5, 1.0, 1.0), 0.1, 0.06),
    "consonant": Viseme((0.4, 0.2, 0.0, 0.0, 0.0), _LOW),
}
# ARPAbet (CMU dictionary, pocketsphinx) → viseme; diphthongs are (first half, second half)
PHONE_VISEMES: dict[str, str | tuple[str, str]] = {
    "SIL": "rest",
    "M": "closed", "B": "closed", "P": "closed",
    "F": "fv", "V": "fv",
    "UW": "round", "UH": "round", "W": "round",
    "AO": "round_open", "OW": ("round_open", "round"), "OY": ("round_open", "spread"),
    "IY": "spread", "IH": "spread", "Y": "spread", "EY": ("mid", "spread"),
    "EH": "mid", "AE": "open", "AA": "open", "AH": "open",
    "AY": ("open", "spread"), "AW": ("open", "round"),
    "ER": "rhotic", "R": "rhotic",
    "L": "tongue", "TH": "tongue", "DH": "tongue",
    "SH": "postalveolar", "ZH": "postalveolar", "CH": "postalveolar", "JH": "postalveolar",
}


def viseme_spans(phones: list[Phone]) -> list[tuple[Viseme, float, float]]:
    """(viseme, start s, end s) per phone; diphthongs split in two halves, fillers and
    noises rest."""
    out = []
    for p in phones:
        v = PHONE_VISEMES.get(p.label, "rest" if p.label.startswith("+") else "consonant")
        if isinstance(v, tuple):
            mid = (p.start + p.end) / 2
            out += [(VISEMES[v[0]], p.start, mid), (VISEMES[v[1]], mid, p.end)]
        else:
            out.append((VISEMES[v], p.start, p.end))
    return out


def blend(spans: list[tuple[Viseme, float, float]], t: float) -> np.ndarray:
    """(5,) channel values at time ``t`` s: dominance-weighted targets of ``spans``."""
    if not spans:
        return np.array(VISEMES["rest"].target)
    target = np.array([v.target for v, _, _ in spans])            # (n, 5)
    strength = np.array([v.strength for v, _, _ in spans])        # (n, 5)
    start = np.array([a for _, a, _ in spans])
    end = np.array([b for _, _, b in spans])
    before = np.array([v.before for v, _, _ in spans])
    after = np.array([v.after for v, _, _ in spans])
    ahead = np.maximum(start - t, 0.0)          # the phone is still to come
    behind = np.maximum(t - end, 0.0)           # the phone is over
    decay = np.exp(-ahead / before - behind / after)               # (n,)
    dom = strength * decay[:, None] + 1e-6
    out = (dom * target).sum(0) / dom.sum(0)
    # lip contact is a hard constraint: shut (or tucked) through the phone, eased in and
    # out over a few tens of ms, whatever the vowels around it
    contact = np.exp(-ahead / CONTACT_S - behind / CONTACT_S)[:, None] * target[:, 3:]
    out[3:] = contact.max(0)
    return out


@dataclass
class MouthShape:
    """One frame's mouth shape from phones (see CHANNELS)."""
    open: float
    spread: float
    round: float
    closed: float
    tuck: float

    @classmethod
    def of(cls, v: np.ndarray) -> "MouthShape":
        return cls(*(float(x) for x in v))


class VisemeTrack:
    """Per-frame :class:`MouthShape` (or ``None`` where the speech is not taken for English)
    from a stream of 16 kHz audio blocks, recognized in bounded pieces as the frames are
    asked for; or from phones aligned up front (``aligned``)."""

    def __init__(self, blocks: Iterator[np.ndarray] | None, fps: float, mode: str = "auto",
                 aligned: list[Phone] | None = None):
        self.fps, self.mode = fps, mode
        self.spans: deque = deque()       # (viseme, start, end) around the current frame
        self.regions: deque = deque()     # (start, end, english) per decoded utterance
        self.evidence = EnglishEvidence()
        self.frames_english = self.frames_total = self.spans_decoded = 0
        if aligned is not None:
            self.spans.extend(viseme_spans(aligned))
            self.regions.append((0.0, float("inf"), True))
            self.pieces, self.decoded_end = None, float("inf")
        else:
            self.pieces = utterances(blocks)
            self.loop = PhoneLoop()
            self.decoded_end = 0.0

    def _decode_next(self) -> None:
        """Recognize the next utterance and judge its language (pooled over the clip)."""
        piece = next(self.pieces, None)
        if piece is None:
            self.pieces, self.decoded_end = None, float("inf")
            return
        start, samples = piece
        phones = self.loop.decode(start, samples)
        self.evidence.add(self.loop.english_logprobs(phones))
        end = start + len(samples) / 16000.0
        self.regions.append((start, end, self.mode == "en" or self.evidence.english))
        spans = viseme_spans(phones)
        self.spans.extend(spans)
        self.spans_decoded += len(spans)
        self.decoded_end = end

    def shape(self, k: int) -> MouthShape | None:
        """The mouth shape of frame ``k`` (frames are asked for in order)."""
        t = k / self.fps + LEAD_S
        while self.pieces is not None and self.decoded_end < t + LOOKAHEAD_S:
            self._decode_next()
        while self.spans and self.spans[0][2] < t - REACH_AFTER:
            self.spans.popleft()
        while len(self.regions) > 1 and self.regions[0][1] <= t:
            self.regions.popleft()
        english = not self.regions or self.regions[0][2]
        self.frames_total += 1
        if not english:
            return None
        self.frames_english += 1
        near = [s for s in self.spans if s[1] < t + REACH_BEFORE]
        return MouthShape.of(blend(near, t))

    @property
    def english_share(self) -> float:
        """Share of the frames so far shaped by English phones."""
        return self.frames_english / max(self.frames_total, 1)
