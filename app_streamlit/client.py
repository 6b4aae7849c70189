"""The dashboard's only way to the data: a small client of the mcvision HTTP API.

Every page goes through :class:`ApiClient`; any failure (nothing listening, a
timeout, an error status, a body that is not JSON) becomes :class:`ApiError`,
whose message names the URL and the reason, so a page can show a banner
instead of a traceback.

Example:
    >>> api = ApiClient("http://127.0.0.1:8000")                 # doctest: +SKIP
    >>> api.summary("2026-03-10")["unique_visitors"]             # doctest: +SKIP
    5
"""

from __future__ import annotations

import os
from typing import Any

import httpx

API_ENV = "MCVISION_API_URL"
READ_KEY_ENV = "MCVISION_READ_KEY"  # the API's default api.read_key_env
DEFAULT_URL = "http://127.0.0.1:8000"
PREFIX = "/api/v1"
SNAPSHOT_TIMEOUT_S = 20.0


def default_key() -> str | None:
    """The API key to send: ``$MCVISION_READ_KEY`` (the API's read key), or None."""
    return os.environ.get(READ_KEY_ENV) or None


def default_url() -> str:
    """The API base URL: ``$MCVISION_API_URL`` or ``http://127.0.0.1:8000``."""
    return (os.environ.get(API_ENV) or DEFAULT_URL).rstrip("/")


class ApiError(RuntimeError):
    """The API could not answer.

    Attributes:
        url: the URL that was asked.
        reason: what went wrong, in words.
        status: the HTTP status, when the API answered with an error.
    """

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status


class ApiClient:
    """Read-only client of ``/api/v1`` with short timeouts.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000`` (no ``/api/v1``).
        timeout_s: read timeout per request; connecting gets at most 2 s.
        transport: an httpx transport (tests).
        key: the API key sent as ``Authorization: Bearer``; default
            ``$MCVISION_READ_KEY``; ``""`` or unset: none (a loopback API without keys).
    """

    def __init__(
        self,
        base_url: str,
        timeout_s: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        key: str | None = None,
    ) -> None:
        url = (base_url or "").strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ApiError(url or "<empty>", "the API URL must start with http:// or https://")
        self.base_url = url
        self._timeout = httpx.Timeout(timeout_s, connect=min(2.0, timeout_s))
        self._transport = transport
        key = key if key is not None else default_key()
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}

    def _fetch(
        self, path: str, params: dict[str, Any], timeout_s: float | None = None
    ) -> httpx.Response:
        """GET ``/api/v1{path}``; the response, or ApiError naming the URL and the reason."""
        url = f"{self.base_url}{PREFIX}{path}"
        query = {k: v for k, v in params.items() if v is not None}
        timeout = self._timeout
        if timeout_s is not None:
            timeout = httpx.Timeout(timeout_s, connect=self._timeout.connect)
        try:
            with httpx.Client(
                timeout=timeout, transport=self._transport, headers=self._headers
            ) as http:
                resp = http.get(url, params=query)
        except httpx.ConnectError as err:
            raise ApiError(url, f"cannot connect ({err or 'connection refused'})") from None
        except httpx.TimeoutException:
            raise ApiError(url, f"no answer within {timeout.read:g} s (timed out)") from None
        except httpx.HTTPError as err:
            raise ApiError(url, f"{type(err).__name__}: {err}") from None
        if resp.status_code >= 400:
            try:
                detail = resp.json().get("detail")
            except (ValueError, AttributeError):
                detail = None
            if not isinstance(detail, str):
                detail = resp.text[:300] or resp.reason_phrase
            raise ApiError(url, f"HTTP {resp.status_code}: {detail}", status=resp.status_code)
        return resp

    def get(self, path: str, **params: Any) -> Any:
        """GET ``/api/v1{path}`` with the non-None ``params``; the decoded JSON body.

        Raises:
            ApiError: not reachable, too slow, an error status (with the API's
                ``detail``), or not JSON.
        """
        resp = self._fetch(path, params)
        try:
            return resp.json()
        except ValueError:
            url = f"{self.base_url}{PREFIX}{path}"
            raise ApiError(url, "the answer is not JSON (is this the mcvision API?)") from None

    def get_jpeg(self, path: str, timeout_s: float | None = None, **params: Any) -> bytes:
        """GET ``/api/v1{path}``; the body of a JPEG answer.

        Args:
            path: the route under ``/api/v1``.
            timeout_s: read timeout of this request (default: the client's).
            **params: query parameters (None left out).

        Raises:
            ApiError: as :meth:`get`, or the answer is not a JPEG.
        """
        resp = self._fetch(path, params, timeout_s)
        if not resp.content.startswith(b"\xff\xd8"):
            kind = resp.headers.get("content-type", "?")
            url = f"{self.base_url}{PREFIX}{path}"
            raise ApiError(url, f"the answer is not a JPEG (content type {kind})")
        return resp.content

    # ---- routes --------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Site ID, version, days with data, time zone."""
        return self.get("/health")

    def days(self) -> list[str]:
        """Business days with data, oldest first."""
        return self.get("/days")

    def cameras(self) -> list[dict[str, Any]]:
        """Configured cameras and their status."""
        return self.get("/cameras")

    def snapshot(self, camera_id: str, timeout_s: float = SNAPSHOT_TIMEOUT_S) -> bytes:
        """The camera's newest annotated frame as JPEG bytes (faces blurred by the API).

        The API draws and blurs one frame at a time, so a request waits its turn
        behind the other cameras' ones: it gets a longer timeout than JSON routes.

        Raises:
            ApiError: status 409 when no pipeline is running, 503 while the
                camera has no processed frame yet, 404 for an unknown camera.
        """
        return self.get_jpeg(f"/cameras/{camera_id}/snapshot", timeout_s=timeout_s)

    def occupancy(self) -> dict[str, Any]:
        """People on the premises now."""
        return self.get("/occupancy")

    def summary(self, day: str) -> dict[str, Any]:
        """Headline numbers of a day."""
        return self.get("/summary", day=day)

    def mirror_summary(self, day: str) -> dict[str, Any]:
        """Headline numbers of a day, read from the relational mirror."""
        return self.get("/mirror/summary", day=day)

    def returning(self, day: str) -> dict[str, Any]:
        """New vs returning visitors of a day."""
        return self.get("/returning", day=day)

    def visits(
        self,
        day: str,
        *,
        min_dwell_s: float | None = None,
        zone: str | None = None,
        camera: str | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> dict[str, Any]:
        """A page of a day's visits (``total``, ``items``)."""
        return self.get(
            "/visits",
            day=day,
            min_dwell_s=min_dwell_s,
            zone=zone,
            camera=camera,
            limit=limit,
            offset=offset,
        )

    def visit(self, visit_id: str) -> dict[str, Any]:
        """One visit's timeline (zone visits, sightings, events, items)."""
        return self.get(f"/visits/{visit_id}")

    def zones(self, day: str) -> list[dict[str, Any]]:
        """Per-zone visits and dwell of a day."""
        return self.get("/zones", day=day)

    def traffic(self, day: str, bucket: str = "1h") -> dict[str, Any]:
        """Entries, exits and occupancy per bucket."""
        return self.get("/traffic", day=day, bucket=bucket)

    def heatmap(
        self, camera_id: str, day: str, width: int = 32, height: int = 18
    ) -> dict[str, Any]:
        """Foot-position counts of one camera on a grid."""
        return self.get(f"/heatmap/{camera_id}", day=day, width=width, height=height)

    def path(
        self, camera_id: str, global_id: str, day: str, max_points: int = 2000
    ) -> dict[str, Any]:
        """One person's foot positions on one camera that day, in time order."""
        return self.get(f"/paths/{camera_id}", global_id=global_id, day=day, max_points=max_points)

    def journeys(self, day: str, k: int = 10, by: str = "zone") -> list[dict[str, Any]]:
        """The most common paths through zones or cameras."""
        return self.get("/journeys", day=day, k=k, by=by)

    # ---- the floor plan ------------------------------------------------
    def get_bytes(self, path: str, **params: Any) -> tuple[bytes, str]:
        """GET ``/api/v1{path}``: the body and its content type (a picture).

        Raises:
            ApiError: as :meth:`get`.
        """
        resp = self._fetch(path, params)
        return resp.content, resp.headers.get("content-type", "application/octet-stream")

    def floor_plan(self) -> dict[str, Any]:
        """How to draw the floor plan (picture, scale, areas, calibrated cameras); 409 if none."""
        return self.get("/floor/plan")

    def floor_plan_image(self) -> tuple[bytes, str]:
        """The floor-plan picture and its content type."""
        return self.get_bytes("/floor/plan/image")

    def floor_heatmap(self, day: str, cell_m: float = 0.5) -> dict[str, Any]:
        """Floor samples of all calibrated cameras per metre-grid cell."""
        return self.get("/floor/heatmap", day=day, cell_m=cell_m)

    def floor_occupancy(self, day: str, bucket: str = "15m") -> dict[str, Any]:
        """Samples, visitors, dwell and peak per floor area."""
        return self.get("/floor/occupancy", day=day, bucket=bucket)

    def floor_route(self, global_id: str, day: str) -> dict[str, Any]:
        """One visitor's route across cameras on the floor."""
        return self.get(f"/visitors/{global_id}/floor_route", day=day)
