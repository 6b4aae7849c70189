"""CameraActor: one per camera — decode, batch to the models, track, send updates.

The work is done by :class:`CameraWorker`, plain Python with its models and
its sink injected: the Ray actor gives it Serve handles and the IdentityActor;
tests and benchmarks can give it in-process models. Per batch of frames:

1. frames are shrunk so their long side is the detector's input size (they
   cross to the Detector once, small; boxes are scaled back);
2. all frames of the batch go to the Detector at once (Serve batches them with
   other cameras' frames);
3. the camera's :class:`~mcvision.capture.pipeline.CameraPipeline` tracks them
   and picks the tracks due for ReID; only their crops (masked when a
   segmenter is configured) go to the Embedder, in one batch;
4. the updates go to the identity sink.

An unreadable source is reported as a ``camera_offline`` event with the reason
and a log line; the other cameras are not affected.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import cv2
import numpy as np
import ray

from mcvision.capture.pipeline import CameraPipeline, CameraStep
from mcvision.capture.source import FrameSource, LiveSource, SourceError, open_source
from mcvision.config import SiteConfig
from mcvision.types import Detections, Frame, TrackletUpdate

log = logging.getLogger(__name__)


class Models(Protocol):
    """The model calls a camera needs; batched in, batched out."""

    def detect(self, frames: list[np.ndarray]) -> list[Detections]: ...

    def embed(self, crops: list[np.ndarray]) -> np.ndarray: ...

    def segment(self, frames: list[np.ndarray], dets: list[Detections]) -> list[Detections]: ...


class Sink(Protocol):
    """Where a camera's output goes (the IdentityActor, or a list in tests)."""

    def updates(self, updates: list[TrackletUpdate]) -> None: ...

    def status(self, camera_id: str, status: str, ts: float, reason: str) -> None: ...

    def stats(self, camera_id: str, stats: dict[str, Any]) -> None: ...


@dataclass
class CameraStats:
    camera_id: str
    status: str = "starting"
    frames: int = 0
    updates: int = 0
    embeddings: int = 0
    dropped: int = 0
    people_in_view: int = 0
    fps: float = 0.0
    last_frame_ts: float | None = None
    error: str | None = None


def shrink(image: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """Resize so the long side is at most ``size``; returns the image and the scale used."""
    h, w = image.shape[:2]
    scale = min(1.0, size / max(h, w))
    if scale >= 1.0:
        return image, 1.0
    small = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return small, scale


class CameraWorker:
    """The per-camera loop, independent of Ray.

    Args:
        site: the site config.
        camera_id: which camera.
        models: detector/embedder(/segmenter) calls.
        sink: receives updates, status changes and stats.
        start_ts: epoch seconds of the first frame of a file source.
        clock: wall clock (live timestamps, fps).
    """

    def __init__(
        self,
        site: SiteConfig,
        camera_id: str,
        models: Models,
        sink: Sink,
        start_ts: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.site = site
        self.camera = site.camera(camera_id)
        self.models = models
        self.sink = sink
        self.start_ts = start_ts
        self.clock = clock
        self.pipeline = CameraPipeline(self.camera, site)
        self.stats = CameraStats(camera_id)
        self.batch = site.runtime.frames_per_batch
        self.imgsz = site.models.detector.imgsz
        self.segment = site.models.segmenter.backend != "none"
        self._stop = threading.Event()
        self._source: FrameSource | None = None

    def stop(self) -> None:
        self._stop.set()
        if self._source is not None:
            self._source.stop()

    def _on_status(self, status: str, reason: str) -> None:
        self.stats.status = status
        self.stats.error = reason or None
        if reason:
            log.warning("camera %s %s: %s", self.camera.id, status, reason)
        # Files live in their own time (start_ts + PTS); live sources in the wall clock's.
        ts = self.clock() if self.camera.is_live else self._data_ts()
        self.sink.status(self.camera.id, status, ts, reason)

    def _data_ts(self) -> float:
        last = self.stats.last_frame_ts
        return last if last is not None else self.start_ts

    def _batches(self, source: FrameSource) -> Iterator[list[Frame]]:
        if isinstance(source, LiveSource):
            source.start()
            while not self._stop.is_set():
                frames = source.take(self.batch)
                if frames:
                    yield frames
            return
        batch: list[Frame] = []
        for frame in source.frames():
            batch.append(frame)
            if len(batch) >= self.batch:
                yield batch
                batch = []
            if self._stop.is_set():
                break
        if batch:
            yield batch

    def run(self) -> CameraStats:
        """Process the source until it ends (files) or :meth:`stop` (live)."""
        try:
            source = open_source(
                self.camera, start_ts=self.start_ts, clock=self.clock, on_status=self._on_status
            )
        except SourceError as err:
            self._on_status("offline", str(err))
            self.stats.status = "failed"
            return self.stats
        self._source = source
        if not source.live:
            self._on_status("online", "")
        t0 = self.clock()
        last_ts: float | None = None
        try:
            for frames in self._batches(source):
                self._process(frames)
                last_ts = frames[-1].ts
                self.stats.dropped = source.stats.dropped
                self.stats.fps = self.stats.frames / max(self.clock() - t0, 1e-6)
                self.sink.stats(self.camera.id, self._public_stats())
        except SourceError as err:
            self._on_status("offline", str(err))
            self.stats.status = "failed"
        finally:
            source.stop()
        if last_ts is not None:
            ended = self.pipeline.finish(last_ts)
            if ended:
                self.sink.updates(ended)
        if self.stats.status not in ("failed",):
            self.stats.status = "ended" if not self._stop.is_set() else "stopped"
        self.sink.stats(self.camera.id, self._public_stats())
        return self.stats

    def _public_stats(self) -> dict[str, Any]:
        return asdict(self.stats)

    def _process(self, frames: list[Frame]) -> None:
        smalls = [shrink(f.image, self.imgsz) for f in frames]
        dets = self.models.detect([s for s, _ in smalls])
        steps: list[CameraStep] = []
        for frame, (_, scale), d in zip(frames, smalls, dets, strict=True):
            if scale != 1.0 and len(d):
                d = d.with_fields(xyxy=d.xyxy / scale)
            steps.append(self.pipeline.step(frame, d))
        crops: list[np.ndarray] = []
        counts: list[int] = []
        masked = self._masks(frames, steps) if self.segment else [None] * len(steps)
        for frame, step, masks in zip(frames, steps, masked, strict=True):
            c = step.crops(frame.image, masks)
            crops.extend(c)
            counts.append(len(c))
        embeddings = self.models.embed(crops) if crops else None
        updates: list[TrackletUpdate] = []
        offset = 0
        for step, n in zip(steps, counts, strict=True):
            emb = embeddings[offset : offset + n] if embeddings is not None and n else None
            offset += n
            updates.extend(step.attach(emb))
        self.stats.frames += len(frames)
        self.stats.embeddings += len(crops)
        self.stats.updates += len(updates)
        self.stats.people_in_view = len(steps[-1].tracked)
        self.stats.last_frame_ts = frames[-1].ts
        if updates:
            self.sink.updates(updates)

    def _masks(self, frames: list[Frame], steps: list[CameraStep]) -> list[np.ndarray | None]:
        want = [i for i, s in enumerate(steps) if s.due]
        out: list[np.ndarray | None] = [None] * len(steps)
        if not want:
            return out
        segmented = self.models.segment(
            [frames[i].image for i in want], [steps[i].due_detections() for i in want]
        )
        for i, d in zip(want, segmented, strict=True):
            out[i] = d.mask
        return out


class LocalModels:
    """The models in this process (no Serve): for tests, benchmarks and single-process runs."""

    def __init__(self, site: SiteConfig) -> None:
        from mcvision.vision.detector import PersonDetector
        from mcvision.vision.reid import build_reid

        self.detector = PersonDetector.from_config(site.models.detector)
        self.embedder = build_reid(site.models.reid)
        self.segmenter = None
        if site.models.segmenter.backend != "none":
            from mcvision.vision.segmenter import build_segmenter

            self.segmenter = build_segmenter(site.models.segmenter)

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        return self.detector.detect(frames)

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        return self.embedder.embed(crops)

    def segment(self, frames: list[np.ndarray], dets: list[Detections]) -> list[Detections]:
        assert self.segmenter is not None
        return self.segmenter.segment_batch(frames, dets)


class ServeModels:
    """Models as Ray Serve deployment handles (one request per item; Serve batches)."""

    def __init__(self, app_name: str, segment: bool) -> None:
        from ray import serve

        self.detector = serve.get_deployment_handle("Detector", app_name=app_name)
        self.embedder = serve.get_deployment_handle("Embedder", app_name=app_name)
        self.segmenter = (
            serve.get_deployment_handle("Segmenter", app_name=app_name) if segment else None
        )

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        refs = [self.detector.remote(f) for f in frames]
        return [r.result() for r in refs]

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        refs = [self.embedder.remote(c) for c in crops]
        return np.stack([r.result() for r in refs])

    def segment(self, frames: list[np.ndarray], dets: list[Detections]) -> list[Detections]:
        assert self.segmenter is not None
        refs = [self.segmenter.remote((f, d)) for f, d in zip(frames, dets, strict=True)]
        return [r.result() for r in refs]


class ActorSink:
    """Sends updates to the IdentityActor, keeping at most one batch in flight."""

    def __init__(self, identity: Any) -> None:
        self.identity = identity
        self._inflight: Any = None

    def updates(self, updates: list[TrackletUpdate]) -> None:
        if self._inflight is not None:
            ray.get(self._inflight)  # back-pressure: never queue without bound
        self._inflight = self.identity.ingest.remote(updates)

    def status(self, camera_id: str, status: str, ts: float, reason: str) -> None:
        self.identity.camera_status.remote(camera_id, status, ts, reason)

    def stats(self, camera_id: str, stats: dict[str, Any]) -> None:
        self.identity.report_camera.remote(camera_id, stats)

    def drain(self) -> None:
        if self._inflight is not None:
            ray.get(self._inflight)
            self._inflight = None


@ray.remote(max_concurrency=4, max_restarts=3, max_task_retries=0)
class CameraActor:
    """One camera on Ray: a :class:`CameraWorker` with Serve models and the IdentityActor."""

    def __init__(
        self, site: SiteConfig, camera_id: str, start_ts: float, identity_name: str, app_name: str
    ) -> None:
        logging.basicConfig(level=logging.INFO)
        from mcvision.actors.identity import IdentityActor  # noqa: F401  (registers the class)

        identity = ray.get_actor(identity_name)
        self.sink = ActorSink(identity)
        models = ServeModels(app_name, segment=site.models.segmenter.backend != "none")
        self.worker = CameraWorker(site, camera_id, models, self.sink, start_ts)

    def run(self) -> dict[str, Any]:
        stats = self.worker.run()
        self.sink.drain()
        return asdict(stats)

    def stop(self) -> None:
        self.worker.stop()

    def status(self) -> dict[str, Any]:
        return asdict(self.worker.stats)
