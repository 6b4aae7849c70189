"""Two people cross and the tracker carries one's ID on to the other (``identity.contest_wait_s``).

P is track 1 and Q track 2 on one camera. At +2.0 s they cross: track 2 is lost, track 1
goes on with Q's box (no embedding yet: the camera embeds every few frames) and P
reappears as track 3. Track 3 looks like P's identity, which track 1 still holds in the
same frames: one camera never shows a person twice, so without the contest P gets a
second ID.
"""

from __future__ import annotations

import numpy as np
import pytest

from mcvision.business_day import BusinessCalendar
from mcvision.config import SiteConfig
from mcvision.identity.gallery import Gallery, normalize
from mcvision.identity.manager import IdentityManager
from mcvision.types import EventKind, TrackletUpdate

DIM = 64
T0 = 1_795_000_000.0
CAL = BusinessCalendar("00:00", "Asia/Kolkata")
BOX = np.array([100.0, 50.0, 160.0, 250.0], dtype=np.float32)
FOOT = np.array([130.0, 250.0], dtype=np.float32)
DT = 0.2


def manager(wait: float) -> IdentityManager:
    cfg = SiteConfig.model_validate(
        {
            "site_id": "s",
            "cameras": [{"id": "A", "source": "A.mp4"}],
            "identity": {"match_threshold": 0.7, "min_frames": 3, "contest_wait_s": wait},
        }
    )
    return IdentityManager(cfg, Gallery("memory://", dim=DIM), CAL)


def person(seed: int) -> np.ndarray:
    return normalize(np.random.default_rng(seed).normal(size=DIM))[0]


def upd(lid: int, t: float, emb: np.ndarray | None = None, ended: bool = False) -> TrackletUpdate:
    e = None
    if emb is not None:
        rng = np.random.default_rng(int(t * 100) + lid)
        e = normalize(emb + 0.1 * rng.normal(size=DIM) / np.sqrt(DIM))[0]
    return TrackletUpdate("A", lid, T0 + t, BOX, FOOT, embedding=e, ended=ended)


def crossing(track1_after: str) -> list[TrackletUpdate]:
    """Frames 0-2 s: P (track 1), Q (track 2), each embedded on start. From 2 s: track 2 is
    lost (ended at 3 s), track 1 holds Q and P is track 3 (embedded on start). Track 1 then
    either shows its next embedding at 3.6 s (``"embeds"``: Q's) or ends at 3.0 s unseen
    again (``"ends"``)."""
    p, q = person(1), person(2)
    out: list[TrackletUpdate] = []
    for i in range(10):  # 0 .. 1.8 s
        t = i * DT
        out += [upd(1, t, p if i == 0 else None), upd(2, t, q if i == 0 else None)]
    out.append(upd(2, 3.0, ended=True))
    for i in range(10, 25):  # 2.0 .. 4.8 s
        t = i * DT
        if track1_after == "embeds" or t < 2.9:
            out.append(upd(1, t, q if abs(t - 3.6) < 1e-6 else None))
        out.append(upd(3, t, p if i == 10 else None))
    if track1_after == "ends":
        out.append(upd(1, 3.0, ended=True))
    return sorted(out, key=lambda u: (u.ts, u.local_id))


def run(
    mgr: IdentityManager, ups: list[TrackletUpdate]
) -> tuple[dict[tuple[int, float], str], int]:
    """(local ID, seconds) -> the global ID it was released under; IDs created."""
    ids: dict[tuple[int, float], str] = {}
    new = 0
    for u in ups:
        r = mgr.update([u])
        for g, s in r.sightings:
            ids[(s.local_id, round(s.ts - T0, 1))] = g
        new += sum(e.kind == EventKind.IDENTITY_NEW for e in r.events)
    return ids, new


def test_the_new_track_takes_the_identity_back_when_the_holder_looks_like_someone_else() -> None:
    ids, new = run(manager(3.0), crossing("embeds"))
    p_id, q_id = ids[(1, 0.0)], ids[(2, 0.0)]
    assert p_id != q_id
    assert {ids[(3, round(i * DT, 1))] for i in range(10, 25)} == {p_id}  # P keeps P's ID
    # track 1 from its embedding on is decided afresh: Q's look, Q's ID (Q's track ended)
    assert {ids[(1, round(i * DT, 1))] for i in range(18, 25)} == {q_id}
    assert new == 2


def test_the_holder_ending_unseen_leaves_the_identity_to_the_new_track() -> None:
    ids, new = run(manager(3.0), crossing("ends"))
    p_id = ids[(1, 0.0)]
    assert {ids[(3, round(i * DT, 1))] for i in range(10, 25)} == {p_id}
    assert new == 2  # no ID for what track 1 showed after the swap


@pytest.mark.parametrize("after", ["embeds", "ends"])
def test_without_the_contest_the_person_gets_a_second_id(after: str) -> None:
    ids, new = run(manager(0.0), crossing(after))
    assert ids[(3, 2.0)] not in (ids[(1, 0.0)], ids[(2, 0.0)])
    assert new >= 3


def test_the_holder_still_looking_like_the_identity_keeps_it() -> None:
    """A duplicate box on P (track 3) while track 1 really is P: track 1's next embedding
    still looks like P, so the contest is lost and track 3 is decided as before."""
    p = person(1)
    ups = [upd(1, i * DT, p if i in (0, 10) else None) for i in range(20)]
    ups += [upd(3, i * DT, p if i == 5 else None) for i in range(5, 14)]
    ids, new = run(manager(3.0), sorted(ups, key=lambda u: (u.ts, u.local_id)))
    assert {ids[(1, round(i * DT, 1))] for i in range(20)} == {ids[(1, 0.0)]}
    assert ids[(3, 1.0)] != ids[(1, 0.0)]
    assert new == 2
