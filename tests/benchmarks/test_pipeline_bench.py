"""benchmarks/pipeline_bench.py on a tiny input: its pieces, then one whole run's JSON.

No timing is asserted (the machine is shared): only frame counts, fields and sane values.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from support import load_benchmark

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "pipeline_bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("pipeline_bench")


@pytest.mark.parametrize(
    ("fps", "expected_fps", "expected_runs"),
    [
        ([10.0], 10.0, [10.0]),
        ([30.0, 10.0, 20.0], 20.0, [30.0, 10.0, 20.0]),
        ([4.0, 8.0], 4.0, [4.0, 8.0]),  # lower median of an even count
    ],
)
def test_median_round(
    bench: ModuleType, fps: list[float], expected_fps: float, expected_runs: list[float]
) -> None:
    rounds = [{"fps": f, "frames": i} for i, f in enumerate(fps)]
    mid = bench._median_round(rounds)
    assert mid["fps"] == expected_fps
    assert mid["frames"] == fps.index(expected_fps)
    assert mid["fps_runs"] == expected_runs


@pytest.mark.parametrize(
    ("cameras", "seconds", "message"),
    [(0, 5.0, "cameras must be >= 1"), (2, 0.0, "seconds must be > 0")],
)
def test_prepare_clips_rejects_bad_sizes(
    bench: ModuleType, tmp_path: Path, cameras: int, seconds: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        bench.prepare_clips(tmp_path / "none.mp4", tmp_path, cameras, seconds)


def test_config_summary_reflects_runtime_overrides(bench: ModuleType, tmp_path: Path) -> None:
    clips = [tmp_path / "a.mp4", tmp_path / "b.mp4"]
    cfg = bench.site_config(
        clips,
        4.0,
        tmp_path / "data",
        8123,
        {"frames_per_batch": 8, "detector": {"max_batch_size": 4}},
    )
    summary = bench.config_summary(cfg)
    assert [c.fps for c in cfg.cameras] == [4.0, 4.0]
    assert cfg.runtime.api_port == 8123
    assert summary["frames_per_batch"] == 8
    assert summary["detector"]["max_batch_size"] == 4
    assert summary["detector"]["ongoing"] == 8  # 2 x max_batch_size by default
    assert summary["reid"] == "openvino:reid_openvino/person-reidentification-retail-0286"


@pytest.fixture(scope="module")
def tiny(bench: ModuleType, assets: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("pbench")
    clips = bench.prepare_clips(assets / bench.FOOTAGE, out / "clips", 2, 2.0)
    return bench.site_config(clips, 2.0, out / "data", 8124)


@pytest.mark.assets
def test_in_process_variants_count_every_frame(bench: ModuleType, tiny: Any) -> None:
    frames = bench.decode_frames(tiny)
    assert {k: len(v) for k, v in frames.items()} == {"cam0": 4, "cam1": 4}  # 2 s at 2 fps
    limit = bench.bench_limit(tiny, frames)
    assert limit["frames"] == 8 and limit["fps"] > 0 and limit["batch"] == 8
    naive = bench.bench_naive(tiny)
    assert naive["frames"] == 8 and naive["fps"] > 0
    # ReID of every detection; both cameras show the same frames, the trackers the same boxes
    assert naive["embeddings"] == naive["detections"]
    assert naive["detections"] % 2 == 0


@pytest.mark.assets
@pytest.mark.e2e
@pytest.mark.slow
def test_whole_run_writes_json(assets: Path, tmp_path: Path) -> None:
    out = tmp_path / "pipeline.json"
    env = dict(os.environ, MCVISION_ASSETS=str(assets))
    env.pop("MCVISION_RAY_TMP", None)  # the script makes (and removes) a cluster dir of its own
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--json",
            "--cameras",
            "2",
            "--seconds",
            "4",
            "--fps",
            "3",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = json.loads(proc.stdout)
    assert json.loads(out.read_text()) == printed
    r = printed
    assert r["cameras"] == 2 and r["frames"] == 24  # 4 s at 3 fps, 2 cameras
    assert r["machine"]["cpu_count"] == os.cpu_count()
    assert len(r["load_before"]) == 3 and len(r["load_after"]) == 3
    assert r["config"]["frames_per_batch"] >= 1
    assert r["limit"]["frames"] == 24 and r["naive"]["frames"] == 24
    pipe = r["pipeline"]
    assert pipe["frames_total"] == 24
    assert pipe["camera_status"] == {"cam0": "ended", "cam1": "ended"}
    assert 0 < pipe["frames"] <= 24 and pipe["clock"] in ("first_frame", "online")
    assert pipe["batches"]["Detector"]["items"] == 24
    cpu = pipe["cpu_percent"]  # every role of the pipeline shows up in the accounting
    assert {"detector", "cameras", "identity", "driver"} <= set(cpu)
    assert cpu["total"] == pytest.approx(sum(v for k, v in cpu.items() if k != "total"), abs=0.5)
    for key in ("pipeline/limit", "pipeline/naive"):
        assert r["ratios"][key] > 0
        assert len(r["ratios"][f"{key}_per_round"]) == 1
