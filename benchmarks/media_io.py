"""Host media layer: encode and decode speed of the streaming writer/reader, and that a
long render stays in bounded memory. Prints one JSON object.

    python benchmarks/media_io.py [--frames 200]
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from animakit.media import AudioClip, VideoReader, VideoWriter  # noqa: E402
from animakit.media.video import DEFAULT_CRF, DEFAULT_PRESET  # noqa: E402


def frames(n: int, w: int, h: int):
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) % 256], -1).astype(np.uint8)
    for i in range(n):
        yield np.roll(base, 3 * i, axis=1)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(n: int, w: int, h: int, folder: Path) -> dict:
    path = folder / f"bench_{w}x{h}.mp4"
    audio = AudioClip((0.2 * np.sin(np.arange(int(n / 25 * 16000)) * 0.05)).astype(np.float32), 16000)
    t0 = time.perf_counter()
    with VideoWriter(path, 25, audio=audio) as wr:
        for f in frames(n, w, h):
            wr.write(f)
    enc = time.perf_counter() - t0
    t0 = time.perf_counter()
    count = sum(1 for _ in VideoReader(path))
    dec = time.perf_counter() - t0
    return {"size": [w, h], "frames": n, "encode_ms_per_frame": round(1000 * enc / n, 2),
            "decode_ms_per_frame": round(1000 * dec / count, 2), "frames_read": count,
            "file_kb": round(path.stat().st_size / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    args = ap.parse_args()
    out: dict = {"benchmark": "media_io", "crf": DEFAULT_CRF, "preset": DEFAULT_PRESET,
                 "writer_input": "yuv420p converted in process (i420_into)"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        out["512x512"] = measure(args.frames, 512, 512, folder)
        out["1280x720"] = measure(args.frames, 1280, 720, folder)
        rss_short = rss_mb()
        long_n = args.frames * 5
        out["1280x720_long"] = measure(long_n, 1280, 720, folder)
        out["peak_rss_mb_after_short"] = round(rss_short, 1)
        out["peak_rss_mb_after_long"] = round(rss_mb(), 1)
        out["note"] = (f"peak RSS after {args.frames} and after {long_n} frames at 720p: a "
                       "streaming writer keeps it flat")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
