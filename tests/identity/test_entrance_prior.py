"""A track that begins away from every entrance is someone already inside
(``identity.entrance_prior``, :mod:`mcvision.identity.entrances`).

P is seen at the door camera's entrance line, then a track begins on the aisle camera
(no entrance) whose one embedding scores 0.62 against P: under ``match_threshold`` 0.7,
over it less the prior 0.15.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mcvision.business_day import BusinessCalendar
from mcvision.config import SiteConfig
from mcvision.identity.entrances import Entrances
from mcvision.identity.gallery import Gallery, normalize
from mcvision.identity.manager import IdentityManager
from mcvision.types import Direction, EventKind, LineCrossing, TrackletUpdate

DIM = 64
T0 = 1_795_000_000.0
CAL = BusinessCalendar("00:00", "Asia/Kolkata")
DT = 0.2
DOOR_X = 100.0  # the door camera's entrance line: x = 100, top to bottom
SIZE = (640, 360)


def site(prior: float, *, lines: bool = True, **identity: Any) -> SiteConfig:
    door_lines = [{"name": "door", "points": [[DOOR_X, 0], [DOOR_X, 360]]}] if lines else []
    return SiteConfig.model_validate(
        {
            "site_id": "s",
            "cameras": [
                {"id": "door", "source": "a.mp4", "lines": door_lines},
                {"id": "aisle", "source": "b.mp4"},
            ],
            "identity": {
                "match_threshold": 0.7,
                "min_frames": 3,
                "entrance_prior": prior,
                "entrance_grace_s": 0.0,
                **identity,
            },
        }
    )


def person(seed: int) -> np.ndarray:
    return normalize(np.random.default_rng(seed).normal(size=DIM))[0]


def at_cosine(v: np.ndarray, c: float, seed: int) -> np.ndarray:
    """A unit vector whose cosine with unit ``v`` is ``c``."""
    o = np.random.default_rng(seed).normal(size=DIM)
    o -= (o @ v) * v
    o /= np.linalg.norm(o)
    return (c * v + np.sqrt(1 - c * c) * o).astype(np.float32)


def track(
    cam: str,
    lid: int,
    t0: float,
    emb: np.ndarray,
    x: float,
    n: int = 6,
    out_at_end: bool = False,
) -> list[TrackletUpdate]:
    """``n`` sightings from ``t0`` (s) with the foot at ``x`` px, embedded on the first."""
    box = np.array([x - 30, 100, x + 30, 300], np.float32)
    foot = np.array([x, 300], np.float32)
    ups = []
    for i in range(n):
        crossings = (LineCrossing("door", Direction.OUT),) if out_at_end and i == n - 1 else ()
        ups.append(
            TrackletUpdate(
                cam,
                lid,
                T0 + t0 + i * DT,
                box,
                foot,
                embedding=emb if i == 0 else None,
                crossings=crossings,
                frame_size=SIZE,
            )
        )
    ups.append(TrackletUpdate(cam, lid, T0 + t0 + n * DT, box, foot, ended=True, frame_size=SIZE))
    return ups


def ids_of(
    cfg: SiteConfig, *tracks: list[TrackletUpdate]
) -> tuple[dict[tuple[str, int], str], int]:
    """Global ID per (camera, local ID), and how many IDs were created."""
    mgr = IdentityManager(cfg, Gallery("memory://", dim=DIM), CAL)
    out: dict[tuple[str, int], str] = {}
    new = 0
    for u in sorted((u for t in tracks for u in t), key=lambda u: u.ts):
        r = mgr.update([u])
        out.update({(s.camera_id, s.local_id): g for g, s in r.sightings})
        new += sum(e.kind == EventKind.IDENTITY_NEW for e in r.events)
    return out, new


P = person(1)
AT_DOOR = track("door", 1, 0.0, P, x=DOOR_X + 20)
LATER = at_cosine(P, 0.62, seed=9)  # P again, a poor crop: under 0.7, over 0.7 - 0.15


def test_a_track_away_from_every_entrance_takes_the_existing_id() -> None:
    ids, new = ids_of(site(0.15), AT_DOOR, track("aisle", 5, 5.0, LATER, x=300))
    assert ids[("aisle", 5)] == ids[("door", 1)]
    assert new == 1


def test_without_the_prior_the_same_track_is_a_new_person() -> None:
    ids, new = ids_of(site(0.0), AT_DOOR, track("aisle", 5, 5.0, LATER, x=300))
    assert ids[("aisle", 5)] != ids[("door", 1)]
    assert new == 2


def test_a_track_beginning_at_the_door_may_be_a_new_person() -> None:
    ids, new = ids_of(site(0.15), AT_DOOR, track("door", 5, 5.0, LATER, x=DOOR_X - 40))
    assert ids[("door", 5)] != ids[("door", 1)]
    assert new == 2


def test_far_from_the_line_on_the_door_camera_is_inside() -> None:
    ids, _ = ids_of(site(0.15), AT_DOOR, track("door", 5, 5.0, LATER, x=500))
    assert ids[("door", 5)] == ids[("door", 1)]


def test_someone_who_went_out_through_the_door_is_not_inside_any_more() -> None:
    gone = track("door", 1, 0.0, P, x=DOOR_X + 20, out_at_end=True)
    ids, new = ids_of(site(0.15), gone, track("aisle", 5, 5.0, LATER, x=300))
    assert ids[("aisle", 5)] != ids[("door", 1)]
    assert new == 2


def test_a_site_without_entrance_lines_is_unchanged() -> None:
    ids, new = ids_of(site(0.15, lines=False), AT_DOOR, track("aisle", 5, 5.0, LATER, x=300))
    assert ids[("aisle", 5)] != ids[("door", 1)]
    assert new == 2


def test_tracks_in_the_first_seconds_count_as_at_an_entrance() -> None:
    """People already inside when the cameras start were never seen coming in."""
    cfg = site(0.15, entrance_grace_s=10.0)
    ids, new = ids_of(cfg, AT_DOOR, track("aisle", 5, 5.0, LATER, x=300))
    assert ids[("aisle", 5)] != ids[("door", 1)]
    assert new == 2


def test_a_stranger_is_still_a_new_person() -> None:
    """The prior lowers the bar, it does not remove it: a different look is a new ID."""
    stranger = at_cosine(P, 0.3, seed=4)
    ids, new = ids_of(site(0.15), AT_DOOR, track("aisle", 5, 5.0, stranger, x=300))
    assert ids[("aisle", 5)] != ids[("door", 1)]
    assert new == 2


@pytest.mark.parametrize(
    ("foot", "height", "near"),
    [((110.0, 200.0), 100.0, True), ((250.0, 200.0), 100.0, False), ((250.0, 200.0), 200.0, True)],
)
def test_at_entrance_is_within_radius_box_heights_of_a_line(
    foot: tuple[float, float], height: float, near: bool
) -> None:
    e = Entrances.from_config(site(0.15))
    assert e.at_entrance("door", foot, height, SIZE) is near
    assert e.at_entrance("aisle", foot, height, SIZE) is False


def test_normalized_lines_are_placed_on_the_frame() -> None:
    cfg = SiteConfig.model_validate(
        {
            "site_id": "s",
            "cameras": [
                {
                    "id": "c",
                    "source": "a.mp4",
                    "lines": [{"name": "d", "points": [[0.5, 0], [0.5, 1]], "normalized": True}],
                }
            ],
        }
    )
    e = Entrances.from_config(cfg)
    assert e.at_entrance("c", (330.0, 100.0), 50.0, (640, 360))  # 10 px from x = 320
    assert not e.at_entrance("c", (100.0, 100.0), 50.0, (640, 360))


def test_normalized_lines_without_a_frame_size_never_claim_a_track_is_inside() -> None:
    cfg = SiteConfig.model_validate(
        {
            "site_id": "s",
            "cameras": [
                {
                    "id": "c",
                    "source": "a.mp4",
                    "lines": [{"name": "d", "points": [[0.5, 0], [0.5, 1]], "normalized": True}],
                }
            ],
        }
    )
    assert Entrances.from_config(cfg).at_entrance("c", (10.0, 10.0), 50.0, None)


def test_line_distance_is_to_the_segment_known_answers() -> None:
    from mcvision.config import LineConfig
    from mcvision.tracking.zones import LineCrossingDetector

    lines = LineCrossingDetector([LineConfig(name="d", points=((-2, 0), (2, 0)))])
    assert lines.distance((0, 3)) == pytest.approx(3.0)
    assert lines.distance((5, 4)) == pytest.approx(5.0)  # past the end: to the end point
    assert LineCrossingDetector([]).distance((0, 0)) == float("inf")
