"""The studio as a product, in Debian's Chromium and through gradio_client: progress seen on
the page and in the API's updates, a Cancel that stops the server's work, messages that name
the user's own file once, and layouts that fit a 1440x900 screen and a 390 px phone."""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from animakit.registry import pipeline_classes
from test_studio import CHROMIUM, ROOT, _browser, studio_server

ASSETS = ROOT / "assets"


@contextlib.contextmanager
def studio_process(tmp: Path):
    """``app.py`` on a free port with its own temp folder (so its renders are its own):
    yields (url, process id, the studio's output folder)."""
    with studio_server(tmp / "app.log", TMPDIR=str(tmp),
                       GRADIO_TEMP_DIR=str(tmp / "gradio")) as (url, proc):
        yield url, proc.pid, tmp / "animakit-studio"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is required for the browser tests: run `make test` as "
                    "root or `apt-get install chromium`")
    with studio_process(tmp_path_factory.mktemp("studio-app")) as found:
        yield found


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = _browser(pw)
        yield b
        b.close()


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the encoder ffmpeg, say), from /proc."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
    return out


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """CPU time (user + system) each of ``pids`` has used, from /proc."""
    out = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def cpu_share(pid: int, seconds: float = 2.0) -> float:
    """Cores the studio process ``pid`` and its children used over the next ``seconds``
    (a child that ends meanwhile counts what it used up to its last sample)."""
    t0, c0 = time.time(), cpu_seconds(tree(pid))
    time.sleep(seconds)
    c1 = cpu_seconds(list(c0))
    return sum(c1.get(p, c0[p]) - c0[p] for p in c0) / (time.time() - t0)


def open_tab(page, name: str) -> None:
    """Show pipeline ``name``'s tab, from the tab bar or the "More tabs" menu."""
    slug = name.replace(".", "_")
    page.locator("button[role=tab]").first.wait_for(timeout=120_000)
    button = page.locator(f"#tab_{slug}-button")
    if button.count() and button.first.is_visible():
        button.first.click()
    else:
        page.get_by_role("button", name="More tabs").click()
        title = pipeline_classes()[name].display_name()
        page.locator(".overflow-dropdown button", has_text=title).first.click()
    page.locator(f"#render_{slug}").wait_for(state="visible", timeout=30_000)


def long_kenburns(page) -> None:
    """Fill the pan & zoom tab for a render of a minute of 1080p video."""
    open_tab(page, "video.kenburns")
    page.locator("#tab_video_kenburns input[type=file]").first.set_input_files(
        str(ASSETS / "portrait.png"))
    duration = page.locator("#tab_video_kenburns").get_by_label("duration").first
    duration.fill("60")
    duration.press("Tab")


def test_progress_then_cancel_stops_the_server_and_keeps_nothing(app, browser):
    url, pid, out = app
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(url, wait_until="load", timeout=120_000)
    long_kenburns(page)
    page.wait_for_timeout(1500)                       # the upload lands
    before = cpu_share(pid, 1.5)                      # the server idle, the page open
    page.locator("#render_video_kenburns").click()
    # the page's progress bar counts frames
    page.get_by_text("frames", exact=False).locator("visible=true").first.wait_for(
        timeout=120_000)
    progress = page.locator("#video_video_kenburns .progress-text, "
                            "#video_video_kenburns .meta-text").first
    progress.wait_for(timeout=60_000)
    seen = progress.inner_text()
    assert "/" in seen and "frames" in seen.lower(), seen
    busy = cpu_share(pid, 1.5)                        # it is rendering
    t0 = time.time()
    page.locator("#cancel_video_kenburns").click()
    info = page.locator("#info_video_kenburns")
    try:
        info.get_by_text("Cancelled").wait_for(timeout=15_000)
    except Exception:
        raise AssertionError(f"no 'Cancelled' 15 s after Cancel; the info line reads "
                             f"{info.inner_text()!r}, the server uses "
                             f"{cpu_share(pid, 1.0):.2f} cores") from None
    said = time.time() - t0
    assert "Error" not in page.locator("#tab_video_kenburns").inner_text()
    time.sleep(1.0)
    idle = cpu_share(pid, 2.0)
    print(f"\ncancel: 'Cancelled' shown after {said:.2f} s; server tree CPU {before:.2f} "
          f"cores idle before, {busy:.2f} rendering, {idle:.2f} 1 s after Cancel")
    # back to what it used before the render (a slow machine's idle server and page
    # polling cost more of a core than a fast one's)
    assert idle < before + 0.1 and idle < busy / 3, (
        f"the server uses {idle:.0%} of a core after Cancel ({before:.0%} before the "
        f"render, {busy:.0%} while rendering)")
    assert said < 5.0
    left = [p.name for p in out.rglob("*") if p.is_file() and p.suffix in (".mp4", ".part")
            or ".part" in p.name]
    assert left == [], left
    page.close()


def test_api_progress_updates_count_frames(app):
    from gradio_client import Client
    url, _, _ = app
    client = Client(url, verbose=False)
    job = client.submit(1, api_name="/example_video_kenburns")
    seen = []
    while not job.done():
        data = job.status().progress_data
        if data:
            seen.append((data[0].index, data[0].length, data[0].unit))
        time.sleep(0.1)
    job.result()
    frames = [s for s in seen if s[2] == "frames"]
    assert frames, f"no frame progress among {seen[:5]}"
    assert all(length and 0 <= index <= length for index, length, _ in frames)
    assert frames[-1][0] > frames[0][0]               # it moved


def _no_face(tmp: Path) -> Path:
    yy, xx = np.mgrid[0:256, 0:256]
    path = tmp / "kitten.png"
    Image.fromarray(np.stack([xx, yy, 255 - xx], -1).astype(np.uint8)).save(path)
    return path


def test_a_missing_face_is_said_once_at_upload_naming_the_users_file(app, browser, tmp_path):
    url, _, _ = app
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(url, wait_until="load", timeout=120_000)
    open_tab(page, "portrait.talking")
    page.locator("#tab_portrait_talking input[type=file]").first.set_input_files(
        str(_no_face(tmp_path)))
    notes = page.locator("#notes_portrait_talking")
    notes.get_by_text("no face found").wait_for(timeout=60_000)
    page.wait_for_timeout(2500)                       # the faces view and preview settle
    text = notes.inner_text()
    assert "kitten.png" in text and "/tmp" not in text and "gradio" not in text
    tab = page.locator("#tab_portrait_talking").inner_text()
    assert tab.count("no face found") == 1 and "Error" not in tab
    # rendering anyway: one message, naming the file, no server path, no CLI flag
    page.locator("#render_portrait_talking").click()
    toast = page.locator(".toast-body")
    toast.first.wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    messages = toast.all_inner_texts()
    assert len(messages) == 1, messages
    assert "kitten.png" in messages[0] and "/tmp" not in messages[0], messages
    assert "--" not in messages[0]
    page.close()


def _arm_on_body_keypoints(tmp: Path) -> Path:
    """The shipped figure's keypoints with its left elbow and wrist moved onto its torso."""
    import json
    data = json.loads((ASSETS / "pose" / "figure_keypoints.json").read_text())
    p = np.array(data["points"], np.float64)
    mid = p[[11, 12, 23, 24]].mean(0)
    p[15], p[13] = mid, (p[11] + mid) / 2
    data["points"] = p.tolist()
    path = tmp / "my_keypoints.json"
    path.write_text(json.dumps(data))
    return path


def test_arms_over_the_body_are_noted_at_upload(app, browser, tmp_path):
    """A reference whose arm lies over the torso gets the warning beside the inputs, before
    any render, naming the photo by its own name."""
    url, _, _ = app
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(url, wait_until="load", timeout=120_000)
    open_tab(page, "portrait.pose")
    tab = page.locator("#tab_portrait_pose")
    tab.get_by_text("More inputs (optional)").click()
    files = tab.locator("input[type=file]")     # photo, driving, background, keypoints, mask
    files.nth(3).set_input_files(str(_arm_on_body_keypoints(tmp_path)))
    tab.locator("input[type=file]").first.set_input_files(str(ASSETS / "pose" / "figure.png"))
    notes = page.locator("#notes_portrait_pose")
    notes.get_by_text("arm lies over the body").wait_for(timeout=90_000)
    text = notes.inner_text()
    assert "figure.png" in text and "/tmp" not in text
    assert text.count("over the body") == 1
    page.close()


@pytest.mark.parametrize("name", list(pipeline_classes()))
def test_render_and_result_fit_a_1440x900_screen(app, browser, name):
    url, _, _ = app
    slug = name.replace(".", "_")
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(url, wait_until="load", timeout=120_000)
    open_tab(page, name)
    page.evaluate("() => window.scrollTo(0, 0)")
    for sel in (f"#render_{slug}", f"#video_{slug}", f"#tab_{slug} input[type=file]"):
        if sel.endswith("file]") and not pipeline_classes()[name].inputs:
            continue
        box = page.evaluate("s => { const e = document.querySelector(s);"
                            " const r = (e.closest('.block') || e).getBoundingClientRect();"
                            " return [r.top, r.bottom]; }", sel)
        assert 0 <= box[0] and box[1] <= 900, (sel, box)
    page.close()


def test_every_tab_works_at_phone_width(app, browser):
    """At 390 px every tab can be opened, and Render is on screen without scrolling."""
    url, _, _ = app
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(url, wait_until="load", timeout=120_000)
    page.locator(".gradio-container").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    for name in pipeline_classes():
        slug = name.replace(".", "_")
        # every tab sits in the bar (wrapped), none behind a menu (a slow machine may
        # still be laying the page out: waited for, up to 30 s)
        try:
            page.locator(f"#tab_{slug}-button").wait_for(state="visible", timeout=30_000)
        except Exception:
            raise AssertionError(f"{name}: its tab is not in the tab bar") from None
        open_tab(page, name)
        page.evaluate("() => window.scrollTo(0, 0)")
        box = page.locator(f"#render_{slug}").bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= 844, (name, box)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 400
    page.close()


def test_keyboard_focus_is_visible_on_sliders(app, browser):
    url, _, _ = app
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(url, wait_until="load", timeout=120_000)
    open_tab(page, "portrait.talking")
    slider = page.locator("#tab_portrait_talking input[type=range]").first
    slider.focus()
    page.keyboard.press("ArrowRight")
    style = slider.evaluate("e => { const s = getComputedStyle(e);"
                            " return [s.outlineStyle, parseFloat(s.outlineWidth)]; }")
    assert style[0] != "none" and style[1] >= 2, style
    page.close()


def test_the_live_preview_follows_typing_and_dragging(app, browser):
    """The talking tab's preview re-renders when a value is typed into a slider's box and
    while a slider is dragged (not only on release)."""
    url, _, _ = app
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(url, wait_until="load", timeout=120_000)
    open_tab(page, "portrait.talking")
    page.locator("#tab_portrait_talking input[type=file]").first.set_input_files(
        str(ASSETS / "portrait.png"))
    preview = page.locator("#talking_live_preview img")
    preview.wait_for(timeout=90_000)

    def changed_from(src: str) -> str:
        page.wait_for_function("([s]) => { const i = document.querySelector("
                               "'#talking_live_preview img'); return i && i.src !== s; }",
                               arg=[src], timeout=90_000)
        return preview.get_attribute("src")

    page.wait_for_timeout(3000)           # the upload's own preview (and faces view) settle
    src = preview.get_attribute("src")
    smile = page.locator("#talking_expression").get_by_label("smile").first   # number box
    smile.fill("0.8")
    smile.press("Enter")
    src = changed_from(src)
    slider = page.locator("#talking_expression input[type=range]").nth(2)     # eyes open
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.8, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.2, y, steps=8)
    changed_from(src)                     # the preview moved before the button is released
    page.mouse.up()
    page.close()


def test_the_session_history_compares_and_reuses_a_render(app, browser):
    """Two renders on the pan & zoom tab: the list holds both with their settings; picking
    the first shows its video beside the current result, and reuse puts its settings back."""
    url, _, _ = app
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(url, wait_until="load", timeout=120_000)
    open_tab(page, "video.kenburns")
    cards = page.locator("#examples_video_kenburns tbody tr")
    info = page.locator("#info_video_kenburns")
    before = ""
    for i in (0, 1):
        cards.nth(i).click()
        page.wait_for_function("([b]) => { const t = document.querySelector("
                               "'#info_video_kenburns').innerText; "
                               "return t.includes(' frames at ') && t !== b; }",
                               arg=[before], timeout=180_000)
        before = info.inner_text()
        page.wait_for_timeout(1500)                         # the history records it
    history = page.locator("#history_video_kenburns")
    history.get_by_text("This session's renders").click()
    picker = page.locator("#history_pick_video_kenburns input").first
    picker.click()
    options = page.get_by_role("option")
    options.first.wait_for(timeout=30_000)
    labels = options.all_inner_texts()
    assert len(labels) == 2 and all("engine affine" in lab for lab in labels), labels
    options.nth(1).click()                                  # the older one
    page.locator("#history_video_video_kenburns video").wait_for(timeout=30_000)
    page.locator("#history_reuse_video_kenburns").click()
    page.wait_for_timeout(1500)
    zoom = page.locator("#tab_video_kenburns").get_by_label("zoom end").first.input_value()
    ex = pipeline_classes()["video.kenburns"].examples[0].get("params", {})
    assert float(zoom) == float(ex.get("zoom_end", 1.3)), (zoom, ex)
    page.close()
