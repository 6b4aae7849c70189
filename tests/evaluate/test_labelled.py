"""Labelled footage (MOT format): round trip, the same numbers as the simulator's truth, sparse
labels, bad input, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_score import DAY, START, walkers, write_store

from mcvision.analytics.store import EventStore
from mcvision.cli import main
from mcvision.config import parse_config
from mcvision.datasets.mot import MOTFormatError, read_mot_file
from mcvision.evaluate.labelled import evaluate_labelled, load_labelled, load_labelled_truth
from mcvision.evaluate.score import evaluate, format_report
from mcvision.sim.mot_export import write_labelled_truth
from mcvision.sim.truth import GTVisit, GTZoneVisit, dump_ground_truth
from mcvision.types import Records, TrackPoint


def _with_staff(gt):
    people = [p.model_copy(update={"is_staff": p.id == "B"}) for p in gt.people]
    return gt.model_copy(update={"people": people})


def test_round_trip_keeps_boxes_visits_zones_and_staff(make_gt, tmp_path: Path) -> None:
    gt = _with_staff(walkers(make_gt))
    gt = gt.model_copy(
        update={
            "frames": {
                **gt.frames,
                "c1": [
                    [
                        b.model_copy(
                            update={"visibility": 0.25, "box": (b.box[0] + 0.4, *b.box[1:])}
                        )
                        for b in boxes
                    ]
                    for boxes in gt.frames["c1"]
                ],
            }
        }
    )
    write_labelled_truth(gt, tmp_path / "gt")
    assert sorted(p.name for p in (tmp_path / "gt").iterdir()) == [
        "c1.txt",
        "c2.txt",
        "cameras.csv",
        "staff.csv",
        "visits.csv",
        "zones.csv",
    ]
    assert (tmp_path / "gt" / "cameras.csv").read_text().splitlines() == [
        "camera_id,width,height,fps,frames,label_every",
        "c1,1000,500,10,40,1",
        "c2,1000,500,10,40,1",
    ]
    assert (tmp_path / "gt" / "c1.txt").read_text().splitlines()[
        0
    ] == "1,A,80.4,200,39.6,100,1,1,0.25"
    back = load_labelled_truth(tmp_path / "gt", site_id=gt.site_id)
    assert back.fps == gt.fps and [c.id for c in back.cameras] == ["c1", "c2"]
    assert [(c.width, c.height, c.frames) for c in back.cameras] == [(1000, 500, 40)] * 2
    for cam, frames in gt.frames.items():
        assert len(back.frames[cam]) == len(frames)
        for a, b in zip(frames, back.frames[cam], strict=True):
            assert [x.id for x in a] == [y.id for y in b]
            for x, y in zip(a, b, strict=True):
                assert x.box == pytest.approx(y.box, abs=1e-3)
                assert x.foot[1] == pytest.approx(y.foot[1]) and x.visibility == y.visibility
                assert x.box[0] <= y.foot[0] <= x.box[2]
    for p in gt.people:
        q = back.person(p.id)
        assert q.is_staff == p.is_staff
        assert [(v.in_s, v.out_s) for v in q.visits] == [(v.in_s, v.out_s) for v in p.visits]
        assert [[(z.zone, z.enter_s, z.exit_s, z.cameras) for z in v.zones] for v in q.visits] == [
            [(z.zone, z.enter_s, z.exit_s, z.cameras) for z in v.zones] for v in p.visits
        ]
    assert [(a.camera, a.start_s, a.end_s) for a in back.person("A").appearances] == [
        ("c1", 0.0, 1.9),
        ("c2", 2.0, 3.9),
    ]


@pytest.mark.parametrize("given", [True, False])
@pytest.mark.parametrize("imperfect", [False, True])
def test_both_paths_give_the_same_numbers(
    make_gt, tmp_path: Path, given: bool, imperfect: bool
) -> None:
    gt = walkers(make_gt)
    dump_ground_truth(gt, tmp_path / "ground_truth.json")
    ids = (lambda pid, cam: f"{pid}@{cam}" if pid == "A" else pid) if imperfect else None
    write_store(gt, tmp_path / "store", skip_first=3 if imperfect else 0, ids=ids)
    write_labelled_truth(gt, tmp_path / "gt")
    start = START if given else None
    sim = evaluate(tmp_path, tmp_path / "store", start_ts=start)
    lab = evaluate_labelled(tmp_path / "gt", tmp_path / "store", start_ts=start)
    assert lab.tracking == sim.tracking
    assert lab.visits == sim.visits
    assert (lab.start_ts, lab.track_points_used, lab.site_id) == (
        sim.start_ts,
        sim.track_points_used,
        "t",
    )
    assert (sim.visits_source, lab.visits_source, lab.notes) == ("simulator", "labels", [])
    if not imperfect:
        assert lab.tracking.overall.idf1 == 1.0 and lab.visits.zone_dwell_rel_error == {"z": 0.0}
    assert "true visits from: labels (visits.csv)" in format_report(lab)


def test_without_visits_csv_visits_are_sightings_and_in_out_not_scored(
    make_gt, tmp_path: Path
) -> None:
    gt = walkers(make_gt)
    write_store(gt, tmp_path / "store")
    write_labelled_truth(gt, tmp_path / "gt")
    (tmp_path / "gt" / "visits.csv").unlink()
    (tmp_path / "gt" / "zones.csv").unlink()
    lt = load_labelled(tmp_path / "gt", site_id="t")
    assert lt.visits_source == "sightings"
    assert [(v.in_s, v.out_s, v.cameras) for v in lt.gt.person("A").visits] == [
        (0.0, 3.9, ["c1", "c2"])
    ]
    r = evaluate_labelled(tmp_path / "gt", tmp_path / "store", start_ts=START)
    assert r.visits_source == "sightings"
    assert (r.visits.in_mae_s, r.visits.out_mae_s, r.visits.visits_matched) == (None, None, 2)
    assert r.visits.zone_dwell_gt_s == {}
    text = format_report(r)
    assert "in MAE - s, out MAE - s" in text and "sightings (no visits.csv" in text
    assert "zone dwell: no zone stays" in text


def test_long_absence_splits_derived_visits(make_gt, tmp_path: Path) -> None:
    gt = make_gt({"A": [("c1", 0, 100.0, 300.0), ("c1", 1, 100.0, 300.0), ("c1", 9, 100.0, 300.0)]})
    write_labelled_truth(gt, tmp_path / "gt")
    (tmp_path / "gt" / "visits.csv").unlink()
    visits = (
        load_labelled_truth(tmp_path / "gt", site_id="t", absence_timeout_s=0.5).person("A").visits
    )
    assert [(v.in_s, v.out_s) for v in visits] == [(0.0, 0.1), (0.9, 0.9)]


def _points(gt, frames, *, at=lambda i: i) -> Records:
    """Perfect track points of ``gt`` on the given frames, stamped at frame ``at(i)``."""
    rec = Records()
    for cam in gt.cameras:
        for i in frames:
            for b in gt.frames[cam.id][i]:
                rec.track_points.append(
                    TrackPoint(
                        gt.site_id,
                        DAY,
                        cam.id,
                        b.id,
                        "v",
                        START + at(i) / gt.fps,
                        b.foot[0] / cam.width,
                        b.foot[1] / cam.height,
                    )
                )
    return rec


def _store(tmp_path: Path, rec: Records, site: str = "t") -> Path:
    store = EventStore(tmp_path / "store" / "events", site)
    store.write(rec)
    store.flush()
    return tmp_path / "store"


def test_sparse_labels_score_only_labelled_frames(two_people, tmp_path: Path) -> None:
    gt = two_people()  # A and B on c1, frames 0-9
    store = _store(tmp_path, _points(gt, range(10)))  # a prediction on every frame
    write_labelled_truth(gt, tmp_path / "gt", label_every=2)
    assert {b.frame for b in read_mot_file(tmp_path / "gt" / "c1.txt")} == {1, 3, 5, 7, 9}
    r = evaluate_labelled(tmp_path / "gt", store, start_ts=START)
    o = r.tracking.overall
    assert (o.num_objects, o.num_false_positives, o.num_misses, o.idf1) == (10, 0, 0, 1.0)
    assert r.track_points_used == 10  # points on unlabelled frames are not scored
    # the step is inferred from the labelled frame numbers when cameras.csv does not say it
    csv = tmp_path / "gt" / "cameras.csv"
    csv.write_text("camera_id,width,height,fps\nc1,1000,500,10\n")
    o = evaluate_labelled(tmp_path / "gt", store, start_ts=START).tracking.overall
    assert (o.num_objects, o.num_false_positives) == (10, 0)
    # declared dense, the same labels turn every unlabelled frame's predictions into false positives
    csv.write_text("camera_id,width,height,fps,frames,label_every\nc1,1000,500,10,10,1\n")
    o = evaluate_labelled(tmp_path / "gt", store, start_ts=START).tracking.overall
    assert (o.num_objects, o.num_false_positives) == (10, 10)  # both people on frames 2, 4, ... 10


def test_points_between_labels_go_to_the_nearest_labelled_frame(two_people, tmp_path: Path) -> None:
    gt = two_people()
    # points only one frame after each labelled frame (labels every 3rd: 0, 3, 6, 9)
    store = _store(tmp_path, _points(gt, [0, 3, 6], at=lambda i: i + 1))
    write_labelled_truth(gt, tmp_path / "gt", label_every=3)
    r = evaluate_labelled(tmp_path / "gt", store, start_ts=START)
    o = r.tracking.overall
    assert (o.num_objects, o.num_false_positives, o.num_misses) == (8, 0, 2)  # frame 9: no point
    assert r.track_points_used == 6


def test_a_track_ending_between_labels_is_not_carried_to_the_next(make_gt, tmp_path: Path) -> None:
    gt = walkers(make_gt)  # A and B leave c1 after frame 19; labels on frames 0, 5, ..., 35
    write_store(gt, tmp_path / "store")
    write_labelled_truth(gt, tmp_path / "gt", label_every=5)
    r = evaluate_labelled(tmp_path / "gt", tmp_path / "store", start_ts=START)
    assert [
        (s.num_objects, s.num_false_positives, s.num_misses) for s in r.tracking.per_camera
    ] == [(8, 0, 0), (4, 0, 0)]
    assert r.tracking.overall.idf1 == 1.0 and r.visits.in_mae_s == 0.0


def test_slower_camera_lands_on_the_common_frame_grid(make_gt, tmp_path: Path) -> None:
    gt = make_gt({"A": [("c1", i, 200.0, 300.0) for i in range(10)]})
    write_labelled_truth(gt, tmp_path / "gt")
    (tmp_path / "gt" / "c2.txt").write_text("1,A,180,200,40,100\n3,A,180,200,40,100\n")
    (tmp_path / "gt" / "cameras.csv").write_text(
        "camera_id,width,height,fps,frames,label_every\nc1,1000,500,10,,\nc2,1000,500,5,3,1\n"
    )
    lt = load_labelled(tmp_path / "gt", site_id="t")
    assert lt.gt.fps == 10 and lt.frames["c2"] == [0, 2, 4]  # 5 fps, frames 1-3 -> 0, 0.2, 0.4 s
    assert [len(b) for b in lt.gt.frames["c2"]] == [1, 0, 0, 0, 1]


def test_mot17_conf_and_class(tmp_path: Path) -> None:
    d = tmp_path / "gt"
    d.mkdir()
    (d / "cam1.txt").write_text(
        "# frame,id,x,y,w,h,conf,class,vis\n"
        "1,1,-10,10,40,100,1,1,0.5\n"  # clipped at the left edge
        "1,2,100,10,40,100,0,1,1\n"  # conf 0: ignored
        "1,3,200,10,40,100,1,7,1\n"  # static person: ignored
        "1,4,300,10,40,100,1,3,1\n"  # a car: dropped
        "2,1,0,10,40,100\n"
    )
    (d / "cameras.csv").write_text("camera_id,width,height,fps\ncam1,640,480,25\n")
    gt = load_labelled_truth(d, site_id="s")
    f0 = gt.frames["cam1"][0]
    assert [(b.id, b.box, b.foot, b.visibility) for b in f0] == [
        ("1", (0.0, 10.0, 30.0, 110.0), (15.0, 110.0), 0.5),
        ("2", (100.0, 10.0, 140.0, 110.0), (120.0, 110.0), 0.0),
        ("3", (200.0, 10.0, 240.0, 110.0), (220.0, 110.0), 0.0),
    ]
    assert [p.id for p in gt.people] == ["1"]
    assert [(v.in_s, v.out_s) for v in gt.person("1").visits] == [(0.0, 0.04)]


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("c1.txt", "1,A,0,0,10,10\n2,A,0,zero,10,10\n", r"c1\.txt:2: y 'zero' is not a number"),
        ("c1.txt", "1,A,0,0,10,-5\n", r"c1\.txt:1: box size 10x-5 must be > 0"),
        ("c1.txt", "0,A,0,0,10,10\n", r"c1\.txt:1: frame 0 < 1"),
        ("c1.txt", "1,A,0,0\n", r"c1\.txt:1: expected 6-10 columns"),
        ("c1.txt", "1,A,0,0,10,10\n1,A,5,0,10,10\n", r"c1\.txt:2: person 'A' already in frame 1"),
        ("c1.txt", "1,A,0,0,10,10,1,1,1.5\n", r"c1\.txt:1: visibility 1.5 outside"),
        (
            "visits.csv",
            "person_id,in_s,out_s\nA,0,1\nZ,0,1\n",
            r"visits\.csv:3: person 'Z' is never seen",
        ),
        ("visits.csv", "person_id,in_s,out_s\nA,2,1\n", r"visits\.csv:2: out_s 1 before in_s 2"),
        (
            "visits.csv",
            "person_id,in_s,out_s\nA,0,5\nA,4,6\n",
            r"visits\.csv:3: visit 4-6 of 'A' overlaps",
        ),
        ("visits.csv", "person,in_s,out_s\n", r"visits\.csv:1: header .* lacks \['person_id'\]"),
        (
            "zones.csv",
            "person_id,zone,enter_s,exit_s\nA,z,x,1\n",
            r"zones\.csv:2: enter_s 'x' is not a number",
        ),
        (
            "cameras.csv",
            "camera_id,width,height,fps\nc1,0,500,10\n",
            r"cameras\.csv:2: camera 'c1': width",
        ),
    ],
)
def test_bad_input_names_file_and_line(tmp_path: Path, name: str, text: str, match: str) -> None:
    d = tmp_path / "gt"
    d.mkdir()
    (d / "c1.txt").write_text("1,A,0,0,10,10\n")
    (d / "cameras.csv").write_text("camera_id,width,height,fps\nc1,1000,500,10\n")
    (d / name).write_text(text)
    with pytest.raises(MOTFormatError, match=match):
        load_labelled_truth(d, site_id="t")


def test_missing_folder_and_no_camera_files(tmp_path: Path) -> None:
    with pytest.raises(MOTFormatError, match="folder not found"):
        load_labelled_truth(tmp_path / "nope", site_id="t")
    with pytest.raises(MOTFormatError, match=r"no <camera_id>\.txt"):
        load_labelled_truth(tmp_path, site_id="t")


def test_zone_stay_outside_every_visit(tmp_path: Path) -> None:
    (tmp_path / "c1.txt").write_text("1,A,0,0,10,10\n")
    (tmp_path / "cameras.csv").write_text("camera_id,width,height,fps\nc1,1000,500,10\n")
    (tmp_path / "visits.csv").write_text("person_id,in_s,out_s\nA,0,5\n")
    (tmp_path / "zones.csv").write_text("person_id,zone,enter_s,exit_s\nA,z,1,2\nA,z,8,9\n")
    with pytest.raises(MOTFormatError, match=r"zones\.csv:3: zone stay 8-9 of 'A' is outside"):
        load_labelled_truth(tmp_path, site_id="t")


def test_camera_sizes_from_cameras_csv_or_config(make_gt, tmp_path: Path) -> None:
    gt = walkers(make_gt)
    store = tmp_path / "store"
    write_store(gt, store)
    write_labelled_truth(gt, tmp_path / "gt")
    (tmp_path / "gt" / "cameras.csv").unlink()
    with pytest.raises(MOTFormatError, match=r"no frame size and frame rate for camera 'c1'"):
        evaluate_labelled(tmp_path / "gt", store, start_ts=START)
    # c1 from its resolution and fps, c2 from its video file (probed; no resolution given)
    video = tmp_path / "c2.mp4"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (1000, 500))
    for _ in range(3):
        w.write(np.zeros((500, 1000, 3), np.uint8))
    w.release()
    cfg = parse_config(
        {
            "site_id": "t",
            "cameras": [
                {
                    "id": "c1",
                    "source": str(tmp_path / "c1.mp4"),
                    "fps": 10,
                    "resolution": [1000, 500],
                },
                {"id": "c2", "source": str(video), "fps": 5},
            ],
        }
    )
    r = evaluate_labelled(tmp_path / "gt", store, start_ts=START, config=cfg)
    assert r.tracking.overall.idf1 == 1.0 and r.visits.in_mae_s == 0.0
    cfg = parse_config(
        {
            "site_id": "t",
            "cameras": [
                {"id": "c1", "source": str(tmp_path / "c1.mp4"), "resolution": [1000, 500]},
                {"id": "c2", "source": str(tmp_path / "missing.mp4")},
            ],
        }
    )
    with pytest.raises(MOTFormatError, match=r"camera 'c2': no frame size"):
        evaluate_labelled(tmp_path / "gt", store, start_ts=START, config=cfg)


def test_sparse_track_points_are_noted(two_people, tmp_path: Path) -> None:
    gt = two_people()
    store = _store(tmp_path, _points(gt, [0, 5]))  # a point every 0.5 s, labels every 0.1 s
    write_labelled_truth(gt, tmp_path / "gt")
    r = evaluate_labelled(tmp_path / "gt", store, start_ts=START)
    assert len(r.notes) == 1 and "track_point_every_s <= 0.10" in r.notes[0]
    assert "note: c1: track points are 0.50 s apart" in format_report(r)


def test_cli_eval_gt_prints_json(
    make_gt, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gt = walkers(make_gt)
    write_store(gt, tmp_path / "store")
    write_labelled_truth(gt, tmp_path / "gt")
    rc = main(
        [
            "eval",
            "--gt",
            str(tmp_path / "gt"),
            "--store",
            str(tmp_path / "store"),
            "--json",
            "--start-time",
            "2026-01-05T13:30:00+05:30",
        ]
    )
    out = capsys.readouterr()
    assert rc == 0, out.err
    data = json.loads(out.out)
    assert (data["start_ts"], data["start_ts_source"], data["visits_source"]) == (
        START,
        "given",
        "labels",
    )
    assert data["tracking"]["overall"]["idf1"] == 1.0
    rc = main(
        [
            "eval",
            "--gt",
            str(tmp_path / "gt"),
            "--store",
            str(tmp_path / "store"),
            "--start-time",
            str(START),
        ]
    )
    assert rc == 0 and "global IDF1 (all cameras jointly): 100.0%" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["eval"], "give either OUT"),
        (["eval", "out", "--gt", "gt"], "give either OUT"),
        (["eval", "--gt", "gt"], "--gt needs --store"),
        (
            ["eval", "--gt", "gt", "--store", "s", "--start-time", "2026-01-05T08:00:00"],
            "has no zone",
        ),
        (
            ["eval", "--gt", "gt", "--store", "s", "--start-time", "soon+01"],
            "not epoch seconds or ISO",
        ),
    ],
)
def test_cli_eval_usage_errors(
    argv: list[str], match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert match in capsys.readouterr().err


def test_cli_eval_gt_bad_folder_and_empty_store(make_gt, tmp_path: Path, capsys) -> None:
    (tmp_path / "gt").mkdir()
    (tmp_path / "gt" / "c1.txt").write_text("1,A,0,0,10,10,1,1,x\n")
    (tmp_path / "gt" / "cameras.csv").write_text("camera_id,width,height,fps\nc1,1000,500,10\n")
    assert main(["eval", "--gt", str(tmp_path / "gt"), "--store", str(tmp_path / "s")]) == 2
    assert "c1.txt:1: visibility 'x' is not a number" in capsys.readouterr().err
    (tmp_path / "gt" / "c1.txt").write_text("1,A,0,0,10,10\n")
    assert main(["eval", "--gt", str(tmp_path / "gt"), "--store", str(tmp_path / "s")]) == 1
    assert "cannot align" in capsys.readouterr().err


def test_writer_replaces_an_earlier_scene(make_gt, tmp_path: Path) -> None:
    write_labelled_truth(walkers(make_gt), tmp_path)
    gt = make_gt(
        {"A": [("c1", 0, 100.0, 300.0)]},
        visits={
            "A": [
                GTVisit(
                    in_s=0,
                    out_s=0,
                    in_source="sighting",
                    out_source="sighting",
                    cameras=["c1"],
                    zones=[GTZoneVisit(zone="z", enter_s=0, exit_s=0, cameras=["c1"])],
                )
            ]
        },
    )
    (tmp_path / "notes.txt.bak").write_text("kept")
    write_labelled_truth(gt, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "c1.txt",
        "cameras.csv",
        "notes.txt.bak",
        "staff.csv",
        "visits.csv",
        "zones.csv",
    ]
    assert (tmp_path / "staff.csv").read_text() == "person_id\n"
    assert [p.id for p in load_labelled_truth(tmp_path, site_id="t").people] == ["A"]
