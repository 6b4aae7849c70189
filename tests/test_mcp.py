"""The MCP tools, called through fastmcp's in-process client, answer what the HTTP API answers."""

from __future__ import annotations

import asyncio
from typing import Any

import pendulum
import pytest
from fastapi.testclient import TestClient
from fastmcp import Client

from mcvision.mcp import build_mcp, run_mcp
from mcvision.serve.api import create_app
from seed import seed_store, site_config

TOOLS = {
    "site_info",
    "day_summary",
    "list_visits",
    "visit_timeline",
    "zone_stats",
    "occupancy_now",
    "traffic",
    "top_journeys",
    "visitor_floor_route",
    "floor_occupancy",
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return seed_store(tmp_path_factory.mktemp("mcp-store"))


@pytest.fixture(scope="module")
def http(seeded: dict[str, Any]) -> TestClient:
    return TestClient(create_app(seeded["cfg"], store=seeded["store"]))


@pytest.fixture(scope="module")
def mcp(seeded: dict[str, Any]) -> Any:
    return build_mcp(seeded["cfg"], seeded["store"])


def call(server: Any, tool: str, args: dict[str, Any] | None = None) -> Any:
    """A tool's structured result (lists come wrapped as ``{"result": [...]}``)."""

    async def go() -> Any:
        async with Client(server) as client:
            res = await client.call_tool(tool, args or {})
            return res.structured_content

    out = asyncio.run(go())
    return out["result"] if set(out) == {"result"} else out


def call_error(server: Any, tool: str, args: dict[str, Any]) -> str:
    async def go() -> Any:
        async with Client(server) as client:
            return await client.call_tool(tool, args, raise_on_error=False)

    res = asyncio.run(go())
    assert res.is_error
    return " ".join(c.text for c in res.content)


def get(http: TestClient, path: str, **params: Any) -> Any:
    r = http.get(f"/api/v1{path}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_tools_are_listed_with_descriptions_and_typed_parameters(mcp) -> None:
    async def go() -> Any:
        async with Client(mcp) as client:
            return await client.list_tools()

    tools = {t.name: t for t in asyncio.run(go())}
    assert set(tools) == TOOLS
    for t in tools.values():
        assert len(t.description or "") > 30, t.name
    props = tools["list_visits"].input_schema["properties"]
    assert props["limit"]["maximum"] == 1000 and props["min_dwell_s"]["anyOf"][0]["minimum"] == 0
    assert "YYYY-MM-DD" in props["day"]["description"]
    assert tools["top_journeys"].input_schema["properties"]["by"]["enum"] == ["zone", "camera"]
    assert tools["visit_timeline"].input_schema["required"] == ["visit_id"]


DAY1, DAY2 = "2026-03-09", "2026-03-10"


@pytest.mark.parametrize(
    ("tool", "args", "path", "params"),
    [
        ("day_summary", {"day": DAY1}, "/summary", {"day": DAY1}),
        ("day_summary", {"day": DAY2}, "/summary", {"day": DAY2}),
        ("day_summary", {}, "/summary", {}),
        (
            "day_summary",
            {"day": DAY1, "include_staff": True},
            "/summary",
            {"day": DAY1, "include_staff": True},
        ),
        ("list_visits", {"day": DAY1, "limit": 100}, "/visits", {"day": DAY1}),
        (
            "list_visits",
            {"day": DAY2, "zone": "promo", "limit": 100},
            "/visits",
            {"day": DAY2, "zone": "promo"},
        ),
        (
            "list_visits",
            {"day": DAY2, "camera": "till", "min_dwell_s": 600, "limit": 100},
            "/visits",
            {"day": DAY2, "camera": "till", "min_dwell_s": 600},
        ),
        (
            "list_visits",
            {"day": DAY1, "limit": 2, "offset": 2},
            "/visits",
            {"day": DAY1, "limit": 2, "offset": 2},
        ),
        ("zone_stats", {"day": DAY1}, "/zones", {"day": DAY1}),
        ("zone_stats", {}, "/zones", {}),
        ("traffic", {"day": DAY1, "bucket": "15m"}, "/traffic", {"day": DAY1, "bucket": "15m"}),
        ("traffic", {"day": DAY2}, "/traffic", {"day": DAY2}),
        ("top_journeys", {"day": DAY1}, "/journeys", {"day": DAY1}),
        (
            "top_journeys",
            {"day": DAY2, "by": "camera", "k": 2},
            "/journeys",
            {"day": DAY2, "by": "camera", "k": 2},
        ),
    ],
)
def test_tools_return_the_same_numbers_as_the_api(mcp, http, tool, args, path, params) -> None:
    assert call(mcp, tool, args) == get(http, path, **params)


@pytest.mark.parametrize("day", [DAY1, DAY2])
def test_summary_matches_the_seeded_script(mcp, seeded, day) -> None:
    exp = seeded["expected"][day]
    s = call(mcp, "day_summary", {"day": day})
    assert (s["visits"], s["unique_visitors"], s["open_visits"], s["staff_visits"]) == (
        exp["visits"],
        exp["unique_visitors"],
        exp["open_visits"],
        exp["staff_visits"],
    )
    assert s["dwell_mean_s"] == pytest.approx(exp["dwell_mean_s"])
    assert s["dwell_median_s"] == pytest.approx(exp["dwell_median_s"])
    assert s["returning_visitors"] == exp["returning_visitors"]
    zones = {z["zone"]: z for z in call(mcp, "zone_stats", {"day": day})}
    assert {z: v["visits"] for z, v in zones.items()} == exp["zone_visits"]
    assert {z: v["total_dwell_s"] for z, v in zones.items()} == pytest.approx(exp["zone_dwell_s"])


def test_every_visit_timeline_equals_the_api(mcp, http) -> None:
    for day in (DAY1, DAY2):
        for v in get(http, "/visits", day=day)["items"]:
            tl = call(mcp, "visit_timeline", {"visit_id": v["visit_id"]})
            assert tl == get(http, f"/visits/{v['visit_id']}")
            assert tl["visit"]["dwell_s"] == v["dwell_s"]


def test_occupancy_now_is_the_open_visits_of_the_latest_day(mcp, http, seeded) -> None:
    occ = call(mcp, "occupancy_now")
    api = get(http, "/occupancy")
    assert (occ["in_store"], occ["global_ids"], occ["live"]) == (
        api["in_store"],
        api["global_ids"],
        api["live"],
    )
    assert occ["in_store"] == seeded["expected"][DAY2]["in_store_now"]
    assert occ["day"] == DAY2


class _Live:
    def occupancy(self) -> dict[str, Any]:
        return {"in_store": 2, "global_ids": ["G7", "G9"], "ts": 0.0}


def test_occupancy_now_asks_a_running_site_when_there_is_one(seeded) -> None:
    occ = call(build_mcp(seeded["cfg"], seeded["store"], live=_Live()), "occupancy_now")
    assert (occ["in_store"], occ["global_ids"], occ["live"], occ["day"]) == (
        2,
        ["G7", "G9"],
        True,
        None,
    )


def test_site_info_names_days_timezone_cameras_and_zones(mcp, seeded) -> None:
    info = call(mcp, "site_info")
    assert info["days"] == seeded["days"]
    assert info["timezone"] == "Asia/Kolkata"
    assert info["cameras"] == ["entrance", "aisle", "till"]
    assert info["zones"] == ["door", "shelves", "promo", "checkout"]


def test_an_empty_store_defaults_to_the_business_day_of_the_clock(tmp_path) -> None:
    cfg = site_config(tmp_path)
    early = pendulum.datetime(2026, 3, 10, 1, 30, tz="Asia/Kolkata").timestamp()  # 2026-03-09 UTC
    server = build_mcp(cfg, clock=lambda: early)
    s = call(server, "day_summary")
    assert (s["day"], s["visits"], s["dwell_mean_s"]) == ("2026-03-10", 0, None)


@pytest.mark.parametrize(
    ("tool", "args", "needle"),
    [
        ("visit_timeline", {"visit_id": "nope"}, "visit 'nope' not found"),
        ("day_summary", {"day": "2026-02-30"}, "real calendar date"),
        ("day_summary", {"day": "yesterday"}, "day"),
        ("traffic", {"day": DAY1, "bucket": "5s"}, "bucket"),
        ("list_visits", {"day": DAY1, "limit": 0}, "limit"),
        ("top_journeys", {"by": "aisle"}, "by"),
    ],
)
def test_bad_arguments_come_back_as_errors_naming_the_problem(mcp, tool, args, needle) -> None:
    assert needle in call_error(mcp, tool, args)


def test_run_mcp_refuses_a_bad_port(seeded) -> None:
    with pytest.raises(ValueError, match=r"port must be in 1\.\.65535"):
        run_mcp(seeded["cfg"], http=True, port=70000)


def test_mcp_over_http_needs_the_read_key_off_loopback(
    seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real HTTP on 127.0.0.1, app built as for 0.0.0.0: a client with the key gets answers."""
    import threading
    import time

    import httpx
    import uvicorn

    from mcvision.mcp import mcp_http_app
    from mcvision.serve.api import READ_KEY_ENV
    from mcvision.serve.auth import AccessConfigError
    from seed import free_port

    monkeypatch.delenv(READ_KEY_ENV, raising=False)
    with pytest.raises(AccessConfigError, match=READ_KEY_ENV):
        mcp_http_app(seeded["cfg"], host="0.0.0.0")
    monkeypatch.setenv(READ_KEY_ENV, "mcp-read-key")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            mcp_http_app(seeded["cfg"], host="0.0.0.0"),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        r = httpx.post(url, json={}, timeout=10)
        assert r.status_code == 401 and "mcp-read-key" not in r.text

        async def ask() -> Any:
            async with Client(url, auth="mcp-read-key") as client:
                return (await client.call_tool("site_info", {})).structured_content

        assert asyncio.run(ask())["site_id"] == seeded["cfg"].site_id
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_floor_tools_answer_what_the_api_answers(seeded, tmp_path) -> None:
    from floor_seed import floor_config

    cfg = floor_config(seeded["cfg"], tmp_path)
    server, api = (
        build_mcp(cfg, seeded["store"]),
        TestClient(create_app(cfg, store=seeded["store"])),
    )
    route = call(server, "visitor_floor_route", {"global_id": "G2", "day": DAY2})
    assert route == get(api, "/visitors/G2/floor_route", day=DAY2)
    assert route["cameras"] == ["entrance", "aisle", "till", "entrance"]
    assert call(server, "floor_occupancy", {"day": DAY2, "bucket": "1h"}) == get(
        api, "/floor/occupancy", day=DAY2, bucket="1h"
    )
    assert "'G999'" in call_error(server, "visitor_floor_route", {"global_id": "G999"})
    uncalibrated = call_error(mcp_of(seeded), "visitor_floor_route", {"global_id": "G2"})
    assert "no camera is calibrated" in uncalibrated


def mcp_of(seeded: dict[str, Any]) -> Any:
    return build_mcp(seeded["cfg"], seeded["store"])
