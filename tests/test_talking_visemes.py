"""English phones → visemes for ``portrait.talking``: pocketsphinx phone loop and forced
alignment on real speech (the shipped espeak-ng clip and words synthesized here), the
viseme mapping and coarticulation, the auto fallback, bad text, and the rendered shapes."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from animakit.errors import InputError, ParamError
from animakit.media import load_audio
from animakit.portrait.talking import phones as P
from animakit.portrait.talking.phones import (Phone, PhoneLoop, aligned_phones, check_text,
                                              utterances)
from animakit.portrait.talking.visemes import VisemeTrack, blend, viseme_spans

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT / "assets/speech.wav"
IMAGE = ROOT / "assets/portrait.png"
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng missing (make test installs it)")


def espeak(text: str, path: Path, voice: str = "en-us") -> np.ndarray:
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True,
                   capture_output=True)
    return load_audio(path, 16000).samples


def test_phone_loop_on_speech_gives_plausible_phones():
    x = load_audio(SPEECH, 16000).samples
    phones = PhoneLoop().decode(0.0, x)
    speech = [p for p in phones if p.label != "SIL"]
    assert len(speech) > 30                          # 8.8 s of speech
    assert any(p.label == "SIL" for p in phones)      # the pauses between phrases
    assert all(a.end <= b.start + 1e-6 for a, b in zip(phones, phones[1:]))
    assert phones[-1].end <= len(x) / 16000 + 0.02
    vowels = {p.label for p in speech} & P.VOWELS
    assert len(vowels) >= 5


@needs_espeak
@pytest.mark.parametrize("word,vowel", [("moon", "UW"), ("see", "IY"), ("two", "UW")])
def test_phone_loop_hears_the_vowel_of_a_word(tmp_path, word, vowel):
    phones = PhoneLoop().decode(0.0, espeak(word, tmp_path / "w.wav"))
    assert vowel in [p.label for p in phones]


@needs_espeak
def test_forced_alignment_gives_the_dictionary_phones_in_order(tmp_path):
    text = "The quick brown fox jumps over the lazy dog"
    x = espeak(text, tmp_path / "s.wav")
    words = check_text(text, len(x) / 16000)
    phones = aligned_phones(x, words)
    got = [p.label for p in phones if p.label != "SIL"]
    d = P._decoder(lm=None)
    want = " ".join(d.lookup_word(w) for w in words).split()
    # in order; on espeak's voice the aligner may leave the last word's phones to silence
    assert got == want[:len(got)] and len(got) >= 0.8 * len(want)
    assert all(a.start <= b.start for a, b in zip(phones, phones[1:]))
    assert phones[-1].end <= len(x) / 16000 + 0.02
    # the /k/ of "quick" comes before the /f/ of "fox", well inside the clip
    k = next(p for p in phones if p.label == "K")
    f = next(p for p in phones if p.label == "F")
    assert 0.0 < k.start < f.start < len(x) / 16000


@needs_espeak
def test_text_that_does_not_match_the_audio_is_refused(tmp_path):
    x = espeak("I like green eggs and ham", tmp_path / "s.wav")
    words = check_text("the weather report says heavy rain tomorrow across the north", 9.0)
    with pytest.raises(InputError, match="does not match"):
        aligned_phones(x, words, "speech.wav")


def test_an_alignment_that_places_no_word_falls_back_to_recognition(tmp_path):
    """The aligner can 'succeed' with silence alone (no word placed): that gives no phones
    (not a mouth at rest for the whole clip), and the render recognizes them instead."""
    x = (1e-3 * np.random.default_rng(0).standard_normal(12000)).astype(np.float32)
    assert aligned_phones(x, ["number"], "speech.wav") == []
    import soundfile as sf
    import animakit
    sf.write(tmp_path / "n.wav", x, 16000)
    out = animakit.load_pipeline("portrait.talking")(audio=tmp_path / "n.wav", text="number",
                                                     image=IMAGE)
    assert out.extras["text_alignment"].startswith("no word placed")


@pytest.mark.parametrize("text,msg", [("", "no English words"), ("  !? ", "no English words"),
                                      ("你好世界", "no English words"),
                                      ("hello zqxvbn", "not in the English dictionary: zqxvbn")])
def test_bad_text_is_named(text, msg):
    with pytest.raises(ParamError, match=msg):
        check_text(text, 3.0)


def test_text_is_bounded_by_audio_length():
    with pytest.raises(ParamError, match="up to 300 s"):
        check_text("hello", 301.0)


def test_diphthongs_split_and_unknown_labels_are_consonants():
    spans = viseme_spans([Phone("AW", 0.0, 0.2), Phone("+SPN+", 0.2, 0.3), Phone("T", 0.3, 0.4)])
    assert len(spans) == 4
    assert spans[0][0].target[0] > 1.0 and spans[1][0].target[2] == 1.0   # open, then round
    assert spans[2][0].target[2] == 0.0 and spans[3][0].target[3] == 0.0


def test_bilabial_shuts_the_lips_whatever_surrounds_it():
    spans = viseme_spans([Phone("AA", 0.0, 0.2), Phone("M", 0.2, 0.27), Phone("AA", 0.27, 0.5)])
    assert blend(spans, 0.235)[3] == pytest.approx(1.0)       # closed through /m/
    assert blend(spans, 0.1)[3] < 0.05 and blend(spans, 0.4)[3] < 0.05
    spans = viseme_spans([Phone("IY", 0.0, 0.2), Phone("F", 0.2, 0.3), Phone("IY", 0.3, 0.5)])
    assert blend(spans, 0.25)[4] == pytest.approx(1.0)        # tucked through /f/


def test_rounding_is_anticipated_across_consonants():
    """/s t u/ rounds during the /s t/ already; /s t i/ does not."""
    def round_at(vowel: str, t: float) -> float:
        seq = [Phone("SIL", 0.0, 0.2), Phone("S", 0.2, 0.3), Phone("T", 0.3, 0.35),
               Phone(vowel, 0.35, 0.6)]
        return float(blend(viseme_spans(seq), t)[2])
    assert round_at("UW", 0.3) > 0.5
    assert round_at("IY", 0.3) < 0.05
    assert round_at("UW", 0.45) > 0.9
    # a spread vowel's dominance: /i/ spreads, and the /t/ between two /i/ keeps it spread
    seq = viseme_spans([Phone("IY", 0.0, 0.2), Phone("T", 0.2, 0.26), Phone("IY", 0.26, 0.5)])
    assert blend(seq, 0.23)[1] > 0.8


def test_utterances_are_bounded_and_cover_the_stream():
    rng = np.random.default_rng(0)
    blocks = [(0.1 * rng.standard_normal(16000 * 10)).astype(np.float32) for _ in range(7)]
    pieces = list(utterances(iter(blocks)))
    assert sum(len(x) for _, x in pieces) == 70 * 16000
    assert max(len(x) for _, x in pieces) <= P.CHUNK_MAX_S * 16000
    starts = np.cumsum([0] + [len(x) for _, x in pieces[:-1]]) / 16000
    assert np.allclose([s for s, _ in pieces], starts)


def test_track_streams_in_bounded_state():
    """40 s of speech: phones are recognized utterance by utterance as frames are asked
    for, and only those near the current frame are kept."""
    x = np.tile(load_audio(SPEECH, 16000).samples, 5)
    blocks = (x[i:i + 160000] for i in range(0, len(x), 160000))
    track = VisemeTrack(blocks, 25.0, "en")
    most = 0
    for k in range(int(len(x) / 16000 * 25)):
        shape = track.shape(k)
        assert shape is not None
        most = max(most, len(track.spans))
    # at most the utterance being rendered and the next one (<= 2 x 12 s), not the clip
    assert most < 0.6 * track.spans_decoded
    assert track.english_share == 1.0


def test_auto_falls_back_to_acoustics_where_speech_is_not_taken_for_english(monkeypatch):
    """The fallback wiring, on real recognition: with the English bar set above what this
    clip scores, auto shapes no frame from phones and the render still runs on the
    loudness and spectrum; en shapes every frame. (How the bar separates languages is
    measured in benchmarks/portrait_talking.py on real English and Chinese speech.)"""
    x = load_audio(SPEECH, 16000).samples
    monkeypatch.setattr(P, "ENGLISH_NATS", 0.0)
    for mode, share in (("auto", 0.0), ("en", 1.0)):
        track = VisemeTrack(iter([x]), 25.0, mode)
        shapes = [track.shape(k) for k in range(50)]
        assert track.english_share == share
        assert all((s is None) == (share == 0.0) for s in shapes)


@needs_espeak
def test_moon_renders_a_narrower_mouth_than_see(tmp_path):
    from benchmarks.groundtruth import talking_measures as M
    import animakit
    pipe = animakit.load_pipeline("portrait.talking")
    width = {}
    for word in ("moon", "see"):
        wav = tmp_path / f"{word}.wav"
        espeak(word, wav)
        out = pipe(image=IMAGE, audio=wav)
        clip = load_audio(wav, 16000)
        env = M.rms_envelope(clip.samples, clip.sr, 25.0, len(out.frames))
        width[word] = M.vowel_width(M.redetect(out.frames), env)
    assert width["moon"] < 0.92 * width["see"]


def test_text_params_are_checked_against_the_driver():
    import animakit
    pipe = animakit.load_pipeline("portrait.talking")
    with pytest.raises(ParamError, match="audio driver only"):
        pipe(image=IMAGE, text="hello there", duration=0.2)
    with pytest.raises(ParamError, match="phonemes=auto or en"):
        pipe(image=IMAGE, audio=SPEECH, text="hello there", phonemes="off", duration=0.2)
