"""Speed figures of ``portrait.talking`` at the photo's own size, for benchmarks/portrait_talking.py.

- ``cli_speed_figures``: end to end from the CLI (``animakit run``: decode, render, H.264
  encode, mux), as long-minus-short wall time per frame, so start-up (imports, face
  detection, rig) cancels out; also without encoding (the stream alone, same subtraction).
- ``encoder_figures``: x264 presets and thread counts on the same rendered frames: encoder
  CPU time and wall time per frame, file size, and PSNR / SSIM against the lossless frames.

Run alone: ``.venv/bin/python benchmarks/talking_speed.py [--dev-data DIR]``.
"""
from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import animakit  # noqa: E402
from animakit.media import load_audio, load_image, save_image  # noqa: E402
from animakit.media.ffmpeg import ffmpeg_exe  # noqa: E402
from animakit.media.video import i420_into  # noqa: E402
from animakit.portrait.talking.sources import source_face  # noqa: E402

SMALL = ROOT / "assets/portrait.png"
SPEECH = ROOT / "assets/speech.wav"
LARGE_SIDE = 1342
PRESETS = ("medium", "faster", "veryfast", "superfast", "ultrafast")


def large_portrait(dev: Path, tmp: Path) -> tuple[Path, str]:
    """(path, description) of a 1342² portrait whose face is about 580 px wide (a phone
    photo's framing): a square of 2.3 face widths around the face of the dev portrait
    ``portrait_s1.jpg`` (1145², face 330 px) upscaled with Lanczos when present, else of the
    shipped 512² one."""
    src = dev / "portrait_s1.jpg"
    img = load_image(src if src.exists() else SMALL)
    pts = source_face(img, src.name, 0)[:, :2]
    side = int(min(2.3 * float(np.linalg.norm(pts[234] - pts[454])), *img.shape[:2]))
    cx, cy = (pts.min(0) + pts.max(0)) / 2
    x0 = int(np.clip(cx - side / 2, 0, img.shape[1] - side))
    y0 = int(np.clip(cy - side / 2, 0, img.shape[0] - side))
    big = cv2.resize(img[y0:y0 + side, x0:x0 + side], (LARGE_SIDE, LARGE_SIDE),
                     interpolation=cv2.INTER_LANCZOS4)
    out = tmp / "portrait_1342.png"
    save_image(out, big)
    name = "dev portrait_s1.jpg" if src.exists() else "assets/portrait.png"
    return out, f"{name}: a {side}² square around the face upscaled to {LARGE_SIDE}²"


def long_speech(tmp: Path, seconds: float = 22.0) -> Path:
    """The shipped speech looped to ``seconds`` (the long run needs more than its 8.8 s)."""
    clip = load_audio(SPEECH)
    n = int(seconds * clip.sr)
    out = tmp / "speech_long.wav"
    sf.write(out, np.tile(clip.samples, int(np.ceil(n / len(clip.samples))))[:n], clip.sr)
    return out


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _cli_seconds(image: Path, audio: Path, seconds: float, out: Path) -> tuple[float, float]:
    """(wall s, CPU s of the CLI and its ffmpeg encoder together) of one CLI render."""
    t0, c0 = time.perf_counter(), _children_cpu()
    subprocess.run([sys.executable, "-m", "animakit.cli", "run", "portrait.talking", "-i",
                    f"image={image}", "-i", f"audio={audio}", "-p", f"duration={seconds}",
                    "-o", str(out), "-q"], check=True, cwd=ROOT, capture_output=True)
    return time.perf_counter() - t0, _children_cpu() - c0


def _stream_seconds(pipe, image: Path, audio: Path, seconds: float) -> tuple[float, float]:
    """(wall s, process CPU s) of iterating the stream without encoding."""
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in pipe.stream(image=image, audio=audio, duration=seconds):
        pass
    return time.perf_counter() - t0, time.process_time() - c0


def cli_speed_figures(image: Path, audio: Path, tag: str, tmp: Path,
                      short: float = 2.0, long: float = 20.0, repeats: int = 3) -> dict:
    """End-to-end ms per frame from the CLI and without encoding, long minus short runs
    (25 fps), the median of ``repeats`` pairs (a single pair, or the best of a few, is too
    noisy on a 2-core machine: a render-only run can come out slower than the CLI's). CPU time per frame
    (all threads and processes) is given too: on a loaded machine the wall clock counts
    other people's work, CPU time does not."""
    pipe = animakit.load_pipeline("portrait.talking")
    frames = (long - short) * 25.0
    cli, bare = [], []
    for _ in range(repeats):
        lw, lc = _cli_seconds(image, audio, long, tmp / "l.mp4")
        sw, sc = _cli_seconds(image, audio, short, tmp / "s.mp4")
        cli.append(((lw - sw) / frames, (lc - sc) / frames))
        lw, lc = _stream_seconds(pipe, image, audio, long)
        sw, sc = _stream_seconds(pipe, image, audio, short)
        bare.append(((lw - sw) / frames, (lc - sc) / frames))
    med = lambda runs, k: 1000 * float(np.median([r[k] for r in runs]))  # noqa: E731
    e2e, render = med(cli, 0), med(bare, 0)
    return {f"{tag}_cli_ms_per_frame": round(e2e, 2), f"{tag}_cli_fps": round(1000 / e2e, 1),
            f"{tag}_cli_cpu_ms_per_frame": round(med(cli, 1), 2),
            f"{tag}_render_only_ms_per_frame": round(render, 2),
            f"{tag}_render_only_fps": round(1000 / render, 1),
            f"{tag}_render_only_cpu_ms_per_frame": round(med(bare, 1), 2)}


def _rendered_raw(image: Path, audio: Path, tmp: Path, seconds: float) -> tuple[Path, tuple[int, int], int]:
    """Rendered frames written raw (the lossless reference): (path, (w, h), frames)."""
    pipe = animakit.load_pipeline("portrait.talking")
    raw = tmp / "frames.rgb"
    n = 0
    with open(raw, "wb") as f:
        for frame in pipe.stream(image=image, audio=audio, duration=seconds):
            f.write(memoryview(np.ascontiguousarray(frame)))
            n += 1
            size = (frame.shape[1], frame.shape[0])
    return raw, size, n


def _as_i420(raw: Path, size, n: int, tmp: Path) -> Path:
    """The raw RGB frames converted to I420 the way the VideoWriter does
    (:func:`animakit.media.video.i420_into`): what the encoder is fed."""
    w, h = size
    out = tmp / "frames.yuv"
    frames = np.memmap(raw, np.uint8, "r", shape=(n, h, w, 3))
    buf = np.empty(w * h * 3 // 2, np.uint8)
    with open(out, "wb") as f:
        for frame in frames:
            f.write(i420_into(np.ascontiguousarray(frame), buf).tobytes())
    return out


def _encode(yuv: Path, size, out: Path, preset: str, crf: int, threads: int | None) -> tuple[float, float]:
    """(encoder CPU s, wall s) of one x264 encode of the I420 frames."""
    args = [ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p",
            "-s", f"{size[0]}x{size[1]}", "-framerate", "25", "-i", str(yuv), "-c:v", "libx264",
            "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p"]
    if threads:
        args += ["-threads", str(threads)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(args + [str(out)], check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def _quality(raw: Path, size, enc: Path) -> tuple[float, float]:
    """(PSNR dB, SSIM) of the decoded ``enc`` against the raw frames (RGB, all planes)."""
    args = [ffmpeg_exe(), "-nostdin", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
            f"{size[0]}x{size[1]}", "-framerate", "25", "-i", str(raw), "-i", str(enc),
            "-lavfi", "[1:v]format=rgb24[b];[0:v]format=rgb24[a];[a][b]psnr;"
                      "[1:v]format=rgb24[d];[0:v]format=rgb24[c];[c][d]ssim", "-f", "null", "-"]
    err = subprocess.run(args, capture_output=True, text=True).stderr
    psnr = re.search(r"PSNR .*average:([0-9.]+|inf)", err)
    ssim = re.search(r"SSIM .*All:([0-9.]+)", err)
    if not psnr or not ssim:
        raise RuntimeError("ffmpeg gave no PSNR/SSIM: " + err[-300:])
    return float(psnr.group(1)), float(ssim.group(1))


def encoder_figures(image: Path, audio: Path, tag: str, tmp: Path, seconds: float = 4.0) -> dict:
    """Per preset at CRF 17 (ffmpeg's own thread count), and the chosen preset at 1 and 2
    threads: encoder CPU ms / wall ms per frame, kB per second of video, PSNR, SSIM."""
    raw, size, n = _rendered_raw(image, audio, tmp, seconds)
    yuv = _as_i420(raw, size, n, tmp)
    rows = {}
    runs = [(p, None) for p in PRESETS] + [("veryfast", 1), ("veryfast", 2)]
    for preset, threads in runs:
        out = tmp / f"enc_{preset}_{threads}.mp4"
        cpu, wall = _encode(yuv, size, out, preset, 17, threads)
        key = preset if threads is None else f"{preset}_threads_{threads}"
        row = {"cpu_ms_per_frame": round(1000 * cpu / n, 2), "wall_ms_per_frame": round(1000 * wall / n, 2),
               "kbytes_per_second": round(out.stat().st_size / 1024 / (n / 25.0), 1)}
        if threads is None:
            row["psnr_db"], row["ssim"] = (round(v, 4) for v in _quality(raw, size, out))
        rows[key] = row
    return {f"{tag}_x264_crf17": rows, f"{tag}_encoder_frames": n}


def speed_figures(dev: Path, tmp: Path) -> dict:
    """Everything above for the 1342² portrait and the shipped 512² one."""
    big, desc = large_portrait(dev, tmp)
    audio = long_speech(tmp)
    res = {"speed_large_image": desc, "speed_small_image": "assets/portrait.png 512²",
           "speed_load_average_1min": round(os.getloadavg()[0], 1)}
    res.update(cli_speed_figures(big, audio, "speed_1342", tmp))
    res.update(cli_speed_figures(SMALL, audio, "speed_512", tmp))
    res.update(encoder_figures(big, audio, "speed_1342", tmp))
    return res


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dev-data", type=Path, default=Path("/work/shared/dev-data"))
    with tempfile.TemporaryDirectory() as t:
        print(json.dumps(speed_figures(ap.parse_args().dev_data, Path(t)), indent=1))
