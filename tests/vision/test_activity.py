"""Activity rules on synthetic keypoint/motion sequences, smoothing, intervals, alerts, webhook."""

from __future__ import annotations

import itertools
import json
import math
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from typing import Any, ClassVar

import numpy as np
import pytest

from mcvision.analytics import queries as q
from mcvision.analytics.store import EventStore
from mcvision.config import parse_config
from mcvision.identity.visits import VisitBook
from mcvision.types import Detections, EventKind, TrackletUpdate
from mcvision.vision.activity import (
    Activity,
    ActivityMonitor,
    AlertWebhook,
    LabelSmoother,
    Observation,
    RuleClassifier,
    TrackActivity,
    available_classifiers,
    build_classifier,
    register_classifier,
    smooth_labels,
    torso_angle,
)

FPS = 5.0


def skeleton(
    pose: str, x: float, h: float = 200.0, t: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """(box, keypoints) of a synthetic person with the foot at (x, 400), ``h`` tall standing."""
    kp = np.zeros((17, 3), np.float32)
    kp[:, 2] = 0.9
    ground = 400.0
    if pose in ("standing", "walking", "browsing", "reaching"):
        top = ground - h
        hip_y, sh_y = top + 0.52 * h, top + 0.2 * h
        kp[0] = (x, top + 0.06 * h, 0.9)
        kp[1:5, 0] = [x - 5, x + 5, x - 10, x + 10]
        kp[1:5, 1] = top + 0.05 * h
        kp[5, :2], kp[6, :2] = (x - 0.1 * h, sh_y), (x + 0.1 * h, sh_y)
        kp[7, :2], kp[8, :2] = (x - 0.12 * h, top + 0.35 * h), (x + 0.12 * h, top + 0.35 * h)
        wx = 0.12 * h
        wy = top + 0.48 * h
        if pose == "browsing":  # hand moving about in front of a shelf
            kp[9, :2] = (
                x - wx + 0.08 * h * math.sin(2 * math.pi * t),
                wy - 0.06 * h * math.cos(2 * math.pi * t),
            )
        else:
            kp[9, :2] = (x - wx, wy)
        kp[10, :2] = (x + wx, top + 0.15 * h) if pose == "reaching" else (x + wx, wy)
        kp[11, :2], kp[12, :2] = (x - 0.07 * h, hip_y), (x + 0.07 * h, hip_y)
        kp[13, :2], kp[14, :2] = (x - 0.07 * h, top + 0.75 * h), (x + 0.07 * h, top + 0.75 * h)
        kp[15, :2], kp[16, :2] = (x - 0.07 * h, ground), (x + 0.07 * h, ground)
        box = np.array([x - 0.16 * h, top, x + 0.16 * h, ground], np.float32)
    elif pose == "sitting":
        hip_y = ground - 0.25 * h
        sh_y = hip_y - 0.32 * h
        kp[0] = (x, sh_y - 0.14 * h, 0.9)
        kp[1:5, :2] = (x, sh_y - 0.15 * h)
        kp[5, :2], kp[6, :2] = (x - 0.1 * h, sh_y), (x + 0.1 * h, sh_y)
        kp[7:11, :2] = (x + 0.1 * h, hip_y - 0.05 * h)
        kp[11, :2], kp[12, :2] = (x - 0.07 * h, hip_y), (x + 0.07 * h, hip_y)
        kp[13, :2], kp[14, :2] = (x + 0.2 * h, hip_y - 0.01 * h), (x + 0.25 * h, hip_y)
        kp[15, :2], kp[16, :2] = (x + 0.2 * h, ground), (x + 0.25 * h, ground)
        box = np.array([x - 0.15 * h, sh_y - 0.2 * h, x + 0.3 * h, ground], np.float32)
    elif pose == "bending":
        hip = np.array([x, ground - 0.48 * h])
        ang = math.radians(50)
        sh = hip + 0.32 * h * np.array([math.sin(ang), -math.cos(ang)])
        kp[0, :2] = sh + np.array([0.1 * h, 0.02 * h])
        kp[1:5, :2] = sh + np.array([0.09 * h, 0.0])
        kp[5, :2], kp[6, :2] = sh - np.array([0.03 * h, 0]), sh + np.array([0.03 * h, 0])
        kp[7:11, :2] = sh + np.array([0.05 * h, 0.2 * h])
        kp[11, :2], kp[12, :2] = hip - np.array([0.03 * h, 0]), hip + np.array([0.03 * h, 0])
        kp[13, :2], kp[14, :2] = (x, ground - 0.25 * h), (x + 0.02 * h, ground - 0.25 * h)
        kp[15, :2], kp[16, :2] = (x, ground), (x + 0.02 * h, ground)
        box = np.array([x - 0.08 * h, sh[1] - 0.1 * h, sh[0] + 0.15 * h, ground], np.float32)
    elif pose == "fallen":
        y = ground - 0.08 * h
        kp[0, :2] = (x + 0.45 * h, y)
        kp[1:5, :2] = (x + 0.44 * h, y - 2)
        kp[5, :2], kp[6, :2] = (x + 0.3 * h, y - 0.05 * h), (x + 0.3 * h, y + 0.05 * h)
        kp[7:11, :2] = (x + 0.2 * h, y)
        kp[11, :2], kp[12, :2] = (x, y - 0.05 * h), (x, y + 0.05 * h)
        kp[13:15, :2] = (x - 0.25 * h, y)
        kp[15:17, :2] = (x - 0.48 * h, y)
        box = np.array([x - 0.5 * h, y - 0.1 * h, x + 0.5 * h, ground], np.float32)
    else:
        raise ValueError(pose)
    return box, kp


def run_track(
    pose: str,
    seconds: float = 5.0,
    zones: tuple[str, ...] = ("shelf",),
    speed_h: float = 0.0,
    with_kp: bool = True,
) -> tuple[list[str], str | None]:
    """Feed a track at 5 fps; returns the raw labels and the final smoothed label."""
    track = TrackActivity(build_classifier("rules"))
    label = None
    for i in range(int(seconds * FPS) + 1):
        t = i / FPS
        box, kp = skeleton(pose, 300 + speed_h * 200 * t, t=t)
        label = track.observe(
            Observation(ts=1000 + t, box=box, keypoints=kp if with_kp else None, zones=zones)
        )
    return [r for _, r in track.raw], label


@pytest.mark.parametrize(
    ("pose", "speed_h", "zones", "expected"),
    [
        ("walking", 0.8, (), "walking"),
        ("walking", 0.5, ("shelf",), "walking"),
        ("standing", 0.0, (), "standing"),
        ("standing", 0.05, ("shelf",), "standing"),  # in a zone but hands still
        ("browsing", 0.0, ("shelf",), "browsing"),  # hand moving in a zone
        ("reaching", 0.0, ("shelf",), "browsing"),  # reaching in a zone
        ("reaching", 0.0, (), "standing"),  # reaching outside every zone
        ("sitting", 0.0, (), "sitting"),
        ("bending", 0.0, ("shelf",), "bending"),
        ("fallen", 0.0, (), "fallen"),
    ],
)
def test_each_label_from_synthetic_pose_and_motion(
    pose: str, speed_h: float, zones: tuple[str, ...], expected: str
) -> None:
    raw, label = run_track(pose, speed_h=speed_h, zones=zones)
    assert len(raw) == 5  # one label per second after a 0.8 s warm-up: t = 0.8, 1.8, ..., 4.8
    assert set(raw) == {expected}
    assert label == expected


@pytest.mark.parametrize(
    ("pose", "speed_h", "expected"),
    [("walking", 0.8, "walking"), ("standing", 0.0, "standing"), ("fallen", 0.0, "fallen")],
)
def test_without_keypoints_motion_and_box_shape_decide(
    pose: str, speed_h: float, expected: str
) -> None:
    raw, label = run_track(pose, speed_h=speed_h, with_kp=False)
    assert set(raw) == {expected} and label == expected


def test_speed_is_scale_free() -> None:
    """The same walk seen small (far) and large (near) gets the same label and speed."""
    from mcvision.vision.activity import speed

    def window(h: float) -> list[Observation]:
        return [
            Observation(ts=t, box=np.array([0.4 * h * t, 0, 0.4 * h * t + 0.3 * h, h]))
            for t in np.arange(0, 1.01, 0.2)
        ]

    assert speed(window(50)) == pytest.approx(0.4)
    assert speed(window(400)) == pytest.approx(0.4)
    clf = RuleClassifier()
    assert clf.classify(window(50)) == clf.classify(window(400)) == "walking"


def test_torso_angle_of_synthetic_poses() -> None:
    angles = {p: torso_angle(skeleton(p, 300)[1]) for p in ("standing", "bending", "fallen")}
    assert angles["standing"] == pytest.approx(0.0, abs=1e-6)
    assert angles["bending"] == pytest.approx(50.0, abs=0.5)
    assert angles["fallen"] == pytest.approx(90.0, abs=0.5)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("WWWWSWWW", "WWWWWWWW"),  # a 1 s blip is absorbed
        ("WWWSSSSS", "WWWWSSSS"),  # a real change lands after 2 s
        ("WWWFWWWW", "WWWFFWWW"),  # fallen switches at once, leaving it takes 2 s
        ("SSWSWSWS", "SSSSSSSS"),  # flicker never wins
    ],
)
def test_smoothing_table(raw: str, expected: str) -> None:
    labels = [{"W": "walking", "S": "standing", "F": "fallen"}[c] for c in raw]
    out = "".join(lab[0].upper() for lab in smooth_labels(labels))
    assert out == expected


def test_smoothed_runs_last_at_least_two_seconds_except_fallen() -> None:
    rng = np.random.default_rng(7)
    labels = list(
        rng.choice(
            ["walking", "standing", "browsing", "fallen"], size=400, p=[0.4, 0.35, 0.2, 0.05]
        )
    )
    out = smooth_labels(labels, min_s=2.0, period_s=1.0)
    runs: list[list[Any]] = []
    for lab in out:
        if runs and runs[-1][0] == lab:
            runs[-1][1] += 1
        else:
            runs.append([lab, 1])
    # the last run may be cut by the end of the sequence; a fall preempts any label at once
    inner = [r for r, nxt in itertools.pairwise(runs) if nxt[0] != "fallen"]
    assert len(inner) > 10
    assert all(n >= 2 for lab, n in inner if lab != "fallen")
    assert any(lab == "fallen" for lab, _ in runs)


def test_smoother_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="period_s"):
        LabelSmoother(min_s=2, period_s=0)


def test_registry_builds_rules_and_custom_and_names_unknown() -> None:
    assert "rules" in available_classifiers()
    assert isinstance(build_classifier("rules"), RuleClassifier)

    @register_classifier("test-constant")
    class Constant:
        def __init__(self, th: Any) -> None:
            self.th = th

        def classify(self, window: Any) -> str:
            return "sitting"

    mon = ActivityMonitor(build_classifier("test-constant"), min_label_s=0)
    dets = Detections(xyxy=np.array([[0, 0, 40, 100]]), tracker_id=np.array([3]))
    labels = [mon.update(t, dets)[3] for t in (0.0, 0.5, 1.0)]
    assert labels == [None, None, "sitting"]
    with pytest.raises(ValueError, match=r"unknown activity classifier 'nope'.*rules"):
        build_classifier("nope")


def test_monitor_labels_updates_and_forgets_ended_tracks() -> None:
    mon = ActivityMonitor(build_classifier("rules"))
    for i in range(8):
        t = i / FPS
        box, kp = skeleton("walking", 300 + 160 * t)
        dets = Detections(xyxy=box[None], tracker_id=np.array([5]), keypoints=kp[None])
        ups = [TrackletUpdate("cam", 5, t, box, np.zeros(2))]
        mon.label_updates(t, ups, dets)
    assert ups[0].activity == "walking"
    mon.label_updates(
        2.0,
        [TrackletUpdate("cam", 5, 2.0, np.zeros(4), np.zeros(2), ended=True)],
        Detections(xyxy=np.zeros((0, 4)), tracker_id=np.zeros(0)),
    )
    assert 5 not in mon.tracks


# ---- intervals, store, queries, alerts --------------------------------------------------------
def site() -> Any:
    return parse_config(
        {
            "site_id": "shop",
            "cameras": [
                {
                    "id": "cam",
                    "source": "a.mp4",
                    "zones": [{"name": "shelf", "polygon": [[0, 0], [100, 0], [100, 100]]}],
                }
            ],
            "reset": {"timezone": "UTC"},
        }
    )


T0 = 1_767_600_000.0  # 2026-01-05 08:00 UTC


def labelled(ts: float, activity: str, zone: str | None = None) -> TrackletUpdate:
    return TrackletUpdate(
        "cam",
        1,
        ts,
        np.array([0, 0, 10, 40], np.float32),
        np.array([5.0, 40.0]),
        zones=(zone,) if zone else (),
        activity=activity,
        frame_size=(100, 100),
    )


def script() -> list[tuple[float, str, str | None]]:
    """10 s walking outside, 20 s browsing at the shelf, 5 s standing there, 4 s fallen."""
    rows = [(T0 + t, "walking", None) for t in range(10)]
    rows += [(T0 + 10 + t, "browsing", "shelf") for t in range(20)]
    rows += [(T0 + 30 + t, "standing", "shelf") for t in range(5)]
    rows += [(T0 + 35 + t, "fallen", "shelf") for t in range(4)]
    return rows


def test_visitbook_builds_intervals_per_zone_and_alerts_on_fall(tmp_path: Any) -> None:
    book = VisitBook(site())
    recs = book.observe_many(("G1", labelled(ts, a, z)) for ts, a, z in script())
    recs.extend(book.close_all(T0 + 100))
    closed = [a for a in recs.activities if a.closed]
    got = [(a.activity, a.zone, a.start_ts - T0, a.end_ts - T0) for a in closed]
    assert got == [
        ("walking", None, 0, 9),
        ("browsing", "shelf", 10, 29),
        ("standing", "shelf", 30, 34),
        ("fallen", "shelf", 35, 38),
    ]
    alerts = [e for e in recs.events if e.kind == EventKind.ALERT]
    assert len(alerts) == 1 and alerts[0].ts == T0 + 35 and alerts[0].zone == "shelf"
    assert alerts[0].payload["alert"] == "fallen"

    store = EventStore(tmp_path, "shop")
    store.write(recs)
    store.flush()
    stats = {(s.zone, s.activity): s.total_s for s in q.activity_stats(store, "2026-01-05")}
    assert stats == {
        (None, "walking"): 9.0,
        ("shelf", "browsing"): 19.0,
        ("shelf", "standing"): 4.0,
        ("shelf", "fallen"): 3.0,
    }
    shelf = q.activity_stats(store, "2026-01-05", zone="shelf")
    assert [s.activity for s in shelf] == ["browsing", "standing", "fallen"]


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_fall_alert_webhook_posts_to_local_server_and_failures_are_logged() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        book = VisitBook(site())
        recs = book.observe_many(("G1", labelled(ts, a, z)) for ts, a, z in script())
        hook = AlertWebhook(f"http://127.0.0.1:{server.server_port}/alerts", timeout_s=2.0)
        assert hook.send(recs.events) == 1
        [body] = _Hook.received
        assert body["kind"] == "alert" and body["global_id"] == "G1"
        assert body["payload"]["alert"] == "fallen" and body["ts"] == T0 + 35
    finally:
        server.shutdown()
        server.server_close()
    dead = AlertWebhook(f"http://127.0.0.1:{server.server_port}/alerts", timeout_s=0.5)
    assert dead.send(recs.events) == 0 and dead.failures == 1  # logged, not raised
    with pytest.raises(ValueError, match="http"):
        AlertWebhook("ftp://x")


def test_webhook_in_the_background_never_blocks_the_caller() -> None:
    """post_later returns at once even when the receiver hangs; drain waits for delivery."""
    release = threading.Event()
    got: list[dict[str, Any]] = []

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            release.wait(10)
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        book = VisitBook(site())
        recs = book.observe_many(("G1", labelled(ts, a, z)) for ts, a, z in script())
        hook = AlertWebhook(f"http://127.0.0.1:{server.server_port}/a", timeout_s=5.0)
        assert hook.post_later(recs.events) == 1  # returned while the receiver hangs
        assert hook.drain(timeout_s=0.2) is False and got == []
        release.set()
        assert hook.drain(timeout_s=10) is True
        assert hook.sent == 1 and [b["kind"] for b in got] == ["alert"]
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_activity_config_validates() -> None:
    from mcvision.config import ConfigError

    with pytest.raises(ConfigError, match=r"activity\.webhook_url"):
        parse_config(
            {
                "site_id": "s",
                "cameras": [{"id": "c", "source": "a.mp4"}],
                "activity": {"webhook_url": "nope"},
            }
        )
    cfg = parse_config(
        {
            "site_id": "s",
            "cameras": [{"id": "c", "source": "a.mp4"}],
            "activity": {"enabled": True, "thresholds": {"walk_speed": 0.4}},
        }
    )
    mon = ActivityMonitor.from_config(cfg.activity)
    assert isinstance(mon.classifier, RuleClassifier) and mon.classifier.th.walk_speed == 0.4
    assert Activity.FALLEN.value == "fallen"


# ---- depth cue: walking towards/away from the camera ---------------------------------------
def depth_walk(
    rate: float, seconds: float = 5.0, jitter: float = 0.0, seed: int = 0, drift_px: float = 0.0
) -> list[Observation]:
    """A person whose box height changes by ``exp(rate * t)`` with the foot nearly fixed."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(int(seconds * FPS) + 1):
        t = i / FPS
        h = 150 * math.exp(rate * t) * (1 + jitter * rng.standard_normal())
        x = 300 + drift_px * t + jitter * 50 * rng.standard_normal()
        foot = 380 + 10 * rate * t
        out.append(
            Observation(ts=1000 + t, box=np.array([x - 0.2 * h, foot - h, x + 0.2 * h, foot]))
        )
    return out


@pytest.mark.parametrize(
    ("rate", "jitter", "expected"),
    [
        (0.28, 0.0, "walking"),  # towards the camera at 1.4 m/s from 5 m
        (-0.28, 0.0, "walking"),  # away from it
        (0.25, 0.01, "walking"),  # with 1 % box jitter
        (0.0, 0.02, "standing"),  # standing still, 2 % box-height jitter
        (0.08, 0.0, "standing"),  # a slow sway towards the camera stays standing
    ],
)
def test_depth_cue_labels_walks_towards_the_camera(
    rate: float, jitter: float, expected: str
) -> None:
    from mcvision.vision.activity import speed

    track = TrackActivity(build_classifier("rules"))
    obs = depth_walk(rate, jitter=jitter)
    for o in obs:
        track.observe(o)
    raw = [r for _, r in track.raw]
    assert all(speed(obs[k : k + 6]) < 0.25 for k in range(0, 20, 5))  # the foot barely moves
    assert raw.count(expected) >= len(raw) - 1 and track.label == expected


def test_depth_rate_is_a_robust_fit_not_the_end_boxes() -> None:
    from mcvision.vision.activity import depth_rate, motion

    still = depth_walk(0.0, seconds=1.0)
    assert depth_rate(still) == pytest.approx(0.0, abs=1e-9)
    # one glitchy box at the end (a detection cut in half): the ends alone would say 0.69/s
    glitch = [
        *still[:-1],
        Observation(ts=still[-1].ts, box=still[-1].box * [1, 1, 1, 1] + np.array([0, 75, 0, 0])),
    ]
    assert depth_rate(glitch) < 0.1
    assert motion(glitch, RuleClassifier().th) < 1.0
    grow = depth_walk(0.3, seconds=1.0)
    assert depth_rate(grow) == pytest.approx(0.3, rel=1e-6)


@pytest.mark.parametrize(
    ("speed_h", "rate", "expected"),
    [
        (0.2, 0.0, "standing"),  # 0.8 of walk_speed alone
        (0.0, 0.16, "standing"),  # 0.8 of walk_depth_rate alone
        (0.2, 0.16, "walking"),  # both at 0.8: hypot = 1.13 >= 1
    ],
)
def test_motion_combines_image_speed_and_depth_rate(
    speed_h: float, rate: float, expected: str
) -> None:
    window = [
        Observation(
            ts=t,
            box=np.array(
                [speed_h * 100 * t, 100 - 100 * math.exp(rate * t), speed_h * 100 * t + 40, 100.0]
            ),
        )
        for t in np.arange(0, 1.01, 0.2)
    ]
    assert RuleClassifier().classify(window) == expected


# ---- fall confirmation (fake confirmers; the real model is in test_activity_real.py) -------
class Says:
    def __init__(self, verdict: bool) -> None:
        self.verdict = verdict
        self.seen: list[np.ndarray | None] = []

    def confirm(self, window: Any) -> bool:
        self.seen.append(window[-1].person_crop())
        return self.verdict


@pytest.mark.parametrize(
    ("with_kp", "verdict", "expected"),
    [
        (True, True, "fallen"),
        (True, False, "bending"),  # torso at 90 degrees but no fall: the next rule
        (False, True, "fallen"),
        (False, False, "standing"),  # a wide box, not confirmed
    ],
)
def test_fall_confirmer_keeps_or_drops_fallen(with_kp: bool, verdict: bool, expected: str) -> None:
    box, kp = skeleton("fallen", 300)
    clf = RuleClassifier(fall_confirmer=Says(verdict))
    window = [Observation(ts=t, box=box, keypoints=kp if with_kp else None) for t in (0, 0.5, 1)]
    assert clf.classify(window) == expected


def test_confirmer_is_asked_only_for_fallen_and_gets_the_crop() -> None:
    says = Says(True)
    mon = ActivityMonitor(RuleClassifier(fall_confirmer=says), min_label_s=0)
    assert mon.needs_images and not ActivityMonitor(RuleClassifier()).needs_images
    image = np.zeros((500, 800, 3), np.uint8)
    upright = np.array([[100, 100, 160, 300]], np.float32)
    lying = np.array([[300, 350, 600, 450]], np.float32)
    for t, box in [(0.0, upright), (0.5, upright), (1.0, upright), (1.5, lying), (2.0, lying)]:
        labels = mon.update(t, Detections(xyxy=box, tracker_id=np.array([4])), image=image)
    assert labels[4] == "fallen"
    assert len(says.seen) == 1  # one tick said fallen (t = 2.0); the standing tick asked nothing
    crop = says.seen[0]
    assert crop is not None and crop.shape == (130, 390, 3)  # the lying box padded by 15 %
    window = mon.tracks[4].window
    # the newest observation holds the frame (by reference), older ones let it go
    assert window[-1].frame is image and not any(o.has_image for o in list(window)[:-1])


def test_fall_model_config_errors() -> None:
    from mcvision.vision.weights import WeightsNotFound

    base = {"site_id": "s", "cameras": [{"id": "c", "source": "a.mp4"}]}
    cfg = parse_config({**base, "activity": {"fall_model": "no_such_fall_model.pt"}})
    with pytest.raises(WeightsNotFound, match="no_such_fall_model"):
        ActivityMonitor.from_config(cfg.activity)

    @register_classifier("test-learned")
    class Learned:
        def __init__(self, th: Any) -> None:
            pass

        def classify(self, window: Any) -> str:
            return "standing"

    cfg = parse_config(
        {
            **base,
            "activity": {"classifier": "test-learned", "fall_model": "fall_yolov8_normal_fall.pt"},
        }
    )
    with pytest.raises(ValueError, match="not rule-based"):
        ActivityMonitor.from_config(cfg.activity)
    from mcvision.config import ConfigError

    with pytest.raises(ConfigError, match=r"walk_depth_rate"):
        parse_config({**base, "activity": {"thresholds": {"walk_depth_rate": 0}}})
    with pytest.raises(ConfigError, match=r"fall_conf"):
        parse_config({**base, "activity": {"fall_conf": 1.5}})


# ---- onsets: intervals start where the label started, not where smoothing let it through ------
def test_intervals_are_back_dated_to_the_label_onset(tmp_path: Any) -> None:
    book = VisitBook(site())
    ups = [labelled(T0 + t, "walking") for t in range(10)]
    for t in range(12, 20):  # the smoother let "standing" through at +12; it began at +10
        u = labelled(T0 + t, "standing", "shelf" if t >= 16 else None)
        u.activity_since = T0 + 10
        ups.append(u)
    recs = book.observe_many(("G1", u) for u in ups)
    recs.extend(book.close_all(T0 + 100))
    closed = [
        (a.activity, a.zone, a.start_ts - T0, a.end_ts - T0) for a in recs.activities if a.closed
    ]
    # walking ends at the onset; standing starts there; a zone change is not back-dated
    assert closed == [
        ("walking", None, 0, 9),
        ("standing", None, 10, 15),
        ("standing", "shelf", 16, 19),
    ]
    store = EventStore(tmp_path, "shop")
    store.write(recs)
    store.flush()
    stats = {(s.zone, s.activity): s.total_s for s in q.activity_stats(store, "2026-01-05")}
    assert stats == {(None, "walking"): 9.0, (None, "standing"): 5.0, ("shelf", "standing"): 3.0}


def test_back_dating_trims_the_previous_interval_and_alerts_keep_their_time() -> None:
    book = VisitBook(site())
    ups = [labelled(T0 + t, "standing") for t in range(6)]
    late = labelled(T0 + 8, "sitting")
    late.activity_since = T0 + 4  # the previous run was still emitted at +4, +5
    fall = labelled(T0 + 12, "fallen")
    fall.activity_since = T0 + 12
    recs = book.observe_many(("G1", u) for u in [*ups, late, fall])
    closed = [(a.activity, a.start_ts - T0, a.end_ts - T0) for a in recs.activities if a.closed]
    assert closed == [("standing", 0, 4), ("sitting", 4, 8)]
    [alert] = [e for e in recs.events if e.kind == EventKind.ALERT]
    assert alert.ts == T0 + 12 and alert.payload["onset_ts"] == T0 + 12


def test_monitor_passes_each_label_onset_on_the_updates() -> None:
    mon = ActivityMonitor(build_classifier("rules"))
    seen = []
    for i in range(60):
        t = i / FPS
        x = 100 + 160 * min(t, 6.0)  # walks for 6 s, then stands
        box = np.array([x, 0, x + 40, 100], np.float32)
        ups = [TrackletUpdate("cam", 5, t, box, np.zeros(2))]
        mon.label_updates(t, ups, Detections(xyxy=box[None], tracker_id=np.array([5])))
        seen.append((t, ups[0].activity, ups[0].activity_since))
    first_standing = next((t, s) for t, a, s in seen if a == "standing")
    t_emit, since = first_standing
    assert since is not None and 6.0 <= since < t_emit  # begun before it was let through
    assert t_emit - since == pytest.approx(1.0)  # the 2 s smoothing: 1 tick earlier
