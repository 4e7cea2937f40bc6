"""The image-to-video tab's extras: the motion-brush editor, one canvas where the user paints
regions, draws their paths and marks static regions — all in the browser
(``brush_editor.js``), no server call per stroke. The editor takes the place of the tab's
``brush`` input: its value is the brush JSON, sent with Render and written to a file the
pipeline reads. The tab's brush-file upload loads a file into the editor instead."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from animakit.errors import AnimakitError
from animakit.media import load_image
from animakit.studio import TabContext, gradio_error, output_dir

from . import brush_ui

HERE = Path(__file__).resolve().parent

TEMPLATE = """
<div class="bk" aria-label="motion brush editor">
  <div class="bk-bar" role="toolbar" aria-label="motion brush tools">
    <button type="button" data-mode="paint" class="on" title="Paint the region that moves">&#9998; Paint motion</button>
    <button type="button" data-mode="path" title="Drag an arrow from the region to where it goes, or click points">&#10140; Path</button>
    <button type="button" data-mode="static" title="Paint a region that must not move">&#9638; Static</button>
    <button type="button" class="bk-new" title="Start another moving stroke">+ Stroke</button>
    <span class="bk-gap"></span>
    <button type="button" class="bk-undo" title="Undo" aria-label="Undo">&#8630;</button>
    <button type="button" class="bk-redo" title="Redo" aria-label="Redo">&#8631;</button>
    <button type="button" class="bk-clear" title="Remove every stroke">Clear</button>
  </div>
  <div class="bk-bar">
    <label>brush size <input class="bk-size" type="range" min="4" max="120" value="36"></label>
    <label>stroke strength <input class="bk-strength" type="range" min="0" max="4" step="0.05" value="1">
      <span class="bk-sv">1.00</span></label>
    <span class="bk-gap"></span>
    <button type="button" class="bk-save" title="Download the brush JSON (the CLI and job files take it)">Save</button>
    <button type="button" class="bk-choose" title="Choose the photo to animate">Photo&#8230;</button>
    <input class="bk-file" type="file" accept="image/*" hidden>
  </div>
  <div class="bk-stage">
    <canvas class="bk-canvas" width="0" height="0"></canvas>
    <div class="bk-empty"><button type="button" class="bk-choose">Choose a photo</button>&nbsp;or drop
      one here, then paint on it.</div>
  </div>
  <div class="bk-list" aria-label="strokes"></div>
  <div class="bk-status" role="status" aria-live="polite"></div>
</div>
"""

CSS = """
.bk { display: flex; flex-direction: column; gap: 6px; }
.bk-bar { display: flex; flex-wrap: wrap; gap: 4px; align-items: center; font-size: 14px; }
.bk-bar button, .bk-chip { border: 1px solid #9aa3ad; border-radius: 6px; padding: 2px 7px;
  background: #fff; color: #1f2328; cursor: pointer; font-size: 13px; }
.bk-bar button.on { background: #1f6feb; color: #fff; border-color: #1f6feb; }
.bk-bar button:focus-visible, .bk-chip:focus-visible, .bk-bar input:focus-visible {
  outline: 3px solid #f59e0b; outline-offset: 1px; }
.bk-bar label { display: inline-flex; gap: 4px; align-items: center; color: #1f2328; }
.bk-bar input[type=range] { width: 96px; }
.bk-gap { flex: 1; }
.bk-stage { position: relative; display: flex; justify-content: center; background: #eef0f3;
  border-radius: 6px; min-height: 120px; }
.bk-canvas { display: block; max-width: 100%; max-height: clamp(220px, calc(100vh - 590px), 380px); min-height: 0; width: auto; height: auto;
  cursor: crosshair; touch-action: none; }
.bk-empty { position: absolute; inset: 0; display: flex; align-items: center;
  justify-content: center; color: #3d444d; font-size: 14px; }
.bk-empty button { border: 1px solid #1f6feb; border-radius: 6px; padding: 6px 12px;
  background: #1f6feb; color: #fff; cursor: pointer; font-size: 14px; }
.bk-stage.drop { outline: 3px dashed #1f6feb; }
.bk-list { display: flex; flex-wrap: wrap; gap: 4px; }
.bk-chip { border-left: 8px solid var(--c); font-size: 13px; }
.bk-chip.on { box-shadow: 0 0 0 2px var(--c); }
.bk-status { font-size: 14px; color: #1f2328; min-height: 1.3em; }
"""

HELP = ("**Motion brush**: *Paint motion* over what moves, then *Path*: drag an arrow to where "
        "it goes. *Static*: what must not move.")


class BrushEditor(gr.HTML):
    """The editor's component: its value is the brush JSON string ("" = no brush), its
    ``photo`` prop what the browser paints on (:func:`brush_ui.photo_prop`). (Gradio writes a
    ``studio.pyi`` of its events next to this module, as for any component class.)"""

    def __init__(self, value: Any = "", **kwargs: Any):
        # Gradio also rebuilds the component from its config, these keys included
        defaults = dict(html_template=TEMPLATE, css_template=CSS, photo=None,
                        js_on_load=(HERE / "brush_editor.js").read_text(), elem_id="brush_editor")
        super().__init__(value=value, **{**defaults, **kwargs})
        self.photo = None      # set through updates only; an attribute keeps Gradio's lookups plain

    def preprocess(self, payload: str | None) -> str | None:
        """The brush JSON as a file the pipeline reads (None without a brush)."""
        return brush_ui.brush_file(payload, output_dir() / "brushes")

    def postprocess(self, value: Any) -> str:
        """A brush file (an example's), JSON string or dict -> the JSON string it shows."""
        return brush_ui.editor_brush(value) if value not in (None, "") else ""

    def api_info(self) -> dict[str, Any]:
        return {"type": "string", "description": BRUSH_API}


BRUSH_API = ('motion brush JSON: {"strokes": [{"mask": [[x, y], ...], "trajectory": [[x, y], '
             '...], "strength": 1}], "static": [[[x, y], ...]]}')


def photo_size(image: Any) -> tuple[int, int] | None:
    try:
        h, w = load_image(image, max_side=None).shape[:2]
    except AnimakitError:
        return None
    return w, h


def extras(ctx: TabContext) -> None:
    image_in, upload = ctx.inputs["image"], ctx.inputs.get("brush")
    with ctx.inputs_top, gr.Group(elem_id="brush_panel"):   # where the photo input was
        gr.Markdown(HELP)
        editor = BrushEditor()
    ctx.inputs["brush"] = editor       # Render sends the editor's brush in the brush slot
    # the photo is chosen and shown in the editor only; the image input keeps its value
    # (Render and the examples use it) out of sight
    image_in.visible = False
    if upload is not None:
        upload.label = "brush file (optional): loads into the motion brush editor"

    def on_photo(image: Any, value: str | None):
        """A new photo: the editor paints on it; a brush that no longer fits is cleared."""
        try:
            photo = brush_ui.photo_prop(image)
        except AnimakitError as e:      # names the file as the user chose it, no server path
            raise gradio_error(e) from None
        if not value:       # nothing to clear (an example's brush may be arriving with it)
            return gr.update(photo=photo)
        return gr.update(photo=photo,
                         value=brush_ui.kept_for_photo(value, photo_size(image) if image else None))

    image_in.change(on_photo, [image_in, editor], [editor], show_progress="hidden")

    def on_upload(evt: gr.EventData):
        """The editor uploaded a photo (to Gradio's upload folder): it becomes the image input."""
        path = Path(str((evt._data or {}).get("path", "")))
        uploads = Path(gr.utils.get_upload_folder()).resolve()
        if not path.is_file() or not path.resolve().is_relative_to(uploads):
            raise gr.Error("the photo did not arrive; choose it again", print_exception=False)
        return str(path)

    editor.upload_photo(on_upload, None, [image_in], show_progress="hidden")

    def on_file(path: Any, image: Any):
        if not path:
            return gr.update()
        try:
            return brush_ui.editor_brush(path, photo_size(image) if image else None,
                                         name=Path(str(path)).name)
        except AnimakitError as e:
            raise gradio_error(e) from None
        except ValueError as e:                   # JSON syntax
            raise gr.Error(f"{Path(str(path)).name}: not valid JSON ({e})", print_exception=False)

    if upload is not None:
        upload.change(on_file, [upload, image_in], [editor], show_progress="hidden")
