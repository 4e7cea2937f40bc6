"""The server's side of the motion-brush editor (the editor runs in the browser; see
test_brush_browser.py): the photo it paints on, brushes loaded into it, the JSON it sends."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from animakit.errors import InputError, MediaError
from animakit.video import brush_ui
from animakit.video.brush import load_brush

ASSETS = Path(__file__).resolve().parents[1] / "assets"
EXAMPLES = sorted((ASSETS / "i2v").glob("*.json"))


def test_photo_prop_is_a_small_jpeg_with_the_photos_own_size(tmp_path):
    img = np.zeros((1500, 3000, 3), np.uint8)
    img[:, :1500] = (200, 30, 30)
    cv2.imwrite(str(tmp_path / "wide.png"), img)
    p = brush_ui.photo_prop(str(tmp_path / "wide.png"))
    assert (p["w"], p["h"]) == (3000, 1500)               # brush coordinates: the photo's pixels
    jpg = base64.b64decode(p["src"].split(",", 1)[1])
    small = cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR)
    assert small.shape[:2] == (512, 1024)
    # the file is blue on the left (BGR 200, 30, 30): decoded as BGR, it still is
    assert small[256, 100, 0] > 150 and small[256, 100, 2] < 60 and small[256, 900].max() < 20
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(MediaError, match="bad.png"):
        brush_ui.photo_prop(str(tmp_path / "bad.png"))
    assert brush_ui.photo_prop(None) is None


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_brushes_load_into_the_editor_unchanged(example):
    text = brush_ui.editor_brush(example)
    data, orig = json.loads(text), json.loads(example.read_text())
    assert len(data["strokes"]) == len(orig["strokes"]) and data["static"] == orig["static"]
    for a, b in zip(data["strokes"], orig["strokes"]):
        assert a["mask"] == b["mask"] and a["trajectory"] == b["trajectory"]
    for size in ((512, 512), None):                      # with or without the photo's size
        got = load_brush(brush_ui.editor_brush(example, size), (512, 512))
        want = load_brush(example, (512, 512))
        assert all(np.array_equal(g.mask, w.mask) for g, w in zip(got.strokes, want.strokes))
        assert np.array_equal(got.static, want.static)


def test_png_masks_become_polygons_covering_the_same_pixels(tmp_path):
    mask = np.zeros((120, 160), np.uint8)
    mask[30:90, 20:70] = 255
    cv2.circle(mask, (120, 60), 25, 255, -1)             # two blobs: two polygons
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    still = np.zeros((120, 160), np.uint8)
    still[:20, 100:] = 255
    cv2.imwrite(str(tmp_path / "s.png"), still)
    (tmp_path / "b.json").write_text(json.dumps({
        "strokes": [{"mask": "m.png", "trajectory": [[45, 60], [55, 60]], "strength": 0.5}],
        "static": ["s.png"]}))
    data = json.loads(brush_ui.editor_brush(tmp_path / "b.json", (160, 120)))
    assert len(data["strokes"]) == 2 and all(s["strength"] == 0.5 for s in data["strokes"])
    b = load_brush(data, (160, 120))
    union = np.zeros((120, 160), bool)
    for s in b.strokes:
        union |= s.mask
    assert (union != (mask > 0)).sum() < 0.04 * (mask > 0).sum()
    assert (b.static != (still > 0)).sum() < 0.1 * (still > 0).sum()


def test_bad_brush_files_name_the_file_and_the_stroke(tmp_path):
    (tmp_path / "b.json").write_text(json.dumps(
        {"strokes": [{"mask": [[1, 1], [50, 1], [50, 50]], "trajectory": [[10, 10]]}]}))
    with pytest.raises(InputError, match="b.json: stroke 0.*at least 2 points"):
        brush_ui.editor_brush(tmp_path / "b.json", (160, 120), name="b.json")
    with pytest.raises(MediaError, match="not found"):
        brush_ui.editor_brush(tmp_path / "missing.json", (160, 120))
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="list.json: expected a JSON object"):
        brush_ui.editor_brush(tmp_path / "list.json", (160, 120), name="list.json")


def test_a_brush_is_kept_for_a_new_photo_only_if_it_fits():
    text = (ASSETS / "i2v" / "portrait_brush.json").read_text()
    assert brush_ui.kept_for_photo(text, (512, 512)) == text
    assert brush_ui.kept_for_photo(text, (200, 100)) == ""     # strokes outside the photo
    assert brush_ui.kept_for_photo("", (512, 512)) == ""
    assert brush_ui.kept_for_photo(text, None) == ""


def test_the_sent_json_becomes_a_brush_file(tmp_path):
    assert brush_ui.brush_file("", tmp_path) is None and brush_ui.brush_file(None, tmp_path) is None
    text = json.dumps({"strokes": [{"mask": [[1, 1], [50, 1], [50, 50]],
                                    "trajectory": [[20, 20], [30, 20]], "strength": 2}],
                       "static": []})
    path = Path(brush_ui.brush_file(text, tmp_path))
    assert path.name.startswith("motion_brush_") and path.read_text() == text
    assert load_brush(path, (160, 120)).strokes[0].strength == 2.0
    assert Path(brush_ui.brush_file(text, tmp_path)) != path       # one file per render


def test_the_editor_component_maps_examples_and_payloads(tmp_path, monkeypatch):
    from animakit.video import studio
    monkeypatch.setattr(studio, "output_dir", lambda: tmp_path)
    ed = studio.BrushEditor()
    shown = ed.postprocess(str(ASSETS / "i2v" / "portrait_brush.json"))
    assert json.loads(shown)["strokes"][0]["trajectory"] == [[410, 150], [413, 118], [410, 86]]
    assert ed.postprocess(None) == "" and ed.preprocess("") is None
    path = ed.preprocess(shown)
    assert Path(path).is_relative_to(tmp_path) and load_brush(path, (512, 512)).strokes
    assert ed.api_info()["type"] == "string"


def test_the_editors_script_ships_in_the_wheel():
    """Every non-Python file of the video plugin is matched by its package-data globs
    (the editor's JS is read at import of the studio tab)."""
    import fnmatch
    import tomllib
    root = Path(__file__).resolve().parents[1]
    conf = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = conf["package-data"].get("animakit.video", [])
    extra = [p.name for p in (root / "video").iterdir()
             if p.is_file() and p.suffix not in (".py", ".pyc", ".pyi")]
    assert "brush_editor.js" in extra
    assert all(any(fnmatch.fnmatch(name, g) for g in globs) for name in extra), (extra, globs)
