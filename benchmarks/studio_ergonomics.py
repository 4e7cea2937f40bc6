"""How the studio treats a person, measured in Debian's Chromium: per tab, Tab presses from the
tab to Render, where Render and the result sit at 1440x900 and at 390 px, the lowest contrast
of small text, and the controls that show no focus ring. Prints one JSON object.

    python benchmarks/studio_ergonomics.py                # starts app.py on a free port
    python benchmarks/studio_ergonomics.py --url http://127.0.0.1:7860/
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"

# WCAG relative luminance and contrast of the small text (<= 14 px) on its painted background
CONTRAST_JS = """() => {
  const lum = c => { const v = c.match(/[\\d.]+/g).slice(0, 3).map(x => +x / 255)
      .map(x => x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4);
      return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
  const bg = el => { for (let e = el; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor, a = c.match(/[\\d.]+/g);
      if (a && (a.length < 4 || +a[3] > 0.5)) return c; } return 'rgb(255,255,255)'; };
  let worst = null;
  for (const el of document.querySelectorAll('[role=tabpanel] *')) {
    if (!el.offsetParent || el.closest('[role=tabpanel][hidden]')) continue;
    const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const s = getComputedStyle(el);
    if (parseFloat(s.fontSize) > 14 || s.visibility === 'hidden' || +s.opacity < 0.1) continue;
    if (el.closest('button, [role=tab], .gallery-item, svg, video, canvas')) continue;
    const l1 = lum(s.color), l2 = lum(bg(el));
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    if (!worst || ratio < worst.ratio) worst = {ratio: Math.round(ratio * 100) / 100,
      text: el.textContent.trim().slice(0, 60), px: parseFloat(s.fontSize), color: s.color};
  }
  return worst; }"""

# controls of the visible tab whose keyboard focus draws nothing (no outline, no ring)
FOCUS_JS = """(panel) => {
  const root = document.getElementById(panel);
  const els = Array.from(root.querySelectorAll('input, button, textarea, select, [tabindex="0"]'))
      .filter(e => e.offsetParent && !e.disabled && e.type !== 'file' && e.type !== 'hidden');
  const bare = [];
  for (const e of els) {
    e.focus({focusVisible: true});
    if (document.activeElement !== e) continue;
    const look = x => { const s = getComputedStyle(x);
      return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) ||
             (s.boxShadow && s.boxShadow !== 'none'); };
    const wrap = e.closest('label, .wrap, .container, .block');
    if (!look(e) && !(wrap && getComputedStyle(wrap).outlineStyle !== 'none' &&
                      parseFloat(getComputedStyle(wrap).outlineWidth) > 0))
      bare.push((e.type || e.tagName).toLowerCase());
  }
  return {controls: els.length, without_focus_ring: bare.length, kinds: [...new Set(bare)]}; }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def studio_url(url: str | None):
    if url:
        yield url
        return
    port = free_port()
    log = open(Path(tempfile.gettempdir()) / f"ergonomics-{port}.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT, env={**os.environ,
                            "ANIMAKIT_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"})
    url = f"http://127.0.0.1:{port}/"
    for _ in range(240):
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=2)
            break
        time.sleep(1)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


def tab_ids(page) -> dict[str, str]:
    """Tab panel id -> the tab's label."""
    return dict(page.evaluate("() => Array.from(document.querySelectorAll('button[role=tab]'))"
                              ".map(t => [t.getAttribute('aria-controls'), t.textContent.trim()])"))


def open_tab(page, panel: str, label: str) -> None:
    """Show tab ``panel`` (from the tab bar, or its overflow menu on a narrow screen)."""
    button = page.locator(f"#{panel}-button")
    if button.count() and button.first.is_visible():
        button.first.click()
    else:
        page.get_by_role("button", name="More tabs").click()
        page.locator(".overflow-dropdown button", has_text=label).first.click()
    page.wait_for_timeout(700)


def tab_presses(page, panel: str, render_id: str) -> int | None:
    """Tab key presses from the tab's own button to the Render button (None: never)."""
    page.locator(f"#{panel}-button").first.focus()
    for n in range(1, 301):
        page.keyboard.press("Tab")
        if page.evaluate("id => document.activeElement && document.activeElement.id === id",
                         render_id):
            return n
    return None


def box_bottom(page, selector: str) -> float | None:
    loc = page.locator(selector).first
    if not loc.count():
        return None
    page.evaluate("() => window.scrollTo(0, 0)")
    return round(page.evaluate("s => document.querySelector(s).getBoundingClientRect().bottom",
                               selector))


def measure(url: str) -> dict:
    from playwright.sync_api import sync_playwright
    out: dict = {"tabs": {}}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        wide = browser.new_page(viewport={"width": 1440, "height": 900})
        wide.goto(url, wait_until="load", timeout=120_000)
        wide.locator("button[role=tab]").first.wait_for(timeout=120_000)
        narrow = browser.new_page(viewport={"width": 390, "height": 844})
        narrow.goto(url, wait_until="load", timeout=120_000)
        narrow.locator(".gradio-container").first.wait_for(timeout=120_000)
        narrow.wait_for_timeout(2000)
        out["phone_tabs_in_bar"] = narrow.evaluate(
            "() => Array.from(document.querySelectorAll('button[role=tab]'))"
            ".filter(t => t.offsetParent && t.getBoundingClientRect().right <= innerWidth).length")
        out["tabs_total"] = len(tab_ids(wide))
        worst = None
        for panel, label in tab_ids(wide).items():
            slug = panel.removeprefix("tab_")
            render = f"render_{slug}"
            open_tab(wide, panel, label)
            row = {"render_bottom_px_1440x900": box_bottom(wide, f"#{render}"),
                   "result_bottom_px_1440x900": box_bottom(wide, f"#video_{slug}"),
                   "page_height_px_1440x900": wide.evaluate("() => document.body.scrollHeight"),
                   "tab_presses_to_render": tab_presses(wide, panel, render),
                   "focus": wide.evaluate(FOCUS_JS, panel)}
            c = wide.evaluate(CONTRAST_JS)
            row["lowest_small_text_contrast"] = c
            if c and (worst is None or c["ratio"] < worst["ratio"]):
                worst = c
            open_tab(narrow, panel, label)
            row["render_bottom_px_390"] = box_bottom(narrow, f"#{render}")
            out["tabs"][panel] = row
        out["lowest_small_text_contrast"] = worst
        browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url")
    args = ap.parse_args()
    with studio_url(args.url) as url:
        print(json.dumps(measure(url)))


if __name__ == "__main__":
    main()
