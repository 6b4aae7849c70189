"""Late identity correction: a second ID found later to be the same person is merged.

A person walks from the door camera to the floor camera. The floor camera's first
crop is poor (cosine 0.5 to the door look), so the floor track gets a second global
ID; its later crops (cosine 0.9) show who it is. The merged store is compared with a
run where the first floor crop is good and the right ID is found at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pendulum
import pytest
from fastapi.testclient import TestClient

from mcvision.actors.identity import IdentityService
from mcvision.analytics.queries import day_summary, list_visits
from mcvision.config import SiteConfig, parse_config
from mcvision.identity.correction import Corrector
from mcvision.identity.gallery import Gallery
from mcvision.identity.site import SiteIdentity
from mcvision.serve.api import create_app
from mcvision.types import EventKind, TrackletUpdate

T0 = pendulum.datetime(2026, 11, 24, 10, 0, tz="Asia/Kolkata").timestamp()
DAY = "2026-11-24"
DIM = 512
_rng = np.random.default_rng(11)
_basis, _ = np.linalg.qr(_rng.normal(size=(DIM, 6)))
DOOR_LOOK = _basis[:, 0]  # how the door camera sees P
FLOOR_LOOK = 0.9 * _basis[:, 0] + np.sqrt(1 - 0.81) * _basis[:, 1]  # cos 0.9 to the door look
POOR = 0.5 * _basis[:, 0] + np.sqrt(1 - 0.25) * _basis[:, 2]  # a bad crop: cos 0.5
OTHER = _basis[:, 3]  # another shopper, Q


def site(tmp_path: Path, **identity: Any) -> SiteConfig:
    return parse_config(
        {
            "site_id": "shop",
            "cameras": [
                {
                    "id": "door",
                    "source": "d.mp4",
                    "zones": [
                        {"name": "promo", "polygon": [[0, 0], [640, 0], [640, 360], [0, 360]]}
                    ],
                },
                {
                    "id": "floor",
                    "source": "f.mp4",
                    "zones": [
                        {"name": "aisle", "polygon": [[0, 0], [640, 0], [640, 360], [0, 360]]}
                    ],
                },
            ],
            "topology": {"transits": [{"a": "door", "b": "floor", "min_s": 2, "max_s": 60}]},
            "visits": {
                "absence_timeout_s": 120,
                "zone_enter_s": 1,
                "zone_exit_s": 2,
                "track_point_every_s": 1.0,
            },
            "identity": {
                "match_threshold": 0.72,
                "merge_threshold": 0.85,
                "merge_min_embeddings": 3,
                "correction_window_s": 60,
                "gallery_flush_s": 0,
                **identity,
            },
            "storage": {"root": str(tmp_path / "store")},
            # 512-d, as the synthetic looks here
            "models": {"reid": {"backend": "onnx", "weights": "osnet_x0_25_msmt17.onnx"}},
        }
    )


def track(
    cam: str,
    lid: int,
    t0: float,
    seconds: float,
    looks: list[np.ndarray],
    zones: tuple[str, ...] = (),
    activity: str | None = None,
    seed: int = 0,
) -> list[TrackletUpdate]:
    """Updates at 2 fps; every 4th carries an embedding: ``looks[k]`` for the k-th (the last
    one repeats), with a little noise."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(int(seconds * 2) + 1):
        emb = None
        if i % 4 == 0:
            look = looks[min(i // 4, len(looks) - 1)]
            e = look + rng.normal(scale=0.01, size=DIM)
            emb = (e / np.linalg.norm(e)).astype(np.float32)
        out.append(
            TrackletUpdate(
                camera_id=cam,
                local_id=lid,
                ts=t0 + i / 2,
                box=np.array([100, 100, 150, 300], np.float32),
                foot=np.array([125 + i, 300], np.float32),
                embedding=emb,
                zones=zones,
                activity=activity,
                frame_size=(640, 360),
            )
        )
    out.append(TrackletUpdate(cam, lid, t0 + seconds + 0.5, np.zeros(4), np.zeros(2), ended=True))
    return out


def scenario(poor_first: bool, floor_start: float = 14.0) -> list[TrackletUpdate]:
    """P: door 0-10 s, floor from ``floor_start`` for 30 s; Q: door 2-8 s."""
    floor = [POOR, FLOOR_LOOK] if poor_first else [FLOOR_LOOK]
    ups = (
        track("door", 1, T0, 10, [DOOR_LOOK], zones=("promo",), seed=1)
        + track("door", 2, T0 + 2, 6, [OTHER], seed=2)
        + track(
            "floor", 7, T0 + floor_start, 30, floor, zones=("aisle",), activity="browsing", seed=3
        )
    )
    return sorted(ups, key=lambda u: u.ts)


def feed(core: SiteIdentity, ups: list[TrackletUpdate], batch: int = 4) -> None:
    for i in range(0, len(ups), batch):
        core.ingest(ups[i : i + batch])
        core.tick(ups[i : i + batch][-1].ts, flush=False)


def run(tmp_path: Path, ups: list[TrackletUpdate], **identity: Any) -> SiteIdentity:
    core = SiteIdentity(site(tmp_path, **identity), monotonic=lambda: 0.0)
    feed(core, ups)
    core.tick(T0 + 500, flush=True)
    core.close()
    return core


def picture(core: SiteIdentity) -> dict[str, Any]:
    """What the store says, without the record IDs that name a wrong ID's visit."""
    store = core.store
    visits = store.sql(
        "SELECT global_id, in_ts, out_ts, cameras, zones, in_source, out_source, closed"
        " FROM visits ORDER BY in_ts",
        day=DAY,
    )
    zones = store.sql(
        "SELECT v.global_id, z.zone, z.enter_ts, z.exit_ts, z.cameras FROM zone_visits z"
        " JOIN visits v USING (visit_id) ORDER BY z.enter_ts, z.zone",
        day=DAY,
    )
    points = store.sql(
        "SELECT p.camera_id, p.global_id, p.ts, p.x, p.y, p.zone, v.in_ts FROM track_points p"
        " JOIN visits v USING (visit_id) ORDER BY p.ts, p.camera_id, p.global_id",
        day=DAY,
    )
    acts = store.sql(
        "SELECT a.global_id, a.activity, a.zone, a.start_ts, a.end_ts, v.in_ts FROM activities a"
        " JOIN visits v USING (visit_id) ORDER BY a.start_ts",
        day=DAY,
    )
    return {
        "visits": visits,
        "zones": zones,
        "points": points,
        "activities": acts,
        "summary": day_summary(store, DAY).model_dump(),
    }


def merges(core: SiteIdentity) -> list[dict[str, Any]]:
    return core.store.sql(
        "SELECT global_id, ts, payload FROM events WHERE kind = ? ORDER BY ts",
        [str(EventKind.IDENTITY_MERGED)],
        day=DAY,
    )


def test_merge_rewrites_the_visit_like_a_run_that_found_the_right_id(tmp_path: Path) -> None:
    right = run(tmp_path / "right", scenario(poor_first=False))
    off = run(tmp_path / "off", scenario(poor_first=True), correction_window_s=0)
    fixed = run(tmp_path / "fixed", scenario(poor_first=True))
    assert merges(right) == [] and merges(off) == []
    assert off.store.count("visits") == 3  # the poor crop gave P a second ID and visit
    assert right.store.count("visits") == 2
    (m,) = merges(fixed)
    gid_p = right.store.sql("SELECT global_id FROM visits ORDER BY in_ts LIMIT 1")[0]["global_id"]
    assert m["global_id"] == gid_p
    import json

    payload = json.loads(m["payload"])
    assert payload["into"] == gid_p and payload["from"] != gid_p and payload["score"] >= 0.85
    assert m["ts"] - T0 < 14 + 10  # decided within seconds of the floor camera's evidence
    got, want = picture(fixed), picture(right)
    assert got["summary"] == want["summary"]
    assert got["visits"] == want["visits"]
    assert got["zones"] == want["zones"]
    assert got["points"] == want["points"]
    assert got["activities"] == want["activities"]
    assert len(got["points"]) > 20 and got["activities"]
    corrected = fixed.store.sql("SELECT global_id, corrected_at FROM visits ORDER BY in_ts")
    assert corrected[0]["corrected_at"] == pytest.approx(m["ts"])
    assert corrected[1]["corrected_at"] is None  # Q's visit was not touched
    # the superseded ID is gone everywhere, also from the gallery
    gone = payload["from"]
    for table in ("visits", "zone_visits", "track_points", "activities"):
        n = fixed.store.sql(f"SELECT count(*) AS n FROM {table} WHERE global_id = ?", [gone])
        assert n[0]["n"] == 0, table
    assert fixed.gallery.count(global_id=gone) == 0
    assert fixed.gallery.count(global_id=gid_p) > 0
    assert gone not in fixed.manager.active_identities()


def test_the_api_shows_the_merged_visit_and_when_it_was_corrected(tmp_path: Path) -> None:
    core = run(tmp_path, scenario(poor_first=True))
    page = list_visits(core.store, DAY)
    assert page.total == 2 and sum(v.corrected_at is not None for v in page.items) == 1
    client = TestClient(create_app(core.cfg, store=core.store))
    body = client.get("/api/v1/visits", params={"day": DAY}).json()
    assert body["total"] == 2
    assert [v["corrected_at"] is not None for v in body["items"]].count(True) == 1
    summary = client.get("/api/v1/summary", params={"day": DAY}).json()
    assert summary["unique_visitors"] == 2


def test_replaying_the_same_stream_changes_nothing(tmp_path: Path) -> None:
    ups = scenario(poor_first=True)
    first = run(tmp_path, ups)
    before = picture(first)
    n_events = first.store.count("events")

    def replay(name: str) -> SiteIdentity:
        # the same stream again, into the same store (a fresh gallery: the same IDs again)
        core = SiteIdentity(
            site(tmp_path), gallery=Gallery(tmp_path / name, dim=DIM), monotonic=lambda: 0.0
        )
        feed(core, ups)
        core.tick(T0 + 500, flush=True)
        core.close()
        return core

    again = replay("gallery2")
    assert picture(again) == before
    assert again.store.count("events") == n_events
    assert len(merges(again)) == 1
    files = sorted(p.name for p in again.store.files())
    third = replay("gallery3")  # the store has converged: not one new file
    assert sorted(p.name for p in third.store.files()) == files
    assert picture(third) == before


@pytest.mark.parametrize("crash_at_s", [17.0, 30.0], ids=["before-merge", "after-merge"])
def test_identity_service_restart_in_the_correction_window(
    tmp_path: Path, crash_at_s: float
) -> None:
    ups = scenario(poor_first=True)
    want = picture(run(tmp_path / "right", scenario(poor_first=False)))
    cfg = site(tmp_path / "svc")
    first = IdentityService(cfg)
    first.core.flush_on_open = True
    head = [u for u in ups if u.ts < T0 + crash_at_s]
    for i in range(0, len(head), 4):
        first.ingest(head[i : i + 4])
        first.tick(head[i : i + 4][-1].ts)
    merged_before = len(first.core.corrector.merges)
    assert merged_before == (crash_at_s > 20)
    first.core.flush()  # the last tick's flush; then the actor dies without closing
    second = IdentityService(cfg)
    assert second.core.restore() >= 1
    tail = [u for u in ups if u.ts >= T0 + crash_at_s]
    for i in range(0, len(tail), 4):
        second.ingest(tail[i : i + 4])
        second.tick(tail[i : i + 4][-1].ts)
    second.tick(T0 + 500)
    second.close()
    got = picture(second.core)
    assert len(merges(second.core)) == 1  # made once: before the crash, or after it
    assert got["summary"]["unique_visitors"] == 2 and got["summary"]["visits"] == 2
    assert [(v["in_ts"], v["out_ts"], v["cameras"]) for v in got["visits"]] == [
        (v["in_ts"], v["out_ts"], v["cameras"]) for v in want["visits"]
    ]
    assert got["zones"] == want["zones"]


def test_nothing_older_than_the_window_merges(tmp_path: Path) -> None:
    late = scenario(poor_first=True, floor_start=40.0)  # P was last seen at the door at 10 s
    kept = run(tmp_path / "w20", late, correction_window_s=20)
    assert merges(kept) == [] and kept.store.count("visits") == 3
    assert day_summary(kept.store, DAY).unique_visitors == 3
    merged = run(tmp_path / "w60", late)  # the same stream with a longer window merges
    assert len(merges(merged)) == 1 and merged.store.count("visits") == 2


def twin_tracks(second_start: float, second_cam: str) -> list[TrackletUpdate]:
    """P on the door camera 0-20 s, and a track that looks like P from ``second_start``."""
    return sorted(
        track("door", 1, T0, 20, [DOOR_LOOK], seed=1)
        + track(second_cam, 5, T0 + second_start, 15, [POOR, POOR, DOOR_LOOK], seed=4),
        key=lambda u: u.ts,
    )


@pytest.mark.parametrize("cam", ["door", "floor"])
def test_two_ids_seen_at_once_never_merge(tmp_path: Path, cam: str) -> None:
    # at once on one camera, or on two cameras that do not overlap: two people
    at_once = run(tmp_path / "once", twin_tracks(5.0, cam))
    assert merges(at_once) == []
    assert day_summary(at_once.store, DAY).unique_visitors == 2
    # the same look after the first track ended (door: re-acquired; floor: walked over) merges
    later = run(tmp_path / "later", twin_tracks(23.0, cam))
    assert len(merges(later)) == 1
    assert day_summary(later.store, DAY).unique_visitors == 1


def test_topology_rules_of_a_merge() -> None:
    cfg = parse_config(
        {
            "site_id": "s",
            "cameras": [{"id": c, "source": f"{c}.mp4"} for c in ("a", "b", "c")],
            "topology": {
                "transits": [
                    {"a": "a", "b": "b", "min_s": 5, "max_s": 60},
                    {"a": "b", "b": "c", "overlap": True},
                ]
            },
        }
    )
    ok = Corrector.compatible
    assert not ok(cfg, [("a", 0, 10)], [("a", 10, 20)])  # one camera, touching: concurrent
    assert ok(cfg, [("a", 0, 10)], [("a", 11, 20)])  # re-acquired
    assert not ok(cfg, [("a", 0, 10)], [("b", 5, 20)])  # two places at once
    assert not ok(cfg, [("a", 0, 10)], [("b", 12, 20)])  # 2 s transit, min_s 5
    assert ok(cfg, [("a", 0, 10)], [("b", 16, 20)])
    assert ok(cfg, [("b", 0, 10)], [("c", 5, 20)])  # overlapping cameras: at once is fine
    assert not ok(cfg, [("b", 0, 10), ("a", 3, 4)], [("c", 5, 20), ("a", 3.5, 6)])


def test_stored_records_of_the_superseded_id_are_hidden_not_lost(tmp_path: Path) -> None:
    core = run(tmp_path, scenario(poor_first=True))
    gone = __import__("json").loads(merges(core)[0]["payload"])["from"]
    con = core.store.connect(DAY)
    try:
        raw = con.execute(
            "SELECT count(*) FROM _raw_track_points WHERE global_id = ? AND merged_into IS NULL",
            [gone],
        ).fetchone()[0]
        tombs = con.execute(
            "SELECT count(*) FROM _raw_track_points WHERE global_id = ? AND merged_into IS NOT NULL",
            [gone],
        ).fetchone()[0]
        visit_tombs = con.execute(
            "SELECT count(*) FROM _raw_visits WHERE merged_into IS NOT NULL"
        ).fetchone()[0]
    finally:
        con.close()
    assert raw > 0 and tombs == raw  # every original row has its tombstone
    assert visit_tombs >= 1
    # compaction keeps what the views show
    before = picture(core)
    assert core.store.compact(DAY) > 0
    assert picture(core) == before


def test_visitbook_merge_joins_a_closed_visit_to_the_open_one_that_follows(
    tmp_path: Path,
) -> None:
    from mcvision.identity.visits import VisitBook

    cfg = site(tmp_path)  # absence timeout 120 s
    book = VisitBook(cfg)

    def seen(cam: str, ts: float) -> TrackletUpdate:
        return TrackletUpdate(cam, 1, ts, np.zeros(4), np.zeros(2))

    rec = book.observe_many(("A", seen("door", T0 + i)) for i in range(5))
    rec.extend(book.close_all(T0 + 5, reason="shutdown"))  # A's visit closed at 4 s
    rec.extend(book.observe_many(("B", seen("floor", T0 + 30 + i)) for i in range(5)))
    stored = {v.visit_id: v for v in rec.visits}  # the latest snapshot of each
    va = next(v for v in stored.values() if v.global_id == "A")
    vb = next(v for v in stored.values() if v.global_id == "B")
    out, mapping = book.merge_identity("B", "A", T0 + 40, list(stored.values()))
    assert mapping == {va.visit_id: vb.visit_id, vb.visit_id: vb.visit_id}
    (now,) = book.open_visits()  # one open visit of A, from A's first sighting
    assert (now.global_id, now.visit_id, now.in_ts, now.out_ts) == ("A", vb.visit_id, T0, T0 + 34)
    assert now.cameras == ("door", "floor") and now.corrected_at == T0 + 40
    tomb = next(v for v in out.visits if v.visit_id == va.visit_id)
    assert tomb.merged_into == vb.visit_id and tomb.closed
    # later sightings of A extend the merged visit; B is unknown to the book now
    book.observe("A", seen("floor", T0 + 50))
    assert [(v.visit_id, v.out_ts) for v in book.open_visits()] == [(vb.visit_id, T0 + 50)]


def test_a_store_written_before_the_correction_columns_still_reads(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from mcvision.analytics.store import EventStore
    from mcvision.types import Records, TrackPoint, Visit

    store = EventStore(tmp_path, "shop")
    store.write(
        Records(
            visits=[Visit("v1", "shop", DAY, "G1", T0, T0 + 30, closed=True)],
            track_points=[TrackPoint("shop", DAY, "door", "G1", "v1", T0, 0.5, 0.5)],
        )
    )
    for f in store.flush():  # as an older version wrote them: no correction columns
        t = pq.read_table(f)
        pq.write_table(
            t.drop([c for c in ("corrected_at", "merged_into") if c in t.column_names]), f
        )
    assert store.sql("SELECT visit_id, corrected_at FROM visits") == [
        {"visit_id": "v1", "corrected_at": None}
    ]
    assert store.count("track_points") == 1
    # a newer file next to them: a tombstone hides the old point, a rewrite takes its place
    store.write(
        Records(
            track_points=[
                TrackPoint(
                    "shop",
                    DAY,
                    "door",
                    "G1",
                    "v1",
                    T0,
                    0.5,
                    0.5,
                    corrected_at=T0 + 40,
                    merged_into="G0",
                ),
                TrackPoint("shop", DAY, "door", "G0", "v0", T0, 0.5, 0.5, corrected_at=T0 + 40),
            ]
        )
    )
    store.flush()
    assert store.sql("SELECT global_id, visit_id FROM track_points") == [
        {"global_id": "G0", "visit_id": "v0"}
    ]


# ---------------------------------------------------------------- geometry-triggered merges
FAINT = 0.1 * _basis[:, 0] + np.sqrt(1 - 0.01) * _basis[:, 4]  # a useless crop: cos 0.1
HALF = 0.7 * _basis[:, 0] + np.sqrt(1 - 0.49) * _basis[:, 5]  # the floor camera's look: cos 0.7


def overlap_site(tmp_path: Path, floor_offset_m: float, **identity: Any) -> SiteConfig:
    """The two cameras overlap and are calibrated at 50 px per metre; the floor camera's
    floor is shifted ``floor_offset_m`` metres (0: one pixel is one floor spot on both)."""
    data = site(tmp_path, **identity).model_dump(mode="json")
    img = [(0, 0), (600, 0), (600, 350), (0, 350)]
    for cam in data["cameras"]:
        off = floor_offset_m if cam["id"] == "floor" else 0.0
        cam["floor"] = {
            "points": [{"image": list(p), "floor": [p[0] / 50 + off, p[1] / 50]} for p in img]
        }
    data["topology"] = {"transits": [{"a": "door", "b": "floor", "overlap": True, "max_s": 10}]}
    return parse_config(data)


def side_by_side() -> list[TrackletUpdate]:
    """P on the door camera 0-20 s; the floor camera sees P too from 5 s, first on a useless
    crop (a new ID online: cosine 0.1), then on crops at cosine 0.7 (below the 0.85 merge
    threshold on appearance alone)."""
    return sorted(
        track("door", 1, T0, 20, [DOOR_LOOK], seed=1)
        + [
            u
            for u in track("floor", 5, T0 + 5, 15, [FAINT, HALF], seed=4)
            if not u.ended or u.ts > T0 + 20  # the same foot pixels at the same moments
        ],
        key=lambda u: u.ts,
    )


def test_a_floor_coincidence_merges_two_ids_late(tmp_path: Path) -> None:
    geo = dict(use_geometry=True, floor_weight=0.3, floor_match_m=1.0)
    ups = side_by_side()
    merged = SiteIdentity(overlap_site(tmp_path / "one", 0.0, **geo), monotonic=lambda: 0.0)
    feed(merged, ups)
    merged.close()
    found = merges(merged)
    assert len(found) == 1 and json.loads(found[0]["payload"])["reason"] == "geometry"
    assert day_summary(merged.store, DAY).unique_visitors == 1
    # the floor camera 3 m off (same pixels, another floor spot): two people, never merged
    apart = SiteIdentity(overlap_site(tmp_path / "apart", 3.0, **geo), monotonic=lambda: 0.0)
    feed(apart, ups)
    apart.close()
    assert merges(apart) == [] and day_summary(apart.store, DAY).unique_visitors == 2
    # without geometry the appearance alone does not merge them
    plain = run(tmp_path / "plain", ups)
    assert merges(plain) == [] and day_summary(plain.store, DAY).unique_visitors == 2
