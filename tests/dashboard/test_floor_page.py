"""The Floor plan page (and the floor route on Journeys) over the real API of the seeded shop
on a floor plan (``floor_seed``): through Streamlit's AppTest, and in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from streamlit.testing.v1 import AppTest
from test_dashboard_browser import (
    EXCEPTION,
    LOAD_MS,
    PLOT,
    TITLE,
    browser_page,
    dashboard,
    settle,
    snapshot,
)

from floor_seed import floor_config
from seed import api_server

APP = Path(__file__).resolve().parents[2] / "app_streamlit" / "app.py"
TRACE_NAMES_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
  .map(p => (p.data || []).map(t => t.name || ''))"""


@pytest.fixture(scope="module")
def floor_url(seeded: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API over the seeded store, with the entrance and aisle cameras on the floor plan."""
    cfg = floor_config(seeded["cfg"], tmp_path_factory.mktemp("floor-plan"))
    with api_server(cfg, seeded["store"]) as url:
        yield url


def open_page(monkeypatch: pytest.MonkeyPatch, url: str, page: str) -> AppTest:
    monkeypatch.setenv("MCVISION_API_URL", url)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_floor_page_draws_heatmap_occupancy_and_route(monkeypatch, floor_url) -> None:
    at = open_page(monkeypatch, floor_url, "views/floor.py")
    assert at.title[0].value == "Floor plan"
    assert len(at.get("plotly_chart")) == 3  # floor heatmap, dwell by area, the route
    (table,) = at.dataframe
    assert list(table.value["area"]) == ["entry", "shelves", "promo"]
    assert any("till" in c.value and "no floor calibration" in c.value for c in at.caption)
    at.selectbox(key="floor_visitor").set_value("G2").run()
    text = " ".join(m.value for m in at.markdown)
    assert "entrance → aisle → till (not on the floor) → entrance" in text


def test_floor_page_without_calibration_explains_why(monkeypatch, api_url) -> None:
    at = open_page(monkeypatch, api_url, "views/floor.py")
    assert len(at.get("plotly_chart")) == 0 and not at.error
    (note,) = at.info
    assert "calibrated" in note.value and "cameras[].floor" in note.value


def test_client_fetches_the_plan_picture_and_names_a_missing_one(floor_url, api_url) -> None:
    from client import ApiClient, ApiError

    data, kind = ApiClient(floor_url).floor_plan_image()
    assert kind == "image/png" and data.startswith(b"\x89PNG")
    with pytest.raises(ApiError) as err:
        ApiClient(api_url).floor_plan_image()
    assert err.value.status == 404 and "floor_plan.image" in err.value.reason
    with pytest.raises(ApiError) as err:
        ApiClient(api_url).floor_route("G2", "2026-03-10")
    assert err.value.status == 409


def test_journeys_shows_the_visitors_route_on_the_floor_plan(monkeypatch, floor_url) -> None:
    at = open_page(monkeypatch, floor_url, "views/journeys.py")
    assert len(at.get("plotly_chart")) == 3  # sankey, timeline, the floor route
    assert any("on the floor plan" in m.value for m in at.markdown)


@pytest.mark.slow
def test_floor_page_in_a_real_browser(floor_url: str, tmp_path: Path) -> None:
    with dashboard(floor_url, tmp_path / "streamlit.log") as app, browser_page() as page:
        page.goto(f"{app}/floor")
        expect(page.locator(TITLE)).to_have_text("Floor plan", timeout=LOAD_MS)
        expect(page.locator(PLOT)).to_have_count(3, timeout=LOAD_MS)
        settle(page)
        expect(page.locator(EXCEPTION)).to_have_count(0)
        heat = page.locator(PLOT).first
        # the plan picture under the heatmap, and the heatmap's own raster
        expect(heat.locator("g.imagelayer image")).to_have_count(1)
        href = heat.locator("g.imagelayer image").get_attribute("href") or ""
        assert href.startswith("data:image/png;base64,") and len(href) > 1000
        expect(heat.locator("g.heatmaplayer image").first).to_be_attached()
        route = page.locator(PLOT).nth(2)
        expect(route.locator("g.scatterlayer g.trace").first).to_be_visible()
        names = page.evaluate(TRACE_NAMES_JS)
        assert "floor heatmap" in names[0]
        assert {"route on entrance", "route on aisle", "start / end"} <= set(names[2])
        expect(page.get_by_text("entrance → aisle → entrance")).to_be_visible()
        dom = snapshot(page, "floor")
    assert "stException" not in dom
