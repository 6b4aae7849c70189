"""Render a scenario into one MP4 per camera, a site config and the ground truth.

:func:`run_sim` is the whole job behind ``mcvision sim``:

1. take the people: cut out of MOT sequences (:mod:`mcvision.sim.people`), largest
   first, or real per-camera crops of ReID crop folders (:mod:`mcvision.sim.crop_people`);
2. plan routes (:mod:`mcvision.sim.routes`) for staff and shoppers;
3. draw each camera's floor (a textured synthetic store), paste people far to
   near at their perspective size (never above their native size), apply the
   camera's gain, colour cast and sensor noise, and write ``<camera>.mp4``;
4. write ``ground_truth.json`` (:mod:`mcvision.sim.truth`), the same truth as
   labelled footage in ``gt/`` (MOT format, :mod:`mcvision.sim.mot_export`), ``site.yaml`` (a
   :class:`~mcvision.config.SiteConfig` for ``mcvision run``, with every camera's floor
   calibration from :mod:`mcvision.sim.floor`) and
   ``render_report.json``, which includes the person detector's recall on its
   own ground truth, measured on frames decoded back from the MP4s.

Everything is drawn from the seed: the same seed and people give the same bytes
of ground truth.

Example:
    >>> res = run_sim(["footage/MOT17-mini"], "out", seed=1)  # doctest: +SKIP
    >>> res.report["people"], res.report["detector"]["recall"]  # doctest: +SKIP
    (6, 0.93)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml
from shapely import contains_xy
from shapely.geometry import Polygon

from mcvision.capture.source import read_frames
from mcvision.config import FloorAreaConfig, LineConfig, VisitConfig, parse_config
from mcvision.sim.crop_people import is_crop_folder, load_crop_sprites
from mcvision.sim.floor import calibration_points, floor_layout, to_floor
from mcvision.sim.mot_export import write_labelled_truth
from mcvision.sim.people import Sprite, load_sprites
from mcvision.sim.routes import PersonPlan, plan_people
from mcvision.sim.scenario import CameraSpec, Scenario, resolve_scenario
from mcvision.sim.truth import (
    GroundTruth,
    GTBox,
    GTCamera,
    GTPerson,
    GTTransit,
    GTVisit,
    GTZoneVisit,
    appearances,
    dump_ground_truth,
    zone_stays,
)
from mcvision.tracking.zones import LineCrossingDetector
from mcvision.types import Direction
from mcvision.vision.weights import WeightsNotFound

__all__ = ["SimResult", "detector_recall", "render_scenario", "run_sim"]


@dataclass
class SimResult:
    """What a render wrote."""

    out_dir: Path
    videos: dict[str, Path]
    site_config: Path
    ground_truth: Path
    report_path: Path
    labelled_truth: Path  # gt/: the truth in MOT format (mcvision eval --gt)
    report: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- backgrounds
def _background(cam: CameraSpec, rng: np.random.Generator) -> np.ndarray:
    """A store floor with tiles in perspective, a back wall with shelves, mats on zones."""
    h, w = cam.height, cam.width
    top = round(cam.horizon * h)
    img = np.zeros((h, w, 3), np.float32)
    wall = np.array(cam.floor, np.float32) * 0.75 + 40
    img[:top] = wall
    img[top:] = np.array(cam.floor, np.float32)
    # shelves along the back wall
    x = 0
    while x < w:
        sw = int(rng.integers(w // 10, w // 5))
        colour = rng.uniform(60, 200, 3).astype(np.float32)
        y0 = int(top * rng.uniform(0.15, 0.35))
        cv2.rectangle(img, (x + 3, y0), (x + sw - 3, top - 2), colour.tolist(), -1)
        for row in range(3):
            yy = y0 + (top - y0) * (row + 1) // 4
            cv2.line(img, (x + 3, yy), (x + sw - 3, yy), (colour * 0.5).tolist(), 2)
            for _ in range(int(rng.integers(3, 7))):
                px = int(rng.integers(x + 5, max(x + 6, x + sw - 10)))
                cv2.rectangle(
                    img, (px, yy - 8), (px + 5, yy - 1), rng.uniform(40, 240, 3).tolist(), -1
                )
        x += sw
    # floor tiles: horizontal seams closer together far away, seams converging to a point
    vx = w / 2
    for k in range(1, 12):
        y = top + (h - top) * (k / 12) ** 1.6
        cv2.line(img, (0, round(y)), (w, round(y)), (np.array(cam.floor) * 0.85).tolist(), 1)
    for k in range(-10, 11):
        xb = vx + k * w / 8
        cv2.line(
            img,
            (round(vx + k * w / 40), top),
            (round(xb), h),
            (np.array(cam.floor) * 0.85).tolist(),
            1,
        )
    # zone mats
    for z in cam.zones:
        pts = np.array([cam.px(p) for p in z.polygon], np.int32)
        mat = img.copy()
        cv2.fillPoly(mat, [pts], rng.uniform(90, 200, 3).tolist())
        img = cv2.addWeighted(mat, 0.25, img, 0.75, 0)
    # doors: dark frames at the edges
    for d in cam.doors:
        x, y = cam.px(d.point)
        dh = cam.person_height(y) * 1.2
        x0 = 0 if x < w / 2 else w - 14
        cv2.rectangle(img, (x0, round(y - dh)), (x0 + 14, round(y)), (45, 45, 50), -1)
    grain = rng.normal(0, 6, (h // 4 + 1, w // 4 + 1, 1)).astype(np.float32)
    img += cv2.resize(grain, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    return np.clip(img, 0, 255)


def _lighting(cam: CameraSpec) -> np.ndarray:
    """Per-pixel gain: the camera's gain and colour cast with a soft vignette."""
    h, w = cam.height, cam.width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
    vignette = 1.0 - 0.12 * r
    return (vignette[..., None] * cam.gain * np.array(cam.colour, np.float32)).astype(np.float32)


# ---------------------------------------------------------------- sprites
class _SpriteCache:
    def __init__(self, sprites: Sequence[Sprite]) -> None:
        self.sprites = sprites
        self._cache: dict[tuple[int, str | None, int, int], tuple[np.ndarray, np.ndarray]] = {}

    def get(
        self, sprite: int, view: str | None, frame: int, height: int
    ) -> tuple[np.ndarray, np.ndarray]:
        key = (sprite, view, frame, height)
        if key not in self._cache:
            c = self.sprites[sprite].view_cutouts(view)[frame]
            s = height / self.sprites[sprite].view_height(view)  # each real camera at its own size
            ow = max(4, round(c.width * s))
            oh = max(8, round(c.height * s))
            interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
            img = cv2.resize(c.image, (ow, oh), interpolation=interp).astype(np.float32)
            alpha = cv2.resize(c.alpha, (ow, oh), interpolation=interp)
            self._cache[key] = (img, np.clip(alpha, 0, 1))
        return self._cache[key]


def _anim_frame(n: int, index: int) -> int:
    """Ping-pong over ``n`` cutouts."""
    if n <= 1:
        return 0
    k = index % (2 * n - 2)
    return k if k < n else 2 * n - 2 - k


# ---------------------------------------------------------------- render
def render_scenario(
    sc: Scenario, sprites: Sequence[Sprite], out: Path, seed: int
) -> tuple[GroundTruth, list[PersonPlan]]:
    """Write the videos and return the ground truth (not yet saved) and the plans."""
    rng = np.random.default_rng([seed, 1])
    plans = plan_people(sc, len(sprites), rng)
    view_rng = np.random.default_rng([seed, 3])  # its own stream: MOT renders stay as they were
    cam_ids = [c.id for c in sc.cameras]
    views = [sprites[p.sprite].assign_views(cam_ids, view_rng) for p in plans]
    cache = _SpriteCache(sprites)
    n_frames = sc.frames
    frames_gt: dict[str, list[list[GTBox]]] = {}
    gt_cams: list[GTCamera] = []
    for ci, cam in enumerate(sc.cameras):
        crng = np.random.default_rng([seed, 2, ci])
        bg = _background(cam, crng)
        light = _lighting(cam)
        zones = {z.name: Polygon([cam.px(p) for p in z.polygon]) for z in cam.zones}
        path = out / f"{cam.id}.mp4"
        writer = cv2.VideoWriter(
            str(path), cv2.VideoWriter_fourcc(*"mp4v"), sc.fps, (cam.width, cam.height)
        )
        if not writer.isOpened():
            raise RuntimeError(f"cannot open a video writer for {path} (mp4v)")
        per_frame: list[list[GTBox]] = []
        legs = [(pi, leg) for pi, p in enumerate(plans) for leg in p.legs if leg.camera == cam.id]
        try:
            for i in range(n_frames):
                t = i / sc.fps
                here = []
                for pi, leg in legs:
                    pos = leg.at(t)
                    if pos is not None:
                        here.append((pos[1], pi, pos))
                here.sort(key=lambda e: (e[0], e[1]))  # far (small y) first
                img = bg.copy()
                owner = np.full((cam.height, cam.width), -1, np.int32)
                placed = []
                for _, pi, (x, y, moving) in here:
                    plan = plans[pi]
                    spr = sprites[plan.sprite]
                    view = views[pi].get(cam.id)
                    n = len(spr.view_cutouts(view))
                    fidx = _anim_frame(n, i) if moving else pi % n
                    height = max(8, round(min(spr.view_height(view), cam.person_height(y))))
                    s_img, s_alpha = cache.get(plan.sprite, view, fidx, height)
                    sh, sw = s_alpha.shape
                    x1, y1 = round(x - sw / 2), round(y) - sh
                    cx1, cy1 = max(0, x1), max(0, y1)
                    cx2, cy2 = min(cam.width, x1 + sw), min(cam.height, y1 + sh)
                    if cx2 <= cx1 or cy2 <= cy1:
                        continue
                    a = s_alpha[cy1 - y1 : cy2 - y1, cx1 - x1 : cx2 - x1, None]
                    roi = img[cy1:cy2, cx1:cx2]
                    roi *= 1.0 - a
                    roi += a * s_img[cy1 - y1 : cy2 - y1, cx1 - x1 : cx2 - x1]
                    owner[cy1:cy2, cx1:cx2][a[..., 0] > 0.5] = pi
                    total = int((s_alpha > 0.5).sum())
                    placed.append((pi, (cx1, cy1, cx2, cy2), total))
                boxes = []
                for pi, (cx1, cy1, cx2, cy2), total in placed:
                    seen = int((owner[cy1:cy2, cx1:cx2] == pi).sum())
                    vis = seen / max(total, 1)
                    if vis <= 0:
                        continue
                    fx, fy = (cx1 + cx2) / 2, float(cy2)
                    zone = next(
                        (
                            name
                            for name, poly in zones.items()
                            if contains_xy(poly.buffer(1e-9), fx, fy)
                        ),
                        None,
                    )
                    boxes.append(
                        GTBox(
                            id=plans[pi].person_id,
                            box=(cx1, cy1, cx2, cy2),
                            foot=(fx, fy),
                            visibility=round(vis, 3),
                            zone=zone,
                        )
                    )
                per_frame.append(sorted(boxes, key=lambda b: b.id))
                frame = img * light
                if sc.noise > 0:
                    frame += crng.normal(0, sc.noise, frame.shape[:2])[..., None].astype(np.float32)
                writer.write(np.clip(frame, 0, 255).astype(np.uint8))
        finally:
            writer.release()
        frames_gt[cam.id] = per_frame
        gt_cams.append(
            GTCamera(
                id=cam.id,
                width=cam.width,
                height=cam.height,
                frames=n_frames,
                video=path.name,
                zones={z.name: [_r(cam.px(p)) for p in z.polygon] for z in cam.zones},
                lines={
                    ln.name: (_r(cam.px(ln.points[0])), _r(cam.px(ln.points[1])))
                    for ln in cam.lines
                },
            )
        )
    gt = _ground_truth(sc, seed, plans, sprites, frames_gt, gt_cams, views)
    return gt, plans


def _r(p: tuple[float, float]) -> tuple[float, float]:
    return (round(p[0], 2), round(p[1], 2))


def _ground_truth(
    sc: Scenario,
    seed: int,
    plans: list[PersonPlan],
    sprites: Sequence[Sprite],
    frames_gt: dict[str, list[list[GTBox]]],
    gt_cams: list[GTCamera],
    views: list[dict[str, str]],
) -> GroundTruth:
    vc = VisitConfig()
    fps = sc.fps
    apps = appearances(frames_gt, fps)
    ent = sc.entrance_camera()
    lines = [
        LineConfig(
            name=ln.name, points=(ent.px(ln.points[0]), ent.px(ln.points[1])), inside=ln.inside
        )
        for ln in ent.lines
    ]
    # (person, camera) -> [(frame, box)]
    seen: dict[str, list[tuple[int, str, GTBox]]] = {}
    for cam in sorted(frames_gt):
        for i, boxes in enumerate(frames_gt[cam]):
            for b in boxes:
                seen.setdefault(b.id, []).append((i, cam, b))
    people = []
    for pi, plan in enumerate(plans):
        obs = sorted(seen.get(plan.person_id, []), key=lambda o: (o[0], o[1]))
        if not obs:
            continue
        crossings: list[tuple[int, Direction]] = []
        det = LineCrossingDetector(lines, (ent.width, ent.height))
        last_i = None
        for i, cam, b in obs:
            if cam != ent.id:
                continue
            if last_i is not None and i - last_i > 1:
                det.forget(0)
            last_i = i
            for c in det.update(0, b.foot):
                crossings.append((i, c.direction))
        visits = []
        for w0, w1 in plan.visits:
            in_obs = [o for o in obs if w0 - 1e-6 <= o[0] / fps <= w1 + 1e-6]
            if not in_obs:
                continue
            f0, f1 = in_obs[0][0], in_obs[-1][0]
            ins = [i for i, d in crossings if d == Direction.IN and f0 <= i <= f1]
            outs = [i for i, d in crossings if d == Direction.OUT and f0 <= i <= f1]
            in_i, in_src = (ins[0], "line") if ins else (f0, "sighting")
            out_c = [i for i in outs if i > in_i]
            out_i, out_src = (out_c[-1], "line") if out_c else (f1, "sighting")
            span = [o for o in in_obs if in_i <= o[0] <= out_i]
            zones_gt = []
            by_zone: dict[str, list[tuple[float, str]]] = {}
            for i, cam, b in span:
                if b.zone is not None:
                    by_zone.setdefault(b.zone, []).append((i / fps, cam))
            for zname in sorted(by_zone):
                for enter, exit_, cams in zone_stays(
                    by_zone[zname], vc.zone_enter_s, vc.zone_exit_s
                ):
                    zones_gt.append(
                        GTZoneVisit(
                            zone=zname,
                            enter_s=round(enter, 3),
                            exit_s=round(exit_, 3),
                            cameras=cams,
                        )
                    )
            zones_gt.sort(key=lambda z: (z.enter_s, z.zone))
            visits.append(
                GTVisit(
                    in_s=round(in_i / fps, 3),
                    out_s=round(out_i / fps, 3),
                    in_source=in_src,
                    out_source=out_src,
                    cameras=sorted({o[1] for o in span}),
                    zones=zones_gt,
                )
            )
        people.append(
            GTPerson(
                id=plan.person_id,
                source=sprites[plan.sprite].key,
                is_staff=plan.is_staff,
                visits=visits,
                appearances=apps.get(plan.person_id, []),
                views={c: v for c, v in views[pi].items() if c in {o[1] for o in obs}},
                colour=sprites[plan.sprite].colour,
                group=plan.group,
            )
        )
    return GroundTruth(
        site_id=sc.site_id,
        seed=seed,
        fps=fps,
        duration_s=sc.duration_s,
        zone_enter_s=vc.zone_enter_s,
        zone_exit_s=vc.zone_exit_s,
        cameras=gt_cams,
        transits=[GTTransit(**t.model_dump()) for t in sc.transits],
        people=sorted(people, key=lambda p: p.id),
        frames=frames_gt,
    )


# ---------------------------------------------------------------- site config
def floor_areas(
    sc: Scenario, gt: GroundTruth, layout: dict[str, np.ndarray]
) -> list[dict[str, Any]]:
    """The cameras' zones projected onto the floor plan (metres), one area per zone name.

    A zone with a corner above its camera's horizon (not on the floor), or one that is
    degenerate on the floor, is left out.
    """
    out: dict[str, list[list[float]]] = {}
    for cam in sc.cameras:
        h = layout[cam.id]
        for name, poly in gt.camera(cam.id).zones.items():
            if name in out:
                continue
            px = np.array(poly, np.float64).reshape(-1, 2)
            w = np.hstack([px, np.ones((len(px), 1))]) @ h[2]
            if len(px) < 3 or not np.all(w > 0):
                continue
            flr = [[round(float(x), 4), round(float(y), 4)] for x, y in to_floor(h, px)]
            try:
                FloorAreaConfig(name=name, polygon=[(x, y) for x, y in flr])
            except ValueError:  # degenerate on the floor (e.g. a sliver at the horizon)
                continue
            out[name] = flr
    return [{"name": n, "polygon": p} for n, p in out.items()]


def site_config_dict(sc: Scenario, gt: GroundTruth) -> dict[str, Any]:
    """A :class:`~mcvision.config.SiteConfig` mapping for ``mcvision run`` on the render."""
    cams = []
    layout = floor_layout(sc)
    for cam in sc.cameras:
        g = gt.camera(cam.id)
        cams.append(
            {
                "id": cam.id,
                "source": g.video,
                "fps": sc.fps,
                "resolution": [cam.width, cam.height],
                "zones": [
                    {"name": n, "polygon": [list(p) for p in poly]} for n, poly in g.zones.items()
                ],
                "lines": [
                    {
                        "name": ln.name,
                        "points": [list(p) for p in g.lines[ln.name]],
                        "inside": ln.inside,
                    }
                    for ln in cam.lines
                ],
                # the render's own floor plan (mcvision.sim.floor), as a calibration
                "floor": {"points": calibration_points(cam, layout[cam.id])},
            }
        )
    data = {
        "site_id": sc.site_id,
        "cameras": cams,
        # every camera zone on the floor plan, for the floor occupancy by area
        "floor_plan": {"areas": floor_areas(sc, gt, layout)},
        "topology": {
            "unlisted": "deny",
            "transits": [
                {"a": t.a, "b": t.b, "min_s": t.min_s, "max_s": t.max_s, "overlap": t.overlap}
                for t in sc.transits
            ],
        },
        # half a frame period: every frame gives a track point despite timestamp rounding
        "visits": {"track_point_every_s": round(0.5 / sc.fps, 6)},
        "storage": {"root": "store"},
    }
    parse_config(data, source="generated site config")  # fail here, not in `mcvision run`
    return data


# ---------------------------------------------------------------- detector check
def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def detector_recall(
    out: Path,
    gt: GroundTruth,
    *,
    weights: str = "yolo11n_int8_openvino_model",
    frames_per_camera: int = 30,
    min_visibility: float = 0.5,
    iou: float = 0.5,
) -> dict[str, Any]:
    """Recall of the person detector on the render's own ground truth.

    Frames are decoded back from the MP4s (compression included), sampled evenly
    among frames with people; GT boxes seen at least ``min_visibility`` count.
    """
    from scipy.optimize import linear_sum_assignment

    from mcvision.vision.detector import PersonDetector

    det = PersonDetector(weights)
    per_cam: dict[str, dict[str, float]] = {}
    tot_gt = tot_hit = tot_pred = 0
    for cam in gt.cameras:
        rows = gt.frames[cam.id]
        busy = [i for i, b in enumerate(rows) if any(x.visibility >= min_visibility for x in b)]
        if not busy:
            continue
        pick = sorted(
            {
                busy[round(k)]
                for k in np.linspace(0, len(busy) - 1, min(frames_per_camera, len(busy)))
            }
        )
        images = read_frames(out / cam.video, pick)
        idx = sorted(images)
        dets = det.detect([images[i] for i in idx])
        n_gt = n_hit = n_pred = 0
        for i, d in zip(idx, dets, strict=True):
            g = np.array(
                [b.box for b in rows[i] if b.visibility >= min_visibility], np.float64
            ).reshape(-1, 4)
            m = _iou(g, d.xyxy.astype(np.float64))
            hits = 0
            if m.size:
                r, c = linear_sum_assignment(-m)
                hits = int((m[r, c] >= iou).sum())
            n_gt += len(g)
            n_hit += hits
            n_pred += len(d)
        per_cam[cam.id] = {
            "frames": len(idx),
            "gt_boxes": n_gt,
            "detected": n_hit,
            "recall": round(n_hit / max(n_gt, 1), 3),
            "precision": round(n_hit / max(n_pred, 1), 3),
        }
        tot_gt, tot_hit, tot_pred = tot_gt + n_gt, tot_hit + n_hit, tot_pred + n_pred
    return {
        "weights": weights,
        "min_visibility": min_visibility,
        "iou": iou,
        "gt_boxes": tot_gt,
        "detected": tot_hit,
        "recall": round(tot_hit / max(tot_gt, 1), 3),
        "precision": round(tot_hit / max(tot_pred, 1), 3),
        "per_camera": per_cam,
    }


# ---------------------------------------------------------------- entry point
def _occlusions(gt: GroundTruth) -> int:
    """Frames (over all cameras) where someone is less than half visible behind someone else."""
    return sum(
        1
        for rows in gt.frames.values()
        for boxes in rows
        if len(boxes) > 1 and any(b.visibility < 0.5 for b in boxes)
    )


def load_people(
    people_dirs: Sequence[str | Path],
    sc: Scenario,
    *,
    seed: int,
    n_people: int,
    seg_weights: str | Path | None = None,
) -> tuple[list[Sprite], dict[str, Any], str]:
    """Sprites from MOT sequences and/or ReID crop folders, the people report, the matting used.

    ReID crop folders (Market-1501 naming) give people with real per-camera appearance
    (:mod:`mcvision.sim.crop_people`); MOT folders give cut-outs (:mod:`mcvision.sim.people`).
    When the scenario asks for ``seg`` mattes and no segmentation model can be found,
    feathered boxes are used and the matting says why.
    """
    crop_dirs = [d for d in people_dirs if is_crop_folder(d)]
    mot_dirs = [d for d in people_dirs if d not in crop_dirs]
    matting: str = sc.matting

    def load(how: str) -> tuple[list[Sprite], dict[str, Any]]:
        sprites: list[Sprite] = []
        info: dict[str, Any] = {}
        if crop_dirs:
            sprites, info = load_crop_sprites(
                crop_dirs,
                n_people,
                seed=seed,
                lookalikes=sc.population.lookalikes,
                n_cameras=len(sc.cameras),
                matting=how,
                seg_weights=seg_weights,  # type: ignore[arg-type]
            )
            info = {"crop_people": info}
        if mot_dirs and len(sprites) < n_people:
            sprites += load_sprites(
                mot_dirs,
                min_height=sc.min_person_height,
                matting=how,  # type: ignore[arg-type]
                seg_weights=seg_weights,
                max_sprites=n_people - len(sprites),
            )
        return sprites, info

    try:
        sprites, info = load(sc.matting)
    except WeightsNotFound as err:  # no segmentation model here: soft box crops instead
        matting = f"feather (seg model unavailable: {err})"
        sprites, info = load("feather")
    return sprites, info, matting


def _groups(gt: GroundTruth) -> list[list[str]]:
    by: dict[int, list[str]] = {}
    for p in gt.people:
        if p.group is not None:
            by.setdefault(p.group, []).append(p.id)
    return [sorted(v) for _, v in sorted(by.items())]


def run_sim(
    people_dirs: Sequence[str | Path],
    out: str | Path,
    seed: int = 0,
    scenario_path: str | Path | None = None,
    *,
    scenario: Scenario | None = None,
    check_detector: bool = True,
    detector_weights: str = "yolo11n_int8_openvino_model",
    detector_frames: int = 30,
    seg_weights: str | None = None,
) -> SimResult:
    """Render a scenario with people cut from ``people_dirs`` into ``out``.

    Args:
        people_dirs: folders with MOT-format sequences (see :mod:`mcvision.sim.people`) or
            ReID crop folders in Market-1501 naming (see :mod:`mcvision.sim.crop_people`).
        out: output folder (created).
        seed: everything random is drawn from it.
        scenario_path: a built-in scenario's name (``crowded``, ``small``) or a scenario YAML;
            default: :func:`~mcvision.sim.scenario.default_scenario` (crowded).
        scenario: a scenario object (wins over ``scenario_path``).
        check_detector: run the person detector on a sample of frames (``render_report.json``).
        detector_weights: the detector used for that check.
        detector_frames: frames sampled per camera for the check.
        seg_weights: segmentation model for ``matting: seg``.

    Returns:
        The paths written and the report.

    Raises:
        ScenarioError: a bad scenario file.
        PeopleError: no usable person in ``people_dirs``.
    """
    sc = scenario or resolve_scenario(scenario_path)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n_people = sc.population.shoppers + sc.population.staff
    sprites, people_info, matting = load_people(
        people_dirs, sc, seed=seed, n_people=max(n_people, 1), seg_weights=seg_weights
    )
    gt, _ = render_scenario(sc, sprites, out, seed)
    gt_path = out / "ground_truth.json"
    dump_ground_truth(gt, gt_path)
    labelled = write_labelled_truth(gt, out / "gt")  # the same truth as labelled footage
    site = out / "site.yaml"
    site.write_text(yaml.safe_dump(site_config_dict(sc, gt), sort_keys=False))
    report: dict[str, Any] = {
        "seed": seed,
        "duration_s": sc.duration_s,
        "fps": sc.fps,
        "cameras": len(sc.cameras),
        "people": len(gt.people),
        "staff": sum(p.is_staff for p in gt.people),
        "shoppers": sum(not p.is_staff for p in gt.people),
        "visits": sum(len(p.visits) for p in gt.people),
        "zone_visits": sum(len(v.zones) for p in gt.people for v in p.visits),
        "gt_boxes": sum(len(b) for rows in gt.frames.values() for b in rows),
        "occluded_frames": _occlusions(gt),
        "matting": matting,
        "sources": {p.id: p.source for p in gt.people},
        "max_people_in_view": {
            cam: max((len(b) for b in rows), default=0) for cam, rows in sorted(gt.frames.items())
        },
        "groups": _groups(gt),
        **people_info,
    }
    if len(gt.people) < n_people:
        report["warning"] = (
            f"{n_people} people asked for, {len(gt.people)} rendered (too few identities in the"
            " people folders, or visits that could not end in time)"
        )
    if check_detector:
        try:
            report["detector"] = detector_recall(
                out, gt, weights=detector_weights, frames_per_camera=detector_frames
            )
        except (FileNotFoundError, ImportError, ValueError, RuntimeError) as err:
            report["detector"] = {"error": f"{type(err).__name__}: {err}"}
    report_path = out / "render_report.json"
    report_path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return SimResult(
        out_dir=out,
        videos={c.id: out / c.video for c in gt.cameras},
        site_config=site,
        ground_truth=gt_path,
        report_path=report_path,
        labelled_truth=labelled,
        report=report,
    )
