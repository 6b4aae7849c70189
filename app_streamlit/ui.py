"""What the dashboard's pages share: the sidebar, the API banner, time formatting, charts.

Times arrive as epoch seconds and are shown in the site's time zone (from
``/health``); charts get naive local date-times, since plotly draws wall time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from client import ApiClient, ApiError, default_url

T = TypeVar("T")

REFRESH_CHOICES_S = (5, 10, 30, 60)
EMPTY = "—"


# ---- the API and its failures ---------------------------------------------------
def api() -> ApiClient:
    """The client for the URL in the sidebar."""
    return ApiClient(st.session_state.get("api_url") or default_url())


def fail(err: ApiError) -> NoReturn:
    """Show a banner naming the URL and the reason, a retry button, and stop the page."""
    if err.status is None:
        st.error(
            f"**The mcvision API is not reachable.**  \nURL: `{err.url}`  \nReason: {err.reason}",
            icon=":material/cloud_off:",
        )
    else:
        st.error(
            f"**The mcvision API answered with an error.**  \nURL: `{err.url}`  \n"
            f"Reason: {err.reason}",
            icon=":material/error:",
        )
    st.caption("Check that `mcvision serve` is running and the API URL in the sidebar is right.")
    st.button("Retry", key=f"retry-{abs(hash(err.url)) % 10_000}", type="primary")
    st.stop()
    raise err  # outside a running app st.stop() returns: let the caller see the error


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, or the banner and a stopped page when the API fails."""
    try:
        return fn(*args, **kwargs)
    except ApiError as err:
        fail(err)


# ---- sidebar: API URL, refresh, day ---------------------------------------------
def sidebar() -> None:
    """API URL, auto-refresh and the business day; stops the page if the API is down.

    Leaves ``health``, ``tz`` and ``day`` (``YYYY-MM-DD``) in session state.
    """
    sb = st.sidebar
    sb.text_input(
        "API URL",
        value=default_url(),
        key="api_url",
        help="Base URL of the mcvision HTTP API (env MCVISION_API_URL)",
    )
    sb.toggle("Auto-refresh", key="auto_refresh", help="Reload the page's data periodically")
    if st.session_state.get("auto_refresh"):
        sb.select_slider("Every (s)", options=REFRESH_CHOICES_S, value=10, key="refresh_s")
    health = call(api().health)
    tz = health.get("timezone") or "UTC"
    st.session_state["health"] = health
    st.session_state["tz"] = tz
    days = health.get("days") or []
    today = dt.datetime.now(ZoneInfo(tz)).date()
    latest = dt.date.fromisoformat(days[-1]) if days else today
    picked = sb.date_input(
        "Business day",
        value=latest,
        key="day_picker",
        format="YYYY-MM-DD",
        help=f"Days start at {health.get('reset_time', '00:00')} in {tz}",
    )
    day = (picked if isinstance(picked, dt.date) else latest).isoformat()
    st.session_state["day"] = day
    st.session_state["latest_day"] = days[-1] if days else None
    sb.caption(
        f"Site **{health.get('site_id', '?')}** · {tz} · {len(days)} day(s) with data"
        + (" · live" if health.get("live") else "")
    )


def day() -> str:
    """The business day picked in the sidebar."""
    return str(st.session_state["day"])


def tz() -> str:
    """The site's time zone."""
    return str(st.session_state.get("tz") or "UTC")


def body(render: Callable[[], None]) -> None:
    """Run a page's content; re-run it every few seconds while auto-refresh is on."""
    if st.session_state.get("auto_refresh"):
        every = int(st.session_state.get("refresh_s") or 10)
        st.fragment(render, run_every=every)()
    else:
        render()


# ---- time and numbers ------------------------------------------------------------
def local(ts: float | Iterable[float], zone: str | None = None) -> Any:
    """Epoch seconds as naive local date-times of the site (a Timestamp or a Series)."""
    zone = zone or tz()
    if isinstance(ts, int | float):
        return pd.Timestamp(ts, unit="s", tz="UTC").tz_convert(zone).tz_localize(None)
    s = pd.to_datetime(pd.Series(list(ts), dtype="float64"), unit="s", utc=True)
    return s.dt.tz_convert(zone).dt.tz_localize(None)


def clock(ts: float | None, zone: str | None = None) -> str:
    """``HH:MM:SS`` local time of ``ts`` (``—`` for None)."""
    return EMPTY if ts is None else local(float(ts), zone).strftime("%H:%M:%S")


def duration(seconds: float | None) -> str:
    """``1h 02m``, ``7m 52s``, ``45s`` (``—`` for None)."""
    if seconds is None:
        return EMPTY
    s = round(float(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h}h {m:02d}m"
    if m:
        return f"{m}m {sec:02d}s"
    return f"{sec}s"


def percent(share: float | None) -> str:
    """``20%`` (``—`` for None)."""
    return EMPTY if share is None else f"{share:.0%}"


# ---- charts ------------------------------------------------------------------------
PALETTE = (
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#e45756",
    "#72b7b2",
    "#b279a2",
    "#eeca3b",
    "#9d755d",
    "#ff9da6",
    "#bab0ac",
)


def colors(names: Iterable[str]) -> dict[str, str]:
    """A stable colour per name (sorted), the same on every page."""
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(sorted(set(names)))}


def timeline_figure(tl: dict[str, Any], zone: str | None = None) -> go.Figure:
    """A visit's timeline: one row per camera (sightings) and per zone (stays), events as marks."""
    rows: list[dict[str, Any]] = []
    for item in tl.get("items", []):
        if item["type"] == "event":
            continue
        start = float(item["start_ts"])
        end = max(float(item["end_ts"] or start), start + 1.0)
        lane = (
            f"camera {item['camera_id']}" if item["type"] == "sighting" else f"zone {item['zone']}"
        )
        rows.append(
            {"lane": lane, "type": item["type"], "start": start, "end": end, "label": item["label"]}
        )
    fig = go.Figure()
    colors = {"sighting": "#4c78a8", "zone": "#f58518"}
    for kind in ("sighting", "zone"):
        part = [r for r in rows if r["type"] == kind]
        if not part:
            continue
        starts = local([r["start"] for r in part], zone)
        ends = local([r["end"] for r in part], zone)
        fig.add_trace(
            go.Bar(
                name="seen on camera" if kind == "sighting" else "in zone",
                y=[r["lane"] for r in part],
                base=starts,
                x=[(e - s).total_seconds() * 1000 for s, e in zip(starts, ends, strict=True)],
                orientation="h",
                marker_color=colors[kind],
                customdata=[
                    [r["label"], clock(r["start"], zone), clock(r["end"], zone)] for r in part
                ],
                hovertemplate="%{customdata[0]}: %{customdata[1]} – %{customdata[2]}<extra></extra>",
            )
        )
    events = [i for i in tl.get("events", [])]
    if events:
        fig.add_trace(
            go.Scatter(
                name="events",
                x=local([e["ts"] for e in events], zone),
                y=["events"] * len(events),
                mode="markers",
                marker={"symbol": "diamond", "size": 10, "color": "#54a24b"},
                text=[
                    f"{e['kind']} {e.get('zone') or e.get('camera_id') or ''}".strip()
                    for e in events
                ],
                hovertemplate="%{text} at %{x|%H:%M:%S}<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="overlay",
        height=120 + 40 * len({r["lane"] for r in rows}),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis={"type": "date", "title": None},
        yaxis={"title": None, "autorange": "reversed"},
        legend={"orientation": "h", "y": 1.15},
    )
    return fig
