from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from mcvision.config import load_config
from mcvision.sim import check_ground_truth, load_ground_truth, run_sim
from mcvision.sim.scenario import Scenario


@pytest.fixture
def rendered(people_dir: Path, tiny: Scenario, tmp_path: Path):
    return run_sim([people_dir], tmp_path / "out", seed=3, scenario=tiny, check_detector=False)


def test_ground_truth_is_self_consistent(rendered) -> None:
    gt = load_ground_truth(rendered.ground_truth)
    assert check_ground_truth(gt) == []
    assert len(gt.people) == 3 and sum(p.is_staff for p in gt.people) == 1
    for cam in gt.cameras:
        for boxes in gt.frames[cam.id]:
            for b in boxes:
                assert (
                    0 <= b.box[0] < b.box[2] <= cam.width and 0 <= b.box[1] < b.box[3] <= cam.height
                )


def test_shoppers_cross_the_entrance_line_in_then_out(rendered) -> None:
    gt = load_ground_truth(rendered.ground_truth)
    for p in gt.people:
        for v in p.visits:
            expected = ("sighting", "sighting") if p.is_staff else ("line", "line")
            assert (v.in_source, v.out_source) == expected
            assert v.in_s < v.out_s
            first = min(a.start_s for a in p.appearances if a.start_s <= v.out_s)
            assert v.in_s >= first  # seen at the door before crossing in


def test_zone_stays_match_the_boxes(rendered) -> None:
    gt = load_ground_truth(rendered.ground_truth)
    for p in gt.people:
        for v in p.visits:
            for z in v.zones:
                cam = z.cameras[0]
                inside = [
                    i / gt.fps
                    for i, boxes in enumerate(gt.frames[cam])
                    for b in boxes
                    if b.id == p.id and b.zone == z.zone
                ]
                assert z.enter_s in inside and z.exit_s in inside
                assert z.exit_s - z.enter_s >= gt.zone_enter_s


@pytest.mark.parametrize("broken", ["box", "zone", "transit"])
def test_check_catches_broken_truth(rendered, broken: str) -> None:
    gt = load_ground_truth(rendered.ground_truth)
    data = gt.model_dump()
    if broken == "box":
        cam, i = next((c, i) for c, rows in data["frames"].items() for i, r in enumerate(rows) if r)
        data["frames"][cam][i][0]["box"] = (-5.0, 0.0, 10.0, 20.0)
        expected = "leaves the frame"
    elif broken == "zone":
        v = next(v for p in data["people"] for v in p["visits"] if v["zones"])
        v["zones"][0]["exit_s"] = v["out_s"] + 5
        expected = "outside its visit"
    else:
        data["transits"][0]["max_s"] = 0.01
        data["transits"][0]["min_s"] = 0.0
        expected = "outside"
    problems = check_ground_truth(type(gt).model_validate(data))
    assert problems and any(expected in msg for msg in problems)


def test_same_seed_same_bytes(people_dir: Path, tiny: Scenario, tmp_path: Path, rendered) -> None:
    again = run_sim([people_dir], tmp_path / "again", seed=3, scenario=tiny, check_detector=False)
    other = run_sim([people_dir], tmp_path / "other", seed=4, scenario=tiny, check_detector=False)
    assert again.ground_truth.read_bytes() == rendered.ground_truth.read_bytes()
    assert other.ground_truth.read_bytes() != rendered.ground_truth.read_bytes()


def test_videos_have_every_frame(rendered, tiny: Scenario) -> None:
    for cam in tiny.cameras:
        cap = cv2.VideoCapture(str(rendered.videos[cam.id]))
        n = 0
        while True:
            ok, img = cap.read()
            if not ok:
                break
            assert img.shape == (cam.height, cam.width, 3)
            n += 1
        cap.release()
        assert n == tiny.frames


def test_site_config_matches_the_render(rendered, tiny: Scenario) -> None:
    cfg = load_config(rendered.site_config)
    gt = load_ground_truth(rendered.ground_truth)
    assert [c.id for c in cfg.cameras] == [c.id for c in tiny.cameras]
    for c in cfg.cameras:
        assert Path(str(c.source)).resolve() == rendered.videos[c.id].resolve()
        assert c.resolution == (gt.camera(c.id).width, gt.camera(c.id).height)
        assert {z.name: [tuple(p) for p in z.polygon] for z in c.zones} == {
            n: [tuple(p) for p in poly] for n, poly in gt.camera(c.id).zones.items()
        }
    assert [ln.name for ln in cfg.camera("a").lines] == ["door"]
    assert cfg.visits.track_point_every_s < 1 / tiny.fps
    assert Path(cfg.storage.root) == (rendered.out_dir / "store").resolve()
    t = cfg.transit("a", "b")
    assert (t.min_s, t.max_s, cfg.topology.unlisted) == (0.2, 0.6, "deny")


def test_perspective_and_native_scale(rendered, tiny: Scenario) -> None:
    gt = load_ground_truth(rendered.ground_truth)
    cam = tiny.camera("a")
    for boxes in gt.frames["a"]:
        for b in boxes:
            if b.box[0] > 0 and b.box[2] < cam.width:  # not cut by the frame edge
                h = b.box[3] - b.box[1]
                assert h == pytest.approx(cam.person_height(b.foot[1]), abs=1.5)


@pytest.mark.slow
def test_detector_finds_the_rendered_people(assets: Path, tiny: Scenario, tmp_path: Path) -> None:
    big = tiny.model_copy(
        update={
            "cameras": [c.model_copy(update={"width": 640, "height": 360}) for c in tiny.cameras]
        }
    )
    res = run_sim(
        [assets / "footage" / "MOT17-mini"],
        tmp_path / "real",
        seed=1,
        scenario=big,
        detector_frames=8,
    )
    report = json.loads(res.report_path.read_text())
    det = report["detector"]
    assert det["gt_boxes"] > 0
    assert det["recall"] >= 0.8, det
    assert report["matting"] == "feather"
    assert np.isclose(det["recall"], det["detected"] / det["gt_boxes"], atol=1e-3)


def test_labelled_truth_folder_scores_like_the_ground_truth(rendered, tmp_path: Path) -> None:
    """``gt/`` (MOT format) and ``ground_truth.json`` give the same numbers on one render."""
    from mcvision.analytics.store import EventStore
    from mcvision.evaluate.labelled import evaluate_labelled
    from mcvision.evaluate.score import evaluate
    from mcvision.types import Records, TrackPoint, Visit

    gt = load_ground_truth(rendered.ground_truth)
    assert (rendered.labelled_truth / "cameras.csv").is_file()
    assert sorted(p.name for p in rendered.labelled_truth.glob("*.txt")) == ["a.txt", "b.txt"]
    start, day = 1_764_000_000.0, "2025-11-24"
    rec = Records()
    for cam in gt.cameras:  # camera b gives everyone a second ID: a cross-camera miss
        for i, boxes in enumerate(gt.frames[cam.id]):
            for b in boxes:
                gid = b.id if cam.id == "a" else f"{b.id}-b"
                rec.track_points.append(
                    TrackPoint(
                        gt.site_id,
                        day,
                        cam.id,
                        gid,
                        "v",
                        start + i / gt.fps,
                        b.foot[0] / cam.width,
                        b.foot[1] / cam.height,
                    )
                )
    for p in gt.people:
        for k, v in enumerate(p.visits):
            rec.visits.append(
                Visit(
                    f"{p.id}-{k}",
                    gt.site_id,
                    day,
                    p.id,
                    start + v.in_s,
                    start + v.out_s,
                    closed=True,
                )
            )
    store = EventStore(tmp_path / "store" / "events", gt.site_id)
    store.write(rec)
    store.flush()
    sim = evaluate(rendered.out_dir, tmp_path / "store", start_ts=start)
    lab = evaluate_labelled(rendered.labelled_truth, tmp_path / "store", start_ts=start)
    assert lab.tracking == sim.tracking and lab.visits == sim.visits
    assert sim.tracking.fragmentation is not None and sim.tracking.fragmentation > 0


def test_site_config_puts_the_zones_on_the_floor_plan(rendered) -> None:
    from mcvision.identity.geometry import FloorCalibration

    cfg = load_config(rendered.site_config)
    areas = {a.name: np.array(a.polygon) for a in cfg.floor_plan.areas}
    assert areas and set(areas) <= set(cfg.zone_names)
    projected: dict[str, list[np.ndarray]] = {}
    for cam in cfg.cameras:
        assert cam.floor is not None
        cal = FloorCalibration.from_config(cam.id, cam.floor)
        for z in cam.zones:
            projected.setdefault(z.name, []).append(cal.project(np.array(z.polygon)))
    for name, poly in areas.items():  # the zone of some camera, through its calibration
        assert any(
            p.shape == poly.shape and np.allclose(p, poly, atol=0.05) for p in projected[name]
        )
