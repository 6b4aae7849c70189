"""benchmarks/_activity_clips.py: labels CSV, per-second truth, back-dated labels, alert scoring."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from support import REPO, load_benchmark

sys.path.insert(0, str(REPO / "benchmarks"))
ac = load_benchmark("_activity_clips")


def test_labels_csv_errors_name_the_line(tmp_path: Path) -> None:
    p = tmp_path / "labels.csv"
    p.write_text("clip,start_s,end_s\na.mp4,0,1\n")
    with pytest.raises(ValueError, match="columns"):
        ac.read_labels(p)
    p.write_text("clip,start_s,end_s,label\na.mp4,0,1,walking\na.mp4,3,2,standing\n")
    with pytest.raises(ValueError, match=r"labels.csv:3: end_s 2.0 <= start_s 3.0"):
        ac.read_labels(p)


def test_truth_seconds_skip_unlabelled_and_the_fall_onset_is_the_falling_start() -> None:
    rows = [
        ac.Row("c", 0.0, 0.8, "standing"),
        ac.Row("c", 0.8, 1.6, "falling"),
        ac.Row("c", 1.6, 5.0, "fallen"),
        ac.Row("c", 7.0, 8.0, "lying"),
    ]
    assert ac.truth_seconds(rows, 8.0) == {
        0: "standing",
        1: "falling",
        2: "fallen",
        3: "fallen",
        4: "fallen",
        7: "lying",
    }
    assert ac.fall_onset(rows) == 0.8 and ac.fall_onset(rows[:1]) is None


def test_stored_labels_are_back_dated_and_emitted_ones_are_not() -> None:
    ticks = [
        (1.0, "walking", 1.0),
        (2.0, "walking", 1.0),
        (3.0, "walking", 1.0),
        (4.0, "standing", 3.0),
    ]  # standing began at the 3.0 tick, let through at 4.0
    assert ac.stored_label(ticks, 0.5) == "walking"  # the first label from the clip's start
    assert ac.stored_label(ticks, 3.5) == "standing"
    assert ac.emitted_label(ticks, 3.5) == "walking"


def test_alerts_score_fall_clips_and_count_every_other_alert_as_false() -> None:
    fall = [
        ac.Row("f", 0.0, 1.0, "standing"),
        ac.Row("f", 1.0, 1.5, "falling"),
        ac.Row("f", 1.5, 6.0, "fallen"),
    ]
    lying = [ac.Row("l", 0.0, 6.0, "lying")]
    fast = ac.Replay(
        [
            (1.0, "standing", 1.0),
            (2.0, "fallen", 2.0),
            (3.0, "fallen", 2.0),
            (4.0, "fallen", 2.0),
            (5.0, "fallen", 2.0),
            (6.0, "fallen", 2.0),
        ],
        0.01,
        6.0,
    )
    calm = ac.Replay([(t, "lying", 1.0) for t in range(1, 7)], 0.01, 6.0)
    s = ac.score_clips({"f": (fall, fast), "l": (lying, calm)})
    fa = s["fall_alerts"]
    assert (fa["alerted_within_s"], fa["false_alert_clips"], fa["precision"]) == (1, [], 1.0)
    assert fa["time_to_alert_s"]["mean"] == 1.0 and s["fall_clips_last_3s_fallen"] == 1
    raised = ac.Replay([(1.0, "fallen", 1.0)], 0.01, 6.0)
    s = ac.score_clips({"f": (fall, fast), "l": (lying, raised)})
    assert s["fall_alerts"]["false_alert_clips"] == ["l"] and s["fall_alerts"]["precision"] == 0.5
    assert s["per_second"]["stored"]["recall"]["lying"] == 0.0
