"""Hand-made ground truths for the metric tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mcvision.sim.truth import GroundTruth, GTBox, GTCamera, GTPerson, GTVisit

Track = dict[str, list[tuple[str, int, float, float]]]  # person -> [(camera, frame, x, y)]


def _make_gt(
    tracks: Track,
    *,
    cameras: tuple[str, ...] = ("c1",),
    frames: int = 10,
    fps: float = 10.0,
    height: float = 100.0,
    visits: dict[str, list[GTVisit]] | None = None,
    visibility: float = 1.0,
) -> GroundTruth:
    """A ground truth whose people stand at the given foot points, boxes ``height`` tall."""
    rows: dict[str, list[list[GTBox]]] = {c: [[] for _ in range(frames)] for c in cameras}
    for pid, pts in tracks.items():
        for cam, i, x, y in pts:
            rows[cam][i].append(
                GTBox(
                    id=pid, box=(x - 20, y - height, x + 20, y), foot=(x, y), visibility=visibility
                )
            )
    visits = visits or {}
    return GroundTruth(
        site_id="t",
        seed=0,
        fps=fps,
        duration_s=frames / fps,
        zone_enter_s=2.0,
        zone_exit_s=3.0,
        cameras=[
            GTCamera(
                id=c, width=1000, height=500, frames=frames, video=f"{c}.mp4", zones={}, lines={}
            )
            for c in cameras
        ],
        transits=[],
        people=[
            GTPerson(id=p, source="x", is_staff=False, visits=visits.get(p, []), appearances=[])
            for p in sorted(tracks)
        ],
        frames=rows,
    )


@pytest.fixture
def two_people() -> Callable[..., GroundTruth]:
    """A and B on camera c1 in frames 0-9, 500 px apart."""

    def build(**kw) -> GroundTruth:
        return _make_gt(
            {
                "A": [("c1", i, 200.0, 300.0) for i in range(10)],
                "B": [("c1", i, 700.0, 300.0) for i in range(10)],
            },
            **kw,
        )

    return build


@pytest.fixture
def make_gt() -> Callable[..., GroundTruth]:
    """Build a ground truth from foot tracks (see ``_make_gt``)."""
    return _make_gt
