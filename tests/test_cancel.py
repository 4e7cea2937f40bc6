"""Cancelling a render (animakit.cancel): the flag stops the frame loop, the SVD samplers'
step callback and the engines' loops before the first frame; nothing is kept. Progress:
``on_frame`` counts every frame written. The studio's runner arms and cancels per session."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import animakit
from animakit.cancel import CancelFlag, Cancelled, cancellable, check
from animakit.pipeline import Engine, FrameStream, Pipeline
from animakit.studio import runner
from test_studio_plugins import TwoParams


class Slow(Engine):
    """200 frames, 20 ms each: a render that takes 4 s unless cancelled."""
    name, help = "slow", "a slow test engine"

    def stream(self, inputs, params, generator=None):
        def frames():
            for i in range(200):
                time.sleep(0.02)
                yield np.full((32, 32, 3), i % 255, np.uint8)
        return FrameStream(frames(), fps=25, size=(32, 32), num_frames=200)


class SlowPipeline(Pipeline):
    name = "test.slow"
    Params = TwoParams
    engines = {"slow": Slow}
    default_engine = "slow"


def test_check_does_nothing_outside_a_cancellable_block():
    flag = CancelFlag()
    flag.cancel()
    check()                                   # no render is watching this flag
    with cancellable(flag), pytest.raises(Cancelled):
        check()


def test_a_cancelled_render_stops_within_a_frame_and_keeps_nothing(tmp_path):
    flag, seen = CancelFlag(), []
    out = tmp_path / "slow.mp4"
    threading.Timer(0.5, flag.cancel).start()
    t0 = time.perf_counter()
    with cancellable(flag), pytest.raises(Cancelled):
        animakit.render(SlowPipeline(), out, progress=False,
                        on_frame=lambda done, total: seen.append((done, total)))
    took = time.perf_counter() - t0
    assert took < 1.5, took                    # not the 4 s the whole render takes
    assert 5 < len(seen) < 100 and seen[0] == (1, 200)
    assert list(tmp_path.iterdir()) == []     # no video, no .part file


def test_progress_counts_every_frame(tmp_path):
    seen = []
    result = animakit.render("dit.generate", tmp_path / "d.mp4", progress=False,
                             params={"steps": 1, "num_clips": 1, "upscale": 1}, seed=0,
                             on_frame=lambda done, total: seen.append((done, total)))
    assert seen == [(i + 1, result.frames) for i in range(result.frames)]


def test_the_svd_step_callback_checks_the_flag():
    from animakit.svd import SVDEngineMixin
    calls = []

    class Eng(SVDEngineMixin):
        pass

    eng = Eng()
    eng.callback_on_step_end = lambda *a: calls.append(a) or {"latents": 1}
    assert eng.callback_on_step_end("c", 0, 1, {}) == {"latents": 1} and calls
    eng.callback_on_step_end = None
    assert eng.callback_on_step_end("c", 0, 1, {}) is None
    flag = CancelFlag()
    flag.cancel()
    with cancellable(flag), pytest.raises(Cancelled):
        eng.callback_on_step_end("c", 1, 1, {})


def test_dit_sampling_stops_between_steps():
    from animakit.dit.pipeline import load_model
    from animakit.dit.sample import sample_latents
    from animakit.dit.text import token_batch
    model, _ = load_model()
    flag = CancelFlag()
    flag.cancel()
    with cancellable(flag), pytest.raises(Cancelled):
        sample_latents(model, token_batch(["a red disk"]), steps=2)


def test_the_runner_cancels_the_sessions_render_only(monkeypatch, tmp_path):
    from animakit import registry
    monkeypatch.setitem(registry._extra, SlowPipeline.name, SlowPipeline)
    monkeypatch.setattr(runner, "output_dir", lambda: tmp_path)
    done: dict = {}

    def go(session):
        try:
            done[session] = runner.render(SlowPipeline.name, None, {}, {}, session=session)
        except Cancelled:
            done[session] = "cancelled"

    runner.arm("a", SlowPipeline.name)
    threads = [threading.Thread(target=go, args=(s,)) for s in ("a", "b")]
    for t in threads:
        t.start()
    time.sleep(0.6)
    assert runner.cancel("a", SlowPipeline.name, wait=10) == "stopped"
    for t in threads:
        t.join(30)
    assert done["a"] == "cancelled" and done["b"][0].endswith(".mp4")
    assert not list((tmp_path / "session-a").glob("*"))
    assert runner.cancel("a", SlowPipeline.name) == "idle"     # nothing armed any more
    registry.refresh()
