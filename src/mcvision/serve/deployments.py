"""Ray Serve deployments of the models: thin shells over :mod:`mcvision.vision`.

Each request carries one camera's batch (its frames, its crops), and
``@serve.batch`` gathers the requests of several cameras into one model call:
frames of several cameras share one detector call, while each camera pays the
per-request cost of Serve once per batch rather than once per frame.
``max_batch_size`` counts requests (camera batches) and ``batch_wait_timeout_s``
bounds how long the first one waits for others. Both come from the site config
and are applied in ``reconfigure`` (Serve's ``user_config``), so they change
without a redeploy; ``max_ongoing_requests`` is set to at least the batch size
(Serve's default of 5 would starve larger batches). The model runs in a worker
thread so the replica keeps queueing requests — and filling the next batch —
while it infers; torch's thread count is set in that thread (PLATFORM.md).

Each deployment counts the items (frames, crops) of every model call it ran
(:meth:`batch_stats`).

Example:
    >>> apps = model_deployments(cfg)          # doctest: +SKIP
    >>> handle = serve.run(apps["Detector"])   # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

import numpy as np
from ray import serve
from ray.serve.deployment import Application, Deployment

from mcvision import _env
from mcvision.config import DeploymentConfig, SiteConfig
from mcvision.types import Detections

APP_NAME = "mcvision"


class BatchStats:
    """Histogram of the batch sizes a deployment ran: items (frames, crops) per model
    call, and requests (camera batches) merged into each call."""

    def __init__(self) -> None:
        self.sizes: Counter[int] = Counter()
        self.requests: Counter[int] = Counter()
        self._lock = threading.Lock()

    def record(self, n: int, requests: int = 1) -> None:
        with self._lock:
            self.sizes[n] += 1
            self.requests[requests] += 1

    def summary(self) -> dict[str, Any]:
        with self._lock:
            batches = sum(self.sizes.values())
            items = sum(k * v for k, v in self.sizes.items())
            merged = sum(k * v for k, v in self.requests.items())
            return {
                "batches": batches,
                "items": items,
                "max_batch": max(self.sizes, default=0),
                "mean_batch": items / batches if batches else 0.0,
                "histogram": {str(k): v for k, v in sorted(self.sizes.items())},
                "max_requests": max(self.requests, default=0),
                "mean_requests": merged / batches if batches else 0.0,
            }


class _Batched:
    """Shared shell: user_config → batch parameters, a thread for the model, stats."""

    def __init__(self) -> None:
        self.stats = BatchStats()
        self._threads_set: set[int] = set()

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        size = int(user_config.get("max_batch_size", 8))
        wait = float(user_config.get("batch_wait_timeout_s", 0.01))
        self.run_batch.set_max_batch_size(size)  # type: ignore[attr-defined]
        self.run_batch.set_batch_wait_timeout_s(wait)  # type: ignore[attr-defined]

    async def _infer(self, fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(self._in_thread, fn, *args)

    async def _flat(self, fn: Any, requests: list[list[Any]]) -> list[list[Any]]:
        """Run ``fn`` once on the items of all requests; each request gets its own back."""
        items = [x for r in requests for x in r]
        self.stats.record(len(items), len(requests))
        out = list(await self._infer(fn, items)) if items else []
        split: list[list[Any]] = []
        start = 0
        for r in requests:
            split.append(out[start : start + len(r)])
            start += len(r)
        return split

    def _in_thread(self, fn: Any, *args: Any) -> Any:
        ident = threading.get_ident()
        if ident not in self._threads_set:
            _env.set_torch_threads()
            self._threads_set.add(ident)
        return fn(*args)

    def batch_stats(self) -> dict[str, Any]:
        return self.stats.summary()


@serve.deployment(name="Detector")
class Detector(_Batched):
    """Person detection: one camera's frames per request, batched across cameras."""

    def __init__(self, detector_cfg: dict[str, Any]) -> None:
        super().__init__()
        from mcvision.config import DetectorConfig
        from mcvision.vision.detector import PersonDetector

        self.model = PersonDetector.from_config(DetectorConfig(**detector_cfg))
        # Warm up now (Ultralytics builds its predictor on the first call): the first
        # cameras' frames do not wait for it.
        self.model.detect([np.zeros((360, 640, 3), np.uint8)])

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.01)
    async def run_batch(self, requests: list[list[np.ndarray]]) -> list[list[Detections]]:
        return await self._flat(self.model.detect, requests)

    async def __call__(self, frames: list[np.ndarray]) -> list[Detections]:
        return await self.run_batch(list(frames))


@serve.deployment(name="Embedder")
class Embedder(_Batched):
    """ReID embeddings: one camera's crops per request, batched across cameras."""

    def __init__(self, reid_cfg: dict[str, Any]) -> None:
        super().__init__()
        from mcvision.config import ReIDConfig
        from mcvision.vision.reid import build_reid

        self.model = build_reid(ReIDConfig(**reid_cfg))
        self.model.embed([np.zeros((256, 128, 3), np.uint8)])  # warm up now, not on a camera

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.01)
    async def run_batch(self, requests: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
        return await self._flat(self.model.embed, requests)

    async def __call__(self, crops: list[np.ndarray]) -> np.ndarray:
        out = await self.run_batch(list(crops))
        return np.stack(out) if out else np.empty((0, self.model.dim), np.float32)


def _pairs(fn: Any) -> Any:
    """``fn(frames, dets)`` as a call on a list of ``(frame, dets)`` pairs."""

    def call(items: list[tuple[np.ndarray, Detections]]) -> list[Detections]:
        return fn([f for f, _ in items], [d for _, d in items])

    return call


@serve.deployment(name="Segmenter")
class Segmenter(_Batched):
    """Masks for the boxes of frames: one camera's (frame, detections) pairs per request."""

    def __init__(self, segmenter_cfg: dict[str, Any]) -> None:
        super().__init__()
        from mcvision.config import SegmenterConfig
        from mcvision.vision.segmenter import build_segmenter

        self.model = build_segmenter(SegmenterConfig(**segmenter_cfg))

    @serve.batch(max_batch_size=4, batch_wait_timeout_s=0.01)
    async def run_batch(
        self, requests: list[list[tuple[np.ndarray, Detections]]]
    ) -> list[list[Detections]]:
        return await self._flat(_pairs(self.model.segment_batch), requests)

    async def __call__(self, items: list[tuple[np.ndarray, Detections]]) -> list[Detections]:
        return await self.run_batch(list(items))


@serve.deployment(name="Pose")
class Pose(_Batched):
    """Keypoints for the boxes of frames: one camera's (frame, detections) pairs per request."""

    def __init__(self, pose_cfg: dict[str, Any]) -> None:
        super().__init__()
        from mcvision.vision.pose import PoseEstimator

        self.model = PoseEstimator(weights=pose_cfg["weights"])

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.01)
    async def run_batch(
        self, requests: list[list[tuple[np.ndarray, Detections]]]
    ) -> list[list[Detections]]:
        return await self._flat(_pairs(self.model.estimate), requests)

    async def __call__(self, items: list[tuple[np.ndarray, Detections]]) -> list[Detections]:
        return await self.run_batch(list(items))


GPU_SHARE = 0.5  # a cuda model without runtime.<model>.num_gpus: two models share a GPU


def gpus_for(rc: DeploymentConfig, device: str) -> float:
    """GPUs one replica asks Ray for: the configured number, else a share when on cuda."""
    if rc.num_gpus > 0:
        return rc.num_gpus
    return GPU_SHARE if str(device).startswith("cuda") else 0.0


def _options(dep: Deployment, rc: DeploymentConfig, device: str = "cpu") -> Deployment:
    actor: dict[str, Any] = {"num_cpus": rc.num_cpus, "num_gpus": gpus_for(rc, device)}
    if rc.resources:
        actor["resources"] = dict(rc.resources)
    opts: dict[str, Any] = {
        "max_ongoing_requests": rc.ongoing,
        "ray_actor_options": actor,
        "user_config": {
            "max_batch_size": rc.max_batch_size,
            "batch_wait_timeout_s": rc.batch_wait_timeout_s,
        },
    }
    if rc.autoscaling is not None:
        opts["autoscaling_config"] = rc.autoscaling.model_dump()
    else:
        opts["num_replicas"] = rc.num_replicas
    return dep.options(**opts)


def model_deployments(cfg: SiteConfig) -> dict[str, Application]:
    """The bound model deployments a site needs (segmenter and pose only when used)."""
    m, rt = cfg.models, cfg.runtime
    apps: dict[str, Application] = {
        "Detector": _options(Detector, rt.detector, m.detector.device).bind(
            m.detector.model_dump()
        ),
        "Embedder": _options(Embedder, rt.embedder, m.reid.device).bind(m.reid.model_dump()),
    }
    if m.segmenter.backend != "none":
        apps["Segmenter"] = _options(Segmenter, rt.segmenter, m.segmenter.device).bind(
            m.segmenter.model_dump()
        )
    if m.pose.enabled:
        apps["Pose"] = _options(Pose, rt.pose, m.pose.device).bind(m.pose.model_dump())
    return apps


def required_resources(cfg: SiteConfig) -> dict[str, float]:
    """CPUs and GPUs the site's deployments and actors ask Ray for (at minimum replicas)."""
    rt = cfg.runtime
    m = cfg.models
    used = {"Detector": (rt.detector, m.detector.device), "Embedder": (rt.embedder, m.reid.device)}
    if cfg.models.segmenter.backend != "none":
        used["Segmenter"] = (rt.segmenter, m.segmenter.device)
    if cfg.models.pose.enabled:
        used["Pose"] = (rt.pose, m.pose.device)
    cpus = gpus = 0.0
    custom: dict[str, float] = {}
    for rc, device in used.values():
        n = rc.autoscaling.min_replicas if rc.autoscaling else rc.num_replicas
        n = max(n, 1)
        cpus += rc.num_cpus * n
        gpus += gpus_for(rc, device) * n
        for k, v in rc.resources.items():
            custom[k] = custom.get(k, 0.0) + v * n
    cpus += rt.camera_num_cpus * len(cfg.cameras)
    for k, v in rt.camera_resources.items():
        custom[k] = custom.get(k, 0.0) + v * len(cfg.cameras)
    cpus += INGRESS_CPUS + IDENTITY_CPUS
    return {"CPU": cpus, "GPU": gpus, **custom}


INGRESS_CPUS = 0.1
IDENTITY_CPUS = 0.1
