"""A storyboard per visit: the best crop of the person on each camera, in order, captioned.

For every visit of the day, each camera's recording is read once: among the
frames within the visit where one of the person's local tracks (mapped through
``track_assigned`` events) has a box, the best crop is the largest box not cut
by the frame border (area × 0.5 when it touches it). The crops, blurred,
are laid side by side in the order the person first appeared on each camera,
each captioned with its camera and time, under a header with the global ID,
in/out times, dwell and zones. Written to ``<summaries>/<day>/storyboards/<visit_id>.jpg``.

Example:
    >>> boards = make_storyboards(ctx)                # doctest: +SKIP
    >>> boards[0].cameras                             # doctest: +SKIP
    ['entrance', 'floor']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from mcvision.summarize.common import SummaryContext
from mcvision.summarize.evidence import read_evidence

__all__ = ["Storyboard", "make_storyboards"]

_CROP_H = 240


@dataclass
class _Best:
    score: float
    first_ts: float
    ts: float
    crop: np.ndarray


@dataclass
class Storyboard:
    """One visit's storyboard.

    Attributes:
        visit_id: the visit.
        global_id: the person.
        cameras: cameras with a crop, in order of first appearance.
        crop_ts: time of each crop.
        path: the JPEG (None when no camera had a recorded frame of the visit).
        caption: the header line.
    """

    visit_id: str
    global_id: str
    cameras: list[str] = field(default_factory=list)
    crop_ts: list[float] = field(default_factory=list)
    path: Path | None = None
    caption: str = ""


def _fmt_dwell(s: float) -> str:
    s = round(s)
    return f"{s // 3600}h{s // 60 % 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def make_storyboards(ctx: SummaryContext, camera_id: str | None = None) -> list[Storyboard]:
    """Storyboards of every visit of the day (crops from ``camera_id`` only, if given)."""
    day = ctx.day
    visits = ctx.store.sql(
        "SELECT visit_id, global_id, in_ts, out_ts, dwell_s, cameras, zones FROM visits"
        " WHERE day = ? ORDER BY in_ts, visit_id",
        [day],
        day=day,
    )
    by_gid: dict[str, list[dict]] = {}
    for v in visits:
        by_gid.setdefault(v["global_id"], []).append(v)
    cams = [c.id for c in ctx.cfg.cameras if camera_id is None or c.id == camera_id]
    best: dict[tuple[str, str], _Best] = {}  # (visit_id, camera) -> best crop
    if visits:
        lo = min(v["in_ts"] for v in visits)
        hi = max(v["out_ts"] for v in visits) + 1e-3
        for cam in cams:
            for f in read_evidence(ctx.cfg.storage.root, cam, lo, hi):
                h, w = f.image.shape[:2]
                for box, lid in zip(f.boxes, f.local_ids, strict=True):
                    gid = ctx.ids.get(cam, int(lid))
                    if gid is None:
                        continue
                    visit = next(
                        (
                            v
                            for v in by_gid.get(gid, [])
                            if v["in_ts"] - 1e-3 <= f.ts <= v["out_ts"] + 1e-3
                        ),
                        None,
                    )
                    if visit is None:
                        continue
                    x1, y1, x2, y2 = box
                    area = max(0.0, x2 - x1) * max(0.0, y2 - y1)
                    cut = x1 <= 1 or y1 <= 1 or x2 >= w - 1 or y2 >= h - 1
                    score = area * (0.5 if cut else 1.0)
                    key = (visit["visit_id"], cam)
                    cur = best.get(key)
                    if cur is not None and score <= cur.score:
                        continue
                    crop = _crop(ctx, f.image, box)
                    first = cur.first_ts if cur is not None else f.ts
                    best[key] = _Best(score, first, f.ts, crop)
    boards = []
    for v in visits:
        shots = sorted(
            ((cam, b) for (vid, cam), b in best.items() if vid == v["visit_id"]),
            key=lambda cb: (cb[1].first_ts, cb[0]),
        )
        zones = ", ".join(v["zones"]) or "no zone"
        caption = (
            f"{v['global_id']}  in {ctx.local_time(v['in_ts'])}  out {ctx.local_time(v['out_ts'])}"
            f"  dwell {_fmt_dwell(v['dwell_s'])}  zones: {zones}"
        )
        board = Storyboard(
            v["visit_id"],
            v["global_id"],
            [c for c, _ in shots],
            [b.ts for _, b in shots],
            caption=caption,
        )
        if shots:
            img = _compose(ctx, caption, shots)
            folder = ctx.out_dir / "storyboards"
            folder.mkdir(parents=True, exist_ok=True)
            board.path = folder / f"{v['visit_id']}.jpg"
            cv2.imwrite(str(board.path), img)
        boards.append(board)
    return boards


def _crop(ctx: SummaryContext, image: np.ndarray, box: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    px, py = 0.1 * (x2 - x1), 0.05 * (y2 - y1)
    a, b = max(0, int(x1 - px)), max(0, int(y1 - py))
    c, d = min(w, int(np.ceil(x2 + px))), min(h, int(np.ceil(y2 + py)))
    crop = image[b:d, a:c]
    local = np.array([[x1 - a, y1 - b, x2 - a, y2 - b]], dtype=np.float32)
    return ctx.blurrer.apply(crop, local)


def _compose(ctx: SummaryContext, caption: str, shots: list[tuple[str, _Best]]) -> np.ndarray:
    tiles = []
    for cam, b in shots:
        ch, cw = b.crop.shape[:2]
        scale = _CROP_H / max(ch, 1)
        tile = cv2.resize(b.crop, (max(1, round(cw * scale)), _CROP_H))
        label = f"{cam} {ctx.local_time(b.ts)}"
        tw = max(tile.shape[1], 8 * len(label) + 8)
        cell = np.full((_CROP_H + 24, tw, 3), 255, np.uint8)
        cell[:_CROP_H, : tile.shape[1]] = tile
        cv2.putText(
            cell,
            label,
            (4, _CROP_H + 17),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
        tiles.append(cell)
        tiles.append(np.full((_CROP_H + 24, 8, 3), 255, np.uint8))
    row = np.hstack(tiles[:-1])
    width = max(row.shape[1], 7 * len(caption) + 16)
    board = np.full((row.shape[0] + 32, width, 3), 255, np.uint8)
    cv2.putText(board, caption, (8, 21), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    board[32:, : row.shape[1]] = row
    return board
