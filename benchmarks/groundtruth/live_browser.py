"""Driving the studio's Live tab from headless Chromium with a fake camera and microphone,
shared by the live tests and ``benchmarks/live.py``.

Chromium plays a ``.y4m`` file as the camera (looping) and a ``.wav`` as the microphone;
the clip is converted with the ffmpeg binary of ``imageio-ffmpeg``. With ``stamp=True``
the page stamps a frame counter into the camera frames and reads it back from the
presented output (``animakit/live/client.js``), so latency is measured as a user sees it.
"""
from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def fake_camera(src: Path, out_dir: Path, fps: float = 30.0, size: tuple[int, int] = (640, 480),
                seconds: float | None = None) -> Path:
    """``src`` video as a ``.y4m`` file Chromium can play as its camera."""
    import imageio_ffmpeg
    out = Path(out_dir) / f"{Path(src).stem}_{size[0]}x{size[1]}_{fps:g}.y4m"
    if not out.exists():
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(src)]
        if seconds:
            cmd += ["-t", f"{seconds:g}"]
        cmd += ["-vf", f"scale={size[0]}:{size[1]},fps={fps:g}", "-pix_fmt", "yuv420p", str(out)]
        subprocess.run(cmd, check=True)
    return out


def fake_camera_frames(frames: list[np.ndarray], out: Path, fps: float = 30.0) -> Path:
    """(H, W, 3) uint8 ``frames`` as a ``.y4m`` camera clip."""
    import imageio_ffmpeg
    h, w = frames[0].shape[:2]
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-f", "rawvideo",
           "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{fps:g}", "-i", "-",
           "-pix_fmt", "yuv420p", str(out)]
    subprocess.run(cmd, input=b"".join(np.ascontiguousarray(f).tobytes() for f in frames),
                   check=True)
    return out


def fake_microphone(src: Path, out_dir: Path) -> Path:
    """``src`` audio as a 48 kHz mono ``.wav`` Chromium can play as its microphone."""
    import imageio_ffmpeg
    out = Path(out_dir) / f"{Path(src).stem}_48k.wav"
    if not out.exists():
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y",
                        "-i", str(src), "-ar", "48000", "-ac", "1", str(out)], check=True)
    return out


def chromium_args(camera: Path | None, microphone: Path | None, allow: bool = True) -> list[str]:
    """Headless Chromium flags: a fake camera / microphone from files, permission granted
    without a prompt unless ``allow`` is False (then getUserMedia is refused)."""
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--autoplay-policy=no-user-gesture-required", "--use-fake-device-for-media-stream",
            # several pages of one browser all render, as several visible windows would
            "--disable-renderer-backgrounding", "--disable-background-timer-throttling",
            "--disable-backgrounding-occluded-windows"]
    if allow:
        args.append("--use-fake-ui-for-media-stream")
    else:
        args.append("--deny-permission-prompts")
    if camera is not None:
        args.append(f"--use-file-for-fake-video-capture={camera}")
    if microphone is not None:
        args.append(f"--use-file-for-fake-audio-capture={microphone}")
    return args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def studio_in_process() -> Iterator[str]:
    """The studio served from this process (so a caller can reach its live sessions
    through ``animakit.live.server.REGISTRY``); yields its URL."""
    from animakit.studio import build_app, launch
    demo = build_app()
    port = free_port()
    launch(demo, server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        closed_quietly(demo)


def closed_quietly(demo) -> None:
    """Close a Gradio app without its "Closing server" line on stdout, which belongs to the
    benchmark's one JSON object."""
    import sys
    with contextlib.redirect_stdout(sys.stderr):
        demo.close()


def open_live_tab(page: Any, url: str, image: Path, driver: str = "camera",
                  stamp: bool = False) -> None:
    """Load the studio, open the Live tab, drop ``image`` in, choose ``driver``."""
    if stamp:
        page.add_init_script("window.ANIMAKIT_LIVE_STAMP = true;")
    page.goto(url, wait_until="load", timeout=120_000)
    page.get_by_role("tab", name="Live").click()
    page.locator("#tab_live_portrait_talking input[type=file]").first.set_input_files(str(image))
    page.locator("#live-driver").get_by_label(driver, exact=True).check()
    page.wait_for_timeout(1500)


def start(page: Any) -> None:
    page.click("#live-start")


def live_state(page: Any) -> dict | None:
    """What the page knows of its session: presented frames, fps, latencies (stamp mode),
    the server's last stats and any error shown."""
    return page.evaluate("""() => {
        const s = window.animakitLive;
        if (!s) return null;
        return {total: s.total, fps: s.fps, latencies: s.latencies.slice(), server: s.server,
                error: s.error || null, token: s.token,
                notice: (document.querySelector('#live-output .live-notice') || {}).textContent || ''};
    }""")


def wait_for(page: Any, predicate, timeout: float = 60.0, step_ms: int = 500) -> dict | None:
    """Poll :func:`live_state` until ``predicate(state)``; the last state either way."""
    deadline = time.time() + timeout
    state = None
    while time.time() < deadline:
        state = live_state(page)
        if state is not None and predicate(state):
            return state
        page.wait_for_timeout(step_ms)
    return state


def output_frame(page: Any) -> np.ndarray:
    """(h, w, 3) uint8: the frame the output ``<video>`` is presenting now."""
    data = page.evaluate("""() => {
        const v = document.querySelector('#live-output video');
        const c = document.createElement('canvas');
        c.width = v.videoWidth; c.height = v.videoHeight;
        const ctx = c.getContext('2d');
        ctx.drawImage(v, 0, 0);
        return {w: c.width, h: c.height, px: Array.from(ctx.getImageData(0, 0, c.width, c.height).data)};
    }""")
    return np.array(data["px"], np.uint8).reshape(data["h"], data["w"], 4)[..., :3]


def sessions(page: Any) -> dict:
    return page.evaluate("async () => (await fetch('live/sessions')).json()")
