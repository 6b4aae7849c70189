"""A highlight MP4 per camera: every frame with a tracked person, idle stretches sped up.

The camera's evidence recording of the day is read in order; a frame with at
least one tracked box is always kept, of a run of idle frames only every
``summaries.idle_speedup``-th. Kept frames are blurred, then annotated (zones,
boxes labelled with global IDs, camera and clock) and written at the
recording's frame rate to ``<summaries>/<day>/highlights/<camera>.mp4``.

Example:
    >>> h = make_highlight(ctx, "cam1")        # doctest: +SKIP
    >>> h.frames_out < h.frames_in             # doctest: +SKIP
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2

from mcvision.summarize.common import Annotator, SummaryContext
from mcvision.summarize.evidence import read_evidence

__all__ = ["Highlight", "make_highlight"]


@dataclass
class Highlight:
    """What a highlight holds.

    Attributes:
        camera_id: the camera.
        path: the MP4 (None when the camera recorded nothing that day).
        frames_in: recorded frames of the day.
        frames_out: frames written.
        kept_ts: timestamps of the written frames, in order.
        active_ts: timestamps of the recorded frames with a tracked person.
    """

    camera_id: str
    path: Path | None
    frames_in: int = 0
    frames_out: int = 0
    kept_ts: list[float] = field(default_factory=list)
    active_ts: list[float] = field(default_factory=list)


def make_highlight(ctx: SummaryContext, camera_id: str) -> Highlight:
    """Write the highlight of one camera for the context's day."""
    lo, hi = _day_bounds(ctx)
    speedup = ctx.cfg.summaries.idle_speedup
    out = Highlight(camera_id, None)
    annot = Annotator(ctx, camera_id)
    writer: cv2.VideoWriter | None = None
    path = ctx.out_dir / "highlights" / f"{camera_id}.mp4"
    idle_run = 0
    try:
        for f in read_evidence(ctx.cfg.storage.root, camera_id, lo, hi):
            out.frames_in += 1
            active = len(f.boxes) > 0
            if active:
                out.active_ts.append(f.ts)
                idle_run = 0
            else:
                idle_run += 1
                if (idle_run - 1) % speedup:
                    continue
            img = annot.draw(f)
            if writer is None:
                path.parent.mkdir(parents=True, exist_ok=True)
                h, w = img.shape[:2]
                writer = cv2.VideoWriter(
                    str(path), cv2.VideoWriter_fourcc(*"mp4v"), ctx.cfg.recording.fps, (w, h)
                )
                if not writer.isOpened():
                    raise OSError(f"cannot write {path}")
                out.path = path
            writer.write(img)
            out.frames_out += 1
            out.kept_ts.append(f.ts)
    finally:
        if writer is not None:
            writer.release()
    return out


def _day_bounds(ctx: SummaryContext) -> tuple[float, float]:
    from mcvision.business_day import BusinessCalendar

    return BusinessCalendar.from_config(ctx.cfg.reset).day_bounds(ctx.day)
