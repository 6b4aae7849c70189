"""Splitting a local track where its appearance changes (``identity.track_split_similarity``)."""

from __future__ import annotations

from typing import Any

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


def manager(split: float | None, **identity: Any) -> IdentityManager:
    ident = {"match_threshold": 0.7, "min_frames": 3, "track_split_similarity": split}
    ident.update(identity)
    cfg = SiteConfig.model_validate(
        {
            "site_id": "s",
            "cameras": [{"id": "A", "source": "A.mp4"}],
            "identity": ident,
        }
    )
    return IdentityManager(cfg, Gallery("memory://", dim=DIM), CAL)


def person(seed: int) -> np.ndarray:
    return normalize(np.random.default_rng(seed).normal(size=DIM))[0]


def noisy(p: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    return normalize(p + noise * rng.normal(size=DIM) / np.sqrt(DIM))[0]


def updates(
    lid: int,
    start: float,
    people: list[np.ndarray],
    noise: float = 0.1,
    seed: int = 0,
    every: int = 1,
) -> list[TrackletUpdate]:
    """One local track, an update every 0.2 s; every ``every``-th has an embedding of
    ``people[i]`` (the camera embeds a track every ``embed_every_frames``)."""
    rng = np.random.default_rng(seed)
    return [
        TrackletUpdate(
            "A",
            lid,
            T0 + start + 0.2 * i,
            BOX,
            FOOT,
            embedding=noisy(p, rng, noise) if i % every == 0 else None,
        )
        for i, p in enumerate(people)
    ]


def gids(mgr: IdentityManager, ups: list[TrackletUpdate]) -> list[str]:
    """The global ID each update was released under, in order (one update at a time)."""
    out: dict[float, str] = {}
    for u in ups:
        for g, s in mgr.update([u]).sightings:
            out[s.ts] = g
    return [out[u.ts] for u in ups if u.ts in out]


def test_a_track_carried_on_to_someone_else_is_split() -> None:
    p, q = person(1), person(2)
    mgr = manager(0.5)
    ups = updates(1, 0.0, [p] * 6 + [q] * 6)
    got = gids(mgr, ups)
    assert len(set(got[:6])) == 1 and len(set(got[6:])) == 1
    assert got[0] != got[-1]  # Q is not counted as P
    # P's gallery holds nothing of Q
    (p_rows,) = [mat for g, mat, _ in mgr.identity_views() if g == got[0]]
    assert p_rows is not None and float(np.min(p_rows @ p)) > 0.9


def test_without_the_split_the_swap_joins_the_first_identity() -> None:
    p, q = person(1), person(2)
    got = gids(manager(None), updates(1, 0.0, [p] * 6 + [q] * 6))
    assert len(set(got)) == 1  # today's behaviour: Q is counted as P


def test_a_noisy_track_of_one_person_is_not_split() -> None:
    p = person(3)
    mgr = manager(0.5)
    res = [mgr.update([u]) for u in updates(1, 0.0, [p] * 30, noise=0.6)]
    assert sum(e.kind == EventKind.IDENTITY_NEW for r in res for e in r.events) == 1


@pytest.mark.parametrize("split", [0.999, 0.5])
def test_a_needless_split_returns_to_the_same_identity(split: float) -> None:
    """Splitting one person's track (at 0.999: at every embedding) costs a re-match, not
    an ID: the earlier part is the identity's past on this camera, not a concurrent track."""
    p = person(4)
    mgr = manager(split)
    ups = updates(1, 0.0, [p] * 40, noise=0.3, every=5)
    res = [mgr.update([u]) for u in ups]
    got = [g for r in res for g, _ in r.sightings]
    assert len(got) == len(ups) and len(set(got)) == 1
    splits = sum(e.kind == EventKind.TRACK_ASSIGNED for r in res for e in r.events)
    assert splits == (8 if split > 0.99 else 1)
