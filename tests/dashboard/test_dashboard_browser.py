"""The dashboard in a real browser: `streamlit run` headless, every page loaded in headless Chromium.

Chromium is driven over the DevTools protocol (a websocket), so the test waits
until Streamlit has drawn the page instead of guessing a delay. Each page is
saved as a screenshot and its DOM under ``tests/_artifacts/screenshots/``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

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
VIEW = (1400, 1800)

STATE_JS = """
(() => {
  const q = (s) => document.querySelectorAll(s);
  const h1 = document.querySelector('[data-testid="stMain"] h1');
  const status = document.querySelector('[data-testid="stStatusWidget"]');
  return JSON.stringify({
    title: h1 ? h1.textContent.trim() : null,
    plots: q('.js-plotly-plot').length,
    exceptions: q('[data-testid="stException"]').length,
    errors: Array.from(q('[data-testid="stAlertContentError"]')).map(e => e.textContent),
    running: !!(status && /running/i.test(status.textContent)),
  });
})()
"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if IN_CI:
            pytest.fail("chromium is not installed (apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return found


class DevTools:
    """A minimal DevTools-protocol session with one browser tab."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._id = 0

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self._ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self._ws.recv(timeout=30))
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    def evaluate(self, expression: str) -> Any:
        return self.send("Runtime.evaluate", expression=expression, returnByValue=True)[
            "result"
        ].get("value")


@contextlib.contextmanager
def dashboard(api_url: str, log: Path) -> Iterator[str]:
    """`streamlit run` the dashboard (through mcvision.dashboard) on a free port."""
    port = free_port()
    argv, env = dashboard_command(api_url, port=port)
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
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
def browser(tmp: Path) -> Iterator[DevTools]:
    """Headless Chromium with one tab, over the DevTools protocol."""
    profile = tmp / "profile"
    proc = subprocess.Popen(
        [
            chromium(), "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
            f"--window-size={VIEW[0]},{VIEW[1]}", "--remote-debugging-port=0", "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
        tab = next(t for t in targets if t["type"] == "page")
        with connect(tab["webSocketDebuggerUrl"], max_size=None, open_timeout=10) as ws:
            tools = DevTools(ws)
            tools.send("Page.enable")
            tools.send("Emulation.setDeviceMetricsOverride", width=VIEW[0], height=VIEW[1],
                       deviceScaleFactor=1, mobile=False)
            yield tools
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def load(tools: DevTools, url: str, ready: Any, timeout_s: float = 60.0) -> dict[str, Any]:
    """Open ``url`` and wait until ``ready(state)`` holds for three polls in a row."""
    tools.send("Page.navigate", url=url)
    deadline = time.monotonic() + timeout_s
    stable, last, state = 0, None, {}
    while stable < 3:
        time.sleep(0.5)
        state = json.loads(tools.evaluate(STATE_JS) or "{}")
        ok = bool(state) and not state["running"] and ready(state)
        stable = stable + 1 if ok and state == last else 0
        last = state
        if time.monotonic() > deadline:
            break
    time.sleep(1.0)  # let plotly finish its transitions before the picture
    return state


def snapshot(tools: DevTools, name: str) -> str:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = tools.send("Page.captureScreenshot", format="png")["data"]
    (ARTIFACTS / f"{name}.png").write_bytes(base64.b64decode(png))
    dom = tools.evaluate("document.documentElement.outerHTML")
    (ARTIFACTS / f"{name}.html").write_text(dom)
    return dom


@pytest.mark.slow
def test_every_page_renders_in_a_real_browser(api_url: str, tmp_path: Path) -> None:
    with dashboard(api_url, tmp_path / "streamlit.log") as app, browser(tmp_path) as tools:
        for path, title, n_plots in PAGES:
            state = load(tools, f"{app}/{path}",
                         lambda s, t=title, n=n_plots: s["title"] == t and s["plots"] >= n)
            dom = snapshot(tools, path or "overview")
            assert state["title"] == title, state
            assert state["plots"] == n_plots, state
            assert state["exceptions"] == 0 and state["errors"] == [], state
            assert f">{title}</h1>" in dom or f">{title}</span></h1>" in dom or title in dom
            assert dom.count('class="js-plotly-plot"') + dom.count("js-plotly-plot ") >= n_plots
            assert "stException" not in dom


@pytest.mark.slow
def test_api_down_shows_the_banner_in_a_real_browser(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with dashboard(dead, tmp_path / "streamlit.log") as app, browser(tmp_path) as tools:
        state = load(tools, app, lambda s: bool(s["errors"]))
        dom = snapshot(tools, "api-down")
    assert len(state["errors"]) == 1 and "not reachable" in state["errors"][0], state
    assert f"{dead}/api/v1/health" in state["errors"][0]
    assert state["plots"] == 0 and state["exceptions"] == 0
    assert "Retry" in dom and "stException" not in dom
