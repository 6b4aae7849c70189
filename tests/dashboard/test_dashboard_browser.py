"""The dashboard in a real browser: `streamlit run` headless, every page loaded in headless Chromium.

Playwright drives the system's Chromium (``executable_path``; Playwright's own
browser download is never needed). Its web-first assertions wait until
Streamlit has drawn the page instead of guessing a delay. Each page is saved as
a screenshot and its DOM under ``tests/_artifacts/screenshots/``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from playwright.sync_api import Locator, Page, ViewportSize, expect, sync_playwright

from mcvision.dashboard import dashboard_command
from seed import free_port

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ARTIFACTS = Path(__file__).resolve().parents[1] / "_artifacts" / "screenshots"
PAGES = [  # (url path, title, plotly charts drawn over the seeded latest day)
    ("", "Overview", 2),
    ("live", "Live", 0),
    ("zones", "Zones", 3),
    ("heatmap", "Heatmap", 3),
    ("journeys", "Journeys", 2),
    ("visits", "Visits", 1),
]
VIEW: ViewportSize = {"width": 1400, "height": 1800}
STARTUP_S = 180.0  # `streamlit run` on a loaded machine
LOAD_MS = 120_000  # the first page of a fresh Streamlit server imports plotly and friends

TITLE = '[data-testid="stMain"] h1'
PLOT = ".js-plotly-plot"
EXCEPTION = '[data-testid="stException"]'
ERROR = '[data-testid="stAlertContentError"]'
IDLE_JS = """() => {
  const s = document.querySelector('[data-testid="stStatusWidget"]');
  return !(s && /running/i.test(s.textContent));
}"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if IN_CI:
            pytest.fail("chromium is not installed (apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return found


@contextlib.contextmanager
def dashboard(api_url: str, log: Path) -> Iterator[str]:
    """`streamlit run` the dashboard (through mcvision.dashboard) on a free port."""
    port = free_port()
    argv, env = dashboard_command(api_url, port=port)
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + STARTUP_S
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/_stcore/health", timeout=1).text.strip() == "ok":
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def browser_page() -> Iterator[Page]:
    """One tab of the system's headless Chromium, through Playwright."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium(),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_page(viewport=VIEW)
            page.set_default_timeout(LOAD_MS)
            yield page
        finally:
            browser.close()


def settle(page: Page) -> None:
    """Wait until Streamlit's script run has finished (the status widget stops running)."""
    page.wait_for_function(IDLE_JS, timeout=LOAD_MS)


def snapshot(page: Page, name: str) -> str:
    """Save a screenshot and the DOM of the page; returns the DOM."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", animations="disabled")
    dom = page.content()
    (ARTIFACTS / f"{name}.html").write_text(dom)
    return dom


@pytest.mark.slow
def test_every_page_renders_in_a_real_browser(api_url: str, tmp_path: Path) -> None:
    with dashboard(api_url, tmp_path / "streamlit.log") as app, browser_page() as page:
        for path, title, n_plots in PAGES:
            page.goto(f"{app}/{path}")
            expect(page.locator(TITLE)).to_have_text(title, timeout=LOAD_MS)
            expect(page.locator(PLOT)).to_have_count(n_plots, timeout=LOAD_MS)
            settle(page)
            expect(page.locator(PLOT)).to_have_count(n_plots)
            expect(page.locator(EXCEPTION)).to_have_count(0)
            expect(page.locator(ERROR)).to_have_count(0)
            for plot in page.locator(PLOT).all():
                expect(plot.locator("svg.main-svg").first).to_be_visible()
            dom = snapshot(page, path or "overview")
            assert title in dom and "stException" not in dom


@pytest.mark.slow
def test_api_down_shows_the_banner_in_a_real_browser(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with dashboard(dead, tmp_path / "streamlit.log") as app, browser_page() as page:
        page.goto(app)
        banner = page.locator(ERROR)
        expect(banner).to_have_count(1, timeout=LOAD_MS)
        settle(page)
        expect(banner).to_have_count(1)
        expect(banner).to_contain_text("not reachable")
        expect(banner).to_contain_text(f"{dead}/api/v1/health")
        expect(page.get_by_role("button", name=re.compile("^Retry$"))).to_be_visible()
        expect(page.locator(PLOT)).to_have_count(0)
        expect(page.locator(EXCEPTION)).to_have_count(0)
        dom = snapshot(page, "api-down")
    assert "stException" not in dom


PIXELS_JS = """img => {
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  c.getContext('2d').drawImage(img, 0, 0);
  return c.toDataURL('image/png');
}"""


def shot(locator: Locator) -> np.ndarray:
    """A screenshot of one element, decoded (BGR)."""
    img = cv2.imdecode(np.frombuffer(locator.screenshot(), np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


def pixels(img: Locator) -> np.ndarray:
    """The pixels an <img> shows (its decoded picture, whatever the page's styling)."""
    data = img.evaluate(PIXELS_JS).split(",", 1)[1]
    out = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)
    assert out is not None
    return out


NEWER_JS = """([sel, src]) => {
  const img = document.querySelector(sel);
  return !!img && img.src !== src && img.complete && img.naturalWidth > 0;
}"""


def newer_frame(page: Page, selector: str, src: str | None) -> None:
    """Wait until the <img> at ``selector`` shows a loaded picture other than ``src``."""
    page.wait_for_function(NEWER_JS, arg=[selector, src], timeout=LOAD_MS)


def differ(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two pictures of the same size (0 = identical)."""
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.mark.slow
def test_live_page_shows_moving_frames_in_a_real_browser(
    live_api_url: str, seeded: dict, tmp_path: Path
) -> None:
    cams = [c.id for c in seeded["cfg"].cameras]
    with dashboard(live_api_url, tmp_path / "streamlit.log") as app, browser_page() as page:
        page.goto(f"{app}/live")
        expect(page.locator(TITLE)).to_have_text("Live", timeout=LOAD_MS)
        for cam in cams:
            expect(page.locator(f".st-key-live-{cam} img")).to_have_count(1, timeout=LOAD_MS)
        tile = page.locator(f".st-key-live-{cams[0]}")
        img = tile.locator("img")
        expect(tile).to_contain_text("online")
        expect(tile).to_contain_text("fps")
        newer_frame(page, f".st-key-live-{cams[0]} img", None)
        first, first_px = shot(tile), pixels(img)
        time.sleep(2.0)
        newer_frame(page, f".st-key-live-{cams[0]} img", img.get_attribute("src"))
        second, second_px = shot(tile), pixels(img)
        snapshot(page, "live-moving")
        assert first_px.std() > 20 and first_px.shape[1] > first_px.shape[0]  # a camera picture
        assert differ(first_px, second_px) > 0.5  # the frame itself changed ...
        assert differ(first, second) > 0.5  # ... and so did the tile on screen
        expect(page.locator(EXCEPTION)).to_have_count(0)
        expect(page.locator(ERROR)).to_have_count(0)


@pytest.mark.slow
def test_heatmap_is_drawn_over_the_snapshot_in_a_real_browser(
    live_api_url: str, seeded: dict, tmp_path: Path
) -> None:
    cams = [c.id for c in seeded["cfg"].cameras]
    with dashboard(live_api_url, tmp_path / "streamlit.log") as app, browser_page() as page:
        page.goto(f"{app}/heatmap")
        expect(page.locator(TITLE)).to_have_text("Heatmap", timeout=LOAD_MS)
        for cam in cams:
            expect(page.locator(f".st-key-heatmap-{cam} img")).to_have_count(1, timeout=LOAD_MS)
        settle(page)
        expect(page.locator(PLOT)).to_have_count(0)  # no empty-grid fallback
        expect(page.locator(EXCEPTION)).to_have_count(0)
        expect(page.get_by_text("Drawn over the camera's newest frame")).to_have_count(len(cams))
        snapshot(page, "heatmap-over-snapshot")
        for cam in cams:
            picture = pixels(page.locator(f".st-key-heatmap-{cam} img"))
            on_screen = shot(page.locator(f".st-key-heatmap-{cam} img"))
            h, w = picture.shape[:2]
            assert abs(w / h - 16 / 9) < 0.02  # the camera's frame, not a plot
            colours = len(np.unique((picture // 8).reshape(-1, 3), axis=0))
            assert colours > 500 and on_screen.std() > 20  # a photo, not a flat grid
            hsv = cv2.cvtColor(picture, cv2.COLOR_BGR2HSV)
            hot = (hsv[..., 1] > 120) & (hsv[..., 2] > 120) & (hsv[..., 0] < 30)
            assert hot.mean() > 0.005  # the heat colours (inferno's orange/yellow) are there
