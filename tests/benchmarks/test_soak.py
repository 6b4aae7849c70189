"""benchmarks/soak.py helpers: the MJPEG loop server read by OpenCV, memory growth,
the latency reservoir. Nothing here is timed (the soak itself is a benchmark)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest

from mcvision.actors.identity import LatencyReservoir
from support import load_benchmark

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def soak() -> ModuleType:
    return load_benchmark("soak")


def jpeg(value: int) -> bytes:
    img = np.full((48, 64, 3), value, np.uint8)
    return cv2.imencode(".jpg", img)[1].tobytes()


def test_mjpeg_server_loops_the_clip_as_a_live_stream(soak: ModuleType) -> None:
    frames = [jpeg(v) for v in (0, 120, 250)]
    server = soak.MjpegServer(frames, fps=50).start()
    try:
        cap = cv2.VideoCapture(server.url("camA"), cv2.CAP_FFMPEG)
        assert cap.isOpened()
        seen = []
        for _ in range(7):  # more than the clip: it loops
            ok, img = cap.read()
            assert ok and img.shape == (48, 64, 3)
            seen.append(round(float(img.mean()) / 10) * 10)
        cap.release()
    finally:
        server.stop()
    assert seen == [0, 120, 250, 0, 120, 250, 0]
    assert server.sent["/camA"] >= 7


@pytest.mark.parametrize(
    ("rss", "warmup", "expected"),
    [
        ([100, 200, 100, 100, 100, 100], 2, 0.0),  # the warm-up spike is ignored
        ([50, 100, 100, 100, 110, 110, 110], 1, 0.10),
        ([100, 100, 100, 90, 90, 90], 0, -0.10),
    ],
)
def test_memory_growth_after_warmup(
    soak: ModuleType, rss: list[int], warmup: float, expected: float
) -> None:
    samples = [{"t": float(t), "rss": float(r)} for t, r in enumerate(rss)]
    assert soak.growth(samples, warmup)["growth"] == pytest.approx(expected)


def test_memory_growth_needs_samples_after_warmup(soak: ModuleType) -> None:
    out = soak.growth([{"t": 0.0, "rss": 1.0}, {"t": 5.0, "rss": 2.0}], 4.0)
    assert out["growth"] is None and "warm-up" in out["reason"]


def test_latency_reservoir_is_bounded_and_uniform() -> None:
    r = LatencyReservoir(size=500, seed=1)
    for x in range(20_000):
        r.add(x / 1000)  # 0 .. 20 s, uniform
    s = r.summary()
    assert len(r.samples) == 500 and s["n"] == 20_000
    assert s["p50"] == pytest.approx(10.0, abs=1.5)
    assert s["p95"] == pytest.approx(19.0, abs=1.0)
    assert LatencyReservoir().summary()["p95"] is None
