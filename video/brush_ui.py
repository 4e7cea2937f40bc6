"""The server's side of the motion-brush editor (the editor itself runs in the browser, see
``brush_editor.js``): the photo it paints on, brushes loaded into it (examples, files), and
the brush JSON it sends with Render written to a file the pipeline reads."""
from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from animakit.errors import AnimakitError
from animakit.media import load_image

from .brush import load_brush

PHOTO_SIDE = 1024          # the long side of the copy of the photo sent to the editor


def photo_prop(image: Any) -> dict[str, Any] | None:
    """What the editor paints on: ``{"src": JPEG data URL, "w": W, "h": H}`` with (W, H) the
    photo's own size (the brush's coordinates), the picture at most PHOTO_SIDE px long;
    None without a photo. An unreadable photo raises the :class:`MediaError` naming it."""
    if not image:
        return None
    img = load_image(image, max_side=None)              # (H, W, 3) uint8 RGB
    h, w = img.shape[:2]
    s = min(1.0, PHOTO_SIDE / max(w, h))
    small = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))),
                       interpolation=cv2.INTER_AREA) if s < 1 else img
    ok, jpg = cv2.imencode(".jpg", small[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 88])
    return {"src": "data:image/jpeg;base64," + base64.b64encode(jpg.tobytes()).decode(),
            "w": int(w), "h": int(h)}


def polygons(mask: np.ndarray, min_area: float = 4.0) -> list[list[list[int]]]:
    """Outer outlines of ``mask`` (H, W) bool as polygons [[x, y], ...] through the centres
    of its edge pixels (simplified to ~1 px), as the brush JSON's polygons are filled with
    their boundary: what the editor draws and sends for a PNG mask."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for c in contours:
        if cv2.contourArea(c) < min_area:
            continue
        c = cv2.approxPolyDP(c, 1.0, True).reshape(-1, 2)
        if len(c) >= 3:
            out.append(c.astype(int).tolist())
    return out


def editor_brush(source: Any, size: tuple[int, int] | None = None, name: str = "brush") -> str:
    """A brush (a JSON path, string or dict) as the JSON string the editor loads: polygons
    kept as they are, PNG masks traced to polygons. Validated against the photo's ``size``
    (W, H) when given; raises :class:`~animakit.errors.InputError` naming the stroke."""
    if source in (None, ""):
        return ""
    if isinstance(source, (str, Path)) and not str(source).lstrip().startswith("{"):
        path = Path(source)
        data = json.loads(path.read_text()) if path.is_file() else None
        if data is None:
            load_brush(path, size or (1, 1))            # raises: file not found
    else:
        data = json.loads(source) if isinstance(source, str) else source
        path = None
    if not isinstance(data, dict):
        load_brush(data, size or (1, 1), name)          # raises: not an object
    if size is None:                                    # no photo yet: keep the polygons
        return json.dumps({"strokes": data.get("strokes", []), "static": data.get("static", [])})
    brush = load_brush(path if path is not None else data, size, name)
    strokes = []
    for raw, s in zip(data.get("strokes", []), brush.strokes):
        masks = [raw["mask"]] if not isinstance(raw["mask"], (str, Path)) else polygons(s.mask)
        strokes += [{"mask": m, "trajectory": s.trajectory.tolist(), "strength": s.strength}
                    for m in masks]
    static = data.get("static", [])
    if any(isinstance(r, (str, Path)) for r in static):        # PNG masks: their outlines
        static = polygons(brush.static)
    return json.dumps({"strokes": strokes, "static": static})


def kept_for_photo(value: str | None, size: tuple[int, int] | None) -> str:
    """The editor's brush ``value`` if it still fits a new photo of ``size`` (W, H) (an example
    fills both at once), else an empty brush."""
    if not value or size is None:
        return ""
    try:
        load_brush(value, size)
    except AnimakitError:
        return ""
    return value


def brush_file(value: str | None, folder: Path) -> str | None:
    """The editor's brush JSON written to a new ``motion_brush_<random>.json`` in ``folder``
    (the studio's files, swept after an hour), for the pipeline to read like any brush file;
    None for an empty brush."""
    if not value or not value.strip():
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"motion_brush_{uuid.uuid4().hex[:10]}.json"
    path.write_text(value)
    return str(path)
