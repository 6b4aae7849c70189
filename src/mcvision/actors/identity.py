"""IdentityActor: the site's singleton, a thin Ray shell over :class:`SiteIdentity`.

One named actor per site (``mcvision-identity-<site_id>``) owns the global
gallery and the event-store writer. Camera actors send it batches of
:class:`~mcvision.types.TrackletUpdate`; a background thread ticks every
``runtime.tick_s`` to close absent visits, fire the daily reset on time and
flush to Parquet. The tick's clock is the wall clock when any camera is live,
and the data's own time (the newest frame seen) for file replays, so a replay
closes visits exactly as a live run would.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import ray

from mcvision.config import SiteConfig
from mcvision.identity.site import SiteIdentity
from mcvision.types import TrackletUpdate

log = logging.getLogger(__name__)


def identity_actor_name(site_id: str) -> str:
    return f"mcvision-identity-{site_id}"


class IdentityService:
    """What the actor does, without Ray: locking, camera status, the tick thread."""

    def __init__(self, cfg: SiteConfig, clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self.core = SiteIdentity(cfg)
        self.clock = clock
        self.live = any(c.is_live for c in cfg.cameras)
        self._lock = threading.RLock()
        self._cameras: dict[str, dict[str, Any]] = {c.id: {"status": "starting"} for c in cfg.cameras}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.closed = False

    def ingest(self, updates: list[TrackletUpdate]) -> int:
        with self._lock:
            if self.closed:
                raise RuntimeError("identity service is closed")
            self.core.ingest(updates)
            return len(updates)

    def now(self) -> float | None:
        return self.clock() if self.live else self.core.latest_ts

    def tick(self, now: float | None = None) -> int:
        with self._lock:
            now = now if now is not None else self.now()
            if now is None or self.closed:
                return 0
            return len(self.core.tick(now))

    def camera_status(self, camera_id: str, status: str, ts: float, reason: str = "") -> None:
        with self._lock:
            self.core.camera_status(camera_id, status, ts, reason)
            self._cameras.setdefault(camera_id, {}).update(
                {"status": status, "reason": reason, "since": ts}
            )

    def report_camera(self, camera_id: str, stats: dict[str, Any]) -> None:
        with self._lock:
            self._cameras.setdefault(camera_id, {}).update(stats)

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
            return len(self.core.reset(ts))

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
                self.core.close(ts)
                self.closed = True
            return {"updates": self.core.updates_in, "latest_ts": self.core.latest_ts}


@ray.remote(max_concurrency=8)
class IdentityActor(IdentityService):
    """The Ray actor: the service above, ticking in the background."""

    def __init__(self, cfg: SiteConfig) -> None:
        logging.basicConfig(level=logging.INFO)
        super().__init__(cfg)
        self.start_ticking(cfg.runtime.tick_s)

    def ready(self) -> bool:
        return True
