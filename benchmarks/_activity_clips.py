"""Activity on labelled real clips: per-second accuracy, fall alerts, bending, cost.

Used by ``activity_bench.py --clips DIR``. ``DIR`` holds video clips and a
``labels.csv`` (or ``--labels CSV``) with rows ``clip,start_s,end_s,label``: ``clip``
is the clip's path relative to ``DIR``; a second is scored with the label of the row
holding its middle; seconds outside every row are not scored. Labels: ``walking``,
``standing``, ``sitting``, ``bending``, ``fallen``, ``lying`` (on purpose: a hard
negative for fall alerts), and ``falling`` (the descent: not scored per second; its
start is the fall's onset, from which the time to alert counts).

Per clip: the pose model runs once on every ``step``-th frame (cached in the work
folder, :mod:`_har_pose`); the main subject is the largest person in each frame,
fed as one track through :class:`~mcvision.vision.activity.ActivityMonitor` with each
classifier variant (no pose rerun between variants).

Scores per variant:

* per second: the label the stored activity intervals give the second's middle
  (``stored``: each label back-dated to its onset, the first label to the clip's
  start) and the label emitted by the end of the second (``emitted``); confusion
  (rows: truth), recall per class, balanced accuracy over walking/standing/sitting;
* fall alerts (the first ``fallen`` emitted): a fall clip's alert counts when it comes
  after the onset and within ``alert_within_s`` (3 s) of it; any other alert (before a
  fall's onset, or in a clip without a fall) is a false one; precision, recall, time
  to alert; which lying / sitting clips raised one;
* fall clips with a fallen second, and with their last 3 s all fallen;
* pick-up clips (a ``bending`` row) with a bending second;
* cost: classification wall time per track per second, one track at a time and in a
  batch of 8 tracks.
"""

from __future__ import annotations

import csv
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from _har_pose import ClipPose, load_or_run
from mcvision.types import Detections
from mcvision.vision.activity import ActivityMonitor, Observation

SCORED = ("walking", "standing", "sitting", "bending", "fallen", "lying")
BALANCED = ("walking", "standing", "sitting")
FALL_LABELS = ("falling", "fallen")


@dataclass(frozen=True)
class Row:
    clip: str
    start_s: float
    end_s: float
    label: str


def read_labels(path: Path) -> list[Row]:
    """Rows of a ``clip,start_s,end_s,label`` CSV.

    Raises:
        ValueError: a missing column or a row with end ≤ start (names the line).
    """
    rows = []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        need = {"clip", "start_s", "end_s", "label"}
        if reader.fieldnames is None or not need <= set(reader.fieldnames):
            raise ValueError(f"{path}: needs the columns {sorted(need)}, got {reader.fieldnames}")
        for i, r in enumerate(reader, start=2):
            try:
                row = Row(
                    r["clip"].strip(), float(r["start_s"]), float(r["end_s"]), r["label"].strip()
                )
            except (TypeError, ValueError) as e:
                raise ValueError(f"{path}:{i}: bad row {r}: {e}") from None
            if row.end_s <= row.start_s:
                raise ValueError(f"{path}:{i}: end_s {row.end_s} <= start_s {row.start_s}")
            rows.append(row)
    return rows


def truth_seconds(rows: Sequence[Row], duration_s: float) -> dict[int, str]:
    """Second -> label of the row holding the second's middle (unscored seconds left out)."""
    out = {}
    for k in range(int(np.ceil(duration_s))):
        mid = k + 0.5
        if mid > duration_s:
            break
        lab = next((r.label for r in rows if r.start_s <= mid < r.end_s), None)
        if lab is not None:
            out[k] = lab
    return out


def fall_onset(rows: Sequence[Row]) -> float | None:
    """Start of the clip's first ``falling``/``fallen`` row (None: no fall in the clip)."""
    starts = [r.start_s for r in rows if r.label in FALL_LABELS]
    return min(starts) if starts else None


def observations(cp: ClipPose, step: int) -> list[Observation]:
    """The main subject's observations at every ``step``-th frame (clip time from 0)."""
    if step % cp.step:
        raise ValueError(f"step {step} is not a multiple of the cached step {cp.step}")
    return [
        Observation(ts=f / cp.fps, box=b, keypoints=k, frame_size=cp.size)
        for f, b, k in cp.main_subject()
        if f % step == 0
    ]


@dataclass
class Replay:
    """One clip through one classifier: ticks and the time classification took."""

    ticks: list[tuple[float, str, float]]  # (ts, smoothed label, onset)
    classify_s: float
    duration_s: float


def replay(
    obs: Sequence[Observation], make_monitor: Callable[[], ActivityMonitor], duration_s: float
) -> Replay:
    """The observations as one track through a fresh monitor."""
    mon = make_monitor()
    ticks: list[tuple[float, str, float]] = []
    spent = 0.0
    for o in obs:
        dets = Detections(
            xyxy=np.asarray(o.box, np.float32)[None],
            tracker_id=np.array([1]),
            keypoints=np.asarray(o.keypoints, np.float32)[None],
        )
        t0 = time.perf_counter()
        lab = mon.update(o.ts, dets, frame_size=o.frame_size)[1]
        spent += time.perf_counter() - t0
        st = mon.tracks[1]
        if st.raw and st.raw[-1][0] == o.ts and lab is not None:
            ticks.append((o.ts, lab, float(st.onset if st.onset is not None else o.ts)))
    return Replay(ticks, spent, duration_s)


def stored_label(ticks: Sequence[tuple[float, str, float]], t: float) -> str | None:
    """The label the stored (back-dated) intervals give time ``t``."""
    segs: list[tuple[float, str]] = []
    for _, lab, onset in ticks:
        if not segs:
            segs.append((0.0, lab))
        elif lab != segs[-1][1]:
            segs.append((max(onset, segs[-1][0]), lab))
    cur = None
    for start, lab in segs:
        if start <= t:
            cur = lab
    return cur


def emitted_label(ticks: Sequence[tuple[float, str, float]], t: float) -> str | None:
    """The last label emitted at or before ``t``."""
    cur = None
    for ts, lab, _ in ticks:
        if ts <= t + 1e-9:
            cur = lab
    return cur


def _pred(label: str | None) -> str:
    if label is None:
        return "none"
    return "standing" if label == "browsing" else label


def score_clips(
    clips: dict[str, tuple[list[Row], Replay]], alert_within_s: float = 3.0
) -> dict[str, Any]:
    """All scores of one classifier variant over the given clips."""
    cols = [*SCORED, "none"]
    conf = {kind: {t: dict.fromkeys(cols, 0) for t in SCORED} for kind in ("stored", "emitted")}
    alerts: dict[str, Any] = {}
    fall_clips = fallen_sec = last3 = 0
    tp = fp_clips = 0
    delays = []
    pick = pick_bend = 0
    cost = []
    false_alerts = []
    for name, (rows, rp) in sorted(clips.items()):
        truth = truth_seconds(rows, rp.duration_s)
        for k, t in truth.items():
            if t not in SCORED:
                continue
            conf["stored"][t][_pred(stored_label(rp.ticks, k + 0.5))] += 1
            conf["emitted"][t][_pred(emitted_label(rp.ticks, k + 1.0))] += 1
        onset = fall_onset(rows)
        alert = next((ts for ts, lab, _ in rp.ticks if lab == "fallen"), None)
        if onset is not None:
            fall_clips += 1
            secs = [stored_label(rp.ticks, k + 0.5) for k in range(int(rp.duration_s))]
            fallen_sec += "fallen" in secs
            tail = [
                stored_label(rp.ticks, t) for t in np.arange(rp.duration_s - 3, rp.duration_s, 0.5)
            ]
            last3 += all(lab == "fallen" for lab in tail)
            ok = alert is not None and onset - 1e-9 <= alert <= onset + alert_within_s
            if ok:
                tp += 1
                delays.append(alert - onset)
            elif alert is not None and alert < onset:
                fp_clips += 1
                false_alerts.append(name)
            alerts[name] = {
                "onset_s": onset,
                "alert_s": alert,
                "delay_s": round(alert - onset, 2) if alert is not None else None,
            }
        elif alert is not None:
            fp_clips += 1
            false_alerts.append(name)
            alerts[name] = {"onset_s": None, "alert_s": alert}
        if any(r.label == "bending" for r in rows):
            pick += 1
            pick_bend += any(
                stored_label(rp.ticks, k + 0.5) == "bending" for k in range(int(rp.duration_s))
            )
        cost.append(rp.classify_s / max(rp.duration_s, 1e-9))

    def recalls(c: dict[str, dict[str, int]]) -> dict[str, float | None]:
        return {t: round(c[t][t] / n, 4) if (n := sum(c[t].values())) else None for t in SCORED}

    per_second = {}
    for kind, c in conf.items():
        rec = recalls(c)
        bal = [rec[t] for t in BALANCED if rec[t] is not None]
        n = sum(sum(r.values()) for r in c.values())
        per_second[kind] = {
            "confusion": c,
            "recall": rec,
            "balanced_accuracy_walk_stand_sit": round(statistics.fmean(bal), 4) if bal else None,
            "accuracy": round(sum(c[t][t] for t in SCORED) / n, 4) if n else None,
            "seconds": n,
        }
    n_alerts = tp + fp_clips
    return {
        "per_second": per_second,
        "fall_alerts": {
            "fall_clips": fall_clips,
            "alerted_within_s": tp,
            "within_s": alert_within_s,
            "false_alert_clips": sorted(false_alerts),
            "precision": round(tp / n_alerts, 4) if n_alerts else None,
            "recall": round(tp / fall_clips, 4) if fall_clips else None,
            "time_to_alert_s": {
                "mean": round(statistics.fmean(delays), 2) if delays else None,
                "max": round(max(delays), 2) if delays else None,
            },
            "per_clip": alerts,
        },
        "fall_clips_with_fallen_second": fallen_sec,
        "fall_clips_last_3s_fallen": last3,
        "pickup_clips": pick,
        "pickup_clips_with_bending": pick_bend,
        "classify_ms_per_track_second": round(1000 * statistics.fmean(cost), 3) if cost else None,
    }


def load_clips(
    clips_dir: Path, labels: Path | None, work: Path, step: int, max_s: float | None = None
) -> tuple[dict[str, list[Row]], dict[str, list[Observation]], dict[str, float], float]:
    """Labels per clip, the main subject's observations, durations and pose seconds spent."""
    path = labels or clips_dir / "labels.csv"
    if not path.exists():
        raise SystemExit(f"no labels: {path} is missing (pass --labels CSV)")
    by_clip: dict[str, list[Row]] = defaultdict(list)
    for r in read_labels(path):
        by_clip[r.clip].append(r)
    obs, dur = {}, {}
    pose_s = 0.0
    for name in sorted(by_clip):
        clip = clips_dir / name
        if not clip.exists():
            raise SystemExit(f"{path}: clip {name} not found under {clips_dir}")
        # a cache made at a finer step serves this one (every step-th frame of it)
        cp = next(
            (
                c
                for s in sorted({1, step})
                if step % s == 0 and (c := _cached(clip, clips_dir, work, s, max_s)) is not None
            ),
            None,
        )
        if cp is None:
            cp = load_or_run(clip, clips_dir, work, step=step, max_s=max_s)
        pose_s += cp.seconds
        obs[name] = observations(cp, step)
        dur[name] = cp.n_frames / cp.fps
    return dict(by_clip), obs, dur, pose_s


def _cached(clip: Path, root: Path, work: Path, step: int, max_s: float | None) -> ClipPose | None:
    from _har_pose import _key

    if not (work / _key(clip, root, step)).exists():
        return None
    cp = load_or_run(clip, root, work, step=step, max_s=max_s)
    want = None if max_s is None else round(max_s * cp.fps)
    return cp if want is None or cp.n_frames >= min(want, cp.n_frames) else None


def batch_cost(
    classifier: Any, obs: Sequence[Observation], n: int = 8, reps: int = 20
) -> dict[str, float]:
    """ms per track-tick for one history alone and for a batch of ``n`` (same history)."""
    hist_s = float(getattr(classifier, "history_s", 1.0))
    end = obs[-1].ts
    h = [o for o in obs if end - o.ts <= hist_s + 1e-9]
    from mcvision.vision.activity import classify_all

    classify_all(classifier, [h])
    t0 = time.perf_counter()
    for _ in range(reps):
        classify_all(classifier, [h])
    one = (time.perf_counter() - t0) / reps
    t0 = time.perf_counter()
    for _ in range(reps):
        classify_all(classifier, [h] * n)
    many = (time.perf_counter() - t0) / reps / n
    return {
        "one_track_ms": round(1000 * one, 3),
        f"batch_of_{n}_ms_per_track": round(1000 * many, 3),
    }


def split_of(name: str) -> str:
    """``trial1`` / ``trial2`` / ``other`` from an UP-Fall-style clip name (``Trial1Cam2.mp4``)."""
    stem = Path(name).name.lower()
    for t in ("trial1", "trial2"):
        if stem.startswith(t):
            return t
    return "other"


def counts(rows: dict[str, list[Row]]) -> dict[str, int]:
    """Clips per main label (the longest row's)."""
    c: Counter[str] = Counter()
    for rs in rows.values():
        c[max(rs, key=lambda r: r.end_s - r.start_s).label] += 1
    return dict(c)
