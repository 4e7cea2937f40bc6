"""The studio as users meet it: a launched app, driven by gradio_client and by a real
headless Chromium (Debian's, through Playwright's executable-path launch — nothing downloaded)."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from animakit.media import VideoReader
from animakit.registry import pipeline_classes
from test_studio_plugins import SEEN, two_engines  # noqa: F401 (a fixture)

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_studio(log: Path, **env: str):
    """``app.py`` serving on a free port, with ``env`` added to its environment: yields its
    URL, and stops it afterwards."""
    with studio_server(log, **env) as (url, _):
        yield url


@contextlib.contextmanager
def studio_server(log: Path, **env: str):
    """:func:`running_studio`, yielding (URL, the server's process)."""
    port = _free_port()
    env = {**os.environ, "ANIMAKIT_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", **env}
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=fh,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    import urllib.request
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("studio exited:\n" + log.read_text()[-3000:])
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(1)
    else:
        proc.kill()
        raise RuntimeError("studio did not start:\n" + log.read_text()[-3000:])
    try:
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    with running_studio(tmp_path_factory.mktemp("studio") / "app.log") as url:
        yield url


@pytest.fixture(scope="module")
def client(studio):
    from gradio_client import Client
    return Client(studio, verbose=False)


def _slug(name: str) -> str:
    return name.replace(".", "_")


EXAMPLE_PIPELINES = [n for n, c in pipeline_classes().items() if c.examples]


@pytest.mark.parametrize("name", EXAMPLE_PIPELINES)
def test_every_tab_example_returns_a_playable_mp4(client, name):
    video, info = client.predict(0, api_name=f"/example_{_slug(name)}")
    path = Path(video["video"] if isinstance(video, dict) else video)
    r = VideoReader(path)
    assert r.num_frames >= 2 and r.fps > 0
    assert f"**{r.num_frames} frames** at {r.fps:g} fps" in info


@pytest.mark.parametrize("index", [1, 2])
def test_dit_examples_animate_a_drawn_frame_and_in_between(client, index):
    """The DiT tab's image-to-video (a drawn triangle) and in-betweening examples."""
    video, info = client.predict(index, api_name="/example_dit_generate")
    r = VideoReader(Path(video["video"] if isinstance(video, dict) else video))
    assert r.num_frames == 16


def test_every_registered_pipeline_has_a_tab_and_an_example(client):
    endpoints = client.view_api(return_format="dict")["named_endpoints"]
    for name in pipeline_classes():
        assert f"/run_{_slug(name)}" in endpoints
    assert set(EXAMPLE_PIPELINES) == set(pipeline_classes())


def test_bad_upload_shows_the_error_and_the_app_keeps_serving(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError
    bogus = tmp_path / "notes.png"
    bogus.write_text("this is a text file, not an image")
    cls = pipeline_classes()["video.kenburns"]
    defaults = [("" if p["default"] is None else p["default"]) for p in cls.describe()["params"]]
    args = [handle_file(str(bogus)), None, "affine", 0] + defaults
    with pytest.raises(AppError, match="not a readable image"):
        client.predict(*args, api_name="/run_video_kenburns")
    video, info = client.predict(1, api_name="/example_video_kenburns")
    assert VideoReader(Path(video["video"] if isinstance(video, dict) else video)).num_frames > 2


def test_no_face_shows_the_error_and_the_app_keeps_serving(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError
    import numpy as np
    from PIL import Image
    yy, xx = np.mgrid[0:256, 0:256]
    blank = tmp_path / "landscape.png"
    Image.fromarray(np.stack([xx, yy, 255 - xx], -1).astype(np.uint8)).save(blank)
    cls = pipeline_classes()["portrait.talking"]
    d = cls.describe()
    inputs = [handle_file(str(blank))] + [None] * (len(d["inputs"]) - 1)
    defaults = [("" if p["default"] is None else p["default"]) for p in d["params"]]
    with pytest.raises(AppError, match="no face"):
        client.predict(*inputs, cls.default_engine, 0, *defaults, api_name="/run_portrait_talking")
    video, info = client.predict(0, api_name="/example_portrait_talking")
    assert VideoReader(Path(video["video"] if isinstance(video, dict) else video)).num_frames > 2


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_browser_renders_an_example_plays_it_and_screenshots_tabs(studio):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is required for the browser test: run `make test` as root "
                    "or `apt-get install chromium`")
    from playwright.sync_api import sync_playwright
    classes = pipeline_classes()
    first = next(n for n in ("portrait.talking", "video.kenburns")
                 if n in classes and classes[n].examples)
    DOCS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = _browser(pw)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(studio, wait_until="load", timeout=120_000)
        page.locator(f"#tab_{_slug(first)}-button").click()
        # the first example thumbnail of the tab: one click fills the controls and renders
        page.locator(f"#examples_{_slug(first)} tbody tr").first.click()
        video = page.locator(f"#video_{_slug(first)} video")
        video.wait_for(state="attached", timeout=240_000)
        page.wait_for_function(
            """id => { const v = document.querySelector('#' + id + ' video');
                       return v && v.readyState >= 2 && v.duration > 0; }""",
            arg=f"video_{_slug(first)}", timeout=120_000)
        playing = page.evaluate(
            """async id => { const v = document.querySelector('#' + id + ' video');
                             v.muted = true; await v.play();
                             await new Promise(r => setTimeout(r, 800));
                             return {t: v.currentTime, paused: v.paused, w: v.videoWidth}; }""",
            f"video_{_slug(first)}")
        assert playing["t"] > 0 and not playing["paused"] and playing["w"] > 0
        for name in pipeline_classes():
            page.locator(f"#tab_{_slug(name)}-button").click()
            page.wait_for_timeout(600)
            page.screenshot(path=str(DOCS / f"studio_{_slug(name)}.png"), full_page=False)
        browser.close()


def _browser(pw):
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"])


def test_browser_engine_settings_follow_the_engine_choice(two_engines):
    """A pipeline whose 'fancy' engine has its own settings: the group shows only while that
    engine is chosen, and an example choosing it renders with the example's setting."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is required for the browser test")
    import gradio as gr
    from playwright.sync_api import sync_playwright
    from animakit.studio import build_tab
    with gr.Blocks() as demo:
        build_tab(two_engines)
    demo.queue()
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True)
    try:
        with sync_playwright() as pw:
            browser = _browser(pw)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/", wait_until="load", timeout=120_000)
            group = page.get_by_text("fancy engine settings")
            engine = page.get_by_label("engine").first
            engine.wait_for(timeout=60_000)
            assert not group.is_visible()
            for choice, shown in (("fancy", True), ("plain", False)):
                engine.click()
                page.get_by_role("option", name=choice).click()
                group.wait_for(state="visible" if shown else "hidden", timeout=30_000)
            page.locator("button.gallery-item").first.click()   # example: fancy, sparkle 0.2
            group.wait_for(state="visible", timeout=30_000)
            page.locator("#video_test_two_engines video").wait_for(timeout=120_000)
            assert SEEN[-1].sparkle == 0.2
            browser.close()
    finally:
        demo.close()
