"""Calling the app's own Starlette routes through an ASGI app, as the server does (no HTTP client needed)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.routing import BaseRoute


def call(
    routes: list[BaseRoute], path: str, cookies: dict[str, str] | None = None, etag: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    """GET `path` from an app of `routes` with `cookies`: (status, headers, body)."""
    from starlette.applications import Starlette

    headers = [(b"host", b"testserver")]
    if cookies:
        headers.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    if etag:
        headers.append((b"if-none-match", etag.encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # a thread of its own: a browser test earlier in the same worker may have left this thread's loop running
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, Starlette(routes=routes)(scope, receive, send)).result()
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


def get(path: str, cookie: str | None = None, etag: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET `path` from the app's photo route with a staff session `cookie`: (status, headers, body)."""
    from dashboard.admin.auth import COOKIE_NAME
    from dashboard.media.routes import routes

    return call(routes(), path, {COOKIE_NAME: cookie} if cookie else None, etag)  # type: ignore[arg-type]
