"""``mcvision demo``: the whole pipeline on a freshly rendered store, end to end.

:func:`demo_scene` renders a small three-camera store (:func:`demo_scenario`: one
minute, people cut from the assets' MOT17-mini sequences, with ground truth);
``mcvision demo`` runs it to the end through Ray and prints the day summary and
the evaluation against the ground truth, so a new user sees both the analytics
and how right they are. :func:`live_site` writes ``live.yaml`` beside it: the
same store with every camera looping (``loop: true``), so the rendered store
plays as a live site (``mcvision demo --live``, or ``mcvision run --config
live.yaml``) for the live view and the dashboard.

:func:`demo_site` (kept for tests and scripts) writes the older two-camera site
from real footage — the footage as the entrance camera and a copy delayed by
20 s as a second camera further in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from mcvision.vision.weights import WeightsNotFound, assets_dir

FOOTAGE = "one-by-one-person-detection.mp4"


def find_footage(name: str = FOOTAGE) -> Path:
    """The demo footage from the assets directory, or a clear error saying where to put it."""
    root = assets_dir()
    looked = []
    if root is not None:
        for p in (root / "footage" / name, root / name):
            looked.append(str(p))
            if p.exists():
                return p
    raise WeightsNotFound(
        f"demo footage {name!r} not found; looked in: {', '.join(looked) or '(no assets dir)'}."
        " Set MCVISION_ASSETS to the folder holding footage/ and models/."
    )


def write_delayed_copy(src: Path, dest: Path, delay_s: float, max_s: float | None = None) -> Path:
    """``src`` with ``delay_s`` seconds of its first frame (the empty scene) in front."""
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    ok, first = cap.read()
    if not ok:
        raise ValueError(f"cannot read {src}")
    h, w = first.shape[:2]
    out = cv2.VideoWriter(str(dest), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for _ in range(round(delay_s * fps)):
        out.write(first)
    frames = 0
    limit = None if max_s is None else round(max_s * fps)
    frame: np.ndarray | None = first
    while frame is not None and (limit is None or frames < limit):
        out.write(frame)
        frames += 1
        ok, frame = cap.read()
        if not ok:
            frame = None
    out.release()
    cap.release()
    return dest


def write_trimmed_copy(src: Path, dest: Path, max_s: float) -> Path:
    """The first ``max_s`` seconds of ``src``."""
    return write_delayed_copy(src, dest, 0.0, max_s)


def demo_site(
    out: Path,
    footage: Path,
    *,
    fps: float = 5.0,
    max_s: float | None = None,
    delay_s: float = 20.0,
    port: int = 8000,
) -> Path:
    """Write the demo site (videos + ``site.yaml``) into ``out``; returns the config path."""
    out.mkdir(parents=True, exist_ok=True)
    entrance = out / "entrance.mp4"
    floor = out / "floor.mp4"
    write_delayed_copy(footage, entrance, 0.0, max_s)
    write_delayed_copy(footage, floor, delay_s, max_s)
    site: dict[str, Any] = {
        "site_id": "demo",
        "cameras": [
            {
                "id": "entrance",
                "source": entrance.name,
                "fps": fps,
                "zones": [
                    {
                        "name": "left-aisle",
                        "normalized": True,
                        "polygon": [[0, 0.4], [0.5, 0.4], [0.5, 1], [0, 1]],
                    },
                ],
            },
            {
                "id": "floor",
                "source": floor.name,
                "fps": fps,
                "zones": [
                    {
                        "name": "right-aisle",
                        "normalized": True,
                        "polygon": [[0.5, 0.4], [1, 0.4], [1, 1], [0.5, 1]],
                    },
                ],
            },
        ],
        # The floor camera replays the entrance 20 s later: someone who stays longer
        # than that in the entrance view is on both at once, so the pair overlaps.
        "topology": {
            "unlisted": "deny",
            "transits": [
                {"a": "entrance", "b": "floor", "min_s": 0, "max_s": delay_s * 1.5, "overlap": True}
            ],
        },
        "visits": {"absence_timeout_s": 60},
        "storage": {"root": "data"},
        "runtime": {"api_port": port},
    }
    path = out / "site.yaml"
    path.write_text(yaml.safe_dump(site, sort_keys=False))
    return path


# ---- the simulated demo scene -----------------------------------------------------
PEOPLE = "MOT17-mini"


def find_people(name: str = PEOPLE) -> Path:
    """The MOT-format people folder from the assets directory, or a clear error."""
    root = assets_dir()
    looked = []
    if root is not None:
        for p in (root / "footage" / name, root / name):
            looked.append(str(p))
            if p.is_dir():
                return p
    raise WeightsNotFound(
        f"demo people {name!r} not found; looked in: {', '.join(looked) or '(no assets dir)'}."
        " Set MCVISION_ASSETS to the folder holding footage/ and models/."
    )


def demo_scenario(duration_s: float = 60.0, fps: float = 10.0, shoppers: int = 4) -> Any:
    """The small built-in store (three cameras) cut to ``duration_s``, for the demo and tests.

    Shoppers arrive in the first third of the scene so their visits end in time; one
    of them leaves and comes back; a member of staff stays throughout.

    Example:
        >>> sc = demo_scenario(30.0, fps=5.0, shoppers=2)
        >>> (sc.duration_s, sc.fps, len(sc.cameras), sc.population.shoppers)
        (30.0, 5.0, 3, 2)
    """
    from mcvision.sim.scenario import small_scenario

    sc = small_scenario()
    pop = sc.population.model_copy(
        update={
            "shoppers": shoppers,
            "returning": min(1, shoppers),
            "arrivals_s": (1.0, max(2.0, duration_s / 3)),
        }
    )
    return sc.model_copy(
        update={"duration_s": float(duration_s), "fps": float(fps), "population": pop}
    )


def demo_scene(
    out: Path, people: Path, *, seed: int = 0, duration_s: float = 60.0, port: int = 8000
) -> Path:
    """Render the demo scene into ``out`` (videos, ground truth, ``site.yaml``).

    The site's store goes to ``out/data`` and its API to ``port``. Returns the
    config path.
    """
    from mcvision.sim.render import run_sim

    res = run_sim(
        [people], out, seed=seed, scenario=demo_scenario(duration_s), check_detector=False
    )
    site = yaml.safe_load(res.site_config.read_text())
    site["storage"] = {"root": "data"}
    site.setdefault("runtime", {})["api_port"] = port
    res.site_config.write_text(yaml.safe_dump(site, sort_keys=False))
    live_site(res.site_config)
    return res.site_config


LIVE_YAML = "live.yaml"


def live_site(site_yaml: Path, dest: Path | None = None) -> Path:
    """The site of ``site_yaml`` played live: every camera loops its video file.

    Written to ``dest`` (default ``live.yaml`` beside it, so the relative video paths
    still hold), with its own store (``data-live``) so a live run never mixes with
    the replayed day. Returns the path.

    Raises:
        ValueError: a camera whose source is not a video file (it cannot loop).
    """
    site = yaml.safe_load(site_yaml.read_text())
    for cam in site.get("cameras", []):
        source = cam.get("source")
        if not isinstance(source, str) or "://" in source:
            raise ValueError(f"camera {cam.get('id')!r}: source {source!r} is not a video file")
        cam["loop"] = True
    root = Path(site.get("storage", {}).get("root", "data"))
    site.setdefault("storage", {})["root"] = str(root.with_name(root.name + "-live"))
    path = dest or site_yaml.with_name(LIVE_YAML)
    path.write_text(yaml.safe_dump(site, sort_keys=False))
    return path
