"""The browser's session cookie, set and cleared by the server: ``HttpOnly`` (no script can read it),
``SameSite=Lax``, ``Secure`` when the page is served over HTTPS, and a session cookie (gone when the
browser closes) unless the user asked to be remembered.

A login happens over Streamlit's WebSocket, which cannot set cookies. So the login issues a one-time
ticket (random, 60 seconds, kept in this process — replicas run behind sticky sessions), and the page
posts it to ``/_app/session``, whose response sets the cookie. ``/_app/logout`` clears it.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlparse

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dashboard.admin.auth import COOKIE_NAME

TICKET_SECONDS = 60
SESSION_PATH = "/_app/session"
LOGOUT_PATH = "/_app/logout"


@dataclass(frozen=True)
class _Ticket:
    cookie: str
    max_age: int | None
    expires: float


_tickets: dict[str, _Ticket] = {}
_redeemed: dict[str, float] = {}
"""Tickets the browser has posted (so the page knows the cookie arrived), kept for a while."""
_lock = threading.Lock()


def issue(cookie: str, max_age: int | None) -> str:
    """A one-time ticket for `cookie`; `max_age` in seconds for "remember me", None for a cookie that
    ends with the browser session."""
    ticket = secrets.token_urlsafe(24)
    now = time.monotonic()
    with _lock:
        for key in [k for k, v in _tickets.items() if v.expires < now]:
            del _tickets[key]
        for key in [k for k, at in _redeemed.items() if at < now - 10 * TICKET_SECONDS]:
            del _redeemed[key]
        _tickets[ticket] = _Ticket(cookie, max_age, now + TICKET_SECONDS)
    return ticket


def status(ticket: str) -> str | None:
    """ "pending" (not posted yet, still valid), "redeemed" (the browser has the cookie), or None."""
    with _lock:
        if ticket in _redeemed:
            return "redeemed"
        found = _tickets.get(ticket)
    return "pending" if found is not None and found.expires >= time.monotonic() else None


def redeem(ticket: str) -> _Ticket | None:
    """The ticket's cookie, once; None for an unknown, used or expired ticket."""
    with _lock:
        found = _tickets.pop(ticket, None)
        if found is None or found.expires < time.monotonic():
            return None
        _redeemed[ticket] = time.monotonic()
    return found


def _same_origin(request: Request) -> bool:
    """A cross-site page must not be able to log the browser in or out (login CSRF)."""
    origin = request.headers.get("origin")
    return origin is None or urlparse(origin).netloc == request.headers.get("host")


def _https(request: Request) -> bool:
    from dashboard.config import get_settings

    proto = request.headers.get("x-forwarded-proto") if get_settings().trusted_proxy else None
    return (proto or request.url.scheme) == "https"


async def _set(request: Request) -> Response:
    if not _same_origin(request):
        return JSONResponse({"error": "cross-origin"}, status_code=403)
    try:
        body = await request.json()
    except ValueError:
        body = None
    ticket = redeem(body.get("ticket", "")) if isinstance(body, dict) else None
    if ticket is None:
        return JSONResponse({"error": "invalid ticket"}, status_code=400)
    response = JSONResponse({"ok": True})
    response.set_cookie(
        COOKIE_NAME,
        ticket.cookie,
        max_age=ticket.max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_https(request),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def _clear(request: Request) -> Response:
    if not _same_origin(request):
        return JSONResponse({"error": "cross-origin"}, status_code=403)
    response = JSONResponse({"ok": True})
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=_https(request))
    return response


def routes() -> list[Route]:
    return [Route(SESSION_PATH, _set, methods=["POST"]), Route(LOGOUT_PATH, _clear, methods=["POST"])]
