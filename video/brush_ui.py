"""The motion-brush editor of the image-to-video tab: paint a region, click where it goes,
see the arrows, undo, mark static regions; the result is the brush JSON the pipeline reads
(the same file the CLI and job files take), offered for download."""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from animakit.errors import AnimakitError, InputError
from animakit.media import load_image
from animakit.studio import output_dir

from .brush import load_brush

COLOURS = [(255, 80, 40), (40, 160, 255), (60, 220, 90), (240, 200, 30), (200, 70, 255)]


def empty_state() -> dict[str, Any]:
    return {"strokes": [], "static": [], "points": [], "history": []}


def mask_from_editor(value: Any, size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool of everything painted on the editor's layers, at the image's ``size``."""
    if not value:
        return np.zeros(size[::-1], bool)
    layers = value.get("layers") or []
    painted = None
    for layer in layers:
        arr = np.asarray(layer)
        if arr.ndim == 3 and arr.shape[2] == 4:
            m = arr[:, :, 3] > 0
        elif arr.ndim == 3:
            m = arr.max(axis=2) > 0
        else:
            m = arr > 0
        painted = m if painted is None else painted | m
    if painted is None:
        return np.zeros(size[::-1], bool)
    if painted.shape[::-1] != tuple(size):
        painted = cv2.resize(painted.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    return painted


def polygons(mask: np.ndarray, min_area: float = 16.0) -> list[list[list[int]]]:
    """Outer contours of a painted mask as polygons [[x, y], ...] (simplified to ~1.5 px)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for c in contours:
        if cv2.contourArea(c) < min_area:
            continue
        c = cv2.approxPolyDP(c, 1.5, True)
        if len(c) >= 3:
            out.append(c.reshape(-1, 2).astype(int).tolist())
    return out


def add_point(state: dict, x: float, y: float) -> dict:
    state = {**state, "points": [*state["points"], [int(round(x)), int(round(y))]]}
    return state


def commit(state: dict, editor: Any, image_path: str | None, static: bool,
           strength: float) -> dict:
    """Turn the painted region (+ clicked points) into a stroke or a static region."""
    if not image_path:
        raise InputError("image", "upload the image to animate first")
    h, w = load_image(image_path).shape[:2]
    polys = polygons(mask_from_editor(editor, (w, h)))
    if not polys:
        raise InputError("brush", "paint a region on the image first")
    history = [*state.get("history", []), ["static" if static else "strokes", len(polys)]]
    if static:
        return {**state, "static": [*state["static"], *polys], "points": [], "history": history}
    if len(state["points"]) < 1:
        raise InputError("brush", "click on the image where the painted region should go "
                                  "(one point or more along the path)")
    ys, xs = np.nonzero(mask_from_editor(editor, (w, h)))
    start = [int(xs.mean()), int(ys.mean())]       # the region's centre is where it is now
    traj = [start, *state["points"]]
    strokes = [*state["strokes"], *({"mask": p, "trajectory": traj, "strength": float(strength)}
                                    for p in polys)]
    return {**state, "strokes": strokes, "points": [], "history": history}


def undo(state: dict) -> dict:
    """Remove the last clicked point, else the last stroke or static region added."""
    if state["points"]:
        return {**state, "points": state["points"][:-1]}
    history = list(state.get("history", []))
    if not history:
        return state
    key, count = history.pop()
    return {**state, key: state[key][:-count], "history": history}


def brush_json(state: dict) -> dict:
    return {"strokes": state["strokes"], "static": state["static"]}


def save_json(state: dict, image_path: str | None, folder: Path | None = None) -> str | None:
    """Validate the brush against the image and write it; returns the file path."""
    if not state["strokes"] and not state["static"]:
        return None
    data = brush_json(state)
    if image_path:
        h, w = load_image(image_path).shape[:2]
        load_brush(data, (w, h))           # same validation as the CLI: errors name the stroke
    path = (folder or output_dir()) / f"brush-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(data, indent=1))
    return str(path)


def overlay(image_path: str | None, state: dict) -> np.ndarray | None:
    """The image with strokes tinted, static regions hatched and trajectories as arrows."""
    if not image_path:
        return None
    try:
        img = load_image(image_path).copy()
    except AnimakitError:
        return None
    tint = img.copy()
    for poly in state["static"]:
        cv2.fillPoly(tint, [np.array(poly, np.int32)], (160, 160, 160))
    for i, s in enumerate(state["strokes"]):
        cv2.fillPoly(tint, [np.array(s["mask"], np.int32)], COLOURS[i % len(COLOURS)])
    img = cv2.addWeighted(img, 0.55, tint, 0.45, 0)
    thick = max(2, round(max(img.shape[:2]) / 300))
    for i, s in enumerate(state["strokes"]):
        pts = np.array(s["trajectory"], np.int32)
        col = COLOURS[i % len(COLOURS)]
        cv2.polylines(img, [pts], False, col, thick, cv2.LINE_AA)
        if len(pts) >= 2:
            cv2.arrowedLine(img, tuple(map(int, pts[-2])), tuple(map(int, pts[-1])), col, thick,
                            cv2.LINE_AA, tipLength=0.35)
    for p in state["points"]:
        cv2.circle(img, tuple(p), thick * 3, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.circle(img, tuple(p), thick * 3, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def summary(state: dict) -> str:
    return (f"{len(state['strokes'])} moving stroke(s), {len(state['static'])} static region(s), "
            f"{len(state['points'])} pending point(s)")
