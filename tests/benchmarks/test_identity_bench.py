"""benchmarks/identity_bench.py: both gallery write modes store the same identities."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcvision.config import ReIDConfig
from mcvision.types import TrackletUpdate
from mcvision.vision.reid import embedding_dim
from support import load_benchmark

T0 = 1_764_000_000.0


def batches(people: int = 3, seconds: int = 12) -> list[list[TrackletUpdate]]:
    """One camera, ``people`` tracks at 2 fps in 1 s batches; an embedding every 4th update,
    as wide as the default embedder's (the bench's site sizes its gallery by it)."""
    rng = np.random.default_rng(0)
    dim = embedding_dim(ReIDConfig())
    base = rng.normal(size=(people, dim))
    out = []
    for s in range(seconds):
        batch = []
        for k in range(people):
            for half in (0.0, 0.5):
                e = None
                if int(2 * (s + half)) % 4 == 0:
                    v = base[k] + rng.normal(scale=0.02, size=dim)
                    e = (v / np.linalg.norm(v)).astype(np.float32)
                batch.append(
                    TrackletUpdate(
                        camera_id="cam0",
                        local_id=k + 1,
                        ts=T0 + s + half,
                        box=np.array([100 + 60 * k, 100, 150 + 60 * k, 300], np.float32),
                        foot=np.array([125 + 60 * k, 300], np.float32),
                        embedding=e,
                        frame_size=(640, 360),
                    )
                )
        out.append(sorted(batch, key=lambda u: u.ts))
    return out


def test_paced_and_per_batch_writes_store_the_same_gallery(tmp_path: Path) -> None:
    bench = load_benchmark("identity_bench")
    data = batches()
    clip = tmp_path / "unused.mp4"
    per_batch = bench.ingest(bench.site(clip, tmp_path / "a", 1, gallery_flush_s=0.0), data)
    paced = bench.ingest(bench.site(clip, tmp_path / "b", 1), data)
    assert per_batch["updates"] == paced["updates"] == 3 * 12 * 2
    assert per_batch["gallery_rows"] == paced["gallery_rows"] > 0
    assert (per_batch["gallery_flush_s"], paced["gallery_flush_s"]) == (0.0, 2.0)
    assert paced["cpu_ms_per_update"] > 0
