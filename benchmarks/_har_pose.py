"""Pose keypoints per clip, cached: run the pose model once per clip, replay cheaply.

Every ``step``-th frame of a clip goes through :class:`~mcvision.vision.pose.PoseEstimator`
on the whole frame (it finds the people itself); all people found are kept, the
main subject is chosen at scoring time. The cache is one ``.npz`` per clip in a work
folder, keyed by the clip's relative path, its size and the frame step, so a
classifier variant replays the keypoints without running the pose model again.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class ClipPose:
    """All people the pose model found in a clip's sampled frames.

    Attributes:
        fps: the clip's frame rate.
        step: every ``step``-th frame was run.
        n_frames: frames in the clip.
        size: (width, height) of the frames.
        frame: (M,) frame index of each person row.
        boxes: (M, 4) xyxy pixels.
        keypoints: (M, 17, 3) x, y, score.
        conf: (M,) person confidence.
        seconds: wall seconds the pose model took (when it ran).
    """

    fps: float
    step: int
    n_frames: int
    size: tuple[int, int]
    frame: np.ndarray
    boxes: np.ndarray
    keypoints: np.ndarray
    conf: np.ndarray
    seconds: float = 0.0

    def sampled_frames(self) -> np.ndarray:
        """Indices of the frames the pose model ran on."""
        return np.arange(0, self.n_frames, self.step)

    def main_subject(
        self, min_iou: float = 0.1, max_jump: float = 0.6, lost_s: float = 1.0
    ) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """Per sampled frame: (frame, box, keypoints) of the main subject.

        The main subject is the largest (tallest box) person in the first frame with
        anyone in it, then followed: the best-overlapping person (IoU ≥ ``min_iou``), or
        the nearest one whose box centre moved less than ``max_jump`` of the last box
        height (a fall changes the box fast); a subject who crouches or falls and is
        briefly smaller than someone in the background stays the subject. After
        ``lost_s`` without a match, the person nearest the last position is taken.
        (Box height, not area: a person standing far away is taller than one sitting
        nearer, whose box is wider.)
        """
        from mcvision.vision.pose import box_iou

        out: list[tuple[int, np.ndarray, np.ndarray]] = []
        last: np.ndarray | None = None
        last_f = -(10**9)
        for f in np.unique(self.frame):
            rows = np.flatnonzero(self.frame == f)
            b = self.boxes[rows]
            if last is None:
                r = rows[int(np.argmax(b[:, 3] - b[:, 1]))]
            else:
                iou = box_iou(last[None], b)[0]
                c_last = (last[:2] + last[2:]) / 2
                jump = np.linalg.norm((b[:, :2] + b[:, 2:]) / 2 - c_last, axis=1) / max(
                    float(last[3] - last[1]), 1.0
                )
                if iou.max() >= min_iou:
                    r = rows[int(np.argmax(iou))]
                elif jump.min() <= max_jump or (f - last_f) / self.fps > lost_s:
                    r = rows[int(np.argmin(jump))]
                else:
                    continue
            last, last_f = self.boxes[r], f
            out.append((int(f), self.boxes[r], self.keypoints[r]))
        return out


def _key(clip: Path, root: Path, step: int) -> str:
    rel = clip.resolve().relative_to(root.resolve()).as_posix()
    h = hashlib.sha1(f"{rel}|{clip.stat().st_size}|{step}".encode()).hexdigest()[:12]
    return f"{rel.replace('/', '_').rsplit('.', 1)[0]}-{h}.npz"


def _truncate(cp: ClipPose, max_frames: int | None) -> ClipPose:
    if max_frames is None or cp.n_frames <= max_frames:
        return cp
    keep = cp.frame < max_frames
    return ClipPose(
        fps=cp.fps,
        step=cp.step,
        n_frames=max_frames,
        size=cp.size,
        frame=cp.frame[keep],
        boxes=cp.boxes[keep],
        keypoints=cp.keypoints[keep],
        conf=cp.conf[keep],
        seconds=cp.seconds * max_frames / max(cp.n_frames, 1),
    )


def load_or_run(
    clip: Path,
    root: Path,
    work: Path,
    *,
    step: int = 1,
    poser: object | None = None,
    weights: str = "yolov8n-pose_int8_openvino_model",
    max_s: float | None = None,
) -> ClipPose:
    """The clip's cached keypoints, running the pose model (and caching) when missing.

    ``max_s``: only the clip's first ``max_s`` seconds (a cache of more serves it).
    """
    work.mkdir(parents=True, exist_ok=True)
    path = work / _key(clip, root, step)
    if path.exists():
        z = np.load(path)
        cp = ClipPose(
            fps=float(z["fps"]),
            step=int(z["step"]),
            n_frames=int(z["n_frames"]),
            size=(int(z["size"][0]), int(z["size"][1])),
            frame=z["frame"],
            boxes=z["boxes"],
            keypoints=z["keypoints"],
            conf=z["conf"],
            seconds=float(z["seconds"]),
        )
        complete = bool(z["complete"]) if "complete" in z.files else True
        want = None if max_s is None else round(max_s * cp.fps)
        if complete or (want is not None and cp.n_frames >= want):
            return _truncate(cp, want)
    import cv2

    if poser is None:
        from mcvision.vision.pose import PoseEstimator
        from mcvision.vision.weights import resolve

        poser = PoseEstimator(resolve(weights))
    cap = cv2.VideoCapture(str(clip))
    if not cap.isOpened():
        raise ValueError(f"cannot open clip {clip}")
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or 18.0
    limit = None if max_s is None else round(max_s * fps)
    frames, boxes, kps, confs = [], [], [], []
    i, size, spent, complete = 0, (0, 0), 0.0, True
    while True:
        if limit is not None and i >= limit:
            complete = False
            break
        ok, img = cap.read()
        if not ok:
            break
        size = (img.shape[1], img.shape[0])
        if i % step == 0:
            t0 = time.perf_counter()
            [d] = poser.estimate([img])  # type: ignore[attr-defined]
            spent += time.perf_counter() - t0
            for j in range(len(d)):
                frames.append(i)
                boxes.append(d.xyxy[j])
                kps.append(d.keypoints[j])
                confs.append(d.confidence[j] if d.confidence is not None else 1.0)
        i += 1
    cap.release()
    cp = ClipPose(
        fps=fps,
        step=step,
        n_frames=i,
        size=size,
        frame=np.asarray(frames, np.int32),
        boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
        keypoints=np.asarray(kps, np.float32).reshape(-1, 17, 3),
        conf=np.asarray(confs, np.float32),
        seconds=spent,
    )
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp,
        fps=cp.fps,
        step=cp.step,
        n_frames=cp.n_frames,
        size=np.array(cp.size),
        frame=cp.frame,
        boxes=cp.boxes,
        keypoints=cp.keypoints,
        conf=cp.conf,
        seconds=spent,
        complete=complete,
    )
    tmp.replace(path)
    return cp
