from __future__ import annotations

from pathlib import Path

import pytest

from mcvision.analytics.store import EventStore
from mcvision.evaluate import evaluate, format_report
from mcvision.evaluate.score import estimate_start_ts
from mcvision.sim.truth import GroundTruth, GTVisit, GTZoneVisit, dump_ground_truth
from mcvision.types import Records, TrackPoint, Visit, ZoneVisit

START = 1_767_600_000.0  # 2026-01-05 08:00 UTC
DAY = "2026-01-05"


def walkers(make_gt) -> GroundTruth:
    """A walks right 30 px a frame on c1 (frames 0-19), then on c2 (20-39); B stands on c1."""
    visits = {
        "A": [
            GTVisit(
                in_s=0.0,
                out_s=3.9,
                in_source="line",
                out_source="sighting",
                cameras=["c1", "c2"],
                zones=[GTZoneVisit(zone="z", enter_s=0.5, exit_s=1.5, cameras=["c1"])],
            )
        ],
        "B": [
            GTVisit(
                in_s=0.0,
                out_s=1.9,
                in_source="sighting",
                out_source="sighting",
                cameras=["c1"],
                zones=[],
            )
        ],
    }
    return make_gt(
        {
            "A": [("c1", i, 100.0 + 30 * i, 300.0) for i in range(20)]
            + [("c2", i, 100.0 + 30 * (i - 20), 300.0) for i in range(20, 40)],
            "B": [("c1", i, 900.0, 400.0) for i in range(20)],
        },
        cameras=("c1", "c2"),
        frames=40,
        visits=visits,
    )


def write_store(gt: GroundTruth, root: Path, *, skip_first: int = 0, ids=None) -> None:
    """The ground truth as the runtime would store it (frame i at START + i / fps)."""
    ids = ids or (lambda pid, cam: pid)
    store = EventStore(root / "events", gt.site_id)
    rec = Records()
    for cam in gt.cameras:
        seen: dict[str, int] = {}
        for i, boxes in enumerate(gt.frames[cam.id]):
            for b in boxes:
                seen[b.id] = seen.get(b.id, 0) + 1
                if seen[b.id] <= skip_first:
                    continue
                rec.track_points.append(
                    TrackPoint(
                        gt.site_id,
                        DAY,
                        cam.id,
                        ids(b.id, cam.id),
                        "v",
                        START + i / gt.fps,
                        b.foot[0] / cam.width,
                        b.foot[1] / cam.height,
                    )
                )
    for p in gt.people:
        for k, v in enumerate(p.visits):
            vid = f"{p.id}-{k}"
            rec.visits.append(
                Visit(vid, gt.site_id, DAY, p.id, START + v.in_s, START + v.out_s, closed=True)
            )
            for z in v.zones:
                rec.zone_visits.append(
                    ZoneVisit(
                        f"{vid}-{z.zone}",
                        gt.site_id,
                        DAY,
                        p.id,
                        vid,
                        z.zone,
                        START + z.enter_s,
                        START + z.exit_s,
                        closed=True,
                    )
                )
    store.write(rec)
    store.flush()


@pytest.mark.parametrize("given", [True, False])
def test_perfect_run_scores_perfectly(make_gt, tmp_path: Path, given: bool) -> None:
    gt = walkers(make_gt)
    dump_ground_truth(gt, tmp_path / "ground_truth.json")
    write_store(gt, tmp_path / "store")
    r = evaluate(tmp_path, tmp_path / "store", start_ts=START if given else None)
    assert r.start_ts == pytest.approx(START, abs=1e-6)
    assert r.start_ts_source == ("given" if given else "estimated")
    assert r.track_points == r.track_points_used == 60
    assert (r.tracking.overall.idf1, r.tracking.overall.mota) == (1.0, 1.0)
    v = r.visits
    assert (v.visits_matched, v.in_mae_s, v.out_mae_s, v.total_dwell_mae_s) == (2, 0.0, 0.0, 0.0)
    assert v.zone_dwell_rel_error == {"z": 0.0}
    assert v.unique_visitor_error == 0
    text = format_report(r)
    assert "global IDF1 (all cameras jointly): 100.0%" in text
    assert "c2" in text and "z " in text


def test_start_is_found_when_the_first_frames_are_missing(make_gt, tmp_path: Path) -> None:
    gt = walkers(make_gt)
    write_store(gt, tmp_path / "store", skip_first=3)  # tracks confirmed after 3 frames
    rows = EventStore(tmp_path / "store" / "events", gt.site_id).sql("SELECT * FROM track_points")
    assert estimate_start_ts(gt, rows) == pytest.approx(START, abs=1e-6)


def test_new_id_on_second_camera_halves_global_idf1(make_gt, tmp_path: Path) -> None:
    gt = walkers(make_gt)
    dump_ground_truth(gt, tmp_path / "ground_truth.json")
    write_store(gt, tmp_path / "store", ids=lambda pid, cam: f"{pid}@{cam}" if pid == "A" else pid)
    r = evaluate(tmp_path, tmp_path / "store", start_ts=START)
    # A: 40 frames, 20 under each ID -> IDTP 20 + B's 20 = 40, IDFN 20, IDFP 20 -> 80/120
    assert r.tracking.overall.idf1 == pytest.approx(80 / 120, abs=1e-4)  # reported to 4 places
    assert [s.idf1 for s in r.tracking.per_camera] == [1.0, 1.0]
    assert r.tracking.fragmentation == 0.5  # A of A, B
    assert r.visits.unique_visitor_error == 2  # A@c1, A@c2 and the visit rows' A


def test_empty_store_cannot_be_aligned(make_gt, tmp_path: Path) -> None:
    dump_ground_truth(walkers(make_gt), tmp_path / "ground_truth.json")
    with pytest.raises(ValueError, match="cannot align"):
        evaluate(tmp_path, tmp_path / "store")


def test_missing_ground_truth(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ground truth file not found"):
        evaluate(tmp_path, tmp_path / "store")
