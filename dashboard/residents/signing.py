"""Signed values for the public pages' cookies and forms (keyed with the server's secret): the CSRF token
tied to its cookie, and the proof of a lookup the follow-up pages read."""

from __future__ import annotations

import secrets
import time

from dashboard.residents.common import digest, same

CSRF_COOKIE = "pub_csrf"
VIEW_COOKIE = "pub_case"
LANG_COOKIE = "pub_lang"
RECEIPT_COOKIE = "pub_receipt"
VIEW_SECONDS = 2 * 3600
"""How long a successful lookup lets the browser see the case and rate it."""


def sign(purpose: str, value: str, seconds: int) -> str:
    """``value.expiry.mac``: `value` for `purpose`, good for `seconds`."""
    expires = str(int(time.time()) + seconds)
    return f"{value}.{expires}.{digest('sign', purpose, value, expires)}"


def unsign(purpose: str, token: str | None) -> str | None:
    """The value of a genuine, unexpired token for `purpose`; None otherwise."""
    parts = (token or "").rsplit(".", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    value, expires, mac = parts
    if not same(digest("sign", purpose, value, expires), mac) or int(expires) < time.time():
        return None
    return value


def new_csrf_cookie() -> str:
    return secrets.token_urlsafe(18)


def csrf_field(cookie: str) -> str:
    """The form field that goes with the browser's CSRF cookie (a page elsewhere can read neither)."""
    return digest("csrf", cookie)


def csrf_ok(cookie: str | None, field: str | None) -> bool:
    return bool(cookie) and bool(field) and same(csrf_field(cookie or ""), field or "")
