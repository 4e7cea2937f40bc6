"""The studio's own logic without a browser: the simple edits, the launch options (the brush
editor's server side is in test_brush_editor.py)."""
from __future__ import annotations

import numpy as np
import pytest

from animakit.editing.studio import EDITS, simple_edit
from animakit.studio import launch_options


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
