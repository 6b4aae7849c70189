"""A real RTSP camera that drops and comes back at another resolution.

GStreamer's RTSP server (system ``python3-gi``, see ``rtsp_server.py``) serves real
footage on 127.0.0.1; the :class:`CameraWorker` reads it through OpenCV with the real
detector and ReID in this process and feeds the real identity core. Mid-stream the
server is stopped, then restarted with the frames shrunk to 640×360.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import pytest

from mcvision.actors.camera import CameraWorker, LocalModels
from mcvision.actors.identity import IdentityService
from mcvision.config import parse_config
from mcvision.types import TrackletUpdate
from seed import free_port

pytestmark = [pytest.mark.slow]

SERVER = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _gst_rtsp_available() -> bool:
    probe = (
        "import gi; gi.require_version('GstRtspServer', '1.0');"
        " from gi.repository import GstRtspServer"
    )
    try:
        return (
            subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="module")
def rtsp_ok() -> None:
    if not _gst_rtsp_available():
        msg = "GStreamer RTSP server missing: apt-get install gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-plugins-good python3-gi"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)


def write_frames(
    footage: Path,
    out: Path,
    start_s: float,
    end_s: float,
    fps: int,
    size: tuple[int, int] | None = None,
) -> Path:
    """Frames ``start_s``..``end_s`` of ``footage`` at ``fps`` as ``%05d.jpg`` (resized to ``size``)."""
    out.mkdir(parents=True, exist_ok=True)
    cap = cv2.VideoCapture(str(footage))
    native = cap.get(cv2.CAP_PROP_FPS)
    step = round(native / fps)
    index = n = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        t = index / native
        if start_s <= t < end_s and index % step == 0:
            if size is not None:
                img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(out / f"{n:05d}.jpg"), img)
            n += 1
        index += 1
    cap.release()
    assert n > 0, f"no frames between {start_s} and {end_s} s"
    return out


class RtspServer:
    """The GStreamer RTSP server as a subprocess of the system Python."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam"

    def start(self, folder: Path, fps: int) -> None:
        self.proc = subprocess.Popen(
            [SYSTEM_PYTHON, str(SERVER), str(self.port), str(folder), str(fps)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.strip() == "READY", self.proc.stderr.read() if self.proc.stderr else line

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def rtsp_server(rtsp_ok: None) -> Iterator[RtspServer]:
    server = RtspServer(free_port())
    yield server
    server.stop()


class ServiceSink:
    """Forwards a camera's output to an in-process IdentityService; records statuses."""

    def __init__(self, service: IdentityService) -> None:
        self.service = service
        self.statuses: list[tuple[str, float]] = []

    def updates(self, updates: list[TrackletUpdate]) -> None:
        self.service.ingest(updates)

    def status(self, camera_id: str, status: str, ts: float, reason: str) -> None:
        self.statuses.append((status, time.time()))
        self.service.camera_status(camera_id, status, ts, reason)

    def stats(self, camera_id: str, stats: dict[str, Any]) -> None:
        self.service.report_camera(camera_id, stats)


def wait_for(cond: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Poll ``cond`` until true; returns the wall time it became true."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if cond():
            return time.time()
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout_s} s: {what}")


def test_rtsp_camera_reconnects_after_a_drop_and_a_resolution_change(
    rtsp_server: RtspServer, assets: Path, tmp_path: Path
) -> None:
    footage = assets / "footage" / "one-by-one-person-detection.mp4"
    # The man in black is in view from ~23 s to ~44.5 s of the footage (tests/tracking).
    full = write_frames(footage, tmp_path / "full", 25.0, 43.0, 5)
    small = write_frames(footage, tmp_path / "small", 25.0, 43.0, 5, size=(640, 360))
    cfg = parse_config(
        {
            "site_id": "rtsp",
            "cameras": [
                {
                    "id": "door",
                    "source": rtsp_server.url,
                    "fps": 5,
                    "zones": [
                        {
                            "name": "all",
                            "normalized": True,
                            "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]],
                        }
                    ],
                }
            ],
            "storage": {"root": str(tmp_path / "store")},
            "visits": {"absence_timeout_s": 60},
            "runtime": {"frames_per_batch": 2},
        }
    )
    service = IdentityService(cfg)
    sink = ServiceSink(service)
    worker = CameraWorker(cfg, "door", LocalModels(cfg), sink, start_ts=0.0)
    rtsp_server.start(full, 5)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        wait_for(
            lambda: service.core.occupancy() == 1 and worker.stats.frames >= 20,
            60,
            "the person is seen on the first stream",
        )
        assert worker.pipeline._frame_size == (768, 432)
        t_stop = time.time()
        rtsp_server.stop()
        wait_for(lambda: worker.stats.status == "offline", 15, "the drop is noticed")
        time.sleep(2.0)
        rtsp_server.start(small, 5)
        t_restart = time.time()
        t_online = wait_for(
            lambda: worker.pipeline._frame_size == (640, 360),
            10,
            "frames at the new resolution within 10 s of the restart",
        )
        frames_after = worker.stats.frames
        wait_for(lambda: worker.stats.frames >= frames_after + 20, 30, "20 more frames")
    finally:
        worker.stop()
        thread.join(timeout=30)
        rtsp_server.stop()
    service.close()
    assert t_online - t_restart < 10.0
    # live frames: the camera reports its lag (wall clock minus the newest frame's ts)
    assert worker.stats.lag_s is not None and 0.0 <= worker.stats.lag_s < 5.0
    # offline / online events, in that order, once each after the first online
    assert [s for s, _ in sink.statuses] == ["online", "offline", "online"]
    store = service.core.store
    events = store.sql("SELECT kind FROM events WHERE kind LIKE 'camera_%' ORDER BY ts")
    assert [e["kind"] for e in events] == ["camera_online", "camera_offline", "camera_online"]
    # zones were rebuilt for the new frame size: the normalized polygon now spans 640×360
    zones = worker.pipeline._zones
    assert zones is not None and zones.frame_size == (640, 360)
    assert zones.polygons[0].bounds == pytest.approx((0, 0, 640, 360))
    # one visit across the gap (shorter than the absence timeout): not split
    visits = store.sql("SELECT global_id, in_ts, out_ts FROM visits")
    assert len(visits) == 1
    assert visits[0]["in_ts"] < t_stop and visits[0]["out_ts"] > t_restart
