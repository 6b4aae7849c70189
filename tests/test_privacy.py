"""Privacy: the report, retention of the daily gallery, erasure (library, API, CLI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient

from mcvision.analytics import queries as q
from mcvision.cli import main
from mcvision.config import SiteConfig, load_config
from mcvision.identity.customers import DAY_S, CustomerGallery
from mcvision.identity.gallery import Gallery
from mcvision.identity.site import SiteIdentity
from mcvision.privacy import erase_customer, privacy_report, pseudonyms, purge_gallery
from mcvision.serve.api import API_KEY_ENV, create_app
from mcvision.types import TrackletUpdate
from seed import seed_store

D = 8
T0 = 1_764_064_800.0  # 2025-11-25 10:00 UTC
KEY = "s3cret"


def unit(i: int) -> np.ndarray:
    v = np.zeros(D, np.float32)
    v[i] = 1.0
    return v


def walk(core: SiteIdentity, local: int, t0: float, emb: np.ndarray) -> None:
    core.ingest(
        [
            TrackletUpdate(
                "cam1",
                local,
                t0 + i,
                np.array([0, 0, 10, 30.0]),
                np.array([5, 30.0]),
                embedding=emb,
                frame_size=(100, 100),
            )
            for i in range(6)
        ]
    )


@pytest.fixture
def site(tmp_path: Path) -> dict[str, Any]:
    """Two days through SiteIdentity: A and B on day 1, A back on day 2 (then folded)."""
    data = {
        "site_id": "s",
        "cameras": [{"id": "cam1", "source": "a.mp4"}],
        "identity": {"min_frames": 2},
        "visits": {"absence_timeout_s": 30},
        "reset": {"time": "00:00", "timezone": "UTC"},
        "storage": {"root": "data"},
        "customers": {"enabled": True, "min_embeddings": 2},
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    cfg = load_config(path)
    root = Path(cfg.storage.root)
    core = SiteIdentity(
        cfg,
        gallery=Gallery(cfg.storage.gallery_dir(), dim=D),
        customers=CustomerGallery(cfg.storage.customers_dir(), body_dim=D),
        flush_every_s=0.0,
    )
    walk(core, 1, T0, unit(0))
    walk(core, 2, T0 + 100, unit(1))
    walk(core, 1, T0 + DAY_S, unit(0))
    walk(core, 1, T0 + 2 * DAY_S, unit(2))  # reset: day 2 folded too
    core.close()
    assert core.customers is not None
    a = core.customers.match(body=unit(0))
    assert a is not None and a.visit_count == 2
    return {"cfg": cfg, "path": path, "core": core, "a": a.customer_id, "root": root}


def test_erasure_removes_vectors_keeps_counts(site: dict[str, Any]) -> None:
    cfg: SiteConfig = site["cfg"]
    core: SiteIdentity = site["core"]
    before = {d: q.day_summary(core.store, d) for d in ("2025-11-25", "2025-11-26")}
    a_ids = core.customers.get(site["a"]).global_ids  # type: ignore[union-attr]
    assert a_ids == ("20251125-0001", "20251126-0001")
    held = sum(core.gallery.count(global_id=g) for g in a_ids)
    assert held == 12  # 6 sightings with an embedding per day
    out = erase_customer(
        cfg, site["a"], store=core.store, customers=core.customers, gallery=core.gallery
    )
    assert out["global_ids"] == 2 and out["gallery_embeddings"] == held
    assert out["rows"]["visits"] >= 2 and out["rows"]["track_points"] > 0
    # LanceDB no longer finds A, in the customers or in the daily gallery
    assert site["a"] not in dict(core.customers.search(unit(0), k=10))  # type: ignore[union-attr]
    assert core.customers.match(body=unit(0)) is None  # type: ignore[union-attr]
    assert all(
        gid not in a_ids for gid, _ in core.gallery.search(unit(0), k=10, exclude_archived=False)[0]
    )
    assert not set(core.gallery.identities()) & set(a_ids)
    # the store keeps every count, under pseudonyms
    for day, s in before.items():
        after = q.day_summary(core.store, day)
        assert (after.visits, after.unique_visitors) == (s.visits, s.unique_visitors)
    rows = core.store.sql("SELECT DISTINCT global_id FROM track_points ORDER BY 1")
    names = [r["global_id"] for r in rows]
    assert not set(names) & set(a_ids)
    assert sum(n.startswith("erased-") for n in names) == 2
    payloads = " ".join(r["payload"] for r in core.store.sql("SELECT payload FROM events"))
    assert site["a"] not in payloads and "20251125-0001" not in payloads
    with pytest.raises(KeyError):
        erase_customer(cfg, site["a"], store=core.store, customers=core.customers)


def test_pseudonyms_are_salted_and_distinct() -> None:
    a = pseudonyms(["G1", "G2"], salt=b"x")
    assert a == pseudonyms(["G1", "G2"], salt=b"x")
    assert len(set(a.values())) == 2
    assert pseudonyms(["G1"], salt=b"y")["G1"] != a["G1"]


@pytest.mark.parametrize(("cutoff_offset", "left"), [(-1.0, 3), (50.0, 2), (1e9, 0)])
def test_purge_gallery_archived_only_before_cutoff(cutoff_offset: float, left: int) -> None:
    g = Gallery("memory://", dim=4)
    g.add("G1", "2025-11-25", "c", [0.0], [[1.0, 0, 0, 0]])
    g.add("G2", "2025-11-25", "c", [100.0], [[0, 1.0, 0, 0]])
    g.add("G3", "2025-11-26", "c", [200.0], [[0, 0, 1.0, 0]])  # active: never purged
    g.archive_day("2025-11-25")
    removed = purge_gallery(g, cutoff_offset)
    assert g.count() == max(left, 1)
    assert removed == 3 - max(left, 1)


def test_report_says_what_is_held(site: dict[str, Any]) -> None:
    rep = privacy_report(site["cfg"])
    assert rep["faces_enabled"] is False and rep["face_images_stored"] is False
    assert rep["customers"]["customers"] == 2  # A and B (day 3 is not folded yet)
    assert rep["customers"]["face_embeddings"] == 0
    assert rep["gallery"]["embeddings"] == site["core"].gallery.count()
    assert rep["gallery"]["oldest_ts"] == pytest.approx(T0)
    assert rep["events"]["oldest_day"] == "2025-11-25"


def test_cli_report_and_erase(site: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["privacy", "report", "--config", str(site["path"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["customers"]["customers"] == 2
    assert main(["privacy", "report", "--config", str(site["path"])]) == 0
    assert "faces off" in capsys.readouterr().out
    assert main(["privacy", "erase", "--config", str(site["path"]), "--customer", site["a"]]) == 0
    assert json.loads(capsys.readouterr().out)["global_ids"] == 2
    assert main(["privacy", "erase", "--config", str(site["path"]), "--customer", "nope"]) == 2
    assert "unknown customer" in capsys.readouterr().err


# ---- admin routes ------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("delete", "/api/v1/admin/customers/cust-1", None),
        ("post", "/api/v1/admin/staff", {"global_id": "G1"}),
    ],
)
@pytest.mark.parametrize("key", [None, "wrong"])
def test_admin_routes_need_the_key(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    path: str,
    body: dict | None,
    key: str | None,
) -> None:
    seeded = seed_store(tmp_path)
    monkeypatch.setenv(API_KEY_ENV, KEY)
    client = TestClient(create_app(seeded["cfg"], store=seeded["store"]))
    headers = {"X-API-Key": key} if key else {}
    r = client.request(method, path, json=body, headers=headers)
    assert r.status_code == 401, r.text


def test_delete_customer_route(site: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, KEY)
    core: SiteIdentity = site["core"]
    client = TestClient(create_app(site["cfg"], store=core.store))
    h = {"X-API-Key": KEY}
    r = client.delete(f"/api/v1/admin/customers/{site['a']}", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["global_ids"] == 2
    assert client.delete(f"/api/v1/admin/customers/{site['a']}", headers=h).status_code == 404
    again = CustomerGallery(site["cfg"].storage.customers_dir(), body_dim=D)
    assert again.match(body=unit(0)) is None
    day1 = client.get("/api/v1/summary", params={"day": "2025-11-25"}).json()
    assert day1["unique_visitors"] == 2


def test_erasure_through_the_running_core(site: dict[str, Any]) -> None:
    """SiteIdentity.erase_customer: the same erasure as the library, then today's links forgotten."""
    core: SiteIdentity = site["core"]
    a_ids = core.customers.get(site["a"]).global_ids  # type: ignore[union-attr]
    held = sum(core.gallery.count(global_id=g) for g in a_ids)
    out = core.erase_customer(site["a"])
    assert out["customer_id"] == site["a"] and out["global_ids"] == 2
    assert out["gallery_embeddings"] == held > 0
    assert not set(core.gallery.identities()) & set(a_ids)
    names = {r["global_id"] for r in core.store.sql("SELECT DISTINCT global_id FROM visits")}
    assert not names & set(a_ids)
    with pytest.raises(KeyError):
        core.erase_customer(site["a"])


def test_retention_purge_drops_old_customers_and_archived_rows(site: dict[str, Any]) -> None:
    core: SiteIdentity = site["core"]
    active = core.gallery.count(exclude_archived=True)
    archived = core.gallery.count() - active
    assert archived > 0 and active > 0
    far = T0 + (site["cfg"].customers.retention_days + 10) * DAY_S
    out = core.purge(far)
    assert out == {"customers": 2, "gallery": archived}
    assert core.customers.customers() == []  # type: ignore[union-attr]
    assert core.gallery.count() == core.gallery.count(exclude_archived=True) == active
