"""The HTTP API under hostile input: schemathesis fuzzing, admin keys, CORS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from mcvision.serve.api import API_KEY_ENV, create_app
from seed import seed_store

KEY = "s3cret-key"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return seed_store(tmp_path_factory.mktemp("api-fuzz"))


@pytest.fixture(scope="module")
def app(seeded: dict[str, Any]) -> FastAPI:
    return create_app(seeded["cfg"], store=seeded["store"])


def test_fuzzed_requests_never_cause_a_server_error(app: FastAPI) -> None:
    """Every documented route, with generated paths, queries and bodies: no 5xx."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 10
    calls: list[int] = []

    for op in operations:

        @given(case=op.as_strategy())
        @settings(
            max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def check(case: Any) -> None:
            response = case.call()
            calls.append(response.status_code)
            assert response.status_code < 500, (
                case.method,
                case.formatted_path,
                response.text[:300],
            )

        check()
    assert len(calls) >= 5 * len(operations)


@pytest.mark.parametrize(
    ("configured", "sent", "status"),
    [
        (None, KEY, 403),  # admin routes off unless a key is configured
        (KEY, None, 401),
        (KEY, "wrong", 401),
        (KEY, KEY[:-1], 401),  # a prefix is not the key
        (KEY, KEY + "x", 401),
        (KEY, KEY, 200),
    ],
)
def test_admin_routes_need_the_configured_key(
    app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
    configured: str | None,
    sent: str | None,
    status: int,
) -> None:
    if configured is None:
        monkeypatch.delenv(API_KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(API_KEY_ENV, configured)
    headers = {"X-API-Key": sent} if sent is not None else {}
    r = TestClient(app).post("/api/v1/admin/staff", json={"global_id": "nobody"}, headers=headers)
    assert r.status_code == status or (status == 200 and r.status_code in (200, 404, 422))


def test_admin_key_check_is_constant_time() -> None:
    source = (Path(__file__).resolve().parents[2] / "src/mcvision/serve/auth.py").read_text()
    assert "hmac.compare_digest(" in source
    assert "x_api_key == " not in source and "== expected" not in source


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/summary"])
def test_cors_is_closed_by_default(app: FastAPI, path: str) -> None:
    client = TestClient(app)
    r = client.get(path, headers={"Origin": "https://evil.example"})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in {k.lower() for k in r.headers}
    pre = client.options(
        path, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in {k.lower() for k in pre.headers}


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("offset=9223372036854775808", "offset"),  # past int64: found by fuzzing
        ("offset=-1", "offset"),
        ("limit=0", "limit"),
        ("min_dwell_s=-5", "min_dwell_s"),
        ("day=2026-13-40", "day"),
    ],
)
def test_bad_visit_parameters_are_422_naming_the_parameter(
    app: FastAPI, query: str, param: str
) -> None:
    r = TestClient(app).get(f"/api/v1/visits?{query}")
    assert r.status_code == 422
    assert param in r.text
