"""Human activity per track and second: rules over motion and pose, behind a registry.

Labels (:class:`Activity`): ``walking``, ``standing``, ``browsing``, ``sitting``,
``bending`` and ``fallen``. Each track is classified once per ``period_s`` (1 s)
from a window of its last ``window_s`` of observations (box, foot point, COCO-17
keypoints when pose runs, zones):

- **speed**: the foot point's image velocity over the window (a robust Theil–Sen fit
  of x and y over time) divided by the median box height, in *body heights per
  second*, so it does not depend on how far the person is from the camera (a walk
  across the view is ~0.6–1 h/s);
- **depth rate**: ``|d ln(h)/dt|`` of the box height ``h`` (Theil–Sen slope of
  ``ln h`` over the window), per second: a person walking towards or away from the
  camera barely moves the foot point but grows or shrinks (1.4 m/s from 5 m:
  ~0.28/s); box jitter of a standing person stays below ~0.05/s;
- **motion**: both combined, ``hypot(speed / walk_speed, depth rate /
  walk_depth_rate)``, in units of the walking thresholds (1 is the boundary);
- **torso angle**: the hip-centre → shoulder-centre vector against image-up, in
  degrees (0 upright, 90 lying);
- **thigh angle**: hip → knee against image-down (0 standing legs, ~90 seated);
- **arm motion**: spread of the wrists relative to the shoulder centre over the
  window, in box heights; **reach**: a wrist raised to shoulder height or held
  out sideways.

The rule classifier (:class:`RuleClassifier`, registered as ``"rules"``) decides,
first match wins: ``fallen`` (torso ≥ ``fallen_torso_deg``, or a box lying on its
side ``w/h ≥ fallen_aspect`` without an upright torso), ``walking`` (motion ≥ 1),
``sitting`` (upright torso, thighs ≥ ``sit_thigh_deg``),
``bending`` (torso ≥ ``bend_torso_deg``), ``browsing`` (in a zone, with arm
motion ≥ ``arm_motion`` or a reach), else ``standing``. Without keypoints only
``walking``, ``standing`` and the box-shape ``fallen`` are possible.

A fall confirmer (:class:`FallConfirmer`; :class:`FallModel`, a YOLO ``Normal``/
``Fall`` detector on the person crop, set by ``activity.fall_model``) can veto the
``fallen`` rule: a window it does not confirm goes on down the rules (``bending``,
``standing``, ...). It needs the frames: :meth:`ActivityMonitor.update` keeps its
``image`` argument on the newest observation when the classifier asks
(``needs_crops``), and the person crop is cut only when the rules say ``fallen``.

Smoothing (:class:`LabelSmoother`): a new label replaces the current one only
after it was the raw label for ``min_label_s`` (2 s) of consecutive ticks, so no
smoothed label lasts less than that — except ``fallen``, which switches at once
(and so may cut the label before it short).

Per camera, :class:`ActivityMonitor` keeps one :class:`TrackActivity` per local
track and labels every update. Per person, :class:`ActivityBook` turns the
labelled sightings into :class:`~mcvision.types.ActivityInterval` records (one
per visit, zone and label run) and an ``alert`` event when a ``fallen`` interval
opens; :class:`AlertWebhook` POSTs such alerts to a URL.

A learned model replaces the rules by registering a factory under a new name
(:func:`register_classifier`) and naming it in ``activity.classifier``.

Modules: :mod:`.features` (labels, thresholds, observations, geometry),
:mod:`.classifiers` (the registry), :mod:`.rules` (the rules and the fall confirmer),
:mod:`.smoothing`, :mod:`.monitor` (per camera and track), :mod:`.book` (intervals and
alerts per person), :mod:`.alerts` (the webhook).

Example:
    >>> import numpy as np
    >>> clf = build_classifier("rules")
    >>> walk = [Observation(ts=t, box=np.array([100 + 80 * t, 0, 140 + 80 * t, 100]))
    ...         for t in np.arange(0, 1.01, 0.2)]
    >>> clf.classify(walk)
    'walking'
    >>> clf.classify([Observation(ts=t, box=np.array([100, 0, 140, 100])) for t in (0, 0.5, 1)])
    'standing'
"""

from __future__ import annotations

from mcvision.vision.activity.alerts import AlertWebhook
from mcvision.vision.activity.book import ActivityBook
from mcvision.vision.activity.classifiers import (
    ActivityClassifier,
    available_classifiers,
    build_classifier,
    classifier_needs_keypoints,
    register_classifier,
)
from mcvision.vision.activity.features import (
    Activity,
    Observation,
    Thresholds,
    arm_motion,
    crop_person,
    depth_rate,
    motion,
    reaching,
    speed,
    thigh_angle,
    torso_angle,
)
from mcvision.vision.activity.model_classifiers import (
    HybridClassifier,
    NFDClassifier,
    PostureClassifier,
    StandingFallClassifier,
)
from mcvision.vision.activity.monitor import ActivityMonitor, TrackActivity, classify_all
from mcvision.vision.activity.rules import FallConfirmer, FallModel, RuleClassifier
from mcvision.vision.activity.smoothing import LabelSmoother, smooth_labels

__all__ = [
    "Activity",
    "ActivityBook",
    "ActivityClassifier",
    "ActivityMonitor",
    "AlertWebhook",
    "FallConfirmer",
    "FallModel",
    "HybridClassifier",
    "LabelSmoother",
    "NFDClassifier",
    "Observation",
    "PostureClassifier",
    "RuleClassifier",
    "StandingFallClassifier",
    "Thresholds",
    "TrackActivity",
    "arm_motion",
    "available_classifiers",
    "build_classifier",
    "classifier_needs_keypoints",
    "classify_all",
    "crop_person",
    "depth_rate",
    "motion",
    "reaching",
    "register_classifier",
    "smooth_labels",
    "speed",
    "thigh_angle",
    "torso_angle",
]
