"""The MCP server: the site's analytics as tools a language model can call.

The tools answer from the event store through :mod:`mcvision.analytics.queries`,
the same functions behind the HTTP API, so both give the same numbers. A
missing ``day`` means the latest business day with data, as in the API.

Tools: ``site_info``, ``day_summary``, ``list_visits``, ``visit_timeline``,
``zone_stats``, ``occupancy_now``, ``traffic``, ``top_journeys``, and on the floor
plan (cameras calibrated to the floor) ``visitor_floor_route`` and
``floor_occupancy``. Bad arguments, unknown IDs and a floor with no calibrated
camera come back as tool errors whose text names the problem.

Example:
    >>> import asyncio                                           # doctest: +SKIP
    >>> from fastmcp import Client                               # doctest: +SKIP
    >>> async def ask():                                         # doctest: +SKIP
    ...     async with Client(build_mcp(cfg)) as client:
    ...         res = await client.call_tool("day_summary", {"day": "2026-03-10"})
    ...         return res.structured_content["unique_visitors"]
    >>> asyncio.run(ask())                                       # doctest: +SKIP
    5
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastmcp import FastMCP
from fastmcp.exceptions import ToolError
from pydantic import BaseModel, Field

from mcvision import __version__
from mcvision.analytics import floor as fl
from mcvision.analytics import queries as q
from mcvision.analytics.store import EventStore, StoreError
from mcvision.business_day import BusinessCalendar
from mcvision.config import SiteConfig

__all__ = ["OccupancyNow", "SiteInfo", "build_mcp", "run_mcp"]

Day = Annotated[
    str | None,
    Field(
        description="business day YYYY-MM-DD in the site's time zone; omit for the latest day "
        "with data",
        pattern=r"^\d{4}-\d{2}-\d{2}$",
    ),
]
IncludeStaff = Annotated[
    bool, Field(description="count staff as well (they are left out of customer numbers)")
]

INSTRUCTIONS = """\
Customer analytics of one physical site (a shop or premises) seen by several cameras.
Each person gets one ID per business day across all cameras (global_id). A visit is one
stay on the premises: in_ts is the first sighting, out_ts the last, dwell_s = out_ts - in_ts;
a person who leaves and comes back makes a new visit. Zones are named floor areas; a zone
visit is one stay inside one zone. Times are epoch seconds (UTC); days are business days
YYYY-MM-DD in the site's time zone (see site_info). Staff are excluded unless
include_staff is true. Dwell statistics cover closed visits only. Start with site_info to
learn the days with data, then day_summary.
"""


class SiteInfo(BaseModel):
    """What the site is and which days have data."""

    site_id: str
    version: str
    timezone: str = Field(description="IANA time zone of business days and local times")
    reset_time: str = Field(description="local time at which a business day starts")
    days: list[str] = Field(description="business days with data, oldest first")
    cameras: list[str]
    zones: list[str]


class OccupancyNow(BaseModel):
    """People on the premises now: the open visits of the latest day (or the live count)."""

    site_id: str
    day: str | None = Field(description="business day the count comes from")
    live: bool = Field(description="true when counted by a running pipeline")
    in_store: int
    global_ids: list[str]


def build_mcp(
    cfg: SiteConfig,
    store: EventStore | None = None,
    *,
    live: Any | None = None,
    clock: Callable[[], float] = time.time,
) -> FastMCP:
    """The MCP server of one site.

    Args:
        cfg: the site config.
        store: its event store (default: the config's).
        live: a running site's live state (``occupancy()`` → ``{"in_store", "global_ids"}``),
            as the HTTP API takes it; without it occupancy comes from the store.
        clock: the time, for the default day when the store is empty.

    Example:
        >>> from mcvision.config import parse_config
        >>> cfg = parse_config({"site_id": "demo", "cameras": [{"id": "c1", "source": "a.mp4"}]})
        >>> build_mcp(cfg).name
        'mcvision demo'
    """
    store = store or EventStore.from_config(cfg)
    calendar = BusinessCalendar.from_config(cfg.reset)
    floor = fl.SiteFloorPlan.from_config(cfg)
    mcp = FastMCP(f"mcvision {cfg.site_id}", instructions=INSTRUCTIONS, version=__version__)
    read_only = {"readOnlyHint": True, "idempotentHint": True, "openWorldHint": False}

    def resolve(day: str | None) -> str:
        if day:
            return day
        days = store.days()
        return days[-1] if days else calendar.day_of(clock())

    @contextmanager
    def answering() -> Iterator[None]:
        try:
            yield
        except (q.NotFound, fl.FloorNotReady) as err:
            raise ToolError(str(err)) from None
        except (ValueError, TypeError) as err:
            raise ToolError(f"bad argument: {err}") from None
        except StoreError as err:
            raise ToolError(f"the event store cannot be read: {err}") from None

    @mcp.tool(annotations=read_only)
    def site_info() -> SiteInfo:
        """The site: its ID, time zone, business days with data, cameras and zones."""
        with answering():
            return SiteInfo(
                site_id=cfg.site_id,
                version=__version__,
                timezone=cfg.reset.timezone,
                reset_time=cfg.reset.time,
                days=store.days(),
                cameras=[c.id for c in cfg.cameras],
                zones=cfg.zone_names,
            )

    @mcp.tool(annotations=read_only)
    def day_summary(day: Day = None, include_staff: IncludeStaff = False) -> q.DaySummary:
        """Headline numbers of one business day: unique visitors, visits (open and closed),
        dwell mean/median/p90 in seconds (closed visits), new vs returning visitors."""
        with answering():
            return q.day_summary(store, resolve(day), include_staff=include_staff)

    @mcp.tool(annotations=read_only)
    def list_visits(
        day: Day = None,
        min_dwell_s: Annotated[
            float | None, Field(ge=0, description="only visits at least this many seconds long")
        ] = None,
        zone: Annotated[
            str | None, Field(min_length=1, description="only visits that entered this zone")
        ] = None,
        camera: Annotated[
            str | None, Field(min_length=1, description="only visits this camera saw")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=1000, description="page size")] = 50,
        offset: Annotated[int, Field(ge=0, description="visits to skip (paging)")] = 0,
        include_staff: IncludeStaff = False,
    ) -> q.VisitPage:
        """Visits of a day in order of arrival, filtered and paged. ``total`` is the number
        matching the filters; each item has in/out times, dwell, cameras and zones."""
        with answering():
            return q.list_visits(
                store,
                resolve(day),
                min_dwell_s=min_dwell_s,
                zone=zone,
                camera=camera,
                limit=limit,
                offset=offset,
                include_staff=include_staff,
            )

    @mcp.tool(annotations=read_only)
    def visit_timeline(
        visit_id: Annotated[
            str,
            Field(
                min_length=1,
                max_length=64,
                pattern=r"^[A-Za-z0-9_.-]+$",
                description="a visit_id from list_visits",
            ),
        ],
    ) -> q.VisitTimeline:
        """One visit in time order: its zone stays, the stretches each camera saw the person,
        and its events (open, close, zone enter/exit, line crossings)."""
        with answering():
            return q.visit_timeline(store, visit_id)

    @mcp.tool(annotations=read_only)
    def zone_stats(day: Day = None, include_staff: IncludeStaff = False) -> list[q.ZoneStat]:
        """Per zone for a day: zone visits, open ones, distinct visitors, total/mean/median
        dwell in seconds (closed zone visits)."""
        with answering():
            return q.zone_stats(store, resolve(day), include_staff=include_staff)

    @mcp.tool(annotations=read_only)
    def occupancy_now() -> OccupancyNow:
        """How many people are on the premises now, and their global IDs."""
        with answering():
            if live is not None:
                o = live.occupancy()
                return OccupancyNow(
                    site_id=cfg.site_id,
                    day=None,
                    live=True,
                    in_store=o["in_store"],
                    global_ids=list(o["global_ids"]),
                )
            day = resolve(None)
            page = q.list_visits(store, day, limit=10_000)
            ids = sorted({v.global_id for v in page.items if not v.closed})
            return OccupancyNow(
                site_id=cfg.site_id, day=day, live=False, in_store=len(ids), global_ids=ids
            )

    @mcp.tool(annotations=read_only)
    def traffic(
        day: Day = None,
        bucket: Annotated[
            str, Field(pattern=r"^\d+[smh]$", description="bucket length, e.g. 15m or 1h")
        ] = "1h",
        include_staff: IncludeStaff = False,
    ) -> q.Traffic:
        """Entries, exits and occupancy per time bucket over a business day, labelled with
        local times (HH:MM in the site's time zone)."""
        with answering():
            return q.traffic(store, calendar, resolve(day), bucket, include_staff=include_staff)

    @mcp.tool(annotations=read_only)
    def top_journeys(
        day: Day = None,
        k: Annotated[int, Field(ge=1, le=1000, description="how many paths")] = 10,
        by: Annotated[
            Literal["zone", "camera"],
            Field(description="paths through zones (in order of entry) or cameras"),
        ] = "zone",
        include_staff: IncludeStaff = False,
    ) -> list[q.Journey]:
        """The most common paths of visits through zones or cameras (repeats collapsed), with
        how many visits took each and their share of visits that have a path."""
        with answering():
            return q.top_journeys(store, resolve(day), k=k, by=by, include_staff=include_staff)

    @mcp.tool(annotations=read_only)
    def visitor_floor_route(
        global_id: Annotated[
            str,
            Field(
                min_length=1,
                max_length=64,
                pattern=r"^[A-Za-z0-9_.-]+$",
                description="a global_id (from list_visits)",
            ),
        ],
        day: Day = None,
    ) -> fl.FloorRoute:
        """One visitor's route across cameras on the floor plan: the camera sequence (e.g.
        cam3 → cam7 → cam10, repeats collapsed), each camera's stretch of time, and the
        floor points in metres in time order (calibrated cameras only; others are named)."""
        with answering():
            return fl.floor_route(store, floor, resolve(day), global_id)

    @mcp.tool(annotations=read_only)
    def floor_occupancy(
        day: Day = None,
        bucket: Annotated[
            str, Field(pattern=r"^\d+[smh]$", description="peak bucket length, e.g. 15m or 1h")
        ] = "15m",
        include_staff: IncludeStaff = False,
    ) -> fl.FloorOccupancy:
        """Use of each named floor area over a day: floor samples (about one per person and
        second), distinct visitors, dwell seconds and the busiest bucket's visitor count."""
        with answering():
            return fl.floor_occupancy(
                store, floor, calendar, resolve(day), bucket, include_staff=include_staff
            )

    return mcp


def run_mcp(cfg: SiteConfig, http: bool = False, port: int = 8765, host: str = "127.0.0.1") -> None:
    """Serve the site's MCP tools: over stdio (default) or streamable HTTP at ``/mcp``.

    Raises:
        ValueError: a port outside 1..65535.
    """
    if http:
        if not 0 < port < 65536:
            raise ValueError(f"port must be in 1..65535, got {port}")
        import uvicorn

        uvicorn.run(mcp_http_app(cfg, host), host=host, port=port, log_level="warning")
    else:
        build_mcp(cfg).run(transport="stdio", show_banner=False)


def mcp_http_app(cfg: SiteConfig, host: str = "127.0.0.1") -> Any:
    """The MCP tools as an ASGI app at ``/mcp``, behind the same keys as the HTTP API.

    Off loopback (or once a read key is set) a client must send the read key
    (``Authorization: Bearer KEY``, as MCP clients do); see :mod:`mcvision.serve.auth`.

    Raises:
        AccessConfigError: ``host`` is not loopback and no read key is set.
    """
    from mcvision.serve.auth import AccessMiddleware, Keys, check_bind, is_loopback

    check_bind(cfg.api, host)
    app = build_mcp(cfg).http_app(path="/mcp")  # its lifespan passes through the middleware
    return AccessMiddleware(app, Keys.from_config(cfg.api), loopback=is_loopback(host))
