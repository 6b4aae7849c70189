"""What each tile of the Live page shows: the camera's newest frame or why there is none.

Plain Python over the API client (no Streamlit), so the page stays a thin
layout and this logic is tested on its own.

Example:
    >>> caption({"camera_id": "door", "status": "online", "people_in_view": 2, "fps": 9.96})
    'online · 2 in view · 10.0 fps'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from client import ApiError

__all__ = ["NO_PIPELINE", "Tile", "caption", "element_key", "tile", "tiles"]

NO_PIPELINE = (
    "No pipeline is running: the live view needs `mcvision run` (this API only reads the store)."
)


@dataclass(frozen=True)
class Tile:
    """One camera's tile.

    Attributes:
        camera_id: the camera.
        jpeg: its newest annotated frame, or None.
        message: why there is no frame (None when there is one).
        caption: status, people in view and fps, in words.
        no_pipeline: true when the API runs without a pipeline (the same for every camera).
    """

    camera_id: str
    jpeg: bytes | None
    message: str | None
    caption: str
    no_pipeline: bool = False


def element_key(prefix: str, camera_id: str) -> str:
    """A Streamlit element key for a camera (its CSS class is ``st-key-<key>``).

    >>> element_key("live", "cam 1/a")
    'live-cam_1_a'
    """
    return f"{prefix}-" + re.sub(r"[^A-Za-z0-9_-]", "_", camera_id)


def caption(status: Mapping[str, Any]) -> str:
    """``online · 2 in view · 10.0 fps`` from a ``/cameras`` entry (unknown parts left out)."""
    parts = [str(status.get("status") or "unknown")]
    if status.get("people_in_view") is not None:
        parts.append(f"{int(status['people_in_view'])} in view")
    if status.get("fps") is not None:
        parts.append(f"{float(status['fps']):.1f} fps")
    if status.get("reason"):
        parts.append(str(status["reason"]))
    return " · ".join(parts)


def tile(status: Mapping[str, Any], snapshot: Callable[[str], bytes]) -> Tile:
    """The tile of the camera of ``status`` (a ``/cameras`` entry).

    Args:
        status: the camera's entry of ``/cameras``.
        snapshot: ``camera_id -> JPEG`` (the client's :meth:`~client.ApiClient.snapshot`).
    """
    cam = str(status["camera_id"])
    text = caption(status)
    try:
        return Tile(cam, snapshot(cam), None, text)
    except ApiError as err:
        if err.status == 409:
            return Tile(cam, None, NO_PIPELINE, text, no_pipeline=True)
        if err.status == 503:
            msg = f"Camera **{cam}** has no frame yet (starting, or nothing processed so far)."
        elif err.status == 404:
            msg = f"Camera **{cam}** is not known to the API."
        else:
            msg = f"No frame from camera **{cam}**: {err.reason}"
        return Tile(cam, None, msg, text)


def tiles(
    statuses: Sequence[Mapping[str, Any]], snapshot: Callable[[str], bytes], workers: int = 4
) -> list[Tile]:
    """The tiles of all cameras, in the order of ``statuses``, fetched a few at a time.

    Args:
        statuses: the ``/cameras`` entries.
        snapshot: ``camera_id -> JPEG``; called from worker threads.
        workers: snapshots asked at the same time, at most.
    """
    if len(statuses) <= 1:
        return [tile(s, snapshot) for s in statuses]
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(statuses)))) as pool:
        return list(pool.map(lambda s: tile(s, snapshot), statuses))
