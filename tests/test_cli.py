"""`mcvision report`: numbers from a store built here, JSON output, error exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mcvision.analytics.queries import day_summary
from mcvision.analytics.store import EventStore
from mcvision.business_day import BusinessCalendar
from mcvision.cli import main
from mcvision.config import load_config
from mcvision.types import Records, Visit

SITE = "shop"
TZ = "Europe/Berlin"
CAL = BusinessCalendar("00:00", TZ)
DAYS = ["2026-04-01", "2026-04-02", "2026-04-09"]
# per day: (global_id, dwell_s, closed, staff)
DATA = {
    "2026-04-01": [("G1", 60.0, True, False), ("G2", 180.0, True, False)],
    "2026-04-02": [
        ("G1", 120.0, True, False),
        ("G2", 300.0, True, False),
        ("G3", 45.0, False, False),
        ("G1", 30.0, True, False),
        ("S1", 9000.0, True, True),
    ],
    "2026-04-09": [("G9", 10.0, True, False)],
}

CONFIG = f"""\
site_id: {SITE}
cameras:
  - id: c1
    source: entrance.mp4
reset:
  time: "00:00"
  timezone: {TZ}
storage:
  root: data
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    cfg_path = folder / "site.yaml"
    cfg_path.write_text(CONFIG)
    store = EventStore.from_config(load_config(cfg_path))
    for day, rows in DATA.items():
        t0 = CAL.day_start(day) + 10 * 3600
        store.write(
            Records(
                visits=[
                    Visit(
                        f"{day}-{n}",
                        SITE,
                        day,
                        gid,
                        t0 + n * 600,
                        t0 + n * 600 + dwell,
                        closed=closed,
                        is_staff=staff,
                    )
                    for n, (gid, dwell, closed, staff) in enumerate(rows)
                ]
            )
        )
    store.flush()
    return cfg_path


def clock_at(day: str, hour: float = 15) -> float:
    return CAL.day_start(day) + hour * 3600


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str], **kw: object) -> dict:
    assert main(argv, **kw) == 0  # type: ignore[arg-type]
    return json.loads(capsys.readouterr().out)


def test_report_table_shows_numbers(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    day = "2026-04-02"
    assert main(["report", "--config", str(site), "--day", day]) == 0
    out = capsys.readouterr().out
    expected = day_summary(EventStore.from_config(load_config(site)), day)

    def value(metric: str) -> str:
        m = re.search(rf"│\s*{re.escape(metric)}\s*│\s*([^│]+?)\s*│", out)
        assert m, f"{metric!r} not in output:\n{out}"
        return m[1]

    customers = [r for r in DATA[day] if not r[3]]
    assert value("unique visitors") == str(len({r[0] for r in customers})) == "3"
    assert value("visits") == str(len(customers)) == "4"
    assert value("open visits") == "1"
    assert value("staff visits") == "1"
    closed = sorted(r[1] for r in customers if r[2])
    assert expected.dwell_median_s == closed[1]
    assert value("median dwell (closed visits)").startswith(f"{closed[1]:.1f} s")
    assert value("mean dwell (closed visits)").startswith(f"{sum(closed) / 3:.1f} s")
    assert f"{SITE} — {day}" in out


def test_report_json(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    day = "2026-04-01"
    data = run_json(capsys, ["report", "--config", str(site), "--day", day, "--json"])
    assert data["site_id"] == SITE and data["day"] == day
    assert (data["unique_visitors"], data["visits"], data["closed_visits"]) == (2, 2, 2)
    assert data["dwell_mean_s"] == pytest.approx((60.0 + 180.0) / 2)
    staff = run_json(
        capsys,
        ["report", "--config", str(site), "--day", "2026-04-02", "--json", "--include-staff"],
    )
    assert (staff["visits"], staff["unique_visitors"]) == (5, 4)


@pytest.mark.parametrize(
    ("now_day", "expected"),
    [
        ("2026-04-02", "2026-04-02"),  # today has data
        ("2026-04-05", "2026-04-02"),  # latest day with data, not the future one
        ("2026-04-20", "2026-04-09"),
        ("2026-03-01", "2026-03-01"),  # nothing yet: today, empty
    ],
)
def test_report_default_day(
    site: Path, capsys: pytest.CaptureFixture[str], now_day: str, expected: str
) -> None:
    data = run_json(
        capsys, ["report", "--config", str(site), "--json"], clock=lambda: clock_at(now_day)
    )
    assert data["day"] == expected
    assert data["visits"] == sum(1 for r in DATA.get(expected, []) if not r[3])


def test_report_as_subprocess(site: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcvision.cli",
            "report",
            "--config",
            str(site),
            "--day",
            "2026-04-02",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["unique_visitors"], data["visits"], data["open_visits"]) == (3, 4, 1)


@pytest.mark.parametrize(
    ("yaml_text", "needle"),
    [
        ("site_id: shop\ncameras:\n  - id: c1\n    source: a.mp4\n    fps: -3\n", "cameras[0].fps"),
        ("site_id: shop\ncameras: []\n", "cameras"),
        (
            "site_id: shop\ncameras:\n  - id: c1\n    source: a.mp4\nreset:\n  timezone: Mars/Base\n",
            "reset.timezone: unknown time zone",
        ),
        ("site_id: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_config_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], yaml_text: str, needle: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    assert main(["report", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert "Traceback" not in err


def test_missing_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_bad_config_as_subprocess(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("site_id: shop\ncameras:\n  - id: c1\n    source: a.mp4\n    fps: 0\n")
    proc = subprocess.run(
        [sys.executable, "-m", "mcvision.cli", "report", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "cameras[0].fps" in proc.stderr and "Traceback" not in proc.stderr


def test_corrupt_store_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(CONFIG)
    store = EventStore.from_config(load_config(path))
    for day in ("2026-04-01", "2026-04-02"):
        t0 = CAL.day_start(day)
        store.write(Records(visits=[Visit(f"v-{day}", SITE, day, "G1", t0, t0 + 5, closed=True)]))
    store.flush()
    (bad,) = store.files("visits", "2026-04-02")
    bad.write_bytes(b"\x00garbage" * 50)
    assert main(["report", "--config", str(path), "--day", "2026-04-02"]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "Traceback" not in err
    ok = run_json(capsys, ["report", "--config", str(path), "--day", "2026-04-01", "--json"])
    assert ok["visits"] == 1


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["report", "--config", "x.yaml", "--day", "April 2"], "--day: day must be"),
        (["report"], "--config"),
        ([], "COMMAND"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2(
    site: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    argv = [str(site) if a == "x.yaml" else a for a in argv]
    assert main(argv) == 2
    assert needle in capsys.readouterr().err
