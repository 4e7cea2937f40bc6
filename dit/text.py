"""The prompt vocabulary: words -> token ids, and what a prompt asks for.

The text encoder (in :mod:`dit.models`) only knows the words of the procedural data; a prompt
with any other word is refused with a message listing the ones it knows. Synonyms map onto
the data's words ("circle" -> disk), and the old label form ``"disk-right"`` reads as ``"a
disk moving right"``. The empty prompt is the single ``<null>`` token, the unconditional
prompt of classifier-free guidance.
"""
from __future__ import annotations

import re

import numpy as np
import torch

from .data import COLOURS, DIRECTIONS, LABELS, SHAPES, SIZES, SPEEDS

SPECIAL = ("<pad>", "<null>")
ATTRIBUTE_WORDS = {"size": tuple(SIZES), "colour": tuple(COLOURS), "shape": SHAPES,
                   "direction": DIRECTIONS, "speed": tuple(SPEEDS)}
VOCAB = SPECIAL + ("a", "shape", "moving") + tuple(w for ws in ATTRIBUTE_WORDS.values() for w in ws)
TOKEN_IDS = {w: i for i, w in enumerate(VOCAB)}
PAD, NULL = 0, 1
MAX_TOKENS = 8           # "a small green triangle moving left fast" is 7 words
SYNONYMS = {"circle": "disk", "ball": "disk", "dot": "disk", "box": "square", "big": "large",
            "little": "small", "tiny": "small", "quick": "fast", "quickly": "fast",
            "slowly": "slow", "violet": "purple", "an": "a", "going": "moving", "moves": "moving"}
_WORD = re.compile(r"[a-z]+")


class PromptError(ValueError):
    """A prompt the model cannot read (unknown words, or too long)."""


def words_of(prompt: str) -> list[str]:
    """Canonical words of a prompt: lower case, synonyms replaced, label form expanded."""
    text = prompt.strip().lower()
    if text in LABELS:
        shape, direction = text.split("-")
        text = f"a {shape} moving {direction}"
    return [SYNONYMS.get(w, w) for w in _WORD.findall(text)]


def tokenize(prompt: str) -> list[int]:
    """Token ids of a prompt; ``[NULL]`` for an empty one. Raises :class:`PromptError`."""
    words = words_of(prompt)
    unknown = sorted({w for w in words if w not in TOKEN_IDS or w in SPECIAL})
    if unknown:
        known = ", ".join(w for w in VOCAB[len(SPECIAL):])
        raise PromptError(f"prompt {prompt!r}: unknown word(s) {', '.join(unknown)}; the model "
                          f"knows: {known}")
    if len(words) > MAX_TOKENS:
        raise PromptError(f"prompt {prompt!r}: {len(words)} words, at most {MAX_TOKENS}")
    return [TOKEN_IDS[w] for w in words] or [NULL]


def token_batch(prompts: list[str]) -> torch.Tensor:
    """(B, MAX_TOKENS) int64 token ids, padded with PAD."""
    out = np.full((len(prompts), MAX_TOKENS), PAD, np.int64)
    for i, p in enumerate(prompts):
        ids = tokenize(p)
        out[i, :len(ids)] = ids
    return torch.from_numpy(out)


def requested(prompt: str) -> dict[str, str]:
    """The attributes a prompt names, e.g. {"colour": "green", "shape": "triangle"}."""
    words = words_of(prompt)
    return {k: w for k, ws in ATTRIBUTE_WORDS.items() for w in words if w in ws}
