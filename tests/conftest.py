"""Shared fixtures. Importing mcvision applies the offline/thread environment once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import mcvision  # noqa: F401  (sets YOLO_OFFLINE, OMP_NUM_THREADS, ... before any model import)

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REPO = Path(__file__).resolve().parents[1]


def find_assets() -> Path | None:
    """The real weights and footage: $MCVISION_ASSETS, else ../shared/assets beside the repo."""
    env = os.environ.get("MCVISION_ASSETS")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "assets")
    for c in candidates:
        if (c / "models").is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def assets() -> Path:
    """Path to the assets directory; fails in CI when missing, skips elsewhere."""
    found = find_assets()
    if found is None:
        msg = "real assets not found: set MCVISION_ASSETS or place them at ../shared/assets"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return found
