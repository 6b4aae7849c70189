"""Gallery: LanceDB-backed embeddings of global identities."""

from __future__ import annotations

import numpy as np
import pytest

from mcvision.identity.gallery import Gallery, diverse_subset, normalize

DIM = 8
DAY1, DAY2 = "2026-11-24", "2026-11-25"


def unit(rng: np.random.Generator, n: int = 1, dim: int = DIM) -> np.ndarray:
    v = rng.normal(size=(n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def gal(tmp_path) -> Gallery:
    return Gallery(tmp_path / "gallery", dim=DIM)


def test_empty_gallery(gal: Gallery) -> None:
    rng = np.random.default_rng(0)
    assert gal.search(unit(rng, 3), k=4) == [[], [], []]
    assert gal.count() == 0
    assert gal.embeddings_of("nobody").shape == (0, DIM)
    assert gal.identities() == []
    assert gal.archive_day(DAY1) == 0


def test_upsert_is_idempotent_and_replaces(gal: Gallery) -> None:
    rng = np.random.default_rng(1)
    v = unit(rng, 2)
    ids1 = gal.add("G1", DAY1, "cam1", [10.0, 11.0], v, quality=[0.5, 0.9])
    ids2 = gal.add("G1", DAY1, "cam1", [10.0, 11.0], v, quality=[0.5, 0.9])
    assert ids1 == ids2
    assert len(set(ids1)) == 2
    assert gal.count() == 2
    w = unit(rng, 1)[0]
    gal.add("G1", DAY1, "cam1", 10.0, w)  # same key as the first row: replaced
    assert gal.count() == 2
    got = gal.embeddings_of("G1")
    np.testing.assert_allclose(got[0], w, atol=1e-6)
    np.testing.assert_allclose(got[1], v[1], atol=1e-6)


def test_input_is_normalized(gal: Gallery) -> None:
    gal.add("G1", DAY1, "cam1", 1.0, [3.0, 4.0, 0, 0, 0, 0, 0, 0])
    stored = gal.embeddings_of("G1")[0]
    np.testing.assert_allclose(stored[:2], [0.6, 0.8], atol=1e-6)
    hits = gal.search([30.0, 40.0, 0, 0, 0, 0, 0, 0], k=1)
    assert hits[0][0][0] == "G1"
    assert hits[0][0][1] == pytest.approx(1.0, abs=1e-5)


def test_search_aggregates_per_identity(gal: Gallery) -> None:
    rng = np.random.default_rng(2)
    q = unit(rng)[0]
    near = normalize(q + 0.3 * unit(rng, 3))  # three embeddings of G1, all close to q
    mid = normalize(q + 1.0 * unit(rng, 1))
    far = unit(rng, 2)
    gal.add("G1", DAY1, "cam1", [1.0, 2.0, 3.0], near)
    gal.add("G2", DAY1, "cam1", 4.0, mid)
    gal.add("G3", DAY1, "cam2", [5.0, 6.0], far)
    hits = gal.search(q, k=2)[0]
    assert [g for g, _ in hits] == ["G1", "G2"]  # one entry per identity
    assert hits[0][1] == pytest.approx(float(np.max(near @ q)), abs=1e-5)
    assert hits[1][1] == pytest.approx(float(mid[0] @ q), abs=1e-5)
    all_hits = gal.search(q, k=10)[0]
    assert len(all_hits) == 3
    assert all_hits[2][1] == pytest.approx(float(np.max(far @ q)), abs=1e-5)


def test_search_several_queries(gal: Gallery) -> None:
    rng = np.random.default_rng(3)
    a, b = unit(rng, 2)
    gal.add("A", DAY1, "cam1", 1.0, a)
    gal.add("B", DAY1, "cam1", 2.0, b)
    hits = gal.search(np.stack([b, a]), k=1)
    assert [h[0][0] for h in hits] == ["B", "A"]


def test_prefilter_by_day(gal: Gallery) -> None:
    rng = np.random.default_rng(4)
    q = unit(rng)[0]
    gal.add("D1", DAY1, "cam1", 1.0, q)  # the closest, but another day
    other = normalize(q + 1.5 * unit(rng, 1))
    gal.add("D2", DAY2, "cam1", 2.0, other)
    assert [g for g, _ in gal.search(q, k=5)[0]] == ["D1", "D2"]
    hits = gal.search(q, k=5, day=DAY2)[0]
    assert [g for g, _ in hits] == ["D2"]
    assert hits[0][1] == pytest.approx(float(other[0] @ q), abs=1e-5)
    assert gal.count(day=DAY1) == 1


def test_archive_day_leaves_active_gallery_but_keeps_rows(gal: Gallery) -> None:
    rng = np.random.default_rng(5)
    v = unit(rng, 3)
    gal.add("G1", DAY1, "cam1", [1.0, 2.0], v[:2])
    gal.add("G2", DAY2, "cam1", 3.0, v[2])
    gal.register_identity("G9", DAY1, 4.0)  # an identity without embeddings
    assert gal.identities(DAY1, exclude_archived=True) == ["G1", "G9"]
    assert gal.archive_day(DAY1) == 2
    assert gal.archive_day(DAY1) == 0  # already archived
    assert gal.count() == 3
    assert gal.count(exclude_archived=True) == 1
    assert gal.search(v[0], k=5)[0][0][0] == "G2"
    assert [g for g, _ in gal.search(v[0], k=5)[0]] == ["G2"]
    assert gal.search(v[0], k=5, exclude_archived=False)[0][0][0] == "G1"
    assert gal.identities(DAY1, exclude_archived=True) == []
    assert gal.identities(DAY1) == ["G1", "G9"]
    assert [r.archived for r in gal.rows(global_id="G1")] == [True, True]


def test_archive_days_before(gal: Gallery) -> None:
    rng = np.random.default_rng(6)
    v = unit(rng, 2)
    gal.add("G1", DAY1, "cam1", 1.0, v[0])
    gal.add("G2", DAY2, "cam1", 2.0, v[1])
    assert gal.archive_days_before(DAY2) == 1
    assert gal.count(exclude_archived=True) == 1
    assert gal.count(day=DAY2, exclude_archived=True) == 1


def test_persists_across_reopen(tmp_path) -> None:
    rng = np.random.default_rng(7)
    v = unit(rng, 3)
    g1 = Gallery(tmp_path / "g", dim=DIM)
    g1.add("G1", DAY1, "cam1", [1.0, 2.0, 3.0], v)
    g1.register_identity("G2", DAY1, 5.0)
    del g1
    g2 = Gallery(tmp_path / "g", dim=DIM)
    assert g2.count() == 3
    assert g2.identities(DAY1) == ["G1", "G2"]
    np.testing.assert_allclose(g2.embeddings_of("G1"), v, atol=1e-6)
    assert [r.ts for r in g2.rows(global_id="G1")] == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    ("vector", "message"),
    [
        (np.ones(DIM + 1), "dimension mismatch: got 9, gallery expects 8"),
        (np.ones((2, 2, DIM)), "must be"),
        (np.zeros(DIM), "zero embedding"),
        (np.full(DIM, np.nan), "NaN"),
    ],
)
def test_bad_vectors_raise(gal: Gallery, vector: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        gal.add("G1", DAY1, "cam1", 1.0, vector)
    assert gal.count() == 0


def test_search_dimension_mismatch(gal: Gallery) -> None:
    gal.add("G1", DAY1, "cam1", 1.0, np.ones(DIM))
    with pytest.raises(ValueError, match="dimension mismatch: got 4, gallery expects 8"):
        gal.search(np.ones(4), k=1)


def test_reopen_with_other_dim_is_a_clear_error(tmp_path) -> None:
    Gallery(tmp_path / "g", dim=DIM).add("G1", DAY1, "cam1", 1.0, np.ones(DIM))
    with pytest.raises(ValueError, match="stores 8-d embeddings, but dim=512"):
        Gallery(tmp_path / "g", dim=512)


def test_prune_keeps_the_most_diverse(gal: Gallery) -> None:
    rng = np.random.default_rng(8)
    base, odd = unit(rng, 2)
    cluster = normalize(base + 0.05 * unit(rng, 4))
    gal.add("G1", DAY1, "cam1", [1.0, 2.0, 3.0, 4.0], cluster, quality=[0.9, 0.5, 0.5, 0.5])
    gal.add("G1", DAY1, "cam2", 5.0, odd, quality=0.5)
    gal.add("G2", DAY1, "cam1", 6.0, odd)
    assert gal.prune("G1", keep=2) == 3
    kept = gal.embeddings_of("G1")
    assert kept.shape == (2, DIM)
    np.testing.assert_allclose(kept[0], cluster[0], atol=1e-6)  # best quality first
    np.testing.assert_allclose(kept[1], odd, atol=1e-6)  # the farthest from it
    assert gal.count(global_id="G2") == 1  # others untouched
    assert gal.prune("G1", keep=5) == 0


@pytest.mark.parametrize(("keep", "expected"), [(0, []), (1, [2]), (2, [0, 2]), (4, [0, 1, 2])])
def test_diverse_subset(keep: int, expected: list[int]) -> None:
    v = np.array([[1.0, 0, 0], [0.99, 0.14, 0], [0, 0, 1.0]])
    assert diverse_subset(v, keep, quality=np.array([0.1, 0.2, 0.9])) == expected


def test_remove(gal: Gallery) -> None:
    rng = np.random.default_rng(9)
    ids = gal.add("G1", DAY1, "cam1", [1.0, 2.0, 3.0], unit(rng, 3))
    assert gal.remove([ids[0], ids[2], "missing"]) == 2
    assert [r.embedding_id for r in gal.rows()] == [ids[1]]


def test_memory_gallery_and_bad_args() -> None:
    g = Gallery("memory://", dim=4)
    g.add("G'1", DAY1, "cam1", 1.0, [1.0, 0, 0, 0])  # quotes in IDs are escaped
    assert g.count(global_id="G'1") == 1
    with pytest.raises(ValueError, match="k must be > 0"):
        g.search([1.0, 0, 0, 0], k=0)
    with pytest.raises(ValueError, match="keep must be >= 0"):
        g.prune("G'1", keep=-1)
    with pytest.raises(ValueError, match="dim must be > 0"):
        Gallery("memory://", dim=0)
