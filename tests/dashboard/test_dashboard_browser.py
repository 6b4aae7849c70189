"""The dashboard in a real browser: `streamlit run` headless, every page loaded in headless Chromium.

Playwright drives the system's Chromium (``executable_path``; Playwright's own
browser download is never needed). Its web-first assertions wait until
Streamlit has drawn the page instead of guessing a delay. Each page is saved as
a screenshot and its DOM under ``tests/_artifacts/screenshots/``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, ViewportSize, expect, sync_playwright

from mcvision.dashboard import dashboard_command
from seed import free_port

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ARTIFACTS = Path(__file__).resolve().parents[1] / "_artifacts" / "screenshots"
PAGES = [  # (url path, title, plotly charts drawn over the seeded latest day)
    ("", "Overview", 2),
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
