"""API: time per activity per zone, the summaries listing and the media route (no traversal)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from mcvision.analytics.store import EventStore
from mcvision.config import parse_config
from mcvision.identity.visits import VisitBook
from mcvision.serve.api import create_app
from mcvision.types import TrackletUpdate

T0 = 1_767_600_000.0  # 2026-01-05 08:00 UTC
DAY = "2026-01-05"


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    cfg = parse_config(
        {
            "site_id": "shop",
            "cameras": [
                {
                    "id": "cam",
                    "source": "a.mp4",
                    "zones": [{"name": "shelf", "polygon": [[0, 0], [100, 0], [100, 100]]}],
                }
            ],
            "reset": {"timezone": "UTC"},
            "storage": {"root": str(tmp_path / "data")},
        }
    )
    book = VisitBook(cfg)

    def up(ts: float, act: str, zone: str | None) -> TrackletUpdate:
        return TrackletUpdate(
            "cam", 1, ts, np.zeros(4), np.zeros(2), activity=act, zones=(zone,) if zone else ()
        )

    rows = [(T0 + t, "walking", None) for t in range(6)]
    rows += [(T0 + 6 + t, "browsing", "shelf") for t in range(11)]
    recs = book.observe_many(("G1", up(*r)) for r in rows)
    recs.extend(book.close_all(T0 + 60))
    store = EventStore.from_config(cfg)
    store.write(recs)
    store.flush()
    media = Path(cfg.storage.root) / "summaries" / DAY
    (media / "highlights").mkdir(parents=True)
    (media / "highlights" / "cam.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    (media / "digest.txt").write_text("Site shop\n")
    (Path(cfg.storage.root) / "secret.txt").write_text("do not serve")
    return TestClient(create_app(cfg, store=store))


def test_activities_route_gives_time_per_activity_per_zone(client: TestClient) -> None:
    r = client.get("/api/v1/activities", params={"day": DAY})
    assert r.status_code == 200
    got = {(a["zone"], a["activity"]): a["total_s"] for a in r.json()}
    assert got == {(None, "walking"): 5.0, ("shelf", "browsing"): 10.0}
    r = client.get("/api/v1/activities", params={"day": DAY, "zone": "shelf"})
    assert [a["activity"] for a in r.json()] == ["browsing"]
    assert client.get("/api/v1/activities", params={"day": "2026-13-01"}).status_code == 422


def test_summaries_listing_and_media(client: TestClient) -> None:
    r = client.get("/api/v1/summaries", params={"day": DAY})
    assert r.json() == [f"{DAY}/digest.txt", f"{DAY}/highlights/cam.mp4"]
    assert client.get("/api/v1/summaries", params={"day": "2026-01-06"}).json() == []
    r = client.get(f"/api/v1/media/{DAY}/digest.txt")
    assert r.status_code == 200 and r.text == "Site shop\n"
    r = client.get(f"/api/v1/media/{DAY}/highlights/cam.mp4")
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    assert client.get(f"/api/v1/media/{DAY}/nothing.jpg").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "%2E%2E/secret.txt",
        f"{DAY}/../../secret.txt",
        f"{DAY}/%2e%2e/%2e%2e/secret.txt",
        "..%2Fsecret.txt",
        "%2Fetc%2Fpasswd",
    ],
)
def test_media_route_rejects_traversal(client: TestClient, path: str) -> None:
    r = client.get(f"/api/v1/media/{path}")
    assert r.status_code in (400, 404)
    assert "do not serve" not in r.text


def test_traversal_reaches_the_handler_and_is_refused(client: TestClient) -> None:
    r = client.get("/api/v1/media/%2E%2E/secret.txt")
    assert r.status_code == 400 and "inside the summaries folder" in r.json()["detail"]


def test_cli_summarize_writes_digest_and_checks_arguments(tmp_path: Path) -> None:
    import io

    import yaml

    from mcvision.cli import main

    cfg_path = tmp_path / "site.yaml"
    cfg_path.write_text(
        yaml.safe_dump(
            {
                "site_id": "shop",
                "cameras": [{"id": "cam", "source": "a.mp4"}],
                "reset": {"timezone": "UTC"},
                "storage": {"root": "data"},
            }
        )
    )
    from mcvision.config import load_config
    from mcvision.types import Records, Visit

    cfg = load_config(cfg_path)
    store = EventStore.from_config(cfg)
    store.write(
        Records(visits=[Visit("v1", "shop", DAY, "G1", T0, T0 + 90, cameras=("cam",), closed=True)])
    )
    store.flush()
    out = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(out):
        code = main(["summarize", "--config", str(cfg_path), "--day", DAY])
    assert code == 0
    digest = (tmp_path / "data" / "summaries" / DAY / "digest.txt").read_text()
    assert "Visitors: 1 " in digest and "G1: 1m30s" in digest
    with contextlib.redirect_stderr(io.StringIO()):
        assert main(["summarize", "--config", str(cfg_path), "--day", "2026-02-30"]) == 2
        assert main(["summarize", "--config", str(cfg_path), "--day", DAY, "--camera", "x"]) == 2
