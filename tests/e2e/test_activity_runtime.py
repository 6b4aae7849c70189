"""Activity through real Ray and Serve: the hybrid classifier on real pose keypoints.

A real fall (UP-Fall subject 1, falling forward, side view: standing until ~0.8 s, on the
floor from ~1.5 s) runs through a camera actor with the Detector and Pose deployments;
the hybrid classifier (posture LSTM + standing-fall head + rules) labels the track, the
identity actor books the intervals and raises the alert, the API reports the time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import ray

from mcvision.analytics.store import EventStore
from mcvision.config import parse_config
from mcvision.runner import SiteRunner, init_ray
from seed import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
T0 = 1_764_000_000.0
FALL = Path("footage/har/upfall_subject1/Activity1/Subject1/Trial2Cam1.mp4")
ONSET_S = 0.8  # benchmarks/labels/upfall_subject1.csv


@pytest.fixture(scope="module")
def cluster() -> Any:
    init_ray(parse_config({"site_id": "x", "cameras": [{"id": "c", "source": "c.mp4"}]}))
    yield
    ray.shutdown()


def test_hybrid_raises_a_fall_alert_through_ray(cluster: Any, assets: Path, tmp_path: Path) -> None:
    cfg = parse_config(
        {
            "site_id": "falls",
            "cameras": [{"id": "ward", "source": str(assets / FALL), "fps": 9}],
            "storage": {"root": str(tmp_path / "store")},
            "models": {"pose": {"enabled": True}},
            "activity": {"enabled": True, "classifier": "hybrid"},
            "reset": {"timezone": "UTC"},
            "runtime": {"api_port": free_port()},
        }
    )
    runner = SiteRunner(cfg, start_ts=T0)
    runner.start()
    try:
        runner.wait(until_end=True, timeout_s=420)
        ray.get(runner.identity.close.remote())
        with httpx.Client(base_url=runner.api_url, timeout=30) as c:
            stats = c.get("/api/v1/activities").json()
    finally:
        runner.stop()
    store = EventStore.from_config(cfg)
    alerts = store.sql("SELECT ts FROM events WHERE kind = 'alert'")
    assert len(alerts) == 1
    assert ONSET_S <= alerts[0]["ts"] - T0 <= ONSET_S + 3.0  # within 3 s of the fall
    fallen = [s for s in stats if s["activity"] == "fallen"]
    assert fallen and fallen[0]["total_s"] >= 3.0  # the clip's last ~5 s are on the floor
    assert "lying" not in {s["activity"] for s in stats}  # held as fallen, not lying
