"""Classifiers over the learned models, registered beside the rules.

- ``posture_lstm``: the posture LSTM alone: ``standing`` / ``sitting`` / ``lying``.
- ``standing_fall``: the standing-fall head alone: ``fallen`` when p(fall) ≥
  ``fall_p``, else ``standing``.
- ``nfd_fall``: the NFD temporal head alone: ``descending`` or ``fallen`` → ``fallen``,
  ``normal`` / ``recovering`` → ``standing``.
- ``hybrid``: the models where they have the class, the rules where none has
  (walking, bending, browsing): ``walking`` when the rules' motion says so; the
  posture LSTM's ``lying`` becomes ``fallen`` only when the same history shows the
  person upright (torso within ``bend_torso_deg`` of vertical and a box ``upright_aspect``
  times taller than wide, in at least ``upright_frames`` frames) within
  ``fall_window_s`` and the standing-fall head's p(fall) ≥ ``fall_p`` (a fall: upright
  → down fast), else ``lying`` (lying down on purpose, or already lying when first
  seen); ``bending`` on a bent torso (the rules' torso angle; before walking: bending
  down moves the box like a step); ``walking`` when the rules' motion says so;
  ``sitting`` from the posture LSTM; otherwise the rules (``browsing``,
  ``standing``). ``fallen`` and ``bending`` (short: ~1 s) switch the smoothed label at
  once; once ``fallen``, the smoother keeps it until the person is up again (standing
  or walking; :class:`~mcvision.vision.activity.smoothing.LabelSmoother`'s ``holds``).

Every one of them classifies a batch of tracks at once (:meth:`classify_batch`, one
model run per batch) and needs keypoints: a window without any falls back to the
rules (walking, standing and the box-shape ``fallen``).

Example:
    >>> clf = build_classifier("hybrid")  # doctest: +SKIP
    >>> clf.classify_batch([history_a, history_b])  # doctest: +SKIP
    ['walking', 'fallen']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from mcvision.vision.activity.classifiers import register_classifier
from mcvision.vision.activity.features import Activity, Observation, Thresholds, torso_angle
from mcvision.vision.activity.learned import (
    NFD_CLASSES,
    POSTURE_CLASSES,
    NFDHead,
    PostureLSTM,
    StandingFallHead,
    keypoint_history,
)
from mcvision.vision.activity.rules import RuleClassifier

__all__ = [
    "HybridClassifier",
    "NFDClassifier",
    "PostureClassifier",
    "StandingFallClassifier",
]


def _shoulder_y(o: Observation, conf: float) -> float | None:
    kp = o.keypoints
    if kp is None:
        return None
    ys = [kp[i, 1] for i in (5, 6) if kp[i, 2] >= conf]
    return float(np.mean(ys)) if ys else None


class _Learned:
    """Shared parts: the rules for fallback, batching, the rules' own window."""

    #: seconds of history each tick looks at (the monitor keeps this much per track)
    history_s: float = 4.0
    #: reads pose keypoints (without pose, :meth:`ActivityMonitor.from_config` uses the rules)
    needs_keypoints = True

    def __init__(self, thresholds: Thresholds | None = None, rules_window_s: float = 1.0) -> None:
        self.th = thresholds or Thresholds()
        self.rules = RuleClassifier(self.th)
        self.rules_window_s = rules_window_s

    @property
    def needs_crops(self) -> bool:
        """Whether observations should carry images (the rules' fall confirmer, if any)."""
        return self.rules.needs_crops

    def rules_window(self, window: Sequence[Observation]) -> list[Observation]:
        """The last ``rules_window_s`` of ``window`` (what the rules look at)."""
        end = window[-1].ts
        return [o for o in window if end - o.ts <= self.rules_window_s + 1e-9]

    def classify(self, window: Sequence[Observation]) -> str:
        return self.classify_batch([window])[0]

    def classify_batch(self, windows: Sequence[Sequence[Observation]]) -> list[str]:
        """One label per window (each a track's history, oldest first)."""
        if any(not w for w in windows):
            raise ValueError("classify: a window holds no observations")
        out: list[str | None] = [None] * len(windows)
        hists, idx = [], []
        for i, w in enumerate(windows):
            h = keypoint_history(w)
            if h:
                hists.append(h)
                idx.append(i)
            else:
                out[i] = self.rules.classify(self.rules_window(w))
        if hists:
            for i, lab in zip(idx, self._labels(hists, [windows[i] for i in idx]), strict=True):
                out[i] = lab
        return [str(o) for o in out]

    def _labels(
        self, hists: list[list[Observation]], windows: list[Sequence[Observation]]
    ) -> list[str]:
        raise NotImplementedError


@register_classifier("posture_lstm")
class PostureClassifier(_Learned):
    """The posture LSTM alone: standing / sitting / lying."""

    history_s = 1.0

    def __init__(
        self, thresholds: Thresholds | None = None, model: PostureLSTM | None = None
    ) -> None:
        super().__init__(thresholds)
        self.model = model or PostureLSTM()
        self.history_s = self.model.span_s

    def _labels(
        self, hists: list[list[Observation]], windows: list[Sequence[Observation]]
    ) -> list[str]:
        p = self.model.predict(hists)
        return [POSTURE_CLASSES[int(k)] for k in p.argmax(axis=1)]


@register_classifier("standing_fall")
class StandingFallClassifier(_Learned):
    """The standing-fall head alone: fallen when p(fall) ≥ ``fall_p``, else standing."""

    def __init__(
        self,
        thresholds: Thresholds | None = None,
        model: StandingFallHead | None = None,
        fall_p: float = 0.5,
    ) -> None:
        super().__init__(thresholds)
        self.model = model or StandingFallHead()
        self.history_s = self.model.span_s
        self.fall_p = fall_p

    def _labels(
        self, hists: list[list[Observation]], windows: list[Sequence[Observation]]
    ) -> list[str]:
        p = self.model.predict(hists)
        return [Activity.FALLEN.value if v >= self.fall_p else Activity.STANDING.value for v in p]


@register_classifier("nfd_fall")
class NFDClassifier(_Learned):
    """The NFD head alone: descending / fallen → fallen, normal / recovering → standing."""

    def __init__(self, thresholds: Thresholds | None = None, model: NFDHead | None = None) -> None:
        super().__init__(thresholds)
        self.model = model or NFDHead()
        self.history_s = self.model.span_s

    def _labels(
        self, hists: list[list[Observation]], windows: list[Sequence[Observation]]
    ) -> list[str]:
        p = self.model.predict(hists)
        return [
            Activity.FALLEN.value
            if NFD_CLASSES[int(k)] in ("descending", "fallen")
            else Activity.STANDING.value
            for k in p.argmax(axis=1)
        ]


@register_classifier("hybrid")
class HybridClassifier(_Learned):
    """Posture LSTM + standing-fall head + rules (see the module doc).

    The defaults (``fall_p`` 0.5, ``fall_window_s`` 3, the posture LSTM over 1 s) were
    tuned on the UP-Fall trial-1 clips (``benchmarks/results/activity_clips.json``).

    Args:
        thresholds: the rules' thresholds (walking, bending, browsing; ``bend_torso_deg``
            also marks an upright frame).
        posture, fall: the models (loaded from the assets when None).
        fall_p: standing-fall p(fall) that makes lying a fall.
        fall_window_s: an upright frame must be this recent for lying to be a fall.
        upright_frames: upright frames needed in that window (one noisy frame is not).
        upright_aspect: box height / width of an upright frame.
        drop: how far the shoulders must have dropped since the upright frames, in
            upright box heights, for lying to be a fall.
        crouch_ratio: a box this fraction of its recent height, feet in place, is bending.
        fall_lag_s: the fall head also looks at the history this much earlier (the
            descent can fall out of its 2 s window by the time the posture says lying).
        sit_p: posture p(sitting) that makes a sitting label.
    """

    immediate_labels = (Activity.FALLEN.value, Activity.BENDING.value)
    #: a fallen person stays fallen until up (standing or walking)
    hold_labels: ClassVar[dict[str, tuple[str, ...]]] = {
        Activity.FALLEN.value: (
            Activity.LYING.value,
            Activity.BENDING.value,
            Activity.SITTING.value,
        ),
    }

    def __init__(
        self,
        thresholds: Thresholds | None = None,
        posture: PostureLSTM | None = None,
        fall: StandingFallHead | None = None,
        *,
        fall_p: float = 0.5,
        fall_window_s: float = 3.0,
        upright_frames: int = 3,
        upright_aspect: float = 1.5,
        drop: float = 0.25,
        crouch_ratio: float = 0.8,
        fall_lag_s: float = 1.0,
        sit_p: float = 0.5,
    ) -> None:
        super().__init__(thresholds)
        self.posture = posture or PostureLSTM()
        self.fall = fall or StandingFallHead()
        self.fall_p = fall_p
        self.fall_window_s = fall_window_s
        self.sit_p = sit_p
        self.upright_frames = upright_frames
        self.upright_aspect = upright_aspect
        self.drop = drop
        self.crouch_ratio = crouch_ratio
        self.fall_lag_s = fall_lag_s
        self.history_s = max(self.posture.span_s, self.fall.span_s, fall_window_s)
        self.last_scores: list[dict[str, float]] = []

    def _upright(self, o: Observation) -> bool:
        if o.keypoints is None:
            return False
        w, h = float(o.box[2] - o.box[0]), float(o.box[3] - o.box[1])
        a = torso_angle(o.keypoints, self.th.kp_conf)
        return a is not None and a < self.th.bend_torso_deg and h >= self.upright_aspect * w

    def _fell(self, hist: Sequence[Observation]) -> bool:
        """Upright frames within ``fall_window_s``, and the shoulders dropped since them."""
        end = hist[-1].ts
        recent = [o for o in hist if end - o.ts <= self.fall_window_s + 1e-9]
        up = [o for o in recent if self._upright(o)]
        if len(up) < self.upright_frames:
            return False
        h_up = float(np.median([o.box[3] - o.box[1] for o in up]))
        y_up = min(_shoulder_y(o, self.th.kp_conf) or np.inf for o in up)
        now = [o for o in recent if end - o.ts <= 0.35]
        ys = [y for o in now if (y := _shoulder_y(o, self.th.kp_conf)) is not None]
        h_now = float(np.median([o.box[3] - o.box[1] for o in now]))
        w_now = float(np.median([o.box[2] - o.box[0] for o in now]))
        if h_now <= 0.5 * h_up:
            return True
        # shoulders down, and the body no longer upright-shaped (a walker's shoulders can
        # drop in the image near the camera; their box stays tall and narrow)
        dropped = bool(ys) and float(np.median(ys)) - y_up >= self.drop * h_up
        return dropped and (h_now <= 0.8 * h_up or w_now >= 0.7 * h_now)

    def _crouched(self, hist: Sequence[Observation]) -> bool:
        """The box shrank to ``crouch_ratio`` of its recent height with the feet in place."""
        end = hist[-1].ts
        recent = [o for o in hist if end - o.ts <= self.fall_window_s + 1e-9]
        now = [o for o in recent if end - o.ts <= 0.35]
        h_max = max(float(o.box[3] - o.box[1]) for o in recent)
        tall = max(recent, key=lambda o: float(o.box[3] - o.box[1]))
        h_now = float(np.median([o.box[3] - o.box[1] for o in now]))
        foot = float(np.median([(o.box[0] + o.box[2]) / 2 for o in now]))
        moved = abs(foot - (tall.box[0] + tall.box[2]) / 2) / max(h_max, 1.0)
        return h_now <= self.crouch_ratio * h_max and moved < 0.25

    def _bent(self, window: Sequence[Observation]) -> bool:
        angles = [
            torso_angle(o.keypoints, self.th.kp_conf) for o in window if o.keypoints is not None
        ]
        vals = [a for a in angles if a is not None]
        return bool(vals) and float(np.median(vals)) >= self.th.bend_torso_deg

    def _labels(
        self, hists: list[list[Observation]], windows: list[Sequence[Observation]]
    ) -> list[str]:
        posture = self.posture.predict(hists)
        # the fall head on the history now and on it ``fall_lag_s`` ago (one batch): a
        # fall seen at the previous tick still counts once the person lies still
        prev = [[o for o in h if o.ts <= h[-1].ts - self.fall_lag_s + 1e-9] or h[:1] for h in hists]
        both = self.fall.predict([*hists, *prev])
        fall = np.maximum(both[: len(hists)], both[len(hists) :])
        out, scores = [], []
        for h, w, p, pf in zip(hists, windows, posture, fall, strict=True):
            k = POSTURE_CLASSES[int(np.argmax(p))]
            scores.append(
                {
                    "standing": float(p[0]),
                    "sitting": float(p[1]),
                    "lying": float(p[2]),
                    "fall": float(pf),
                }
            )
            if k == "lying":
                fell = pf >= self.fall_p and self._fell(h)
                out.append(Activity.FALLEN.value if fell else Activity.LYING.value)
                continue
            rw = self.rules_window(w)
            if p[1] >= self.sit_p:
                out.append(Activity.SITTING.value)
                continue
            if self._bent(rw) or self._crouched(h):
                out.append(Activity.BENDING.value)
                continue
            rules = self.rules.classify(rw)
            if rules == Activity.WALKING.value:
                out.append(rules)
            elif p[1] >= self.sit_p:
                out.append(Activity.SITTING.value)
            elif rules == Activity.FALLEN.value:
                # the rules see a lying shape the posture model does not: a bent torso
                out.append(Activity.BENDING.value)
            else:
                out.append(rules)
        self.last_scores = scores
        return out
