"""`mcvision run` as a real process: Ctrl-C leaves a complete store and no Ray processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psutil
import pytest

from mcvision.analytics.store import EventStore
from mcvision.config import load_config
from mcvision.demo import demo_site
from seed import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def ray_processes(temp_dir: str) -> list[str]:
    out = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if temp_dir in cmd:
            out.append(f"{p.info['pid']}: {cmd[:120]}")
    return out


def test_sigint_flushes_and_leaves_no_ray_processes(assets: Path, tmp_path: Path) -> None:
    footage = assets / "footage" / "one-by-one-person-detection.mp4"
    port = free_port()
    path = demo_site(tmp_path / "site", footage, fps=5, max_s=60, port=port)
    temp_dir = f"/tmp/mcv-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "MCVISION_RAY_TMP": temp_dir}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcvision.cli", "run", "--config", str(path), "--no-progress"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        frames = 0
        while time.monotonic() < deadline and frames < 120:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                cams = httpx.get(f"http://127.0.0.1:{port}/api/v1/cameras", timeout=5).json()
                frames = min(int(c["frames"] or 0) for c in cams)
            except (httpx.HTTPError, ValueError, TypeError, KeyError):
                pass
            time.sleep(1)
        assert frames >= 120, "the cameras never got going"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "stopped (interrupted)" in err
    # The store is complete: every visit closed at its last sighting, nothing open.
    store = EventStore.from_config(load_config(path))
    visits = store.sql("SELECT closed, out_source, in_ts, out_ts FROM visits")
    assert visits, "no visits were written"
    assert all(v["closed"] for v in visits)
    assert {v["out_source"] for v in visits} <= {"sighting", "shutdown"}
    assert all(v["out_ts"] >= v["in_ts"] for v in visits)
    # ...and no Ray process of this run is left.
    time.sleep(2)
    assert ray_processes(temp_dir) == []


def test_a_looped_site_runs_live_past_its_files_end(assets: Path, tmp_path: Path) -> None:
    """``live.yaml`` of a rendered site: ``mcvision run`` keeps replaying its short videos,
    frames stamped with the wall clock, the live view serves pictures, Ctrl-C stops it."""
    from mcvision.demo import live_site

    footage = assets / "footage" / "one-by-one-person-detection.mp4"
    port = free_port()
    site = demo_site(tmp_path / "site", footage, fps=5, max_s=6, delay_s=2, port=port)
    path = live_site(site)
    temp_dir = f"/tmp/mcv-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "MCVISION_RAY_TMP": temp_dir}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcvision.cli", "run", "--config", str(path), "--no-progress"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 240
        cams: list[dict] = []
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                cams = httpx.get(f"{api}/cameras", timeout=5).json()
                if min(int(c["frames_read"] or 0) for c in cams) >= 45:  # 1.5 x the file
                    break
            except (httpx.HTTPError, ValueError, TypeError, KeyError):
                pass
            time.sleep(1)
        assert cams and min(int(c["frames_read"] or 0) for c in cams) >= 45, cams
        assert all(c["status"] == "online" for c in cams)  # never ended
        assert all(abs(c["last_frame_ts"] - time.time()) < 60 for c in cams)  # wall clock
        snap = httpx.get(f"{api}/cameras/entrance/snapshot", timeout=20)
        assert snap.status_code == 200 and snap.content[:2] == b"\xff\xd8"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    time.sleep(2)
    assert ray_processes(temp_dir) == []
