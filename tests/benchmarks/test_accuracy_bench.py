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
    (tmp_path / "site.yaml").write_text(
        yaml.safe_dump(
            {
                "site_id": "s",
                "cameras": [{"id": "c1", "source": "c1.mp4"}],
                "identity": {"match_threshold": 0.6},
            }
        )
    )
    base = acc.scene_config(tmp_path)  # the default embedder, retail-0286
    alt = acc.scene_config(tmp_path, acc.OSNET)
    assert (base.models.reid.backend, alt.models.reid.backend) == ("openvino", "onnx")
    assert alt.models.reid.weights == acc.OSNET["weights"]
    assert alt.cameras == base.cameras and alt.storage == base.storage
    # the scene's own threshold stays; the ones it leaves out follow the embedder
    assert alt.identity.match_threshold == base.identity.match_threshold == 0.6
    assert (base.identity.merge_threshold, alt.identity.merge_threshold) == (0.48, 0.74)
    assert (base.staff.match_threshold, alt.staff.match_threshold) == (0.47, 0.75)
    # captured updates are named by the embedder and tracker that made them, defaults included
    assert acc._cache_name(None) == (
        "updates_openvino_person-reidentification-retail-0286_trk-bytetrack-5.pkl"
    )
    assert acc._cache_name({"backend": "openvino", "weights": "reid_openvino/x-0286"}) == (
        "updates_openvino_x-0286_trk-bytetrack-5.pkl"
    )
    assert acc._cache_name(None, {"tracker": {"track_buffer": 30}}).endswith(
        "_trk-bytetrack-30.pkl"
    )
    assert acc._cache_name(None, {"tracker": {"match_thresh": 0.9}}).endswith(
        "_trk-bytetrack-5-m0.9.pkl"
    )
    weak = {"detector": {"conf": 0.1}, "tracker": {"track_high_thresh": 0.35}}
    assert acc._cache_name(None, weak).endswith("_trk-bytetrack-5-h0.35-c0.1.pkl")
    assert acc._cache_name(None, {"detector": {"conf": 0.35}}) == acc._cache_name(None)


def test_mean_skips_missing_values() -> None:
    rows = [dict.fromkeys(acc.METRICS, 1.0), {**dict.fromkeys(acc.METRICS, 3.0), "in_mae_s": None}]
    m = acc.mean(rows)
    assert m["global_idf1"] == pytest.approx(2.0) and m["in_mae_s"] == pytest.approx(1.0)


def test_geometry_ablation_tunes_on_tuning_seeds_and_compares_in_one_run(
    tmp_path: Path, monkeypatch
) -> None:
    """--geometry: the weight is chosen on the tuning seeds; held-out runs full vs +geometry."""
    import json

    calls: list[tuple[list[int], dict]] = []

    def fake_run_seeds(seeds, work, scenario, people, variants, state, reid=None):
        calls.append((list(seeds), variants))
        row = {k: 0.5 for k in acc.METRICS}
        rows = {}
        for s in seeds:
            rows[str(s)] = {}
            for name, v in variants.items():
                idf1 = (
                    0.4 + 0.1 * v.get("floor_weight", 0.0) if v.get("use_geometry", True) else 0.5
                )
                rows[str(s)][name] = {**row, "global_idf1": idf1}
        return rows, {str(s): {} for s in seeds}, {}

    (tmp_path / "crowded_seed3").mkdir()
    (tmp_path / "crowded_seed3" / "site.yaml").write_text(
        yaml.safe_dump(
            {
                "site_id": "s",
                "cameras": [
                    {
                        "id": "c1",
                        "source": "c1.mp4",
                        "floor": {
                            "points": [
                                {"image": [0, 0], "floor": [0, 0]},
                                {"image": [9, 0], "floor": [1, 0]},
                                {"image": [9, 9], "floor": [1, 1]},
                                {"image": [0, 9], "floor": [0, 1]},
                            ]
                        },
                    }
                ],
            }
        )
    )
    monkeypatch.setattr(acc, "run_seeds", fake_run_seeds)
    monkeypatch.setattr(acc, "market_split", lambda work, parity: tmp_path / f"p{parity}")
    out = tmp_path / "results"
    code = acc.main(
        [
            "--geometry",
            "--match-threshold",
            "0.4",
            "--floor-weights",
            "0.1",
            "0.5",
            "--tune-seeds",
            "0",
            "1",
            "--heldout-seeds",
            "3",
            "--work",
            str(tmp_path),
            "--out-dir",
            str(out),
            "--shared",
        ]
    )
    assert code == 0
    (tune_seeds, sweep), (held_seeds, held) = calls
    assert tune_seeds == [0, 1] and held_seeds == [3]  # the sweep never sees a held-out seed
    assert {v["floor_weight"] for v in sweep.values()} == {0.1, 0.5}
    assert held["full"]["use_geometry"] is False and held["full_geometry"]["use_geometry"] is True
    assert held["full_geometry"]["floor_weight"] == 0.5  # the better one on the tuning seeds
    # late correction without and with geometry-triggered merges, at the chosen weight
    assert held["full_correction"]["use_geometry"] is False
    assert held["full_geometry_correction"]["floor_weight"] == 0.5
    assert held["full"]["correction_window_s"] == 0
    assert held["full_geometry_correction"]["correction_window_s"] > 0
    res = json.loads((out / "accuracy_geometry.json").read_text())
    assert res["geometry"]["tuned"]["chosen"] == 0.5 and res["machine"]["shared"] is True
    assert res["geometry"]["calibrated_cameras"] == ["c1"]
    assert set(res["per_seed"]["3"]) >= {"full", "full_geometry"}


def _scene(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "site.yaml").write_text(
        yaml.safe_dump({"site_id": "s", "cameras": [{"id": "c1", "source": "c1.mp4"}]})
    )


def test_pairs_ablation_tunes_the_rate_on_the_tuning_folder(tmp_path: Path, monkeypatch) -> None:
    """--pairs: pair_fmr is chosen on the tuning seeds (their own folder), then the held-out
    seeds run full vs +pairs at the embedder's threshold (retail-0286's 0.47 here), late
    correction off."""
    import json

    calls: list[tuple[list[int], Path, dict]] = []

    def fake_run_seeds(seeds, work, scenario, people, variants, state, reid=None):
        calls.append((list(seeds), work, variants))
        rows = {
            str(s): {
                n: {
                    **dict.fromkeys(acc.METRICS, 0.5),
                    "global_idf1": 0.5 + (0.1 if v.get("pair_fmr") == 0.1 else 0.0),
                }
                for n, v in variants.items()
            }
            for s in seeds
        }
        return rows, {str(s): {} for s in seeds}, {}

    tune, held = tmp_path / "tune", tmp_path / "held"
    _scene(tune / "crowded_seed0")
    _scene(held / "crowded_seed3")
    monkeypatch.setattr(acc, "run_seeds", fake_run_seeds)
    monkeypatch.setattr(acc, "market_split", lambda work, parity: work / f"p{parity}")
    out = tmp_path / "results"
    args = ["--work", str(held), "--tune-work", str(tune), "--out-dir", str(out)]
    args += ["--tune-seeds", "0", "--heldout-seeds", "3", "--tune-render-note", "old routes"]
    args += ["--reid-backend", "openvino", "--reid-weights", acc.RETAIL0286["weights"]]
    assert acc.main(["--pairs", "--pair-fmrs", "0.05", "0.1", *args]) == 0
    (t_seeds, t_work, sweep), (h_seeds, h_work, chosen) = calls
    assert (t_seeds, t_work, h_seeds, h_work) == ([0], tune, [3], held)
    assert set(sweep) == {"full", "+pairs@0.05", "+pairs@0.1"}
    assert all(
        v["match_threshold"] == 0.47 and v["correction_window_s"] == 0 for v in sweep.values()
    )
    assert chosen["+pairs"]["pair_fmr"] == 0.1 and "pair_thresholds" not in chosen["full"]
    res = json.loads((out / "accuracy_pairs.json").read_text())
    assert res["tuning"]["chosen"] == 0.1 and res["tuning_full_beaten"] is True
    assert res["renders"]["tuning"] == "old routes"
    assert res["heldout_mean"]["+pairs"]["global_idf1"] == pytest.approx(0.6)


def test_ablation_rows_keep_each_embedder_at_its_own_thresholds(
    tmp_path: Path, monkeypatch
) -> None:
    import json

    seen: dict[str, tuple[dict, dict]] = {}

    def fake_run_seeds(seeds, work, scenario, people, variants, state, reid=None):
        assert state == {}  # a fresh model state per embedder
        for n, v in variants.items():
            seen[n] = (reid, v)
        rows = {str(s): {n: dict.fromkeys(acc.METRICS, 0.5) for n in variants} for s in seeds}
        return rows, {str(s): {} for s in seeds}, {}

    _scene(tmp_path / "crowded_seed3")
    monkeypatch.setattr(acc, "run_seeds", fake_run_seeds)
    monkeypatch.setattr(acc, "market_split", lambda work, parity: work / f"p{parity}")
    out = tmp_path / "results"
    argv = ["--ablation", "--work", str(tmp_path), "--out-dir", str(out), "--heldout-seeds", "3"]
    assert acc.main([*argv, "--centring-threshold", "0.3", "--pair-fmr", "0.1"]) == 0
    assert seen["osnet_x0_25"][0] == acc.OSNET and seen["retail0286"][0] == acc.RETAIL0286
    assert seen["retail0286+centring"][1]["match_threshold"] == 0.3
    assert seen["retail0286+pairs"][1]["pair_fmr"] == 0.1
    res = json.loads((out / "accuracy_ablation.json").read_text())
    rows = res["rows"]
    assert (rows["osnet_x0_25"]["match_threshold"], rows["retail0286"]["match_threshold"]) == (
        0.72,
        0.47,
    )
    assert rows["retail0286"]["merge_threshold"] is None  # late correction off
    assert rows["osnet_x0_25+correction"]["merge_threshold"] == 0.74
    assert rows["retail0286+correction"]["merge_threshold"] == 0.48
    assert seen["retail0286+geometry"][1] == {"correction_window_s": 0.0, "use_geometry": True}
    assert set(res["mean"]) == set(rows)
    # --rows: only the named rows run (here one embedder's)
    seen.clear()
    assert acc.main([*argv, "--rows", "retail0286", "retail0286+geometry"]) == 0
    assert set(seen) == {"retail0286", "retail0286+geometry"}
    with pytest.raises(SystemExit, match="no such ablation row"):
        acc.main([*argv, "--rows", "retail9999"])


def test_segmenter_variants_override_the_segmenter_and_name_their_captures(
    tmp_path: Path,
) -> None:
    (tmp_path / "site.yaml").write_text(
        yaml.safe_dump({"site_id": "s", "cameras": [{"id": "c1", "source": "c1.mp4"}]})
    )
    base = acc.scene_config(tmp_path)
    sam = acc.scene_config(tmp_path, None, {"segmenter": acc.SEGMENTER_VARIANTS["sam@1"]})
    yolo = acc.scene_config(tmp_path, None, {"segmenter": acc.SEGMENTER_VARIANTS["yolo-seg"]})
    assert base.models.segmenter.backend == "none"
    assert (sam.models.segmenter.backend, sam.models.segmenter.max_per_second) == ("sam", 1.0)
    assert (yolo.models.segmenter.backend, yolo.models.segmenter.max_per_second) == (
        "yolo-seg",
        None,
    )
    assert sam.models.reid == base.models.reid and sam.identity == base.identity
    names = {n: acc._cache_name(None, {"segmenter": v}) for n, v in acc.SEGMENTER_VARIANTS.items()}
    assert names["none"] == acc._cache_name(None)  # no masks: the plain capture is reused
    assert names["sam"] == (
        "updates_openvino_person-reidentification-retail-0286_seg-sam-0.2_trk-bytetrack-5.pkl"
    )
    assert len(set(names.values())) == len(names)


def test_identity_sweep_tunes_on_tuning_seeds_and_scores_default_and_best(
    tmp_path: Path, monkeypatch
) -> None:
    """--sweep: each value replays the tuning seeds; the held-out ones see the config's
    value and the best, with the shared --identity settings in every replay."""
    import json

    seen: list[tuple[int, dict]] = []
    for seed in (0, 1, 3):
        _scene(tmp_path / f"crowded_seed{seed}")

    def fake_replay(scene, batches, store, reid=None, **identity):
        seed = int(scene.name.removeprefix("crowded_seed"))
        seen.append((seed, identity))
        v = identity["track_split_similarity"]
        return {**{k: 0.5 for k in acc.METRICS}, "global_idf1": 0.3 if v is None else v}

    monkeypatch.setattr(acc, "render", lambda *a, **k: {})
    monkeypatch.setattr(acc, "capture", lambda *a, **k: {"c1": []})
    monkeypatch.setattr(acc, "replay", fake_replay)
    monkeypatch.setattr(acc, "market_split", lambda work, parity: tmp_path / f"p{parity}")
    (tmp_path / "crowded_seed0" / acc._cache_name(None)).write_bytes(b"")  # no models loaded
    (tmp_path / "crowded_seed1" / acc._cache_name(None)).write_bytes(b"")
    (tmp_path / "crowded_seed3" / acc._cache_name(None)).write_bytes(b"")
    out = tmp_path / "results"
    argv = ["--sweep", "track_split_similarity", "0.4", "0.6", "none", "--identity"]
    argv += ["correction_window_s=0", "--tune-seeds", "0", "1", "--heldout-seeds", "3"]
    assert acc.main([*argv, "--work", str(tmp_path), "--out-dir", str(out)]) == 0
    assert {s for s, _ in seen[:6]} == {0, 1} and {s for s, _ in seen[6:]} == {3}
    assert all(ident["correction_window_s"] == 0 for _, ident in seen)
    # held out: the config's value (the default embedder's 0.3) and the best
    assert [i["track_split_similarity"] for s, i in seen if s == 3] == [0.3, 0.6]
    res = json.loads((out / "accuracy_sweep_track_split_similarity.json").read_text())
    assert res["tuning"]["chosen"] == 0.6 and res["tuning"]["default"] == 0.3
    assert set(res["heldout_mean"]) == {"track_split_similarity=0.3", "track_split_similarity=0.6"}


def test_a_capture_setting_is_captured_once_per_value(tmp_path: Path, monkeypatch) -> None:
    """--sweep embed_every_frames: each value has its own captured updates (named by the
    value; the default keeps the plain name), made with the value in the scene's config;
    --heldout-also adds values to the held-out seeds."""
    import json

    for seed in (0, 3):
        _scene(tmp_path / f"crowded_seed{seed}")
    captured: list[tuple[int, str, int]] = []

    def fake_capture(scene, models, reid=None, overrides=None):
        cfg = acc.scene_config(scene, reid, overrides)
        name = acc._cache_name(reid, overrides)
        captured.append((int(scene.name[-1]), name, cfg.identity.embed_every_frames))
        return {"c1": []}

    def fake_replay(scene, batches, store, reid=None, **identity):
        v = identity["embed_every_frames"]
        return {**{k: 0.5 for k in acc.METRICS}, "global_idf1": 1.0 / v}

    monkeypatch.setattr(acc, "render", lambda *a, **k: {})
    monkeypatch.setattr(acc, "capture", fake_capture)
    monkeypatch.setattr(acc, "replay", fake_replay)
    monkeypatch.setattr(acc, "market_split", lambda work, parity: tmp_path / f"p{parity}")
    monkeypatch.setattr("mcvision.actors.camera.LocalModels", lambda cfg: None)
    out = tmp_path / "results"
    argv = ["--sweep", "embed_every_frames", "10", "5", "--tune-seeds", "0"]
    argv += ["--heldout-seeds", "3", "--heldout-also", "20"]
    assert acc.main([*argv, "--work", str(tmp_path), "--out-dir", str(out)]) == 0
    plain = acc._cache_name(None)
    assert [(s, n == plain, e) for s, n, e in captured] == [
        (0, True, 10),
        (0, False, 5),
        (3, True, 10),
        (3, False, 5),
        (3, False, 20),
    ]
    assert captured[1][1].endswith("_embed_every_frames-5.pkl")
    res = json.loads((out / "accuracy_sweep_embed_every_frames.json").read_text())
    assert res["tuning"]["chosen"] == 5 and res["tuning"]["default"] == 10
    assert set(res["heldout_mean"]) == {f"embed_every_frames={v}" for v in (10, 5, 20)}


def test_tracker_variants_capture_each_and_hold_out_the_baseline_and_best(
    tmp_path: Path, monkeypatch
) -> None:
    """--tracker-variants: every variant captured with its detector/tracker settings in the
    scene's config; the held-out seeds get the first (baseline) and the best."""
    import json

    for seed in (0, 3):
        _scene(tmp_path / f"crowded_seed{seed}")
    captured: list[tuple[int, float, float]] = []

    def fake_capture(scene, models, reid=None, overrides=None):
        cfg = acc.scene_config(scene, reid, overrides)
        new = cfg.models.tracker.new_track_thresh
        captured.append((int(scene.name[-1]), cfg.models.detector.conf, new))
        return {"c1": [], "new": new}

    def fake_replay(scene, batches, store, reid=None, **identity):
        return {**{k: 0.5 for k in acc.METRICS}, "global_idf1": batches["new"]}

    monkeypatch.setattr(acc, "render", lambda *a, **k: {})
    monkeypatch.setattr(acc, "capture", fake_capture)
    monkeypatch.setattr(acc, "replay", fake_replay)
    monkeypatch.setattr(acc, "market_split", lambda work, parity: tmp_path / f"p{parity}")
    monkeypatch.setattr("mcvision.actors.camera.LocalModels", lambda cfg: None)
    out = tmp_path / "results"
    argv = ["--tracker-variants", "base=", "weak=detector.conf:0.1,tracker.new_track_thresh:0.45"]
    argv += ["mid=tracker.new_track_thresh:0.3", "--tune-seeds", "0", "--heldout-seeds", "3"]
    assert acc.main([*argv, "--work", str(tmp_path), "--out-dir", str(out)]) == 0
    base = (acc.DetectorConfig().conf, acc.TrackerConfig().new_track_thresh)
    assert captured == [(0, *base), (0, 0.1, 0.45), (0, base[0], 0.3), (3, *base), (3, 0.1, 0.45)]
    res = json.loads((out / "accuracy_tracker_variants.json").read_text())
    assert res["tuning"]["chosen"] == "weak"
    assert set(res["heldout_mean"]) == {"base", "weak"}
    assert res["variants"]["weak"] == {
        "detector": {"conf": 0.1},
        "tracker": {"new_track_thresh": 0.45},
    }
    with pytest.raises(SystemExit):
        acc.main(["--tracker-variants", "bad=segmenter.backend:sam"])


def test_detection_cache_detects_each_frame_once_across_runs(tmp_path: Path) -> None:
    import numpy as np

    from _detection_cache import DetectionCache, cache_name
    from mcvision.config import DetectorConfig
    from mcvision.types import Detections

    class Detector:
        def __init__(self) -> None:
            self.frames = 0

        def detect(self, frames):
            self.frames += len(frames)
            return [Detections(xyxy=np.full((1, 4), f.mean(), np.float32)) for f in frames]

        def embed(self, crops):
            return "embedded"

    frames = [np.full((16, 16, 3), v, np.uint8) for v in (10, 20, 30)]
    path = tmp_path / cache_name(DetectorConfig())
    first = DetectionCache(Detector(), path)
    dets = first.detect(frames[:2])
    got = first.detect_async(frames)()
    assert first.models.frames == 3 and (first.hits, first.misses) == (2, 3)
    assert [d.xyxy[0, 0] for d in got] == [10, 20, 30]
    got[0].xyxy[:] = -1  # callers get copies: the stored boxes stay as detected
    assert first.detect(frames[:1])[0].xyxy[0, 0] == 10 and dets[0].xyxy[0, 0] == 10
    assert first.embed([]) == "embedded"  # everything else is the real models'
    first.save()
    inner = Detector()
    again = DetectionCache(inner, path)
    assert [d.xyxy[0, 0] for d in again.detect(frames[::-1])] == [30, 20, 10]
    assert inner.frames == 0  # all from the file
    other = np.full((16, 16, 3), 10, np.uint8)
    other[::2, ::2] = 11  # a pixel the key samples differs: a new frame
    assert again.detect([other])[0].xyxy[0, 0] != 10 and inner.frames == 1
    assert "yolo11n" in path.name and path.name.endswith(".pkl")


def test_identity_sweep_refuses_to_fix_the_swept_parameter(capsys) -> None:
    with pytest.raises(SystemExit):
        acc.main(["--sweep", "merge_threshold", "0.5", "--identity", "merge_threshold=0.4"])
    assert "--identity sets merge_threshold" in capsys.readouterr().err
