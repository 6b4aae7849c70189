"""Where people can come in: the site's entrance lines, for the identity's new-person prior.

In a store, a new person appears at a door. A track that begins anywhere else — on a
camera that sees no entrance, or far from the entrance line on one that does — is almost
always someone already inside whom a tracker lost (an occlusion, a crowd) or who walked in
from another camera's view. :class:`Entrances` answers "did this track begin at an
entrance?" from the cameras' ``lines`` (the same entrance lines that open and close
visits); the identity then asks less appearance evidence of such a track before it gives
it an existing person's ID than before it calls it a new person
(``identity.entrance_prior``).

A site without any entrance line knows nothing of where people come in:
:attr:`Entrances.known` is False and nothing changes. Tracks that begin within
``identity.entrance_grace_s`` of the first update the identity saw count as at an
entrance: people already inside when the cameras start were never seen coming in.

Example:
    >>> from mcvision.config import SiteConfig
    >>> cfg = SiteConfig.model_validate({"site_id": "s", "cameras": [
    ...     {"id": "door", "source": "a.mp4",
    ...      "lines": [{"name": "d", "points": [[100, 0], [100, 200]]}]},
    ...     {"id": "aisle", "source": "b.mp4"}]})
    >>> e = Entrances.from_config(cfg)
    >>> e.known
    True
    >>> e.at_entrance("door", (110.0, 150.0), box_height=100.0, frame_size=(640, 360))
    True
    >>> e.at_entrance("door", (400.0, 150.0), box_height=100.0, frame_size=(640, 360))
    False
    >>> e.at_entrance("aisle", (110.0, 150.0), box_height=100.0, frame_size=(640, 360))
    False
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mcvision.config import SiteConfig

__all__ = ["Entrances", "segment_distance"]


def segment_distance(p: Sequence[float], a: Sequence[float], b: Sequence[float]) -> float:
    """Distance from point ``p`` to the segment ``a``–``b`` (same units).

    Example:
        >>> segment_distance((0, 5), (-1, 0), (1, 0))
        5.0
        >>> segment_distance((4, 0), (-1, 0), (1, 0))
        3.0
    """
    pp, aa, bb = (np.asarray(v, dtype=np.float64) for v in (p, a, b))
    ab = bb - aa
    denom = float(ab @ ab)
    s = 0.0 if denom == 0 else float(np.clip((pp - aa) @ ab / denom, 0.0, 1.0))
    return float(np.linalg.norm(pp - (aa + s * ab)))


@dataclass
class Entrances:
    """The entrance lines of each camera, and how near a track must begin to one.

    Args:
        lines: camera → ``(points, normalized)`` of each entrance line.
        radius: a foot point within ``radius`` box heights of a line is at the entrance.
    """

    lines: dict[str, list[tuple[tuple[tuple[float, float], tuple[float, float]], bool]]] = field(
        default_factory=dict
    )
    radius: float = 1.0

    @classmethod
    def from_config(cls, cfg: SiteConfig) -> Entrances:
        lines = {
            cam.id: [(ln.points, ln.normalized) for ln in cam.lines]
            for cam in cfg.cameras
            if cam.lines
        }
        return cls(lines, cfg.identity.entrance_radius)

    @property
    def known(self) -> bool:
        """Whether the site declares any entrance at all."""
        return bool(self.lines)

    def at_entrance(
        self,
        camera_id: str,
        foot: Sequence[float],
        box_height: float,
        frame_size: tuple[int, int] | None,
    ) -> bool:
        """Whether a foot point (pixels) of a box ``box_height`` px tall is at an entrance."""
        reach = self.radius * max(float(box_height), 1.0)
        for (a, b), normalized in self.lines.get(camera_id, []):
            if normalized:
                if frame_size is None:
                    return True  # cannot place the line: do not claim the track is inside
                w, h = frame_size
                a, b = (a[0] * w, a[1] * h), (b[0] * w, b[1] * h)
            if segment_distance(foot, a, b) <= reach:
                return True
        return False
