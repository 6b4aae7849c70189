"""Live progress lines for ``mcvision run``: one per camera (frames, fps, people in view)."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from tqdm import tqdm

from mcvision.config import SiteConfig


class CameraProgress:
    """One tqdm line per camera, fed with the IdentityActor's camera stats.

    Example:
        >>> bar = CameraProgress(cfg)                                    # doctest: +SKIP
        >>> bar.update({"cam1": {"frames": 40, "fps": 9.8, "people_in_view": 2}})  # doctest: +SKIP
    """

    def __init__(self, cfg: SiteConfig, enabled: bool = True, out: TextIO | None = None) -> None:
        self.enabled = enabled
        self.bars: dict[str, tqdm] = {}
        if not enabled:
            return
        width = max(len(c.id) for c in cfg.cameras)
        for i, cam in enumerate(cfg.cameras):
            self.bars[cam.id] = tqdm(
                desc=cam.id.ljust(width),
                unit="frame",
                position=i,
                leave=True,
                file=out or sys.stderr,
                dynamic_ncols=True,
                bar_format="{desc} {n_fmt} frames [{elapsed}] {postfix}",
            )

    def update(self, stats: dict[str, dict[str, Any]]) -> None:
        for cam_id, bar in self.bars.items():
            s = stats.get(cam_id, {})
            frames = int(s.get("frames_read") or s.get("frames") or 0)  # detected or skipped
            if frames > bar.n:
                bar.update(frames - bar.n)
            bar.set_postfix_str(
                f"{s.get('status', '?')} {float(s.get('fps') or 0):.1f} fps, "
                f"{int(s.get('people_in_view') or 0)} in view"
                + (
                    f", {sum(s['skipped'].values())} skipped"
                    if any(s.get("skipped", {}).values())
                    else ""
                )
                + (f" — {s['reason']}" if s.get("reason") else ""),
                refresh=True,
            )

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
