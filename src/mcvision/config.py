"""Site configuration: cameras, zones, lines, topology, thresholds, models, storage.

A site is described by one YAML file validated by pydantic. A broken file
fails with :class:`ConfigError`, whose message names every bad field by its
path, e.g. ``cameras[2].zones[0].polygon: needs >= 3 points``.

Example:
    >>> cfg = SiteConfig.model_validate({
    ...     "site_id": "demo",
    ...     "cameras": [{"id": "cam1", "source": "video.mp4"}],
    ... })
    >>> cfg.reset.timezone
    'Asia/Kolkata'
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import pendulum
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

Point = tuple[float, float]


class ConfigError(ValueError):
    """A site config that cannot be used. The message names each bad field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _PolygonConfig(_Model):
    """A polygon on a camera's frame, in pixels or (``normalized``) in 0..1 of the frame."""

    polygon: list[Point]
    normalized: bool = Field(
        default=False, description="polygon in 0..1 of the frame instead of pixels"
    )

    @field_validator("polygon")
    @classmethod
    def _polygon(cls, v: list[Point]) -> list[Point]:
        if len(v) < 3:
            raise ValueError(f"needs >= 3 points, got {len(v)}")
        return v

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.normalized and any(not (0 <= c <= 1) for p in self.polygon for c in p):
            raise ValueError("polygon: normalized coordinates must lie in 0..1")
        return self


class ZoneConfig(_PolygonConfig):
    """A named floor area seen by one camera.

    Zones with the same ``name`` on several cameras are one zone.
    """

    name: str = Field(min_length=1)


class LineConfig(_Model):
    """An entrance line: crossing it towards ``inside`` opens a visit, away closes it.

    ``inside`` is the side of the directed segment ``points[0] -> points[1]``
    (in image coordinates, y pointing down) that is the inside of the premises.
    """

    name: str = Field(min_length=1)
    points: tuple[Point, Point]
    inside: Literal["left", "right"] = "left"
    normalized: bool = False

    @model_validator(mode="after")
    def _distinct(self) -> LineConfig:
        if self.points[0] == self.points[1]:
            raise ValueError("points: the two points of a line must differ")
        if self.normalized and any(not (0 <= c <= 1) for p in self.points for c in p):
            raise ValueError("points: normalized coordinates must lie in 0..1")
        return self


class FloorPointConfig(_Model):
    """One calibration pair: a pixel of the camera's frame and the same spot on the floor plan."""

    image: Point = Field(description="(x, y) in pixels of the camera frame")
    floor: Point = Field(description="(x, y) in metres on the site's floor plan")


def _collinear(points: list[Point], tol: float) -> bool:
    """True when all points lie within ``tol`` of one line (or coincide)."""
    pts = [(float(x), float(y)) for x, y in points]
    n = len(pts)
    cx, cy = sum(p[0] for p in pts) / n, sum(p[1] for p in pts) / n
    sxx = sum((p[0] - cx) ** 2 for p in pts)
    syy = sum((p[1] - cy) ** 2 for p in pts)
    sxy = sum((p[0] - cx) * (p[1] - cy) for p in pts)
    # the smaller eigenvalue of the scatter: the spread across the best-fit line
    half_tr, det = (sxx + syy) / 2, sxx * syy - sxy * sxy
    small = half_tr - (max(half_tr * half_tr - det, 0.0)) ** 0.5
    return (max(small, 0.0) / n) ** 0.5 <= tol


class FloorConfig(_Model):
    """A camera's floor calibration: image↔floor point pairs → a homography.

    At least four pairs, not all on one line in the image or on the floor. The
    homography (OpenCV ``findHomography``) maps a person's foot point to metres on
    the site's floor plan; ``mcvision calibrate`` computes it, reports the
    reprojection error and draws the metre grid over a frame. One floor plan (one
    metric frame) is shared by every calibrated camera of the site.
    """

    points: list[FloorPointConfig] = Field(description="image pixel ↔ floor metre pairs")
    plan_image: str | None = Field(
        default=None,
        description="floor-plan image (optional; floor_plan.image, when set, is the site's)",
    )
    plan_px_per_m: float | None = Field(
        default=None, gt=0, description="scale of plan_image: pixels per metre"
    )
    plan_origin_px: Point = Field(
        default=(0.0, 0.0), description="pixel of plan_image at floor (0, 0) m; y grows down"
    )
    max_error_m: float = Field(
        default=0.5,
        gt=0,
        description="a mean reprojection error above this (metres on the floor) is reported as"
        " a bad calibration",
    )

    @model_validator(mode="after")
    def _check(self) -> FloorConfig:
        n = len(self.points)
        if n < 4:
            raise ValueError(f"points: needs >= 4 image-floor point pairs, got {n}")
        for what, pts, tol in (
            ("image", [p.image for p in self.points], 1.0),
            ("floor", [p.floor for p in self.points], 0.01),
        ):
            if len(set(pts)) < 4:
                raise ValueError(f"points: needs >= 4 distinct {what} points, got {len(set(pts))}")
            if _collinear(pts, tol):
                raise ValueError(
                    f"points: the {what} points all lie on one line (degenerate: no homography)"
                )
        if self.plan_image is not None and self.plan_px_per_m is None:
            raise ValueError("plan_px_per_m: needed with plan_image (pixels per metre)")
        return self


class FloorAreaConfig(_Model):
    """A named area of the floor plan, a polygon in metres (floor occupancy is counted per area).

    Unlike a camera's zones (pixels of one frame), an area is drawn once on the floor
    plan and counts every calibrated camera's foot points that fall in it.
    """

    name: str = Field(min_length=1, max_length=200)
    polygon: list[Point] = Field(description="(x, y) corners in metres on the floor plan")

    @field_validator("polygon")
    @classmethod
    def _polygon(cls, v: list[Point]) -> list[Point]:
        if len(v) < 3:
            raise ValueError(f"needs >= 3 points, got {len(v)}")
        if len(set(v)) < 3 or _collinear(list(v), 1e-6):
            raise ValueError("the points all lie on one line (an area needs a surface)")
        return v


class FloorPlanConfig(_Model):
    """The site's floor plan: its picture and named areas, in the metres of the calibrations.

    Every calibrated camera (``cameras[].floor``) maps foot points into one metric
    frame; this block says how to draw it and which areas to count. ``image`` is a
    picture of the plan: pixel ``origin_px`` is floor (0, 0) m and ``px_per_m`` pixels
    make a metre, the plan's y (north) growing up the picture. Without ``image`` the
    first calibrated camera's ``plan_image`` (with its ``plan_px_per_m`` and
    ``plan_origin_px``) is used; without either, the plan is drawn as a metre grid.
    """

    image: str | None = Field(default=None, description="floor-plan picture (PNG/JPEG)")
    px_per_m: float | None = Field(default=None, gt=0, description="scale of image: px per metre")
    origin_px: Point = Field(
        default=(0.0, 0.0), description="pixel of image at floor (0, 0) m; floor y grows up"
    )
    areas: list[FloorAreaConfig] = Field(
        default_factory=list, description="named floor areas (metres) for occupancy by area"
    )

    @model_validator(mode="after")
    def _check(self) -> FloorPlanConfig:
        if self.image is not None and self.px_per_m is None:
            raise ValueError("px_per_m: needed with image (pixels per metre)")
        names = [a.name for a in self.areas]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"areas: duplicate area names {dup}")
        return self


class RoiConfig(_PolygonConfig):
    """A camera's region of interest: motion and detections outside it are ignored.

    A detection counts as inside when its foot point (bottom centre) is, as for zones.
    """


class GatingConfig(_Model):
    """Motion gating: a camera's frames go to the detector only when something may be there.

    A frame is detected when there is motion, when the tracker has live tracks (tracked,
    tentative or lost), or when ``keepalive_s`` passed since the last detected frame. A camera
    with no motion and no tracks samples at ``idle_fps`` and is back at its full ``fps`` on
    the first frame with motion or people. Skipped frames still advance the camera's time.

    Where the defaults come from (footage clip at 5 fps, this 2-core CPU): ``diff`` at 160 px
    costs ~0.3 ms a frame (MOG2 ~0.7 ms, against ~21 ms for the detector) and both flag a
    person walking in on the frame before the detector first finds them; ``min_area``
    0.002 is above the clip's empty-scene noise (0.0) and below one person walking in
    (0.008 on the first frame, up to 0.17 after). ``alpha`` 1 (difference to the previous
    looked-at frame) and ``keepalive_s`` 4 (a lost track keeps every frame detected until it
    ends; a still person whose track ended is found again within 4 s) were
    chosen on the tuning part of the half-empty footage: a slow background (0.1) is stale
    after a stay, since the gate does not look while the tracker follows someone, and took
    ~10 detected frames to refit after each exit. On the held-out part the gate detects 292
    of 552 frames (``benchmarks/results/gating.json``), 1.60x the bare detector's frames/s on a
    quiet machine (rounds 1.48-1.87; measured with the tracker's former 30-frame buffer),
    with accuracy on the crowded store within 0.4 points of ungated
    (``gating_crowded_seed{3,5}.json``). On by default; ``enabled: false`` (site or camera)
    sends every sampled frame to the detector.
    """

    enabled: bool = Field(default=True, description="gate detection on motion and live tracks")
    method: Literal["diff", "mog2"] = Field(
        default="diff", description="motion: running-average frame difference, or OpenCV MOG2"
    )
    width: int = Field(default=160, ge=16, le=1920, description="motion is computed at this width")
    threshold: int = Field(
        default=25, ge=1, le=255, description="grey-level change that counts as moving (diff)"
    )
    alpha: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="weight of a looked-at frame in the diff background (1: the previous one)",
    )
    min_area: float = Field(
        default=0.002, ge=0, le=1, description="moving fraction of the (ROI) frame that is motion"
    )
    keepalive_s: float = Field(
        default=4.0, gt=0, description="detect at least this often, motion or not"
    )
    idle_fps: float = Field(
        default=2.0, gt=0, le=120, description="sampling fps with no motion and nobody in view"
    )
    lost_grace_s: float = Field(
        default=1.0,
        ge=0,
        description="detect every frame this long after the last tracked person was lost",
    )


class CameraGatingConfig(_Model):
    """Per-camera overrides of the site's ``gating`` block (unset fields inherit it)."""

    enabled: bool | None = None
    method: Literal["diff", "mog2"] | None = None
    width: int | None = Field(default=None, ge=16, le=1920)
    threshold: int | None = Field(default=None, ge=1, le=255)
    alpha: float | None = Field(default=None, gt=0, le=1)
    min_area: float | None = Field(default=None, ge=0, le=1)
    keepalive_s: float | None = Field(default=None, gt=0)
    idle_fps: float | None = Field(default=None, gt=0, le=120)
    lost_grace_s: float | None = Field(default=None, ge=0)


_URL = re.compile(r"^(rtsp|rtsps|http|https|rtmp|udp|tcp)://", re.I)


class CameraConfig(_Model):
    """One camera: where its frames come from and what it sees."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    source: str | int = Field(description="file path, rtsp/http URL, webcam index, or image folder")
    fps: float = Field(default=10.0, gt=0, le=120, description="target sampling fps")
    resolution: tuple[int, int] | None = Field(
        default=None, description="(width, height) hint for normalized geometry"
    )
    zones: list[ZoneConfig] = Field(default_factory=list)
    lines: list[LineConfig] = Field(default_factory=list)
    record: bool = False
    loop: bool = Field(
        default=False,
        description="a video file replayed forever like a live camera: paced at the file's"
        " fps (else fps), stamped with the wall clock, never ending (e.g. the demo as a live"
        " site); video files only",
    )
    floor: FloorConfig | None = Field(
        default=None, description="floor calibration (image↔plan points); none: no geometry"
    )
    roi: RoiConfig | None = Field(
        default=None, description="region of interest: motion and people outside it are ignored"
    )
    gating: CameraGatingConfig | None = Field(
        default=None, description="overrides of the site's gating block for this camera"
    )

    @field_validator("source")
    @classmethod
    def _source(cls, v: str | int) -> str | int:
        if isinstance(v, int):
            if v < 0:
                raise ValueError("webcam index must be >= 0")
            return v
        if not v.strip():
            raise ValueError("must not be empty")
        return v

    @field_validator("resolution")
    @classmethod
    def _resolution(cls, v: tuple[int, int] | None) -> tuple[int, int] | None:
        if v is not None and (v[0] <= 0 or v[1] <= 0):
            raise ValueError("width and height must be > 0")
        return v

    @model_validator(mode="after")
    def _unique_lines(self) -> CameraConfig:
        names = [ln.name for ln in self.lines]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"lines: duplicate line names {dup}")
        return self

    @model_validator(mode="after")
    def _loop_files_only(self) -> CameraConfig:
        if self.loop and self.source_kind != "file":
            raise ValueError(
                f"loop: true applies to a video file, but source {self.source!r} is"
                f" a {self.source_kind}"
            )
        return self

    @property
    def source_kind(self) -> Literal["webcam", "url", "folder", "file"]:
        """How the source is read: webcam index, stream URL, image folder or file."""
        if isinstance(self.source, int):
            return "webcam"
        if _URL.match(self.source):
            return "url"
        if Path(self.source).is_dir():
            return "folder"
        return "file"

    @property
    def is_live(self) -> bool:
        """Live sources (and looped files) are timestamped by wall clock and may drop frames."""
        return self.loop or self.source_kind in ("webcam", "url")


class TransitConfig(_Model):
    """Who can walk from camera ``a`` to camera ``b`` (either way) and how fast."""

    a: str
    b: str
    min_s: float = Field(default=0.0, ge=0)
    max_s: float = Field(default=600.0, gt=0)
    overlap: bool = Field(
        default=False,
        description="the cameras see the same floor: one person may be on both at once",
    )

    @model_validator(mode="after")
    def _window(self) -> TransitConfig:
        if self.a == self.b:
            raise ValueError("a and b must be different cameras")
        if self.max_s < self.min_s:
            raise ValueError(f"max_s ({self.max_s}) must be >= min_s ({self.min_s})")
        return self


class TopologyConfig(_Model):
    """Camera adjacency. Pairs not listed follow ``unlisted``."""

    transits: list[TransitConfig] = Field(default_factory=list)
    unlisted: Literal["allow", "deny"] = Field(
        default="allow",
        description="allow: unlisted pairs may hand over after any gap; deny: never",
    )


#: Appearance thresholds that live on the embedder's cosine scale, per ReID model
#: (``Path(models.reid.weights).name``). A config that names one of these models and
#: leaves a threshold out gets the model's value (:meth:`SiteConfig._embedder_thresholds`);
#: the field defaults are OSNet x0.25's (what a model without a row gets; the default model,
#: retail-0286, takes its row). Where each value came from:
#:
#: ================================ ============= ============== ============= ==========
#: threshold                        retail-0286   retail-0287    OSNet x0.25   source
#:                                                INT8
#: ================================ ============= ============== ============= ==========
#: identity.match_threshold         0.47          0.47           0.72          (1)
#: identity.merge_threshold         0.48          0.50           0.74          (2)
#: identity.track_split_similarity  0.30          0.32           off           (4)
#: staff.match_threshold            0.47          0.45           0.75          (3)
#: customers.match_threshold        0.47          0.45           0.75          (3)
#: ================================ ============= ============== ============= ==========
#:
#: (1) Best mean global IDF1 of the full identity on the crowded scenario's tuning seeds.
#:     retail-0286: 0.47 of 0.40 / 0.45 / 0.47 / 0.50 on seeds 0-2 (tracker buffer 5, split
#:     0.30, late correction on; mean IDF1 0.639 / 0.650 / 0.659 / 0.652,
#:     ``accuracy_sweep_match_threshold_retail0286.json``); the earlier 0.40 (best of
#:     0.25-0.55 on the older renders and tracker, ``accuracy_retail0286.json``) gave the
#:     third person of the real two-camera footage the first one's ID (cosine 0.457,
#:     ``tests/identity/test_real_footage.py``). OSNet: ``accuracy.json``. On
#:     ``reid_bench`` (Market-1501, cross-camera pairs) retail-0286's 1 % false-match
#:     threshold is 0.351 (0.1 %: 0.466) and OSNet's
#:     0.701 (``reid_retail0286.json``, ``reid.json``): the crowded store wants a
#:     slightly stricter value than 1 % FMR for both. (The 0.25-0.55 sweep's renders predate
#:     the simulator's floor-plan change; on the current renders' held-out seeds 3 and 5 the
#:     ablation is ``accuracy_ablation.json``.) retail-0287 INT8: 0.47 of 0.40 / 0.43 / 0.45
#:     / 0.47 / 0.50 on seeds 0-1 (merge 0.48, split 0.28, contest on; mean IDF1 0.659 /
#:     0.656 / 0.646 / 0.670 / 0.638; ``accuracy_sweep_match_threshold_retail0287.json``);
#:     at its whole row, held-out seeds 3, 5: 0.686 against 0.445 at OSNet's 0.72
#:     (``accuracy_sweep_match_threshold_retail0287_chosen.json``).
#: (2) Best mean global IDF1 of late correction on the tuning seeds. retail-0286: 0.48 of
#:     0.48 / 0.50 / 0.53 / 0.56 at match 0.47 (seeds 0-1, buffer 5, split 0.30; mean IDF1
#:     0.637 / 0.624 / 0.615 / 0.622; held-out seeds 3, 5: 0.683 at 0.50 -> 0.688, visitors
#:     52 -> 51, ``accuracy_sweep_merge_threshold_retail0286.json``); before, 0.50 of 0.42-0.6
#:     at match 0.40 (``accuracy_correction_retail0286.json``). retail-0287 INT8: 0.50 of
#:     0.47 / 0.50 / 0.53 at match 0.47 (seeds 0-1; 0.6695 / 0.670 / 0.6655: a near tie;
#:     ``accuracy_sweep_merge_threshold_retail0287.json``). OSNet: 0.74 of 0.74-0.9
#:     (``accuracy_correction.json``).
#: (3) A false staff match drops a customer from every number, a false returning match
#:     merges two customers across days: both sit at a strict false-match rate on
#:     ``reid_bench``'s cross-camera different-person pairs (Market-1501). OSNet's 0.75
#:     was a hand value; it is at 0.26 % FMR (true-match rate 0.39;
#:     ``reid_thresholds_osnet.json``, ``rates_at_threshold``). retail-0286: 0.1 % FMR
#:     is at 0.466 (true-match rate 0.85), rounded up to 0.47
#:     (``reid_thresholds_retail0286.json``, ``thresholds_at_fmr``). The customers
#:     threshold applies to the fused face + body score; only its body part was measured.
#:     retail-0287 INT8: 0.1 % FMR at 0.443 (true-match rate 0.77), rounded up to 0.45
#:     (``reid_thresholds_retail0287.json``).
#: (4) Best mean global IDF1 on the tuning seeds. retail-0286: none / 0.2 / 0.3 on seeds
#:     0-1 (tracker buffer 5): 0.497 / 0.596 / 0.629; held-out seeds 3, 5: 0.593 -> 0.650
#:     (``accuracy_sweep_track_split_similarity_retail0286.json``). retail-0287 INT8: none /
#:     0.25 / 0.28 / 0.32 at match 0.47, merge 0.48: 0.541 / 0.664 / 0.6695 / 0.670
#:     (``accuracy_sweep_track_split_similarity_retail0287.json``). OSNet: not measured, off.
EMBEDDER_THRESHOLDS: dict[str, dict[str, float]] = {
    "person-reidentification-retail-0286": {
        "identity.match_threshold": 0.47,
        "identity.merge_threshold": 0.48,
        "identity.track_split_similarity": 0.30,
        "staff.match_threshold": 0.47,
        "customers.match_threshold": 0.47,
    },
    "person-reidentification-retail-0287-int8": {
        "identity.match_threshold": 0.47,
        "identity.merge_threshold": 0.50,
        "identity.track_split_similarity": 0.32,
        "staff.match_threshold": 0.45,
        "customers.match_threshold": 0.45,
    },
    "osnet_x0_25_msmt17.onnx": {
        "identity.match_threshold": 0.72,
        "identity.merge_threshold": 0.74,
        "staff.match_threshold": 0.75,
        "customers.match_threshold": 0.75,
    },
}
DEFAULT_REID_WEIGHTS = "reid_openvino/person-reidentification-retail-0286"


class IdentityConfig(_Model):
    """Thresholds of the global identity matcher."""

    gallery_flush_s: float = Field(
        default=2.0,
        ge=0,
        description="new embeddings reach the LanceDB gallery at most this often (data time)",
    )
    match_threshold: float = Field(
        default=0.72,
        ge=-1,
        le=1,
        description="min cosine (track mean vs gallery) to match; on the embedder's scale"
        " (EMBEDDER_THRESHOLDS: OSNet x0.25 0.72, retail-0286 0.47)",
    )
    min_frames: int = Field(default=3, ge=1, description="updates before a track is matched")
    min_seconds: float = Field(default=0.0, ge=0, description="track age before it is matched")
    min_quality: float = Field(default=0.0, ge=0, le=1)
    gallery_per_identity: int = Field(default=16, ge=1, description="embeddings kept per person")
    # embed_every_frames: 10 of 10 / 15 / 20 on the crowded scenario's tuning seeds 0-1 (IDF1
    # 0.692 / 0.672 / 0.638 at 951 / 726 / 612 embeddings on seed 0; accuracy_sweep_embed_every_
    # frames_retail0286.json): fewer embeddings cost accuracy at once
    embed_every_frames: int = Field(default=10, ge=1, description="ReID every K frames per track")
    # embed_first_frames: 1 of 1 / 2 / 3 on the crowded scenario's tuning seeds 0-1 (IDF1
    # 0.692 / 0.664 / 0.661; benchmarks/results/accuracy_sweep_embed_first_frames_retail0286.json)
    embed_first_frames: int = Field(
        default=1,
        ge=1,
        description="ReID on each of a track's first N frames (then every embed_every_frames):"
        " a track is matched after min_frames updates, so N = min_frames gives the decision N"
        " embeddings instead of one",
    )
    max_pending_s: float = Field(
        default=5.0, ge=0, description="a track without a usable embedding this long gets a new ID"
    )
    use_reid: bool = Field(default=True, description="false: motion/topology only (ablation)")
    use_topology: bool = Field(default=True, description="false: ignore transit windows (ablation)")
    camera_centring: bool = Field(
        default=False,
        description="compare embeddings centred on each camera's running mean (site adaptation)",
    )
    centring_min_embeddings: int = Field(
        default=20, ge=1, description="embeddings a camera needs before its mean is subtracted"
    )
    pair_thresholds: bool = Field(
        default=False,
        description="a match threshold per camera pair, from the scores of people known to be"
        " different (two tracks on one camera at one moment; mcvision.identity.pair_thresholds)",
    )
    pair_fmr: float = Field(
        default=0.01,
        ge=0,
        lt=1,
        description="with pair_thresholds: the false-match rate each pair's threshold allows"
        " among its known-different scores",
    )
    pair_min_samples: int = Field(
        default=50, ge=1, description="known-different scores a pair needs for its own threshold"
    )
    # Late correction (mcvision.identity.correction). merge_threshold is a cosine on the
    # scale of match_threshold, so it belongs to the embedder (EMBEDDER_THRESHOLDS): 0.48
    # was the best of 0.48-0.56 for retail-0286 at match 0.47 on the crowded scenario's
    # tuning seeds 0-1 (benchmarks/accuracy_bench.py --sweep merge_threshold,
    # benchmarks/results/accuracy_sweep_merge_threshold_retail0286.json; held-out seeds 3, 5
    # IDF1 0.683 at 0.50 -> 0.688), 0.74 of 0.74-0.9 for OSNet x0.25 (match 0.72;
    # accuracy_correction.json, held-out 0.397 -> 0.441). The 60 s window is the issue's;
    # it was not swept.
    correction_window_s: float = Field(
        default=60.0,
        ge=0,
        description="two global IDs found later to be one person are merged while both were "
        "seen within this many seconds; older numbers are final (0: no late correction)",
    )
    merge_threshold: float = Field(
        default=0.74,
        ge=-1,
        le=1,
        description="min cosine between two identities' mean gallery embeddings for a late "
        "merge (stricter than match_threshold; never below it)",
    )
    merge_min_embeddings: int = Field(
        default=3,
        ge=1,
        description="gallery embeddings each identity needs before a late merge is considered",
    )
    track_split_gap_s: float = Field(
        default=0.0,
        ge=0,
        description="a local track seen again after more than this many seconds without a"
        " sighting is a new track for the identity (the tracker's lost tracks pick up whoever"
        " walks by where they were lost); 0: never split. Off by default: 0.3 (any missed frame"
        " at 5 fps) raised held-out crowded IDF1 0.510 -> 0.625 but nearly quadrupled the"
        " visitor count (benchmarks/results/accuracy_geometry_split_retail0286.json)",
    )
    contest_wait_s: float = Field(
        default=3.0,
        ge=0,
        description="a new track that looks like an identity held by a concurrent track on the"
        " same camera (the tracker may have carried that ID on to someone else as two people"
        " crossed) waits up to this long for the holder's next embedding: if the holder now"
        " looks less like the identity than the new track does, it is cut where the new track"
        " began and the new track takes the identity; 0: never wait (a new ID at once)",
    )
    track_split_similarity: float | None = Field(
        default=None,
        ge=-1,
        le=1,
        description="a local track whose new embedding scores below this cosine against the"
        " track's own last embeddings is a new track for the identity, matched afresh (two"
        " people crossing swap or merge the tracker's boxes); on the embedder's scale; null:"
        " never split on appearance",
    )
    use_geometry: bool = Field(
        default=False,
        description="floor-plane evidence between calibrated cameras (needs cameras[].floor);"
        " off by default: on the crowded simulated store's tuning seeds 0-1 (retail-0286, the"
        " defaults otherwise) it lowered mean global IDF1 0.637 -> 0.620"
        " (benchmarks/results/accuracy_sweep_use_geometry_retail0286.json)",
    )
    floor_match_m: float = Field(
        default=1.0,
        gt=0,
        description="same-moment sightings this close on the floor (metres) are one person",
    )
    floor_apart_m: float = Field(
        default=2.5,
        gt=0,
        description="same-moment sightings farther apart than this are two people",
    )
    # floor_weight: the best of 0 / 0.15 / 0.3 / 0.6 / 1.0 on the crowded scenario's tuning
    # seed 0 (IDF1 0.404 at 0.6; benchmarks/results/accuracy_geometry_retail0286.json, "tuned")
    floor_weight: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="geometry term of the matching cost: -floor_weight at 0 m, 0 at floor_match_m",
    )
    max_walk_speed_mps: float = Field(
        default=2.5,
        gt=0,
        description="a transit faster than this (floor distance / gap, m/s) is not walkable",
    )

    # entrance_prior: 0.15, the best of 0 / 0.1 / 0.15 / 0.2 on the crowded scenario's tuning
    # seeds 0-1 (IDF1 0.692 -> 0.749; accuracy_sweep_entrance_prior_retail0286.json, where
    # held-out seeds 3, 5 went 0.716 -> 0.700). Scored again on four tuning seeds 0, 1, 2, 4
    # (0.659 -> 0.685) and four held-out seeds 3, 5, 7, 9: IDF1 0.705 -> 0.709, unique
    # visitors 50 -> 38.5 for 26 (error 92 % -> 48 %), in-time MAE 4.0 -> 2.6 s, zone-dwell
    # error 10.0 -> 9.2 %, but out-time MAE 4.0 -> 5.8 s and IDs holding more than one person
    # 0.44 -> 0.52 (accuracy_sweep_entrance_prior_retail0286_8seeds.json; retail-0286's
    # cosine scale). 0 turns it off.
    entrance_prior: float = Field(
        default=0.15,
        ge=0,
        le=1,
        description="a track that begins away from every entrance line (cameras[].lines) is"
        " probably someone already inside: it takes an existing ID (one that has not gone out"
        " through a line before it began) at this much less similarity than match_threshold"
        " (0: off; no effect on a site without lines)",
    )
    entrance_radius: float = Field(
        default=1.0,
        gt=0,
        description="a track whose first foot point lies within this many box heights of an"
        " entrance line begins at the entrance",
    )
    entrance_grace_s: float = Field(
        default=10.0,
        ge=0,
        description="tracks beginning this soon after the first update the identity saw count"
        " as at an entrance (people already inside when the cameras started)",
    )

    @model_validator(mode="after")
    def _floor_distances(self) -> IdentityConfig:
        if self.floor_apart_m < self.floor_match_m:
            raise ValueError(
                f"floor_apart_m ({self.floor_apart_m}) must be >= floor_match_m ({self.floor_match_m})"
            )
        return self


class VisitConfig(_Model):
    """Visit and zone semantics (see DESIGN.md §3)."""

    absence_timeout_s: float = Field(default=300.0, gt=0)
    zone_enter_s: float = Field(default=2.0, ge=0)
    zone_exit_s: float = Field(default=3.0, ge=0)
    track_point_every_s: float = Field(default=1.0, gt=0, description="heatmap sampling period")


class ResetConfig(_Model):
    """Daily reset: business days start at ``time`` in ``timezone``."""

    time: str = "00:00"
    timezone: str = "Asia/Kolkata"

    @field_validator("time")
    @classmethod
    def _time(cls, v: str) -> str:
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", v.strip())
        if not m or int(m[1]) > 23 or int(m[2]) > 59:
            raise ValueError(f"{v!r} is not a time of day HH:MM")
        return f"{int(m[1]):02d}:{m[2]}"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            pendulum.timezone(v)
        except Exception:
            raise ValueError(f"unknown time zone {v!r}") from None
        return v


MIRROR_TABLES = (
    "visits",
    "zone_visits",
    "activity_intervals",
    "events",
    "traffic",
    "daily_summary",
    "cameras",
)


class MirrorConfig(_Model):
    """A copy of the event store in MySQL/MariaDB or PostgreSQL for BI tools (``storage.mirror``).

    The Parquet store stays the source of truth; the mirror is kept up to date in the
    background and rebuilt with ``mcvision mirror``. The password never lives in the
    YAML: it is read from the environment variable named by ``password_env``.
    """

    enabled: bool = False
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL without password, e.g. mysql+pymysql://bi@db:3306/shop or"
        " postgresql+psycopg://bi@db:5432/shop",
    )
    password_env: str = Field(
        default="MCVISION_MIRROR_PASSWORD",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="environment variable holding the database password",
    )
    tables: list[str] = Field(
        default_factory=lambda: list(MIRROR_TABLES), description="which tables to mirror"
    )
    sync_period_s: float = Field(
        default=10.0, gt=0, le=3600, description="sync at least this often"
    )
    connect_timeout_s: float = Field(default=5.0, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        m = re.match(r"^([a-z][a-z0-9+]*)://(?:([^:@/]*)(:[^@/]*)?@)?[^/]", v)
        if not m:
            raise ValueError(
                f"must be a SQLAlchemy URL like mysql+pymysql://user@host:3306/db, got {v!r}"
            )
        if m[3] or re.search(r"[?&]password=", v, re.I):
            raise ValueError(
                "must not contain a password (user:password@... or ?password=): put it in the environment"
                " variable named by storage.mirror.password_env"
            )
        if not m[1].startswith(("mysql", "mariadb", "postgresql")):
            raise ValueError(f"must be a MySQL/MariaDB or PostgreSQL URL, got dialect {m[1]!r}")
        return v

    @field_validator("tables")
    @classmethod
    def _tables(cls, v: list[str]) -> list[str]:
        bad = sorted(set(v) - set(MIRROR_TABLES))
        if bad:
            raise ValueError(f"unknown tables {bad} (tables: {list(MIRROR_TABLES)})")
        if {"traffic", "daily_summary"} & set(v) and "visits" not in v:
            raise ValueError("traffic and daily_summary are computed from visits: add visits")
        return list(dict.fromkeys(v))

    @model_validator(mode="after")
    def _needs_url(self) -> MirrorConfig:
        if self.enabled and not self.url:
            raise ValueError("url: needed when the mirror is enabled")
        return self


class StorageConfig(_Model):
    """Where the site's data lives. Relative paths are relative to the config file."""

    root: str = "data"
    mirror: MirrorConfig = Field(default_factory=MirrorConfig)

    def events_dir(self) -> Path:
        return Path(self.root) / "events"

    def gallery_dir(self) -> Path:
        return Path(self.root) / "gallery"

    def customers_dir(self) -> Path:
        return Path(self.root) / "customers"

    def staff_dir(self) -> Path:
        return Path(self.root) / "staff"


class DetectorConfig(_Model):
    weights: str = "yolo11n_int8_openvino_model"
    conf: float = Field(default=0.35, ge=0, le=1)
    iou: float = Field(default=0.5, ge=0, le=1)
    imgsz: int = Field(default=640, ge=32)
    classes: list[str] = Field(default_factory=lambda: ["person"])
    device: str = "cpu"


class SegmenterConfig(_Model):
    backend: Literal["none", "yolo-seg", "sam", "meta_sam", "mobile_sam", "sam2"] = "none"
    weights: str | None = None
    imgsz: int = Field(default=320, ge=32)
    device: str = "cpu"
    max_per_second: float | None = Field(
        default=0.2,
        gt=0,
        description="frames per second per camera whose ReID-due crops are segmented on a"
        " CPU device (one segmenter pass each; due crops beyond it get plain crops);"
        " null: every due crop. A cuda device segments every due crop. SAM at 0.2/s costs a"
        " camera ~0.17 of a 2-core CPU's core (segmenter.json, cost.budget).",
    )


class ReIDConfig(_Model):
    """The body ReID embedder.

    Default: Intel ``person-reidentification-retail-0286`` (``backend: openvino``, 256-d,
    BGR 0-255 input). On Market-1501 it scores Rank-1 0.948 / mAP 0.838 against OSNet
    x0.25's 0.601 / 0.337 (``reid_retail0286.json``, ``reid.json``); on the crowded
    simulated store's held-out seeds 3 and 5 its identity reaches global IDF1 0.716 at the
    defaults (tracker buffer 5, appearance split 0.30, contest, match 0.47, merge 0.48)
    against OSNet's 0.513 at its own thresholds, in one run (``accuracy_ablation.json``); at
    0.47 it keeps the three
    people of the real two-camera footage apart (``tests/identity/test_real_footage.py``).
    Per crop it costs ~3.5x OSNet (173 against 627 crops/s), but the pipeline embeds a
    track every ``identity.embed_every_frames``, not every box: on the crowded store
    (``pipeline_bench.py --crowd 16``, one 2-core machine) the pipeline kept 0.697 of the
    bare detector's frames/s with it and 0.689 with OSNet (the embedder's share 28 % against
    8 % of a core; ``pipeline_crowd_retail0286.json``, ``pipeline_crowd.json``).
    ``weights: osnet_x0_25_msmt17.onnx`` selects OSNet (the backend follows the file:
    ``.onnx`` is onnx); retail-0287 INT8 (``reid_openvino/person-reidentification-
    retail-0287-int8``) costs half of 0286 but has no measured thresholds yet. The
    thresholds on each model's cosine scale follow the model (``EMBEDDER_THRESHOLDS``).
    """

    backend: Literal["onnx", "openvino", "torchreid"] = Field(
        default="openvino",
        description="left out: from the weights (a .onnx file: onnx; .pth/.pt/.tar: torchreid;"
        " else openvino)",
    )
    weights: str = DEFAULT_REID_WEIGHTS
    arch: str = Field(default="osnet_x0_25", description="torchreid backend: the architecture")
    device: str = "cpu"
    threads: int | None = Field(
        default=None,
        ge=1,
        description="CPU threads of one embedder (onnx, openvino); null: OMP_NUM_THREADS, the"
        " core count. Where the embedder shares the cores with the detector, fewer threads"
        " keep it from stalling the detector's own parallel inference",
    )

    @model_validator(mode="before")
    @classmethod
    def _backend_from_weights(cls, data: Any) -> Any:
        """A config that names weights but no backend gets the backend of that file."""
        if isinstance(data, dict) and data.get("backend") is None and data.get("weights"):
            name = str(data["weights"]).lower()
            backend = "onnx" if name.endswith(".onnx") else "openvino"
            if name.endswith((".pth", ".pt", ".tar")):
                backend = "torchreid"
            data = {**data, "backend": backend}
        return data


class PoseConfig(_Model):
    enabled: bool = False
    weights: str = "yolov8n-pose_int8_openvino_model"
    device: str = "cpu"


class TrackerConfig(_Model):
    """The per-camera tracker (Ultralytics ByteTrack / BoT-SORT).

    ``track_buffer`` 5 frames (1 s at 5 fps; was 10, before that 30): a lost track waits
    where it was lost and takes over whoever walks by, so a long buffer mixes people inside
    one local track, which no cross-camera matching can undo. Swept 5 / 10 / 15 / 20 on the
    crowded store's tuning seeds 0 and 1 (mean global IDF1 0.417 / 0.391 / 0.390 / 0.402)
    and scored on held-out seeds 3 and 5 (5 vs 10: 0.508 vs 0.468, out MAE 8.1 vs 12.7 s,
    dwell MAE 72 vs 79 s, 40.5 vs 38 visitors for 26; ``benchmarks/results/
    accuracy_tracker.json``, OSNet, 5 fps). Swept again at retail-0286 and today's identity
    (3 / 5 / 8: 0.677 / 0.692 / 0.689; ``accuracy_tracker_retail0286.json``). Frames, not
    seconds: at a camera's 10 fps it is 0.5 s, not measured.

    ``track_high_thresh`` / ``track_low_thresh`` / ``new_track_thresh`` are Ultralytics'
    ByteTrack defaults; with the detector at ``conf`` 0.35 no box is weaker than the first
    stage's 0.25. ByteTrack's own use (the detector at 0.1, boxes of 0.1-0.35 only extending
    tracks at ``track_high_thresh`` 0.35, new tracks from 0.5) raised tuning IDF1 0.692 ->
    0.710 and lowered held-out 0.716 -> 0.703 (``accuracy_tracker_variants_retail0286.json``).
    """

    type: Literal["bytetrack", "botsort"] = "bytetrack"
    track_buffer: int = Field(default=5, ge=1, description="frames a lost track is kept")
    match_thresh: float = Field(default=0.8, gt=0, le=1)
    gmc: bool = Field(default=False, description="camera-motion compensation (BoT-SORT)")
    track_high_thresh: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="detections at least this confident are matched first (ByteTrack's"
        " first stage); the rest, down to track_low_thresh, only extend existing tracks",
    )
    track_low_thresh: float = Field(
        default=0.1, ge=0, le=1, description="weaker detections than this are ignored"
    )
    new_track_thresh: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="an unmatched detection at least this confident starts a track",
    )

    @model_validator(mode="after")
    def _thresholds(self) -> TrackerConfig:
        if self.track_low_thresh > self.track_high_thresh:
            raise ValueError(
                f"tracker.track_low_thresh ({self.track_low_thresh}) must be <="
                f" track_high_thresh ({self.track_high_thresh})"
            )
        return self


class ModelsConfig(_Model):
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    segmenter: SegmenterConfig = Field(default_factory=SegmenterConfig)
    reid: ReIDConfig = Field(default_factory=ReIDConfig)
    pose: PoseConfig = Field(default_factory=PoseConfig)
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)


class AutoscalingConfig(_Model):
    min_replicas: int = Field(default=1, ge=0)
    max_replicas: int = Field(default=1, ge=1)
    target_ongoing_requests: float = Field(default=8.0, gt=0)

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingConfig:
        if self.max_replicas < self.min_replicas:
            raise ValueError("max_replicas must be >= min_replicas")
        return self


class DeploymentConfig(_Model):
    """How one model runs as a Ray Serve deployment."""

    max_batch_size: int = Field(
        default=8,
        ge=1,
        le=512,
        description="requests (one camera's batch of frames or crops each) merged per model call",
    )
    batch_wait_timeout_s: float = Field(
        default=0.01, ge=0, le=5, description="how long a batch waits to fill"
    )
    num_replicas: int = Field(default=1, ge=1)
    num_cpus: float = Field(default=0.5, ge=0)
    num_gpus: float = Field(default=0.0, ge=0)
    max_ongoing_requests: int | None = Field(
        default=None, ge=1, description="default 2 x max_batch_size; must be >= max_batch_size"
    )
    autoscaling: AutoscalingConfig | None = None
    resources: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict,
        description="custom Ray resources per replica, e.g. {gpu_node: 0.01} to pin to GPU boxes",
    )

    @model_validator(mode="after")
    def _ongoing(self) -> DeploymentConfig:
        if (
            self.max_ongoing_requests is not None
            and self.max_ongoing_requests < self.max_batch_size
        ):
            raise ValueError(
                f"max_ongoing_requests ({self.max_ongoing_requests}) must be >= max_batch_size"
                f" ({self.max_batch_size}), or batches never fill"
            )
        return self

    @property
    def ongoing(self) -> int:
        return self.max_ongoing_requests or 2 * self.max_batch_size


class RuntimeConfig(_Model):
    """How the site runs on Ray: deployments, camera actors, the HTTP API."""

    detector: DeploymentConfig = Field(default_factory=DeploymentConfig)
    embedder: DeploymentConfig = Field(
        default_factory=lambda: DeploymentConfig(max_batch_size=32, num_cpus=0.5)
    )
    segmenter: DeploymentConfig = Field(default_factory=lambda: DeploymentConfig(max_batch_size=4))
    pose: DeploymentConfig = Field(default_factory=lambda: DeploymentConfig(max_batch_size=8))
    camera_num_cpus: float = Field(default=0.25, ge=0)
    camera_resources: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict,
        description="custom Ray resources per camera actor, e.g. {cpu_node: 0.01} for CPU boxes",
    )
    frames_per_batch: int = Field(
        default=4, ge=1, le=64, description="frames a camera sends at once"
    )
    actor_nice: int = Field(
        default=5,
        ge=0,
        le=19,
        description="CPU niceness of camera and identity actors: the model replicas, the "
        "pipeline's bottleneck, get the CPU first where they share a machine",
    )
    tick_s: float = Field(default=1.0, gt=0, description="how often visits are closed and flushed")
    replay_lag_s: float | None = Field(
        default=2.0,
        gt=0,
        description="file replays: a camera waits while it is more than this many seconds of"
        " data time ahead of the slowest camera still running, so the identity sees the"
        " cameras' tracks in about the order a live site would (null: cameras run free)",
    )
    replay_wait_max_s: float = Field(
        default=60.0, gt=0, description="wall seconds a paced camera waits at most at a time"
    )
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65535)


class CustomersConfig(_Model):
    """The opt-in long-term customer gallery (returning customers), with its retention."""

    enabled: bool = Field(default=False, description="keep customers across days (opt-in)")
    retention_days: float = Field(
        default=30.0, gt=0, description="a customer unseen this long is purged, embeddings and all"
    )
    match_threshold: float = Field(
        default=0.75,
        ge=-1,
        le=1,
        description="min (fused) cosine to call a visitor returning; on the body embedder's"
        " scale (EMBEDDER_THRESHOLDS)",
    )
    face_weight: float = Field(
        default=0.6, ge=0, le=1, description="weight of the face cosine when body and face exist"
    )
    exemplars: int = Field(default=8, ge=1, le=64, description="body/face embeddings per customer")
    min_embeddings: int = Field(
        default=3, ge=1, description="body embeddings before a new visitor is matched (settled)"
    )
    purge_every_s: float = Field(default=3600.0, gt=0, description="how often retention runs")


class FaceConfig(_Model):
    """Opt-in face embeddings (never face images) for the long-term customer match."""

    enabled: bool = False
    detector_weights: str = "face_detection_yunet_2026may.onnx"
    embedder_weights: str = "MobileFaceNet_paddlex_128d.onnx"
    min_face_px: int = Field(default=20, ge=4, description="smallest face width embedded")
    score_threshold: float = Field(default=0.6, ge=0, le=1)
    head_fraction: float = Field(default=0.4, gt=0, le=1, description="top of the person crop")


class StaffConfig(_Model):
    """Staff: enrolled from a folder of images, matched by body ReID, excluded from metrics."""

    folder: str | None = Field(default=None, description="images of staff, one person per image")
    match_threshold: float = Field(
        default=0.75,
        ge=-1,
        le=1,
        description="min body cosine to a staff member; on the embedder's scale"
        " (EMBEDDER_THRESHOLDS)",
    )


class ActivityThresholdsConfig(_Model):
    """Rule thresholds of the activity classifier (see ``mcvision.vision.activity``)."""

    walk_speed: float = Field(default=0.25, gt=0, description="foot speed, box heights per second")
    walk_depth_rate: float = Field(
        default=0.2,
        gt=0,
        description="|d ln(box height)/dt| per second of a walk towards/away from the camera;"
        " walking when hypot(speed/walk_speed, depth rate/walk_depth_rate) >= 1",
    )
    fallen_torso_deg: float = Field(default=60.0, gt=0, le=180)
    bend_torso_deg: float = Field(default=35.0, gt=0, le=180)
    sit_thigh_deg: float = Field(default=50.0, gt=0, le=180)
    arm_motion: float = Field(default=0.03, ge=0, description="wrist spread, box heights")
    reach_side: float = Field(default=0.25, ge=0, description="wrist held out, box heights")
    fallen_aspect: float = Field(default=1.3, gt=0, description="box w/h of a person lying")
    kp_conf: float = Field(default=0.3, ge=0, le=1)

    @model_validator(mode="after")
    def _order(self) -> ActivityThresholdsConfig:
        if self.bend_torso_deg >= self.fallen_torso_deg:
            raise ValueError("bend_torso_deg must be < fallen_torso_deg")
        return self


class ActivityConfig(_Model):
    """Per-track activity labels (walking, standing, browsing, sitting, bending, fallen)."""

    enabled: bool = False
    # "hybrid" (posture LSTM + standing-fall head + rules) was chosen on the labelled real
    # clips, benchmarks/results/activity_clips.json (UP-Fall subject 1, tuned on trial 1,
    # reported on trial 2): it beats "rules" and each learned model alone on per-second
    # accuracy, fall alerts and bending. It needs models.pose.enabled; without pose the
    # camera runs "rules" (what the hybrid falls back to without keypoints).
    classifier: str = Field(default="hybrid", min_length=1, description="registered classifier")
    thresholds: ActivityThresholdsConfig = Field(default_factory=ActivityThresholdsConfig)
    period_s: float = Field(default=1.0, gt=0, description="one label per track per period")
    window_s: float = Field(default=1.0, gt=0, description="history each label looks at")
    min_label_s: float = Field(default=2.0, ge=0, description="shortest label (except fallen)")
    webhook_url: str | None = Field(default=None, description="POST fallen alerts here")
    webhook_timeout_s: float = Field(default=2.0, gt=0, le=30)
    fall_model: str | None = Field(
        default=None,
        description="Normal/Fall YOLO weights (e.g. fall_yolov8_normal_fall.pt): a rule 'fallen'"
        " is kept only when the model sees a fall on the person crop",
    )
    fall_conf: float = Field(default=0.5, gt=0, le=1, description="Fall confidence that confirms")

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://", v):
            raise ValueError(f"must be an http(s) URL, got {v!r}")
        return v


class RecordingConfig(_Model):
    """Low-resolution evidence recording of cameras with ``record: true`` (for summaries)."""

    width: int = Field(default=640, ge=64, le=3840, description="long side of recorded frames")
    fps: float = Field(default=5.0, gt=0, le=60, description="at most this many frames per second")
    retention_days: float = Field(default=7.0, gt=0, description="older hours are deleted")
    segment_s: float = Field(default=3600.0, ge=10, description="one file per this many seconds")


class SummariesConfig(_Model):
    """Video summaries: keyframes, highlights, storyboards, digest."""

    blur_faces: bool = Field(default=True, description="blur faces in every image and video")
    face_weights: str = "face_detection_yunet_2026may.onnx"
    idle_speedup: int = Field(default=8, ge=1, le=1000, description="keep 1 in N idle frames")
    keyframe_min_gap_s: float = Field(default=2.0, ge=0, description="de-duplication window")


_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class ApiConfig(_Model):
    """Access to the HTTP API: keys, CORS, and the caps of the live camera view.

    On a loopback address (127.0.0.0/8, ::1, localhost) with no keys set, every
    route is open as before. On any other address every route needs a key, and
    the server refuses to start without a read key. A key set is enforced on
    loopback too. Each key comes from its environment variable, else its file.
    """

    read_key_env: str = Field(
        default="MCVISION_READ_KEY",
        pattern=_ENV_NAME,
        description="environment variable holding the read key (analytics, live video)",
    )
    read_key_file: str | None = Field(
        default=None, description="file holding the read key, when the variable is unset"
    )
    admin_key_env: str = Field(
        default="MCVISION_API_KEY",
        pattern=_ENV_NAME,
        description="environment variable holding the admin key (admin routes; reads too)",
    )
    admin_key_file: str | None = Field(
        default=None, description="file holding the admin key, when the variable is unset"
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="browser origins allowed to call the API (CORS), e.g. https://ui.example;"
        " empty: CORS off",
    )
    live_fps: float = Field(default=5.0, gt=0, le=30, description="live view: frames per second")
    live_max_px: int = Field(
        default=960, ge=64, le=3840, description="live view and snapshot: long side in pixels"
    )
    live_jpeg_quality: int = Field(
        default=80, ge=10, le=100, description="live view and snapshot: JPEG quality"
    )
    live_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="live view: niceness of the threads that fetch and draw frames, so viewers"
        " yield the CPU to the pipeline when it is saturated (0: same priority)",
    )
    live_face_px: int = Field(
        default=320,
        ge=0,
        le=3840,
        description="live view, faces blurred: every tracked person's head is blurred, and"
        " faces are searched for on a copy of the frame this long (0: no search)",
    )
    live_face_search_s: float = Field(
        default=0.5,
        ge=0,
        description="live view, faces blurred: the face search runs at most this often per"
        " camera (frame time) and its faces stay blurred in between; tracked heads are"
        " blurred on every frame (0: search every frame)",
    )

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, v: list[str]) -> list[str]:
        for o in v:
            if not re.match(r"^https?://[A-Za-z0-9.\[\]:-]+$", o):
                raise ValueError(
                    f"{o!r} is not an origin: scheme://host[:port], no path, no wildcard"
                )
        return v


class SiteConfig(_Model):
    """A whole site: everything ``mcvision run`` needs."""

    site_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    cameras: Annotated[list[CameraConfig], Field(min_length=1)]
    topology: TopologyConfig = Field(default_factory=TopologyConfig)
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    visits: VisitConfig = Field(default_factory=VisitConfig)
    reset: ResetConfig = Field(default_factory=ResetConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    activity: ActivityConfig = Field(default_factory=ActivityConfig)
    recording: RecordingConfig = Field(default_factory=RecordingConfig)
    summaries: SummariesConfig = Field(default_factory=SummariesConfig)
    customers: CustomersConfig = Field(default_factory=CustomersConfig)
    face: FaceConfig = Field(default_factory=FaceConfig)
    staff: StaffConfig = Field(default_factory=StaffConfig)
    gating: GatingConfig = Field(default_factory=GatingConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    floor_plan: FloorPlanConfig = Field(
        default_factory=FloorPlanConfig,
        description="the floor plan's picture and areas (cameras calibrate with cameras[].floor)",
    )

    @model_validator(mode="before")
    @classmethod
    def _embedder_thresholds(cls, data: Any) -> Any:
        """Thresholds the config leaves out take the named ReID model's values."""
        if not isinstance(data, dict):
            return data
        models = data.get("models")
        reid = models.get("reid") if isinstance(models, dict) else getattr(models, "reid", None)
        weights = reid.get("weights") if isinstance(reid, dict) else getattr(reid, "weights", None)
        table = EMBEDDER_THRESHOLDS.get(Path(str(weights or DEFAULT_REID_WEIGHTS)).name)
        if table is None:
            return data
        data = dict(data)
        for key, value in table.items():
            section, field = key.split(".")
            part = data.get(section, {})
            if isinstance(part, dict):
                if field not in part:
                    data[section] = {**part, field: value}
            elif isinstance(part, BaseModel) and field not in part.model_fields_set:
                data[section] = part.model_copy(update={field: value})
        return data

    @model_validator(mode="after")
    def _cross_checks(self) -> SiteConfig:
        ids = [c.id for c in self.cameras]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"cameras: duplicate camera ids {dup}")
        known = set(ids)
        seen: set[frozenset[str]] = set()
        for i, t in enumerate(self.topology.transits):
            for end in ("a", "b"):
                if getattr(t, end) not in known:
                    raise ValueError(
                        f"topology.transits[{i}].{end}: unknown camera {getattr(t, end)!r}"
                        f" (cameras: {sorted(known)})"
                    )
            pair = frozenset((t.a, t.b))
            if pair in seen:
                raise ValueError(f"topology.transits[{i}]: pair {t.a}-{t.b} listed twice")
            seen.add(pair)
        return self

    # ---- derived views -------------------------------------------------
    def camera(self, camera_id: str) -> CameraConfig:
        for c in self.cameras:
            if c.id == camera_id:
                return c
        raise KeyError(camera_id)

    def gating_for(self, camera_id: str) -> GatingConfig:
        """The site's gating block with the camera's overrides applied."""
        own = self.camera(camera_id).gating
        if own is None:
            return self.gating
        return self.gating.model_copy(update=own.model_dump(exclude_none=True))

    @property
    def zone_names(self) -> list[str]:
        """Every zone name once, in config order (same-name zones are one zone)."""
        out: dict[str, None] = {}
        for c in self.cameras:
            for z in c.zones:
                out.setdefault(z.name, None)
        return list(out)

    def zone_cameras(self) -> dict[str, list[str]]:
        """Zone name → cameras that see it."""
        out: dict[str, list[str]] = defaultdict(list)
        for c in self.cameras:
            for z in c.zones:
                out[z.name].append(c.id)
        return dict(out)

    def transit(self, a: str, b: str) -> TransitConfig | None:
        """The transit rule between two cameras, either direction, or None."""
        for t in self.topology.transits:
            if {t.a, t.b} == {a, b}:
                return t
        return None


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before") or str(part).startswith(
            ("function-", "tagged-union")
        ):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def format_validation_error(err: ValidationError) -> str:
    """One line per problem: ``field.path: message``."""
    lines = []
    for e in err.errors():
        loc = _loc(tuple(e["loc"]))
        msg = e["msg"]
        for prefix in ("Value error, ", "Assertion failed, "):
            msg = msg.removeprefix(prefix)
        if e["type"] == "extra_forbidden":
            msg = "unknown key (typo?)"
        # A model-level error that names its own field: put it on the path.
        m = re.match(r"^([a-z_]+(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*): (.*)$", msg)
        if m and not msg.startswith(("http", "rtsp")):
            loc = f"{loc}.{m[1]}" if loc else m[1]
            msg = m[2]
        lines.append(f"{loc or '<root>'}: {msg}")
    return "\n".join(lines)


def parse_config(data: Any, *, source: str = "<config>") -> SiteConfig:
    """Validate a mapping into a :class:`SiteConfig` or raise :class:`ConfigError`."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: expected a mapping at the top level, got {type(data).__name__}"
        )
    try:
        return SiteConfig.model_validate(data)
    except ValidationError as err:
        msg = _name_cameras(format_validation_error(err), data)
        raise ConfigError(f"{source}: invalid site config\n{msg}") from None


def _name_cameras(msg: str, data: dict[str, Any]) -> str:
    """Each ``cameras[i]...`` error line ends with ``(camera 'ID')``: errors name the camera."""
    cams = data.get("cameras")
    if not isinstance(cams, list):
        return msg
    out = []
    for line in msg.splitlines():
        m = re.match(r"^cameras\[(\d+)\]", line)
        i = int(m[1]) if m else -1
        cid = cams[i].get("id") if 0 <= i < len(cams) and isinstance(cams[i], dict) else None
        out.append(f"{line} (camera {cid!r})" if isinstance(cid, str) and cid else line)
    return "\n".join(out)


def load_config(path: str | Path) -> SiteConfig:
    """Load a site YAML. Relative storage and file-source paths resolve against its folder.

    Raises:
        ConfigError: the file is missing, not YAML, or not a valid site config.
    """
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found") from None
    except OSError as err:
        raise ConfigError(f"{p}: cannot read config file: {err.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{p}: not valid YAML{where}: {problem}") from None
    cfg = parse_config(data, source=str(p))
    return resolve_paths(cfg, p.parent)


def resolve_paths(cfg: SiteConfig, base: Path) -> SiteConfig:
    """Make relative storage, file/folder source and floor-plan image paths absolute."""
    root = Path(cfg.storage.root)
    storage = cfg.storage.model_copy(
        update={"root": str(root if root.is_absolute() else (base / root).resolve())}
    )
    cams = []
    for c in cfg.cameras:
        src = c.source
        if isinstance(src, str) and not _URL.match(src) and not Path(src).is_absolute():
            src = str((base / src).resolve())
        update: dict[str, Any] = {"source": src}
        if c.floor is not None and c.floor.plan_image is not None:
            update["floor"] = c.floor.model_copy(
                update={"plan_image": _under(base, c.floor.plan_image)}
            )
        cams.append(c.model_copy(update=update))
    plan = cfg.floor_plan
    if plan.image is not None:
        plan = plan.model_copy(update={"image": _under(base, plan.image)})
    return cfg.model_copy(update={"storage": storage, "cameras": cams, "floor_plan": plan})


def _under(base: Path, path: str) -> str:
    """``path`` made absolute against ``base`` (unchanged when it already is)."""
    p = Path(path)
    return str(p if p.is_absolute() else (base / p).resolve())
