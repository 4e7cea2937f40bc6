"""Gradio's own webcam streaming driving the live portrait, for comparison with the WebRTC
transport in ``benchmarks/live.py``.

A Gradio Blocks page (benchmark only, not part of the product) with
``gr.Image(sources=["webcam"], streaming=True)`` whose ``.stream(...)`` event runs the same
``LiveProcessor`` the Live tab opens from ``portrait.talking``'s ``LiveSpec`` (512² output),
shown in an output ``gr.Image``. Gradio's client grabs the webcam ``<video>`` every
``stream_every`` seconds (while no chunk is pending) as a JPEG data URL and sends it on the
queue; the server decodes it, runs the event function, saves the output image in Gradio's
cache and sends its URL; the page loads it into an ``<img>``.

Latency uses the same stamps as the WebRTC side (``animakit/live/stamp.py``): an init
script wraps ``getUserMedia`` so the webcam component receives the fake camera drawn into a
canvas with a frame counter stamped in, each stamp's draw time kept
(``performance.now()``); the event function copies the counter from the camera frame into
the output; the page reads it back when the output ``<img>`` fires ``load`` (reading it
decodes it) and takes the presentation time from the next animation frame. Frames
presented are the output images that loaded: a URL replaced before its image loaded was
never shown.
"""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from . import live_browser as lb
from .live_browser import closed_quietly

# wraps getUserMedia: the camera as a canvas stream with a counter stamped at the
# bottom-left (layout of animakit/live/stamp.py); window.gw records stamps drawn and
# output images presented
STAMP_AND_WATCH_JS = r"""
(() => {
  const CELL = 16, BITS = 16;
  const gw = window.gw = {sent: new Map(), latencies: [], total: 0, lastSrc: null,
                          unstamped: 0};
  const md = navigator.mediaDevices;
  const original = md.getUserMedia.bind(md);
  md.getUserMedia = async (constraints) => {
    const camera = await original(constraints);
    if (!camera.getVideoTracks().length) return camera;
    const src = document.createElement("video");
    src.muted = true; src.playsInline = true; src.srcObject = camera;
    const canvas = document.createElement("canvas");
    const ctx = canvas.getContext("2d");
    let counter = 0;
    const draw = () => {
      if (src.videoWidth) {
        canvas.width = src.videoWidth; canvas.height = src.videoHeight;
        ctx.drawImage(src, 0, 0);
        counter = (counter + 1) % (1 << BITS);
        const y0 = canvas.height - CELL, bits = [1, 0];
        for (let i = BITS - 1; i >= 0; i--) bits.push((counter >> i) & 1);
        bits.forEach((b, i) => { ctx.fillStyle = b ? "#fff" : "#000"; ctx.fillRect(i * CELL, y0, CELL, CELL); });
        gw.sent.set(counter, performance.now());
        if (gw.sent.size > 900) gw.sent.delete(gw.sent.keys().next().value);
      }
      src.requestVideoFrameCallback(draw);
    };
    src.requestVideoFrameCallback(draw);
    await src.play();
    return canvas.captureStream(30);
  };
  const readStamp = (img) => {
    const w = img.naturalWidth, h = img.naturalHeight;
    if (w < CELL * (BITS + 2) || h < CELL) return null;
    const c = document.createElement("canvas");
    c.width = w; c.height = CELL;
    const cx = c.getContext("2d", {willReadFrequently: true});
    cx.drawImage(img, 0, h - CELL, w, CELL, 0, 0, w, CELL);
    const data = cx.getImageData(0, 0, w, CELL).data, y = CELL / 2, lum = [];
    for (let i = 0; i < BITS + 2; i++) {
      let s = 0;
      for (let dx = 4; dx < CELL - 4; dx++) {
        const o = (y * w + i * CELL + dx) * 4;
        s += (data[o] + data[o + 1] + data[o + 2]) / 3;
      }
      lum.push(s / (CELL - 8));
    }
    if (lum[0] < 160 || lum[1] > 96) return null;
    let v = 0;
    for (let i = 2; i < BITS + 2; i++) v = (v << 1) | (lum[i] > 128 ? 1 : 0);
    return v;
  };
  // every output image that loads is one update presented (load does not bubble: capture)
  document.addEventListener("load", async (e) => {
    const img = e.target;
    if (!(img instanceof HTMLImageElement) || !img.closest("#gw-output")) return;
    if (img.src === gw.lastSrc) return;
    gw.lastSrc = img.src;
    gw.total += 1;
    const value = readStamp(img);          // drawing it decodes it, before the next paint
    requestAnimationFrame((now) => {       // the frame that paints the new image
      if (value !== null && gw.sent.has(value)) gw.latencies.push(now - gw.sent.get(value));
      else gw.unstamped += 1;
    });
  }, true);
  // every new output URL the page was given (loaded or replaced before it loaded)
  gw.urls = 0;
  const watch = () => {
    const root = document.querySelector("#gw-output");
    if (!root) return setTimeout(watch, 200);
    new MutationObserver((ms) => ms.forEach((m) => {
      if (m.type === "attributes" && m.target instanceof HTMLImageElement) gw.urls += 1;
    })).observe(root, {subtree: true, attributes: true, attributeFilter: ["src"]});
  };
  document.addEventListener("DOMContentLoaded", watch);
})();
"""


def page_state(page: Any) -> dict:
    """Output images loaded (presented) so far, their stamp latencies (ms), those without a
    readable stamp, and the output URLs the page was given (some replaced before loading)."""
    return page.evaluate("() => ({total: gw.total, latencies: gw.latencies.slice(), "
                         "unstamped: gw.unstamped, urls: gw.urls})")


def stream_fn(open_processor, state: dict[str, Any]):
    """The ``.stream`` event function: camera frame (480, 640, 3) uint8 RGB -> portrait
    (512, 512, 3) with the camera's stamp copied in. The processor is opened on the first
    frame; ``state`` collects it, the frames processed and each call's ms."""
    from animakit.live.stamp import read_stamp, write_stamp
    state.update(proc=None, t0=0.0, frames=0, ms=[])

    def portrait(frame: np.ndarray | None) -> np.ndarray | None:
        if frame is None:
            return None
        t = time.perf_counter()
        if state["proc"] is None:
            state["proc"], state["t0"] = open_processor(), time.monotonic()
        stamp = read_stamp(frame)
        out = state["proc"].video(frame, time.monotonic() - state["t0"]).copy()
        if stamp is not None:
            write_stamp(out, stamp)
        state["frames"] += 1
        state["ms"].append(1000 * (time.perf_counter() - t))
        return out
    return portrait


def build_page(open_processor, stream_every: float, time_limit: float):
    """The comparison page: webcam in (``#gw-camera``), portrait out (``#gw-output``);
    ``open_processor()`` returns a fresh ``LiveProcessor`` when a stream starts. The
    server-side counters are in ``demo.bench_state``."""
    import gradio as gr
    from gradio.components.image_editor import WebcamOptions
    state: dict[str, Any] = {}
    with gr.Blocks(analytics_enabled=False) as demo:
        with gr.Row():
            # not mirrored: the stamp must reach the server where it was drawn
            cam = gr.Image(sources=["webcam"], streaming=True, type="numpy", label="camera",
                           webcam_options=WebcamOptions(mirror=False), elem_id="gw-camera")
            out = gr.Image(label="portrait", format="jpeg", elem_id="gw-output")
        cam.stream(stream_fn(open_processor, state), cam, out, stream_every=stream_every,
                   time_limit=time_limit, show_progress="hidden")
    demo.bench_state = state
    return demo


@contextlib.contextmanager
def served(demo) -> Iterator[str]:
    port = lb.free_port()
    demo.queue().launch(server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        closed_quietly(demo)


def start_stream(page: Any, url: str) -> None:
    """Load the page, open the webcam component's camera and press its record (stream)
    button, as a user does."""
    page.add_init_script(STAMP_AND_WATCH_JS)
    page.goto(url, wait_until="load", timeout=120_000)
    page.locator("#gw-camera button").filter(has_text="Webcam").first.click(timeout=60_000)
    page.locator("#gw-camera button").filter(has_text="Record").first.click(timeout=60_000)


def measure(camera: Path, image: Path, seconds: float, stream_every: float = 1 / 30) -> dict:
    """Fps presented and stamp latency (ms) of the Gradio webcam page over ``seconds`` after
    a warm-up, with headless Chromium playing ``camera`` (.y4m) as its webcam."""
    from playwright.sync_api import sync_playwright

    from animakit.live.local import choose_pipeline
    _, spec = choose_pipeline("portrait.talking")
    demo = build_page(lambda: spec.open({spec.inputs[0]: image}, {}, "camera"), stream_every,
                      time_limit=3 * seconds + 120)
    server = demo.bench_state
    with served(demo) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=lb.CHROMIUM, headless=True,
                                     args=lb.chromium_args(camera, None))
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        start_stream(page, url)
        deadline = time.time() + 90
        while page_state(page)["total"] < 10 and time.time() < deadline:
            page.wait_for_timeout(500)
        if page_state(page)["total"] < 10:
            raise RuntimeError(f"no Gradio stream updates arrived: {page_state(page)}")
        page.wait_for_timeout(3000)                        # warm-up, as on the WebRTC side
        before, n0, t0 = page_state(page), server["frames"], time.time()
        page.wait_for_timeout(int(seconds * 1000))
        after, n1, t1 = page_state(page), server["frames"], time.time()
        browser.close()
    if server["proc"] is not None:
        server["proc"].close()
    lat = np.array(after["latencies"][len(before["latencies"]):])
    ms = np.array(server["ms"][n0:n1])
    return {
        "transport": "gr.Image(sources=['webcam'], streaming=True).stream -> gr.Image (jpeg)",
        "stream_every_s": round(stream_every, 4),
        "fps_presented": round((after["total"] - before["total"]) / (t1 - t0), 2),
        "latency_ms_mean": round(float(lat.mean()), 1) if len(lat) else None,
        "latency_ms_p95": round(float(np.percentile(lat, 95)), 1) if len(lat) else None,
        "latency_samples": int(len(lat)),
        "updates_without_stamp": after["unstamped"] - before["unstamped"],
        "output_urls_per_s": round((after["urls"] - before["urls"]) / (t1 - t0), 2),
        "server_frames_per_s": round((n1 - n0) / (t1 - t0), 2),
        "server_fn_ms_mean": round(float(ms.mean()), 1) if len(ms) else None,
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }
