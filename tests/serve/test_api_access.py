"""Access control of the HTTP API: keys on every route, loopback rules, CORS, no key leaks."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from mcvision.cli import main
from mcvision.config import ApiConfig, SiteConfig
from mcvision.serve.api import API_KEY_ENV, READ_KEY_ENV, create_app
from mcvision.serve.auth import AccessConfigError, check_bind, is_loopback
from seed import api_server, seed_store

READ = "read-k3y-7f1c9e"
ADMIN = "admin-k3y-42b8d0"
EVERY_KEY = (READ, ADMIN)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return seed_store(tmp_path_factory.mktemp("api-access"))


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(READ_KEY_ENV, READ)
    monkeypatch.setenv(API_KEY_ENV, ADMIN)


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(READ_KEY_ENV, raising=False)
    monkeypatch.delenv(API_KEY_ENV, raising=False)


def with_api(cfg: SiteConfig, **api: Any) -> SiteConfig:
    return cfg.model_copy(update={"api": ApiConfig(**api)})


def every_route(app: FastAPI, cfg: SiteConfig) -> list[tuple[str, str, bool]]:
    """(method, concrete path, is_admin) for every route of the app, docs included."""
    samples = {"camera_id": cfg.cameras[0].id, "path": "nothing.jpg"}
    out = []
    for r in app.routes:
        if not isinstance(r, Route):
            continue
        path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: samples.get(m.group(1), "x1"), r.path)
        for method in sorted((r.methods or {"GET"}) - {"HEAD"}):
            out.append((method, path, path.startswith("/api/v1/admin")))
    assert sum(isinstance(r, APIRoute) for r in app.routes) >= 15
    return out


def call(
    client: TestClient, method: str, path: str, key: str | None, bearer: bool = True
) -> httpx.Response:
    headers = {}
    if key is not None:
        headers = {"Authorization": f"Bearer {key}"} if bearer else {"X-API-Key": key}
    body = {"global_id": "nobody"} if method == "POST" else None
    return client.request(method, path, headers=headers, json=body)


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
@pytest.mark.usefixtures("keys")
def test_every_route_needs_the_right_key(seeded: dict[str, Any], host: str) -> None:
    """The 401/403 table over every route the app has (new routes are covered by iterating)."""
    cfg = seeded["cfg"]
    app = create_app(cfg, store=seeded["store"], host=host)
    client = TestClient(app)
    routes = every_route(app, cfg)
    assert any(a for *_, a in routes) and any(p == "/openapi.json" for _, p, _ in routes)
    ok = 0
    for method, path, admin in routes:
        where = f"{method} {path}"
        assert call(client, method, path, None).status_code == 401, where
        assert call(client, method, path, "wrong").status_code == 401, where
        assert call(client, method, path, READ[:-1]).status_code == 401, where  # a prefix
        read = call(client, method, path, READ)
        if admin:
            assert read.status_code == 403, where
            assert call(client, method, path, READ, bearer=False).status_code == 403, where
        else:
            assert read.status_code not in (401, 403) and read.status_code < 500, where
            ok += read.status_code == 200
            x = call(client, method, path, READ, bearer=False)
            assert x.status_code == read.status_code, where
        by_admin = call(client, method, path, ADMIN)
        assert by_admin.status_code not in (401, 403) and by_admin.status_code < 500, where
    assert ok >= 12  # health, days, summary, visits, zones, ... , openapi.json, docs


@pytest.mark.usefixtures("no_keys")
def test_loopback_without_keys_is_open_as_before(seeded: dict[str, Any]) -> None:
    app = create_app(seeded["cfg"], store=seeded["store"], host="127.0.0.1")
    client = TestClient(app)
    for method, path, admin in every_route(app, seeded["cfg"]):
        r = call(client, method, path, None)
        if admin:
            assert r.status_code == 403 and API_KEY_ENV in r.json()["detail"]  # off until set
        else:
            assert r.status_code not in (401, 403), (method, path)


@pytest.mark.usefixtures("no_keys")
def test_loopback_with_a_read_key_enforces_it(
    seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(READ_KEY_ENV, READ)
    client = TestClient(create_app(seeded["cfg"], store=seeded["store"], host="::1"))
    assert client.get("/api/v1/health").status_code == 401
    assert client.get("/api/v1/health").headers["www-authenticate"].startswith("Bearer")
    assert client.get("/api/v1/health", headers={"X-API-Key": READ}).status_code == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "shop.example"])
@pytest.mark.usefixtures("no_keys")
def test_refuses_to_start_off_loopback_without_a_read_key(
    seeded: dict[str, Any], host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(API_KEY_ENV, ADMIN)  # an admin key alone is not enough
    with pytest.raises(AccessConfigError) as err:
        create_app(seeded["cfg"], store=seeded["store"], host=host)
    msg = str(err.value)
    assert "api.read_key_env" in msg and READ_KEY_ENV in msg and repr(host) in msg
    assert ADMIN not in msg


@pytest.mark.usefixtures("no_keys")
def test_cli_serve_and_run_refuse_a_public_address_without_a_key(
    seeded: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = seeded["cfg"]
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    assert main(["serve", "--config", str(site), "--host", "0.0.0.0", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "api.read_key_env" in err and READ_KEY_ENV in err and "Traceback" not in err

    from mcvision.runner import SiteRunner

    public = cfg.model_copy(
        update={"runtime": cfg.runtime.model_copy(update={"api_host": "0.0.0.0"})}
    )
    with pytest.raises(AccessConfigError, match=r"api\.read_key_env"):
        SiteRunner(public).start()  # refused before Ray starts


@pytest.mark.usefixtures("no_keys")
def test_keys_from_files(seeded: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "read.key").write_text(READ + "\n")
    (tmp_path / "admin.key").write_text(ADMIN)
    cfg = with_api(
        seeded["cfg"],
        read_key_file=str(tmp_path / "read.key"),
        admin_key_file=str(tmp_path / "admin.key"),
    )
    client = TestClient(create_app(cfg, store=seeded["store"], host="0.0.0.0"))
    assert client.get("/api/v1/days").status_code == 401
    assert (
        client.get("/api/v1/days", headers={"Authorization": f"Bearer {READ}"}).status_code == 200
    )
    r = client.post(
        "/api/v1/admin/staff",
        json={"global_id": "nobody"},
        headers={"Authorization": f"bearer {ADMIN}"},
    )
    assert r.status_code == 404  # past the key check: an unknown global ID

    missing = with_api(seeded["cfg"], read_key_file=str(tmp_path / "gone.key"))
    with pytest.raises(AccessConfigError, match=r"api\.read_key_file"):
        create_app(missing, store=seeded["store"], host="0.0.0.0")


def test_loopback_addresses() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "", "10.0.0.1", "127.0.0.1.example"]))
    check_bind(ApiConfig(), "127.0.0.1")  # no key needed on loopback


@pytest.mark.usefixtures("keys")
def test_no_key_value_appears_in_logs_or_error_bodies(
    seeded: dict[str, Any], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over real HTTP on 127.0.0.1: refusals, admin errors and successes never echo a key."""
    caplog.set_level(logging.DEBUG)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "fastapi", "mcvision"):
        lg = logging.getLogger(name)  # uvicorn's loggers do not propagate: listen to them too
        monkeypatch.setattr(lg, "handlers", [*lg.handlers, caplog.handler])
    texts: list[str] = []
    h = {"Authorization": f"Bearer {READ}"}
    with api_server(seeded["cfg"], store=seeded["store"], headers=h) as url:
        for headers in (
            {},
            {"X-API-Key": "wrong" + READ},
            h,
            {"X-API-Key": ADMIN},
            {"Authorization": f"Bearer {READ}x"},
        ):
            for path in (
                "/api/v1/health",
                "/api/v1/visits/nope",
                "/api/v1/visits?limit=0",
                "/api/v1/heatmap/nocam",
            ):
                r = httpx.get(url + path, headers=headers, timeout=10)
                texts += [r.text, str(r.headers)]
            r = httpx.post(
                url + "/api/v1/admin/staff",
                headers=headers,
                json={"global_id": "nobody"},
                timeout=10,
            )
            texts += [r.text, str(r.headers)]
        assert httpx.get(url + "/api/v1/days", headers=h, timeout=10).status_code == 200
    texts.append(caplog.text)
    assert any("401" in t or "wrong key" in t for t in texts)
    for key in EVERY_KEY:
        for t in texts:
            assert key not in t


@pytest.mark.usefixtures("keys")
def test_cors_only_for_allowed_origins(seeded: dict[str, Any]) -> None:
    allowed = "https://ui.example"
    cfg = with_api(seeded["cfg"], cors_origins=[allowed])
    client = TestClient(create_app(cfg, store=seeded["store"]))
    h = {"Authorization": f"Bearer {READ}"}
    r = client.get("/api/v1/health", headers={**h, "Origin": allowed})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == allowed
    r = client.get("/api/v1/health", headers={**h, "Origin": "https://evil.example"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    pre = client.options(
        "/api/v1/summary",
        headers={
            "Origin": allowed,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == allowed
    assert "authorization" in pre.headers["access-control-allow-headers"].lower()
    pre = client.options(
        "/api/v1/summary",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in pre.headers
    # a refused request from an allowed origin is readable by that page (it can show why)
    r = client.get("/api/v1/health", headers={"Origin": allowed})
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == allowed


def test_cors_origins_must_be_origins() -> None:
    for bad in ("*", "https://ui.example/app", "ui.example"):
        with pytest.raises(ValueError, match="not an origin"):
            ApiConfig(cors_origins=[bad])
