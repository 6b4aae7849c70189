"""benchmarks/accuracy_bench.py: held-out people, embedder override, result summaries."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from support import load_benchmark

acc = load_benchmark("accuracy_bench")


def test_market_split_keeps_tuning_and_held_out_people_apart(tmp_path: Path, monkeypatch) -> None:
    src = tmp_path / "assets" / "bounding_box_train"
    src.mkdir(parents=True)
    for pid in (2, 3, 10, 11, 40):
        for cam in (1, 2):
            (src / f"{pid:04d}_c{cam}s1_000100_01.jpg").write_bytes(b"x")
    monkeypatch.setattr(acc, "_asset", lambda *parts: src)
    even = acc.market_split(tmp_path / "work", 0)
    odd = acc.market_split(tmp_path / "work", 1)
    people = {d: {int(p.name[:4]) for p in d.iterdir()} for d in (even, odd)}
    assert people[even] == {2, 10, 40} and people[odd] == {3, 11}
    assert all(p.is_symlink() and p.resolve().parent == src for p in even.iterdir())
    assert (even.parent.name, even.name, odd.name) == ("market1501", "train_even", "train_odd")
    assert acc.market_split(tmp_path / "work", 0) == even  # made once, then reused


def test_scene_config_overrides_only_the_embedder(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(yaml.safe_dump({
        "site_id": "s", "cameras": [{"id": "c1", "source": "c1.mp4"}],
        "identity": {"match_threshold": 0.6}}))
    base = acc.scene_config(tmp_path)
    alt = acc.scene_config(tmp_path, {"backend": "openvino", "weights": "reid_openvino/x-0286"})
    assert (base.models.reid.backend, alt.models.reid.backend) == ("onnx", "openvino")
    assert alt.models.reid.weights == "reid_openvino/x-0286"
    assert alt.identity == base.identity and alt.cameras == base.cameras
    assert acc._cache_name(None) == "updates.pkl"
    assert acc._cache_name({"backend": "openvino", "weights": "reid_openvino/x-0286"}) == (
        "updates_openvino_x-0286.pkl")


def test_mean_skips_missing_values() -> None:
    rows = [dict.fromkeys(acc.METRICS, 1.0), {**dict.fromkeys(acc.METRICS, 3.0), "in_mae_s": None}]
    m = acc.mean(rows)
    assert m["global_idf1"] == pytest.approx(2.0) and m["in_mae_s"] == pytest.approx(1.0)
