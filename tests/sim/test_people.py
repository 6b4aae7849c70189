from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mcvision.sim.people import (
    PeopleError,
    feather_alpha,
    find_sequences,
    load_sprites,
    read_mot_gt,
)


def test_find_sequences_searches_below_the_folder(people_dir: Path) -> None:
    seqs = find_sequences([people_dir])
    assert [s.name for s in seqs] == ["SYN-01", "SYN-02"]
    assert (seqs[0].width, seqs[0].height, sorted(seqs[0].frames)) == (640, 480, [1, 2, 3, 4])


def test_sprites_keep_tall_visible_pedestrians_largest_first(people_dir: Path) -> None:
    sprites = load_sprites([people_dir], min_height=100)
    # 3: too small, 4: occluded, 5: not a pedestrian, 6: cut by the frame edge
    assert [s.key for s in sprites] == ["SYN-02#7", "SYN-01#1", "SYN-02#8", "SYN-01#2"]
    assert [len(s.cutouts) for s in sprites] == [4, 4, 4, 4]
    assert sprites[0].height == 260
    c = sprites[1].cutouts[0]
    assert c.image.shape == (220, 80, 3) and c.alpha.shape == (220, 80)


def test_max_sprites_and_min_height(people_dir: Path) -> None:
    assert [s.key for s in load_sprites([people_dir], min_height=200, max_sprites=1)] == [
        "SYN-02#7"
    ]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "people folder not found"),
        (lambda p: p, "no MOT sequence found"),
    ],
)
def test_bad_people_folders(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(PeopleError, match=message):
        find_sequences([make(tmp_path)])


def test_no_person_tall_enough(people_dir: Path) -> None:
    with pytest.raises(PeopleError, match="at least 1000 px tall"):
        load_sprites([people_dir], min_height=1000)


def test_bad_gt_row_is_named(tmp_path: Path) -> None:
    f = tmp_path / "gt.txt"
    f.write_text("1,1,10,10,20,40,1,1,1.0\n2,1,10,x,20,40,1,1,1.0\n")
    with pytest.raises(PeopleError, match=r"gt.txt:2: not a number"):
        read_mot_gt(f)


def test_feather_alpha_is_one_inside_and_soft_at_the_border() -> None:
    a = feather_alpha(100, 40)
    assert a[50, 20] == pytest.approx(1.0)
    assert a[0, 0] < 0.3 and a[0, 20] < 0.6
    assert np.all((a >= 0) & (a <= 1))


def test_seg_matting_on_real_people(assets: Path) -> None:
    sprites = load_sprites(
        [assets / "footage" / "MOT17-mini"], min_height=300, matting="seg", max_sprites=1
    )
    alpha = sprites[0].cutouts[0].alpha
    # a person mask covers part of the box, not all of it (a feathered box covers ~90%)
    assert 0.3 < float((alpha > 0.5).mean()) < 0.85
