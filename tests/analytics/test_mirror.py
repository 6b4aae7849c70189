"""The store's relational mirror against real MariaDB and PostgreSQL servers on 127.0.0.1.

One throw-away server of each kind per session (own data dir and port); every test
gets its own database. In CI a missing server fails; elsewhere it skips.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
import yaml

import db_servers
from conftest import IN_CI, REPO
from mcvision.actors.identity import IdentityService
from mcvision.analytics import mirror_read
from mcvision.analytics import mirror_schema as ms
from mcvision.analytics import queries as q
from mcvision.analytics.mirror import Mirror
from mcvision.analytics.store import EventStore
from mcvision.business_day import BusinessCalendar
from mcvision.cli import main
from mcvision.config import ConfigError, SiteConfig, parse_config
from mcvision.types import ActivityInterval, Event, Records, TrackletUpdate, Visit
from seed import seed_store

T0 = 1_795_000_000.0
BOX = np.array([100, 100, 150, 300], np.float32)
FOOT = np.array([125, 300], np.float32)


@pytest.fixture(scope="session", params=["mysql", "postgresql"])
def server(request: pytest.FixtureRequest) -> Iterator[db_servers.DBServer]:
    try:
        srv = db_servers.SERVERS[request.param]()
    except db_servers.ServerUnavailable as err:
        if IN_CI:
            pytest.fail(str(err))
        pytest.skip(str(err))
    os.environ[db_servers.PASSWORD_ENV] = db_servers.PASSWORD
    yield srv
    srv.close()


def with_mirror(cfg: SiteConfig, url: str, **kw: Any) -> SiteConfig:
    mirror = cfg.storage.mirror.model_copy(
        update={
            "enabled": True,
            "url": url,
            "password_env": db_servers.PASSWORD_ENV,
            "sync_period_s": 0.2,
            "connect_timeout_s": 3.0,
            **kw,
        }
    )
    return cfg.model_copy(update={"storage": cfg.storage.model_copy(update={"mirror": mirror})})


def engine_for(cfg: SiteConfig) -> sa.Engine:
    from mcvision.analytics.mirror import make_engine, mirror_url

    return make_engine(mirror_url(cfg.storage.mirror))


def snapshot(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every mirrored table's rows (without the copy time), sorted."""
    out = {}
    with engine.connect() as conn:
        for name, t in ms.TABLES.items():
            cols = [c for c in t.columns if c.name != "synced_ts"]
            out[name] = sorted(tuple(r) for r in conn.execute(sa.select(*cols)))
    return out


def write_yaml(cfg: SiteConfig, path: Path) -> Path:
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    return path


def rounded(models: list[Any]) -> list[dict[str, Any]]:
    """Models as dicts with floats to 6 decimals (sums in another order differ in the last bit)."""
    return [
        {k: round(v, 6) if isinstance(v, float) else v for k, v in m.model_dump().items()}
        for m in models
    ]


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The two-day store, shared by the tests that only read it."""
    return seed_store(tmp_path_factory.mktemp("mirror-store"))


@pytest.fixture
def own_seeded(tmp_path: Path) -> dict[str, Any]:
    """The two-day store, for a test that writes to it."""
    return seed_store(tmp_path)


# ---- the mirror equals the store's queries ---------------------------------------------
def test_mirror_of_a_site_equals_the_parquet_queries(
    server: db_servers.DBServer, seeded: dict[str, Any], tmp_path: Path
) -> None:
    cfg = with_mirror(seeded["cfg"], server.url(server.create_database()))
    store: EventStore = seeded["store"]
    cal = BusinessCalendar.from_config(cfg.reset)
    mirror = Mirror(cfg).open()
    res = mirror.sync()
    assert res.rows["visits"] == store.count("visits") and res.files == len(store.files()) - len(
        store.files("track_points")
    )
    engine = mirror.engine
    with engine.connect() as conn:
        for day in seeded["days"]:
            d = date.fromisoformat(day)
            # same visits, same dwell
            mine = sorted(
                conn.execute(
                    sa.select(
                        ms.visits.c.visit_id,
                        ms.visits.c.dwell_s,
                        ms.visits.c.closed,
                        ms.visits.c.is_staff,
                    ).where(ms.visits.c.day == d)
                ).all()
            )
            theirs = sorted(
                (r["visit_id"], r["dwell_s"], r["closed"], r["is_staff"])
                for r in store.sql("SELECT * FROM visits WHERE day = ?", [day], day=day)
            )
            assert [tuple(r) for r in mine] == theirs and len(mine) >= 5
            # same headline numbers (read side and the daily_summary table)
            expect = q.day_summary(store, day)
            assert mirror_read.day_summary(engine, cfg.site_id, day) == expect
            row = conn.execute(sa.select(ms.daily_summary).where(ms.daily_summary.c.day == d)).one()
            assert row.unique_visitors == expect.unique_visitors
            assert row.dwell_median_s == pytest.approx(expect.dwell_median_s)
            assert row.dwell_p90_s == pytest.approx(expect.dwell_p90_s)
            # same zone seconds
            zs = q.zone_stats(store, day)
            assert rounded(mirror_read.zone_stats(engine, cfg.site_id, day)) == rounded(zs)
            assert sum(z.total_dwell_s for z in zs) > 0
            # same hourly traffic
            buckets = q.traffic(store, cal, day, "1h").buckets
            got = conn.execute(
                sa.select(ms.traffic)
                .where(ms.traffic.c.day == d)
                .order_by(ms.traffic.c.bucket_start_ts)
            ).all()
            assert [(b.start_ts, b.label, b.entries, b.exits, b.occupancy) for b in buckets] == [
                (r.bucket_start_ts, r.label, r.entries, r.exits, r.occupancy) for r in got
            ]
        n_events = conn.execute(sa.select(sa.func.count()).select_from(ms.events)).scalar()
        assert n_events == store.count("events")
        hours = conn.execute(sa.select(ms.visits.c.in_local, ms.visits.c.in_hour)).all()
        assert all(int(r.in_local[11:13]) == r.in_hour for r in hours)
    # `mcvision report --source URL` prints what `mcvision report` prints
    path = write_yaml(cfg, tmp_path / "site.yaml")
    outs = []
    for extra in ([], ["--source", cfg.storage.mirror.url]):
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            rc = main(
                ["report", "--config", str(path), "--day", seeded["days"][0], "--json", *extra]
            )
        assert rc == 0
        outs.append(buf.getvalue())
    assert outs[0] == outs[1] and '"unique_visitors": 4' in outs[0]
    mirror.close()


def test_replayed_batches_change_nothing_and_newer_snapshots_replace_older(
    server: db_servers.DBServer, own_seeded: dict[str, Any]
) -> None:
    seeded = own_seeded
    cfg = with_mirror(seeded["cfg"], server.url(server.create_database()))
    store: EventStore = seeded["store"]
    mirror = Mirror(cfg).open()
    mirror.sync()
    before = snapshot(mirror.engine)
    # replay everything: forget the watermarks and copy every file again
    with mirror.engine.begin() as conn:
        conn.execute(ms.mirror_watermarks.delete())
    again = Mirror(cfg, engine=mirror.engine).open()
    assert again.sync().files > 0
    assert snapshot(mirror.engine) == before
    # a camera resends an old batch: an open, shorter snapshot of a closed visit
    closed = store.sql("SELECT * FROM visits WHERE closed AND NOT is_staff ORDER BY visit_id")[0]
    stale = Visit(
        closed["visit_id"],
        cfg.site_id,
        closed["day"],
        closed["global_id"],
        closed["in_ts"],
        closed["in_ts"] + 5.0,
        closed=False,
    )
    store.write(Records(visits=[stale]))
    store.flush()
    again.sync()
    assert snapshot(mirror.engine) == before  # the closed snapshot stays
    # an open visit grows: its newer snapshot replaces the older
    day = seeded["days"][1]
    grow = [Visit("v-open", cfg.site_id, day, "G9", T0, T0 + s, closed=False) for s in (30, 90)]
    for v in grow:
        store.write(Records(visits=[v]))
        store.flush()
        again.sync()
        with mirror.engine.connect() as conn:
            (dwell,) = conn.execute(
                sa.select(ms.visits.c.dwell_s).where(ms.visits.c.visit_id == "v-open")
            ).one()
        assert dwell == v.out_ts - v.in_ts
    with mirror.engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(ms.visits)).scalar()
    assert n == store.count("visits")
    mirror.close()


# ---- a live run: the database goes away and comes back ---------------------------------
def _site(tmp_path: Path) -> SiteConfig:
    return parse_config(
        {
            "site_id": "live",
            "cameras": [
                {
                    "id": "a",
                    "source": "a.mp4",
                    "zones": [
                        {
                            "name": "shelf",
                            "normalized": True,
                            "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]],
                        }
                    ],
                },
                {"id": "b", "source": "b.mp4"},
            ],
            "visits": {"zone_enter_s": 1, "zone_exit_s": 2, "absence_timeout_s": 20},
            "identity": {"min_frames": 2, "use_reid": False},
            "reset": {"timezone": "Europe/Berlin"},
            "storage": {"root": str(tmp_path / "store")},
        }
    )


def _people(k: int) -> list[list[TrackletUpdate]]:
    """Batches of 5 s of data time; a new shopper every 10 s, each staying 30 s."""
    batches = []
    for step in range(k):
        t = step * 5.0
        batch = []
        for p in range(step // 2 + 1):
            start = p * 10.0
            if start <= t < start + 30.0:
                cam = "a" if p % 2 == 0 else "b"
                zones = ("shelf",) if cam == "a" else ()
                batch += [
                    TrackletUpdate(
                        cam, 100 + p, T0 + x, BOX, FOOT, zones=zones, frame_size=(640, 360)
                    )
                    for x in np.arange(t, t + 5.0, 0.5)
                ]
        batches.append(batch)
    return batches


def _wait(pred: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def test_database_down_mid_run_then_back_catches_up_exactly(
    server: db_servers.DBServer, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from mcvision.serve.api import create_app

    cfg = with_mirror(_site(tmp_path), server.url(server.create_database()))
    svc = IdentityService(cfg)
    svc.core.flush_every_s = 0.0  # every tick flushes (and so wakes the mirror)
    api = TestClient(create_app(cfg, live=svc))  # type: ignore[arg-type]
    batches = _people(24)
    t = 0.0
    try:
        for i, batch in enumerate(batches):
            if i == 8:
                _wait(lambda: svc.mirror_status()["pending_files"] == 0)
                server.stop()
            if i == 16:
                _wait(lambda: svc.mirror_status()["state"] == "behind")
                status = api.get("/api/v1/health").json()["mirror"]
                assert status["state"] == "behind" and status["failures"] >= 1
                assert status["pending_files"] > 0 and status["lag_s"] > 0
                assert status["error"]
                server.start()
                assert svc.mirror.sync_now()  # (the worker itself retries after its backoff)
            t0 = time.perf_counter()
            svc.ingest(batch)
            svc.tick(T0 + (i + 1) * 5.0)
            t += time.perf_counter() - t0
        assert t < 0.5 * len(batches)  # ingest never waited for the database
        svc.tick(T0 + 200.0)  # everyone leaves
        _wait(
            lambda: (
                svc.mirror_status()["state"] == "ok" and svc.mirror_status()["pending_files"] == 0
            )
        )
    finally:
        if not server.running:
            server.start()
        svc.close()
    assert api.get("/api/v1/health").json()["mirror"]["state"] == "ok"
    live = engine_for(cfg)
    # an uninterrupted copy of the same store into a fresh database
    ref_cfg = with_mirror(cfg, server.url(server.create_database()))
    ref = Mirror(ref_cfg).open()
    ref.sync()
    assert snapshot(live) == snapshot(ref.engine)
    got = snapshot(live)
    assert len(got["visits"]) >= 4 and all(r for r in got["zone_visits"])
    live.dispose()
    ref.close()


def _many_files(cfg: SiteConfig, n: int) -> None:
    """A store of ``n`` flushes of growing visits and their events (one file each)."""
    store = EventStore.from_config(cfg)
    cal = BusinessCalendar.from_config(cfg.reset)
    for i in range(n):
        ts = T0 + i * 7.0
        day = cal.day_of(ts)
        gid = f"G{i // 4}"
        v = Visit(
            f"v{i // 4}",
            cfg.site_id,
            cal.day_of(T0 + (i // 4) * 28.0),
            gid,
            T0 + (i // 4) * 28.0,
            ts,
            closed=i % 4 == 3,
        )
        store.write(
            Records(
                visits=[v],
                events=[
                    Event(
                        kind="visit_open",
                        ts=ts,
                        day=day,
                        site_id=cfg.site_id,
                        global_id=gid,
                        visit_id=v.visit_id,
                        payload={"i": i},
                    )
                ],
            )
        )
        store.flush()


def test_kill_9_in_the_middle_of_a_sync_then_restart_gives_the_same_tables(
    server: db_servers.DBServer, tmp_path: Path
) -> None:
    cfg = with_mirror(_site(tmp_path), server.url(server.create_database()))
    _many_files(cfg, 60)
    path = write_yaml(cfg, tmp_path / "site.yaml")
    code = (
        "import sys; from mcvision.config import load_config;"
        " from mcvision.analytics.mirror import Mirror;"
        " Mirror(load_config(sys.argv[1]), chunk_files=1).open().sync()"
    )
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], env=env)
    engine = engine_for(cfg)
    wm = ms.mirror_watermarks

    def copied() -> int:
        try:
            with engine.connect() as conn:
                return int(
                    conn.execute(
                        sa.select(sa.func.coalesce(sa.func.sum(wm.c.files_copied), 0))
                    ).scalar()
                )
        except sa.exc.DBAPIError:
            return 0  # tables not created yet

    _wait(lambda: copied() >= 10 or proc.poll() is not None, timeout=60)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(10) == -signal.SIGKILL
    partial = copied()
    assert 10 <= partial < 120  # it died in the middle
    Mirror(cfg, engine=engine).open().sync()  # the restarted process resumes
    ref_cfg = with_mirror(cfg, server.url(server.create_database()))
    ref = Mirror(ref_cfg).open()
    ref.sync()
    assert snapshot(engine) == snapshot(ref.engine)
    assert len(snapshot(engine)["visits"]) == 15 and len(snapshot(engine)["events"]) == 60
    engine.dispose()
    ref.close()


# ---- bad configuration --------------------------------------------------------------
def test_a_password_in_the_url_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"storage\.mirror\.url: must not contain a password"):
        parse_config(
            {
                "site_id": "s",
                "cameras": [{"id": "c", "source": 0}],
                "storage": {
                    "mirror": {"enabled": True, "url": "mysql+pymysql://bi:secret@db/shop"}
                },
            }
        )
    with pytest.raises(ConfigError, match="must not contain a password"):
        parse_config(
            {
                "site_id": "s",
                "cameras": [{"id": "c", "source": 0}],
                "storage": {"mirror": {"url": "postgresql+psycopg://bi@db/shop?password=x"}},
            }
        )
    with pytest.raises(ConfigError, match="unknown tables"):
        parse_config(
            {
                "site_id": "s",
                "cameras": [{"id": "c", "source": 0}],
                "storage": {"mirror": {"tables": ["visits", "vists"]}},
            }
        )


@pytest.mark.parametrize("problem", ["password", "database", "refused", "driver"])
def test_bad_credentials_or_url_give_a_clear_error_and_the_run_goes_on(
    server: db_servers.DBServer, tmp_path: Path, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _site(tmp_path)
    url = server.url(server.create_database())
    expect = {
        "password": r"Access denied|password authentication failed",
        "database": r"Unknown database|does not exist",
        "refused": r"(?i)connect|refused",
        "driver": r"no such database driver",
    }[problem]
    if problem == "password":
        monkeypatch.setenv("MCVISION_BAD_PW", "wrong")
        cfg = with_mirror(cfg, url, password_env="MCVISION_BAD_PW")
    elif problem == "database":
        cfg = with_mirror(cfg, url.rsplit("/", 1)[0] + "/nosuchdb")
    elif problem == "refused":
        cfg = with_mirror(cfg, url.replace(f":{server.port}/", f":{db_servers.free_port()}/"))
    else:
        cfg = with_mirror(cfg, url.replace(f"+{server.driver}", "+nosuchdriver"))
    t0 = time.perf_counter()
    svc = IdentityService(cfg)
    assert time.perf_counter() - t0 < 10
    status = svc.mirror_status()
    assert status["state"] == ("behind" if problem == "refused" else "failed")
    assert re.search(expect, status["error"]), status["error"]
    assert db_servers.PASSWORD not in status["error"]
    for batch in _people(6):  # the run goes on without the mirror
        svc.ingest(batch)
        svc.tick(batch[-1].ts)
    svc.core.flush()
    assert svc.core.store.count("visits") >= 2
    svc.close()
    # the CLI says the same and exits 2 (1 for an unreachable server)
    path = write_yaml(cfg, tmp_path / "site.yaml")
    assert main(["mirror", "--config", str(path), "--no-progress"]) == (
        1 if problem == "refused" else 2
    )


# ---- schema versions ---------------------------------------------------------------
def test_schema_v1_upgrades_in_place_and_keeps_its_rows(
    server: db_servers.DBServer, seeded: dict[str, Any]
) -> None:
    cfg = with_mirror(seeded["cfg"], server.url(server.create_database()))
    engine = engine_for(cfg)
    assert ms.migrate(engine, to=1) == 1
    cols = {c["name"] for c in sa.inspect(engine).get_columns("visits")}
    assert "in_hour" not in cols and "in_local" in cols
    # a version-1 mirror with data in it
    v1 = Mirror(cfg.model_copy(), engine=engine)
    rows = [v1._visit(r, 0.0) for r in seeded["store"].sql("SELECT * FROM visits")]
    for r in rows:
        for c in ("in_hour", "corrected_at", "corrected_local", "merged_into"):
            r.pop(c)
        r["snapshot_rank"] = r["snapshot_rank"][:31]  # as version 1 ranked
    with engine.begin() as conn:
        conn.execute(sa.Table("visits", sa.MetaData(), autoload_with=conn).insert(), rows)
    assert ms.migrate(engine) == ms.SCHEMA_VERSION == 3
    with engine.connect() as conn:
        got = conn.execute(
            sa.select(
                ms.visits.c.visit_id, ms.visits.c.in_local, ms.visits.c.in_hour, ms.visits.c.dwell_s
            )
        ).all()
        versions = [r.version for r in conn.execute(sa.select(ms.schema_version.c.version))]
    assert len(got) == len(rows) and sorted(versions) == [1, 2, 3]
    assert all(r.in_hour == int(r.in_local[11:13]) for r in got)
    assert ms.migrate(engine) == 3  # nothing left to do
    Mirror(cfg, engine=engine).open().sync()  # and the upgraded mirror is used as is
    assert mirror_read.day_summary(engine, cfg.site_id, seeded["days"][0]) == q.day_summary(
        seeded["store"], seeded["days"][0]
    )
    engine.dispose()


# ---- the README's queries ------------------------------------------------------------
def readme_queries() -> dict[str, str]:
    text = (REPO / "README.md").read_text()
    found = re.findall(r"<!-- mirror-query: (\S+) -->\s*```sql\n(.*?)```", text, re.S)
    return dict(found)


def test_the_readme_queries_answer_like_the_store(
    server: db_servers.DBServer, seeded: dict[str, Any]
) -> None:
    queries = readme_queries()
    assert set(queries) == {"visitors_per_hour", "dwell_per_zone", "returning_share"}
    cfg = with_mirror(seeded["cfg"], server.url(server.create_database()))
    store: EventStore = seeded["store"]
    cal = BusinessCalendar.from_config(cfg.reset)
    mirror = Mirror(cfg).open()
    mirror.sync()
    with mirror.engine.connect() as conn:

        def run(name: str) -> list[Any]:
            return conn.execute(sa.text(queries[name])).all()

        per_hour = {
            (r.day.isoformat(), int(r.local_hour)): int(r.visitors)
            for r in run("visitors_per_hour")
        }
        expect: dict[tuple[str, int], set[str]] = {}
        for v in store.sql("SELECT * FROM visits WHERE NOT is_staff"):
            expect.setdefault((v["day"], cal.local(v["in_ts"]).hour), set()).add(v["global_id"])
        assert per_hour == {k: len(s) for k, s in expect.items()}
        zones = {(r.day.isoformat(), r.zone): float(r.avg_dwell_s) for r in run("dwell_per_zone")}
        assert zones == pytest.approx(
            {
                (d, z.zone): z.mean_dwell_s
                for d in seeded["days"]
                for z in q.zone_stats(store, d)
                if z.mean_dwell_s is not None
            }
        )
        share = {r.day.isoformat(): float(r.returning_share) for r in run("returning_share")}
        assert share == pytest.approx(
            {d: q.new_vs_returning(store, d).returning_share for d in seeded["days"]}
        )
        assert share[seeded["days"][1]] > 0
    mirror.close()


def test_mirror_cli_rebuilds_a_day_and_everything(
    server: db_servers.DBServer,
    seeded: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = with_mirror(seeded["cfg"], server.url(server.create_database()))
    path = write_yaml(cfg, tmp_path / "site.yaml")
    assert main(["mirror", "--config", str(path), "--no-progress"]) == 0
    engine = engine_for(cfg)
    full = snapshot(engine)
    with engine.begin() as conn:  # someone damaged a day
        conn.execute(
            ms.visits.delete().where(ms.visits.c.day == date.fromisoformat(seeded["days"][0]))
        )
    assert main(["mirror", "--config", str(path), "--day", seeded["days"][0]]) == 0
    assert snapshot(engine) == full
    assert main(["mirror", "--config", str(path), "--all"]) == 0
    assert snapshot(engine) == full
    assert "files, rows" in capsys.readouterr().out
    engine.dispose()


# ---- the API's mirror routes and the dashboard's Overview --------------------------------
def test_api_and_dashboard_overview_read_the_same_numbers_from_the_mirror(
    server: db_servers.DBServer, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx
    from streamlit.testing.v1 import AppTest

    from seed import api_server

    cfg = with_mirror(seeded["cfg"], server.url(server.create_database()))
    mirror = Mirror(cfg).open()
    mirror.sync()
    mirror.close()
    app_dir = REPO / "app_streamlit"
    monkeypatch.syspath_prepend(str(app_dir))
    with api_server(cfg, seeded["store"]) as url:

        def get(path: str, **params: Any) -> Any:
            r = httpx.get(f"{url}/api/v1{path}", params=params, timeout=20)
            assert r.status_code == 200, r.text
            return r.json()

        health = get("/health")
        assert health["mirror"]["state"] == "unknown" and health["mirror"]["url"] == (
            cfg.storage.mirror.url
        )  # no pipeline behind this API: state not known here
        status = get("/mirror/status")  # read from the mirror's watermarks
        assert (status["state"], status["pending_files"], status["lag_s"]) == ("ok", 0, 0.0)
        for day in seeded["days"]:
            assert get("/mirror/summary", day=day) == get("/summary", day=day)
            assert [
                {k: round(v, 6) if isinstance(v, float) else v for k, v in z.items()}
                for z in get("/mirror/zones", day=day)
            ] == [
                {k: round(v, 6) if isinstance(v, float) else v for k, v in z.items()}
                for z in get("/zones", day=day)
            ]
        if server.dialect != "postgresql":
            return  # the page itself is the same over either database: drawn once
        day = seeded["days"][0]
        monkeypatch.setenv("MCVISION_API_URL", url)
        at = AppTest.from_file(str(app_dir / "app.py"), default_timeout=60)
        at.run()
        at.date_input(key="day_picker").set_value(date.fromisoformat(day)).run()
        store_metrics = {m.label: m.value for m in at.metric}
        at.radio(key="overview_source").set_value("mirror").run()
        assert not at.exception, [e.value for e in at.exception]
        mirror_metrics = {m.label: m.value for m in at.metric}
        assert mirror_metrics == store_metrics
        assert mirror_metrics["Unique visitors"] == str(seeded["expected"][day]["unique_visitors"])


def test_activity_intervals_and_cameras_follow_the_stores_latest(
    server: db_servers.DBServer, tmp_path: Path
) -> None:
    cfg = with_mirror(_site(tmp_path), server.url(server.create_database()))
    store = EventStore.from_config(cfg)
    cal = BusinessCalendar.from_config(cfg.reset)
    day = cal.day_of(T0)
    mirror = Mirror(cfg).open()
    steps = [  # each its own flush and sync: an interval grows and closes, a camera drops
        (
            ActivityInterval(
                "i1", cfg.site_id, day, "G1", "v1", "browsing", "shelf", "a", T0, T0 + 10.0
            ),
            "camera_online",
            T0,
        ),
        (
            ActivityInterval(
                "i1",
                cfg.site_id,
                day,
                "G1",
                "v1",
                "browsing",
                "shelf",
                "a",
                T0,
                T0 + 25.0,
                closed=True,
            ),
            "camera_offline",
            T0 + 30.0,
        ),
        (
            ActivityInterval(
                "i1", cfg.site_id, day, "G1", "v1", "browsing", "shelf", "a", T0, T0 + 10.0
            ),
            "camera_online",
            T0 + 5.0,
        ),  # stale resends
    ]
    for interval, kind, ts in steps:
        store.write(
            Records(
                activities=[interval],
                events=[Event(kind=kind, ts=ts, day=day, site_id=cfg.site_id, camera_id="a")],
            )
        )
        store.flush()
        mirror.sync()
    with mirror.engine.connect() as conn:
        (act,) = conn.execute(sa.select(ms.activity_intervals)).all()
        (cam,) = conn.execute(sa.select(ms.cameras)).all()
    (want,) = store.sql("SELECT * FROM activities")
    assert (act.closed, act.dwell_s, act.zone) == (want["closed"], want["dwell_s"], "shelf")
    assert act.closed and act.dwell_s == 25.0
    (want_cam,) = store.sql("SELECT * FROM cameras")
    assert (cam.online, cam.ts) == (want_cam["online"], want_cam["ts"]) == (False, T0 + 30.0)
    assert cam.ts_local == cal.local(T0 + 30.0).format("YYYY-MM-DD HH:mm:ss")
    mirror.close()


# ---- late identity correction ----------------------------------------------------------
MERGE_TS = 1_773_040_000.0  # site time of the correction, after day 1's visits of G1 and G2


def _merge_g2_into_g1(seeded: dict[str, Any]) -> Records:
    """Merge G2 into G1 on day 1 with the correction machinery (the visit book's merge).

    The seed's G1 and G2 visits are 210 s apart: with a 600 s absence timeout they are
    one person's visit, so G2's visit gets a tombstone and G1's is rewritten; the zone
    stays of the same zone closer than 600 s are joined (zone visit tombstones); G2's
    activity interval is relabelled. Returns what was stored.
    """
    from mcvision.identity.correction import _visit as as_visit
    from mcvision.identity.correction import _zone_visit
    from mcvision.identity.visits import VisitBook

    cfg, store = seeded["cfg"], seeded["store"]
    day = seeded["days"][0]
    vcfg = cfg.visits.model_copy(update={"absence_timeout_s": 600.0, "zone_exit_s": 600.0})
    book = VisitBook(
        cfg.model_copy(update={"visits": vcfg}), BusinessCalendar.from_config(cfg.reset)
    )
    ids = ["G2", "G1"]
    visits = [
        as_visit(r)
        for r in store.sql(
            "SELECT * FROM visits WHERE global_id IN (?, ?) ORDER BY ALL", ids, day=day
        )
    ]
    zones = [
        _zone_visit(r)
        for r in store.sql(
            "SELECT * FROM zone_visits WHERE global_id IN (?, ?) ORDER BY ALL", ids, day=day
        )
    ]
    out, mapping = book.merge_identity("G2", "G1", MERGE_TS, visits, zones)
    for r in store.sql("SELECT * FROM activities WHERE global_id = 'G2'", day=day):
        out.activities.append(
            ActivityInterval(
                r["interval_id"],
                r["site_id"],
                day,
                "G1",
                mapping.get(r["visit_id"], r["visit_id"]),
                r["activity"],
                r["zone"],
                r["camera_id"],
                r["start_ts"],
                r["end_ts"],
                closed=r["closed"],
                corrected_at=MERGE_TS,
            )
        )
    store.write(out)
    store.flush()
    return out


def _g2_activity(seeded: dict[str, Any]) -> ActivityInterval:
    """A closed browsing interval of G2's day-1 visit (before the merge)."""
    store, day = seeded["store"], seeded["days"][0]
    (v,) = store.sql("SELECT * FROM visits WHERE global_id = 'G2'", day=day)
    return ActivityInterval(
        "i-g2",
        v["site_id"],
        day,
        "G2",
        v["visit_id"],
        "browsing",
        "shelves",
        "aisle",
        v["in_ts"] + 20.0,
        v["in_ts"] + 80.0,
        closed=True,
    )


def assert_mirror_equals_store(
    engine: sa.Engine, store: EventStore, cfg: SiteConfig, days: list[str]
) -> None:
    """Visits, dwell, headline numbers, zone seconds, hourly traffic and the README
    queries: the mirror (tombstones left out) answers as the store's views."""
    cal = BusinessCalendar.from_config(cfg.reset)
    v, z = ms.visits, ms.zone_visits
    with engine.connect() as conn:
        for day in days:
            d = date.fromisoformat(day)
            mine = sorted(
                tuple(r)
                for r in conn.execute(
                    sa.select(
                        v.c.visit_id, v.c.global_id, v.c.dwell_s, v.c.closed, v.c.is_staff
                    ).where(v.c.day == d, v.c.merged_into.is_(None))
                )
            )
            theirs = sorted(
                (r["visit_id"], r["global_id"], r["dwell_s"], r["closed"], r["is_staff"])
                for r in store.sql("SELECT * FROM visits", day=day)
            )
            assert mine == theirs
            zmine = sorted(
                tuple(r)
                for r in conn.execute(
                    sa.select(z.c.zone_visit_id, z.c.visit_id, z.c.global_id, z.c.dwell_s).where(
                        z.c.day == d, z.c.merged_into.is_(None)
                    )
                )
            )
            assert zmine == sorted(
                (r["zone_visit_id"], r["visit_id"], r["global_id"], r["dwell_s"])
                for r in store.sql("SELECT * FROM zone_visits", day=day)
            )
            expect = q.day_summary(store, day)
            assert mirror_read.day_summary(engine, cfg.site_id, day) == expect
            row = conn.execute(sa.select(ms.daily_summary).where(ms.daily_summary.c.day == d)).one()
            assert (row.visits, row.unique_visitors, row.closed_visits) == (
                expect.visits,
                expect.unique_visitors,
                expect.closed_visits,
            )
            assert row.dwell_mean_s == pytest.approx(expect.dwell_mean_s)
            assert row.dwell_median_s == pytest.approx(expect.dwell_median_s)
            assert rounded(mirror_read.zone_stats(engine, cfg.site_id, day)) == rounded(
                q.zone_stats(store, day)
            )
            buckets = q.traffic(store, cal, day, "1h").buckets
            got = conn.execute(
                sa.select(ms.traffic)
                .where(ms.traffic.c.day == d)
                .order_by(ms.traffic.c.bucket_start_ts)
            ).all()
            assert [(b.start_ts, b.entries, b.exits, b.occupancy) for b in buckets] == [
                (r.bucket_start_ts, r.entries, r.exits, r.occupancy) for r in got
            ]
        assert mirror_read.days(engine, cfg.site_id) == sorted(
            r["day"] for r in store.sql("SELECT DISTINCT day FROM visits")
        )
        queries = readme_queries()
        per_hour = {
            (r.day.isoformat(), int(r.local_hour)): int(r.visitors)
            for r in conn.execute(sa.text(queries["visitors_per_hour"]))
        }
        want: dict[tuple[str, int], set[str]] = {}
        for r in store.sql("SELECT * FROM visits WHERE NOT is_staff"):
            want.setdefault((r["day"], cal.local(r["in_ts"]).hour), set()).add(r["global_id"])
        assert per_hour == {k: len(s) for k, s in want.items()}
        zones = {
            (r.day.isoformat(), r.zone): (int(r.stays), float(r.avg_dwell_s))
            for r in conn.execute(sa.text(queries["dwell_per_zone"]))
        }
        want_z = {}
        for day in days:
            for s in q.zone_stats(store, day):
                if s.mean_dwell_s is not None:
                    want_z[(day, s.zone)] = (s.visits - s.open_visits, s.mean_dwell_s)
        assert zones.keys() == want_z.keys()
        for k, (n, mean) in zones.items():
            assert n == want_z[k][0] and mean == pytest.approx(want_z[k][1])
        share = {
            r.day.isoformat(): float(r.returning_share)
            for r in conn.execute(sa.text(queries["returning_share"]))
        }
        assert share == pytest.approx(
            {d: q.new_vs_returning(store, d).returning_share for d in days}
        )


def test_a_late_identity_correction_mirrors_like_the_store(
    server: db_servers.DBServer, own_seeded: dict[str, Any]
) -> None:
    seeded = own_seeded
    cfg = with_mirror(seeded["cfg"], server.url(server.create_database()))
    store: EventStore = seeded["store"]
    day = seeded["days"][0]
    g2_activity = _g2_activity(seeded)
    store.write(Records(activities=[g2_activity]))
    store.flush()
    mirror = Mirror(cfg).open()
    mirror.sync()  # the mirror has the records before the correction
    before = q.day_summary(store, day)
    (g2,) = store.sql("SELECT * FROM visits WHERE global_id = 'G2'", day=day)
    out = _merge_g2_into_g1(seeded)
    tombs = {t.visit_id: t.merged_into for t in out.visits if t.merged_into}
    ztombs = {t.zone_visit_id: t.merged_into for t in out.zone_visits if t.merged_into}
    assert tombs == {g2["visit_id"]: out.visits[-1].visit_id} and ztombs
    after = q.day_summary(store, day)
    assert after.visits == before.visits - 1 and after.unique_visitors == before.unique_visitors - 1
    mirror.sync()
    assert_mirror_equals_store(mirror.engine, store, cfg, seeded["days"])
    v, z, a = ms.visits, ms.zone_visits, ms.activity_intervals
    with mirror.engine.connect() as conn:
        # the tombstones are kept as rows, marked, and nothing else changed key
        got = dict(
            conn.execute(
                sa.select(v.c.visit_id, v.c.merged_into).where(v.c.merged_into.is_not(None))
            ).all()
        )
        assert got == tombs
        assert (
            dict(
                conn.execute(
                    sa.select(z.c.zone_visit_id, z.c.merged_into).where(
                        z.c.merged_into.is_not(None)
                    )
                ).all()
            )
            == ztombs
        )
        n = conn.execute(sa.select(sa.func.count()).select_from(v)).scalar()
        assert n == store.count("visits") + len(tombs)
        survivor = conn.execute(sa.select(v).where(v.c.visit_id == out.visits[-1].visit_id)).one()
        assert (survivor.global_id, survivor.corrected_at) == ("G1", MERGE_TS)
        assert survivor.corrected_local == BusinessCalendar.from_config(cfg.reset).local(
            MERGE_TS
        ).format("YYYY-MM-DD HH:mm:ss")
        act = conn.execute(sa.select(a).where(a.c.interval_id == "i-g2")).one()
        assert (act.global_id, act.visit_id, act.corrected_at) == (
            "G1",
            survivor.visit_id,
            MERGE_TS,
        )
        s = conn.execute(
            sa.select(ms.daily_summary).where(ms.daily_summary.c.day == date.fromisoformat(day))
        ).one()
        assert s.visits == after.visits
    frozen = snapshot(mirror.engine)
    # replay everything after the merge: forget the watermarks, copy every file again
    with mirror.engine.begin() as conn:
        conn.execute(ms.mirror_watermarks.delete())
    again = Mirror(cfg, engine=mirror.engine).open()
    assert again.sync().files > 0
    assert snapshot(mirror.engine) == frozen
    # a stale resend of G2's visit as it was before the merge: the tombstone stays
    stale = Visit(
        g2["visit_id"],
        g2["site_id"],
        day,
        "G2",
        g2["in_ts"],
        g2["out_ts"],
        tuple(g2["cameras"]),
        tuple(g2["zones"]),
        g2["in_source"],
        g2["out_source"],
        g2["returning"],
        g2["is_staff"],
        closed=True,
    )
    store.write(Records(visits=[stale], activities=[g2_activity]))
    store.flush()
    again.sync()
    assert q.day_summary(store, day) == after
    assert snapshot(mirror.engine) == frozen
    assert_mirror_equals_store(mirror.engine, store, cfg, seeded["days"])
    mirror.close()
    # the API's mirror numbers (the dashboard's mirror source) leave the tombstones out too
    import httpx

    from seed import api_server

    with api_server(cfg, store) as url:

        def get(path: str) -> Any:
            r = httpx.get(f"{url}/api/v1{path}", params={"day": day}, timeout=20)
            assert r.status_code == 200, r.text
            return r.json()

        summary = get("/mirror/summary")
        assert summary == get("/summary") and summary["visits"] == after.visits
        assert len(get("/mirror/zones")) == len(get("/zones"))


def test_schema_v2_upgrades_to_v3_in_place_and_the_next_sync_marks_tombstones(
    server: db_servers.DBServer, own_seeded: dict[str, Any]
) -> None:
    seeded = own_seeded
    cfg = with_mirror(seeded["cfg"], server.url(server.create_database()))
    store: EventStore = seeded["store"]
    engine = engine_for(cfg)
    assert ms.migrate(engine, to=2) == 2
    cols = {c["name"] for c in sa.inspect(engine).get_columns("visits")}
    assert "in_hour" in cols and not cols & {"corrected_at", "merged_into"}
    # a version-2 mirror with data in it: ranks as version 2 wrote them, watermarks moved
    v2 = Mirror(cfg, engine=engine)
    old = [v2._visit(r, 0.0) for r in store.sql("SELECT * FROM visits")]
    for r in old:
        for c in ("corrected_at", "corrected_local", "merged_into"):
            r.pop(c)
        r["snapshot_rank"] = r["snapshot_rank"][:31]
    with engine.begin() as conn:
        conn.execute(sa.Table("visits", sa.MetaData(), autoload_with=conn).insert(), old)
        conn.execute(
            ms.mirror_watermarks.insert(),
            [
                {
                    "site_id": cfg.site_id,
                    "source": s,
                    "mtime_ns": 2**62,
                    "files_copied": 1,
                    "rows_copied": 1,
                    "updated_ts": 0.0,
                }
                for s in ("visits", "events")
            ],
        )
    # the store gets a correction; the old tombstone-blind mirror would see G2's visit
    out = _merge_g2_into_g1(seeded)
    assert ms.migrate(engine) == ms.SCHEMA_VERSION == 3
    with engine.connect() as conn:
        kept = conn.execute(
            sa.select(
                ms.visits.c.visit_id,
                ms.visits.c.in_hour,
                ms.visits.c.in_local,
                ms.visits.c.merged_into,
                ms.visits.c.corrected_at,
            )
        ).all()
        versions = sorted(r.version for r in conn.execute(sa.select(ms.schema_version.c.version)))
        marks = {r.source for r in conn.execute(sa.select(ms.mirror_watermarks.c.source))}
        width = next(
            c for c in sa.inspect(conn).get_columns("visits") if c["name"] == "snapshot_rank"
        )["type"].length
    assert sorted(r.visit_id for r in kept) == sorted(r["visit_id"] for r in old)
    assert all(
        r.in_hour == int(r.in_local[11:13]) and r.merged_into is None and r.corrected_at is None
        for r in kept
    )
    assert versions == [1, 2, 3] and marks == {"events"} and width == 128
    assert ms.migrate(engine) == 3  # nothing left to do
    Mirror(cfg, engine=engine).open().sync()  # copies visits again: the tombstone is marked
    tomb = next(t for t in out.visits if t.merged_into)
    with engine.connect() as conn:
        (merged,) = conn.execute(
            sa.select(ms.visits.c.merged_into).where(ms.visits.c.visit_id == tomb.visit_id)
        ).one()
    assert merged == tomb.merged_into
    assert_mirror_equals_store(engine, store, cfg, seeded["days"])
    engine.dispose()


def test_a_day_compacted_before_its_tombstones_were_mirrored_is_put_right_by_a_day_rebuild(
    server: db_servers.DBServer, own_seeded: dict[str, Any]
) -> None:
    seeded = own_seeded
    cfg = with_mirror(seeded["cfg"], server.url(server.create_database()))
    store: EventStore = seeded["store"]
    day = seeded["days"][0]
    mirror = Mirror(cfg).open()
    mirror.sync()
    out = _merge_g2_into_g1(seeded)  # the mirror is behind: it has not seen the merge
    assert store.compact(day) > 0  # the compacted day holds no tombstone, no hidden row
    mirror.sync()
    tomb = next(t for t in out.visits if t.merged_into)
    v = ms.visits
    with mirror.engine.connect() as conn:
        n = conn.execute(
            sa.select(sa.func.count())
            .select_from(v)
            .where(v.c.visit_id == tomb.visit_id, v.c.merged_into.is_(None))
        ).scalar()
    assert n == 1  # the superseded visit is still counted ...
    mirror.rebuild(day)  # ... until the day is rebuilt (`mcvision mirror --day D`)
    assert_mirror_equals_store(mirror.engine, store, cfg, seeded["days"])
    mirror.close()
