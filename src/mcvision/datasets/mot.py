"""A folder of labelled footage in MOT format: boxes per camera, visits, zone stays, staff.

Layout (every file is comma-separated text, UTF-8; a spreadsheet's byte-order mark is fine)::

    <camera_id>.txt   one per camera: frame,person_id,x,y,w,h[,conf[,class[,visibility]]]
    cameras.csv       camera_id,width,height,fps[,frames][,label_every]
    visits.csv        person_id,in_s,out_s              (optional; several rows = re-entries)
    zones.csv         person_id,zone,enter_s,exit_s     (optional)
    staff.csv         person_id                         (optional)

``frame`` is 1-based; a camera's frame ``k`` is at ``(k - 1) / fps`` seconds from the start
of that camera's video, and every time in the CSV files is seconds from the start of the
videos. ``x, y`` is the box's top-left corner and ``w, h`` its size, in pixels.
``person_id`` is any token without a comma, the same person having the same ID on every
camera. ``conf``, ``class`` and ``visibility`` default to 1, 1 and 1.0 (MOT17 meaning:
``conf`` 0 marks a box to ignore, ``class`` 1 is a pedestrian, ``visibility`` the share
of the person seen). A 10-column row is MOT15/16 style: ``conf`` then world coordinates,
which are ignored. Blank lines and lines starting with ``#`` are skipped.

In ``cameras.csv``, ``frames`` (the video's length in frames) and ``label_every`` (labels
on every N-th frame) are optional; see :mod:`mcvision.evaluate.labelled` for how they
are inferred. Without ``cameras.csv`` the sizes come from elsewhere (the ``cameras``
argument of :func:`read_mot_folder`; the CLI reads them from the site config).

Every problem raises :class:`MOTFormatError` (a ``ValueError``) naming the file and line.

Example:
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> write_mot_folder(d, boxes={"cam1": [MOTBox(1, "7", 10, 20, 30, 60)]},
    ...                  cameras={"cam1": CameraInfo(640, 480, 25.0)})
    >>> (d / "cam1.txt").read_text()
    '1,7,10,20,30,60,1,1,1\\n'
    >>> f = read_mot_folder(d)
    >>> f.boxes["cam1"][0].person_id, f.cameras["cam1"].fps, f.visits
    ('7', 25.0, None)
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

__all__ = [
    "CAMERAS_FILE",
    "STAFF_FILE",
    "VISITS_FILE",
    "ZONES_FILE",
    "CameraInfo",
    "MOTBox",
    "MOTFolder",
    "MOTFormatError",
    "VisitRow",
    "ZoneRow",
    "camera_ids",
    "read_cameras_csv",
    "read_mot_file",
    "read_mot_folder",
    "write_mot_file",
    "write_mot_folder",
]

CAMERAS_FILE = "cameras.csv"
VISITS_FILE = "visits.csv"
ZONES_FILE = "zones.csv"
STAFF_FILE = "staff.csv"


class MOTFormatError(ValueError):
    """A labelled-footage folder or file that cannot be read (the message names file and line)."""


@dataclass(frozen=True)
class MOTBox:
    """One row of a MOT file: a person's box in one frame (``frame`` 1-based, pixels)."""

    frame: int
    person_id: str
    x: float
    y: float
    w: float
    h: float
    conf: float = 1.0
    cls: int = 1
    visibility: float = 1.0
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class CameraInfo:
    """Frame size (pixels) and frame rate of a camera's video; optionally its length and label step."""

    width: int
    height: int
    fps: float
    frames: int | None = None
    label_every: int | None = None

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"width and height must be > 0, got {self.width}x{self.height}")
        if not (self.fps > 0 and math.isfinite(self.fps)):
            raise ValueError(f"fps must be > 0, got {self.fps}")
        if self.frames is not None and self.frames < 0:
            raise ValueError(f"frames must be >= 0, got {self.frames}")
        if self.label_every is not None and self.label_every < 1:
            raise ValueError(f"label_every must be >= 1, got {self.label_every}")


@dataclass(frozen=True)
class VisitRow:
    """A row of ``visits.csv``: one visit, seconds from the start of the videos."""

    person_id: str
    in_s: float
    out_s: float
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class ZoneRow:
    """A row of ``zones.csv``: one zone stay, seconds from the start of the videos."""

    person_id: str
    zone: str
    enter_s: float
    exit_s: float
    line: int = field(default=0, compare=False)


@dataclass
class MOTFolder:
    """What a labelled-footage folder holds; the optional files are None when absent."""

    root: Path
    boxes: dict[str, list[MOTBox]]
    cameras: dict[str, CameraInfo]
    visits: list[VisitRow] | None = None
    zones: list[ZoneRow] | None = None
    staff: list[str] | None = None

    def person_ids(self) -> set[str]:
        """Every person ID with a box on some camera."""
        return {b.person_id for rows in self.boxes.values() for b in rows}


# ---- reading -----------------------------------------------------------------
def _float(text: str, what: str, where: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise MOTFormatError(f"{where}: {what} {text!r} is not a number") from None
    if not math.isfinite(v):
        raise MOTFormatError(f"{where}: {what} {text!r} is not a finite number")
    return v


def _int(text: str, what: str, where: str) -> int:
    v = _float(text, what, where)
    if not v.is_integer():
        raise MOTFormatError(f"{where}: {what} {text!r} is not a whole number")
    return int(v)


def _token(text: str, what: str, where: str) -> str:
    t = text.strip()
    if not t:
        raise MOTFormatError(f"{where}: empty {what}")
    return t


def read_mot_file(path: str | Path) -> list[MOTBox]:
    """The rows of one camera's MOT file, in file order.

    Raises:
        MOTFormatError: the file is missing, or a row is malformed (``file:line`` named):
            fewer than 6 or more than 10 columns, a non-number, frame < 1, a size <= 0,
            visibility outside [0, 1], or the same person twice in one frame.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MOTFormatError(f"{p}: file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise MOTFormatError(f"{p}: cannot read: {err}") from None
    out: list[MOTBox] = []
    seen: dict[tuple[int, str], int] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        where = f"{p}:{n}"
        cols = [c.strip() for c in s.split(",")]
        if not 6 <= len(cols) <= 10:
            raise MOTFormatError(
                f"{where}: expected 6-10 columns (frame,person_id,x,y,w,h,conf,class,visibility),"
                f" got {len(cols)}"
            )
        frame = _int(cols[0], "frame", where)
        if frame < 1:
            raise MOTFormatError(f"{where}: frame {frame} < 1 (frames are numbered from 1)")
        pid = _token(cols[1], "person_id", where)
        x, y, w, h = (_float(c, k, where) for c, k in zip(cols[2:6], "xywh", strict=True))
        if w <= 0 or h <= 0:
            raise MOTFormatError(f"{where}: box size {w:g}x{h:g} must be > 0")
        conf = _float(cols[6], "conf", where) if len(cols) > 6 and cols[6] else 1.0
        cls, vis = 1, 1.0
        if len(cols) in (8, 9):  # MOT16/17 ground truth; 10 columns: MOT15 world x,y,z
            cls = _int(cols[7], "class", where) if cols[7] else 1
            if len(cols) == 9 and cols[8]:
                vis = _float(cols[8], "visibility", where)
        if not 0.0 <= vis <= 1.0:
            raise MOTFormatError(f"{where}: visibility {vis:g} outside [0, 1]")
        key = (frame, pid)
        if key in seen:
            raise MOTFormatError(
                f"{where}: person {pid!r} already in frame {frame} (line {seen[key]})"
            )
        seen[key] = n
        out.append(MOTBox(frame, pid, x, y, w, h, conf, cls, vis, line=n))
    return out


def _read_csv(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """``(line, row)`` of a CSV file with a header holding ``required`` (extra columns kept)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise MOTFormatError(f"{path}: cannot read: {err}") from None
    lines = text.splitlines()
    rows = csv.reader(lines)
    header: list[str] | None = None
    out: list[tuple[int, dict[str, str]]] = []
    for n, cols in enumerate(rows, start=1):
        if not cols or all(not c.strip() for c in cols) or cols[0].lstrip().startswith("#"):
            continue
        cols = [c.strip() for c in cols]
        if header is None:
            header = cols
            missing = [c for c in required if c not in header]
            if missing:
                raise MOTFormatError(
                    f"{path}:{n}: header {','.join(header)!r} lacks {missing} (expected"
                    f" {','.join(required)})"
                )
            continue
        if len(cols) != len(header):
            raise MOTFormatError(f"{path}:{n}: expected {len(header)} columns, got {len(cols)}")
        out.append((n, dict(zip(header, cols, strict=True))))
    if header is None:
        raise MOTFormatError(f"{path}: empty file (expected a header {','.join(required)})")
    return out


def read_cameras_csv(path: str | Path) -> dict[str, CameraInfo]:
    """``cameras.csv``: ``camera_id,width,height,fps`` and optionally ``frames``, ``label_every``.

    Raises:
        MOTFormatError: missing file, bad header, a non-number, a size or rate <= 0, or a
            camera listed twice (``file:line`` named).
    """
    p = Path(path)
    if not p.is_file():
        raise MOTFormatError(f"{p}: file not found")
    out: dict[str, CameraInfo] = {}
    for n, row in _read_csv(p, ("camera_id", "width", "height", "fps")):
        where = f"{p}:{n}"
        cam = _token(row["camera_id"], "camera_id", where)
        if cam in out:
            raise MOTFormatError(f"{where}: camera {cam!r} listed twice")
        frames = row.get("frames") or None
        every = row.get("label_every") or None
        try:
            out[cam] = CameraInfo(
                width=_int(row["width"], "width", where),
                height=_int(row["height"], "height", where),
                fps=_float(row["fps"], "fps", where),
                frames=_int(frames, "frames", where) if frames is not None else None,
                label_every=_int(every, "label_every", where) if every is not None else None,
            )
        except MOTFormatError:
            raise
        except ValueError as err:
            raise MOTFormatError(f"{where}: camera {cam!r}: {err}") from None
    return out


def _times(row: dict[str, str], a: str, b: str, where: str) -> tuple[float, float]:
    t0, t1 = _float(row[a], a, where), _float(row[b], b, where)
    if t0 < 0:
        raise MOTFormatError(f"{where}: {a} {t0:g} < 0 (seconds from the start of the videos)")
    if t1 < t0:
        raise MOTFormatError(f"{where}: {b} {t1:g} before {a} {t0:g}")
    return t0, t1


def camera_ids(folder: str | Path) -> list[str]:
    """The cameras of a labelled folder: the stems of its ``*.txt`` files, sorted.

    Raises:
        MOTFormatError: the folder is missing or holds no ``*.txt``.
    """
    root = Path(folder)
    if not root.is_dir():
        raise MOTFormatError(f"labelled footage folder not found: {root}")
    cams = sorted(p.stem for p in root.glob("*.txt") if p.is_file())
    if not cams:
        raise MOTFormatError(f"{root}: no <camera_id>.txt MOT file (frame,person_id,x,y,w,h,...)")
    return cams


def read_mot_folder(
    folder: str | Path, *, cameras: Mapping[str, CameraInfo] | None = None
) -> MOTFolder:
    """Read a labelled-footage folder (see the module doc for the layout).

    Args:
        folder: the folder.
        cameras: frame size and rate of cameras that ``cameras.csv`` does not list (or of
            every camera when there is no ``cameras.csv``); ``cameras.csv`` wins.

    Raises:
        MOTFormatError: the folder is missing or has no ``*.txt``; a file is malformed; a
            camera has no size and frame rate; a box starts after the camera's last frame;
            a person of ``visits.csv`` or ``zones.csv`` has no box; visits of one person
            overlap.
    """
    root = Path(folder)
    cams = camera_ids(root)
    info: dict[str, CameraInfo] = dict(cameras or {})
    if (root / CAMERAS_FILE).exists():
        info.update(read_cameras_csv(root / CAMERAS_FILE))
    boxes: dict[str, list[MOTBox]] = {}
    for cam in cams:
        path = root / f"{cam}.txt"
        if cam not in info:
            raise MOTFormatError(
                f"{path}: no frame size and frame rate for camera {cam!r}: list it in"
                f" {root / CAMERAS_FILE} (camera_id,width,height,fps) or give a site config whose"
                " camera has fps and resolution (or a readable video source)"
            )
        rows = read_mot_file(path)
        n = info[cam].frames
        if n is not None:
            late = next((b for b in rows if b.frame > n), None)
            if late is not None:
                raise MOTFormatError(
                    f"{path}:{late.line}: frame {late.frame} after the video's last ({n})"
                )
        boxes[cam] = rows
    out = MOTFolder(root=root, boxes=boxes, cameras={c: info[c] for c in cams})
    people = out.person_ids()

    def known(pid: str, where: str, what: str) -> str:
        if pid not in people:
            raise MOTFormatError(f"{where}: {what} {pid!r} is never seen in any camera's labels")
        return pid

    if (root / VISITS_FILE).exists():
        p = root / VISITS_FILE
        visits = []
        for n, row in _read_csv(p, ("person_id", "in_s", "out_s")):
            where = f"{p}:{n}"
            pid = known(_token(row["person_id"], "person_id", where), where, "person")
            t0, t1 = _times(row, "in_s", "out_s", where)
            visits.append(VisitRow(pid, t0, t1, line=n))
        by_person: dict[str, list[VisitRow]] = {}
        for v in visits:
            by_person.setdefault(v.person_id, []).append(v)
        for rows in by_person.values():
            rows.sort(key=lambda v: v.in_s)
            for a, b in pairwise(rows):
                if b.in_s < a.out_s:
                    raise MOTFormatError(
                        f"{p}:{b.line}: visit {b.in_s:g}-{b.out_s:g} of {b.person_id!r} overlaps"
                        f" the visit of line {a.line} ({a.in_s:g}-{a.out_s:g})"
                    )
        out.visits = visits
    if (root / ZONES_FILE).exists():
        p = root / ZONES_FILE
        zones = []
        for n, row in _read_csv(p, ("person_id", "zone", "enter_s", "exit_s")):
            where = f"{p}:{n}"
            pid = known(_token(row["person_id"], "person_id", where), where, "person")
            t0, t1 = _times(row, "enter_s", "exit_s", where)
            zones.append(ZoneRow(pid, _token(row["zone"], "zone", where), t0, t1, line=n))
        out.zones = zones
    if (root / STAFF_FILE).exists():
        p = root / STAFF_FILE
        out.staff = [
            _token(row["person_id"], "person_id", f"{p}:{n}")
            for n, row in _read_csv(p, ("person_id",))
        ]
    return out


# ---- writing -----------------------------------------------------------------
def _num(v: float, places: int = 3) -> str:
    r = round(float(v), places)
    return str(int(r)) if r.is_integer() else repr(r)


def _check_token(v: str, what: str) -> str:
    s = str(v)
    if not s or s != s.strip() or "," in s or "\n" in s or s.startswith("#"):
        raise ValueError(
            f"{what} {s!r} cannot be written: empty, a comma, a newline, a leading '#' or spaces"
        )
    return s


def write_mot_file(path: str | Path, boxes: Iterable[MOTBox]) -> None:
    """Write one camera's MOT file: all 9 columns, rows sorted by frame then person.

    Raises:
        ValueError: a person ID with a comma, or a box of size <= 0.
    """
    lines = []
    for b in sorted(boxes, key=lambda b: (b.frame, b.person_id)):
        if b.w <= 0 or b.h <= 0 or b.frame < 1:
            raise ValueError(f"frame {b.frame}, person {b.person_id!r}: bad box {b.w}x{b.h}")
        lines.append(
            f"{b.frame},{_check_token(b.person_id, 'person_id')},{_num(b.x)},{_num(b.y)},"
            f"{_num(b.w)},{_num(b.h)},{_num(b.conf)},{int(b.cls)},{_num(b.visibility)}\n"
        )
    Path(path).write_text("".join(lines))


def write_mot_folder(
    folder: str | Path,
    *,
    boxes: Mapping[str, Iterable[MOTBox]],
    cameras: Mapping[str, CameraInfo],
    visits: Iterable[VisitRow] | None = None,
    zones: Iterable[ZoneRow] | None = None,
    staff: Iterable[str] | None = None,
) -> None:
    """Write a labelled-footage folder (the optional files only when given).

    Camera files and optional CSVs of an earlier write to the same folder (cameras listed in
    its old ``cameras.csv``) that this write does not produce are removed, so the folder
    always describes one scene; other files are left alone.

    Raises:
        ValueError: a camera without :class:`CameraInfo`, an ID with a comma, a bad box.
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    missing = sorted(set(boxes) - set(cameras))
    if missing:
        raise ValueError(f"no CameraInfo for cameras {missing}")
    old: set[str] = set()
    if (root / CAMERAS_FILE).is_file():
        try:
            old = set(read_cameras_csv(root / CAMERAS_FILE))
        except MOTFormatError:
            old = set()
    for cam in sorted(old - set(boxes)):
        (root / f"{cam}.txt").unlink(missing_ok=True)
    for cam, rows in boxes.items():
        write_mot_file(root / f"{_check_token(cam, 'camera_id')}.txt", rows)
    extra = [
        k
        for k in ("frames", "label_every")
        if any(getattr(cameras[c], k) is not None for c in boxes)
    ]
    head = ["camera_id", "width", "height", "fps", *extra]
    text = [",".join(head)]
    for cam in sorted(boxes):
        i = cameras[cam]
        vals = [cam, str(i.width), str(i.height), _num(i.fps, 6)]
        vals += ["" if getattr(i, k) is None else str(getattr(i, k)) for k in extra]
        text.append(",".join(vals))
    (root / CAMERAS_FILE).write_text("\n".join(text) + "\n")

    def table(name: str, header: str, rows: Iterable[str] | None) -> None:
        if rows is None:
            (root / name).unlink(missing_ok=True)
            return
        (root / name).write_text("".join([header + "\n", *(r + "\n" for r in rows)]))

    table(
        VISITS_FILE,
        "person_id,in_s,out_s",
        None
        if visits is None
        else (
            f"{_check_token(v.person_id, 'person_id')},{_num(v.in_s, 6)},{_num(v.out_s, 6)}"
            for v in visits
        ),
    )
    table(
        ZONES_FILE,
        "person_id,zone,enter_s,exit_s",
        None
        if zones is None
        else (
            f"{_check_token(z.person_id, 'person_id')},{_check_token(z.zone, 'zone')},"
            f"{_num(z.enter_s, 6)},{_num(z.exit_s, 6)}"
            for z in zones
        ),
    )
    table(
        STAFF_FILE,
        "person_id",
        None if staff is None else (_check_token(s, "person_id") for s in staff),
    )
