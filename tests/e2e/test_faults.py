"""Faults through real Ray: a camera actor and the IdentityActor are killed mid-run.

The same 30 s clip (two people, one after the other) is replayed once without a
fault and then with each fault; Ray restarts the killed actor and the site's visits
must come out as in the uninterrupted run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import ray

from mcvision.analytics.store import EventStore
from mcvision.config import SiteConfig, parse_config
from mcvision.demo import write_trimmed_copy
from mcvision.runner import SiteRunner, init_ray
from seed import free_port
from support import frames_accounted

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
T0 = 1_764_000_000.0
FPS = 5
CLIP_S = 30.0


@pytest.fixture(scope="module")
def cluster() -> Any:
    sizing = parse_config(
        {"site_id": "x", "cameras": [{"id": f"c{i}", "source": f"{i}.mp4"} for i in range(2)]}
    )
    init_ray(sizing)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def clip(assets: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("faults") / "clip.mp4"
    return write_trimmed_copy(assets / "footage" / "one-by-one-person-detection.mp4", out, CLIP_S)


def site(clip: Path, root: Path) -> SiteConfig:
    return parse_config(
        {
            "site_id": "faults",
            "cameras": [{"id": "door", "source": str(clip), "fps": FPS}],
            "storage": {"root": str(root)},
            "runtime": {"api_port": free_port(), "frames_per_batch": 4, "tick_s": 0.5},
        }
    )


def run_with(cfg: SiteConfig, fault: Callable[[SiteRunner], bool] | None) -> dict[str, Any]:
    """Run to the end; ``fault(runner)`` is polled until it returns True (it fired)."""
    runner = SiteRunner(cfg, start_ts=T0)
    runner.start()
    fired = fault is None
    try:
        deadline = time.monotonic() + 300
        while not fired and time.monotonic() < deadline:
            fired = fault(runner)  # type: ignore[misc]
            if not fired:
                time.sleep(0.05)
        assert fired, "the fault never fired"
        runner.wait(until_end=True, timeout_s=300)
        ray.get(runner.identity.close.remote(), timeout=120)
        extra = {"restored": ray.get(runner.identity.restored_visits.remote())}
    finally:
        summary = runner.stop()
    summary.update(extra)
    summary["restarts"] = dict(runner.restarts)
    store = EventStore.from_config(cfg)
    summary["visits"] = store.sql("SELECT global_id, in_ts, out_ts FROM visits ORDER BY in_ts")
    return summary


@pytest.fixture(scope="module")
def reference(cluster: Any, clip: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    out = run_with(site(clip, tmp_path_factory.mktemp("ref")), None)
    assert len(out["visits"]) == 2  # the woman (~7-19.5 s) and the man (from ~23 s)
    return out["visits"]


def assert_same_visits(got: list[dict], want: list[dict]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g["in_ts"] == pytest.approx(w["in_ts"], abs=1.0)
        assert g["out_ts"] == pytest.approx(w["out_ts"], abs=1.0)


def test_killed_camera_actor_is_restarted_and_resumes(
    reference: list[dict], clip: Path, tmp_path: Path
) -> None:
    seen: dict[str, Any] = {}

    def kill_camera(runner: SiteRunner) -> bool:
        stats = runner.camera_stats().get("door", {})
        if (stats.get("last_frame_ts") or 0) - T0 < 12.0:  # mid-visit of the first person
            return False
        seen["frames_before"] = stats["frames_read"]
        ray.kill(runner.cameras["door"], no_restart=False)
        return True

    out = run_with(site(clip, tmp_path / "store"), kill_camera)
    cam = out["cameras"]["door"]
    assert out["restarts"] == {"door": 1}
    assert cam["restarted"] is True and cam["status"] == "ended"
    # The new incarnation skipped what was already done: about the rest of the 150 frames.
    # "About": the dead incarnation's last stats report (a separate call to the threaded
    # IdentityActor, sent at most once a second) and its last ingest can be a few batches
    # of 4 frames apart under load, and the resume point is the ingest's.
    total = int(CLIP_S * FPS)
    assert seen["frames_before"] + cam["frames_read"] == pytest.approx(total, abs=16)
    assert cam["frames_read"] < total - 40
    assert frames_accounted(cam)
    assert_same_visits(out["visits"], reference)


def test_killed_identity_actor_restores_open_visits(
    reference: list[dict], clip: Path, tmp_path: Path
) -> None:
    def kill_identity(runner: SiteRunner) -> bool:
        occ = ray.get(runner.identity.occupancy.remote(), timeout=30)
        if occ["in_store"] != 1 or (occ["ts"] or 0) - T0 < 12.0:
            return False
        ray.kill(runner.identity, no_restart=False)
        return True

    out = run_with(site(clip, tmp_path / "store"), kill_identity)
    assert out["restored"] == 1  # the open visit came back from the store
    assert out["cameras"]["door"]["status"] == "ended"  # the camera survived
    assert frames_accounted(out["cameras"]["door"], read=int(CLIP_S * FPS))
    assert_same_visits(out["visits"], reference)
