"""Calling the app's photo route through its ASGI app, as the server does (no HTTP client needed)."""

from __future__ import annotations

import asyncio
from typing import Any


def get(path: str, cookie: str | None = None, etag: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET `path` from the app's photo route through its ASGI app: (status, headers, body)."""
    from starlette.applications import Starlette

    from dashboard.admin.auth import COOKIE_NAME
    from dashboard.media.routes import routes

    headers = [(b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", f"{COOKIE_NAME}={cookie}".encode()))
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

    asyncio.run(Starlette(routes=routes())(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body
