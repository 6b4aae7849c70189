"""The segment budget: at most K frames per second per camera on a CPU, every due crop on a GPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mcvision.actors.camera import BufferSink, CameraWorker, LocalModels
from mcvision.config import SegmenterConfig, parse_config
from mcvision.demo import write_trimmed_copy
from mcvision.types import Detections
from mcvision.vision.seg_budget import SegmentBudget
from mcvision.vision.segmenter import box_masks

T0 = 1_764_000_000.0


def test_rate_limits_frames_per_second() -> None:
    b = SegmentBudget(rate=1.0)
    granted = [t for t in np.arange(0, 10, 0.2) if b.take(T0 + t)]  # 5 fps for 10 s
    assert len(granted) == 10 and b.refused == 40
    assert np.diff(granted).min() >= 1.0 - 1e-9


def test_burst_then_steady_and_idle_time_is_capped() -> None:
    b = SegmentBudget(rate=2.0)
    assert [b.take(0.0), b.take(0.0), b.take(0.0)] == [True, True, False]  # burst of 2
    # ten idle seconds refill only up to the burst, not 20 frames' worth
    assert sum(b.take(10.0) for _ in range(5)) == 2
    assert b.take(9.0) is False  # a late (older) frame never refills


def test_unlimited_and_device_rules() -> None:
    b = SegmentBudget(rate=None)
    assert all(b.take(0.0) for _ in range(100)) and not b.limited
    assert SegmentBudget.from_config(SegmenterConfig(backend="sam")).rate == 0.2
    assert SegmentBudget.from_config(SegmenterConfig(backend="sam", max_per_second=3)).rate == 3
    gpu = SegmentBudget.from_config(SegmenterConfig(backend="sam", device="cuda:0"))
    assert gpu.rate is None  # a GPU segments every due crop
    with pytest.raises(ValueError, match="rate must be > 0"):
        SegmentBudget(rate=0.0)
    with pytest.raises(ValueError, match="max_per_second"):
        SegmenterConfig(backend="sam", max_per_second=0)


class CountingModels(LocalModels):
    """Real detector and ReID; a box-mask "segmenter" that records what it is given."""

    def __init__(self, site) -> None:  # type: ignore[no-untyped-def]
        super().__init__(
            site.model_copy(
                update={"models": site.models.model_copy(update={"segmenter": SegmenterConfig()})}
            )
        )
        self.calls: list[int] = []

    def segment(self, frames: list[np.ndarray], dets: list[Detections]) -> list[Detections]:
        self.calls.extend(len(d) for d in dets)
        return [
            d.with_fields(mask=box_masks(d.xyxy, f.shape[:2]))
            for f, d in zip(frames, dets, strict=True)
        ]


@pytest.mark.assets
def test_camera_segments_only_due_crops_within_the_budget(assets: Path, tmp_path: Path) -> None:
    clip = write_trimmed_copy(
        assets / "footage/one-by-one-person-detection.mp4", tmp_path / "clip.mp4", 30.0
    )
    seen = {}
    for rate in (0.5, None):
        cfg = parse_config(
            {
                "site_id": "t",
                "cameras": [{"id": "cam", "source": str(clip), "fps": 5}],
                "storage": {"root": str(tmp_path / f"store{rate}")},
                "runtime": {"frames_per_batch": 4},
                "identity": {"embed_every_frames": 2},
                "models": {"segmenter": {"backend": "sam", "max_per_second": rate}},
            }
        )
        models = CountingModels(cfg)
        worker = CameraWorker(cfg, "cam", models, BufferSink(), start_ts=T0)
        stats = worker.run()
        seen[rate] = (stats, models.calls, worker.seg_budget)
    limited, _, l_budget = seen[0.5]
    free, f_calls, f_budget = seen[None]
    assert free.frames_read == limited.frames_read == 150
    # unlimited: every frame with a due track is segmented, and only its due crops
    assert f_budget.refused == 0 and free.segmented == len(f_calls) == f_budget.granted
    assert sum(f_calls) == free.embeddings  # one mask per embedded crop, no more
    assert free.segmented > 30  # people in view most of the 30 s, due every 2nd frame
    # 0.5 per second: at most 1 (burst) + 0.5 x 30 s frames, the other due frames plain
    assert 5 <= limited.segmented <= 1 + 15
    assert l_budget.refused == free.segmented - limited.segmented
    assert limited.embeddings == free.embeddings  # plain crops are still embedded
