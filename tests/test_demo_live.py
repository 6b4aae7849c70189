"""The demo's rendered store as a live site: ``live.yaml`` and ``mcvision demo --live``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml

import mcvision.cli as cli
from mcvision.capture.source import LoopingFileSource, open_source
from mcvision.config import load_config
from mcvision.demo import live_site


def rendered(folder: Path) -> Path:
    """A rendered site as the simulator leaves it: videos and ``site.yaml`` side by side."""
    folder.mkdir(parents=True, exist_ok=True)
    cams = []
    for name in ("entrance", "aisle"):
        w = cv2.VideoWriter(
            str(folder / f"{name}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48)
        )
        for i in range(5):
            w.write(np.full((48, 64, 3), 20 * i, np.uint8))
        w.release()
        cams.append({"id": name, "source": f"{name}.mp4", "fps": 5})
    site = {
        "site_id": "demo",
        "cameras": cams,
        "storage": {"root": "data"},
        "runtime": {"api_port": 8000},
    }
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(site, sort_keys=False))
    return path


def test_live_yaml_loads_and_every_camera_loops(tmp_path: Path) -> None:
    site = rendered(tmp_path / "demo")
    path = live_site(site)
    assert path == site.with_name("live.yaml")
    cfg, replay = load_config(path), load_config(site)
    assert [c.id for c in cfg.cameras] == [c.id for c in replay.cameras]
    assert all(c.loop and c.is_live for c in cfg.cameras)
    assert not any(c.loop for c in replay.cameras)  # the replayed day is left as it was
    assert Path(cfg.storage.root) == tmp_path / "demo" / "data-live"  # its own store
    for cam in cfg.cameras:
        assert Path(str(cam.source)).exists()  # the relative videos still resolve
        src = open_source(cam, start_ts=0.0)
        assert isinstance(src, LoopingFileSource)


def test_live_site_refuses_a_source_that_cannot_loop(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(
        yaml.safe_dump({"site_id": "s", "cameras": [{"id": "c", "source": "rtsp://h/cam"}]})
    )
    with pytest.raises(ValueError, match=r"'c'.*not a video file"):
        live_site(site)


def test_demo_live_plays_the_rendered_store_until_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "demo"
    rendered(out)
    runs: list[dict[str, Any]] = []

    def fake_run_site(cfg: Any, ctx: Any, *, until_end: bool, **kw: Any) -> dict[str, Any]:
        runs.append({"cfg": cfg, "until_end": until_end})
        return {"interrupted": True}

    def no_render(*a: Any, **kw: Any) -> Path:  # pragma: no cover - must not be called
        raise AssertionError("the scene is already rendered")

    monkeypatch.setattr(cli, "run_site", fake_run_site)
    monkeypatch.setattr("mcvision.demo.demo_scene", no_render)
    rc = cli.main(["demo", "--live", "--out", str(out), "--port", "8123", "--no-progress"])
    assert rc == 130  # stopped with Ctrl-C
    [run] = runs
    assert run["until_end"] is False  # a live site runs until stopped
    cfg = run["cfg"]
    assert all(c.loop for c in cfg.cameras) and cfg.runtime.api_port == 8123
    assert (out / "live.yaml").exists()
