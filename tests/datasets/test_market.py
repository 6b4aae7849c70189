from __future__ import annotations

from pathlib import Path

import pytest

from mcvision.datasets.market import (
    MarketName,
    MarketNameError,
    by_person_camera,
    parse_market_name,
    scan_market_folder,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("0002_c1s1_000451_03.jpg", MarketName(2, 1, 1, 451, 3)),
        ("1488_c6s4_002202_01.jpg.jpg", MarketName(1488, 6, 4, 2202, 1)),  # the release's quirk
        ("-1_c3s2_001234_01.jpg", MarketName(-1, 3, 2, 1234, 1)),
        ("0000_c5s3_065712_04.jpg", MarketName(0, 5, 3, 65712, 4)),
        ("0042_c2.png", MarketName(42, 2)),  # sequence, frame and box are optional
    ],
)
def test_parse_market_names(name: str, expected: MarketName) -> None:
    assert parse_market_name(name) == expected


def test_junk_and_distractor_flags() -> None:
    assert parse_market_name("-1_c3s2_001234_01.jpg").is_junk
    assert parse_market_name("0000_c1s1_000001_01.jpg").is_distractor
    n = parse_market_name("0007_c1s1_000001_01.jpg")
    assert not n.is_junk and not n.is_distractor


@pytest.mark.parametrize(
    "bad", ["c1_0002.jpg", "0002_s1_000451.jpg", "0002_c1s1.txt", "person.jpg"]
)
def test_other_names_are_refused(bad: str) -> None:
    with pytest.raises(MarketNameError, match="Market-1501 naming"):
        parse_market_name(bad)


def _touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).write_bytes(b"")


def test_scan_drops_junk_keeps_or_drops_distractors(tmp_path: Path) -> None:
    _touch(
        tmp_path / "g",
        "0001_c1s1_000001_01.jpg",
        "0001_c2s1_000001_01.jpg.jpg",
        "0000_c1s1_000002_01.jpg",
        "-1_c1s1_000003_01.jpg",
        "readme.txt",
    )
    crops = scan_market_folder(tmp_path / "g")
    assert [c.path.name for c in crops] == [
        "0000_c1s1_000002_01.jpg",
        "0001_c1s1_000001_01.jpg",
        "0001_c2s1_000001_01.jpg.jpg",
    ]
    assert len(scan_market_folder(tmp_path / "g", keep_junk=True)) == 4
    people = scan_market_folder(tmp_path / "g", keep_distractors=False)
    assert {p: sorted(c) for p, c in by_person_camera(people).items()} == {1: [1, 2]}


def test_scan_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(MarketNameError, match="not found"):
        scan_market_folder(tmp_path / "missing")
    _touch(tmp_path / "empty", "notes.txt")
    with pytest.raises(MarketNameError, match="no crop"):
        scan_market_folder(tmp_path / "empty")
    _touch(tmp_path / "other", "0001_c1s1_000001_01.jpg", "IMG_2041.jpg")
    with pytest.raises(MarketNameError, match="IMG_2041"):
        scan_market_folder(tmp_path / "other")
