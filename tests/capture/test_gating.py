"""Motion gating, adaptive sampling and the ROI, on synthetic frames with a scripted detector.

The frames are a fixed textured background with a bright "person" rectangle drawn where
the script puts them; the detector finds that rectangle in the pixels it is given, so
what the gate lets through is what gets detected. Frames come from a real image folder
through :class:`CameraWorker`; visits and zones come from the real identity core.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from mcvision.actors.camera import BufferSink, CameraWorker
from mcvision.capture.gating import MotionGate, inside_roi, roi_mask
from mcvision.capture.pipeline import CameraPipeline
from mcvision.config import ConfigError, GatingConfig, RoiConfig, SiteConfig, parse_config
from mcvision.identity.site import SiteIdentity
from mcvision.types import Detections, Frame, Visit, ZoneVisit
from support import frames_accounted

T0 = 1_764_000_000.0
FPS = 5.0
W, H = 320, 180
BRIGHT = 230  # the person's grey level; the background stays below 150

Place = Callable[[float], tuple[int, int] | None]  # time (s) -> the person's top-left, or absent


def background() -> np.ndarray:
    rng = np.random.default_rng(7)
    bg = rng.integers(40, 150, size=(H // 4, W // 4, 3), dtype=np.uint8)
    return cv2.resize(bg, (W, H), interpolation=cv2.INTER_NEAREST)


def draw(place: tuple[int, int] | None) -> np.ndarray:
    img = background().copy()
    if place is not None:
        x, y = place
        img[y : y + 60, x : x + 20] = BRIGHT
    return img


def write_frames(folder: Path, seconds: float, where: Place) -> list[float]:
    """One PNG per sampled frame (the folder source replays them at ``FPS``)."""
    folder.mkdir(parents=True, exist_ok=True)
    n = round(seconds * FPS)
    for i in range(n):
        cv2.imwrite(str(folder / f"{i:05d}.png"), draw(where(i / FPS)))
    return [T0 + i / FPS for i in range(n)]


class PixelDetector:
    """Finds the bright rectangle in the (possibly shrunk) frames it is given."""

    def __init__(self) -> None:
        self.calls = 0
        self.frames = 0

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        self.calls += 1
        self.frames += len(frames)
        out = []
        for img in frames:
            ys, xs = np.nonzero(img[:, :, 0] >= BRIGHT - 10)
            if len(xs) < 20:
                out.append(Detections.empty())
                continue
            box = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
            out.append(Detections(xyxy=box, confidence=np.array([0.9], np.float32)))
        return out

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        e = np.zeros((len(crops), 512), np.float32)
        e[:, 0] = 1.0
        return e

    def segment(self, frames: list[np.ndarray], dets: list[Detections]) -> list[Detections]:
        raise AssertionError("no segmenter configured")


def site(folder: Path, root: Path, gating: dict[str, Any] | None, **cam: Any) -> SiteConfig:
    return parse_config(
        {
            "site_id": "g",
            "cameras": [{"id": "cam", "source": str(folder), "fps": FPS, **cam}],
            "storage": {"root": str(root)},
            "runtime": {"frames_per_batch": 4},
            "identity": {"min_frames": 1},
            # 512-d, as PixelDetector's embeddings
            "models": {"reid": {"backend": "onnx", "weights": "osnet_x0_25_msmt17.onnx"}},
            "visits": {"absence_timeout_s": 20.0, "zone_enter_s": 1.0, "zone_exit_s": 2.0},
            "gating": {"enabled": gating is not None, **(gating or {})},
        }
    )


def run(cfg: SiteConfig) -> tuple[BufferSink, PixelDetector, CameraWorker]:
    sink, models = BufferSink(), PixelDetector()
    worker = CameraWorker(cfg, "cam", models, sink, start_ts=T0)
    worker.run()
    return sink, models, worker


def visits_of(cfg: SiteConfig, sink: BufferSink) -> tuple[list[Visit], list[ZoneVisit]]:
    core = SiteIdentity(cfg)
    latest: dict[str, Visit] = {}
    zones: dict[str, ZoneVisit] = {}
    for b in sink.batches:
        for rec in (core.ingest(b), core.tick(b[-1].ts, flush=False)):
            latest.update({v.visit_id: v for v in rec.visits})
            zones.update({z.zone_visit_id: z for z in rec.zone_visits})
    rec = core.close()
    latest.update({v.visit_id: v for v in rec.visits})
    zones.update({z.zone_visit_id: z for z in rec.zone_visits})
    return sorted(latest.values(), key=lambda v: v.in_ts), list(zones.values())


GATE = {"keepalive_s": 3.0, "idle_fps": 1.0, "min_area": 0.002}


def walk_stand_leave(t: float) -> tuple[int, int] | None:
    """Empty 0-10 s, walks in 10-12 s, stands still 12-40 s, walks out 40-42 s, empty after."""
    if t < 10 or t >= 42:
        return None
    if t < 12:
        return (round(80 + (t - 10) * 30), 100)
    if t < 40:
        return (140, 100)
    return (round(140 + (t - 40) * 30), 100)


# ---- the gate alone ---------------------------------------------------------------


def test_idle_camera_samples_at_idle_fps_and_wakes_at_once_on_motion() -> None:
    gate = MotionGate(GatingConfig(enabled=True, keepalive_s=100, idle_fps=1.0), fps=FPS)
    still = draw(None)
    reasons = [gate.decide(i / FPS, still, "none") for i in range(50)]
    looked = [i for i, r in enumerate(reasons) if r != "idle"]
    assert reasons[0] == "keepalive"
    assert set(reasons[1:]) == {"idle", "no_motion"}
    assert np.diff(looked).tolist() == [5] * (len(looked) - 1)  # once a second
    assert gate.idle
    # Motion: noticed on the next looked-at frame, then every frame is looked at again.
    moving = [gate.decide((50 + i) / FPS, draw((20 + 8 * i, 50)), "none") for i in range(10)]
    first = moving.index("motion")
    assert first < 5  # within 1 / idle_fps
    assert moving[first:] == ["motion"] * (10 - first)
    assert not gate.idle


def test_keepalive_detects_a_still_scene_every_keepalive_s() -> None:
    gate = MotionGate(GatingConfig(enabled=True, keepalive_s=2.0, idle_fps=5.0), fps=FPS)
    reasons = [gate.decide(i / FPS, draw((100, 50)), "none") for i in range(60)]
    kept = [i / FPS for i, r in enumerate(reasons) if r == "keepalive"]
    assert kept[0] == 0.0
    assert np.allclose(np.diff(kept), 2.0)
    assert "motion" not in reasons  # nothing moves: the person standing there is found anyway


def test_live_tracks_send_every_frame_and_lost_ones_for_the_grace() -> None:
    cfg = GatingConfig(enabled=True, keepalive_s=100, idle_fps=1.0, lost_grace_s=1.0)
    gate = MotionGate(cfg, fps=FPS)
    still = draw(None)
    gate.decide(0.0, still, "none")
    assert [gate.decide(i / FPS, still, "tracked") for i in range(1, 20)] == ["tracks"] * 19
    assert not gate.idle
    gate.observe(19 / FPS, "tracked")  # the tracker followed someone up to 3.8 s
    lost = [gate.decide(i / FPS, still, "lost") for i in range(20, 30)]
    assert lost[:5] == ["tracks"] * 5  # 4.0-4.8 s: within the 1 s grace
    assert "tracks" not in lost[6:] and "motion" not in lost


def test_scene_changed_while_tracking_costs_one_motion_frame_not_a_background_refit() -> None:
    """While the tracker follows someone the gate does not look, so its background is the
    scene from before; a lasting change meanwhile (light, a moved chair) differs from it.
    Differencing with the previous looked-at frame (``alpha`` 1) flags it once; a slow
    running average (``alpha`` 0.1) flags it on many frames, each sent to the detector."""
    before = draw(None)
    after = np.clip(before.astype(np.int16) + 60, 0, 255).astype(np.uint8)  # lights up

    def motion_frames(alpha: float) -> int:
        cfg = GatingConfig(enabled=True, alpha=alpha, keepalive_s=100, idle_fps=FPS)
        gate = MotionGate(cfg, fps=FPS)
        for i in range(5):
            gate.decide(i / FPS, before, "none")
        for i in range(5, 30):
            assert gate.decide(i / FPS, after, "tracked") == "tracks"
        reasons = [gate.decide(i / FPS, after, "none") for i in range(30, 60)]
        return reasons.count("motion")

    assert motion_frames(1.0) == 1
    assert motion_frames(0.1) > 5


def test_disabled_gate_sends_everything() -> None:
    gate = MotionGate(GatingConfig(enabled=False), fps=FPS)
    assert {gate.decide(i / FPS, draw(None), False) for i in range(10)} == {"ungated"}


@pytest.mark.parametrize("method", ["diff", "mog2"])
def test_motion_outside_the_roi_is_ignored(method: str) -> None:
    roi = RoiConfig(polygon=[(0, 0), (0.5, 0), (0.5, 1), (0, 1)], normalized=True)  # left half
    cfg = GatingConfig(enabled=True, method=method, keepalive_s=100, idle_fps=FPS)
    gate = MotionGate(cfg, fps=FPS, roi=roi)
    for i in range(10):
        gate.decide(i / FPS, draw(None), False)
    right = [gate.moving_fraction(draw((200 + 5 * i, 50))) for i in range(10)]
    assert max(right) == 0.0
    left = [gate.moving_fraction(draw((20 + 5 * i, 50))) for i in range(10)]
    assert max(left) > cfg.min_area
    unmasked = MotionGate(cfg, fps=FPS)
    for _ in range(10):
        unmasked.moving_fraction(draw(None))
    assert max(unmasked.moving_fraction(draw((200 + 5 * i, 50))) for i in range(10)) > cfg.min_area


def test_roi_mask_and_point_test() -> None:
    roi = RoiConfig(polygon=[(0, 0), (160, 0), (160, 180), (0, 180)])
    mask = roi_mask(roi, (W, H), (80, 45))
    assert mask is not None and mask.shape == (45, 80)
    assert mask[:, :38].all() and not mask[:, 42:].any()
    poly = np.array(roi.polygon, np.float32)
    assert inside_roi(np.array([[10.0, 10.0], [200.0, 10.0], [160.0, 50.0]]), poly).tolist() == [
        True,
        False,
        True,
    ]
    with pytest.raises(ValueError, match="covers no pixel"):
        roi_mask(RoiConfig(polygon=[(400, 0), (500, 0), (500, 10)]), (W, H), (80, 45))


def test_detections_outside_the_roi_never_reach_the_tracker() -> None:
    cfg = parse_config(
        {
            "site_id": "g",
            "cameras": [
                {
                    "id": "cam",
                    "source": "x.mp4",
                    "fps": FPS,
                    "roi": {"polygon": [(0, 0), (160, 0), (160, 180), (0, 180)]},
                }
            ],
        }
    )
    pipe = CameraPipeline(cfg.cameras[0], cfg)
    boxes = np.array([[20, 40, 40, 100], [200, 40, 220, 100]], np.float32)  # left in, right out
    dets = Detections(xyxy=boxes, confidence=np.array([0.9, 0.9], np.float32))
    seen = set()
    for i in range(5):
        step = pipe.step(Frame("cam", i, T0 + i / FPS, draw(None)), dets)
        seen.update(float(u.box[0]) for u in step.updates if not u.ended)
    assert seen == {20.0}
    assert pipe.outside_roi == 5


def test_gating_is_on_by_default_and_a_camera_can_turn_it_off() -> None:
    cfg = parse_config(
        {
            "site_id": "g",
            "cameras": [
                {"id": "a", "source": "a.mp4"},
                {"id": "b", "source": "b.mp4", "gating": {"enabled": False}},
            ],
        }
    )
    assert cfg.gating.enabled and cfg.gating_for("a").enabled
    assert not cfg.gating_for("b").enabled and cfg.gating_for("b").keepalive_s == 4.0


def test_gating_config_per_camera_override_and_errors() -> None:
    cfg = parse_config(
        {
            "site_id": "g",
            "gating": {"enabled": True, "idle_fps": 2.0},
            "cameras": [
                {"id": "a", "source": "a.mp4"},
                {"id": "b", "source": "b.mp4", "gating": {"enabled": False, "idle_fps": 1}},
            ],
        }
    )
    assert cfg.gating_for("a").enabled and cfg.gating_for("a").idle_fps == 2.0
    assert not cfg.gating_for("b").enabled and cfg.gating_for("b").idle_fps == 1.0
    with pytest.raises(ConfigError, match=r"cameras\[0\]\.roi\.polygon"):
        parse_config(
            {
                "site_id": "g",
                "cameras": [{"id": "a", "source": "a.mp4", "roi": {"polygon": [(0, 0), (1, 1)]}}],
            }
        )
    with pytest.raises(ConfigError, match=r"gating\.method"):
        parse_config(
            {
                "site_id": "g",
                "gating": {"method": "optical"},
                "cameras": [{"id": "a", "source": "a.mp4"}],
            }
        )


# ---- the camera worker ------------------------------------------------------------


def test_still_person_is_kept_through_the_stay_and_dwell_is_not_changed(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    write_frames(folder, 60.0, walk_stand_leave)
    zone = {"name": "spot", "polygon": [(120, 140), (200, 140), (200, 180), (120, 180)]}
    results = {}
    for name, gating in (("ungated", None), ("gated", GATE)):
        cfg = site(folder, tmp_path / name, gating, zones=[zone])
        sink, models, worker = run(cfg)
        seen = [u for u in sink.all_updates if not u.ended]
        results[name] = (cfg, sink, models, worker, seen)
    _, _, m_un, _, seen_un = results["ungated"]
    cfg_g, sink_g, m_g, _, seen_g = results["gated"]
    assert m_g.frames < 0.75 * m_un.frames  # the empty stretches were skipped
    # One track, seen on every frame from the first sighting to the walk out: never dropped.
    assert {u.local_id for u in seen_g} == {seen_g[0].local_id}
    ts = np.array(sorted(u.ts for u in seen_g))
    first_un = min(u.ts for u in seen_un)
    assert first_un - T0 <= 10.6
    assert first_un <= ts[0] <= first_un + 1.0  # found within 1 / idle_fps of walking in
    assert np.allclose(np.diff(ts), 1 / FPS)
    assert ts[-1] == max(u.ts for u in seen_un)
    # After they vanish, the lost track ages on the skipped frames and ends on time.
    ended_un = [u.ts for u in results["ungated"][1].all_updates if u.ended]
    ended_g = [u.ts for u in sink_g.all_updates if u.ended]
    assert ended_g == ended_un and ended_un[0] < T0 + 55
    # Visits and zone dwell as without gating (in at most 1 / idle_fps later).
    v_un, z_un = visits_of(results["ungated"][0], results["ungated"][1])
    v_g, z_g = visits_of(cfg_g, sink_g)
    assert len(v_un) == len(v_g) == 1
    assert 0 <= v_g[0].in_ts - v_un[0].in_ts <= 1.0
    assert v_g[0].out_ts == v_un[0].out_ts
    assert len(z_un) == len(z_g) == 1
    assert abs((z_g[0].exit_ts - z_g[0].enter_ts) - (z_un[0].exit_ts - z_un[0].enter_ts)) < 1e-6
    # The foot is in the zone from 11.0 s (walking in) to 41.6 s (walking out).
    assert z_g[0].enter_ts - T0 == pytest.approx(11.0, abs=0.01)
    assert z_g[0].exit_ts - z_g[0].enter_ts == pytest.approx(30.6, abs=0.01)


def test_person_standing_still_from_the_first_frame_is_found_and_kept(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    stamps = write_frames(folder, 30.0, lambda t: (140, 100))  # never moves
    sink, _, worker = run(site(folder, tmp_path / "s", GATE))
    seen = sorted(u.ts for u in sink.all_updates if not u.ended)
    assert seen[0] == stamps[0] and seen[-1] == stamps[-1]
    assert len(seen) == len(stamps)  # every frame: the track never lapsed
    assert worker.stats.processed["keepalive"] == 1 and worker.stats.processed["tracks"] >= 140


def test_idle_camera_wakes_on_motion_and_every_frame_is_accounted(tmp_path: Path) -> None:
    folder = tmp_path / "frames"

    def late_walker(t: float) -> tuple[int, int] | None:
        return (round(10 + (t - 30) * 40), 100) if 30 <= t < 36 else None

    stamps = write_frames(folder, 50.0, late_walker)
    sink, models, _ = run(site(folder, tmp_path / "w", GATE))
    st = sink.last_stats
    assert frames_accounted(st, read=len(stamps))
    assert st["frames"] == sum(st["processed"].values()) == models.frames
    assert st["skipped"]["idle"] > 0 and st["skipped"]["no_motion"] > 0
    assert st["processed"]["keepalive"] >= 9  # every 3 s through the 30 empty seconds
    assert st["last_frame_ts"] == stamps[-1]  # skipped frames advance the camera's time
    seen = sorted(u.ts for u in sink.all_updates if not u.ended)
    assert T0 + 30 <= seen[0] <= T0 + 31  # awake within 1 / idle_fps of the first motion
    assert np.allclose(np.diff(seen), 1 / FPS)  # then at full fps while they are in view
    assert st["gate"] == "idle"
    assert st["fps"] > 0


def test_disabled_gating_detects_every_frame(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    stamps = write_frames(folder, 10.0, lambda t: None)
    sink, models, _ = run(site(folder, tmp_path / "u", None))
    st = sink.last_stats
    assert models.frames == st["frames"] == st["processed"]["ungated"] == len(stamps)
    assert sum(st["skipped"].values()) == 0 and st["gate"] == "off"


def test_track_state_goes_tracked_lost_none() -> None:
    cfg = parse_config(
        {
            "site_id": "g",
            "cameras": [{"id": "cam", "source": "x.mp4", "fps": FPS}],
            "models": {"tracker": {"track_buffer": 5}},
        }
    )
    pipe = CameraPipeline(cfg.cameras[0], cfg)
    box = Detections(
        xyxy=np.array([[20, 40, 40, 100]], np.float32), confidence=np.array([0.9], np.float32)
    )
    states = [pipe.track_state]
    for i in range(3):
        pipe.step(Frame("cam", i, T0 + i / FPS, draw(None)), box)
        states.append(pipe.track_state)
    for i in range(3, 12):
        pipe.step(Frame("cam", i, T0 + i / FPS, draw(None)), Detections.empty())
        states.append(pipe.track_state)
    assert states[:4] == ["none", "tracked", "tracked", "tracked"]
    assert states[4] == "lost" and states[-1] == "none"


@pytest.mark.parametrize("onset_frame", range(5))
def test_live_view_never_shows_a_frame_the_gate_did_not_look_at(
    tmp_path: Path, onset_frame: int
) -> None:
    """A person walking into an idle camera is on frames the gate skips unseen ("idle"):
    the live view keeps the newest frame that was looked at, so no one is shown there
    without their tracked box (and its blurred head)."""
    onset = 20.0 + onset_frame / FPS

    def walker(t: float) -> tuple[int, int] | None:
        return (round(10 + (t - onset) * 40), 100) if onset <= t < onset + 6 else None

    stamps = write_frames(tmp_path / "frames", 30.0, walker)
    sink, models = BufferSink(), PixelDetector()
    worker = CameraWorker(
        site(tmp_path / "frames", tmp_path / "s", GATE), "cam", models, sink, start_ts=T0
    )
    shown = []
    keep = worker._keep_newest

    def spy(frame: Frame, step: Any) -> None:
        keep(frame, step)
        assert worker.newest is not None
        shown.append(worker.newest)

    worker._keep_newest = spy  # type: ignore[method-assign]
    worker.run()
    assert sink.last_stats["skipped"]["idle"] > 0
    with_person = [f for f in shown if (f.image[:, :, 0] >= BRIGHT - 10).sum() >= 20]
    assert with_person  # the walker was on the live view ...
    assert all(len(f.boxes) == 1 for f in with_person)  # ... always with their box
    # idle at the end, the view is the newest looked-at frame: at most one idle look old
    assert 0 <= stamps[-1] - shown[-1].ts <= 1 / GATE["idle_fps"]
