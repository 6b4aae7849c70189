"""Person ReID crop folders in Market-1501 naming: ``PPPP_cCsS_FFFFFF_BB.jpg``.

``PPPP`` is the person (``0000``: a false detection, a *distractor* that stays in
a gallery; ``-1``: a *junk* crop that the standard protocol ignores), ``C`` the
camera, ``S`` the sequence, ``FFFFFF`` the frame and ``BB`` the box. Some files
of the public release end in ``.jpg.jpg``; they are ordinary crops. Folders in
the same naming from other datasets (DukeMTMC-reID, a store's own crops) read
the same way: only the person and the camera are needed.

Example:
    >>> parse_market_name("0002_c1s1_000451_03.jpg")
    MarketName(person=2, camera=1, sequence=1, frame=451, box=3)
    >>> parse_market_name("-1_c3s2_001234_01.jpg").is_junk
    True
    >>> parse_market_name("1488_c6s4_002202_01.jpg.jpg").camera
    6
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DISTRACTOR",
    "JUNK",
    "MarketCrop",
    "MarketName",
    "MarketNameError",
    "by_person_camera",
    "parse_market_name",
    "scan_market_folder",
]

JUNK = -1
DISTRACTOR = 0
_NAME = re.compile(
    r"^(?P<person>-1|\d+)_c(?P<camera>\d+)(?:s(?P<seq>\d+))?(?:_(?P<frame>\d+))?(?:_(?P<box>\d+))?"
    r"(?:\.(?:jpe?g|png|bmp))+$",
    re.IGNORECASE,
)
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


class MarketNameError(ValueError):
    """A file name or folder that is not in Market-1501 naming."""


@dataclass(frozen=True)
class MarketName:
    """The fields of one Market-1501 file name."""

    person: int
    camera: int
    sequence: int = 0
    frame: int = 0
    box: int = 0

    @property
    def is_junk(self) -> bool:
        """A ``-1`` crop: ignored by the standard protocol."""
        return self.person == JUNK

    @property
    def is_distractor(self) -> bool:
        """A ``0000`` crop: a false detection that stays in the gallery."""
        return self.person == DISTRACTOR


@dataclass(frozen=True)
class MarketCrop:
    """One crop file and its parsed name."""

    path: Path
    name: MarketName

    @property
    def person(self) -> int:
        return self.name.person

    @property
    def camera(self) -> int:
        return self.name.camera


def parse_market_name(filename: str) -> MarketName:
    """Parse ``PPPP_cCsS_FFFFFF_BB.jpg`` (sequence, frame and box optional).

    Raises:
        MarketNameError: the name does not follow the naming.
    """
    m = _NAME.match(Path(filename).name)
    if m is None:
        raise MarketNameError(
            f"{filename!r} is not in Market-1501 naming (PPPP_cCsS_FFFFFF_BB.jpg: person, camera)"
        )
    return MarketName(
        person=int(m["person"]),
        camera=int(m["camera"]),
        sequence=int(m["seq"] or 0),
        frame=int(m["frame"] or 0),
        box=int(m["box"] or 0),
    )


def scan_market_folder(
    folder: str | Path, *, keep_junk: bool = False, keep_distractors: bool = True
) -> list[MarketCrop]:
    """Every image in ``folder`` in Market naming, sorted by file name.

    Files that are not images are skipped; an image whose name does not parse is an error
    (a folder of another layout should fail loudly, not be read as empty).

    Args:
        folder: the crop folder (not searched recursively).
        keep_junk: keep ``-1`` crops (the protocol ignores them).
        keep_distractors: keep ``0000`` crops (a gallery keeps them; a person source does not).

    Raises:
        MarketNameError: the folder is missing, holds an image with another naming, or holds
            no crop at all.
    """
    root = Path(folder)
    if not root.is_dir():
        raise MarketNameError(f"ReID crop folder not found: {root}")
    out: list[MarketCrop] = []
    for p in sorted(root.iterdir()):
        if not p.is_file() or p.suffix.lower() not in _IMAGE_SUFFIXES:
            continue
        name = parse_market_name(p.name)
        if name.is_junk and not keep_junk:
            continue
        if name.is_distractor and not keep_distractors:
            continue
        out.append(MarketCrop(p, name))
    if not out:
        raise MarketNameError(f"{root}: no crop in Market-1501 naming (PPPP_cCsS_FFFFFF_BB.jpg)")
    return out


def by_person_camera(crops: list[MarketCrop]) -> dict[int, dict[int, list[MarketCrop]]]:
    """``person -> camera -> crops`` (in file-name order).

    Example:
        >>> crops = [MarketCrop(Path(n), parse_market_name(n)) for n in
        ...          ["0002_c1s1_000451_03.jpg", "0002_c3s1_000551_01.jpg", "0002_c1s1_000600_01.jpg"]]
        >>> {c: len(v) for c, v in by_person_camera(crops)[2].items()}
        {1: 2, 3: 1}
    """
    out: dict[int, dict[int, list[MarketCrop]]] = defaultdict(lambda: defaultdict(list))
    for c in crops:
        out[c.person][c.camera].append(c)
    return {p: dict(cams) for p, cams in out.items()}
