"""Every dashboard page through Streamlit's AppTest, against the real API over a seeded store."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import ui
from streamlit.testing.v1 import AppTest

from seed import free_port

APP = Path(__file__).resolve().parents[2] / "app_streamlit" / "app.py"

PAGES = {  # page file → (title, plotly charts it draws over the seeded latest day)
    "views/overview.py": ("Overview", 2),
    "views/live.py": ("Live", 0),
    "views/zones.py": ("Zones", 3),
    "views/heatmap.py": ("Heatmap", 3),
    "views/journeys.py": ("Journeys", 2),
    "views/visits.py": ("Visits", 1),
}


def open_app(
    monkeypatch: pytest.MonkeyPatch, url: str, page: str | None = None, day: str | None = None
) -> AppTest:
    monkeypatch.setenv("MCVISION_API_URL", url)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    if page is not None:
        at.switch_page(page).run()
    if day is not None:
        at.date_input(key="day_picker").set_value(dt.date.fromisoformat(day)).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


@pytest.mark.parametrize("day_index", [0, 1])
def test_overview_kpis_equal_the_api(monkeypatch, api_url, api, seeded, day_index) -> None:
    day = seeded["days"][day_index]
    exp = seeded["expected"][day]
    at = open_app(monkeypatch, api_url, day=day)
    s = api("/summary", day=day)
    r = api("/returning", day=day)
    got = metrics(at)
    assert got["Unique visitors"] == str(s["unique_visitors"]) == str(exp["unique_visitors"])
    assert got["Visits"] == str(s["visits"]) == str(exp["visits"])
    assert got["Mean dwell"] == ui.duration(s["dwell_mean_s"]) == ui.duration(exp["dwell_mean_s"])
    assert got["Median dwell"] == ui.duration(s["dwell_median_s"])
    assert s["dwell_median_s"] == exp["dwell_median_s"]
    assert got["Returning"] == ui.percent(r["returning_share"])
    assert r["returning_visitors"] == exp["returning_visitors"]
    if day == seeded["days"][-1]:  # the latest day: live occupancy
        assert got["In store now"] == str(api("/occupancy")["in_store"]) == str(exp["in_store_now"])
    else:
        assert got["Open at day end"] == str(s["open_visits"]) == str(exp["open_visits"])
    assert charts(at) == 2


def test_default_day_is_the_latest_and_a_date_change_changes_the_kpis(
    monkeypatch, api_url, seeded
) -> None:
    first, latest = seeded["days"]
    at = open_app(monkeypatch, api_url)
    assert at.date_input(key="day_picker").value == dt.date.fromisoformat(latest)
    before = metrics(at)
    at.date_input(key="day_picker").set_value(dt.date.fromisoformat(first)).run()
    after = metrics(at)
    assert before["Unique visitors"] == str(seeded["expected"][latest]["unique_visitors"])
    assert after["Unique visitors"] == str(seeded["expected"][first]["unique_visitors"])
    assert before["Mean dwell"] != after["Mean dwell"]
    assert "In store now" in before and "In store now" not in after


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_its_title_and_charts(monkeypatch, api_url, page) -> None:
    title, n_charts = PAGES[page]
    at = open_app(monkeypatch, api_url, page=page)
    assert [t.value for t in at.title] == [title]
    assert not at.error, [e.value for e in at.error]
    assert charts(at) == n_charts


@pytest.mark.parametrize("page", ["views/overview.py", "views/visits.py"])
def test_api_down_shows_a_banner_with_the_url_and_a_retry(monkeypatch, page) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    at = open_app(monkeypatch, url, page=page)
    assert len(at.error) == 1
    banner = at.error[0].value
    assert "not reachable" in banner and f"{url}/api/v1/health" in banner
    assert "cannot connect" in banner
    assert [b.label for b in at.button] == ["Retry"]
    at.button[0].click().run()  # still down: the same banner, still no traceback
    assert not at.exception and len(at.error) == 1 and charts(at) == 0


@pytest.mark.parametrize(
    ("page", "needle"),
    [
        ("views/overview.py", "No visits recorded on **2026-03-01**"),
        ("views/zones.py", "No zone visits on **2026-03-01**"),
        ("views/heatmap.py", "No positions from camera **entrance** on 2026-03-01"),
        ("views/journeys.py", "No paths on **2026-03-01**"),
        ("views/visits.py", "No visits on **2026-03-01** match these filters"),
    ],
)
def test_a_day_without_data_shows_a_friendly_empty_state(monkeypatch, api_url, page, needle):
    at = open_app(monkeypatch, api_url, page=page, day="2026-03-01")
    assert any(needle in i.value for i in at.info), [i.value for i in at.info]
    assert not at.error and charts(at) == 0


def test_zones_page_tables_the_api_zone_stats(monkeypatch, api_url, api, seeded) -> None:
    day = seeded["days"][-1]
    at = open_app(monkeypatch, api_url, page="views/zones.py")
    table = at.dataframe[0].value
    stats = {z["zone"]: z for z in api("/zones", day=day)}
    assert sorted(table["zone"]) == sorted(stats) == sorted(seeded["expected"][day]["zone_visits"])
    for _, row in table.iterrows():
        z = stats[row["zone"]]
        assert row["stays"] == z["visits"] == seeded["expected"][day]["zone_visits"][row["zone"]]
        assert row["total"] == ui.duration(z["total_dwell_s"])


def test_heatmap_page_counts_every_position(monkeypatch, api_url, seeded) -> None:
    day = seeded["days"][-1]
    at = open_app(monkeypatch, api_url, page="views/heatmap.py")
    shown = dict(
        zip(
            [h.value for h in at.subheader],
            [c.value for c in at.caption if c.value.endswith(" positions")],
            strict=True,
        )
    )
    expected = seeded["expected"][day]["track_points"]
    assert shown == {f"Camera {cam}": f"{n} positions" for cam, n in expected.items()}
    at.multiselect(key="heatmap_cameras").set_value(["till"]).run()
    assert charts(at) == 1


@pytest.mark.parametrize("by", ["zone", "camera"])
def test_journeys_page_lists_the_api_paths(monkeypatch, api_url, api, seeded, by) -> None:
    day = seeded["days"][-1]
    at = open_app(monkeypatch, api_url, page="views/journeys.py")
    at.radio(key="journeys_by").set_value(by).run()
    table = at.dataframe[0].value
    journeys = api("/journeys", day=day, by=by, k=10)
    assert list(table["path"]) == [" → ".join(j["path"]) for j in journeys]
    assert list(table["visits"]) == [j["count"] for j in journeys]
    if by == "zone":
        paths = seeded["expected"][day]["zone_paths"]
        assert {tuple(j["path"]): j["count"] for j in journeys} == paths


def visit_rows(at: AppTest) -> Any:
    return at.dataframe(key="visits_table").value


@pytest.mark.parametrize(
    ("widget", "value", "params"),
    [
        ("visits_zone", "promo", {"zone": "promo"}),
        ("visits_camera", "till", {"camera": "till"}),
        ("visits_min_dwell", 10.0, {"min_dwell_s": 600}),
    ],
)
def test_visits_page_filters_like_the_api(
    monkeypatch, api_url, api, seeded, widget, value, params
) -> None:
    day = seeded["days"][-1]
    at = open_app(monkeypatch, api_url, page="views/visits.py")
    assert len(visit_rows(at)) == seeded["expected"][day]["visits"]
    getattr(at, "number_input" if widget == "visits_min_dwell" else "selectbox")(
        key=widget
    ).set_value(value).run()
    page = api("/visits", day=day, **params)
    rows = visit_rows(at)
    assert 0 < len(rows) < seeded["expected"][day]["visits"]
    assert list(rows["visit"]) == [v["visit_id"] for v in page["items"]]


def test_visits_page_shows_the_timeline_of_the_chosen_visit(monkeypatch, api_url, api, seeded):
    day = seeded["days"][-1]
    at = open_app(monkeypatch, api_url, page="views/visits.py")
    items = api("/visits", day=day)["items"]
    still_in = next(v for v in items if not v["closed"])
    at.selectbox(key="visits_pick").set_value(still_in["visit_id"]).run()
    tl = api(f"/visits/{still_in['visit_id']}")
    got = metrics(at)
    assert got["Dwell"] == ui.duration(tl["visit"]["dwell_s"])
    assert got["Out"] == "in store"
    assert got["Zones"] == str(len(tl["zone_visits"]))
    zones = at.dataframe[1].value
    assert list(zones["zone"]) == [z["zone"] for z in tl["zone_visits"]]
    assert list(zones["enter"]) == [
        ui.clock(z["enter_ts"], seeded["cfg"].reset.timezone) for z in tl["zone_visits"]
    ]
    assert charts(at) == 1
    status = at.selectbox(key="visits_status")
    status.set_value("in store").run()
    assert list(visit_rows(at)["visit"]) == [still_in["visit_id"]]


@pytest.mark.parametrize("page", ["views/overview.py", "views/zones.py"])
def test_auto_refresh_runs_the_page_in_a_refreshing_fragment(
    monkeypatch, api_url, seeded, page
) -> None:
    at = open_app(monkeypatch, api_url, page=page)
    still = charts(at)
    at.toggle(key="auto_refresh").set_value(True).run()
    assert not at.exception and not at.error
    assert at.select_slider(key="refresh_s").value == 10
    assert charts(at) == still == PAGES[page][1]
    if page == "views/overview.py":
        latest = seeded["expected"][seeded["days"][-1]]
        assert metrics(at)["Unique visitors"] == str(latest["unique_visitors"])


def images(at: AppTest) -> int:
    return sum(len(i.value) for i in at.get("image"))


def test_live_page_without_a_pipeline_says_so_once(monkeypatch, api_url) -> None:
    at = open_app(monkeypatch, api_url, page="views/live.py")
    assert [i.value for i in at.info if "No pipeline is running" in i.value] != []
    assert len(at.info) == 1 and images(at) == 0 and not at.error
    assert "**entrance**" in " ".join(c.value for c in at.caption)


def test_live_page_shows_every_camera_with_its_stats(monkeypatch, live_api_url, seeded) -> None:
    at = open_app(monkeypatch, live_api_url, page="views/live.py")
    cams = [c.id for c in seeded["cfg"].cameras]
    assert images(at) == len(cams) and not at.info and not at.error
    captions = [c.value for c in at.main.caption]
    assert len(captions) == len(cams)
    assert all(re.fullmatch(r"online · \d+ in view · \d+\.\d fps", c) for c in captions), captions
    got = metrics(at)
    people = sum(int(re.search(r"(\d+) in view", c)[1]) for c in captions)  # type: ignore[index]
    assert int(got["In view of the cameras"]) == people and "In store now" in got
    names = [m.value for m in at.main.markdown if m.value.strip("*") in cams]
    assert sorted(names) == sorted(f"**{c}**" for c in cams)  # one tile each, in 2 columns


def test_heatmap_page_draws_over_the_snapshots_and_the_chosen_path(
    monkeypatch, live_api_url, seeded
) -> None:
    day = seeded["days"][-1]
    at = open_app(monkeypatch, live_api_url, page="views/heatmap.py")
    cams = [c.id for c in seeded["cfg"].cameras]
    assert images(at) == len(cams) and charts(at) == 0 and not at.error
    notes = " ".join(c.value for c in at.caption)
    assert notes.count("Drawn over the camera's newest frame") == len(cams)
    expected = seeded["expected"][day]["track_points"]
    assert sorted(c.value for c in at.caption if c.value.endswith(" positions")) == sorted(
        f"{n} positions" for n in expected.values()
    )
    visitor = at.selectbox(key="heatmap_visitor")
    assert visitor.value == "(nobody)" and len(visitor.options) > 1
    visitor.set_value(visitor.options[1]).run()
    assert not at.exception and images(at) == len(cams)
    notes = " ".join(c.value for c in at.caption)
    assert f"Path of **{visitor.options[1]}**" in notes
