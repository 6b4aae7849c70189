"""Value types shared by every part of mcvision.

Numpy in, numpy out. These types cross process boundaries (Ray) as plain
pickled dataclasses, so they hold arrays and builtins only.

The central type is :class:`Detections`, in the spirit of supervision's: a
set of boxes with per-box fields, which detector, segmenter, tracker and ReID
all read and extend.

Example:
    >>> import numpy as np
    >>> d = Detections(xyxy=np.array([[10, 20, 50, 120]], dtype=np.float32),
    ...                confidence=np.array([0.9], dtype=np.float32))
    >>> d.foot_points.tolist()
    [[30.0, 120.0]]
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np


def _as(arr: Any, dtype: Any, shape_tail: tuple[int, ...] = ()) -> np.ndarray:
    a = np.asarray(arr, dtype=dtype)
    if a.size == 0:
        a = a.reshape((0, *shape_tail))
    return a


@dataclass(eq=False)
class Detections:
    """Boxes found in one frame, with optional per-box fields.

    Attributes:
        xyxy: (N, 4) float32 boxes in pixels, ``x1, y1, x2, y2``.
        confidence: (N,) float32 scores.
        class_id: (N,) int32 class indices (0 = person for COCO models).
        tracker_id: (N,) int64 local track IDs, or None before tracking.
        mask: (N, H, W) bool masks over the full frame, or None.
        keypoints: (N, K, 3) float32 ``x, y, score`` per keypoint, or None.
        embedding: (N, D) float32 L2-normalized ReID embeddings, or None.
    """

    xyxy: np.ndarray
    confidence: np.ndarray | None = None
    class_id: np.ndarray | None = None
    tracker_id: np.ndarray | None = None
    mask: np.ndarray | None = None
    keypoints: np.ndarray | None = None
    embedding: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.xyxy = _as(self.xyxy, np.float32, (4,))
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"xyxy must be (N, 4), got {self.xyxy.shape}")
        n = len(self.xyxy)
        if self.confidence is None:
            self.confidence = np.ones(n, dtype=np.float32)
        if self.class_id is None:
            self.class_id = np.zeros(n, dtype=np.int32)
        self.confidence = _as(self.confidence, np.float32)
        self.class_id = _as(self.class_id, np.int32)
        if self.tracker_id is not None:
            self.tracker_id = _as(self.tracker_id, np.int64)
        for name in ("confidence", "class_id", "tracker_id", "mask", "keypoints", "embedding"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"{name} has {len(value)} rows, xyxy has {n}")

    @classmethod
    def empty(cls) -> Detections:
        """No detections."""
        return cls(xyxy=np.zeros((0, 4), dtype=np.float32))

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: Any) -> Detections:
        """Select rows by integer, slice, index array or boolean mask."""
        if isinstance(index, int | np.integer):
            index = [int(index)]

        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[index]

        return Detections(
            xyxy=self.xyxy[index],
            confidence=pick(self.confidence),
            class_id=pick(self.class_id),
            tracker_id=pick(self.tracker_id),
            mask=pick(self.mask),
            keypoints=pick(self.keypoints),
            embedding=pick(self.embedding),
        )

    def with_fields(self, **fields: Any) -> Detections:
        """A copy with some fields replaced (e.g. ``tracker_id=...``)."""
        return replace(self, **fields)

    @property
    def foot_points(self) -> np.ndarray:
        """(N, 2) bottom-centre of each box: where the person stands."""
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, self.xyxy[:, 3]], axis=1)

    @property
    def area(self) -> np.ndarray:
        """(N,) box areas in pixels."""
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh[:, 0] * wh[:, 1]


@dataclass(eq=False)
class Frame:
    """One decoded, timestamped frame of one camera.

    Attributes:
        camera_id: the camera it came from.
        index: frame number in the source (after sampling: the source's own number).
        ts: capture time, epoch seconds (UTC). From the stream's PTS for files.
        image: (H, W, 3) uint8 BGR.
    """

    camera_id: str
    index: int
    ts: float
    image: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width)."""
        return int(self.image.shape[0]), int(self.image.shape[1])


class Direction(StrEnum):
    """Direction of a crossing of an entrance line."""

    IN = "in"
    OUT = "out"


@dataclass(frozen=True)
class LineCrossing:
    """A track's foot point crossed an entrance line."""

    line: str
    direction: Direction


@dataclass(eq=False)
class TrackletUpdate:
    """What a camera says about one local track at one moment.

    The identity core consumes a stream of these, in time order per camera.

    Attributes:
        camera_id: the camera.
        local_id: the tracker's ID, unique within the camera for the day.
        ts: epoch seconds of the frame.
        box: (4,) xyxy in pixels.
        foot: (2,) foot point in pixels.
        confidence: detector score.
        embedding: (D,) L2-normalized ReID embedding when one was computed now.
        quality: crop quality in [0, 1] (visibility, size, sharpness).
        zones: names of the zones whose polygon holds the foot point now.
        crossings: entrance-line crossings made since the previous update.
        activity: activity label for this moment, if classified.
        activity_since: when that label's run started (its first classification;
            earlier than ``ts`` when smoothing held the change back), if classified.
        ended: the tracker dropped this track (no more updates will come).
        frame_size: (width, height) of the camera frame, for normalizing positions.
        face_embedding: face embedding of the same crop as ``embedding``, when faces are on
            and a large enough face was seen (never the face image).
    """

    camera_id: str
    local_id: int
    ts: float
    box: np.ndarray
    foot: np.ndarray
    confidence: float = 1.0
    embedding: np.ndarray | None = None
    quality: float = 1.0
    zones: tuple[str, ...] = ()
    crossings: tuple[LineCrossing, ...] = ()
    activity: str | None = None
    ended: bool = False
    frame_size: tuple[int, int] | None = None
    face_embedding: np.ndarray | None = None  # (F,) L2-normalized, opt-in (face.enabled)
    activity_since: float | None = None

    @property
    def track_key(self) -> tuple[str, int]:
        """(camera_id, local_id): the key of this track across the site."""
        return (self.camera_id, self.local_id)


class EventKind(StrEnum):
    """Kinds of events in the append-only event log."""

    IDENTITY_NEW = "identity_new"
    TRACK_ASSIGNED = "track_assigned"
    VISIT_OPEN = "visit_open"
    VISIT_CLOSE = "visit_close"
    ZONE_ENTER = "zone_enter"
    ZONE_EXIT = "zone_exit"
    LINE_CROSS = "line_cross"
    RESET = "reset"
    CAMERA_OFFLINE = "camera_offline"
    CAMERA_ONLINE = "camera_online"
    ACTIVITY = "activity"
    ALERT = "alert"
    RETURNING = "returning"  # a visitor matched a long-term customer
    STAFF = "staff"  # a visitor marked as staff
    IDENTITY_MERGED = "identity_merged"  # late correction: two global IDs were one person


def stable_id(*parts: Any) -> str:
    """A deterministic 16-hex-digit ID from the given parts.

    The same parts give the same ID in any process, so writing an event twice
    stores it once.

    Example:
        >>> stable_id("visit", "G1", 12.5) == stable_id("visit", "G1", 12.5)
        True
    """
    text = json.dumps([_jsonable(p) for p in parts], separators=(",", ":"), sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _jsonable(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, np.generic):
        return _jsonable(v.item())
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


@dataclass(frozen=True)
class Event:
    """One row of the append-only event log.

    Attributes:
        kind: what happened.
        ts: when, epoch seconds (UTC).
        day: business day it belongs to, ``YYYY-MM-DD`` (see :mod:`mcvision.business_day`).
        site_id: the site.
        global_id: the person, where one is concerned.
        camera_id: the camera, where one is concerned.
        visit_id: the visit, where one is concerned.
        zone: the zone, where one is concerned.
        payload: any further fields (JSON-serialisable).
        event_id: deterministic ID; computed from the other fields when empty.
    """

    kind: str
    ts: float
    day: str
    site_id: str
    global_id: str | None = None
    camera_id: str | None = None
    visit_id: str | None = None
    zone: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    event_id: str = ""

    def __post_init__(self) -> None:
        if not self.event_id:
            object.__setattr__(
                self,
                "event_id",
                stable_id(
                    self.site_id,
                    self.kind,
                    self.ts,
                    self.global_id,
                    self.camera_id,
                    self.visit_id,
                    self.zone,
                    self.payload,
                ),
            )


@dataclass(frozen=True)
class Visit:
    """One stay of one person on the premises.

    ``dwell_s = out_ts - in_ts``; ``out_ts`` is the last sighting (or the
    outward crossing of an entrance line).
    """

    visit_id: str
    site_id: str
    day: str
    global_id: str
    in_ts: float
    out_ts: float
    cameras: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()
    in_source: str = "sighting"  # "sighting" | "line"
    out_source: str = "sighting"  # "sighting" | "line" | "reset" | "shutdown"
    returning: bool = False
    is_staff: bool = False
    closed: bool = False
    corrected_at: float | None = None  # site time of the late correction that rewrote it
    merged_into: str | None = None  # set on a tombstone: the visit that absorbed this one

    @property
    def dwell_s(self) -> float:
        return self.out_ts - self.in_ts


@dataclass(frozen=True)
class ZoneVisit:
    """One stay of one person in one zone, within a visit."""

    zone_visit_id: str
    site_id: str
    day: str
    global_id: str
    visit_id: str
    zone: str
    enter_ts: float
    exit_ts: float
    cameras: tuple[str, ...] = ()
    closed: bool = False
    corrected_at: float | None = None  # site time of the late correction that rewrote it
    merged_into: str | None = None  # set on a tombstone: the zone visit that absorbed this one

    @property
    def dwell_s(self) -> float:
        return self.exit_ts - self.enter_ts


@dataclass(frozen=True)
class TrackPoint:
    """A sampled position of a person on one camera (heatmaps, journeys)."""

    site_id: str
    day: str
    camera_id: str
    global_id: str
    visit_id: str
    ts: float
    x: float  # foot point, normalized 0..1 of frame width
    y: float  # foot point, normalized 0..1 of frame height
    zone: str | None = None
    corrected_at: float | None = None  # site time of the late correction that rewrote it
    merged_into: str | None = None  # set on a tombstone: the global ID it now belongs to


@dataclass(frozen=True)
class ActivityInterval:
    """One run of one activity label of one person, within a visit and a zone.

    ``zone`` is None outside every zone. Written as snapshots like visits: on open
    and with ``closed=True`` at the end; the store keeps the latest per ``interval_id``.
    """

    interval_id: str
    site_id: str
    day: str
    global_id: str
    visit_id: str
    activity: str
    zone: str | None
    camera_id: str
    start_ts: float
    end_ts: float
    closed: bool = False
    corrected_at: float | None = None  # site time of the late correction that rewrote it

    @property
    def dwell_s(self) -> float:
        return self.end_ts - self.start_ts


@dataclass
class Records:
    """What the identity core hands to the event store in one go.

    ``visits`` and ``zone_visits`` are snapshots: a visit is written when it
    opens, may be written again while it grows, and is written with
    ``closed=True`` when it ends. The store keeps the latest snapshot per ID.
    """

    events: list[Event] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    zone_visits: list[ZoneVisit] = field(default_factory=list)
    track_points: list[TrackPoint] = field(default_factory=list)
    activities: list[ActivityInterval] = field(default_factory=list)

    def extend(self, other: Records) -> Records:
        """Append another batch to this one (in place) and return self."""
        self.events.extend(other.events)
        self.visits.extend(other.visits)
        self.zone_visits.extend(other.zone_visits)
        self.track_points.extend(other.track_points)
        self.activities.extend(other.activities)
        return self

    def __len__(self) -> int:
        return (
            len(self.events)
            + len(self.visits)
            + len(self.zone_visits)
            + len(self.track_points)
            + len(self.activities)
        )
