"""The rule classifier (``"rules"``) and its optional fall confirmer (a Normal/Fall YOLO on the crop)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from mcvision.vision.activity.classifiers import register_classifier
from mcvision.vision.activity.features import (
    Activity,
    Observation,
    Thresholds,
    _height,
    arm_motion,
    motion,
    reaching,
    thigh_angle,
    torso_angle,
)

if TYPE_CHECKING:
    from mcvision.config import ActivityConfig

log = logging.getLogger(__name__)


@register_classifier("rules")
class RuleClassifier:
    """Geometric rules over motion and pose (see the module doc for the order).

    Example:
        >>> import numpy as np
        >>> lying = [Observation(ts=t, box=np.array([0, 80, 200, 140])) for t in (0, 0.5, 1)]
        >>> RuleClassifier().classify(lying)
        'fallen'
    """

    def __init__(
        self, thresholds: Thresholds | None = None, fall_confirmer: FallConfirmer | None = None
    ) -> None:
        self.th = thresholds or Thresholds()
        self.fall_confirmer = fall_confirmer

    @property
    def needs_crops(self) -> bool:
        """Whether observations should carry person crops (a fall confirmer looks at them)."""
        return self.fall_confirmer is not None

    def _fallen(self, window: Sequence[Observation]) -> bool:
        """The confirmer's verdict on a rule-``fallen`` window (True without a confirmer)."""
        return self.fall_confirmer is None or self.fall_confirmer.confirm(window)

    def _median(self, values: list[float | None]) -> float | None:
        vals = [v for v in values if v is not None]
        return float(np.median(vals)) if vals else None

    def classify(self, window: Sequence[Observation]) -> str:
        if not window:
            raise ValueError("classify: the window holds no observations")
        th = self.th
        kps = [o.keypoints for o in window if o.keypoints is not None]
        torso = self._median([torso_angle(k, th.kp_conf) for k in kps])
        thigh = self._median([thigh_angle(k, th.kp_conf) for k in kps])
        last = window[-1]
        w = float(last.box[2] - last.box[0])
        aspect = w / _height(last.box)
        lying = (torso is not None and torso >= th.fallen_torso_deg) or (
            aspect >= th.fallen_aspect and (torso is None or torso >= th.bend_torso_deg)
        )
        if lying and self._fallen(window):
            return Activity.FALLEN.value
        if motion(window, th) >= 1.0:
            return Activity.WALKING.value
        if (
            torso is not None
            and torso < th.bend_torso_deg
            and thigh is not None
            and (thigh >= th.sit_thigh_deg)
        ):
            return Activity.SITTING.value
        if torso is not None and torso >= th.bend_torso_deg:
            return Activity.BENDING.value
        if last.zones and (arm_motion(window, th.kp_conf) >= th.arm_motion or reaching(last, th)):
            return Activity.BROWSING.value
        return Activity.STANDING.value


# ---- fall confirmation ---------------------------------------------------------
class FallConfirmer(Protocol):
    """Second opinion on a window the rules call ``fallen``: True keeps the label."""

    def confirm(self, window: Sequence[Observation]) -> bool: ...


class FallModel:
    """A YOLO ``Normal``/``Fall`` person detector confirming the rules' ``fallen``.

    Run on the padded person crop of the window's newest observation that has one;
    the fall is confirmed when the model finds a ``Fall`` box with confidence ≥
    ``conf``. Without any crop in the window (the camera passes no images) there is
    nothing to look at: the rule's label stands (a warning is logged once), so a
    missing image never hides a fall.

    The weights are resolved at once (a wrong name fails fast); the model is loaded on
    the first confirmation, so a site where nobody falls never pays for it.

    Args:
        weights: reference resolved by :func:`mcvision.vision.weights.resolve`.
        conf: smallest ``Fall`` confidence that confirms.
        imgsz: inference size of the crop.
        device: "cpu", "cuda:0", ...

    Example:
        >>> fm = FallModel("fall_yolov8_normal_fall.pt")  # doctest: +SKIP
        >>> fm.scores([crop, cv2.rotate(crop, cv2.ROTATE_90_CLOCKWISE)])  # doctest: +SKIP
        [0.0, 0.78]
    """

    CLASSES = ("Normal", "Fall")

    def __init__(
        self,
        weights: str = "fall_yolov8_normal_fall.pt",
        conf: float = 0.5,
        imgsz: int = 640,
        device: str = "cpu",
    ) -> None:
        from mcvision.vision.weights import resolve

        if not 0 < conf <= 1:
            raise ValueError(f"fall model conf must be in (0, 1], got {conf}")
        self.path = resolve(weights)
        self.conf = conf
        self.imgsz = imgsz
        self.device = device
        self._model: Any = None
        self._warned = False
        self.calls = 0

    @classmethod
    def from_config(cls, cfg: ActivityConfig) -> FallModel:
        """From ``SiteConfig.activity`` (``fall_model``, ``fall_conf``)."""
        if cfg.fall_model is None:
            raise ValueError("activity.fall_model is not set")
        return cls(cfg.fall_model, conf=cfg.fall_conf)

    def _yolo(self) -> Any:
        if self._model is None:
            from mcvision.vision.detector import YoloModel

            # keep low-confidence boxes: ``conf`` is applied to the Fall score here
            self._model = YoloModel(
                self.path,
                task="detect",
                conf=0.05,
                imgsz=self.imgsz,
                classes=self.CLASSES,
                device=self.device,
            )
            self._fall_id = self._model.class_ids[1]
        return self._model

    def scores(self, crops: Sequence[np.ndarray]) -> list[float]:
        """Highest ``Fall`` confidence per BGR crop (0 where none is found)."""
        if not crops:
            return []
        model = self._yolo()
        self.calls += len(crops)
        out = []
        for r in model._predict(list(crops)):
            b = r.boxes
            if b is None or len(b) == 0:
                out.append(0.0)
                continue
            cls = b.cls.cpu().numpy().astype(int)
            confs = b.conf.cpu().numpy()
            fall = confs[cls == self._fall_id]
            out.append(float(fall.max()) if len(fall) else 0.0)
        return out

    def confirm(self, window: Sequence[Observation]) -> bool:
        crop = next((o.person_crop() for o in reversed(window) if o.has_image), None)
        if crop is None:
            if not self._warned:
                self._warned = True
                log.warning(
                    "fall model %s: no person crop to look at (the camera passes no images);"
                    " keeping the rules' fallen label",
                    self.path.name,
                )
            return True
        return self.scores([crop])[0] >= self.conf
