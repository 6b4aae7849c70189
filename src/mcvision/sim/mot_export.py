"""Write a simulator's ground truth as labelled footage (MOT format), like a store would label.

The folder (layout in :mod:`mcvision.datasets.mot`) scores through
:func:`mcvision.evaluate.labelled.evaluate_labelled` with the same numbers as the
simulator's ``ground_truth.json`` through :func:`mcvision.evaluate.score.evaluate`: it is
how the labelled-footage path is tested, and a template of the format for a store.

What is lost: the foot point is the box's bottom centre on reading (the simulator's is
too), each box's ``zone``, zone polygons, entrance lines, transits, in/out sources and
the person's cutout source. Coordinates are written to 3 decimals, times to 6.

Example:
    >>> write_labelled_truth(load_ground_truth("out/ground_truth.json"), "out/gt")  # doctest: +SKIP
    PosixPath('out/gt')
"""

from __future__ import annotations

from pathlib import Path

from mcvision.datasets.mot import CameraInfo, MOTBox, VisitRow, ZoneRow, write_mot_folder
from mcvision.sim.truth import GroundTruth

__all__ = ["write_labelled_truth"]


def write_labelled_truth(gt: GroundTruth, folder: str | Path, *, label_every: int = 1) -> Path:
    """Write ``gt`` as a labelled-footage folder; returns the folder.

    Writes ``<camera>.txt`` (every box of every ``label_every``-th frame, 9 columns, with
    its visibility; conf 1, class 1), ``cameras.csv`` (``camera_id,width,height,fps,frames,
    label_every``), ``visits.csv`` (every visit, staff included), ``zones.csv`` (every
    zone stay) and ``staff.csv`` (the staff's IDs). The CSVs hold a header even when empty:
    an empty ``visits.csv`` says nobody visited. People without a written box (never
    visible, or only on frames left out by ``label_every``) are left out of the CSVs.

    Args:
        gt: the ground truth.
        folder: the output folder (created; camera files of an earlier write are replaced).
        label_every: label only frames ``0, N, 2N, ...`` (sparse labels, as a store might).

    Raises:
        ValueError: ``label_every`` < 1, or an ID that does not fit the format (a comma).
    """
    if label_every < 1:
        raise ValueError(f"label_every must be >= 1, got {label_every}")
    boxes: dict[str, list[MOTBox]] = {}
    for cam in gt.cameras:
        rows = []
        for i, frame in enumerate(gt.frames.get(cam.id, [])):
            if i % label_every:
                continue
            for b in frame:
                x1, y1, x2, y2 = b.box
                rows.append(MOTBox(i + 1, b.id, x1, y1, x2 - x1, y2 - y1, 1.0, 1, b.visibility))
        boxes[cam.id] = rows
    cameras = {
        c.id: CameraInfo(c.width, c.height, gt.fps, frames=c.frames, label_every=label_every)
        for c in gt.cameras
    }
    seen = {b.person_id for rows in boxes.values() for b in rows}
    people = [p for p in gt.people if p.id in seen]  # the format names only people it shows
    visits = [VisitRow(p.id, v.in_s, v.out_s) for p in people for v in p.visits]
    zones = [
        ZoneRow(p.id, z.zone, z.enter_s, z.exit_s)
        for p in people
        for v in p.visits
        for z in v.zones
    ]
    staff = [p.id for p in people if p.is_staff]
    out = Path(folder)
    write_mot_folder(out, boxes=boxes, cameras=cameras, visits=visits, zones=zones, staff=staff)
    return out
