"""The HTTP API: FastAPI over :mod:`mcvision.analytics.queries`.

``create_app(cfg)`` works without Ray (``mcvision serve`` over an existing
store, tests with a TestClient); under ``mcvision run`` the Serve ingress
passes a ``live`` object so ``/occupancy`` and ``/cameras`` answer from the
running IdentityActor.

Every response has a pydantic model, so the OpenAPI schema is complete. Bad
parameters give 422 with a body that names the parameter; a store problem
(e.g. a corrupt Parquet file) gives 503 naming the file; unknown IDs 404.
Access (:mod:`mcvision.serve.auth`): admin routes need the admin key
(``$MCVISION_API_KEY`` by default; disabled, 403, until one is set); on a
non-loopback address, or once a read key is set, every other route needs the
read key (``$MCVISION_READ_KEY``). Keys go in ``Authorization: Bearer KEY`` or
``X-API-Key`` and are compared in constant time. CORS is off unless
``api.cors_origins`` lists origins.

Example:
    >>> from fastapi.testclient import TestClient             # doctest: +SKIP
    >>> client = TestClient(create_app(cfg))                   # doctest: +SKIP
    >>> client.get("/api/v1/summary", params={"day": "2026-11-24"}).json()  # doctest: +SKIP
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal, Protocol

from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from mcvision import __version__
from mcvision.analytics import queries as q
from mcvision.analytics.store import EventStore, StoreError
from mcvision.business_day import BusinessCalendar
from mcvision.config import SiteConfig
from mcvision.serve.auth import AccessMiddleware, Keys, check_bind, is_loopback
from mcvision.serve.floor_api import add_floor_routes

API_KEY_ENV = "MCVISION_API_KEY"  # the default of api.admin_key_env
READ_KEY_ENV = "MCVISION_READ_KEY"  # the default of api.read_key_env
DayParam = Annotated[
    str | None,
    Query(
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="business day YYYY-MM-DD (default: the latest day with data)",
    ),
]


class Live(Protocol):
    """Live state of a running site (the IdentityActor under Ray)."""

    def occupancy(self) -> dict[str, Any]: ...

    def cameras(self) -> dict[str, dict[str, Any]]: ...

    def reset(self, ts: float | None = None) -> int: ...

    def batch_stats(self) -> dict[str, Any]: ...

    # optional (checked with hasattr): mark_staff(global_id) -> int,
    # newest_frame(camera_id, after_seq=-1) -> LiveFrame | None, global_ids(camera_id, ids),
    # erase_customer(customer_id) -> dict


class MirrorHealth(BaseModel):
    """State of the store's MySQL/PostgreSQL mirror (``storage.mirror``)."""

    enabled: bool
    state: str = Field(
        description="ok, behind (retrying), failed (needs fixing), starting,"
        " unknown (no pipeline running)"
    )
    url: str = Field(description="the database URL (no password)")
    error: str | None = None
    lag_s: float | None = Field(default=None, description="age of the oldest store file not copied")
    pending_files: int | None = None
    last_sync_ts: float | None = None
    failures: int = 0
    rows_synced: int = 0


def _mirror_health(cfg: SiteConfig, live: Any) -> MirrorHealth | None:
    status = live.mirror_status() if live is not None and hasattr(live, "mirror_status") else None
    mcfg = cfg.storage.mirror
    if status is None:
        if not mcfg.enabled:
            return None
        status = {"enabled": True, "state": "unknown", "url": mcfg.url or ""}
    return MirrorHealth.model_validate(
        {k: v for k, v in status.items() if k in MirrorHealth.model_fields and v is not None}
    )


class Health(BaseModel):
    status: Literal["ok"]
    site_id: str
    version: str
    live: bool = Field(description="true when a pipeline is running behind the API")
    days: list[str]
    timezone: str = Field(
        default="UTC", description="the site's time zone (IANA name): business days and local times"
    )
    reset_time: str = Field(
        default="00:00", description="local time at which a business day starts"
    )
    mirror: MirrorHealth | None = Field(
        default=None, description="the relational mirror (storage.mirror) when one is configured"
    )


class CameraStatus(BaseModel):
    camera_id: str
    status: str = Field(description="starting, online, offline, failed, ended, stopped, unknown")
    fps: float | None = None
    frames: int | None = None
    people_in_view: int | None = None
    last_frame_ts: float | None = None
    lag_s: float | None = Field(
        default=None, description="live cameras: age of the newest frame when its batch was sent"
    )
    dropped: int | None = Field(
        default=None, description="frames dropped by the newest-frame buffer"
    )
    frames_read: int | None = Field(
        default=None, description="sampled frames handled: frames (detected) + sum of skipped"
    )
    processed: dict[str, int] | None = Field(
        default=None, description="detected frames by reason: ungated, tracks, motion, keepalive"
    )
    skipped: dict[str, int] | None = Field(
        default=None, description="frames that skipped the detector, by reason: no_motion, idle"
    )
    gate: str | None = Field(default=None, description="motion gate: off, active or idle")
    reason: str | None = None


class Occupancy(BaseModel):
    site_id: str
    live: bool
    in_store: int
    global_ids: list[str]
    ts: float | None


class ResetResult(BaseModel):
    reset: bool
    records: int


class ErrorBody(BaseModel):
    detail: str


class StaffRequest(BaseModel):
    global_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")


class StaffResult(BaseModel):
    global_id: str
    visits_flagged: int
    live: bool


class ErasureResult(BaseModel):
    customer_id: str
    global_ids: int = Field(description="daily IDs linked to the customer, now pseudonymized")
    gallery_embeddings: int
    rows: dict[str, int] = Field(description="event-store rows pseudonymized per table")


def create_app(
    cfg: SiteConfig,
    live: Live | None = None,
    store: EventStore | None = None,
    host: str | None = None,
) -> FastAPI:
    """The API of one site over its event store (and, when running, its live state).

    Args:
        cfg: the site.
        live: the running site's live state, or None (store only).
        store: the event store (default: the site's).
        host: the address the server binds to (default ``runtime.api_host``):
            off loopback every route needs a key.

    Raises:
        AccessConfigError: ``host`` is not loopback and no read key is set.
    """
    host = cfg.runtime.api_host if host is None else host
    check_bind(cfg.api, host)
    store = store or EventStore.from_config(cfg)
    calendar = BusinessCalendar.from_config(cfg.reset)
    app = FastAPI(
        title="mcvision",
        version=__version__,
        description=(
            "Multi-camera customer analytics: visits, dwell, zones and traffic of one site. "
            "Times are epoch seconds; days are business days in the site's time zone "
            f"({cfg.reset.timezone}, reset at {cfg.reset.time})."
        ),
        responses={503: {"model": ErrorBody}},
    )
    app.state.cfg = cfg
    app.state.store = store
    app.add_middleware(AccessMiddleware, keys=Keys.from_config(cfg.api), loopback=is_loopback(host))
    if cfg.api.cors_origins:  # added last: outermost, so preflights and 401s get CORS headers
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cfg.api.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )

    @app.exception_handler(StoreError)
    async def _store_error(_: Request, err: StoreError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(err)})

    @app.exception_handler(ValueError)
    async def _value_error(_: Request, err: ValueError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(err)})

    @app.exception_handler(q.NotFound)
    async def _not_found(_: Request, err: q.NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(err)})

    def resolve_day(day: str | None) -> str:
        return day or q.default_day(store, calendar, time.time())

    v1 = "/api/v1"

    @app.get(f"{v1}/health", response_model=Health, tags=["status"])
    def health() -> Health:
        return Health(
            status="ok",
            site_id=cfg.site_id,
            version=__version__,
            live=live is not None,
            days=store.days(),
            timezone=cfg.reset.timezone,
            reset_time=cfg.reset.time,
            mirror=_mirror_health(cfg, live),
        )

    @app.get(f"{v1}/cameras", response_model=list[CameraStatus], tags=["status"])
    def cameras() -> list[CameraStatus]:
        states = live.cameras() if live is not None else {}
        out = []
        for cam in cfg.cameras:
            s = states.get(cam.id, {})
            out.append(
                CameraStatus(
                    camera_id=cam.id,
                    status=s.get("status", "unknown"),
                    fps=s.get("fps"),
                    frames=s.get("frames"),
                    people_in_view=s.get("people_in_view"),
                    last_frame_ts=s.get("last_frame_ts"),
                    lag_s=s.get("lag_s"),
                    dropped=s.get("dropped"),
                    frames_read=s.get("frames_read"),
                    processed=s.get("processed"),
                    skipped=s.get("skipped"),
                    gate=s.get("gate"),
                    reason=s.get("reason") or s.get("error"),
                )
            )
        return out

    @app.get(f"{v1}/occupancy", response_model=Occupancy, tags=["status"])
    def occupancy() -> Occupancy:
        if live is not None:
            o = live.occupancy()
            return Occupancy(
                site_id=cfg.site_id,
                live=True,
                in_store=o["in_store"],
                global_ids=o["global_ids"],
                ts=o["ts"],
            )
        day = resolve_day(None)
        page = q.list_visits(store, day, limit=10_000)
        open_ids = sorted({v.global_id for v in page.items if not v.closed})
        return Occupancy(
            site_id=cfg.site_id, live=False, in_store=len(open_ids), global_ids=open_ids, ts=None
        )

    @app.get(f"{v1}/days", response_model=list[str], tags=["analytics"])
    def days() -> list[str]:
        return store.days()

    @app.get(f"{v1}/summary", response_model=q.DaySummary, tags=["analytics"])
    def summary(day: DayParam = None, include_staff: bool = False) -> q.DaySummary:
        return q.day_summary(store, resolve_day(day), include_staff=include_staff)

    @app.get(f"{v1}/visits", response_model=q.VisitPage, tags=["analytics"])
    def visits(
        day: DayParam = None,
        min_dwell_s: Annotated[float | None, Query(ge=0)] = None,
        zone: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        camera: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
        offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
        include_staff: bool = False,
    ) -> q.VisitPage:
        return q.list_visits(
            store,
            resolve_day(day),
            min_dwell_s=min_dwell_s,
            zone=zone,
            camera=camera,
            limit=limit,
            offset=offset,
            include_staff=include_staff,
        )

    @app.get(
        f"{v1}/visits/{{visit_id}}",
        response_model=q.VisitTimeline,
        responses={404: {"model": ErrorBody}},
        tags=["analytics"],
    )
    def visit(
        visit_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")],
    ) -> q.VisitTimeline:
        return q.visit_timeline(store, visit_id)

    @app.get(f"{v1}/zones", response_model=list[q.ZoneStat], tags=["analytics"])
    def zones(day: DayParam = None, include_staff: bool = False) -> list[q.ZoneStat]:
        return q.zone_stats(store, resolve_day(day), include_staff=include_staff)

    @app.get(f"{v1}/traffic", response_model=q.Traffic, tags=["analytics"])
    def traffic(
        day: DayParam = None,
        bucket: Annotated[str, Query(pattern=r"^\d+[smh]$", description="e.g. 15m, 1h")] = "1h",
        include_staff: bool = False,
    ) -> q.Traffic:
        return q.traffic(store, calendar, resolve_day(day), bucket, include_staff=include_staff)

    @app.get(
        f"{v1}/heatmap/{{camera_id}}",
        response_model=q.Heatmap,
        responses={404: {"model": ErrorBody}},
        tags=["analytics"],
    )
    def heatmap(
        camera_id: str,
        day: DayParam = None,
        width: Annotated[int, Query(ge=1, le=512)] = 32,
        height: Annotated[int, Query(ge=1, le=512)] = 18,
        include_staff: bool = False,
    ) -> q.Heatmap:
        if camera_id not in {c.id for c in cfg.cameras}:
            raise HTTPException(404, f"unknown camera {camera_id!r}")
        return q.heatmap(
            store, resolve_day(day), camera_id, (width, height), include_staff=include_staff
        )

    @app.get(
        f"{v1}/paths/{{camera_id}}",
        response_model=q.CameraPath,
        responses={404: {"model": ErrorBody}},
        tags=["analytics"],
    )
    def camera_path(
        camera_id: str,
        global_id: Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")],
        day: DayParam = None,
        max_points: Annotated[int, Query(ge=2, le=100_000)] = 2000,
    ) -> q.CameraPath:
        """One person's foot positions on one camera that day, in time order (their path)."""
        if camera_id not in {c.id for c in cfg.cameras}:
            raise HTTPException(404, f"unknown camera {camera_id!r}")
        return q.camera_path(store, resolve_day(day), camera_id, global_id, max_points=max_points)

    @app.get(f"{v1}/journeys", response_model=list[q.Journey], tags=["analytics"])
    def journeys(
        day: DayParam = None,
        k: Annotated[int, Query(ge=1, le=1000)] = 10,
        by: Literal["zone", "camera"] = "zone",
        include_staff: bool = False,
    ) -> list[q.Journey]:
        return q.top_journeys(store, resolve_day(day), k=k, by=by, include_staff=include_staff)

    @app.get(f"{v1}/returning", response_model=q.NewVsReturning, tags=["analytics"])
    def returning(day: DayParam = None, include_staff: bool = False) -> q.NewVsReturning:
        return q.new_vs_returning(store, resolve_day(day), include_staff=include_staff)

    @app.get(f"{v1}/activities", response_model=list[q.ActivityStat], tags=["analytics"])
    def activities(
        day: DayParam = None,
        zone: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        include_staff: bool = False,
    ) -> list[q.ActivityStat]:
        return q.activity_stats(store, resolve_day(day), zone=zone, include_staff=include_staff)

    @app.get(f"{v1}/summaries", response_model=list[str], tags=["summaries"])
    def summaries(day: DayParam = None) -> list[str]:
        from mcvision.summarize import list_media

        return list_media(cfg, resolve_day(day))

    @app.get(
        f"{v1}/media/{{path:path}}",
        response_class=FileResponse,
        responses={404: {"model": ErrorBody}, 400: {"model": ErrorBody}},
        tags=["summaries"],
    )
    def media(path: str) -> FileResponse:
        from mcvision.summarize import media_path

        try:
            found = media_path(cfg, path)
        except ValueError as err:
            raise HTTPException(400, str(err)) from None
        except FileNotFoundError as err:
            raise HTTPException(404, str(err)) from None
        return FileResponse(found)

    @app.get(f"{v1}/stats/batches", response_model=dict[str, Any], tags=["status"])
    def batches() -> dict[str, Any]:
        return live.batch_stats() if live is not None else {}

    @app.post(
        f"{v1}/admin/reset",
        response_model=ResetResult,
        responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 409: {"model": ErrorBody}},
        tags=["admin"],
    )
    def admin_reset() -> ResetResult:
        if live is None:
            raise HTTPException(409, "no pipeline is running: reset applies to a live site")
        return ResetResult(reset=True, records=live.reset(None))

    admin_errors: dict[int | str, dict[str, Any]] = {
        401: {"model": ErrorBody},
        403: {"model": ErrorBody},
        404: {"model": ErrorBody},
    }

    @app.post(
        f"{v1}/admin/staff",
        response_model=StaffResult,
        responses=admin_errors,
        tags=["admin"],
    )
    def admin_staff(body: StaffRequest) -> StaffResult:
        """Mark a global ID as staff: its visits are flagged and left out of customer metrics."""
        gid = body.global_id
        try:
            if live is not None and hasattr(live, "mark_staff"):
                return StaffResult(global_id=gid, visits_flagged=live.mark_staff(gid), live=True)
            from mcvision.identity.staff import mark_staff_offline

            n = mark_staff_offline(cfg, store, gid)
        except KeyError as err:
            raise HTTPException(404, str(err.args[0]) if err.args else str(err)) from None
        return StaffResult(global_id=gid, visits_flagged=n, live=False)

    @app.delete(
        f"{v1}/admin/customers/{{customer_id}}",
        response_model=ErasureResult,
        responses=admin_errors,
        tags=["admin"],
    )
    def admin_erase_customer(
        customer_id: Annotated[
            str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
        ],
    ) -> ErasureResult:
        """Right to erasure: delete the customer's embeddings and links, pseudonymize events."""
        try:
            if live is not None and hasattr(live, "erase_customer"):
                out = live.erase_customer(customer_id)
            else:
                from mcvision.privacy import erase_customer

                out = erase_customer(cfg, customer_id, store=store)
        except KeyError as err:
            raise HTTPException(404, str(err.args[0]) if err.args else str(err)) from None
        return ErasureResult(**out)

    _add_mirror_routes(app, cfg, v1)
    _add_live_routes(app, cfg, live, v1)
    add_floor_routes(app, cfg, store, calendar, resolve_day, v1)
    return app


def _add_live_routes(app: FastAPI, cfg: SiteConfig, live: Any, v1: str) -> None:
    """``/cameras/{id}/snapshot`` (one JPEG) and ``/cameras/{id}/live`` (MJPEG).

    The camera only keeps a reference to its newest processed frame
    (``live.newest_frame(camera_id)``); drawing and encoding happen here, in a
    worker thread, only while a client asks, at most ``api.live_fps`` a second,
    and once per (camera, frame): every viewer of a camera and its snapshot share
    one JPEG (:class:`~mcvision.serve.live.JpegCache`). Faces: every tracked
    person's head is blurred, plus the faces a small YuNet pass finds
    (:meth:`~mcvision.summarize.blur.FaceBlurrer.apply_tracked`; the pass runs at most
    every ``api.live_face_search_s`` per camera, :class:`~mcvision.serve.live.FaceSearch`),
    unless the site allows faces (``summaries.blur_faces: false``).
    """
    import asyncio
    import threading

    from mcvision.serve import live as lv

    cameras = {c.id: c for c in cfg.cameras}
    blur_lock = threading.Lock()
    blurrers: dict[str, Any] = {}

    def blurrer() -> Any:
        if "b" not in blurrers:
            from mcvision.summarize.blur import FaceBlurrer

            b = FaceBlurrer(cfg.summaries.face_weights)
            blurrers["b"] = b
            blurrers["search"] = lv.FaceSearch(
                lambda img: b.detect_small(img, cfg.api.live_face_px), cfg.api.live_face_search_s
            )
        return blurrers["b"]

    def blur_for(frame: Any) -> Any:
        def blur(img: Any, boxes: Any, kps: Any) -> Any:
            with blur_lock:  # one YuNet detector, not thread-safe
                b = blurrer()
                faces = blurrers["search"].faces(frame.camera_id, frame.ts, img)
                return b.apply_tracked(img, boxes, kps, cfg.api.live_face_px, faces=faces)

        return blur

    def check(camera_id: str) -> None:
        if camera_id not in cameras:
            raise HTTPException(404, f"unknown camera {camera_id!r}")
        if live is None or not hasattr(live, "newest_frame"):
            raise HTTPException(409, "no pipeline is running: the live view needs mcvision run")

    def draw(frame: Any) -> bytes:
        ids = [int(i) for i in frame.local_ids]
        gids = live.global_ids(frame.camera_id, ids) if ids and hasattr(live, "global_ids") else {}
        img = lv.render(
            frame,
            cameras[frame.camera_id],
            gids,
            blur=blur_for(frame) if cfg.summaries.blur_faces else None,
            max_px=cfg.api.live_max_px,
        )
        return lv.encode_jpeg(img, cfg.api.live_jpeg_quality)

    cache = lv.JpegCache(
        lambda cam, after: live.newest_frame(cam, after), draw, max_age_s=0.5 / cfg.api.live_fps
    )
    pool = lv.low_priority_pool(cfg.api.live_nice)  # viewers yield the CPU to the pipeline

    def snapshot_jpeg(camera_id: str) -> bytes:
        check(camera_id)
        got = cache.newest(camera_id)
        if got is None:
            raise HTTPException(
                503,
                f"camera {camera_id!r} has no processed frame yet",
                headers={"Retry-After": "1"},
            )
        return got[1]

    errors: dict[int | str, dict[str, Any]] = {
        404: {"model": ErrorBody},
        409: {"model": ErrorBody},
        503: {"model": ErrorBody},
    }

    @app.get(
        f"{v1}/cameras/{{camera_id}}/snapshot",
        response_class=Response,
        responses={**errors, 200: {"content": {"image/jpeg": {}}}},
        tags=["live"],
    )
    async def snapshot(camera_id: str) -> Response:
        """The camera's newest processed frame as one JPEG, annotated, faces blurred."""
        jpeg = await asyncio.get_running_loop().run_in_executor(pool, snapshot_jpeg, camera_id)
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.get(
        f"{v1}/cameras/{{camera_id}}/live",
        response_class=StreamingResponse,
        responses={
            **errors,
            200: {"content": {f"multipart/x-mixed-replace; boundary={lv.BOUNDARY}": {}}},
        },
        tags=["live"],
    )
    async def live_view(camera_id: str, request: Request) -> StreamingResponse:
        """MJPEG of the camera's newest processed frames, at most ``api.live_fps`` a second."""
        check(camera_id)  # 404 / 409 before the stream starts

        async def newest(last_seq: int) -> tuple[int, bytes] | None:
            return await asyncio.get_running_loop().run_in_executor(
                pool, cache.newest, camera_id, last_seq
            )

        async def gone() -> bool:
            return await request.is_disconnected()

        async def body() -> Any:
            try:
                async for chunk in lv.mjpeg_stream(newest, cfg.api.live_fps, gone):
                    yield chunk
            except asyncio.CancelledError:
                return

        return StreamingResponse(
            body(),
            media_type=f"multipart/x-mixed-replace; boundary={lv.BOUNDARY}",
            headers={"Cache-Control": "no-store"},
        )


def _add_mirror_routes(app: FastAPI, cfg: SiteConfig, v1: str) -> None:
    """``/mirror/...``: answers read from the relational mirror (``storage.mirror``).

    The same models as the store's routes, so a client (the dashboard's Overview) can
    show either source; 503 naming the problem when the mirror cannot be read.
    """
    engines: dict[str, Any] = {}

    def mirror_engine() -> Any:
        from mcvision.analytics import mirror_read
        from mcvision.analytics.mirror import MirrorError

        if not cfg.storage.mirror.url:
            raise HTTPException(404, "no relational mirror configured (storage.mirror.url)")
        if "engine" not in engines:
            try:
                engines["engine"] = mirror_read.open_source(cfg)
            except MirrorError as err:
                raise HTTPException(503, str(err)) from None
        return engines["engine"]

    def run(fn: Any, *args: Any, **kw: Any) -> Any:
        import sqlalchemy as sa

        engine = mirror_engine()
        try:
            return fn(engine, cfg.site_id, *args, **kw)
        except sa.exc.DBAPIError as err:
            raise HTTPException(503, f"mirror: {str(err.orig or err).splitlines()[0]}") from None

    def mirror_day(day: str | None) -> str:
        from mcvision.analytics import mirror_read

        if day:
            return day
        today = BusinessCalendar.from_config(cfg.reset).day_of(time.time())
        past = [d for d in run(mirror_read.days) if d <= today]
        return past[-1] if past else today

    errors: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}, 503: {"model": ErrorBody}}

    @app.get(f"{v1}/mirror/status", response_model=MirrorHealth, responses=errors, tags=["mirror"])
    def mirror_status() -> MirrorHealth:
        """How far the mirror is behind the store, read from its watermarks (no pipeline needed)."""
        from mcvision.analytics.mirror import Mirror

        engine = mirror_engine()
        m = Mirror(cfg, engine=engine)
        try:
            m.read_watermarks()
        except Exception as err:  # the database went away since: say so
            raise HTTPException(503, f"{m.where}: {str(err).splitlines()[0]}") from None
        lag = m.lag()
        return MirrorHealth(
            enabled=cfg.storage.mirror.enabled,
            url=cfg.storage.mirror.url or "",
            state="ok" if lag["pending_files"] == 0 else "behind",
            **lag,
        )

    @app.get(f"{v1}/mirror/summary", response_model=q.DaySummary, responses=errors, tags=["mirror"])
    def mirror_summary(day: DayParam = None, include_staff: bool = False) -> q.DaySummary:
        """The day summary read from the relational mirror."""
        from mcvision.analytics import mirror_read

        return run(mirror_read.day_summary, mirror_day(day), include_staff=include_staff)

    @app.get(
        f"{v1}/mirror/zones", response_model=list[q.ZoneStat], responses=errors, tags=["mirror"]
    )
    def mirror_zones(day: DayParam = None, include_staff: bool = False) -> list[q.ZoneStat]:
        """Zone statistics read from the relational mirror."""
        from mcvision.analytics import mirror_read

        return run(mirror_read.zone_stats, mirror_day(day), include_staff=include_staff)
