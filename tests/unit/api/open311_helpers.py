"""Calling the Open311 routes in-process, and the GeoReport v2 schemas the answers are checked against.

:func:`call` drives a small Starlette app of the API's routes through ASGI directly (one event loop per
call, no server, no HTTP client package); the routes run their work in a worker thread as in the server.
:class:`Receiver` is a client's server for the status callbacks.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode
from xml.etree import ElementTree

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from starlette.applications import Starlette

from dashboard import db
from dashboard.api import client_admin, clients
from dashboard.api.client_admin import ClientInput, IssuedKey
from dashboard.api.open311 import routes
from tests.factories import World

SCHEMAS = Path(__file__).parents[2] / "schemas"
CHECKER = FormatChecker()
SOURCE = "198.51.100.7"


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"georeport_v2_{name}.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=CHECKER)


VALIDATORS = {
    name: validator(name)
    for name in (
        "services",
        "service_definition",
        "requests",
        "post_response",
        "token_response",
        "errors",
        "discovery",
    )
}


def problems(kind: str, value: Any) -> list[str]:
    """What the GeoReport v2 schema of `kind` finds wrong with `value` (empty: valid)."""
    return [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATORS[kind].iter_errors(value)][:10]


def app() -> Starlette:
    return Starlette(routes=routes.routes())


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        assert self.headers["content-type"] == "application/json; charset=utf-8", self.headers
        return json.loads(self.body)

    def xml(self) -> ElementTree.Element:
        assert self.headers["content-type"] == "text/xml; charset=utf-8", self.headers
        assert self.body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
        return ElementTree.fromstring(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def call(
    target: Starlette,
    method: str,
    path: str,
    query: dict[str, str] | None = None,
    form: dict[str, str] | list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    source: str = SOURCE,
) -> Answer:
    """One HTTP call of `target` through ASGI."""
    body = urlencode(form).encode() if form is not None else b""
    raw_headers = [(b"host", b"testserver")]
    if form is not None:
        raw_headers.append((b"content-type", b"application/x-www-form-urlencoded; charset=utf-8"))
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode(),
        "query_string": urlencode(query or {}).encode(),
        "root_path": "",
        "headers": raw_headers,
        "client": (source, 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(target(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return Answer(
        start["status"],
        {k.decode().lower(): v.decode() for k, v in start["headers"]},
        b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"),
    )


def xml_items(root: ElementTree.Element, item: str) -> list[dict[str, str]]:
    """The items of an XML list answer (``<service_requests><request>…``) as dicts of their texts."""
    assert all(child.tag == item for child in root), [child.tag for child in root]
    return [{field.tag: field.text or "" for field in child} for child in root]


def as_texts(items: list[dict[str, Any]]) -> list[dict[str, str]]:
    """JSON items with every value written as XML writes it (for comparing the two formats)."""
    out = []
    for item in items:
        out.append(
            {
                k: ("true" if v else "false")
                if isinstance(v, bool)
                else json.dumps(v)
                if isinstance(v, float)
                else str(v)
                for k, v in item.items()
            }
        )
    return out


def use_database(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """The routes open their sessions on ``DATABASE_URL`` (as in the server)."""
    monkeypatch.setenv("DATABASE_URL", url)


def reset_rate_counts() -> None:
    """Rate counts live in the process, keyed by client id, which repeats across test databases."""
    clients._storage.reset()


def new_client(w: World, name: str, **fields: object) -> IssuedKey:
    """An API client created by the administrator, as the admin page does; its key is in the answer."""
    data = ClientInput(name=name, **fields)  # type: ignore[arg-type]
    return db.run_unit(lambda s: client_admin.create_client(s, w.actors["admin"], data), db.get_engine(w.url))


class Receiver:
    """A client's callback server on 127.0.0.1 (a thread): records each POST (headers, body); answers `status`."""

    def __init__(self) -> None:
        self.status = 200
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.got = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                receiver.got.set()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/open311-callback"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def wait_for(self, n: int, timeout: float = 20.0) -> bool:
        """Whether `n` POSTs arrived within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while len(self.posts) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(self.posts) >= n

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
