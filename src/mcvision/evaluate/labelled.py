"""Score a store's own labelled footage: a MOT-format folder → the simulator's ground truth.

:func:`load_labelled_truth` turns a labelled-footage folder (layout in
:mod:`mcvision.datasets.mot`) into the same :class:`~mcvision.sim.truth.GroundTruth` the
simulator writes, and :func:`evaluate_labelled` scores an event store against it through
the same code as :func:`~mcvision.evaluate.score.evaluate` (one ``score_store``).

Conversion:

- **Frames.** A camera's frame ``k`` (1-based) is at ``(k - 1) / fps``. The ground truth
  has one frame rate, the highest of the cameras'; a slower camera's frames land on the
  nearest frame of that grid (times within half a frame).
- **Sparse labels.** Labels may be on every N-th frame only. N is ``label_every`` of
  ``cameras.csv``, else the greatest common divisor of the gaps between labelled frame
  numbers (a frame without any box still counts as labelled when it is on that grid).
  Only labelled frames are scored: a track point is put on the nearest labelled frame
  (within half the label step) and unlabelled frames count neither misses nor false
  positives. The video's last frame is ``frames`` of ``cameras.csv``, else the last
  labelled frame.
- **Boxes** are clipped to the frame, foot point = bottom centre. MOT17 semantics:
  ``conf`` 0 or class 2, 7, 8, 12 (person on a vehicle, static person, distractor,
  reflection) become ignored boxes (visibility 0: neither misses nor false positives under
  the default ``min_visibility``); other classes than 1 are dropped.
- **People** are the IDs with a class-1 box; ``staff.csv`` marks staff (``is_staff``).
- **Visits** come from ``visits.csv`` (``visits_source="labels"``); a labelled person
  without a row there is no visitor. Without it, each person's sightings on all cameras
  are split where they are unseen longer than ``absence_timeout_s`` into visits from
  first to last sighting (``visits_source="sightings"``); in/out errors are then not
  scored (None), dwell and counts are.
- **Zone stays** from ``zones.csv`` join the person's visit they overlap most.

The store keeps a track point per person and camera every ``visits.track_point_every_s``
(1 s by default): labels denser than that make the frames in between misses. Run the
scored footage with ``track_point_every_s`` at most the label step (the report notes it).

Example:
    >>> report = evaluate_labelled("footage/gt", "data", start_ts=1767600000.0)  # doctest: +SKIP
    >>> report.tracking.overall.idf1, report.visits_source  # doctest: +SKIP
    (0.91, 'labels')
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from functools import reduce
from itertools import pairwise
from pathlib import Path
from typing import Literal

from mcvision.analytics.store import EventStore
from mcvision.config import SiteConfig, VisitConfig, load_config
from mcvision.datasets.mot import (
    CAMERAS_FILE,
    CameraInfo,
    MOTBox,
    MOTFormatError,
    camera_ids,
    read_cameras_csv,
    read_mot_folder,
)
from mcvision.evaluate.score import EvalReport, score_store
from mcvision.sim.truth import (
    GroundTruth,
    GTAppearance,
    GTBox,
    GTCamera,
    GTPerson,
    GTVisit,
    GTZoneVisit,
)

__all__ = [
    "LabelledTruth",
    "cameras_from_config",
    "evaluate_labelled",
    "load_labelled",
    "load_labelled_truth",
]

#: MOT17 classes that are people but not targets: scored as ignore regions.
IGNORE_CLASSES = frozenset({2, 7, 8, 12})


@dataclass(frozen=True)
class LabelledTruth:
    """A labelled folder as ground truth, with what the simulator's truth does not say.

    Attributes:
        gt: the ground truth (frames on a grid at ``gt.fps``).
        frames: per camera, the labelled frame indices of ``gt.frames`` (sorted); only
            these are scored.
        visits_source: ``labels`` (from ``visits.csv``) or ``sightings`` (derived).
        cameras: the size and rate used for each camera.
    """

    gt: GroundTruth
    frames: dict[str, list[int]]
    visits_source: Literal["labels", "sightings"]
    cameras: dict[str, CameraInfo]


def _label_grid(rows: list[MOTBox], info: CameraInfo, path: Path) -> list[int]:
    """The labelled native frame numbers (1-based) of one camera."""
    present = sorted({b.frame for b in rows})
    last = info.frames if info.frames is not None else (present[-1] if present else 0)
    if not present:
        step, start = info.label_every or 1, 1
    else:
        gaps = [b - a for a, b in pairwise(present)]
        step = info.label_every or (reduce(math.gcd, gaps) if gaps else 1)
        start = (present[0] - 1) % step + 1
    grid = range(start, last + 1, step)
    if info.label_every is not None:
        off = next((b for b in rows if (b.frame - start) % step), None)
        if off is not None:
            raise MOTFormatError(
                f"{path}:{off.line}: frame {off.frame} is off the label grid (every {step} frames"
                f" from frame {start}, label_every of {CAMERAS_FILE})"
            )
    return list(grid)


def load_labelled(
    folder: str | Path,
    *,
    site_id: str,
    cameras: dict[str, CameraInfo] | None = None,
    absence_timeout_s: float = 300.0,
    zone_enter_s: float = 2.0,
    zone_exit_s: float = 3.0,
) -> LabelledTruth:
    """Read a labelled-footage folder into a :class:`LabelledTruth` (see the module doc).

    Args:
        folder: the folder (:mod:`mcvision.datasets.mot` layout).
        site_id: the site the ground truth is of.
        cameras: size and frame rate of cameras missing from ``cameras.csv``.
        absence_timeout_s: without ``visits.csv``, a gap this long splits visits.
        zone_enter_s: recorded in the ground truth (the site's zone hysteresis).
        zone_exit_s: likewise.

    Raises:
        MOTFormatError: the folder or a file is bad (file and line named), a camera has no
            size and frame rate (camera named), or a zone stay lies outside every visit of
            its person.

    Example:
        >>> lt = load_labelled("footage/gt", site_id="shop")  # doctest: +SKIP
        >>> lt.frames["cam1"][:3], lt.visits_source  # doctest: +SKIP
        ([0, 5, 10], 'sightings')
    """
    root = Path(folder)
    f = read_mot_folder(root, cameras=cameras)
    fps = max(i.fps for i in f.cameras.values())
    frames: dict[str, list[list[GTBox]]] = {}
    labelled: dict[str, list[int]] = {}
    native: dict[str, dict[int, float]] = {}  # camera -> grid index -> time (s)
    seen: dict[str, list[tuple[float, str]]] = defaultdict(list)  # person -> (t, camera)
    present: dict[str, dict[int, set[str]]] = {}  # camera -> grid index -> people
    gt_cams: list[GTCamera] = []
    for cam in sorted(f.boxes):
        info, rows, path = f.cameras[cam], f.boxes[cam], root / f"{cam}.txt"

        def index(k: int, info: CameraInfo = info) -> int:
            return k - 1 if info.fps == fps else math.floor((k - 1) * fps / info.fps + 0.5)

        grid = _label_grid(rows, info, path)
        last = info.frames if info.frames is not None else (grid[-1] if grid else 0)
        n = index(last) + 1 if last >= 1 else 0
        per: list[list[GTBox]] = [[] for _ in range(n)]
        who: dict[int, set[str]] = defaultdict(set)
        for b in rows:
            x1, y1 = max(0.0, b.x), max(0.0, b.y)
            x2, y2 = min(float(info.width), b.x + b.w), min(float(info.height), b.y + b.h)
            person = b.cls == 1 and b.conf != 0
            if x2 <= x1 or y2 <= y1 or not (b.cls == 1 or b.cls in IGNORE_CLASSES):
                continue  # out of the frame, or not a person
            i = index(b.frame)
            per[i].append(
                GTBox(
                    id=b.person_id,
                    box=(x1, y1, x2, y2),
                    foot=((x1 + x2) / 2, y2),
                    visibility=b.visibility if person else 0.0,
                )
            )
            if person:
                seen[b.person_id].append((round((b.frame - 1) / info.fps, 6), cam))
                who[index(b.frame)].add(b.person_id)
        frames[cam] = [sorted(boxes, key=lambda g: g.id) for boxes in per]
        labelled[cam] = sorted({index(k) for k in grid})
        native[cam] = {index(k): round((k - 1) / info.fps, 6) for k in grid}
        present[cam] = who
        gt_cams.append(
            GTCamera(
                id=cam, width=info.width, height=info.height, frames=n, video="", zones={}, lines={}
            )
        )
    people = sorted(
        set(seen) | {v.person_id for v in f.visits or ()} | {z.person_id for z in f.zones or ()}
    )
    for pid in people:
        seen[pid].sort()
    tol = 1.0 / fps

    def cams_in(pid: str, t0: float, t1: float) -> list[str]:
        return sorted({c for t, c in seen[pid] if t0 - tol <= t <= t1 + tol})

    spans: dict[str, list[tuple[float, float]]] = {}
    if f.visits is not None:
        source: Literal["labels", "sightings"] = "labels"
        for v in sorted(f.visits, key=lambda v: v.in_s):
            spans.setdefault(v.person_id, []).append((v.in_s, v.out_s))
    else:
        source = "sightings"
        for pid in people:
            for t, _ in seen[pid]:
                if pid in spans and t - spans[pid][-1][1] <= absence_timeout_s:
                    spans[pid][-1] = (spans[pid][-1][0], t)
                else:
                    spans.setdefault(pid, []).append((t, t))
    stays: dict[tuple[str, int], list[GTZoneVisit]] = defaultdict(list)
    for z in f.zones or ():
        own = spans.get(z.person_id, [])
        overlap = [min(b, z.exit_s) - max(a, z.enter_s) for a, b in own]
        if not own or max(overlap) < -tol:
            raise MOTFormatError(
                f"{root / 'zones.csv'}:{z.line}: zone stay {z.enter_s:g}-{z.exit_s:g} of"
                f" {z.person_id!r} is outside every visit of that person"
            )
        k = max(range(len(own)), key=lambda j: overlap[j])
        stays[(z.person_id, k)].append(
            GTZoneVisit(
                zone=z.zone,
                enter_s=z.enter_s,
                exit_s=z.exit_s,
                cameras=cams_in(z.person_id, z.enter_s, z.exit_s),
            )
        )
    staff = set(f.staff or ())
    gt_people = []
    for pid in people:
        visits = [
            GTVisit(
                in_s=a,
                out_s=b,
                in_source="sighting",
                out_source="sighting",
                cameras=cams_in(pid, a, b),
                zones=sorted(stays[(pid, k)], key=lambda z: (z.enter_s, z.zone)),
            )
            for k, (a, b) in enumerate(spans.get(pid, []))
        ]
        apps = []
        for cam in sorted(frames):
            run: list[int] = []
            for i in [*labelled[cam], None]:
                if i is not None and pid in present[cam].get(i, ()):
                    run.append(i)
                    continue
                if run:
                    apps.append(
                        GTAppearance(
                            camera=cam, start_s=native[cam][run[0]], end_s=native[cam][run[-1]]
                        )
                    )
                    run = []
        gt_people.append(
            GTPerson(
                id=pid,
                source=f"labels:{root.name}",
                is_staff=pid in staff,
                visits=visits,
                appearances=sorted(apps, key=lambda a: (a.start_s, a.camera)),
            )
        )
    gt = GroundTruth(
        site_id=site_id,
        seed=0,
        fps=fps,
        duration_s=round(max((c.frames for c in gt_cams), default=0) / fps, 6),
        zone_enter_s=zone_enter_s,
        zone_exit_s=zone_exit_s,
        cameras=gt_cams,
        transits=[],
        people=gt_people,
        frames=frames,
    )
    return LabelledTruth(gt=gt, frames=labelled, visits_source=source, cameras=dict(f.cameras))


def load_labelled_truth(
    folder: str | Path,
    *,
    site_id: str,
    cameras: dict[str, CameraInfo] | None = None,
    absence_timeout_s: float = 300.0,
) -> GroundTruth:
    """A labelled-footage folder as the simulator's :class:`GroundTruth`.

    The ground truth alone does not say which frames are labelled (score with
    :func:`evaluate_labelled`, or :func:`load_labelled` and ``score_store(frames=...)``).

    Raises:
        MOTFormatError: see :func:`load_labelled`.

    Example:
        >>> gt = load_labelled_truth("footage/gt", site_id="shop")  # doctest: +SKIP
        >>> gt.person("7").visits[0].in_s  # doctest: +SKIP
        3.2
    """
    return load_labelled(
        folder, site_id=site_id, cameras=cameras, absence_timeout_s=absence_timeout_s
    ).gt


def _probe(source: str) -> tuple[int, int, float] | None:
    """Width, height and native fps of a video file, or None when it cannot be read."""
    import cv2

    if not Path(source).is_file():
        return None
    cap = cv2.VideoCapture(source)
    try:
        if not cap.isOpened():
            return None
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        return (w, h, fps) if w > 0 and h > 0 else None
    finally:
        cap.release()


def cameras_from_config(cfg: SiteConfig, ids: list[str]) -> dict[str, CameraInfo]:
    """Frame size and rate of cameras ``ids`` from a site config.

    Size: the camera's ``resolution``, else its video file's. Rate: a video file's own
    frame rate (MOT frame numbers count the file's frames), else the camera's ``fps``.

    Raises:
        MOTFormatError: a camera is not in the config, or neither its ``resolution`` nor its
            source gives a frame size (the camera is named).

    Example:
        >>> cameras_from_config(load_config("site.yaml"), ["cam1"])  # doctest: +SKIP
        {'cam1': CameraInfo(width=1280, height=720, fps=25.0, frames=None, label_every=None)}
    """
    by_id = {c.id: c for c in cfg.cameras}
    out: dict[str, CameraInfo] = {}
    for cam in ids:
        c = by_id.get(cam)
        if c is None:
            raise MOTFormatError(
                f"camera {cam!r} ({cam}.txt) has no row in {CAMERAS_FILE} and is not a camera of"
                f" site {cfg.site_id!r} (cameras: {sorted(by_id)})"
            )
        probed = _probe(c.source) if c.source_kind == "file" and isinstance(c.source, str) else None
        size = c.resolution or (probed[:2] if probed else None)
        if size is None:
            raise MOTFormatError(
                f"camera {cam!r}: no frame size: not in {CAMERAS_FILE}, no resolution in the site"
                f" config, and its source {c.source!r} is not a readable video file"
            )
        fps = probed[2] if probed and probed[2] > 0 else c.fps
        out[cam] = CameraInfo(width=int(size[0]), height=int(size[1]), fps=fps)
    return out


def _store_site(store_root: Path) -> str | None:
    from mcvision.evaluate.score import _events_dir

    store = EventStore(_events_dir(store_root), "?")
    sites = {
        r["site_id"]
        for t in ("track_points", "visits")
        for r in store.sql(f"SELECT DISTINCT site_id FROM {t}")
    }
    return sites.pop() if len(sites) == 1 else None


def evaluate_labelled(
    gt_dir: str | Path,
    store_root: str | Path,
    *,
    start_ts: float | None = None,
    config: SiteConfig | str | Path | None = None,
    site_id: str | None = None,
    max_dist: float = 0.5,
    min_visibility: float = 0.3,
    min_match_frames: int = 3,
) -> EvalReport:
    """Score an event store against a store's own labelled footage.

    Args:
        gt_dir: the labelled-footage folder (:mod:`mcvision.datasets.mot` layout).
        store_root: the site's storage root (holding ``events/``) or the events folder.
        start_ts: epoch seconds of the videos' first frame; estimated when None.
        config: the site config (a path or loaded): sizes and rates of cameras missing
            from ``cameras.csv``, the visit timeout and zone hysteresis, the site ID.
        site_id: the site ID (default: the config's, else the store's, else the folder name).
        max_dist: match radius in units of the true person's box height.
        min_visibility: true boxes seen less are ignored.
        min_match_frames: frames an ID must hold a person to count for fragmentation/merge.

    Raises:
        MOTFormatError: the folder is bad or a camera's size and rate are unknown.
        ValueError: nothing in the store to align with (no ``start_ts``).
        ConfigError: ``config`` is a path to a bad config.

    Example:
        >>> r = evaluate_labelled("footage/gt", "data", config="site.yaml")  # doctest: +SKIP
        >>> print(format_report(r))  # doctest: +SKIP
    """
    cfg = load_config(config) if isinstance(config, str | Path) else config
    root = Path(gt_dir)
    ids = camera_ids(root)
    listed = read_cameras_csv(root / CAMERAS_FILE) if (root / CAMERAS_FILE).exists() else {}
    need = [c for c in ids if c not in listed]
    cams = cameras_from_config(cfg, need) if cfg is not None and need else None
    site = site_id or (cfg.site_id if cfg else None) or _store_site(Path(store_root)) or root.name
    vis = cfg.visits if cfg is not None else VisitConfig()
    lt = load_labelled(
        root,
        site_id=site,
        cameras=cams,
        absence_timeout_s=vis.absence_timeout_s,
        zone_enter_s=vis.zone_enter_s,
        zone_exit_s=vis.zone_exit_s,
    )
    return score_store(
        lt.gt,
        store_root,
        start_ts,
        max_dist=max_dist,
        min_visibility=min_visibility,
        min_match_frames=min_match_frames,
        frames=lt.frames,
        visits_source=lt.visits_source,
    )
