"""Fixtures of the dashboard tests: a seeded store, the real API on a free port, the app."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from seed import api_server, seed_store

APP_DIR = Path(__file__).resolve().parents[2] / "app_streamlit"
APP = APP_DIR / "app.py"
if str(APP_DIR) not in sys.path:  # the app's own modules (client, ui), as `streamlit run` sees them
    sys.path.insert(0, str(APP_DIR))


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The two-day store and its expected numbers."""
    return seed_store(tmp_path_factory.mktemp("dashboard-store"))


@pytest.fixture(scope="session")
def api_url(seeded: dict[str, Any]) -> Iterator[str]:
    """Base URL of the real FastAPI app over the seeded store (uvicorn in a thread)."""
    with api_server(seeded["cfg"], seeded["store"]) as url:
        yield url


VIDEO = "footage/one-by-one-person-detection.mp4"


@pytest.fixture(scope="session")
def live_api_url(seeded: dict[str, Any], assets: Path) -> Iterator[str]:
    """The real API over the seeded store with live cameras playing a real video."""
    from video_live import VideoLive

    cams = seeded["cfg"].cameras
    live = VideoLive(assets / VIDEO, [c.id for c in cams], size=tuple(cams[0].resolution))
    try:
        with api_server(seeded["cfg"], seeded["store"], live=live) as url:
            deadline = time.monotonic() + 30.0
            while not all(c["status"] == "online" for c in live.cameras().values()):
                if time.monotonic() > deadline:
                    raise RuntimeError("the video cameras did not start")
                time.sleep(0.1)
            yield url
    finally:
        live.close()


@pytest.fixture(scope="session")
def api(api_url: str) -> Any:
    """``api(path, **params)`` → the JSON the API answers (asserting 200)."""

    def get(path: str, **params: Any) -> Any:
        r = httpx.get(f"{api_url}/api/v1{path}", params=params, timeout=10.0)
        assert r.status_code == 200, r.text
        return r.json()

    return get
