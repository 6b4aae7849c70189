"""Replay pacing: file cameras of one run keep step in data time.

A live site's cameras deliver their frames in real time, so the identity sees every
camera's tracks in about the order they happened. Files replayed through Ray run as
fast as the models allow, and a motion-gated camera races through its empty stretches:
cameras drift apart by minutes of data time, and the identity, which decides on what
has arrived, hands a person over between cameras in another order than a live site
would (two people can get one ID). :class:`ReplayPacer` makes a file camera wait, before
each batch, while it is more than ``lag_s`` seconds of data time ahead of the slowest
camera still running; the slowest camera never waits, so the run cannot deadlock. The
gate itself (:meth:`IdentityService.replay_gate
<mcvision.actors.identity.IdentityService.replay_gate>`) lives with the identity, which
knows every camera's position and state.

Example:
    >>> positions = {"a": 0.0, "b": 10.0}
    >>> def gate(cam, pos, lag):
    ...     positions[cam] = pos
    ...     return all(pos - lag <= p for c, p in positions.items() if c != cam)
    >>> pacer = ReplayPacer(gate, "b", lag_s=2.0, max_wait_s=0.05, poll_s=0.01)
    >>> positions["a"] = 9.0
    >>> pacer.wait(10.0)  # a is 1 s behind b: b goes on
    True
    >>> positions["a"] = 0.0
    >>> pacer.wait(10.0)  # a is 10 s behind and stays there: b gives up after max_wait_s
    False
    >>> pacer.active  # ... and runs free from then on
    False
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

#: ``gate(camera_id, position, lag_s)``: records the camera's position (data time up to
#: which it has sent everything) and says whether it may go on.
Gate = Callable[[str, float, float], bool]


class ReplayPacer:
    """Holds a file camera back while it is more than ``lag_s`` ahead of the others.

    Args:
        gate: the identity's position gate (see :data:`Gate`).
        camera_id: this camera.
        lag_s: data seconds a camera may run ahead of the slowest running camera.
        max_wait_s: wall seconds one wait lasts at most; after a wait that long the
            camera runs free for the rest of the run (a camera that never reports, e.g.
            one whose actor did not start, cannot hold the others back).
        poll_s: wall seconds between two asks.
        sleep: the sleep function (tests inject one).
        clock: a monotonic clock (tests inject one).
    """

    def __init__(
        self,
        gate: Gate,
        camera_id: str,
        lag_s: float,
        max_wait_s: float = 60.0,
        poll_s: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if lag_s <= 0:
            raise ValueError(f"lag_s must be > 0, got {lag_s}")
        self.gate = gate
        self.camera_id = camera_id
        self.lag_s = lag_s
        self.max_wait_s = max_wait_s
        self.poll_s = poll_s
        self.sleep = sleep
        self.clock = clock
        self.active = True  # False after a wait gave up: the camera runs free
        self.waited_s = 0.0  # wall seconds spent waiting, all waits together

    def wait(self, position: float) -> bool:
        """Wait until this camera, having sent everything up to ``position``, may go on.

        Returns False when the wait gave up after ``max_wait_s`` (logged; the camera is
        not paced again), else True.
        """
        if not self.active:
            return True
        t0 = self.clock()
        while not self.gate(self.camera_id, position, self.lag_s):
            if self.clock() - t0 >= self.max_wait_s:
                self.active = False
                log.warning(
                    "camera %s: no other camera came within %.1f s of data time %.3f in"
                    " %.0f s; it runs unpaced from here",
                    self.camera_id,
                    self.lag_s,
                    position,
                    self.max_wait_s,
                )
                break
            self.sleep(self.poll_s)
        self.waited_s += self.clock() - t0
        return self.active


__all__ = ["Gate", "ReplayPacer"]
