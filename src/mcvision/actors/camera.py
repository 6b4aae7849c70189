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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

import cv2
import numpy as np
import ray
from ray.exceptions import ActorUnavailableError, RayActorError

from mcvision import _env
from mcvision.actors.pacing import ReplayPacer
from mcvision.capture.gating import PROCESSED, SKIPPED, MotionGate
from mcvision.capture.pipeline import CameraPipeline, CameraStep
from mcvision.capture.source import FrameSource, LiveSource, SourceError, open_source
from mcvision.config import SiteConfig
from mcvision.serve.live import LiveFrame
from mcvision.summarize.evidence import EvidenceRecorder
from mcvision.types import Detections, Frame, TrackletUpdate
from mcvision.vision.activity import ActivityMonitor
from mcvision.vision.seg_budget import SegmentBudget

log = logging.getLogger(__name__)


class Models(Protocol):
    """The model calls a camera needs; batched in, batched out."""

    def detect(self, frames: list[np.ndarray]) -> list[Detections]: ...

    def embed(self, crops: list[np.ndarray]) -> np.ndarray: ...

    def segment(self, frames: list[np.ndarray], dets: list[Detections]) -> list[Detections]: ...

    def pose(self, frames: list[np.ndarray], dets: list[Detections]) -> list[Detections]:
        """Keypoints for the given boxes (used when ``models.pose.enabled``)."""
        ...


class Sink(Protocol):
    """Where a camera's output goes (the IdentityActor, or a list in tests)."""

    def updates(self, updates: list[TrackletUpdate]) -> None: ...

    def status(self, camera_id: str, status: str, ts: float, reason: str) -> None: ...

    def stats(self, camera_id: str, stats: dict[str, Any]) -> None: ...


@dataclass
class CameraStats:
    """What a camera reports. ``frames_read`` = ``frames`` (sent to the detector) + the
    sum of ``skipped`` (per reason); ``processed`` splits ``frames`` by reason."""

    camera_id: str
    status: str = "starting"
    frames: int = 0
    frames_read: int = 0
    processed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PROCESSED, 0))
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SKIPPED, 0))
    gate: str = "off"  # off | active | idle
    updates: int = 0
    embeddings: int = 0
    segmented: int = 0  # frames whose due crops were segmented (within the budget)
    dropped: int = 0
    people_in_view: int = 0
    fps: float = 0.0
    last_frame_ts: float | None = None
    lag_s: float | None = None  # live: wall clock minus the newest frame's ts, at send
    paced_s: float = 0.0  # file replay: wall seconds waited for slower cameras
    error: str | None = None


@dataclass
class _Pending:
    """A batch sent to the detector: its frames, shrunk images + scales, and the result."""

    frames: list[Frame]
    smalls: list[tuple[np.ndarray, float]]
    detections: Callable[[], list[Detections]]
    reasons: list[str]  # the gate's reason per frame (MotionGate.decide; "ungated" when off)


def shrink(image: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """Resize so the long side is at most ``size``; returns the image and the scale used."""
    h, w = image.shape[:2]
    scale = min(1.0, size / max(h, w))
    if scale >= 1.0:
        return image, 1.0
    # Area averaging only where it matters (>2x down); bilinear is ~5x cheaper otherwise.
    interp = cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR
    small = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=interp)
    return small, scale


class CameraWorker:
    """The per-camera loop, independent of Ray.

    Stats go to the sink after the first batch, then at most every ``STATS_PERIOD_S``
    seconds, and once more when the source ends.

    Args:
        site: the site config.
        camera_id: which camera.
        models: detector/embedder(/segmenter) calls.
        sink: receives updates, status changes and stats.
        start_ts: epoch seconds of the first frame of a file source.
        clock: wall clock (live timestamps, fps).
        resume_after_ts: file frames up to this ts were processed before a restart.
        pacer: file replays: keeps this camera in step with the others in data time
            (None: it runs free).
    """

    STATS_PERIOD_S = 1.0

    def __init__(
        self,
        site: SiteConfig,
        camera_id: str,
        models: Models,
        sink: Sink,
        start_ts: float,
        clock: Callable[[], float] = time.time,
        resume_after_ts: float | None = None,
        pacer: ReplayPacer | None = None,
    ) -> None:
        self.site = site
        self.pacer = pacer
        self.camera = site.camera(camera_id)
        # After a restart, file frames up to here were already processed: skip them.
        self.resume_after_ts = resume_after_ts
        self.models = models
        self.sink = sink
        self.start_ts = start_ts
        self.clock = clock
        self.pipeline = CameraPipeline(self.camera, site)
        self.gate = MotionGate(site.gating_for(camera_id), self.camera.fps, self.camera.roi)
        self.stats = CameraStats(camera_id)
        self._stats_sent: float | None = None  # clock time of the last stats report
        self.batch = site.runtime.frames_per_batch
        self.imgsz = site.models.detector.imgsz
        self.segment = site.models.segmenter.backend != "none"
        self.seg_budget = SegmentBudget.from_config(site.models.segmenter)
        self._stop = threading.Event()
        self._source: FrameSource | None = None
        self.use_pose = site.models.pose.enabled
        self.activity: ActivityMonitor | None = (
            ActivityMonitor.from_config(site.activity, keypoints=self.use_pose)
            if site.activity.enabled
            else None
        )
        self.recorder: EvidenceRecorder | None = (
            EvidenceRecorder.from_config(site, camera_id) if self.camera.record else None
        )
        self.faces: Any = None
        if site.face.enabled:  # opt-in: face embeddings (never images) of ReID-due tracks
            from mcvision.vision.face import FaceEmbedder

            self.faces = FaceEmbedder.from_config(site.face)
        #: the newest processed frame and its tracks, for the live view: a reference only
        #: (no copy, no drawing here; the API side draws while someone watches)
        self.newest: LiveFrame | None = None
        self._newest_seq = 0

    def _keep_newest(self, frame: Frame, step: CameraStep | None) -> None:
        self._newest_seq += 1
        if step is None or not len(step.tracked):
            self.newest = LiveFrame(self.camera.id, self._newest_seq, frame.ts, frame.image)
            return
        acts = {u.local_id: u.activity for u in step.updates if not u.ended}
        ids = np.asarray(step.tracked.tracker_id, dtype=np.int64)
        self.newest = LiveFrame(
            self.camera.id,
            self._newest_seq,
            frame.ts,
            frame.image,
            boxes=step.tracked.xyxy,
            local_ids=ids,
            activities=tuple(acts.get(int(i)) for i in ids),
            keypoints=step.tracked.keypoints,
        )

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
            if self.resume_after_ts is not None and frame.ts <= self.resume_after_ts:
                continue
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
        # Look-ahead: batch k+1 is decoded and at the detector while batch k is tracked.
        pending: _Pending | None = None
        try:
            for frames in self._batches(source):
                self._pace(frames[0].ts if last_ts is None else last_ts)
                ahead = self._submit(frames)
                if pending is not None:
                    last_ts = self._done(pending, source, t0)
                pending = ahead
            if pending is not None:
                last_ts = self._done(pending, source, t0)
                pending = None
        except SourceError as err:
            if pending is not None:  # frames read before the failure are still processed
                last_ts = self._done(pending, source, t0)
            self._on_status("offline", str(err))
            self.stats.status = "failed"
        finally:
            source.stop()
            if self.recorder is not None:
                self.recorder.close()
        if last_ts is not None:
            ended = self.pipeline.finish(last_ts)
            if ended:
                self.sink.updates(ended)
        if self.stats.status not in ("failed",):
            self.stats.status = "ended" if not self._stop.is_set() else "stopped"
        self.sink.stats(self.camera.id, self._public_stats())
        return self.stats

    def _pace(self, position: float) -> None:
        """Wait for slower cameras, having sent everything up to ``position`` (file replays).

        Before the first batch the position is that batch's first ts (nothing was sent
        yet); a camera that has not reported a position yet holds the others back, for at
        most ``runtime.replay_wait_max_s``.
        """
        if self.pacer is None or self.camera.is_live:
            return
        self.pacer.wait(position)
        self.stats.paced_s = round(self.pacer.waited_s, 3)

    def _public_stats(self) -> dict[str, Any]:
        return asdict(self.stats)

    def _done(self, pending: _Pending, source: FrameSource, t0: float) -> float:
        """Finish a batch, update the stats (reported at most every ``STATS_PERIOD_S``);
        returns the batch's last ts."""
        self._finish(pending)
        self.stats.dropped = source.stats.dropped
        now = self.clock()
        self.stats.fps = self.stats.frames_read / max(now - t0, 1e-6)
        if self._stats_sent is None or now - self._stats_sent >= self.STATS_PERIOD_S:
            self._stats_sent = now
            self.sink.stats(self.camera.id, self._public_stats())
        return pending.frames[-1].ts

    def _process(self, frames: list[Frame]) -> None:
        """Detect, track, embed and send one batch (no look-ahead)."""
        self._finish(self._submit(frames))

    def _submit(self, frames: list[Frame]) -> _Pending:
        """Gate, shrink a batch and ask for its detections (collected by :meth:`_finish`).

        The gate decides per frame with the tracker as of the last tracked batch; frames
        it skips are detected after all in :meth:`_finish` if tracks appear meanwhile.
        Models with ``detect_async`` (Serve handles) return at once, so the detector
        works on this batch while the caller tracks the previous one.
        """
        state = self.pipeline.track_state
        reasons = [self.gate.decide(f.ts, f.image, state) for f in frames]
        send = [i for i, r in enumerate(reasons) if r in PROCESSED]
        smalls = [shrink(frames[i].image, self.imgsz) for i in send]
        images = [s for s, _ in smalls]
        if not images:
            return _Pending(frames, smalls, lambda: [], reasons)
        submit = getattr(self.models, "detect_async", None)
        if submit is not None:
            return _Pending(frames, smalls, submit(images), reasons)
        dets = self.models.detect(images)
        return _Pending(frames, smalls, lambda: dets, reasons)

    def _track(
        self, pending: _Pending
    ) -> tuple[list[Frame], list[CameraStep], list[TrackletUpdate]]:
        """Track the batch's detected frames; a skipped frame is detected after all (with
        the batch's other skipped frames after it, in one call) when the tracker needs it
        (:meth:`MotionGate.needs_detection`). Skipped frames with only lost tracks step the
        tracker without detections (they age as in the stream); their ``ended`` updates are
        returned with the steps."""
        frames, reasons = pending.frames, pending.reasons
        got = iter(zip(pending.smalls, pending.detections(), strict=True))
        late: dict[int, tuple[tuple[np.ndarray, float], Detections]] = {}
        kept: list[Frame] = []
        steps: list[CameraStep] = []
        ended: list[TrackletUpdate] = []
        for i, frame in enumerate(frames):
            state = self.pipeline.track_state
            if (
                reasons[i] in SKIPPED
                and i not in late
                and self.gate.needs_detection(frame.ts, state)
            ):
                rest = [j for j in range(i, len(frames)) if reasons[j] in SKIPPED]
                smalls = [shrink(frames[j].image, self.imgsz) for j in rest]
                dets = self.models.detect([s for s, _ in smalls])
                late.update(zip(rest, zip(smalls, dets, strict=True), strict=True))
                for j in rest:
                    reasons[j] = "tracks"
                    self.gate.promoted(frames[j].ts)
            if reasons[i] in SKIPPED:
                self.stats.skipped[reasons[i]] += 1
                if state == "lost":  # lost tracks age on every frame, as without gating
                    ended.extend(self.pipeline.step(frame, Detections.empty()).updates)
                continue
            (_, scale), d = late[i] if i in late else next(got)
            if scale != 1.0 and len(d):
                d = d.with_fields(xyxy=d.xyxy / scale)
            self.stats.processed[reasons[i]] += 1
            kept.append(frame)
            steps.append(self.pipeline.step(frame, d))
            self.gate.observe(frame.ts, self.pipeline.track_state)
        self.stats.frames_read += len(frames)
        self.stats.gate = (
            "off" if not self.gate.enabled else ("idle" if self.gate.idle else "active")
        )
        return kept, steps, ended

    def _finish(self, pending: _Pending) -> None:
        """Track, embed and send a batch whose detections :meth:`_submit` asked for."""
        last_ts = pending.frames[-1].ts
        frames, steps, ended = self._track(pending)
        self.stats.last_frame_ts = last_ts  # skipped frames advance the camera's time too
        if not steps:
            self._record(pending.frames, frames, steps)
            # The live view keeps the newest frame the gate looked at: a frame skipped
            # unseen ("idle") can show someone walking in before the detector (and the
            # head blur of their box) has seen them.
            looked = [
                f for f, r in zip(pending.frames, pending.reasons, strict=True) if r != "idle"
            ]
            if looked:
                self._keep_newest(looked[-1], None)
            self.stats.people_in_view = 0
            if self.camera.is_live:
                self.stats.lag_s = round(self.clock() - last_ts, 3)
            if ended:
                self.stats.updates += len(ended)
                self.sink.updates(ended)
            return
        if self.use_pose:
            self._pose(frames, steps)
        for frame, step in zip(frames, steps, strict=True):
            if self.activity is not None:
                self.activity.label_updates(frame.ts, step.updates, step.tracked, image=frame.image)
        self._record(pending.frames, frames, steps)
        self._keep_newest(frames[-1], steps[-1])
        crops: list[np.ndarray] = []
        counts: list[int] = []
        masked = self._masks(frames, steps) if self.segment else [None] * len(steps)
        for frame, step, masks in zip(frames, steps, masked, strict=True):
            c = step.crops(frame.image, masks)
            crops.extend(c)
            counts.append(len(c))
        embeddings = self.models.embed(crops) if crops else None
        updates: list[TrackletUpdate] = list(ended)
        offset = 0
        for step, n in zip(steps, counts, strict=True):
            emb = embeddings[offset : offset + n] if embeddings is not None and n else None
            if self.faces is not None and n:
                from mcvision.vision.face import attach_faces

                attach_faces(self.faces, step.updates, step.due, crops[offset : offset + n])
            offset += n
            updates.extend(step.attach(emb))
        self.stats.frames += len(frames)
        self.stats.embeddings += len(crops)
        self.stats.updates += len(updates)
        self.stats.people_in_view = len(steps[-1].tracked)
        if self.camera.is_live:
            self.stats.lag_s = round(self.clock() - last_ts, 3)
        if updates:
            self.sink.updates(updates)

    def _record(self, every: list[Frame], frames: list[Frame], steps: list[CameraStep]) -> None:
        """Every frame of the batch to the evidence recorder, in order (skipped ones without
        boxes), so the evidence video has no holes."""
        if self.recorder is None:
            return
        tracked = {id(f): s.tracked for f, s in zip(frames, steps, strict=True)}
        for f in every:
            self.recorder.write(f, tracked.get(id(f), Detections.empty()))

    def _pose(self, frames: list[Frame], steps: list[CameraStep]) -> None:
        """Attach keypoints to the tracked boxes of the frames that have people."""
        want = [i for i, s in enumerate(steps) if len(s.tracked)]
        if not want:
            return
        posed = self.models.pose([frames[i].image for i in want], [steps[i].tracked for i in want])
        for i, d in zip(want, posed, strict=True):
            steps[i].tracked = steps[i].tracked.with_fields(keypoints=d.keypoints)

    def _masks(self, frames: list[Frame], steps: list[CameraStep]) -> list[np.ndarray | None]:
        """Masks of the due crops of the frames the segment budget lets through."""
        want = [i for i, s in enumerate(steps) if s.due and self.seg_budget.take(frames[i].ts)]
        out: list[np.ndarray | None] = [None] * len(steps)
        if not want:
            return out
        segmented = self.models.segment(
            [frames[i].image for i in want], [steps[i].due_detections() for i in want]
        )
        for i, d in zip(want, segmented, strict=True):
            out[i] = d.mask
        self.stats.segmented += len(want)
        return out


class LocalModels:
    """The models in this process (no Serve): for tests, benchmarks and single-process runs.

    :meth:`detect_async` runs the detector on one worker thread, so a camera decodes,
    gates and tracks its next batch while the detector works on this one, as it does with
    the Serve deployment (the detector's runtime releases the GIL while it infers).
    """

    def __init__(self, site: SiteConfig) -> None:
        from mcvision.vision.detector import PersonDetector
        from mcvision.vision.reid import build_reid

        self.detector = PersonDetector.from_config(site.models.detector)
        self._pool: ThreadPoolExecutor | None = None
        self.embedder = build_reid(site.models.reid)
        self.segmenter = None
        if site.models.segmenter.backend != "none":
            from mcvision.vision.segmenter import build_segmenter

            self.segmenter = build_segmenter(site.models.segmenter)
        self.poser = None
        if site.models.pose.enabled:
            from mcvision.vision.pose import PoseEstimator

            self.poser = PoseEstimator.from_config(site.models.pose)

    def pose(self, frames: list[np.ndarray], dets: list[Detections]) -> list[Detections]:
        if self.poser is None:
            raise RuntimeError("pose keypoints asked for but models.pose.enabled is false")
        return self.poser.estimate(frames, dets)

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        return self.detector.detect(frames)

    def detect_async(self, frames: list[np.ndarray]) -> Callable[[], list[Detections]]:
        """Start detecting ``frames`` on the worker thread; the returned call waits for them
        (and raises what the detector raised)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="detector")
        return self._pool.submit(self.detector.detect, frames).result

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        return self.embedder.embed(crops)

    def segment(self, frames: list[np.ndarray], dets: list[Detections]) -> list[Detections]:
        assert self.segmenter is not None
        return self.segmenter.segment_batch(frames, dets)


class ServeModels:
    """Models as Ray Serve deployment handles: one request per camera batch (Serve batches
    the requests of several cameras into one model call)."""

    def __init__(self, app_name: str, segment: bool, pose: bool = False) -> None:
        from ray import serve

        self.detector = serve.get_deployment_handle("Detector", app_name=app_name)
        self.embedder = serve.get_deployment_handle("Embedder", app_name=app_name)
        self.segmenter = (
            serve.get_deployment_handle("Segmenter", app_name=app_name) if segment else None
        )
        self.poser = serve.get_deployment_handle("Pose", app_name=app_name) if pose else None

    def pose(self, frames: list[np.ndarray], dets: list[Detections]) -> list[Detections]:
        if self.poser is None:
            raise RuntimeError("pose keypoints asked for but models.pose.enabled is false")
        return list(self.poser.remote(list(zip(frames, dets, strict=True))).result())

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        return self.detect_async(frames)()

    def detect_async(self, frames: list[np.ndarray]) -> Callable[[], list[Detections]]:
        """Send the frames now; the returned call waits for their detections."""
        ref = self.detector.remote(list(frames))
        return lambda: list(ref.result())

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        return np.asarray(self.embedder.remote(list(crops)).result())

    def segment(self, frames: list[np.ndarray], dets: list[Detections]) -> list[Detections]:
        assert self.segmenter is not None
        return list(self.segmenter.remote(list(zip(frames, dets, strict=True))).result())


class BufferSink:
    """Keeps a camera's output in memory: in-process runs, tests and benchmarks.

    Attributes:
        batches: the update batches, in the order the camera sent them.
        statuses: ``(camera_id, status, reason)`` of each status change.
        last_stats: the camera's latest stats.
    """

    def __init__(self) -> None:
        self.batches: list[list[TrackletUpdate]] = []
        self.statuses: list[tuple[str, str, str]] = []
        self.last_stats: dict[str, Any] = {}

    def updates(self, updates: list[TrackletUpdate]) -> None:
        self.batches.append(list(updates))

    def status(self, camera_id: str, status: str, ts: float, reason: str) -> None:
        self.statuses.append((camera_id, status, reason))

    def stats(self, camera_id: str, stats: dict[str, Any]) -> None:
        self.last_stats = stats

    @property
    def all_updates(self) -> list[TrackletUpdate]:
        return [u for b in self.batches for u in b]


class ActorSink:
    """Sends updates to the IdentityActor, keeping at most one batch in flight.

    When the IdentityActor dies, the batch in flight is sent again (with backoff)
    until Ray has restarted it, for up to ``retry_s``; the camera waits meanwhile.
    """

    def __init__(self, identity: Any, retry_s: float = 120.0) -> None:
        self.identity = identity
        self.retry_s = retry_s
        self.resent = 0
        self._inflight: Any = None
        self._batch: list[TrackletUpdate] | None = None

    def updates(self, updates: list[TrackletUpdate]) -> None:
        self._settle()  # back-pressure: never queue without bound
        self._batch = updates
        self._inflight = self.identity.ingest.remote(updates)

    def _settle(self) -> None:
        if self._inflight is None:
            return
        deadline = time.monotonic() + self.retry_s
        delay = 0.25
        while True:
            try:
                ray.get(self._inflight)
                break
            except (RayActorError, ActorUnavailableError) as err:
                if time.monotonic() > deadline:
                    raise
                log.warning(
                    "identity actor unavailable (%s); resending in %.1f s",
                    type(err).__name__,
                    delay,
                )
                time.sleep(delay)
                delay = min(delay * 2, 4.0)
                self.resent += 1
                self._inflight = self.identity.ingest.remote(self._batch)
        self._inflight = None
        self._batch = None

    def status(self, camera_id: str, status: str, ts: float, reason: str) -> None:
        self.identity.camera_status.remote(camera_id, status, ts, reason)

    def stats(self, camera_id: str, stats: dict[str, Any]) -> None:
        self.identity.report_camera.remote(camera_id, stats)

    def drain(self) -> None:
        self._settle()


LOCAL_ID_STRIDE = 1_000_000  # local track IDs of a restarted camera: incarnation x stride + id


class OffsetSink:
    """Shifts local track IDs so a restarted camera's tracks never reuse old IDs."""

    def __init__(self, inner: Any, offset: int) -> None:
        self.inner = inner
        self.offset = offset

    def updates(self, updates: list[TrackletUpdate]) -> None:
        self.inner.updates([replace(u, local_id=u.local_id + self.offset) for u in updates])

    def status(self, camera_id: str, status: str, ts: float, reason: str) -> None:
        self.inner.status(camera_id, status, ts, reason)

    def stats(self, camera_id: str, stats: dict[str, Any]) -> None:
        self.inner.stats(camera_id, stats)

    def drain(self) -> None:
        self.inner.drain()


@ray.remote(max_concurrency=4, max_restarts=3, max_task_retries=0)
class CameraActor:
    """One camera on Ray: a :class:`CameraWorker` with Serve models and the IdentityActor."""

    def __init__(
        self, site: SiteConfig, camera_id: str, start_ts: float, identity_name: str, app_name: str
    ) -> None:
        logging.basicConfig(level=logging.INFO)
        from mcvision.actors.identity import IdentityActor  # noqa: F401  (registers the class)

        _env.lower_priority(site.runtime.actor_nice)

        identity = ray.get_actor(identity_name)
        # Restarted by Ray after a crash: carry on where the identity core says we were,
        # with fresh local IDs, and start the loop at once (nobody may call run again).
        self.restarted = ray.get_runtime_context().was_current_actor_reconstructed
        resume: float | None = None
        self.sink: Any = ActorSink(identity)
        if self.restarted:
            info = ray.get(identity.camera_restarted.remote(camera_id), timeout=120)
            resume = info["ingested_ts"]
            self.sink = OffsetSink(self.sink, info["incarnation"] * LOCAL_ID_STRIDE)
            log.warning(
                "camera %s restarted (incarnation %d), resuming after ts %s",
                camera_id,
                info["incarnation"],
                resume,
            )
        models = ServeModels(
            app_name,
            segment=site.models.segmenter.backend != "none",
            pose=site.models.pose.enabled,
        )
        self.worker = CameraWorker(
            site,
            camera_id,
            models,
            self.sink,
            start_ts,
            resume_after_ts=resume,
            pacer=self._pacer(site, camera_id, identity),
        )
        self._loop: threading.Thread | None = None
        self._result: dict[str, Any] = {}
        self._loop_lock = threading.Lock()
        if self.restarted:
            self._start_loop()

    def _pacer(self, site: SiteConfig, camera_id: str, identity: Any) -> ReplayPacer | None:
        """A pacer against the IdentityActor's gate when every camera of the site replays a
        file (live cameras keep step by themselves) and ``runtime.replay_lag_s`` is set."""
        lag = site.runtime.replay_lag_s
        if lag is None or len(site.cameras) < 2 or any(c.is_live for c in site.cameras):
            return None

        def gate(cam: str, position: float, lag_s: float) -> bool:
            self.sink.drain()  # the updates up to ``position`` are in before it is reported
            return bool(ray.get(identity.replay_gate.remote(cam, position, lag_s), timeout=60))

        return ReplayPacer(gate, camera_id, lag, max_wait_s=site.runtime.replay_wait_max_s)

    def _start_loop(self) -> threading.Thread:
        with self._loop_lock:
            if self._loop is None:

                def body() -> None:
                    try:
                        stats = self.worker.run()
                        self.sink.drain()
                        self._result = {**asdict(stats), "restarted": self.restarted}
                    except Exception as err:  # reported to run(), not lost in a thread
                        log.exception("camera %s loop failed", self.worker.camera.id)
                        self._result = {**asdict(self.worker.stats), "error": str(err)}

                self._loop = threading.Thread(target=body, name="camera-loop", daemon=True)
                self._loop.start()
            return self._loop

    def run(self) -> dict[str, Any]:
        """Run the camera to its end (or join the loop a restart already started)."""
        self._start_loop().join()
        return self._result

    def stop(self) -> None:
        self.worker.stop()

    def status(self) -> dict[str, Any]:
        return asdict(self.worker.stats)

    def newest_frame(self, after_seq: int = -1) -> LiveFrame | None:
        """The newest processed frame, local IDs as the identity knows them (restart offset);
        None when there is none yet or it is still frame ``after_seq`` (nothing is sent)."""
        f = self.worker.newest
        if f is not None and f.seq == after_seq:
            return None
        offset = self.sink.offset if isinstance(self.sink, OffsetSink) else 0
        if f is None or not offset or not len(f.local_ids):
            return f
        return replace(f, local_ids=f.local_ids + offset)
