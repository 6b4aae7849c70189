"""Video summaries of a day: keyframes, highlight MP4s, per-visit storyboards, a digest.

They draw on the low-resolution evidence recording of cameras with ``record:
true`` (:mod:`mcvision.summarize.evidence`) and on the event store; every image
and video written has its faces blurred unless ``summaries.blur_faces`` is false.
Everything goes under ``<storage.root>/summaries/<day>/``:
``keyframes/*.jpg``, ``highlights/<camera>.mp4``, ``storyboards/<visit_id>.jpg``,
``digest.txt``.

Example:
    >>> result = summarize_day(cfg, "2026-01-05")        # doctest: +SKIP
    >>> sorted(p.name for p in result.files)[:1]          # doctest: +SKIP
    ['cam1.mp4']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mcvision.analytics.store import EventStore, check_day
from mcvision.config import SiteConfig
from mcvision.summarize.blur import FaceBlurrer
from mcvision.summarize.common import SummaryContext, summaries_dir
from mcvision.summarize.digest import make_digest
from mcvision.summarize.highlights import Highlight, make_highlight
from mcvision.summarize.keyframes import Keyframe, make_keyframes
from mcvision.summarize.storyboards import Storyboard, make_storyboards

__all__ = ["DaySummaries", "list_media", "summarize_day"]


@dataclass
class DaySummaries:
    """Everything :func:`summarize_day` made."""

    day: str
    highlights: list[Highlight] = field(default_factory=list)
    keyframes: list[Keyframe] = field(default_factory=list)
    storyboards: list[Storyboard] = field(default_factory=list)
    digest: str = ""
    digest_path: Path | None = None

    @property
    def files(self) -> list[Path]:
        out = [h.path for h in self.highlights if h.path is not None]
        out += [k.path for k in self.keyframes if k.path is not None]
        out += [s.path for s in self.storyboards if s.path is not None]
        if self.digest_path is not None:
            out.append(self.digest_path)
        return out


def summarize_day(
    cfg: SiteConfig,
    day: str,
    camera: str | None = None,
    *,
    store: EventStore | None = None,
    blurrer: FaceBlurrer | None = None,
) -> DaySummaries:
    """Make the day's keyframes, highlights, storyboards and digest.

    Args:
        cfg: the site config.
        day: business day ``YYYY-MM-DD``.
        camera: only this camera's media (the digest still covers the site).
        store: the event store (default: the site's).
        blurrer: the face blurrer (default: from ``cfg.summaries``).

    Raises:
        ValueError: a bad day or an unknown camera.
    """
    check_day(day)
    if camera is not None and camera not in {c.id for c in cfg.cameras}:
        raise ValueError(f"unknown camera {camera!r} (cameras: {[c.id for c in cfg.cameras]})")
    ctx = SummaryContext.build(cfg, day, store, blurrer)
    cams = [c.id for c in cfg.cameras if camera is None or c.id == camera]
    out = DaySummaries(day)
    out.highlights = [make_highlight(ctx, c) for c in cams]
    out.keyframes = make_keyframes(ctx, camera)
    out.storyboards = make_storyboards(ctx, camera)
    out.digest = make_digest(ctx)
    out.digest_path = ctx.out_dir / "digest.txt"
    return out


def list_media(cfg: SiteConfig, day: str) -> list[str]:
    """The day's summary files, as paths relative to ``<storage.root>/summaries``, sorted."""
    check_day(day)
    base = summaries_dir(cfg)
    folder = base / day
    if not folder.is_dir():
        return []
    return sorted(str(p.relative_to(base)) for p in folder.rglob("*") if p.is_file())


def media_path(cfg: SiteConfig, rel: str) -> Path:
    """The file under ``<storage.root>/summaries`` named by ``rel``.

    Raises:
        ValueError: ``rel`` leaves the summaries folder (``..``, absolute paths).
        FileNotFoundError: no such file.
    """
    base = summaries_dir(cfg).resolve()
    if not rel or rel.startswith(("/", "\\")) or ".." in Path(rel).parts or "\\" in rel:
        raise ValueError(f"media path must stay inside the summaries folder: {rel!r}")
    path = (base / rel).resolve()
    if not path.is_relative_to(base):
        raise ValueError(f"media path must stay inside the summaries folder: {rel!r}")
    if not path.is_file():
        raise FileNotFoundError(f"no media {rel!r}")
    return path
