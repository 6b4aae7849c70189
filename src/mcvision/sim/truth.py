"""Ground truth of a rendered scene: boxes per camera and frame, visits and zone stays per person.

Time convention: every time is **seconds from the start of the videos**; frame
``i`` of every camera is at ``i / fps``. The runtime stamps file frames
``start_ts + PTS``, so a prediction at ``ts`` is frame ``round((ts - start_ts) * fps)``.

Visits follow the product's semantics (DESIGN.md §3): a shopper's visit starts at
the inward crossing of the entrance line (the first frame on the inside) and ends
at the outward crossing; a person who never crosses (staff) is in from the first
sighting to the last. Zone stays use the runtime's hysteresis on the true foot
point: a streak of inside observations (gaps of at most ``zone_exit_s``) counts
once it lasts ``zone_enter_s``; it runs from its first to its last inside frame.

Example:
    >>> gt = load_ground_truth("out/ground_truth.json")  # doctest: +SKIP
    >>> gt.person("P01").visits[0].in_s  # doctest: +SKIP
    4.3
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "TIME_CONVENTION",
    "GTAppearance",
    "GTBox",
    "GTCamera",
    "GTPerson",
    "GTVisit",
    "GTZoneVisit",
    "GroundTruth",
    "activity_truth",
    "appearances",
    "check_ground_truth",
    "dump_ground_truth",
    "load_ground_truth",
    "zone_stays",
]

TIME_CONVENTION = (
    "seconds from the start of the videos; frame i is at i / fps; the runtime stamps frame i"
    " at start_ts + i / fps"
)


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GTBox(_M):
    """One person in one frame: box (clipped to the frame), foot point (bottom centre), pixels."""

    id: str
    box: tuple[float, float, float, float]
    foot: tuple[float, float]
    visibility: float = Field(ge=0, le=1, description="share of the person's pixels seen")
    zone: str | None = None


class GTZoneVisit(_M):
    zone: str
    enter_s: float
    exit_s: float
    cameras: list[str]

    @property
    def dwell_s(self) -> float:
        return self.exit_s - self.enter_s


class GTVisit(_M):
    in_s: float
    out_s: float
    in_source: Literal["line", "sighting"]
    out_source: Literal["line", "sighting"]
    cameras: list[str]
    zones: list[GTZoneVisit]

    @property
    def dwell_s(self) -> float:
        return self.out_s - self.in_s


class GTAppearance(_M):
    """A contiguous run of frames in which a person is on one camera."""

    camera: str
    start_s: float
    end_s: float


class GTPerson(_M):
    id: str
    source: str = Field(
        description="where the person's cutouts come from (sequence#id or folder:person)"
    )
    is_staff: bool
    visits: list[GTVisit]
    appearances: list[GTAppearance]
    views: dict[str, str] = Field(
        default_factory=dict, description="simulated camera -> the real camera its crops come from"
    )
    colour: str | None = Field(default=None, description="dominant clothing colour (crop folders)")
    group: int | None = Field(default=None, description="walks in with the others of this group")


class GTCamera(_M):
    id: str
    width: int
    height: int
    frames: int
    video: str
    zones: dict[str, list[tuple[float, float]]]
    lines: dict[str, tuple[tuple[float, float], tuple[float, float]]]


class GTTransit(_M):
    a: str
    b: str
    min_s: float
    max_s: float
    overlap: bool


class GroundTruth(_M):
    """Everything the evaluation compares against."""

    version: int = 1
    site_id: str
    seed: int
    fps: float
    duration_s: float
    time: str = TIME_CONVENTION
    zone_enter_s: float
    zone_exit_s: float
    cameras: list[GTCamera]
    transits: list[GTTransit]
    people: list[GTPerson]
    frames: dict[str, list[list[GTBox]]] = Field(description="camera -> frame index -> boxes")

    def person(self, person_id: str) -> GTPerson:
        for p in self.people:
            if p.id == person_id:
                return p
        raise KeyError(person_id)

    def camera(self, camera_id: str) -> GTCamera:
        for c in self.cameras:
            if c.id == camera_id:
                return c
        raise KeyError(camera_id)

    def frame_time(self, index: int) -> float:
        return index / self.fps


def dump_ground_truth(gt: GroundTruth, path: str | Path) -> None:
    """Write canonical JSON (sorted keys): the same truth gives the same bytes."""
    text = json.dumps(gt.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    Path(path).write_text(text + "\n")


def load_ground_truth(path: str | Path) -> GroundTruth:
    """Read a ``ground_truth.json``.

    Raises:
        ValueError: the file is missing or not a ground truth (fields named).
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise ValueError(f"{p}: ground truth file not found") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{p}: not valid JSON: {err}") from None
    try:
        return GroundTruth.model_validate(data)
    except ValidationError as err:
        raise ValueError(f"{p}: not a valid ground truth: {err}") from None


def zone_stays(
    inside: list[tuple[float, str]], enter_s: float, exit_s: float
) -> list[tuple[float, float, list[str]]]:
    """Zone stays from time-ordered inside observations ``(t, camera)`` of one zone.

    Example:
        >>> zone_stays([(0.0, "c"), (1.0, "c"), (2.5, "c"), (9.0, "c"), (9.5, "c")], 2.0, 3.0)
        [(0.0, 2.5, ['c'])]
    """
    out: list[tuple[float, float, list[str]]] = []
    streak: list[tuple[float, str]] = []

    def close() -> None:
        if streak and streak[-1][0] - streak[0][0] >= enter_s:
            out.append((streak[0][0], streak[-1][0], sorted({c for _, c in streak})))

    for t, cam in inside:
        if streak and t - streak[-1][0] > exit_s:
            close()
            streak = []
        streak.append((t, cam))
    close()
    return out


def appearances(
    gt_frames: dict[str, list[list[GTBox]]], fps: float
) -> dict[str, list[GTAppearance]]:
    """Per person, the runs of consecutive frames on each camera, sorted by start."""
    runs: dict[str, list[GTAppearance]] = defaultdict(list)
    for cam in sorted(gt_frames):
        open_: dict[str, tuple[int, int]] = {}
        for i, boxes in enumerate([*gt_frames[cam], []]):
            here = {b.id for b in boxes}
            for pid in sorted(set(open_) - here):
                s, e = open_.pop(pid)
                runs[pid].append(
                    GTAppearance(camera=cam, start_s=round(s / fps, 3), end_s=round(e / fps, 3))
                )
            for pid in sorted(here):
                s, _ = open_.get(pid, (i, i))
                open_[pid] = (s, i)
    return {pid: sorted(r, key=lambda a: (a.start_s, a.camera)) for pid, r in sorted(runs.items())}


def check_ground_truth(gt: GroundTruth) -> list[str]:
    """Problems that make a ground truth unusable (empty list: consistent).

    Checks: every box inside its frame with its foot on the box's bottom edge; visits in
    time order, not overlapping, and holding their zone stays; consecutive appearances on
    two cameras respect the transit window (overlapping cameras may see a person at once).
    """
    problems: list[str] = []
    for cam in gt.cameras:
        frames = gt.frames.get(cam.id)
        if frames is None or len(frames) != cam.frames:
            problems.append(f"camera {cam.id}: expected {cam.frames} frames of boxes")
            continue
        for i, boxes in enumerate(frames):
            ids = [b.id for b in boxes]
            if len(set(ids)) != len(ids):
                problems.append(f"{cam.id} frame {i}: a person appears twice")
            for b in boxes:
                x1, y1, x2, y2 = b.box
                if not (0 <= x1 < x2 <= cam.width and 0 <= y1 < y2 <= cam.height):
                    problems.append(f"{cam.id} frame {i}: box {b.box} of {b.id} leaves the frame")
                if abs(b.foot[1] - y2) > 0.51 or not (x1 <= b.foot[0] <= x2):
                    problems.append(f"{cam.id} frame {i}: foot {b.foot} of {b.id} not on its box")
    transits = {frozenset((t.a, t.b)): t for t in gt.transits}
    for p in gt.people:
        last_out = -1.0
        for v in p.visits:
            if v.out_s < v.in_s or v.in_s < last_out:
                problems.append(f"{p.id}: visit {v.in_s}-{v.out_s} out of order")
            last_out = v.out_s
            for z in v.zones:
                if not (v.in_s - 1e-6 <= z.enter_s <= z.exit_s <= v.out_s + 1e-6):
                    problems.append(
                        f"{p.id}: zone {z.zone} {z.enter_s}-{z.exit_s} outside its visit"
                    )
        for a, b in zip(p.appearances, p.appearances[1:], strict=False):
            if a.camera == b.camera:
                continue
            t = transits.get(frozenset((a.camera, b.camera)))
            gap = b.start_s - a.end_s
            if t is None:
                problems.append(f"{p.id}: walked {a.camera}->{b.camera}, cameras not linked")
            elif gap > t.max_s + 1e-6 or (not t.overlap and gap < t.min_s - 1e-6):
                problems.append(
                    f"{p.id}: {a.camera}->{b.camera} after {gap:.2f} s, outside [{t.min_s}, {t.max_s}]"
                )
    return problems


def activity_truth(
    gt: GroundTruth, *, walk_speed: float = 0.2, min_visibility: float = 0.0
) -> dict[tuple[str, str, int], str]:
    """Per person, camera and whole second, whether they walk or stand (dwell).

    The simulator moves a person's foot point along the route while walking and holds
    it (with a sway of a few pixels) while dwelling. Second ``k`` covers ``[k, k + 1]``
    and counts only when the person is on the camera for all of it; it is split at its
    middle frame, and each half's foot speed is its end-to-end displacement in median
    box heights per second. Both halves ≥ ``walk_speed``: ``walking``; both below:
    ``standing``; one of each (a dwell starts or ends in that second): left out.

    Args:
        gt: the ground truth.
        walk_speed: foot speed boundary in box heights per second (a dwell sways by
            < 0.07, a walk moves 0.5-1 heights per second).
        min_visibility: seconds with a frame in which the person is seen less are left out.

    Returns:
        ``(person_id, camera_id, second) -> "walking" | "standing"``.

    Example:
        >>> truth = activity_truth(gt)  # doctest: +SKIP
        >>> truth[("P01", "cam1", 7)]  # doctest: +SKIP
        'standing'
    """
    if walk_speed <= 0:
        raise ValueError(f"walk_speed must be > 0, got {walk_speed}")
    fps = gt.fps
    out: dict[tuple[str, str, int], str] = {}
    for cam in sorted(gt.frames):
        track: dict[str, dict[int, GTBox]] = defaultdict(dict)
        for i, boxes in enumerate(gt.frames[cam]):
            for b in boxes:
                track[b.id][i] = b
        for pid, by_frame in sorted(track.items()):
            for k in range(int(len(gt.frames[cam]) / fps)):
                i0, i1 = round(k * fps), round((k + 1) * fps)
                idx = range(i0, i1 + 1)
                if any(i not in by_frame for i in idx) or len(idx) < 3:
                    continue
                rows = [by_frame[i] for i in idx]
                if any(b.visibility < min_visibility for b in rows):
                    continue
                h = sorted(b.box[3] - b.box[1] for b in rows)[len(rows) // 2]
                mid = len(rows) // 2
                halves = [(rows[0], rows[mid], mid), (rows[mid], rows[-1], len(rows) - 1 - mid)]
                fast = [
                    ((b.foot[0] - a.foot[0]) ** 2 + (b.foot[1] - a.foot[1]) ** 2) ** 0.5
                    / (n / fps)
                    / max(h, 1.0)
                    >= walk_speed
                    for a, b, n in halves
                ]
                if all(fast):
                    out[(pid, cam, k)] = "walking"
                elif not any(fast):
                    out[(pid, cam, k)] = "standing"
    return out
