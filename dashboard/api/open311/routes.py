"""The HTTP routes of the Open311 API under ``/open311/v2/`` (Starlette, served by the dashboard's process).

Every call: the format from the path's suffix (``services.xml``) or ``format=`` (JSON by default), the
language from ``lang=`` (zh by default), the key from ``api_key`` (query or form, as the specification
says) or the ``X-API-Key`` header. A key that is given must be valid (403 otherwise); ``POST requests``
needs one that may write. Each call counts against the rate limit of its client, or of its source address
without a key (429). Refused calls are written to the audit log, with the reason; so is every write.

The work is done in a worker thread (``run_in_threadpool``), never on the server's event loop, which also
serves the dashboard's pages. Refusals are the specification's error list (:mod:`.formats`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from dashboard.admin.auth import client_address
from dashboard.api import clients
from dashboard.api.clients import ApiClientView
from dashboard.api.open311 import discovery, formats, openapi, requests, services
from dashboard.config import get_settings
from dashboard.db import get_engine, run_unit, session_scope
from dashboard.i18n import LANGS, t_plain
from dashboard.kernel.errors import DomainError

PREFIX = discovery.PREFIX
BODY_MAX = 64 * 1024
"""Bytes a POST may send (a description of 4,000 characters and its attributes fit many times over)."""


@dataclass(frozen=True)
class Call:
    """One call, read from the request: what the handlers need and nothing of Starlette."""

    path: str
    base_url: str
    source: str
    fmt: str = "json"
    lang: str = "zh"
    params: dict[str, str] = field(default_factory=dict)
    posted: list[tuple[str, str]] = field(default_factory=list)
    path_params: dict[str, str] = field(default_factory=dict)
    header_key: str = ""

    @property
    def key(self) -> str:
        return self.params.get("api_key", "") or self.header_key


def _clean(text: str) -> str:
    """No NUL reaches a query (PostgreSQL refuses it in text)."""
    return text.replace("\x00", "")


async def _posted(request: Request) -> list[tuple[str, str]] | None:
    """The url-encoded form of a POST (None when it is larger than :data:`BODY_MAX`)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > BODY_MAX:
            return None
    return parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)


def _source(request: Request) -> str:
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("x-forwarded-for"), int(get_settings().trusted_proxy))


async def _read(request: Request) -> Call | Response:
    """The call, or the answer to a call that cannot be read (bad format or language, a body too large)."""
    path_params = {k: _clean(str(v)) for k, v in request.path_params.items()}
    query = [(_clean(k), _clean(v)) for k, v in request.query_params.multi_items()]
    posted: list[tuple[str, str]] = []
    if request.method == "POST":
        form = await _posted(request)
        if form is None:
            return formats.errors(400, [t_plain("open311.error.too_large")])
        posted = [(_clean(k), _clean(v)) for k, v in form]
    params: dict[str, str] = {}
    for key, value in [*query, *posted]:
        params.setdefault(key, value)
    fmt = path_params.pop("format", "") or params.get("format", "") or "json"
    lang = params.get("lang", "") or "zh"
    if fmt not in formats.FORMATS:
        return formats.errors(400, [t_plain("open311.error.format", format=fmt[:20])])
    if lang not in LANGS:
        return formats.errors(400, [t_plain("open311.error.lang")], fmt)
    return Call(
        path=request.url.path,
        base_url=f"{request.url.scheme}://{request.url.netloc}",
        source=_source(request),
        fmt=fmt,
        lang=lang,
        params=params,
        posted=posted,
        path_params=path_params,
        header_key=_clean(request.headers.get("x-api-key", "")),
    )


def _refuse(call: Call, client_id: int | None, status: int, reason: str, text: str) -> Response:
    """Audit a refused call (its own transaction) and answer it."""
    run_unit(lambda s: clients.audit_refused(s, client_id, call.source, call.path, reason))
    return formats.errors(status, [text], call.fmt)


def _admit(call: Call, *, keyed: bool, write: bool = False) -> ApiClientView | Response | None:
    """The calling client (None: the public) or the refusal: a bad key, a write without a key that may
    write, too many calls."""
    client = None
    if keyed and call.key:
        with session_scope() as s:
            client = clients.authenticate(s, call.key)
    client_id = client.id if client else None
    if not clients.check_rate(client_id, call.source):
        return _refuse(call, client_id, 429, "rate_limited", t_plain("open311.error.rate", call.lang))
    if keyed and call.key and client is None:
        return _refuse(call, None, 403, "bad_key", t_plain("open311.error.bad_key", call.lang))
    if write and client is None:
        return _refuse(call, None, 403, "no_key", t_plain("open311.error.no_key", call.lang))
    if write and client is not None and not client.can_write:
        return _refuse(call, client.id, 403, "read_only", t_plain("open311.error.read_only", call.lang))
    return client


def _read_answer(
    call: Call, client: ApiClientView | None, root: str, work: Callable[[Session], Any]
) -> Response:
    with session_scope() as s:
        value = work(s)
    if client is not None and clients.use_due(get_engine(), client.id):  # else no writer transaction at all
        run_unit(lambda s: clients.record_use(s, client.id))
    return formats.render(value, call.fmt, root)


# ---------------------------------------------------------------- the endpoints


def _discovery(call: Call) -> Response:
    admitted = _admit(call, keyed=False)
    if isinstance(admitted, Response):
        return admitted
    return _read_answer(call, None, "discovery", lambda s: discovery.discovery(s, call.base_url, call.lang))


def _services(call: Call) -> Response:
    admitted = _admit(call, keyed=False)
    if isinstance(admitted, Response):
        return admitted
    return _read_answer(call, None, "services", lambda s: services.services(s, call.lang))


def _definition(call: Call) -> Response:
    admitted = _admit(call, keyed=False)
    if isinstance(admitted, Response):
        return admitted
    code = call.path_params["service_code"]
    return _read_answer(call, None, "service_definition", lambda s: services.definition(s, code, call.lang))


def _requests(call: Call) -> Response:
    admitted = _admit(call, keyed=True)
    if isinstance(admitted, Response):
        return admitted
    query = requests.parse_query(call.params, call.lang)
    reader = requests.reader_for(admitted)
    work = partial(requests.find_requests, reader=reader, query=query, lang=call.lang)
    return _read_answer(call, admitted, "service_requests", work)


def _post(call: Call) -> Response:
    admitted = _admit(call, keyed=True, write=True)
    if isinstance(admitted, Response):
        return admitted
    assert admitted is not None
    client = admitted
    try:
        answer = run_unit(
            lambda s: requests.submit(s, client, call.params, call.posted, path=call.path, lang=call.lang)
        )
    except DomainError as err:
        reason = "invalid" if formats.status_of(err) == 400 else f"refused_{formats.status_of(err)}"
        run_unit(lambda s: clients.audit_refused(s, client.id, call.source, call.path, reason))
        raise
    return formats.render(answer, call.fmt, "service_requests")


def _one(call: Call) -> Response:
    admitted = _admit(call, keyed=True)
    if isinstance(admitted, Response):
        return admitted
    number = call.path_params["service_request_id"]
    reader = requests.reader_for(admitted)
    work = partial(requests.one_request, reader=reader, number=number, lang=call.lang)
    return _read_answer(call, admitted, "service_requests", work)


def _token(call: Call) -> Response:
    admitted = _admit(call, keyed=False)
    if isinstance(admitted, Response):
        return admitted
    token = call.path_params["token"]
    return _read_answer(call, None, "service_requests", lambda s: requests.token_request(s, token))


def _not_found(call: Call) -> Response:
    return formats.errors(404, [t_plain("open311.error.not_found", call.lang)], call.fmt)


def _run(handler: Callable[[Call], Response], call: Call) -> Response:
    try:
        return handler(call)
    except DomainError as err:
        return formats.refusal(err, call.fmt, call.lang)


def endpoint(handler: Callable[[Call], Response]) -> Callable[[Request], Any]:
    """A Starlette endpoint of a handler: the call read, the handler run in a worker thread."""

    async def answer(request: Request) -> Response:
        call = await _read(request)
        if isinstance(call, Response):
            return call
        return await run_in_threadpool(_run, handler, call)

    return answer


async def _openapi(request: Request) -> Response:
    return formats.render(openapi.document(), "json", "openapi")


def _both(path: str, handler: Callable[[Call], Response], methods: list[str] | None = None) -> list[Route]:
    """The route with the format as the path's suffix and without it (``format=`` or JSON)."""
    view = endpoint(handler)
    return [
        Route(f"{PREFIX}{path}.{{format}}", view, methods=methods),
        Route(f"{PREFIX}{path}", view, methods=methods),
    ]


def routes() -> list[BaseRoute]:
    """The API's routes, for ``st.App(..., routes=...)``; anything else under the prefix is a 404 in the
    specification's error form."""
    return [
        Route(f"{PREFIX}/openapi.json", _openapi),
        *_both("/discovery", _discovery),
        *_both("/services", _services),
        *_both("/services/{service_code}", _definition),
        *_both("/requests", _requests),
        *_both("/requests", _post, methods=["POST"]),
        *_both("/requests/{service_request_id}", _one),
        *_both("/tokens/{token}", _token),
        Route(
            f"{PREFIX}/{{rest:path}}", endpoint(_not_found), methods=["GET", "POST", "PUT", "PATCH", "DELETE"]
        ),
    ]
