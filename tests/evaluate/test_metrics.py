from __future__ import annotations

import pytest

from mcvision.evaluate.metrics import (
    IdStarts,
    PredVisit,
    PredZoneVisit,
    id_starts,
    predictions_from_truth,
    tracking_metrics,
    visit_metrics,
)
from mcvision.sim.truth import GTVisit, GTZoneVisit


def relabel(preds, rule):
    """Predictions with each ID replaced by rule(person_id, camera, frame)."""
    return {
        (cam, i): [(rule(pid, cam, i), x, y) for pid, x, y in pts]
        for (cam, i), pts in preds.items()
    }


def test_truth_as_prediction_is_perfect(two_people) -> None:
    gt = two_people()
    tm = tracking_metrics(gt, predictions_from_truth(gt))
    o = tm.overall
    assert (o.idf1, o.mota, o.num_switches, o.num_objects) == (1.0, 1.0, 0, 20)
    assert (tm.fragmentation, tm.merge, tm.id_map) == (0.0, 0.0, {"A": "A", "B": "B"})


# Expected values by hand, 2 people x 10 frames = 20 true boxes:
# swap halfway: best ID pairing keeps 5 of 10 frames each -> IDTP 10, IDFN 10, IDFP 10
#   -> IDF1 = 2*10 / (2*10 + 10 + 10) = 0.5; 2 switches -> MOTA = 1 - 2/20 = 0.9;
#   both people have 2 IDs, both IDs 2 people.
# split A into g1 | g3: IDTP = 5 + 10, IDFN = 5, IDFP = 5 -> IDF1 = 30/40 = 0.75;
#   1 switch -> MOTA 0.95; 1 of 2 people fragmented; no ID merges.
def SWAP(pid: str, cam: str, i: int) -> str:
    return {"A": "g1", "B": "g2"}[pid] if i < 5 else {"A": "g2", "B": "g1"}[pid]


def SPLIT(pid: str, cam: str, i: int) -> str:
    return "g3" if pid == "A" and i >= 5 else {"A": "g1", "B": "g2"}[pid]


@pytest.mark.parametrize(
    ("rule", "idf1", "mota", "switches", "frag", "merge"),
    [
        (SWAP, 0.5, 0.9, 2, 1.0, 1.0),
        (SPLIT, 0.75, 0.95, 1, 0.5, 0.0),
    ],
)
def test_perturbations(two_people, rule, idf1, mota, switches, frag, merge) -> None:
    gt = two_people()
    tm = tracking_metrics(gt, relabel(predictions_from_truth(gt), rule))
    o = tm.overall
    assert o.idf1 == pytest.approx(idf1)
    assert o.mota == pytest.approx(mota)
    assert o.num_switches == switches
    assert (tm.fragmentation, tm.merge) == (frag, merge)


def test_merge_two_people_into_one_id(make_gt) -> None:
    # A in frames 0-4, B in frames 5-9, both predicted "g1":
    # g1 pairs with one of them (5 frames) -> IDTP 5, IDFN 5, IDFP 5 -> IDF1 0.5.
    # B was never matched before, so no switch: MOTA 1.0. One ID, covering two people.
    gt = make_gt(
        {
            "A": [("c1", i, 200.0, 300.0) for i in range(5)],
            "B": [("c1", i, 700.0, 300.0) for i in range(5, 10)],
        }
    )
    tm = tracking_metrics(gt, relabel(predictions_from_truth(gt), lambda *_: "g1"))
    assert tm.overall.idf1 == pytest.approx(0.5)
    assert tm.overall.mota == pytest.approx(1.0)
    assert (tm.fragmentation, tm.merge, tm.ids_pred) == (0.0, 1.0, 1)


def test_global_idf1_needs_one_id_across_cameras(make_gt) -> None:
    # A walks c1 frames 0-4 then c2 frames 5-9; the tracker gives a new ID on c2.
    gt = make_gt(
        {
            "A": [("c1", i, 200.0, 300.0) for i in range(5)]
            + [("c2", i, 200.0, 300.0) for i in range(5, 10)]
        },
        cameras=("c1", "c2"),
    )
    tm = tracking_metrics(gt, relabel(predictions_from_truth(gt), lambda pid, cam, i: f"g-{cam}"))
    assert [s.idf1 for s in tm.per_camera] == [1.0, 1.0]
    assert tm.overall.idf1 == pytest.approx(0.5)  # IDTP 5, IDFN 5, IDFP 5
    assert tm.fragmentation == 1.0


def test_id_starts_classify_where_extra_ids_began(make_gt) -> None:
    # A: c1 frames 0-9 (g1, then g2 from frame 5 after a 2-frame hole: re-acquisition),
    # c2 frames 14-19 (g3: a walk from c1, 5 frames after c1's last); B: c1 and c2 at
    # once in frames 0-9, g4 on c1, g5 on c2 from frame 3 (an overlap hand-over missed).
    gt = make_gt(
        {
            "A": [("c1", i, 200.0, 300.0) for i in (0, 1, 2, 5, 6, 7, 8, 9)]
            + [("c2", i, 200.0, 300.0) for i in range(14, 20)],
            "B": [("c1", i, 700.0, 300.0) for i in range(10)]
            + [("c2", i, 700.0, 300.0) for i in range(3, 10)],
        },
        cameras=("c1", "c2"),
        frames=20,
    )

    def rule(pid: str, cam: str, i: int) -> str:
        if pid == "A":
            return "g3" if cam == "c2" else ("g1" if i < 5 else "g2")
        return "g4" if cam == "c1" else "g5"

    tm = tracking_metrics(gt, relabel(predictions_from_truth(gt), rule))
    fps = gt.fps
    assert tm.id_starts == IdStarts(
        concurrent=1,
        same_camera=1,
        other_camera=1,
        median_gap_s_same_camera=round(3 / fps, 2),
        median_gap_s_other_camera=round(5 / fps, 2),
    )
    # one ID per person: nothing to diagnose
    assert tracking_metrics(gt, predictions_from_truth(gt)).id_starts == IdStarts()


def test_id_starts_ignores_ids_below_min_match_frames() -> None:
    m = [("p", "A", "c1", i) for i in range(5)] + [("p", "B", "c1", 7), ("p", "C", "c2", 9)]
    m += [("p", "C", "c2", 10)]
    s = id_starts(m, fps=1.0, min_match_frames=2)
    assert (s.same_camera, s.other_camera, s.concurrent) == (0, 1, 0)
    assert s.median_gap_s_other_camera == 2.0  # from B's frame 7, which still counts as a sighting
    with pytest.raises(ValueError, match="fps"):
        id_starts(m, fps=0.0)


@pytest.mark.parametrize(
    ("offset", "matched"),
    [(30.0, True), (49.0, True), (51.0, False), (70.0, False)],  # box height 100, radius 0.5
)
def test_match_radius_in_box_heights(two_people, offset: float, matched: bool) -> None:
    gt = two_people()
    preds = {
        k: [(p, x + offset, y) for p, x, y in v] for k, v in predictions_from_truth(gt).items()
    }
    o = tracking_metrics(gt, preds).overall
    # unmatched: every box a miss and every prediction a false positive: MOTA = 1 - 40/20
    assert o.mota == pytest.approx(1.0 if matched else -1.0)
    assert o.num_misses == (0 if matched else 20)


def test_barely_visible_people_are_ignored(two_people) -> None:
    gt = two_people(visibility=0.2)
    tm = tracking_metrics(gt, predictions_from_truth(gt), min_visibility=0.3)
    assert (tm.overall.num_objects, tm.overall.num_false_positives) == (0, 0)


def test_predictions_on_unknown_camera(two_people) -> None:
    with pytest.raises(ValueError, match="cameras not in the ground truth"):
        tracking_metrics(two_people(), {("zz", 0): [("g", 1.0, 1.0)]})


def test_visit_metrics_by_hand(make_gt) -> None:
    visits = {
        "A": [
            GTVisit(
                in_s=10,
                out_s=50,
                in_source="line",
                out_source="line",
                cameras=["c1"],
                zones=[GTZoneVisit(zone="z", enter_s=20, exit_s=30, cameras=["c1"])],
            )
        ],
        "B": [
            GTVisit(in_s=5, out_s=15, in_source="line", out_source="line", cameras=["c1"], zones=[])
        ],
    }
    gt = make_gt({"A": [("c1", 0, 1.0, 1.0)], "B": [("c1", 1, 5.0, 5.0)]}, visits=visits)
    vm = visit_metrics(
        gt,
        [PredVisit("g1", 12, 47), PredVisit("g2", 6, 15), PredVisit("g3", 60, 70)],
        [PredZoneVisit("g1", "z", 21, 33)],
        {"g1": "A", "g2": "B"},
    )
    assert (vm.visits_gt, vm.visits_pred, vm.visits_matched) == (2, 3, 2)
    assert vm.in_mae_s == pytest.approx((2 + 1) / 2)
    assert vm.out_mae_s == pytest.approx((3 + 0) / 2)
    # totals: A 40 vs 35, B 10 vs 9
    assert vm.total_dwell_mae_s == pytest.approx((5 + 1) / 2)
    assert vm.zone_dwell_rel_error == {"z": pytest.approx(0.2)}  # 12 s for 10 s
    assert (vm.unique_visitors_gt, vm.unique_visitors_pred, vm.unique_visitor_error) == (2, 3, 1)
    assert vm.unique_visitor_rel_error == pytest.approx(0.5)


def test_visit_of_an_unmapped_id_is_not_matched(make_gt) -> None:
    visits = {
        "A": [GTVisit(in_s=0, out_s=10, in_source="line", out_source="line", cameras=[], zones=[])]
    }
    gt = make_gt({"A": [("c1", 0, 1.0, 1.0)]}, visits=visits)
    vm = visit_metrics(gt, [PredVisit("g9", 0, 10)], [], {})
    assert (vm.visits_matched, vm.in_mae_s, vm.total_dwell_mae_s) == (0, None, 10.0)
