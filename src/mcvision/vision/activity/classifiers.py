"""The classifier protocol and the string-keyed registry of activity classifiers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from mcvision.vision.activity.features import Observation, Thresholds


class ActivityClassifier(Protocol):
    """Anything that labels a window of one track's observations (oldest first)."""

    def classify(self, window: Sequence[Observation]) -> str: ...


_REGISTRY: dict[str, Callable[[Thresholds], ActivityClassifier]] = {}


def register_classifier(
    name: str,
) -> Callable[
    [Callable[[Thresholds], ActivityClassifier]], Callable[[Thresholds], ActivityClassifier]
]:
    """Register a classifier factory ``(Thresholds) -> ActivityClassifier`` under ``name``.

    Example:
        >>> @register_classifier("always-standing")
        ... class Still:
        ...     def __init__(self, th): pass
        ...     def classify(self, window): return "standing"
        >>> build_classifier("always-standing").classify([])
        'standing'
    """

    def deco(
        factory: Callable[[Thresholds], ActivityClassifier],
    ) -> Callable[[Thresholds], ActivityClassifier]:
        _REGISTRY[name] = factory
        return factory

    return deco


def available_classifiers() -> list[str]:
    """Names accepted by :func:`build_classifier`."""
    return sorted(_REGISTRY)


def build_classifier(
    name: str = "rules", thresholds: Thresholds | None = None
) -> ActivityClassifier:
    """The classifier registered as ``name``.

    Raises:
        ValueError: no classifier of that name (the message lists the known ones).
    """
    if name not in _REGISTRY:
        raise ValueError(
            f"unknown activity classifier {name!r} (known: {', '.join(available_classifiers())})"
        )
    return _REGISTRY[name](thresholds or Thresholds())


def classifier_needs_keypoints(name: str) -> bool:
    """Whether the classifier registered as ``name`` reads pose keypoints (``needs_keypoints``)."""
    return bool(getattr(_REGISTRY.get(name), "needs_keypoints", False))
