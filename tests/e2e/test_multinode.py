"""Two Ray nodes on one machine: models on the "GPU" node, cameras on the other.

A :class:`ray.cluster_utils.Cluster` starts a head node holding a custom
``cpu_node`` resource and a second node holding ``gpu_node`` (standing in for
a GPU box). The site pins its model deployments to ``gpu_node`` and its camera
actors to ``cpu_node``; the test checks where Ray placed every actor, and that
the visits equal those of the same pipeline run in one process.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
from ray._private.state import actors as actor_table
from ray.cluster_utils import Cluster

from mcvision.actors.camera import BufferSink, CameraWorker, LocalModels
from mcvision.actors.identity import IdentityService
from mcvision.analytics.store import EventStore
from mcvision.config import SiteConfig, parse_config
from mcvision.demo import write_trimmed_copy
from mcvision.runner import SiteRunner
from mcvision.serve.deployments import APP_NAME
from seed import free_port
from support import frames_accounted

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
T0 = 1_764_000_000.0
FPS = 5
CLIP_S = 22.0  # the first person (~7-19.5 s) and the second one walking in (~23 s: not yet)
CAMERAS = ("door", "aisle")


def site(clip: Path, root: Path) -> SiteConfig:
    on_gpu = {"gpu_node": 1}
    return parse_config(
        {
            "site_id": "multi",
            "cameras": [{"id": c, "source": str(clip), "fps": FPS} for c in CAMERAS],
            "storage": {"root": str(root)},
            "runtime": {
                "api_port": free_port(),
                "frames_per_batch": 4,
                "tick_s": 0.5,
                "detector": {"resources": on_gpu},
                "embedder": {"resources": on_gpu},
                "camera_resources": {"cpu_node": 1},
            },
        }
    )


def visits(cfg: SiteConfig) -> list[dict[str, Any]]:
    store = EventStore.from_config(cfg)
    return store.sql("SELECT global_id, in_ts, out_ts FROM visits ORDER BY in_ts")


def alive_actors(wait_s: float = 60.0) -> list[tuple[str, str, str]]:
    """(name, class, node id) of the live actors, once both camera actors are up."""
    deadline = time.monotonic() + wait_s
    while True:
        placed = [
            (a["Name"], a["ActorClassName"], a["Address"]["NodeID"])
            for a in actor_table().values()
            if a["State"] == "ALIVE"
        ]
        cams = [p for p in placed if p[1].endswith("CameraActor")]
        if len(cams) == len(CAMERAS) or time.monotonic() > deadline:
            return placed
        time.sleep(0.2)


@pytest.fixture(scope="module")
def clip(assets: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("multinode") / "clip.mp4"
    return write_trimmed_copy(assets / "footage" / "one-by-one-person-detection.mp4", out, CLIP_S)


@pytest.fixture(scope="module")
def one_node(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The same site in this process: the same models, the identity core fed in time order."""
    cfg = site(clip, tmp_path_factory.mktemp("one-node"))
    models = LocalModels(cfg)
    sink = BufferSink()
    for cam in CAMERAS:
        CameraWorker(cfg, cam, models, sink, start_ts=T0).run()
    service = IdentityService(cfg)
    service.ingest(sorted(sink.all_updates, key=lambda u: (u.ts, u.camera_id)))
    service.close()
    return visits(cfg)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Short and private: Unix socket paths stay short, and Ray's "current cluster"
    # address file (under $RAY_TMPDIR/ray) is not shared with other clusters.
    temp = Path(tempfile.gettempdir()) / f"mcv-mn-{uuid.uuid4().hex[:6]}"
    (temp / "ray").mkdir(parents=True)
    before = os.environ.get("RAY_TMPDIR")
    os.environ["RAY_TMPDIR"] = str(temp)
    common = {
        "include_dashboard": False,
        "temp_dir": str(temp),
        "object_store_memory": 200 * 1024 * 1024,
    }
    c = Cluster(
        initialize_head=True,
        head_node_args={**common, "num_cpus": 2, "resources": {"cpu_node": 4}},
    )
    c.add_node(**common, num_cpus=2, resources={"gpu_node": 4})
    yield c
    ray.shutdown()
    c.shutdown()
    if before is None:
        os.environ.pop("RAY_TMPDIR", None)
    else:
        os.environ["RAY_TMPDIR"] = before
    shutil.rmtree(temp, ignore_errors=True)


def test_models_on_gpu_node_cameras_on_cpu_node_same_visits(
    cluster: Cluster, clip: Path, one_node: list[dict[str, Any]], tmp_path: Path
) -> None:
    cfg = site(clip, tmp_path / "store")
    runner = SiteRunner(cfg, address=cluster.address, start_ts=T0)
    runner.start()
    try:
        assert not runner.own_ray  # joined the cluster, did not start one
        nodes = {n["NodeID"]: n["Resources"] for n in ray.nodes() if n["Alive"]}
        assert len(nodes) == 2
        placed = alive_actors()
        runner.wait(until_end=True, timeout_s=300)
        ray.get(runner.identity.close.remote(), timeout=120)
    finally:
        summary = runner.stop()

    gpu = next(k for k, r in nodes.items() if "gpu_node" in r)
    cpu = next(k for k, r in nodes.items() if "cpu_node" in r)
    for model in ("Detector", "Embedder"):
        on = [
            node
            for name, _, node in placed
            if name.startswith(f"SERVE_REPLICA::{APP_NAME}#{model}#")
        ]
        assert on == [gpu], f"{model} replicas on {on}"
    cameras = [node for _, cls, node in placed if cls.endswith("CameraActor")]
    assert cameras == [cpu, cpu]
    # every sampled frame of both files was read; each detected on the other node or skipped
    for cam in CAMERAS:
        st = summary["cameras"][cam]
        assert st["status"] == "ended" and frames_accounted(st, read=int(CLIP_S * FPS))
        assert st["frames"] > 0

    got = visits(cfg)
    assert len(one_node) >= 1
    assert len(got) == len(one_node)
    for g, w in zip(got, one_node, strict=True):
        assert g["in_ts"] == pytest.approx(w["in_ts"], abs=0.5)
        assert g["out_ts"] == pytest.approx(w["out_ts"], abs=0.5)
