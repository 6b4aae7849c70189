"""The floor-plan routes of the HTTP API (``/floor/...``, ``/visitors/{id}/floor_route``).

Thin handlers over :mod:`mcvision.analytics.floor`: the site-wide floor heatmap,
occupancy by floor area, one visitor's route across cameras, and what the
dashboard needs to draw them (the plan's scale, areas, calibrated cameras and
its picture). Errors: no calibrated camera (or, for occupancy, no
``floor_plan.areas``) → 409 naming the problem; unknown visitor → 404; bad
parameters → 422; no picture configured → 404, an unreadable one → 503.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel

from mcvision.analytics import floor as fl
from mcvision.analytics.store import EventStore
from mcvision.business_day import BusinessCalendar
from mcvision.config import SiteConfig

__all__ = ["add_floor_routes"]


DayParam = Annotated[
    str | None,
    Query(
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="business day YYYY-MM-DD (default: the latest day with data)",
    ),
]


class _Error(BaseModel):
    detail: str


def add_floor_routes(
    app: FastAPI,
    cfg: SiteConfig,
    store: EventStore,
    calendar: BusinessCalendar,
    resolve_day: Callable[[str | None], str],
    v1: str = "/api/v1",
) -> None:
    """Add the floor routes to ``app`` (and the 409 for :class:`~mcvision.analytics.floor.FloorNotReady`)."""
    plan = fl.SiteFloorPlan.from_config(cfg)
    app.state.floor_plan = plan

    @app.exception_handler(fl.FloorNotReady)
    async def _not_ready(_: Request, err: fl.FloorNotReady) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(err)})

    errors: dict[int | str, dict[str, Any]] = {409: {"model": _Error}, 422: {"model": _Error}}

    @app.get(f"{v1}/floor/plan", response_model=fl.FloorPlanInfo, responses=errors, tags=["floor"])
    def floor_plan() -> fl.FloorPlanInfo:
        """How to draw the floor plan: picture size and scale, areas, calibrated cameras."""
        return fl.plan_info(plan)

    @app.get(
        f"{v1}/floor/plan/image",
        response_class=FileResponse,
        responses={
            404: {"model": _Error},
            503: {"model": _Error},
            200: {"content": {"image/png": {}, "image/jpeg": {}}},
        },
        tags=["floor"],
    )
    def floor_plan_image() -> FileResponse:
        """The floor-plan picture (``floor_plan.image``, or a calibrated camera's ``plan_image``)."""
        if plan.image is None:
            raise HTTPException(404, "no floor-plan picture configured (floor_plan.image)")
        if plan.image_size is None:
            raise HTTPException(503, plan.image_error or f"cannot read {plan.image}")
        return FileResponse(FsPath(plan.image), headers={"Cache-Control": "max-age=60"})

    @app.get(
        f"{v1}/floor/heatmap", response_model=fl.FloorHeatmap, responses=errors, tags=["floor"]
    )
    def floor_heatmap(
        day: DayParam = None,
        cell_m: Annotated[float, Query(gt=0, le=100, description="cell side, metres")] = 0.5,
        include_staff: bool = False,
    ) -> fl.FloorHeatmap:
        """Where people stood on the floor, all calibrated cameras combined (metre grid)."""
        return fl.floor_heatmap(store, plan, resolve_day(day), cell_m, include_staff=include_staff)

    @app.get(
        f"{v1}/floor/occupancy",
        response_model=fl.FloorOccupancy,
        responses=errors,
        tags=["floor"],
    )
    def floor_occupancy(
        day: DayParam = None,
        bucket: Annotated[
            str, Query(pattern=r"^\d+[smh]$", description="peak bucket, e.g. 15m, 1h")
        ] = "15m",
        include_staff: bool = False,
    ) -> fl.FloorOccupancy:
        """Per floor area (``floor_plan.areas``): samples, visitors, dwell and the peak."""
        return fl.floor_occupancy(
            store, plan, calendar, resolve_day(day), bucket, include_staff=include_staff
        )

    @app.get(
        f"{v1}/visitors/{{global_id}}/floor_route",
        response_model=fl.FloorRoute,
        responses={**errors, 404: {"model": _Error}},
        tags=["floor"],
    )
    def floor_route(
        global_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")],
        day: DayParam = None,
    ) -> fl.FloorRoute:
        """One visitor's route on the floor across cameras (e.g. 3 → 7 → 10), in time order."""
        return fl.floor_route(store, plan, resolve_day(day), global_id)
