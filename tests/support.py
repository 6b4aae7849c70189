"""Small helpers shared by test modules (import as ``from support import ...``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def load_benchmark(name: str) -> ModuleType:
    """Import ``benchmarks/<name>.py`` (a script, not a package) as a module."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses and pickling look their module up by name
    spec.loader.exec_module(mod)
    return mod


def frames_accounted(stats: Any, read: int | None = None) -> bool:
    """Every frame a camera read was detected or skipped with a reason (motion gating).

    ``stats`` is a camera's stats, as a ``CameraStats`` or as the dict the runtime and the
    API report; ``read``, when given, is the number of frames it must have read.
    """
    st = stats if isinstance(stats, dict) else vars(stats)
    ok = st["frames"] + sum(st["skipped"].values()) == st["frames_read"]
    return ok and (read is None or st["frames_read"] == read)


def capture_site(cfg: Any, start_ts: float) -> list[list[Any]]:
    """Every camera of ``cfg`` through CameraWorker with in-process models; the non-empty
    update batches of all cameras, in time order."""
    from mcvision.actors.camera import BufferSink, CameraWorker, LocalModels

    models = LocalModels(cfg)
    batches: list[list[Any]] = []
    for cam in cfg.cameras:
        sink = BufferSink()
        CameraWorker(cfg, cam.id, models, sink, start_ts=start_ts).run()
        batches += [b for b in sink.batches if b]
    return sorted(batches, key=lambda b: b[0].ts)


def identify(cfg: Any, batches: list[list[Any]]) -> Any:
    """The captured batches through the real identity core (``SiteIdentity``), closed."""
    from mcvision.identity.site import SiteIdentity

    core = SiteIdentity(cfg)
    for b in batches:
        core.ingest(b)
        core.tick(b[-1].ts, flush=False)
    core.close()
    return core
