"""Alert delivery: POST ``alert`` events to a webhook without holding up the caller."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from mcvision.types import Event, EventKind

log = logging.getLogger(__name__)


class AlertWebhook:
    """POSTs alert events as JSON to a URL; failures are logged, never raised.

    :meth:`send` posts at once (and waits); :meth:`post_later` hands the alerts to a
    background thread, so a slow or unreachable receiver never holds up the caller
    (the identity core, which must keep ingesting): at most ``queue_size`` alerts
    wait, further ones are dropped and counted in ``failures``; :meth:`drain` waits
    for the queue to empty (at shutdown).

    Args:
        url: where to POST.
        timeout_s: per request.
        client: an ``httpx.Client`` (made on first use when None).
        queue_size: alerts that may wait for the background thread.

    Example:
        >>> hook = AlertWebhook("http://127.0.0.1:9/alerts", timeout_s=0.2)  # doctest: +SKIP
        >>> hook.send([alert_event])  # doctest: +SKIP
        0
    """

    def __init__(
        self, url: str, timeout_s: float = 2.0, client: Any = None, queue_size: int = 1000
    ) -> None:
        import queue

        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook_url must be an http(s) URL, got {url!r}")
        self.url = url
        self.timeout_s = timeout_s
        self._client = client
        self.failures = 0
        self.sent = 0
        self._queue: queue.Queue[Event] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()

    def post_later(self, events: Sequence[Event]) -> int:
        """Queue the ``alert`` events for the background thread; returns how many queued."""
        import queue

        alerts = [e for e in events if e.kind == EventKind.ALERT.value]
        queued = 0
        for e in alerts:
            try:
                self._queue.put_nowait(e)
                queued += 1
            except queue.Full:
                self.failures += 1
                log.warning("alert webhook queue full: alert %s dropped", e.event_id)
        if queued:
            self._ensure_thread()
        return queued

    def drain(self, timeout_s: float = 10.0) -> bool:
        """Wait up to ``timeout_s`` for queued alerts to be posted; True when none is left."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def _ensure_thread(self) -> None:
        with self._thread_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._worker, name="alert-webhook", daemon=True
                )
                self._thread.start()

    def _worker(self) -> None:
        while True:
            e = self._queue.get()
            try:
                self.sent += self.send([e])
            except Exception:  # never let the thread die on a bad event
                log.exception("alert webhook: event %s not sent", e.event_id)
            finally:
                self._queue.task_done()

    def send(self, events: Sequence[Event]) -> int:
        """POST each ``alert`` event now; returns how many were accepted (2xx)."""
        alerts = [e for e in events if e.kind == EventKind.ALERT.value]
        if not alerts:
            return 0
        import httpx

        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout_s)
        ok = 0
        for e in alerts:
            body = {
                "event_id": e.event_id,
                "kind": e.kind,
                "ts": e.ts,
                "day": e.day,
                "site_id": e.site_id,
                "global_id": e.global_id,
                "camera_id": e.camera_id,
                "visit_id": e.visit_id,
                "zone": e.zone,
                "payload": e.payload,
            }
            try:
                r = self._client.post(self.url, json=body, timeout=self.timeout_s)
                r.raise_for_status()
                ok += 1
            except httpx.HTTPError as err:
                self.failures += 1
                log.warning("alert webhook %s failed for event %s: %s", self.url, e.event_id, err)
        return ok
