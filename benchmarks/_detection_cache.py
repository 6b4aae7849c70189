"""Person detections kept per scene, so a sweep over the tracker or the embedder re-runs
only what it changes.

The accuracy benchmark captures every camera of a render once per tracker / embedder /
segmenter variant. The detector is the same in all of them and is most of a capture's
time on a CPU; :class:`DetectionCache` answers from detections stored beside the render
(keyed by the frame's pixels, so a frame decoded twice gets the same answer) and runs the
detector only on frames it has not seen. Results are identical to detecting afresh: the
detector is deterministic and the stored boxes are handed out as copies.

Example:
    >>> import numpy as np
    >>> from mcvision.types import Detections
    >>> class Counting:
    ...     calls = 0
    ...     def detect(self, frames):
    ...         self.calls += len(frames)
    ...         return [Detections(xyxy=np.zeros((0, 4), np.float32)) for _ in frames]
    >>> inner = Counting()
    >>> cache = DetectionCache(inner, None)
    >>> frame = np.zeros((8, 8, 3), np.uint8)
    >>> _ = cache.detect([frame, frame.copy()])
    >>> _ = cache.detect_async([frame])()
    >>> inner.calls, cache.hits, cache.misses
    (1, 2, 1)
"""

from __future__ import annotations

import copy
import hashlib
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mcvision.config import DetectorConfig
from mcvision.types import Detections


def cache_name(det: DetectorConfig) -> str:
    """The file a scene's detections go to, named by what decides them."""
    weights = Path(det.weights).name
    return f"detections_{weights}_{det.imgsz}_c{det.conf:g}_i{det.iou:g}.pkl"


def frame_key(frame: np.ndarray) -> bytes:
    """A digest of the frame's pixels (every 2nd row and column) and its shape."""
    sample = np.ascontiguousarray(frame[::2, ::2])
    return hashlib.blake2b(sample.tobytes() + repr(frame.shape).encode(), digest_size=16).digest()


class DetectionCache:
    """Models whose ``detect`` answers from stored detections; everything else passes through.

    Args:
        models: the real models (``LocalModels``); only its ``detect`` is called, for
            frames not stored yet.
        path: the file the detections are loaded from and :meth:`save` writes; ``None``
            keeps them in memory.
    """

    def __init__(self, models: Any, path: Path | None) -> None:
        self.models = models
        self.path = path
        self.table: dict[bytes, Detections] = {}
        if path is not None and path.exists():
            with path.open("rb") as f:
                self.table = pickle.load(f)
        self.hits = 0
        self.misses = 0

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        return self.detect_async(frames)()

    def detect_async(self, frames: list[np.ndarray]) -> Callable[[], list[Detections]]:
        """As ``LocalModels.detect_async``: the frames not stored yet go to the real
        detector's worker thread now; the returned call waits for them."""
        keys = [frame_key(f) for f in frames]
        todo = list(dict.fromkeys(k for k in keys if k not in self.table))  # each frame once
        self.misses += len(todo)
        self.hits += len(frames) - len(todo)
        wait: Callable[[], list[Detections]] = lambda: []  # noqa: E731
        if todo:
            batch = [frames[keys.index(k)] for k in todo]
            submit = getattr(self.models, "detect_async", None)
            if submit is not None:
                wait = submit(batch)
            else:
                found = self.models.detect(batch)
                wait = lambda: found  # noqa: E731

        def result() -> list[Detections]:
            for k, det in zip(todo, wait(), strict=True):
                self.table[k] = copy.deepcopy(det)
            return [copy.deepcopy(self.table[k]) for k in keys]

        return result

    def save(self) -> None:
        """Write the table when it learned frames since it was loaded."""
        if self.path is None or self.misses == 0:
            return
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            pickle.dump(self.table, f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(self.path)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.models, name)
