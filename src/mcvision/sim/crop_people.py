"""Simulated people from a ReID crop folder (Market-1501 naming): real appearance per real camera.

A crop folder such as Market-1501's ``bounding_box_train`` holds, for every person,
crops taken by 2-6 real cameras. :func:`load_crop_sprites` picks people from it
(seeded) and keeps their crops **per real camera** in :attr:`Sprite.views`, so the
renderer can show a person on each simulated camera the way one real camera saw
them (:meth:`Sprite.assign_views`). That is what makes cross-camera ReID in the
simulator as hard as between real cameras: other pose, other light, other side.

The crops carry their own background: each is matted (a YOLO segmentation model on
the crop padded with grey, as :class:`~mcvision.sim.people._SegMatte` does for MOT
people) or, where no model is given or no mask covers the person, feathered.

``lookalikes`` of the people are chosen in sets of two or three that share a
dominant clothing colour (:func:`dominant_colour`, the upper body's most common
colour name), because stores are full of people in black, grey and blue.

Example:
    >>> sprites, info = load_crop_sprites(["reid/market1501/bounding_box_train"], 6,
    ...                                   seed=0, lookalikes=2)  # doctest: +SKIP
    >>> sprites[0].key, sorted(sprites[0].views), info["lookalike_sets"][0]  # doctest: +SKIP
    ('market1501/bounding_box_train:0372', ['c1', 'c2', 'c5'], ['...:0372', '...:0977'])
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from mcvision.datasets.market import (
    MarketCrop,
    MarketNameError,
    by_person_camera,
    scan_market_folder,
)
from mcvision.sim.people import (
    MATTINGS,
    Cutout,
    Matting,
    PeopleError,
    Sprite,
    _SegMatte,
    feather_alpha,
)
from mcvision.vision.segmenter import pad_person_crop

__all__ = ["COLOURS", "dominant_colour", "is_crop_folder", "load_crop_sprites"]

#: Colour names :func:`dominant_colour` chooses from.
COLOURS = ("black", "grey", "white", "red", "orange", "yellow", "green", "blue", "purple", "pink")


def is_crop_folder(folder: str | Path) -> bool:
    """True when ``folder`` directly holds images in Market-1501 naming (not a MOT tree)."""
    root = Path(folder)
    if not root.is_dir() or (root / "seqinfo.ini").is_file():
        return False
    try:
        scan_market_folder(root)
    except MarketNameError:
        return False
    return True


def _colour_names(hsv: np.ndarray) -> np.ndarray:
    """Per pixel, an index into :data:`COLOURS` (OpenCV HSV, hue 0..180)."""
    h, s, v = (hsv[..., i].astype(np.int32) for i in range(3))
    out = np.full(h.shape, COLOURS.index("grey"), np.int32)
    chroma = (s >= 60) & (v >= 60)
    hue_bins = [
        (8, "red"),
        (20, "orange"),
        (33, "yellow"),
        (85, "green"),
        (130, "blue"),
        (150, "purple"),
        (168, "pink"),
        (181, "red"),
    ]
    lo = 0
    for hi, name in hue_bins:
        out[chroma & (h >= lo) & (h < hi)] = COLOURS.index(name)
        lo = hi
    out[~chroma & (v >= 175) & (s < 40)] = COLOURS.index("white")
    out[v < 60] = COLOURS.index("black")
    return out


def dominant_colour(crops: Sequence[np.ndarray]) -> str:
    """The most common colour name of the upper body (rows 20-50 %, columns 30-70 %).

    Example:
        >>> navy = np.zeros((128, 64, 3), np.uint8); navy[:] = (140, 40, 20)  # BGR
        >>> dominant_colour([navy])
        'blue'
        >>> dominant_colour([np.full((128, 64, 3), 25, np.uint8)])
        'black'
    """
    votes: Counter[int] = Counter()
    for img in crops:
        h, w = img.shape[:2]
        torso = img[
            int(0.2 * h) : max(int(0.5 * h), int(0.2 * h) + 1), int(0.3 * w) : max(int(0.7 * w), 1)
        ]
        hsv = cv2.cvtColor(np.ascontiguousarray(torso), cv2.COLOR_BGR2HSV)
        votes.update(_colour_names(hsv).ravel().tolist())
    if not votes:
        return "grey"
    return COLOURS[votes.most_common(1)[0][0]]


def _read(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise PeopleError(f"cannot read image {path}")
    return img


def _spread(items: list[MarketCrop], k: int) -> list[MarketCrop]:
    """``k`` items evenly spread over the list (all when there are fewer)."""
    if len(items) <= k:
        return items
    return [items[round(i)] for i in np.linspace(0, len(items) - 1, k)]


def _matte(matte: _SegMatte | None, img: np.ndarray) -> tuple[np.ndarray, str]:
    """(alpha, where it came from: ``seg``, ``sam`` or ``feather``) for a whole-crop person."""
    if matte is not None:
        alpha = matte(*pad_person_crop(img))
        if alpha is not None:
            return alpha, "sam" if matte.last == "sam" else "seg"
    return feather_alpha(*img.shape[:2]), "feather"


def _pick_people(
    pool: dict[int, dict[int, list[MarketCrop]]],
    n: int,
    lookalikes: int,
    rng: np.random.Generator,
    colour_of: Any,
) -> tuple[list[int], list[list[int]]]:
    """``n`` people in pool order (seeded), ``lookalikes`` of them in same-colour sets."""
    ids = sorted(pool)
    order = [ids[int(i)] for i in rng.permutation(len(ids))]
    chosen: list[int] = []
    sets: list[list[int]] = []
    want = min(lookalikes, n)
    if want >= 2:
        by_colour: dict[str, list[int]] = {}
        for p in order[: max(12 * n, 60)]:  # enough people to find partners of every colour
            by_colour.setdefault(colour_of(p), []).append(p)
        bins = sorted(
            (c for c, ps in by_colour.items() if len(ps) >= 2),
            key=lambda c: (-len(by_colour[c]), c),
        )
        b = 0
        while want - sum(len(s) for s in sets) >= 2 and bins:
            left = want - sum(len(s) for s in sets)
            colour = bins[b % len(bins)]
            free = [p for p in by_colour[colour] if p not in chosen]
            size = 3 if left >= 5 or left == 3 else 2
            if len(free) < size:
                size = 2
            if len(free) >= size:
                sets.append(free[:size])
                chosen += free[:size]
            else:
                bins.remove(colour)
                continue
            b += 1
    for p in order:
        if len(chosen) >= n:
            break
        if p not in chosen:
            chosen.append(p)
    return chosen[:n], sets


def load_crop_sprites(
    folders: Sequence[str | Path],
    n_people: int,
    *,
    seed: int = 0,
    lookalikes: int = 0,
    n_cameras: int = 3,
    crops_per_view: int = 6,
    matting: Matting = "seg",
    seg_weights: str | Path | None = None,
) -> tuple[list[Sprite], dict[str, Any]]:
    """Pick ``n_people`` people from ReID crop folders and cut their crops per real camera.

    Args:
        folders: crop folders in Market-1501 naming (person ``0000`` and junk ``-1`` are
            left out: they are not people one can follow).
        n_people: how many people to pick.
        seed: the choice of people is drawn from it.
        lookalikes: how many of them to pick in sets (2-3) of one dominant colour.
        n_cameras: simulated cameras; people seen by at least this many real cameras are
            preferred, so each simulated camera can get its own real camera.
        crops_per_view: crops kept per person and real camera, spread over the sequence.
        matting: ``seg`` (YOLO segmentation, feathered box where it finds no person),
            ``seg+sam`` (the SAM ONNX, box-prompted, where YOLO finds no person) or
            ``feather``.
        seg_weights: segmentation model for ``seg`` (default ``yolov8n-seg_int8_320.onnx``).

    Returns:
        The sprites (in pick order) and a report: people, views per person, colours,
        look-alike sets, matte counts.

    Raises:
        PeopleError: a folder is not a crop folder or holds fewer than two usable people.
    """
    if matting not in MATTINGS:
        raise ValueError(f"matting must be one of {MATTINGS}, got {matting!r}")
    pool: dict[int, dict[int, list[MarketCrop]]] = {}
    prefix: dict[int, str] = {}
    for folder in folders:
        root = Path(folder)
        try:
            crops = scan_market_folder(root, keep_distractors=False)
        except MarketNameError as err:
            raise PeopleError(str(err)) from None
        label = f"{root.parent.name}/{root.name}" if root.parent.name else root.name
        for pid, cams in by_person_camera(crops).items():
            key = pid if pid not in pool else max(pool) + 1 + pid  # same id in two folders: apart
            pool[key] = cams
            prefix[key] = f"{label}:{pid:04d}"
    multi = {p: c for p, c in pool.items() if len(c) >= 2}
    if len(multi) < 2:
        raise PeopleError(
            f"{[str(f) for f in folders]}: fewer than two people seen by two or more cameras"
        )
    wide = {p: c for p, c in multi.items() if len(c) >= n_cameras}
    pool = wide if len(wide) >= n_people else multi
    rng = np.random.default_rng([seed, 7])
    colours: dict[int, str] = {}

    def colour_of(p: int) -> str:
        if p not in colours:
            sample = [c for cam in sorted(pool[p]) for c in pool[p][cam][:1]][:4]
            colours[p] = dominant_colour([_read(c.path) for c in sample])
        return colours[p]

    picked, sets = _pick_people(pool, n_people, lookalikes, rng, colour_of)
    matte = _SegMatte.for_matting(matting, seg_weights)
    mattes: Counter[str] = Counter({"seg": 0, "feather": 0})
    sprites: list[Sprite] = []
    for p in picked:
        views: dict[str, list[Cutout]] = {}
        for cam in sorted(pool[p]):
            cut = []
            for c in _spread(pool[p][cam], crops_per_view):
                img = _read(c.path)
                alpha, made_by = _matte(matte, img)
                mattes[made_by] += 1
                cut.append(Cutout(img, alpha.astype(np.float32), c.name.frame))
            views[f"c{cam}"] = cut
        sprites.append(
            Sprite(
                prefix[p], [c for v in views.values() for c in v], views=views, colour=colour_of(p)
            )
        )
    info = {
        "people": [s.key for s in sprites],
        "views": {s.key: sorted(s.views) for s in sprites},
        "colours": {s.key: s.colour for s in sprites},
        "lookalike_sets": [[prefix[p] for p in s] for s in sets],
        "mattes": dict(mattes),
    }
    return sprites, info
