"""IdentityManager: local tracks of every camera → one global ID per person per day."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from mcvision.business_day import BusinessCalendar
from mcvision.config import SiteConfig
from mcvision.identity.gallery import Gallery, normalize
from mcvision.identity.manager import IdentityManager, IdentityResult
from mcvision.types import EventKind, TrackletUpdate

DIM = 512
T0 = 1_795_000_000.0  # a business day in Asia/Kolkata, mid-afternoon
CAL = BusinessCalendar("00:00", "Asia/Kolkata")
DAY = CAL.day_of(T0)
THRESHOLD = 0.7
BOX = np.array([100.0, 50.0, 160.0, 250.0], dtype=np.float32)
FOOT = np.array([130.0, 250.0], dtype=np.float32)


def gid(n: int, day: str = DAY) -> str:
    return f"{day.replace('-', '')}-{n:04d}"


def make_cfg(unlisted: str = "allow", **identity: Any) -> SiteConfig:
    ident = {
        "match_threshold": THRESHOLD,
        "min_frames": 3,
        "min_seconds": 0.0,
        "max_pending_s": 5.0,
        "gallery_per_identity": 8,
    }
    ident.update(identity)
    return SiteConfig.model_validate(
        {
            "site_id": "store1",
            "cameras": [{"id": c, "source": f"{c}.mp4"} for c in ("A", "B", "C", "D")],
            "topology": {
                "transits": [
                    {"a": "A", "b": "B", "min_s": 5, "max_s": 60},
                    {"a": "A", "b": "C", "overlap": True},
                ],
                "unlisted": unlisted,
            },
            "identity": ident,
        }
    )


def person(seed: int) -> np.ndarray:
    return normalize(np.random.default_rng(seed).normal(size=DIM))[0]


def track(
    cam: str,
    lid: int,
    start: float,
    n: int = 6,
    emb: np.ndarray | None = None,
    noise: float = 0.0,
    seed: int = 0,
    dt: float = 0.5,
    ended: bool = True,
) -> list[TrackletUpdate]:
    """``n`` updates of one local track, every ``dt`` s from ``T0 + start``, each with an
    embedding of ``emb`` plus noise (None: no embeddings); the last one ends the track."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        e = None
        if emb is not None:
            e = normalize(emb + noise * rng.normal(size=DIM) / np.sqrt(DIM))[0]
        out.append(
            TrackletUpdate(
                camera_id=cam,
                local_id=lid,
                ts=T0 + start + i * dt,
                box=BOX,
                foot=FOOT,
                embedding=e,
                ended=ended and i == n - 1,
            )
        )
    return out


def merged(*tracks: Sequence[TrackletUpdate]) -> list[TrackletUpdate]:
    return sorted((u for t in tracks for u in t), key=lambda u: u.ts)


def ids_by_track(*results: IdentityResult) -> dict[tuple[str, int], set[str]]:
    out: dict[tuple[str, int], set[str]] = {}
    for r in results:
        for g, u in r.sightings:
            out.setdefault(u.track_key, set()).add(g)
    return out


def assigned(result: IdentityResult) -> dict[tuple[str, int], dict[str, Any]]:
    return {
        (e.payload["camera"], e.payload["local_id"]): {"gid": e.global_id, **e.payload}
        for e in result.events
        if e.kind == EventKind.TRACK_ASSIGNED
    }


@pytest.fixture
def gallery(tmp_path) -> Gallery:
    return Gallery(tmp_path / "gallery", dim=DIM)


def test_day_constant() -> None:
    assert DAY == "2026-11-18"


# ---- hand-over between cameras ------------------------------------------------------
@pytest.mark.parametrize(
    ("cam_b", "gap", "noise", "unlisted", "expected_ids"),
    [
        ("B", 20.0, 0.3, "allow", 1),  # inside the 5..60 s window
        ("B", 5.0, 0.3, "allow", 1),  # exactly min_s
        ("B", 2.0, 0.0, "allow", 2),  # too fast, identical embeddings
        ("B", -1.0, 0.0, "allow", 2),  # concurrent on non-overlapping cameras
        ("B", 300.0, 0.3, "allow", 1),  # beyond max_s: seen nowhere meanwhile, allowed
        ("D", 2.0, 0.0, "allow", 1),  # unlisted pair, allow: any gap >= 0
        ("D", -1.0, 0.0, "allow", 2),  # unlisted pair, allow: but not concurrent
        ("D", 30.0, 0.0, "deny", 2),  # unlisted pair, deny: never directly
        ("C", -2.0, 0.0, "allow", 1),  # overlapping cameras: at the same time
    ],
)
def test_hand_over(
    gallery: Gallery, cam_b: str, gap: float, noise: float, unlisted: str, expected_ids: int
) -> None:
    mgr = IdentityManager(make_cfg(unlisted=unlisted), gallery, CAL)
    p = person(1)
    first = track("A", 1, 0.0, n=6, emb=p, noise=noise, seed=1)  # ends at +2.5 s
    second = track(cam_b, 1, 2.5 + gap, n=6, emb=p, noise=noise, seed=2)
    if gap < 0:  # the first track is still being seen when the second starts
        results = [mgr.update(merged(first, second))]
    else:
        results = [mgr.update(first), mgr.update(second)]
    result = ids_by_track(*results)
    events = [e for r in results for e in r.events]
    assert result[("A", 1)] == {gid(1)}
    expect_b = gid(1) if expected_ids == 1 else gid(2)
    assert result[(cam_b, 1)] == {expect_b}
    assert mgr.active_identities() == [gid(i) for i in range(1, expected_ids + 1)]
    assert sum(e.kind == EventKind.IDENTITY_NEW for e in events) == expected_ids
    assert sum(e.kind == EventKind.TRACK_ASSIGNED for e in events) == 2


@pytest.mark.parametrize(
    ("cam_b", "start_b", "expected"),
    [
        # A's last sighting is at +2.0 s; the tracker ends it 3 s later (+5.0 s).
        ("B", 8.0, gid(1)),  # 6 s after the last sighting: inside 5..60, though 3 s after the end
        ("B", 6.5, gid(2)),  # 4.5 s after the last sighting: too fast
        ("A", 3.0, gid(1)),  # same camera, re-acquired while the lost track was still kept
    ],
)
def test_the_trackers_end_is_no_sighting(
    gallery: Gallery, cam_b: str, start_b: float, expected: str
) -> None:
    """The pipeline's ``ended`` update comes a ``track_buffer`` after the person was last
    seen (no box): the topology gate measures gaps from the last sighting."""
    mgr = IdentityManager(make_cfg(), gallery, CAL)
    p = person(7)
    first = track("A", 1, 0.0, n=5, emb=p, noise=0.2, seed=1, ended=False)  # 0.0 .. 2.0 s
    end = TrackletUpdate(
        camera_id="A",
        local_id=1,
        ts=T0 + 5.0,
        box=np.zeros(4, np.float32),
        foot=np.zeros(2, np.float32),
        ended=True,
    )
    second = track(cam_b, 2, start_b, n=5, emb=p, noise=0.2, seed=2)
    results = [mgr.update(merged(first, [end], second))]
    assert ids_by_track(*results)[(cam_b, 2)] == {expected}


def test_unlisted_deny_looks_at_the_ongoing_sighting(gallery: Gallery) -> None:
    """Seen on B, then on A (still there): a track on C, which overlaps A, is the same
    person — B→C is unlisted, but A, not B, is where the person was seen last."""
    mgr = IdentityManager(make_cfg(unlisted="deny"), gallery, CAL)
    p = person(8)
    on_b = track("B", 1, 0.0, n=6, emb=p, noise=0.2, seed=1)  # 0 .. 2.5 s
    on_a = track("A", 1, 20.0, n=20, emb=p, noise=0.2, seed=2, ended=False)  # 20 .. 29.5 s
    on_c = track("C", 1, 25.0, n=6, emb=p, noise=0.2, seed=3)
    results = [mgr.update(on_b), mgr.update(on_a[:8]), mgr.update(merged(on_a[8:], on_c))]
    ids = ids_by_track(*results)
    assert ids[("A", 1)] == {gid(1)}
    assert ids[("C", 1)] == {gid(1)}
    assert mgr.active_identities() == [gid(1)]


def test_hand_over_event_payload(gallery: Gallery) -> None:
    mgr = IdentityManager(make_cfg(), gallery, CAL)
    p = person(1)
    r1 = mgr.update(track("A", 4, 0.0, emb=p, noise=0.3, seed=1))
    r2 = mgr.update(track("B", 9, 20.0, emb=p, noise=0.3, seed=2))
    a1, a2 = assigned(r1)[("A", 4)], assigned(r2)[("B", 9)]
    assert (a1["gid"], a1["reason"], a1["similarity"]) == (gid(1), "new", None)
    assert (a2["gid"], a2["reason"]) == (gid(1), "reid")
    assert a2["similarity"] > 0.9
    ev = next(e for e in r2.events if e.kind == EventKind.TRACK_ASSIGNED)
    assert (ev.ts, ev.day, ev.site_id, ev.camera_id) == (T0 + 20.0, DAY, "store1", "B")
    new = next(e for e in r1.events if e.kind == EventKind.IDENTITY_NEW)
    assert (new.global_id, new.ts, new.camera_id) == (gid(1), T0, "A")
    assert mgr.global_id_of("B", 9) == gid(1)
    assert mgr.global_id_of("B", 10) is None


def test_below_threshold_gets_a_new_id(gallery: Gallery) -> None:
    mgr = IdentityManager(make_cfg(), gallery, CAL)
    p, q = person(1), person(2)
    # a different person whose embedding is 0.5 cosine from p: below the 0.7 threshold
    other = normalize(0.5 * p + np.sqrt(0.75) * normalize(q - (q @ p) * p)[0])[0]
    assert float(other @ p) == pytest.approx(0.5, abs=1e-5)
    r1 = mgr.update(track("A", 1, 0.0, emb=p))
    r2 = mgr.update(track("B", 1, 20.0, emb=other))
    a = assigned(r2)[("B", 1)]
    assert (a["gid"], a["reason"]) == (gid(2), "new")
    assert a["similarity"] == pytest.approx(0.5, abs=1e-4)
    assert ids_by_track(r1, r2) == {("A", 1): {gid(1)}, ("B", 1): {gid(2)}}


# ---- joint (Hungarian) assignment ---------------------------------------------------
def _vector_with(sims: tuple[float, float], basis: np.ndarray, cos12: float) -> np.ndarray:
    """A unit vector with the given cosines to g1 = e1 and g2 = cos12 e1 + sin12 e2."""
    s1, s2 = sims
    sin12 = np.sqrt(1 - cos12**2)
    alpha, beta = s1, (s2 - cos12 * s1) / sin12
    gamma = np.sqrt(1 - alpha**2 - beta**2)
    return (alpha * basis[0] + beta * basis[1] + gamma * basis[2]).astype(np.float32)


def test_hungarian_does_not_swap_where_greedy_would(gallery: Gallery) -> None:
    basis = np.linalg.qr(np.random.default_rng(5).normal(size=(DIM, 4)))[0].T
    g1 = basis[0].astype(np.float32)
    g2 = (0.6 * basis[0] + 0.8 * basis[1]).astype(np.float32)
    x1 = _vector_with((0.80, 0.85), basis, 0.6)  # person 1, later: slightly closer to G2
    x2 = _vector_with((0.72, 0.95), basis, 0.6)  # person 2, later: clearly G2
    sims = np.array([[x1 @ g1, x1 @ g2], [x2 @ g1, x2 @ g2]])
    np.testing.assert_allclose(sims, [[0.80, 0.85], [0.72, 0.95]], atol=1e-5)

    # first-come greedy (track 1 starts first) takes the best free identity: a swap
    greedy, free = [], [0, 1]
    for row in sims:
        best = max(free, key=lambda j: row[j])
        assert row[best] >= THRESHOLD
        greedy.append(best)
        free.remove(best)
    assert greedy == [1, 0]

    mgr = IdentityManager(make_cfg(), gallery, CAL)
    r1 = mgr.update(merged(track("A", 1, 0.0, emb=g1), track("A", 2, 0.1, emb=g2)))
    assert ids_by_track(r1) == {("A", 1): {gid(1)}, ("A", 2): {gid(2)}}
    r2 = mgr.update(merged(track("B", 11, 20.0, emb=x1), track("B", 12, 20.2, emb=x2)))
    got = assigned(r2)
    assert (got[("B", 11)]["gid"], got[("B", 12)]["gid"]) == (gid(1), gid(2))
    assert got[("B", 11)]["similarity"] == pytest.approx(0.80, abs=1e-4)
    assert got[("B", 12)]["similarity"] == pytest.approx(0.95, abs=1e-4)
    assert mgr.active_identities() == [gid(1), gid(2)]


# ---- concurrency on cameras ---------------------------------------------------------
@pytest.mark.parametrize("same_batch", [True, False])
def test_overlapping_cameras_one_person_at_once(gallery: Gallery, same_batch: bool) -> None:
    mgr = IdentityManager(make_cfg(), gallery, CAL)
    p = person(3)
    on_a = track("A", 1, 0.0, n=10, emb=p, noise=0.3, seed=1)
    on_c = track("C", 7, 0.2, n=10, emb=p, noise=0.3, seed=2)
    if same_batch:
        results = [mgr.update(merged(on_a, on_c))]
    else:
        results = [mgr.update(on_a[:4]), mgr.update(merged(on_a[4:], on_c))]
    assert ids_by_track(*results) == {("A", 1): {gid(1)}, ("C", 7): {gid(1)}}
    assert mgr.active_identities() == [gid(1)]
    assert sum(len(r.sightings) for r in results) == 20


def test_one_camera_never_holds_a_person_twice(gallery: Gallery) -> None:
    mgr = IdentityManager(make_cfg(), gallery, CAL)
    p = person(4)
    r = mgr.update(merged(track("A", 1, 0.0, emb=p), track("A", 2, 0.0, emb=p)))
    assert ids_by_track(r) == {("A", 1): {gid(1)}, ("A", 2): {gid(2)}}
    # after the first track ended, the same camera may re-acquire the person
    r2 = mgr.update(track("A", 3, 10.0, emb=p))
    assert ids_by_track(r2)[("A", 3)] <= {gid(1), gid(2)}
    assert assigned(r2)[("A", 3)]["reason"] == "reid"


def test_new_person_on_overlapping_cameras_gets_one_id_with_others_around(
    gallery: Gallery,
) -> None:
    mgr = IdentityManager(make_cfg(), gallery, CAL)
    p, q = person(5), person(6)
    r = mgr.update(
        merged(
            track("A", 1, 0.0, emb=p, noise=0.2, seed=1),
            track("C", 2, 0.1, emb=p, noise=0.2, seed=2),
            track("A", 3, 0.2, emb=q, noise=0.2, seed=3),
            track("C", 4, 0.3, emb=q, noise=0.2, seed=4),
        )
    )
    assert ids_by_track(r) == {
        ("A", 1): {gid(1)},
        ("C", 2): {gid(1)},
        ("A", 3): {gid(2)},
        ("C", 4): {gid(2)},
    }


# ---- pending -------------------------------------------------------------------------
def test_pending_updates_are_held_then_released_in_order(gallery: Gallery) -> None:
    mgr = IdentityManager(make_cfg(), gallery, CAL)
    p = person(7)
    ups = track("A", 5, 0.0, n=5, emb=None, ended=False)
    ups[1].embedding = p  # the first usable embedding comes with the 2nd update
    seen = []
    for i, u in enumerate(ups):
        r = mgr.update([u])
        seen.append([round(s.ts - T0, 2) for _, s in r.sightings])
        if i < 2:
            assert mgr.global_id_of("A", 5) is None
    assert seen == [[], [], [0.0, 0.5, 1.0], [1.5], [2.0]]
    assert mgr.global_id_of("A", 5) == gid(1)


@pytest.mark.parametrize(("n", "released_at"), [(8, 5.0), (12, 5.0)])
def test_track_without_embedding_decided_after_max_pending(
    gallery: Gallery, n: int, released_at: float
) -> None:
    mgr = IdentityManager(make_cfg(), gallery, CAL)
    first_release = None
    for u in track("A", 1, 0.0, n=n, emb=None, dt=1.0, ended=False):
        r = mgr.update([u])
        if r.sightings and first_release is None:
            first_release = u.ts - T0
            assert len(r.sightings) == int(released_at) + 1
    assert first_release == released_at
    assert mgr.active_identities() == [gid(1)]


@pytest.mark.parametrize(("n", "expected"), [(2, {}), (3, {("A", 1): {gid(1)}})])
def test_short_ended_tracks_are_dropped(gallery: Gallery, n: int, expected: dict) -> None:
    mgr = IdentityManager(make_cfg(), gallery, CAL)
    r = mgr.update(track("A", 1, 0.0, n=n, emb=person(8)))
    assert ids_by_track(r) == expected
    assert len(r.events) == 2 * len(expected)


# ---- gallery upkeep ----------------------------------------------------------------
def test_identity_gallery_is_bounded_and_diverse(gallery: Gallery) -> None:
    mgr = IdentityManager(make_cfg(gallery_per_identity=4), gallery, CAL)
    p = person(9)
    turned = normalize(0.75 * p + 0.66 * person(10))[0]  # the same person, seen from behind
    ups = track("A", 1, 0.0, n=30, emb=p, noise=0.2, seed=3)
    ups[20].embedding = turned
    mgr.update(ups)
    assert gallery.count(global_id=gid(1)) == 4
    stored = gallery.embeddings_of(gid(1))
    assert float(np.max(stored @ turned)) == pytest.approx(1.0, abs=1e-5)
    assert gallery.count(day=DAY, exclude_archived=True) == 4


def test_min_quality_embeddings_are_not_used(gallery: Gallery) -> None:
    mgr = IdentityManager(make_cfg(min_quality=0.5), gallery, CAL)
    ups = track("A", 1, 0.0, n=8, emb=person(11), dt=1.0, ended=False)
    for u in ups:
        u.quality = 0.2
    r = mgr.update(ups[:5])
    assert r.sightings == []  # no usable embedding yet, max_pending not reached
    r = mgr.update(ups[5:])
    assert len(r.sightings) == 8
    assert gallery.count() == 0


# ---- ablations -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cam_b", "gap", "expected_b", "reason"),
    [
        ("B", 20.0, 1, "topology"),
        ("B", 2.0, 2, "new"),
        ("B", 100.0, 2, "new"),
        ("D", 20.0, 2, "new"),
        ("C", 3.0, 1, "topology"),
    ],
)
def test_without_reid_topology_decides(
    gallery: Gallery, cam_b: str, gap: float, expected_b: int, reason: str
) -> None:
    mgr = IdentityManager(make_cfg(use_reid=False), gallery, CAL)
    r1 = mgr.update(track("A", 1, 0.0, emb=person(1)))
    r2 = mgr.update(track(cam_b, 2, 2.5 + gap, emb=person(1)))
    assert ids_by_track(r1, r2) == {("A", 1): {gid(1)}, (cam_b, 2): {gid(expected_b)}}
    assert assigned(r2)[(cam_b, 2)]["reason"] == reason
    assert gallery.count() == 0  # no embeddings without ReID


def test_without_reid_the_closest_in_time_wins(gallery: Gallery) -> None:
    mgr = IdentityManager(make_cfg(use_reid=False), gallery, CAL)
    r1 = mgr.update(merged(track("A", 1, 0.0, n=6), track("A", 2, 10.0, n=6)))  # end +2.5, +12.5
    r2 = mgr.update(track("B", 3, 25.0, n=6))
    assert ids_by_track(r1, r2)[("B", 3)] == {gid(2)}
    assert assigned(r2)[("B", 3)]["reason"] == "topology"


@pytest.mark.parametrize(("use_topology", "expected"), [(True, 2), (False, 1)])
def test_without_topology_only_same_camera_rule(
    gallery: Gallery, use_topology: bool, expected: int
) -> None:
    mgr = IdentityManager(make_cfg(use_topology=use_topology), gallery, CAL)
    p = person(12)
    r = mgr.update(merged(track("A", 1, 0.0, emb=p), track("B", 1, 3.0, emb=p)))  # 0.5 s gap
    assert ids_by_track(r)[("B", 1)] == {gid(expected)}
    r2 = mgr.update(merged(track("D", 1, 10.0, emb=p), track("D", 2, 10.0, emb=p)))
    assert len(ids_by_track(r2)[("D", 1)] | ids_by_track(r2)[("D", 2)]) == 2


# ---- reset and restart -----------------------------------------------------------------
def test_reset_restarts_numbering_and_archives(gallery: Gallery) -> None:
    mgr = IdentityManager(make_cfg(), gallery, CAL)
    p, q = person(13), person(14)
    mgr.update(merged(track("A", 1, 0.0, emb=p), track("A", 2, 0.0, emb=q)))
    assert mgr.active_identities() == [gid(1), gid(2)]
    boundary = CAL.next_reset_after(T0)
    events = mgr.reset(boundary)
    assert [(e.kind, e.day, e.payload["identities"]) for e in events] == [
        (EventKind.RESET, "2026-11-19", 2)
    ]
    assert mgr.active_identities() == []
    assert mgr.global_id_of("A", 1) is None
    assert gallery.count(day=DAY, exclude_archived=True) == 0
    assert gallery.count(day=DAY) == 2 * 6
    r = mgr.update(track("A", 1, boundary - T0 + 60.0, emb=p))  # the same person, next day
    day2 = CAL.day_of(boundary)
    assert ids_by_track(r) == {("A", 1): {gid(1, day2)}}
    assert assigned(r)[("A", 1)]["reason"] == "new"
    assert mgr.reset(boundary + 10) != []  # a second reset the same day keeps counting
    r = mgr.update(track("A", 2, boundary - T0 + 90.0, emb=q))
    assert ids_by_track(r) == {("A", 2): {gid(2, day2)}}


def test_update_crossing_the_day_boundary_resets(gallery: Gallery) -> None:
    mgr = IdentityManager(make_cfg(), gallery, CAL)
    p = person(15)
    boundary = CAL.next_reset_after(T0)
    before = track("A", 1, boundary - T0 - 10.0, emb=p)
    after = track("B", 1, boundary - T0 + 20.0, emb=p)
    r = mgr.update(merged(before, after))
    assert ids_by_track(r) == {("A", 1): {gid(1)}, ("B", 1): {gid(1, "2026-11-19")}}
    assert [e.kind for e in r.events].count(EventKind.RESET) == 1
    assert mgr.day == "2026-11-19"


def test_restart_restores_identities_from_lancedb(tmp_path) -> None:
    cfg = make_cfg()
    p, q, s = person(16), person(17), person(18)
    mgr1 = IdentityManager(cfg, Gallery(tmp_path / "g", dim=DIM), CAL)
    r = mgr1.update(
        merged(track("A", 1, 0.0, emb=p, noise=0.2, seed=1), track("A", 2, 0.0, emb=q)),
    )
    mgr1.update(track("D", 3, 1.0, n=8, emb=None, dt=1.0))  # an identity without embeddings
    assert mgr1.active_identities() == [gid(1), gid(2), gid(3)]
    assert ids_by_track(r)[("A", 1)] == {gid(1)}
    del mgr1

    mgr2 = IdentityManager(cfg, Gallery(tmp_path / "g", dim=DIM), CAL)
    assert mgr2.restore(DAY) == [gid(1), gid(2), gid(3)]
    r2 = mgr2.update(
        merged(track("B", 1, 20.0, emb=p, noise=0.2, seed=2), track("B", 2, 20.0, emb=s))
    )
    assert ids_by_track(r2) == {("B", 1): {gid(1)}, ("B", 2): {gid(4)}}
    assert assigned(r2)[("B", 1)]["reason"] == "reid"
    # the restored sightings still gate: q was on A until +2.5 s, B at +3.5 s is too fast
    mgr3 = IdentityManager(cfg, Gallery(tmp_path / "g", dim=DIM), CAL)
    r3 = mgr3.update(track("B", 5, 3.5, emb=q))
    assert ids_by_track(r3)[("B", 5)] == {gid(5)}


# ---- housekeeping and bad input ----------------------------------------------------
def test_ended_tracks_are_forgotten_after_retention(gallery: Gallery) -> None:
    mgr = IdentityManager(make_cfg(), gallery, CAL, track_retention_s=30.0)
    p = person(19)
    mgr.update(track("A", 1, 0.0, emb=p))
    assert mgr.global_id_of("A", 1) == gid(1)
    mgr.update(track("C", 2, 40.0, emb=person(20)))
    assert mgr.global_id_of("A", 1) is None
    # the identity itself stays, with its sighting on A
    r = mgr.update(track("B", 3, 45.0, emb=p))
    assert ids_by_track(r) == {("B", 3): {gid(1)}}


def test_bad_input(gallery: Gallery) -> None:
    mgr = IdentityManager(make_cfg(), gallery, CAL)
    bad = track("A", 1, 0.0, n=1)[0]
    bad.embedding = np.ones(128, dtype=np.float32)
    with pytest.raises(ValueError, match=r"\('A', 1\).*dimension mismatch: got 128"):
        mgr.update([bad])
    with pytest.raises(TypeError, match="TrackletUpdate"):
        mgr.update([{"camera_id": "A"}])  # type: ignore[list-item]
    nan_ts = track("A", 2, 0.0, n=1)[0]
    nan_ts.ts = float("nan")
    with pytest.raises(ValueError, match="ts must be finite"):
        mgr.update([nan_ts])
    with pytest.raises(ValueError, match="track_retention_s"):
        IdentityManager(make_cfg(), gallery, CAL, track_retention_s=0)
    assert mgr.update([]) == IdentityResult()


@pytest.mark.parametrize("centring", [False, True])
def test_camera_centring_removes_a_shared_camera_bias(gallery: Gallery, centring: bool) -> None:
    """Each camera adds its own strong bias to every embedding (light, angle, background):
    raw cross-camera cosines of one person fall to ~0.3 and everyone gets a second ID;
    centred on each camera's running mean, the same person matches across cameras."""
    rng = np.random.default_rng(3)
    bias = {cam: 1.5 * normalize(rng.normal(size=DIM))[0] for cam in ("A", "D")}
    people = [person(100 + k) for k in range(12)]
    mgr = IdentityManager(make_cfg(camera_centring=centring, centring_min_embeddings=20), gallery)
    ups = []
    for cam, start in (("A", 0.0), ("D", 30.0)):  # D: unlisted pair, allowed after A ended
        for k, p in enumerate(people):
            ups += track(cam, k + 1, start, emb=normalize(p + bias[cam])[0], noise=0.05, seed=k)
    results = [mgr.update([u]) for u in merged(ups)]
    ids = ids_by_track(*results)
    same = sum(ids[("A", k + 1)] == ids[("D", k + 1)] for k in range(12))
    assert len(mgr.active_identities()) == (12 if centring else 24)
    assert same == (12 if centring else 0)


def test_camera_means_wait_for_enough_embeddings() -> None:
    from mcvision.identity.manager import CameraMeans

    cm = CameraMeans(min_count=3)
    v = normalize(np.array([1.0, 1.0, 0.0]))[0]
    cm.add("c", v)
    cm.add("c", v)
    np.testing.assert_allclose(cm.centre(v[None], ["c"]), v[None])  # 2 < 3: left as it is
    cm.add("c", normalize(np.array([1.0, -1.0, 0.0]))[0])
    out = cm.centre(np.array([[1.0, 0.0, 0.0]]), ["c"])
    assert np.isclose(np.linalg.norm(out), 1.0) and cm.mean("other") is None


@pytest.mark.parametrize("pairs", [False, True])
def test_pair_thresholds_learn_that_one_camera_makes_strangers_alike(
    gallery: Gallery, pairs: bool
) -> None:
    """Camera D adds one strong look to everyone it sees (strangers there ~0.5 cosine,
    above the global 0.45; elsewhere ~0). Twelve people on A at once, then on D at once:
    concurrent tracks on one camera are known-different, so the D-D pair learns a higher
    threshold than the others, and a stranger on D later gets a new ID instead of the ID
    of someone D saw before. The A-D hand-overs (~0.71) are kept either way."""
    rng = np.random.default_rng(7)
    look = normalize(rng.normal(size=DIM))[0]
    people = [person(200 + k) for k in range(12)]
    cfg = make_cfg(
        match_threshold=0.45,
        pair_thresholds=pairs,
        pair_fmr=0.5,
        pair_min_samples=20,
        correction_window_s=0.0,
    )
    mgr = IdentityManager(cfg, gallery, CAL)
    ups = []
    for cam, start in (("A", 0.0), ("D", 30.0)):  # D: unlisted pair, allowed after A ended
        for k, p in enumerate(people):
            e = p if cam == "A" else normalize(p + look)[0]
            ups += track(cam, k + 1, start, emb=e, noise=0.05, seed=k)
    results = [mgr.update([u]) for u in merged(ups)]
    ids = ids_by_track(*results)
    assert all(ids[("A", k + 1)] == ids[("D", k + 1)] for k in range(12))  # each person: 1 ID
    stranger = normalize(person(999) + look)[0]
    r = mgr.update(track("D", 50, 60.0, emb=stranger, noise=0.05, seed=50))
    a = assigned(r)[("D", 50)]
    if pairs:
        pt = mgr.pair_thresholds
        assert pt is not None and min(pt.count("A", "A"), pt.count("D", "D")) >= 20
        assert pt.threshold("D", "D") > 0.8 and abs(pt.threshold("A", "D") - 0.45) < 0.1
        assert a["reason"] == "new" and len(mgr.active_identities()) == 13
    else:
        assert mgr.pair_thresholds is None
        assert a["reason"] == "reid" and len(mgr.active_identities()) == 12
