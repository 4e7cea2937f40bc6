"""Side-by-side figure of the talking mouth up close: /a/ /u/ /i/ /m/ /f/, before and after.

"Before" is the renderer of a git revision (default ``main``: ``portrait/talking`` taken
from it with ``git archive`` and imported as its own package), "after" is this tree's. Both
render the same posed landmarks (``mouth_shapes.shape_landmarks``), so only the renderer
differs. The crops are 1:1 pixels of 1024+ px portraits. Prints one JSON object.

    .venv/bin/python benchmarks/figures/talking_mouth.py [--before main] [--out docs/portrait_talking_mouth.png]
"""
from __future__ import annotations

import argparse
import importlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import types
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from animakit.media import load_image, save_image  # noqa: E402
from animakit.portrait.talking.compositor import FaceCompositor  # noqa: E402
from animakit.portrait.talking.rig import FaceRig  # noqa: E402
from animakit.portrait.talking.sources import source_face  # noqa: E402
from benchmarks.figures.mouth_shapes import SHAPES, shape_landmarks  # noqa: E402
from benchmarks.talking_speed import large_portrait  # noqa: E402

DEV = Path("/work/shared/dev-data")


def revision_package(rev: str, tmp: Path):
    """The ``portrait/talking`` package of git revision ``rev``, imported as ``talking_<rev>``."""
    done = subprocess.run(["git", "archive", rev, "portrait/talking"], cwd=ROOT, capture_output=True)
    if done.returncode != 0:
        sys.exit(f"--before {rev}: not a git revision with portrait/talking in this repository")
    tar = done.stdout
    tarfile.open(fileobj=io.BytesIO(tar)).extractall(tmp)
    name = "talking_" + "".join(c if c.isalnum() else "_" for c in rev)
    # the package's own __init__ would pull in the pipeline; the compositor needs none of it
    pkg = types.ModuleType(name)
    pkg.__path__ = [str(tmp / "portrait/talking")]
    sys.modules[name] = pkg
    return importlib.import_module(name + ".compositor")


def sources(tmp: Path) -> list[tuple[str, np.ndarray]]:
    """(label, image) of the portraits in the figure: the benchmark's 1342² portrait (dev
    portrait_s1.jpg around its face, upscaled: a 580 px face) and the 720×1280 dev painting."""
    path, desc = large_portrait(DEV, tmp)
    out = [(desc, load_image(path))]
    if (DEV / "portrait_s9.jpg").exists():
        out.append(("portrait_s9.jpg 720×1280", load_image(DEV / "portrait_s9.jpg")))
    return out


CELL = 300          # cell width in the figure: crops of smaller faces are enlarged (cubic)


def mouth_crop(frame: np.ndarray, rig: FaceRig, side: int) -> np.ndarray:
    """(0.7 CELL, CELL, 3): a (0.7 side, side) crop around the opened mouth, scaled to CELL."""
    c = rig.points[[13, 14], :2].mean(0) + rig.ey * 0.04 * rig.width
    x0, y0 = int(c[0] - side / 2), int(c[1] - 0.3 * side)
    h, w = frame.shape[:2]
    x0, y0 = min(max(x0, 0), w - side), min(max(y0, 0), h - int(0.7 * side))
    crop = frame[y0:y0 + int(0.7 * side), x0:x0 + side]
    return cv2.resize(crop, (CELL, int(0.7 * CELL)), interpolation=cv2.INTER_CUBIC)


def label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def rows_for(image: np.ndarray, name: str, before_mod) -> tuple[list[np.ndarray], dict]:
    points = source_face(image, name, 0)
    rig = FaceRig(points)
    side = int(round(0.52 * rig.width / 2) * 2)
    after = FaceCompositor(image, points, rig=rig)
    before = before_mod.FaceCompositor(image, points, rig=rig)
    row_b, row_a = [], []
    for s in SHAPES:
        target = shape_landmarks(rig, s)
        row_b.append(label(mouth_crop(before.render(target), rig, side), f"/{s}/ before"))
        row_a.append(label(mouth_crop(after.render(target), rig, side), f"/{s}/ after"))
    g = after.mouth.grain
    info = {"face_width_px": round(rig.width, 1), "crop_px": side, "shown_at": round(CELL / side, 2),
            "blur_sigma_px": round(g.sigma_blur, 2), "noise_sigma": round(g.sigma_noise, 2)}
    return [np.hstack(row_b), np.hstack(row_a)], info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default="main", help="git revision of the 'before' renderer")
    ap.add_argument("--out", type=Path, default=ROOT / "docs/portrait_talking_mouth.png")
    args = ap.parse_args()
    res = {"figure": str(args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out),
           "before": args.before, "shapes": list(SHAPES), "sources": {}}
    with tempfile.TemporaryDirectory() as t:
        before_mod = revision_package(args.before, Path(t))
        blocks = []
        for name, image in sources(Path(t)):
            rows, info = rows_for(image, name, before_mod)
            res["sources"][name] = info
            blocks.append(rows)
    width = max(r.shape[1] for rows in blocks for r in rows)
    pad = lambda r: np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255)  # noqa: E731
    sep = np.full((8, width, 3), 255, np.uint8)
    out = np.vstack([x for rows in blocks for x in (pad(rows[0]), pad(rows[1]), sep)][:-1])
    save_image(args.out, out)
    res["size"] = [int(out.shape[1]), int(out.shape[0])]
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
