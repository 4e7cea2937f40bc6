"""The studio's own logic without a browser: the brush editor's JSON, the simple edits, the
launch options."""
from __future__ import annotations

import json

import numpy as np
import pytest

from animakit.editing.studio import EDITS, simple_edit
from animakit.errors import InputError
from animakit.studio import launch_options
from animakit.video import brush_ui
from animakit.video.brush import load_brush


def _editor(h, w, box):
    layer = np.zeros((h, w, 4), np.uint8)
    x0, y0, x1, y1 = box
    layer[y0:y1, x0:x1] = (255, 80, 40, 255)
    return {"background": np.zeros((h, w, 3), np.uint8), "layers": [layer], "composite": None}


def test_brush_editor_builds_the_json_the_pipeline_reads(portrait):
    st = brush_ui.empty_state()
    with pytest.raises(InputError, match="paint a region"):
        brush_ui.commit(st, {"layers": []}, str(portrait), False, 1.0)
    ed = _editor(512, 512, (100, 200, 160, 260))
    with pytest.raises(InputError, match="click on the image"):
        brush_ui.commit(st, ed, str(portrait), False, 1.0)
    st = brush_ui.add_point(st, 180.4, 229.6)
    st = brush_ui.add_point(st, 220, 240)
    st = brush_ui.commit(st, ed, str(portrait), False, 1.5)
    st = brush_ui.commit(st, _editor(512, 512, (300, 20, 380, 90)), str(portrait), True, 1.0)
    assert brush_ui.summary(st).startswith("1 moving stroke(s), 1 static region(s), 0 pending")
    path = brush_ui.save_json(st, str(portrait))
    data = json.loads(open(path).read())
    stroke = data["strokes"][0]
    assert stroke["trajectory"][0] == [129, 229]        # the painted region's centre
    assert stroke["trajectory"][1:] == [[180, 230], [220, 240]] and stroke["strength"] == 1.5
    brush = load_brush(path, (512, 512))
    m = brush.strokes[0].mask
    assert m[230, 130] and not m[230, 200] and abs(int(m.sum()) - 60 * 60) < 300
    assert brush.static[50, 340] and not brush.static[230, 130]
    img = brush_ui.overlay(str(portrait), st)
    assert img.shape == (512, 512, 3) and not np.array_equal(img, brush_ui.overlay(str(portrait),
                                                                                   brush_ui.empty_state()))
    st = brush_ui.undo(st)                              # the static region was added last
    assert len(st["strokes"]) == 1 and st["static"] == []
    st = brush_ui.undo(st)
    assert st["strokes"] == [] and brush_ui.undo(st) == st
    assert brush_ui.undo(brush_ui.add_point(brush_ui.empty_state(), 1, 1))["points"] == []


def test_undo_order_points_then_strokes():
    st = {"strokes": [{"mask": [[0, 0], [5, 0], [5, 5]], "trajectory": [[1, 1], [2, 2]],
                       "strength": 1.0}], "static": [], "points": [[3, 3]],
          "history": [["strokes", 1]]}
    st = brush_ui.undo(st)
    assert st["points"] == [] and len(st["strokes"]) == 1
    st = brush_ui.undo(st)
    assert st["strokes"] == []


@pytest.mark.parametrize("kind", EDITS)
def test_simple_edits_change_the_frame_and_keep_its_shape(kind):
    rng = np.random.default_rng(0)
    frame = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
    out = simple_edit(frame, kind, 0.8)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - frame).mean() > 2
    assert np.array_equal(simple_edit(frame, kind, 0.0), frame) or kind == "hue shift"


@pytest.mark.parametrize("env, host, port", [
    ({}, "127.0.0.1", 7860),
    ({"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "8000"}, "0.0.0.0", 8000),
    ({"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "8000",
      "ANIMAKIT_HOST": "10.0.0.2", "ANIMAKIT_PORT": "9000"}, "10.0.0.2", 9000),
    ({"GRADIO_SERVER_PORT": "8000", "ANIMAKIT_HOST": "10.0.0.2"}, "10.0.0.2", 8000),
])
def test_launch_takes_gradios_host_and_port_and_ours_override_them(env, host, port):
    opts = launch_options(env)
    assert (opts["server_name"], opts["server_port"]) == (host, port)
    assert opts["show_error"] and opts["max_file_size"].endswith("mb")


def test_launch_names_the_variable_of_a_bad_port():
    with pytest.raises(ValueError, match="ANIMAKIT_PORT / GRADIO_SERVER_PORT"):
        launch_options({"GRADIO_SERVER_PORT": "http"})
