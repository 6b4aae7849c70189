"""IdentityActor: the site's singleton, a thin Ray shell over :class:`SiteIdentity`.

One named actor per site (``mcvision-identity-<site_id>``) owns the global
gallery and the event-store writer. Camera actors send it batches of
:class:`~mcvision.types.TrackletUpdate`; a background thread ticks every
``runtime.tick_s`` to close absent visits, fire the daily reset on time and
flush to Parquet. The tick's clock is the wall clock when any camera is live,
and the data's own time for file replays, so a replay closes visits exactly as a
live run would. Cameras replaying files run at their own speeds and drift apart in
data time, so the replay clock is a **watermark**: the oldest position of the
cameras still running (their newest ingested update or reported frame), never the
newest camera's time, which would close a lagging camera's zone stays early.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import ray

from mcvision import _env
from mcvision.config import SiteConfig
from mcvision.identity.site import SiteIdentity
from mcvision.types import TrackletUpdate

_FINISHED = ("ended", "stopped", "failed")  # camera states that no longer hold the replay clock
log = logging.getLogger(__name__)


class LatencyReservoir:
    """A fixed-size uniform sample of a stream of latencies (Vitter's algorithm R).

    Example:
        >>> r = LatencyReservoir(size=4, seed=0)
        >>> for x in range(100):
        ...     r.add(float(x))
        >>> len(r.samples), r.seen
        (4, 100)
    """

    def __init__(self, size: int = 2048, seed: int = 0) -> None:
        self.size = size
        self.samples: list[float] = []
        self.seen = 0
        self._rng = random.Random(seed)

    def add(self, value: float) -> None:
        self.seen += 1
        if len(self.samples) < self.size:
            self.samples.append(value)
            return
        j = self._rng.randrange(self.seen)
        if j < self.size:
            self.samples[j] = value

    def summary(self) -> dict[str, float | int | None]:
        """Count seen and p50/p95/max of the sample (None when empty)."""
        if not self.samples:
            return {"n": self.seen, "p50": None, "p95": None, "max": None}
        p50, p95 = np.percentile(self.samples, [50, 95])
        return {
            "n": self.seen,
            "p50": float(p50),
            "p95": float(p95),
            "max": float(max(self.samples)),
        }


def _position(cam: dict[str, Any]) -> float | None:
    """Where a camera got to in data time: the newest of its last reported frame, its last
    ingested update and its last replay-gate position (None when it reported none)."""
    keys = ("last_frame_ts", "ingested_ts", "replay_position")
    pos = [cam[k] for k in keys if cam.get(k) is not None]
    return max(pos) if pos else None


def identity_actor_name(site_id: str) -> str:
    return f"mcvision-identity-{site_id}"


def camera_actor_name(site_id: str, camera_id: str) -> str:
    """The Ray name of a camera's actor (the live view asks it for its newest frame)."""
    return f"mcvision-camera-{site_id}-{camera_id}"


class IdentityService:
    """What the actor does, without Ray: locking, camera status, the tick thread."""

    def __init__(self, cfg: SiteConfig, clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.core = SiteIdentity(cfg)
        self.clock = clock
        self.live = any(c.is_live for c in cfg.cameras)
        self._lock = threading.RLock()
        self._cameras: dict[str, dict[str, Any]] = {
            c.id: {"status": "starting"} for c in cfg.cameras
        }
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watermark: float | None = None
        self.closed = False
        # Soak accounting: events the identity core emitted, and a reservoir of
        # frame-to-ingest latencies (wall clock minus frame ts) for live sources.
        self.events_emitted = 0
        self.latency = LatencyReservoir()
        self.mirror = self._start_mirror(cfg)

    @staticmethod
    def _start_mirror(cfg: SiteConfig) -> Any:
        """The store's relational mirror on its own thread (None when not configured).

        It reads the Parquet files the flushes write, never this service's state, so a
        slow or down database cannot hold up ingest.
        """
        if not cfg.storage.mirror.enabled:
            return None
        from mcvision.analytics.mirror import start_mirror

        return start_mirror(cfg)

    def mirror_status(self) -> dict[str, Any] | None:
        """The mirror's state, lag and last error (None when no mirror is configured)."""
        return self.mirror.status() if self.mirror is not None else None

    def _mirror_after_flush(self, last_flush: float) -> None:
        if self.mirror is not None and self.core._last_flush != last_flush:
            self.mirror.notify()

    def ingest(self, updates: list[TrackletUpdate]) -> int:
        with self._lock:
            if self.closed:
                raise RuntimeError("identity service is closed")
            self.events_emitted += len(self.core.ingest(updates).events)
            if self.live:
                now = self.clock()
                for u in updates:
                    self.latency.add(now - u.ts)
            for u in updates:  # where each camera got to: a restarted camera resumes there
                cam = self._cameras.setdefault(u.camera_id, {})
                cam["ingested_ts"] = max(cam.get("ingested_ts") or u.ts, u.ts)
            return len(updates)

    def camera_restarted(self, camera_id: str) -> dict[str, Any]:
        """A camera actor came back after a crash: its new incarnation and resume point.

        Returns ``{"incarnation": n, "ingested_ts": ts}``: ``n`` counts the restarts
        (the camera offsets its local track IDs by it), ``ts`` is the newest update
        already ingested from it (None when none was), so a file replay skips what
        was done.
        """
        with self._lock:
            cam = self._cameras.setdefault(camera_id, {})
            cam["incarnation"] = int(cam.get("incarnation", 0)) + 1
            cam["restarts"] = cam["incarnation"]
            return {"incarnation": cam["incarnation"], "ingested_ts": cam.get("ingested_ts")}

    def now(self) -> float | None:
        """The site's clock: the wall clock live, the replay watermark for files."""
        return self.clock() if self.live else self._replay_now()

    def _replay_now(self) -> float | None:
        """min(newest data time, the position of every camera still running), never decreasing.

        A camera's position is the newest of its last ingested update, its last reported
        frame and its last replay-gate position; cameras that ended, stopped or failed, and cameras not heard from, do not
        hold time back.
        """
        latest = self.core.latest_ts
        if latest is None:
            return None
        marks = [latest]
        for cam in self._cameras.values():
            if cam.get("status") in _FINISHED:
                continue
            pos = _position(cam)
            if pos is not None:
                marks.append(pos)
        mark = min(marks)
        if self._watermark is None or mark > self._watermark:
            self._watermark = mark
        return self._watermark

    def replay_gate(self, camera_id: str, position: float, lag_s: float) -> bool:
        """Pacing of file replays (:class:`~mcvision.actors.pacing.ReplayPacer`).

        Records that camera ``camera_id`` has sent everything up to ``position`` (data
        time) and says whether it may go on: False while a camera still running is more
        than ``lag_s`` behind it, or has not reported a position yet. Cameras that ended,
        stopped or failed do not hold it back, nor do offline ones (pacing is for sites of
        files only, and a file that could not be read does not come back).
        """
        with self._lock:
            cam = self._cameras.setdefault(camera_id, {})
            cam["replay_position"] = max(cam.get("replay_position") or position, position)
            for other, info in self._cameras.items():
                if other == camera_id or info.get("status") in (*_FINISHED, "offline"):
                    continue
                pos = _position(info)
                if pos is None or pos < position - lag_s:
                    return False
            return True

    def tick(self, now: float | None = None) -> int:
        with self._lock:
            now = now if now is not None else self.now()
            if now is None or self.closed:
                return 0
            last_flush = self.core._last_flush
            rec = self.core.tick(now)
            self.events_emitted += len(rec.events)
            self._mirror_after_flush(last_flush)
            return len(rec)

    def camera_status(self, camera_id: str, status: str, ts: float, reason: str = "") -> None:
        with self._lock:
            self.core.camera_status(camera_id, status, ts, reason)
            self.events_emitted += 1
            self._cameras.setdefault(camera_id, {}).update(
                {"status": status, "reason": reason, "since": ts}
            )

    def report_camera(self, camera_id: str, stats: dict[str, Any]) -> None:
        with self._lock:
            self._cameras.setdefault(camera_id, {}).update(stats)

    def global_ids(self, camera_id: str, local_ids: list[int]) -> dict[int, str]:
        """The global IDs of a camera's local tracks (those not yet assigned left out)."""
        with self._lock:
            found = {i: self.core.manager.global_id_of(camera_id, i) for i in local_ids}
        return {i: g for i, g in found.items() if g}

    def cameras(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: dict(v) for k, v in self._cameras.items()}

    def occupancy(self) -> dict[str, Any]:
        with self._lock:
            visits = self.core.open_visits()
            return {
                "site_id": self.cfg.site_id,
                "ts": self.core.latest_ts,
                "in_store": len(visits),
                "global_ids": sorted(v.global_id for v in visits),
            }

    def reset(self, ts: float | None = None) -> int:
        with self._lock:
            ts = ts if ts is not None else (self.now() or self.clock())
            rec = self.core.reset(ts)
            self.events_emitted += len(rec.events)
            return len(rec)

    def mark_staff(self, global_id: str) -> int:
        """Mark a global ID as staff (visits flagged, embeddings enrolled). Returns visits flagged."""
        with self._lock:
            return self.core.mark_staff(global_id)

    def erase_customer(self, customer_id: str) -> dict[str, Any]:
        """Right to erasure of one customer (embeddings, links, pseudonymized events)."""
        with self._lock:
            return dict(self.core.erase_customer(customer_id))

    def start_ticking(self, period_s: float) -> None:
        def loop() -> None:
            while not self._stop.wait(period_s):
                try:
                    self.tick()
                except Exception:  # a failed flush is retried on the next tick
                    log.exception("identity tick failed")

        self._thread = threading.Thread(target=loop, name="identity-tick", daemon=True)
        self._thread.start()

    def close(self, ts: float | None = None) -> dict[str, Any]:
        self._stop.set()
        with self._lock:
            if not self.closed:
                self.events_emitted += len(self.core.close(ts).events)
                self.closed = True
        if self.mirror is not None:  # one last copy of the final flush, bounded in time
            self.mirror.stop(drain_timeout_s=2 * self.cfg.storage.mirror.connect_timeout_s + 20)
        with self._lock:
            return {"updates": self.core.updates_in, "latest_ts": self.core.latest_ts}

    def load_stats(self) -> dict[str, Any]:
        """Events emitted so far and frame-to-ingest latency percentiles (live sources)."""
        with self._lock:
            return {"events_emitted": self.events_emitted, "latency_s": self.latency.summary()}


@ray.remote(max_concurrency=8, max_restarts=3, max_task_retries=0)
class IdentityActor(IdentityService):
    """The Ray actor: the service above, ticking in the background.

    When Ray restarts it after a crash, the open visits come back from the store's
    snapshots (:meth:`SiteIdentity.restore`) and the day's identities from the
    LanceDB gallery; cameras resend the batch that was in flight.
    """

    def __init__(self, cfg: SiteConfig) -> None:
        logging.basicConfig(level=logging.INFO)
        _env.lower_priority(cfg.runtime.actor_nice)
        super().__init__(cfg)
        self.core.flush_on_open = True
        self.restored = 0
        if ray.get_runtime_context().was_current_actor_reconstructed:
            self.restored = self.core.restore()
            log.warning("identity actor restarted: %d open visits restored", self.restored)
        self.start_ticking(cfg.runtime.tick_s)

    def restored_visits(self) -> int:
        return self.restored

    def ready(self) -> bool:
        return True
