"""Keyframes at the day's moments, de-duplicated.

Moments come from the store: visit starts (``visit_open``), zone entries
(``zone_enter``), activity changes (the start of each activity interval after
the first of a visit) and the peak of occupancy (the first time the number of
open visits reached its maximum; on each camera that saw one of those visits).
Each moment takes the nearest recorded frame of its camera within ``tolerance_s``.
De-duplication, per camera: a moment less than ``summaries.keyframe_min_gap_s``
after a kept one joins it (its reason is added to the caption), a moment that
falls on an already used frame joins that one, and a frame that looks the same as
the previous kept frame (mean absolute difference < ``min_diff``) is dropped.
Images are blurred and annotated, written to ``<summaries>/<day>/keyframes/``.

Example:
    >>> [k.reasons for k in make_keyframes(ctx)]     # doctest: +SKIP
    [['visit_start G1'], ['zone_enter shelf G1', 'activity browsing G1']]
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from mcvision.summarize.common import Annotator, SummaryContext
from mcvision.summarize.evidence import EvidenceFrame, read_evidence

__all__ = ["Keyframe", "Moment", "day_moments", "make_keyframes", "peak_occupancy"]


@dataclass(frozen=True)
class Moment:
    """Something worth a picture: when, where, why."""

    ts: float
    camera_id: str
    reason: str


@dataclass
class Keyframe:
    """One written keyframe."""

    camera_id: str
    ts: float
    frame_ts: float
    reasons: list[str]
    path: Path | None = None
    image: np.ndarray | None = field(default=None, repr=False)


def peak_occupancy(intervals: list[tuple[float, float]]) -> tuple[int, float | None]:
    """(max open visits, first time reached) for visits given as (in_ts, out_ts).

    Example:
        >>> peak_occupancy([(0, 10), (5, 20), (12, 30)])
        (2, 5)
    """
    marks = sorted(
        [(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals],
        key=lambda m: (m[0], -m[1]),
    )
    best, when, now = 0, None, 0
    for ts, d in marks:
        now += d
        if now > best:
            best, when = now, ts
    return best, when


def day_moments(ctx: SummaryContext, camera_id: str | None = None) -> list[Moment]:
    """The day's moments (see module doc), in time order."""
    day = ctx.day
    cams = {c.id for c in ctx.cfg.cameras} if camera_id is None else {camera_id}
    out: list[Moment] = []
    for r in ctx.store.sql(
        "SELECT kind, ts, camera_id, global_id, zone FROM events"
        " WHERE day = ? AND kind IN ('visit_open', 'zone_enter') ORDER BY ts",
        [day],
        day=day,
    ):
        if r["camera_id"] in cams:
            what = "visit_start" if r["kind"] == "visit_open" else f"zone_enter {r['zone']}"
            out.append(Moment(r["ts"], r["camera_id"], f"{what} {r['global_id']}"))
    for r in ctx.store.sql(
        "SELECT start_ts, camera_id, global_id, activity, visit_id,"
        " row_number() OVER (PARTITION BY visit_id ORDER BY start_ts) AS n"
        " FROM activities WHERE day = ? ORDER BY start_ts",
        [day],
        day=day,
    ):
        if r["n"] > 1 and r["camera_id"] in cams:
            out.append(
                Moment(r["start_ts"], r["camera_id"], f"activity {r['activity']} {r['global_id']}")
            )
    visits = ctx.store.sql(
        "SELECT in_ts, out_ts, cameras FROM visits WHERE day = ?", [day], day=day
    )
    n, when = peak_occupancy([(v["in_ts"], v["out_ts"]) for v in visits])
    if when is not None and n > 0:
        seen = sorted(
            {c for v in visits if v["in_ts"] <= when <= v["out_ts"] for c in v["cameras"]} & cams
        )
        out.extend(Moment(when, c, f"peak_occupancy {n}") for c in seen)
    out.sort(key=lambda m: (m.ts, m.camera_id, m.reason))
    return out


def make_keyframes(
    ctx: SummaryContext,
    camera_id: str | None = None,
    *,
    tolerance_s: float = 1.0,
    min_diff: float = 1.0,
    write: bool = True,
) -> list[Keyframe]:
    """Pick, de-duplicate, blur, annotate and write the day's keyframes."""
    from mcvision.summarize.highlights import _day_bounds

    lo, hi = _day_bounds(ctx)
    gap = ctx.cfg.summaries.keyframe_min_gap_s
    by_cam: dict[str, list[Moment]] = {}
    for m in day_moments(ctx, camera_id):
        by_cam.setdefault(m.camera_id, []).append(m)
    result: list[Keyframe] = []
    for cam, moments in sorted(by_cam.items()):
        groups: list[tuple[float, list[str]]] = []
        for m in moments:
            if groups and m.ts - groups[-1][0] < gap:
                groups[-1][1].append(m.reason)
            else:
                groups.append((m.ts, [m.reason]))
        times = [g[0] for g in groups]
        best: dict[int, tuple[float, EvidenceFrame]] = {}
        for f in read_evidence(ctx.cfg.storage.root, cam, lo - tolerance_s, hi):
            i = bisect.bisect_left(times, f.ts - tolerance_s)
            while i < len(times) and times[i] <= f.ts + tolerance_s:
                dt = abs(times[i] - f.ts)
                if i not in best or dt < best[i][0]:
                    best[i] = (dt, f)
                i += 1
        annot = Annotator(ctx, cam)
        kept: list[Keyframe] = []
        prev_img: np.ndarray | None = None
        for i, (ts, reasons) in enumerate(groups):
            if i not in best:
                continue
            f = best[i][1]
            if kept and kept[-1].frame_ts == f.ts:
                kept[-1].reasons.extend(reasons)
                continue
            if (
                prev_img is not None
                and prev_img.shape == f.image.shape
                and float(np.mean(cv2.absdiff(prev_img, f.image))) < min_diff
            ):
                kept[-1].reasons.extend(reasons)
                continue
            prev_img = f.image
            kept.append(Keyframe(cam, ts, f.ts, list(reasons), image=annot.draw(f)))
        for k in kept:
            if write and k.image is not None:
                folder = ctx.out_dir / "keyframes"
                folder.mkdir(parents=True, exist_ok=True)
                kind = k.reasons[0].split()[0]
                k.path = (
                    folder / f"{cam}_{ctx.local_time(k.frame_ts, 'HHmmss')}"
                    f"_{round((k.frame_ts % 1) * 1000):03d}_{kind}.jpg"
                )
                cv2.imwrite(str(k.path), k.image)
        result.extend(kept)
    result.sort(key=lambda k: (k.frame_ts, k.camera_id))
    return result
