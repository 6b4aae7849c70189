"""The long-term customer gallery, the day's linker and their use by SiteIdentity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mcvision.analytics import queries as q
from mcvision.config import SiteConfig, parse_config
from mcvision.identity.customers import (
    DAY_S,
    CustomerGallery,
    CustomerLinker,
    DayPerson,
)
from mcvision.identity.gallery import Gallery
from mcvision.identity.site import SiteIdentity
from mcvision.identity.staff import StaffRegistry
from mcvision.types import TrackletUpdate

D = 8
T0 = 1_764_064_800.0  # 2025-11-25 10:00 UTC


def unit(*idx: int, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    v = np.zeros(D, np.float32)
    for i in idx:
        v[i] = 1.0
    if noise:
        v += np.random.default_rng(seed).normal(0, noise, D).astype(np.float32)
    return v / np.linalg.norm(v)


def person(*vecs: np.ndarray, t: float = T0, face: np.ndarray | None = None) -> DayPerson:
    return DayPerson(body=np.stack(vecs), first_ts=t, last_ts=t + 60, face=face)


@pytest.fixture
def gal() -> CustomerGallery:
    return CustomerGallery(
        "memory://",
        body_dim=D,
        face_dim=4,
        match_threshold=0.8,
        face_weight=0.5,
        exemplars=3,
        retention_days=30,
    )


def test_fold_then_match_counts_visits(gal: CustomerGallery) -> None:
    ids = gal.fold_day("2025-11-25", {"A1": person(unit(0)), "B1": person(unit(1))})
    assert len(set(ids.values())) == 2
    m = gal.match(body=unit(0, noise=0.1, seed=3))
    assert m is not None and m.customer_id == ids["A1"] and m.visit_count == 1
    # day 2: A comes back (matched by body), C is new
    ids2 = gal.fold_day(
        "2025-11-26", {"A2": person(unit(0), t=T0 + DAY_S), "C2": person(unit(2), t=T0 + DAY_S)}
    )
    assert ids2["A2"] == ids["A1"] and ids2["C2"] not in ids.values()
    a = gal.get(ids["A1"])
    assert (a.visit_count, a.global_ids) == (2, ("A1", "A2"))
    assert (a.first_seen, a.last_seen) == (T0, T0 + DAY_S + 60)
    # folding the same day again changes nothing
    gal.fold_day("2025-11-26", {"A2": person(unit(0), t=T0 + DAY_S)})
    assert gal.get(ids["A1"]).visit_count == 2
    assert gal.report()["customers"] == 3


def test_two_ids_of_one_day_stay_two_customers(gal: CustomerGallery) -> None:
    ids = gal.fold_day("2025-11-25", {"A": person(unit(0)), "A-look-alike": person(unit(0))})
    assert ids["A"] != ids["A-look-alike"]


def test_exemplars_are_bounded_and_mean_is_running(gal: CustomerGallery) -> None:
    vecs = [unit(0, noise=0.3, seed=s) for s in range(6)]
    cid = gal.fold_day("2025-11-25", {"A": person(*vecs)})["A"]
    ex, mean, n = gal.vectors(cid)
    assert ex.shape == (3, D) and n == 6
    expect = np.sum(vecs, axis=0)
    assert mean is not None and np.allclose(mean, expect / np.linalg.norm(expect), atol=1e-5)
    gal.fold_day(
        "2025-11-26",
        {
            "A2": DayPerson(
                body=np.stack(vecs[:2]), first_ts=T0 + DAY_S, last_ts=T0 + DAY_S, customer_id=cid
            )
        },
    )
    _, _, n2 = gal.vectors(cid)
    assert n2 == 8


@pytest.mark.parametrize(
    ("body", "face", "expect"),
    [
        (0.9, None, 0.9),  # body only
        (None, 0.7, 0.7),  # face only
        (0.9, 0.7, 0.8),  # both: 0.5 * 0.9 + 0.5 * 0.7
    ],
)
def test_fused_score(
    gal: CustomerGallery, body: float | None, face: float | None, expect: float
) -> None:
    fv = np.array([1.0, 0, 0, 0], np.float32)
    gal.fold_day("2025-11-25", {"A": person(unit(0), face=fv[None, :])})
    gal.match_threshold = -1.0

    def at(cos: float, dim: int) -> np.ndarray:  # a vector with cosine `cos` to e0
        v = np.zeros(dim, np.float32)
        v[0], v[1] = cos, np.sqrt(1 - cos**2)
        return v

    m = gal.match(
        body=None if body is None else at(body, D), face=None if face is None else at(face, 4)
    )
    assert m is not None and m.score == pytest.approx(expect, abs=1e-4)


def test_below_threshold_is_no_match(gal: CustomerGallery) -> None:
    gal.fold_day("2025-11-25", {"A": person(unit(0))})
    assert gal.match(body=unit(0, 1)) is None  # cosine 0.707 < 0.8
    assert gal.match() is None


@pytest.mark.parametrize(
    ("age_days", "purged"), [(29.9, False), (30.1, True), (0.0, False), (45.0, True)]
)
def test_retention_purges_older_only(gal: CustomerGallery, age_days: float, purged: bool) -> None:
    ids = gal.fold_day(
        "2025-11-25", {"old": person(unit(0), t=T0), "fresh": person(unit(1), t=T0 + 20 * DAY_S)}
    )
    last_seen_old = T0 + 60
    gone = gal.purge(last_seen_old + age_days * DAY_S)
    assert (ids["old"] in gone) is purged
    assert ids["fresh"] not in gone or age_days > 30 + 20
    names = {c.customer_id for c in gal.customers()}
    assert (ids["old"] in names) is not purged
    rows = gal.count("body")
    assert rows == 2 * (2 if not purged else 1)  # 1 exemplar + 1 mean per customer


def test_erase_removes_vectors(gal: CustomerGallery) -> None:
    ids = gal.fold_day("2025-11-25", {"A": person(unit(0)), "B": person(unit(1))})
    assert gal.search(unit(0), k=5)[0][0] == ids["A"]
    assert gal.erase(ids["A"]) == ["A"]
    assert ids["A"] not in dict(gal.search(unit(0), k=5))
    assert gal.count("body") == 2
    with pytest.raises(KeyError, match="unknown customer"):
        gal.erase(ids["A"])


def test_dimension_mismatch_is_named(tmp_path: Path) -> None:
    CustomerGallery(tmp_path / "c", body_dim=D)
    with pytest.raises(ValueError, match="stores 8-d body embeddings"):
        CustomerGallery(tmp_path / "c", body_dim=16)


# ---- the linker ----------------------------------------------------------
def upd(local: int, ts: float, emb: np.ndarray | None, cam: str = "cam1") -> TrackletUpdate:
    return TrackletUpdate(
        cam,
        local,
        ts,
        np.array([0, 0, 10, 30.0]),
        np.array([5, 30.0]),
        embedding=emb,
        frame_size=(100, 100),
    )


def test_linker_decides_once_when_settled(gal: CustomerGallery) -> None:
    ids = gal.fold_day("2025-11-25", {"A": person(unit(0))})
    linker = CustomerLinker(gal, None, min_embeddings=3)
    out = []
    for i in range(5):
        out.append(linker.observe([("G1", upd(1, T0 + DAY_S + i, unit(0, noise=0.05, seed=i)))]))
    assert [len(o) for o in out] == [0, 0, 1, 0, 0]
    d = out[2][0]
    assert (d.kind, d.customer_id, d.visit_count) == ("returning", ids["A"], 1)
    people = linker.day_people()
    assert people["G1"].customer_id == ids["A"]


def test_linker_checks_staff_first(gal: CustomerGallery) -> None:
    gal.fold_day("2025-11-25", {"A": person(unit(0))})
    staff = StaffRegistry("memory://", dim=D, match_threshold=0.8)
    staff.enrol_vectors("alice", unit(0)[None, :], source="alice.jpg")
    linker = CustomerLinker(gal, staff, min_embeddings=1)
    (d,) = linker.observe([("G1", upd(1, T0, unit(0)))])
    assert (d.kind, d.customer_id) == ("staff", "alice")
    assert "G1" in linker.staff_ids() and "G1" not in linker.day_people()


# ---- through SiteIdentity --------------------------------------------------
def site(root: Path, **extra: object) -> SiteConfig:
    return parse_config(
        {
            "site_id": "s",
            "cameras": [{"id": "cam1", "source": "a.mp4"}],
            "identity": {"min_frames": 2, "match_threshold": 0.8},
            "visits": {"absence_timeout_s": 30},
            "reset": {"time": "00:00", "timezone": "UTC"},
            "storage": {"root": str(root)},
            "customers": {"enabled": True, "min_embeddings": 2, "match_threshold": 0.8},
            **extra,
        }
    )


def walk(core: SiteIdentity, local: int, t0: float, emb: np.ndarray, n: int = 6) -> None:
    core.ingest([upd(local, t0 + i, emb) for i in range(n)])


def make_core(root: Path, staff: StaffRegistry | None = None) -> SiteIdentity:
    cfg = site(root)
    return SiteIdentity(
        cfg,
        gallery=Gallery(root / "gallery", dim=D),
        customers=CustomerGallery(root / "customers", body_dim=D, match_threshold=0.8),
        staff=staff,
        flush_every_s=0.0,
    )


def test_site_marks_returning_visitor_next_day(tmp_path: Path) -> None:
    core = make_core(tmp_path)
    walk(core, 1, T0, unit(0))
    walk(core, 2, T0 + 100, unit(1))
    day2 = T0 + DAY_S
    walk(core, 1, day2, unit(0, noise=0.05))  # A again; the reset folds day 1 first
    walk(core, 2, day2 + 100, unit(2))  # a new face
    core.close()
    rows = core.store.sql(
        'SELECT global_id, "returning" FROM visits ORDER BY in_ts', day="2025-11-26"
    )
    assert [r["returning"] for r in rows] == [True, False]
    (ev,) = core.store.sql("SELECT global_id, payload FROM events WHERE kind = 'returning'")
    assert ev["global_id"] == rows[0]["global_id"]
    assert json.loads(ev["payload"])["visit_count"] == 1
    s = q.day_summary(core.store, "2025-11-26")
    assert (s.returning_visitors, s.new_visitors) == (1, 1)


def test_staff_excluded_from_summary(tmp_path: Path) -> None:
    staff = StaffRegistry("memory://", dim=D, match_threshold=0.8)
    staff.enrol_vectors("bob", unit(3)[None, :])
    core = make_core(tmp_path, staff)
    walk(core, 1, T0, unit(3))  # staff
    walk(core, 2, T0 + 5, unit(4))  # a customer
    core.close()
    rows = core.store.sql("SELECT global_id, is_staff FROM visits ORDER BY in_ts")
    assert [r["is_staff"] for r in rows] == [True, False]
    assert q.day_summary(core.store, "2025-11-25").unique_visitors == 1
    assert q.day_summary(core.store, "2025-11-25", include_staff=True).unique_visitors == 2


def test_mark_staff_flags_closed_and_later_visits(tmp_path: Path) -> None:
    core = make_core(tmp_path)
    walk(core, 1, T0, unit(5))
    core.tick(T0 + 100)  # the visit closes
    gid = core.store.sql("SELECT global_id FROM visits")[0]["global_id"]
    assert core.mark_staff(gid) == 1
    walk(core, 3, T0 + 200, unit(5))  # the same person, a new visit
    core.close()
    rows = core.store.sql("SELECT is_staff FROM visits WHERE global_id = ?", [gid])
    assert [r["is_staff"] for r in rows] == [True, True]
    assert q.day_summary(core.store, "2025-11-25").unique_visitors == 0
    assert core.staff is not None and core.staff.staff() == [gid]
    with pytest.raises(KeyError, match="no visits"):
        core.mark_staff("20251125-0099")


def test_tick_purges_after_retention(tmp_path: Path) -> None:
    core = make_core(tmp_path)
    walk(core, 1, T0, unit(0))
    walk(core, 1, T0 + DAY_S, unit(1))  # reset: day 1 folded
    assert core.customers is not None and core.customers.report()["customers"] == 1
    core.tick(T0 + 10 * DAY_S)  # the next resets fold day 2 (B) as well
    assert core.customers.report()["customers"] == 2
    assert core.gallery.count(day="2025-11-25") > 0
    core.tick(T0 + 31 * DAY_S)  # > 30 days after A's last sighting, < 30 after B's
    assert [c.global_ids for c in core.customers.customers()] == [("20251126-0001",)]
    assert core.gallery.count(day="2025-11-25") == 0  # archived rows purged too
    assert core.gallery.count(day="2025-11-26") > 0
