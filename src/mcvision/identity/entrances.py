"""Where people can come in: the site's entrance lines, for the identity's new-person prior.

In a store, a new person appears at a door. A track that begins anywhere else — on a
camera that sees no entrance, or far from the entrance line on one that does — is almost
always someone already inside whom a tracker lost (an occlusion, a crowd) or who walked in
from another camera's view. :class:`Entrances` answers "did this track begin at an
entrance?" from the cameras' ``lines`` (the same entrance lines that open and close
visits, measured by :meth:`~mcvision.tracking.zones.LineCrossingDetector.distance`); the identity then asks less appearance evidence of such a track before it gives
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

from mcvision.config import CameraConfig, SiteConfig
from mcvision.tracking.zones import FrameSize, LineCrossingDetector

__all__ = ["Entrances"]


class Entrances:
    """The cameras' entrance lines, and how near a track must begin to one.

    Args:
        cameras: the site's cameras (those without ``lines`` see no entrance).
        radius: a foot point within ``radius`` box heights of a line is at the entrance.
    """

    def __init__(self, cameras: Sequence[CameraConfig], radius: float = 1.0) -> None:
        self._cameras = {cam.id: cam for cam in cameras if cam.lines}
        self.radius = float(radius)
        # per camera and frame size: its lines in pixels (None: normalized, size unknown)
        self._lines: dict[tuple[str, FrameSize | None], LineCrossingDetector | None] = {}

    @classmethod
    def from_config(cls, cfg: SiteConfig) -> Entrances:
        return cls(cfg.cameras, cfg.identity.entrance_radius)

    @property
    def known(self) -> bool:
        """Whether the site declares any entrance at all."""
        return bool(self._cameras)

    def at_entrance(
        self,
        camera_id: str,
        foot: Sequence[float],
        box_height: float,
        frame_size: FrameSize | None,
    ) -> bool:
        """Whether a foot point (pixels) of a box ``box_height`` px tall is at an entrance."""
        cam = self._cameras.get(camera_id)
        if cam is None:
            return False
        key = (camera_id, frame_size)
        if key not in self._lines:
            try:
                self._lines[key] = LineCrossingDetector.for_camera(cam, frame_size)
            except ValueError:  # normalized lines and no frame size to place them on
                self._lines[key] = None
        lines = self._lines[key]
        if lines is None:
            return True  # cannot place the line: do not claim the track is inside
        return lines.distance(foot) <= self.radius * max(float(box_height), 1.0)
