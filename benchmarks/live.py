"""Figures of the live portrait over WebRTC (``animakit.live`` + portrait.talking); prints
one JSON object.

    .venv/bin/python benchmarks/live.py [--seconds 20] [--driving CLIP]

The studio runs in this process; headless Chromium on the same machine plays a driving
clip as a 640x480, 30 fps fake camera (a looping .y4m) into the Live tab, in test-pattern
mode: the page stamps a counter into each camera frame and reads it back from each
presented output frame. Reported over a measuring window after a warm-up:

- throughput: output frames presented per second by the page's ``<video>`` (512x512);
- latency: camera frame drawn -> the output frame carrying its stamp presented, mean and
  p95 (ms), as the user sees it (capture, encode, network, processing, decode, display);
- fidelity: the session records camera | output side by side; MediaPipe re-detects the
  mouth opening (inner-lip gap / face width) in both halves, Pearson r between them.

In the same run, ``gradio_webcam``: the same processor behind Gradio's own webcam streaming
(``gr.Image(sources=["webcam"], streaming=True).stream(...)``, see
``benchmarks/groundtruth/live_gradio.py``), the same fake camera, browser and stamps:
output images presented per second and stamp latency, for the issue's "measure both".
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.groundtruth import live_browser as lb  # noqa: E402
from benchmarks.groundtruth import live_gradio  # noqa: E402
from benchmarks.groundtruth.talking_measures import mouth_opening, pearson, redetect  # noqa: E402

DEV_CLIP = Path("/work/shared/dev-data/face_driving_d11.mp4")
SHIPPED_CLIP = ROOT / "assets" / "talking" / "driving_face.mp4"


def halves(path: Path, out_w: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(camera frames, output frames) of a side-by-side recording whose right part is ``out_w`` wide."""
    from animakit.media import VideoReader
    cams, outs = [], []
    for f in VideoReader(path):
        cams.append(f[:, : f.shape[1] - out_w])
        outs.append(f[:, f.shape[1] - out_w:])
    return cams, outs


def fidelity(recording: Path, out_w: int) -> dict:
    cams, outs = halves(recording, out_w)
    driver, output = mouth_opening(redetect(cams)), mouth_opening(redetect(outs))
    ok = np.isfinite(driver) & np.isfinite(output)
    return {"frames": len(cams), "both_detected": int(ok.sum()),
            "mouth_pearson_r": round(pearson(driver, output), 3),
            "driver_mouth_range": [round(float(np.nanmin(driver)), 3), round(float(np.nanmax(driver)), 3)]}


def measure(url: str, camera: Path, seconds: float, work: Path) -> dict:
    from playwright.sync_api import sync_playwright

    from animakit.live.server import REGISTRY
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=lb.CHROMIUM, headless=True,
                                     args=lb.chromium_args(camera, None))
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        lb.open_live_tab(page, url, ROOT / "assets" / "portrait.png", stamp=True)
        lb.start(page)
        state = lb.wait_for(page, lambda s: s["total"] > 30, timeout=90)
        if not state or state["total"] <= 30:
            raise RuntimeError(f"no live frames arrived: {state}")
        page.wait_for_timeout(3000)                        # warm-up: filters, encoder ramp
        before, t0 = lb.live_state(page), time.time()
        page.wait_for_timeout(int(seconds * 1000))
        after, t1 = lb.live_state(page), time.time()
        server = after["server"]
        # then a second window, recorded camera | output, for the fidelity
        sess = REGISTRY.get(state["token"])
        recording = work / "live_side_by_side.mp4"
        sess.start_recording(recording, fps=30.0, with_camera=True)
        page.wait_for_timeout(int(seconds * 1000))
        sess.stop_recording().finish()
        browser.close()
    lat = np.array(after["latencies"][len(before["latencies"]):])
    return {
        "fps_presented": round((after["total"] - before["total"]) / (t1 - t0), 2),
        "latency_ms_mean": round(float(lat.mean()), 1) if len(lat) else None,
        "latency_ms_p95": round(float(np.percentile(lat, 95)), 1) if len(lat) else None,
        "latency_samples": int(len(lat)),
        "server": server, "recording": recording,
    }


def processor_ms(camera_clip: Path, frames: int = 120) -> dict:
    """The portrait processor alone on the clip's 640x480 frames, in this process: ms per
    frame (mesh + transfer + render at 512x512), mean and p95."""
    import cv2

    from animakit.media import VideoReader
    from animakit.portrait.talking.live import open_live
    proc = open_live({"image": ROOT / "assets" / "portrait.png"}, {}, "camera")
    times = []
    for i, f in enumerate(VideoReader(camera_clip)):
        f = cv2.resize(f, (640, 480), interpolation=cv2.INTER_AREA)
        t = time.perf_counter()
        proc.video(f, i / 30.0)
        times.append(1000 * (time.perf_counter() - t))
        if i + 1 >= frames:
            break
    proc.close()
    ms = np.array(times[10:])
    return {"mean": round(float(ms.mean()), 2), "p95": round(float(np.percentile(ms, 95)), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="measuring window")
    ap.add_argument("--stream-every", type=float, default=1 / 30,
                    help="Gradio side: seconds between webcam chunks (its stream_every)")
    ap.add_argument("--driving", type=Path, default=DEV_CLIP if DEV_CLIP.exists() else SHIPPED_CLIP)
    args = ap.parse_args()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        camera = lb.fake_camera(args.driving, work, fps=30.0, size=(640, 480))
        with lb.studio_in_process() as url:
            m = measure(url, camera, args.seconds, work)
        load_webrtc = round(os.getloadavg()[0], 2)     # the Gradio side records its own
        fid = fidelity(m.pop("recording"), 512)
        gradio = live_gradio.measure(camera, ROOT / "assets" / "portrait.png", args.seconds,
                                     args.stream_every)
    proc = processor_ms(args.driving)
    out = {
        "benchmark": "live", "driving": args.driving.name, "camera": "640x480 @ 30 fps (fake, y4m)",
        "output": "512x512", "browser": "headless Chromium, same machine", "cores": os.cpu_count(),
        "load_avg_1min": load_webrtc, **m, "fidelity": fid,
        "processor_ms_per_frame": proc, "gradio_webcam": gradio,
        "targets": {"fps_presented": ">= 25", "latency_ms_mean": "<= 150",
                    "latency_ms_p95": "<= 250", "mouth_pearson_r": ">= 0.8"},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
