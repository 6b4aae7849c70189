"""Access control of the HTTP API: read and admin keys, loopback rules.

Two keys, each from the environment variable named in ``api`` (else a file):

* the **read key** opens analytics, status and live video;
* the **admin key** opens the admin routes (``/api/v1/admin/...``) and reads too.

A client sends a key as ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``;
keys are compared with :func:`hmac.compare_digest`. On a loopback address
with no read key set, reads are open (a single-machine install); on any
other address every route needs a key and :func:`check_bind` refuses to start
without a read key. Admin routes are closed (403) until an admin key is set.
No key value is ever logged or put in an error body.

The check is a plain ASGI middleware (:class:`AccessMiddleware`), so it covers
every route of the app, the OpenAPI schema and docs included, and streaming
responses pass through untouched.

Example:
    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
    (True, True, False)
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcvision.config import ApiConfig, ConfigError

__all__ = [
    "ADMIN_PREFIX",
    "AccessConfigError",
    "AccessMiddleware",
    "KeySource",
    "Keys",
    "check_bind",
    "is_loopback",
]

ADMIN_PREFIX = "/api/v1/admin"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class AccessConfigError(ConfigError):
    """The API's access settings cannot work (no read key off loopback, unreadable key file)."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; False for 0.0.0.0, ``::`` and the rest."""
    h = (host or "").strip().strip("[]").lower()
    if h in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class KeySource:
    """Where one key comes from: an environment variable, else a file.

    Attributes:
        name: ``read`` or ``admin`` (for messages).
        env: the environment variable's name.
        file: a file holding the key (surrounding whitespace stripped), or None.
        env_field: the config field naming ``env`` (for messages).
        file_field: the config field naming ``file`` (for messages).
    """

    name: str
    env: str
    file: str | None
    env_field: str
    file_field: str

    def get(self) -> str | None:
        """The key, or None when neither the variable nor a file sets it.

        Raises:
            AccessConfigError: the file is configured but unreadable or empty
                (the message names the field and the path, never a key).
        """
        value = os.environ.get(self.env, "")
        if value:
            return value
        if not self.file:
            return None
        try:
            text = Path(self.file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as err:
            raise AccessConfigError(
                f"{self.file_field}: cannot read the {self.name} key file {self.file!r}"
                f" ({type(err).__name__})"
            ) from None
        if not text:
            raise AccessConfigError(
                f"{self.file_field}: the {self.name} key file {self.file!r} is empty"
            )
        return text

    @property
    def where(self) -> str:
        """How to set this key, in words."""
        also = f" or the file in {self.file_field}" if self.file else f" (or {self.file_field})"
        return f"${self.env} ({self.env_field}){also}"


@dataclass(frozen=True)
class Keys:
    """The read and admin key sources of a site."""

    read: KeySource
    admin: KeySource

    @classmethod
    def from_config(cls, api: ApiConfig) -> Keys:
        """The key sources named in the ``api`` config block."""
        return cls(
            read=KeySource(
                "read", api.read_key_env, api.read_key_file, "api.read_key_env", "api.read_key_file"
            ),
            admin=KeySource(
                "admin",
                api.admin_key_env,
                api.admin_key_file,
                "api.admin_key_env",
                "api.admin_key_file",
            ),
        )


def check_bind(api: ApiConfig, host: str) -> None:
    """Refuse a bind address the keys cannot protect.

    Raises:
        AccessConfigError: ``host`` is not loopback and no read key is set,
            or a configured key file cannot be read.
    """
    keys = Keys.from_config(api)
    read = keys.read.get()
    keys.admin.get()  # an unreadable admin key file is an error now, not at the first request
    if not is_loopback(host) and not read:
        raise AccessConfigError(
            f"the API would listen on {host!r}, which is not a loopback address, without a read"
            f" key: set {keys.read.where}, or bind to 127.0.0.1 (runtime.api_host)"
        )


def _match(presented: str, key: str | None) -> bool:
    return key is not None and hmac.compare_digest(presented.encode(), key.encode())


def _presented(headers: list[tuple[bytes, bytes]]) -> str | None:
    bearer = x_key = None
    for name, value in headers:
        n = name.lower()
        if n == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                bearer = token.strip()
        elif n == b"x-api-key":
            x_key = value.decode("latin-1").strip() or None
    return bearer or x_key


class AccessMiddleware:
    """ASGI middleware: every HTTP request passes the key check first.

    Args:
        app: the wrapped ASGI app.
        keys: where the keys come from (read per request, so a rotated key
            applies without a restart).
        loopback: whether the server listens on a loopback address only.
    """

    def __init__(self, app: ASGIApp, keys: Keys, loopback: bool) -> None:
        self.app = app
        self.keys = keys
        self.loopback = loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope["path"], _presented(scope.get("headers") or []))
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, detail = refusal
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps({"detail": detail}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="mcvision"'))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def refusal(self, path: str, presented: str | None) -> tuple[int, str] | None:
        """None when the request may pass; else (status, detail) naming no key value."""
        try:
            read_key = self.keys.read.get()
            admin_key = self.keys.admin.get()
        except AccessConfigError as err:
            return 503, str(err)
        send_how = "send Authorization: Bearer KEY or X-API-Key: KEY"
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            if not admin_key:
                return 403, f"admin routes are disabled: set {self.keys.admin.where}"
            if not presented:
                return 401, f"this route needs the admin key: {send_how}"
            if _match(presented, admin_key):
                return None
            if _match(presented, read_key):
                return 403, "the read key does not open admin routes: use the admin key"
            return 401, "wrong key"
        if read_key is None and self.loopback:
            return None  # a loopback install without keys: open, as before
        if not presented:
            return 401, f"this route needs the read key: {send_how}"
        if _match(presented, read_key) or _match(presented, admin_key):
            return None
        return 401, "wrong key"
