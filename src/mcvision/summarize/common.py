"""What every summary needs: local→global ID map, drawing, output folders, clock text."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pendulum

from mcvision.analytics.store import EventStore
from mcvision.config import SiteConfig
from mcvision.summarize.blur import FaceBlurrer
from mcvision.summarize.evidence import EvidenceFrame

__all__ = ["Annotator", "IdMap", "SummaryContext", "summaries_dir"]


def summaries_dir(cfg: SiteConfig, day: str | None = None) -> Path:
    """``<storage.root>/summaries`` (or that day's folder in it)."""
    base = Path(cfg.storage.root) / "summaries"
    return base / day if day else base


@dataclass
class IdMap:
    """``(camera, local_id) -> global_id`` from the store's ``track_assigned`` events."""

    ids: dict[tuple[str, int], str] = field(default_factory=dict)

    @classmethod
    def from_store(cls, store: EventStore, day: str) -> IdMap:
        rows = store.sql(
            "SELECT global_id, payload FROM events WHERE kind = 'track_assigned' AND day = ?"
            " ORDER BY ts",
            [day],
            day=day,
        )
        out: dict[tuple[str, int], str] = {}
        for r in rows:
            p = json.loads(r["payload"] or "{}")
            if r["global_id"] and "camera" in p and "local_id" in p:
                out[(str(p["camera"]), int(p["local_id"]))] = r["global_id"]
        return cls(out)

    def get(self, camera: str, local_id: int) -> str | None:
        return self.ids.get((camera, int(local_id)))

    def locals_of(self) -> dict[tuple[str, str], set[int]]:
        """``(camera, global_id) -> local IDs``."""
        out: dict[tuple[str, str], set[int]] = defaultdict(set)
        for (cam, lid), gid in self.ids.items():
            out[(cam, gid)].add(lid)
        return out


def _colour(key: str) -> tuple[int, int, int]:
    h = sum(ord(c) * 31**i for i, c in enumerate(key)) % 180
    hsv = np.uint8([[[h, 200, 255]]])
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


@dataclass
class SummaryContext:
    """Config, store, ID map and face blurrer of one day's summaries."""

    cfg: SiteConfig
    store: EventStore
    day: str
    ids: IdMap
    blurrer: FaceBlurrer
    out_dir: Path

    @classmethod
    def build(
        cls,
        cfg: SiteConfig,
        day: str,
        store: EventStore | None = None,
        blurrer: FaceBlurrer | None = None,
    ) -> SummaryContext:
        store = store or EventStore.from_config(cfg)
        s = cfg.summaries
        blurrer = blurrer or FaceBlurrer(s.face_weights, enabled=s.blur_faces)
        return cls(cfg, store, day, IdMap.from_store(store, day), blurrer, summaries_dir(cfg, day))

    def local_time(self, ts: float, fmt: str = "HH:mm:ss") -> str:
        return pendulum.from_timestamp(ts, tz=self.cfg.reset.timezone).format(fmt)


class Annotator:
    """Draws zones, boxes with global IDs and a clock on recorded frames (after blurring).

    Args:
        ctx: the summary context.
        camera_id: the camera whose zones are drawn.
    """

    def __init__(self, ctx: SummaryContext, camera_id: str) -> None:
        self.ctx = ctx
        self.camera = ctx.cfg.camera(camera_id)

    def zones(self, frame: EvidenceFrame) -> list[tuple[str, np.ndarray]]:
        h, w = frame.image.shape[:2]
        out = []
        for z in self.camera.zones:
            pts = np.asarray(z.polygon, dtype=np.float64)
            pts = pts * (w, h) if z.normalized else pts * frame.scale
            out.append((z.name, pts.round().astype(np.int32)))
        return out

    def draw(self, frame: EvidenceFrame, *, blur: bool = True) -> np.ndarray:
        """A blurred, annotated copy of the frame."""
        img = self.ctx.blurrer.apply(frame.image, frame.boxes) if blur else frame.image.copy()
        for name, pts in self.zones(frame):
            cv2.polylines(img, [pts], True, (255, 200, 0), 1, cv2.LINE_AA)
            x, y = pts[0]
            cv2.putText(
                img,
                name,
                (int(x) + 3, int(y) + 12),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.4,
                (255, 200, 0),
                1,
                cv2.LINE_AA,
            )
        for box, lid in zip(frame.boxes, frame.local_ids, strict=True):
            gid = self.ctx.ids.get(frame.camera_id, int(lid))
            label = gid or f"track {int(lid)}"
            colour = _colour(label)
            x1, y1, x2, y2 = (round(v) for v in box)
            cv2.rectangle(img, (x1, y1), (x2, y2), colour, 2)
            (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
            cv2.rectangle(img, (x1, max(0, y1 - th - 4)), (x1 + tw + 4, y1), colour, -1)
            cv2.putText(
                img,
                label,
                (x1 + 2, max(th, y1 - 3)),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.45,
                (0, 0, 0),
                1,
                cv2.LINE_AA,
            )
        clock = f"{self.camera.id}  {self.ctx.local_time(frame.ts, 'YYYY-MM-DD HH:mm:ss')}"
        cv2.rectangle(img, (0, 0), (8 + 8 * len(clock), 20), (0, 0, 0), -1)
        cv2.putText(
            img, clock, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA
        )
        return img
