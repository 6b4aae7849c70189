"""The dashboard's HTTP client, its formatting helpers and the `mcvision dashboard` launcher."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
import ui
from client import ApiClient, ApiError, default_url

from mcvision.dashboard import dashboard_command, find_app
from seed import api_server, free_port


def mocked(handler) -> ApiClient:
    return ApiClient("http://api.test/", transport=httpx.MockTransport(handler))


def test_get_drops_none_params_and_decodes_json() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"total": 3, "items": []})

    page = mocked(handler).visits("2026-03-10", zone="promo", limit=20)
    assert page == {"total": 3, "items": []}
    assert seen[0].url.path == "/api/v1/visits"
    assert dict(seen[0].url.params) == {
        "day": "2026-03-10",
        "zone": "promo",
        "limit": "20",
        "offset": "0",
    }


@pytest.mark.parametrize(
    ("response", "status", "reason"),
    [
        (
            httpx.Response(404, json={"detail": "visit 'x' not found"}),
            404,
            "HTTP 404: visit 'x' not found",
        ),
        (
            httpx.Response(503, json={"detail": "cannot read part-1.parquet"}),
            503,
            "HTTP 503: cannot read part-1.parquet",
        ),
        (
            httpx.Response(502, text="Bad Gateway from proxy"),
            502,
            "HTTP 502: Bad Gateway from proxy",
        ),
        (httpx.Response(200, text="<html>not the api</html>"), None, "the answer is not JSON"),
    ],
)
def test_error_answers_become_api_errors_naming_url_and_reason(response, status, reason) -> None:
    with pytest.raises(ApiError) as err:
        mocked(lambda _: response).visit("x")
    assert err.value.status == status
    assert err.value.url == "http://api.test/api/v1/visits/x"
    assert reason in err.value.reason


def test_a_timeout_is_an_api_error_that_says_so() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ApiError, match=r"no answer within 5 s \(timed out\)") as err:
        mocked(handler).health()
    assert err.value.status is None


def test_nothing_listening_is_an_api_error_with_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ApiError, match="cannot connect") as err:
        ApiClient(url, timeout_s=1.0).days()
    assert err.value.url == f"{url}/api/v1/days"


@pytest.mark.parametrize("bad", ["", "127.0.0.1:8000", "ftp://host"])
def test_a_url_without_http_scheme_is_refused(bad: str) -> None:
    with pytest.raises(ApiError, match="must start with http"):
        ApiClient(bad)


def test_the_default_url_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.delenv("MCVISION_API_URL", raising=False)
    assert default_url() == "http://127.0.0.1:8000"
    monkeypatch.setenv("MCVISION_API_URL", "http://shop-7:9000/")
    assert default_url() == "http://shop-7:9000"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (0, "0s"), (45.4, "45s"), (59.6, "1m 00s"), (472, "7m 52s"), (3720, "1h 02m")],
)
def test_duration(seconds, text) -> None:
    assert ui.duration(seconds) == text


@pytest.mark.parametrize(("share", "text"), [(None, "—"), (0.0, "0%"), (0.2, "20%"), (1, "100%")])
def test_percent(share, text) -> None:
    assert ui.percent(share) == text


@pytest.mark.parametrize(
    ("zone", "clock"),
    [("Asia/Kolkata", "05:30:00"), ("UTC", "00:00:00"), ("America/New_York", "20:00:00")],
)
def test_clock_shows_the_site_time_zone(zone, clock) -> None:
    assert ui.clock(1_773_100_800.0, zone) == clock  # 2026-03-10 00:00 UTC (New York on EDT)


def test_colors_are_stable_per_name() -> None:
    a = ui.colors(["shelves", "door", "promo"])
    b = ui.colors(["promo", "door", "shelves", "door"])
    assert a == b and len(set(a.values())) == 3


def test_dashboard_command_runs_streamlit_headless_on_the_app(monkeypatch) -> None:
    monkeypatch.delenv("MCVISION_DASHBOARD_APP", raising=False)
    argv, env = dashboard_command("http://10.0.0.5:8000/", port=8600, host="0.0.0.0")
    app = Path(argv[4])
    assert argv[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert app == find_app() and app.name == "app.py" and app.parent.name == "app_streamlit"
    assert {"--server.headless=true", "--server.port=8600", "--server.address=0.0.0.0"} <= set(argv)
    assert env["MCVISION_API_URL"] == "http://10.0.0.5:8000"


@pytest.mark.parametrize(
    ("url", "port", "message"),
    [
        ("127.0.0.1:8000", 8501, "api_url must start with http"),
        ("http://127.0.0.1:8000", 0, "port must be an integer in 1..65535"),
        ("http://127.0.0.1:8000", 70000, "port must be an integer in 1..65535"),
    ],
)
def test_dashboard_command_refuses_bad_arguments(url, port, message) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        dashboard_command(url, port=port)


def test_a_missing_app_is_named(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("MCVISION_DASHBOARD_APP", str(tmp_path / "nope.py"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("mcvision.dashboard.__file__", str(tmp_path / "a" / "b" / "dashboard.py"))
    with pytest.raises(FileNotFoundError, match=r"nope\.py"):
        find_app()


def test_client_sends_the_read_key_from_the_environment(
    seeded: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over real HTTP: a keyed API refuses a client without the key and answers one with it."""
    from mcvision.serve.api import READ_KEY_ENV

    monkeypatch.setenv(READ_KEY_ENV, "dash-read-key")
    probe = {"Authorization": "Bearer dash-read-key"}
    with api_server(seeded["cfg"], seeded["store"], headers=probe) as url:
        assert ApiClient(url).days() == seeded["store"].days()  # key from $MCVISION_READ_KEY
        with pytest.raises(ApiError) as err:
            ApiClient(url, key="not-it").days()
        assert err.value.status == 401 and "dash-read-key" not in str(err.value)
        with pytest.raises(ApiError) as err:
            ApiClient(url, key="").days()  # "": send no key
        assert err.value.status == 401


def test_paths_of_every_visitor_add_up_to_the_camera_heatmap(api_url: str, seeded: dict) -> None:
    """Over real HTTP: each visitor's path on a camera, in time order, inside the frame."""
    day = seeded["days"][-1]
    api = ApiClient(api_url, key="")
    gids = {v["global_id"] for v in api.visits(day)["items"]}
    for cam, n in seeded["expected"][day]["track_points"].items():
        paths = [api.path(cam, gid, day) for gid in sorted(gids)]
        assert sum(p["total"] for p in paths) == n == api.heatmap(cam, day)["total"]
        for p in paths:
            ts = [pt["ts"] for pt in p["points"]]
            assert ts == sorted(ts) and len(ts) == p["total"]
            assert all(0 <= pt["x"] <= 1 and 0 <= pt["y"] <= 1 for pt in p["points"])
    with pytest.raises(ApiError) as err:
        api.path("nocam", "G1", day)
    assert err.value.status == 404 and "nocam" in err.value.reason
    with pytest.raises(ApiError) as err:
        api.path("entrance", "bad id!", day)
    assert err.value.status == 422 and "global_id" in err.value.reason
