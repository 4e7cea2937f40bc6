"""The motion-brush editor in a real headless Chromium (Debian's, through Playwright's
executable-path launch): paint two strokes and a static region with the mouse on the one
canvas, drag their arrows, undo/redo, Render — then check the rendered frames: each stroke's
region moved in its direction, the static region and the far regions did not."""
from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from animakit.media import VideoReader
from benchmarks.groundtruth.i2v_measures import psnr, synthetic_scene, track_patch
from test_studio import CHROMIUM, DOCS, _browser, running_studio

W, H = 480, 320
A = (60, 60, 150, 150)          # stroke 1's square (x0, y0, x1, y1): dragged 40 px right
B = (330, 60, 420, 150)         # stroke 2's square: dragged 30 px down
C = (200, 220, 280, 300)        # the static region, in stroke 2's... nobody's way
FAR = (210, 40, 310, 150)       # between the strokes, beyond their reach, never painted
ARROW_A, ARROW_B = (40, 0), (0, 30)


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    with running_studio(tmp_path_factory.mktemp("studio") / "app.log") as url:
        yield url


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> tuple[Path, np.ndarray]:
    img = synthetic_scene(W, H, A, seed=11)
    x0, y0, x1, y1 = B
    img[y0:y1, x0:x1] = synthetic_scene(x1 - x0, y1 - y0, (0, 0, x1 - x0, y1 - y0), seed=12)
    path = tmp_path_factory.mktemp("photo") / "my photo.png"
    cv2.imwrite(str(path), img[..., ::-1])
    return path, img


def box_mask(box: tuple[int, int, int, int]) -> np.ndarray:
    m = np.zeros((H, W), bool)
    x0, y0, x1, y1 = box
    m[y0:y1, x0:x1] = True
    return m


class Canvas:
    """Mouse gestures in photo pixels on the editor's canvas (a photo of ``size`` (W, H))."""

    def __init__(self, page, size: tuple[int, int] = (W, H)):
        self.page, self.size = page, size
        page.locator("#brush_editor canvas").scroll_into_view_if_needed()
        self.box = page.locator("#brush_editor canvas").bounding_box()

    def xy(self, x: float, y: float) -> tuple[float, float]:
        w, h = self.size
        return (self.box["x"] + x / w * self.box["width"], self.box["y"] + y / h * self.box["height"])

    def paint(self, box: tuple[int, int, int, int]) -> None:
        """Scribble rows over ``box`` (shrunk by the brush radius) with the button down."""
        x0, y0, x1, y1 = box
        m = self.page.mouse
        m.move(*self.xy(x0 + 12, y0 + 12))
        m.down()
        for k, y in enumerate(np.linspace(y0 + 12, y1 - 12, 6)):
            m.move(*self.xy(x1 - 12 if k % 2 == 0 else x0 + 12, y), steps=6)
            m.move(*self.xy(x0 + 12 if k % 2 == 0 else x1 - 12, y + 4), steps=6)
        m.up()

    def drag(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        m = self.page.mouse
        m.move(*self.xy(*start))
        m.down()
        m.move(*self.xy(*end), steps=10)
        m.up()


def centre(box):
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def test_paint_two_strokes_and_a_static_region_render_and_check_the_frames(studio, photo, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is required for the browser test")
    from playwright.sync_api import sync_playwright
    path, img = photo
    with sync_playwright() as pw:
        browser = _browser(pw)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(studio, wait_until="load", timeout=120_000)
        page.get_by_role("tab", name=re.compile(r"video\.i2v|Animate a photo")).click()
        page.locator("#brush_editor input.bk-file").set_input_files(str(path))
        page.wait_for_function("""() => { const c = document.querySelector('#brush_editor canvas');
                                          return c && c.width > 0; }""", timeout=60_000)
        status = page.locator("#brush_editor .bk-status")
        ed = page.locator("#brush_editor")
        canvas = Canvas(page)
        canvas.paint(A)
        ed.get_by_role("button", name=re.compile("Path")).click()
        canvas.drag(centre(A), np.add(centre(A), ARROW_A))
        ed.get_by_role("button", name=re.compile("Paint motion")).click()
        canvas.paint(B)                               # a new stroke: the last one has its path
        ed.get_by_role("button", name=re.compile("Path")).click()
        canvas.drag(centre(B), np.add(centre(B), ARROW_B))
        ed.get_by_role("button", name=re.compile("Static")).click()
        canvas.paint(C)
        page.locator("#brush_panel").first.screenshot(path=str(DOCS / "video_i2v_editor.png"))
        assert status.inner_text().startswith("2 moving stroke(s), 1 static region(s)"), \
            status.inner_text()
        # undo takes the static region away, redo brings it back: all in the browser
        ed.get_by_role("button", name=re.compile("Undo")).click()
        assert status.inner_text().startswith("2 moving stroke(s), 0 static region(s)"), \
            status.inner_text()
        ed.get_by_role("button", name=re.compile("Redo")).click()
        assert status.inner_text().startswith("2 moving stroke(s), 1 static region(s)")
        page.locator("#brush_panel").first.screenshot(path=str(DOCS / "video_i2v_editor.png"))
        page.screenshot(path=str(Path(tmp_path) / "studio_brush.png"))
        page.locator("#render_video_i2v").click()
        page.wait_for_function(
            """() => { const v = document.querySelector('#video_video_i2v video');
                       return v && v.readyState >= 2 && v.duration > 0; }""", timeout=240_000)
        src = page.locator("#video_video_i2v video").get_attribute("src")
        browser.close()
    video = Path(re.sub(r"^.*?file=", "", src).split("?")[0])
    frames = VideoReader(video).read_all()
    assert frames[0].shape == (H, W, 3) and len(frames) > 10
    # each stroke's square (its inside, away from the painted edge) went its own way
    for box, (dx, dy) in ((A, ARROW_A), (B, ARROW_B)):
        found = track_patch(frames, (box[0] + 15, box[1] + 15, box[2] - 15, box[3] - 15), search=48)
        assert abs(found[-1][0] - dx) < 4 and abs(found[-1][1] - dy) < 4, (box, found[-1])
    # the static region and the never-painted middle stayed (up to the H.264 encoding)
    for box in (C, FAR):
        worst = min(psnr(f, img, box_mask(box)) for f in frames)
        assert worst >= 35.0, (box, worst)


def test_an_example_brush_loads_into_the_editor(studio):
    """Clicking the tab's first example puts its photo and its brush (2 strokes, 1 static
    region) into the editor, drawn; a stroke added with a clicked path (it starts at the
    painted region's centre) comes out in the saved JSON."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is required for the browser test")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = _browser(pw)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(studio, wait_until="load", timeout=120_000)
        page.get_by_role("tab", name=re.compile(r"video\.i2v|Animate a photo")).click()
        page.locator("#examples_video_i2v tbody tr").first.click()
        page.wait_for_function("""() => { const c = document.querySelector('#brush_editor canvas');
                                          return c && c.width > 0; }""", timeout=60_000)
        status = page.locator("#brush_editor .bk-status")
        page.wait_for_function(
            """() => document.querySelector('#brush_editor .bk-status').innerText
                     .startsWith('2 moving stroke(s), 1 static region(s)')""", timeout=60_000)
        # the strokes are drawn: the canvas differs from the photo where the first stroke is
        tinted = page.evaluate("""() => { const c = document.querySelector('#brush_editor canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i + 2] < 90) n++;
            return n / (d.length / 4); }""")
        assert tinted > 0.01, (tinted, status.inner_text())
        page.locator("#brush_editor").scroll_into_view_if_needed()
        page.locator("#brush_panel").first.screenshot(path=str(DOCS / "video_i2v_editor_example.png"))
        # one more stroke whose path is clicked point by point, then the brush saved as JSON
        # (after the example's render is shown: the page's layout settles then)
        page.wait_for_function(
            """() => { const v = document.querySelector('#video_video_i2v video');
                       return v && v.readyState >= 2 && v.duration > 0; }""", timeout=240_000)
        ed = page.locator("#brush_editor")
        canvas = Canvas(page, (512, 512))
        ed.get_by_role("button", name=re.compile("Paint motion")).click()
        canvas.paint((200, 400, 260, 460))
        ed.get_by_role("button", name=re.compile("Path")).click()
        for x, y in ((300, 430), (330, 400)):
            page.mouse.click(*canvas.xy(x, y))
        assert status.inner_text().startswith("3 moving stroke(s), 1 static region(s)"), \
            status.inner_text()
        with page.expect_download() as dl:
            ed.get_by_role("button", name="Save").click()
        saved = json.loads(Path(dl.value.path()).read_text())
        browser.close()
    assert len(saved["static"]) == 1 and len(saved["strokes"]) == 3
    traj = saved["strokes"][-1]["trajectory"]
    assert len(traj) == 3 and abs(traj[0][0] - 230) < 6 and abs(traj[0][1] - 430) < 6, traj
    assert np.abs(np.subtract(traj[1:], [[300, 430], [330, 400]])).max() <= 2, traj


def test_api_users_send_the_brush_json_as_a_string(studio, photo):
    """Through the API the editor's slot takes the brush JSON as a string, like the editor."""
    from gradio_client import Client, handle_file
    from animakit.registry import pipeline_classes
    path, img = photo
    client = Client(studio, verbose=False)
    cls = pipeline_classes()["video.i2v"]
    x0, y0, x1, y1 = A
    brush = {"strokes": [{"mask": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
                          "trajectory": [list(centre(A)), list(np.add(centre(A), (20, 0)))]}]}
    params = {p["name"]: p["default"] for p in cls.describe()["params"]}
    params["num_frames"] = 6
    own = [s.default for e in cls.engines for s in cls.engine_param_specs(e)]
    args = [handle_file(str(path)), json.dumps(brush), "flow", 0, *params.values(), *own]
    video, info = client.predict(*args, api_name="/run_video_i2v")
    frames = VideoReader(Path(video["video"] if isinstance(video, dict) else video)).read_all()
    found = track_patch(frames, (x0 + 15, y0 + 15, x1 - 15, y1 - 15))
    assert len(frames) == 6 and abs(found[-1][0] - 20) < 3
