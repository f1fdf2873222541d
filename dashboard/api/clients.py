"""API clients at the door of the Open311 API: who is calling (keys), what it may do (scopes), how often
(rate limits), and the audit of what it wrote and of every call refused.

A key is ``g311_`` + an 8-character lookup prefix + ``_`` + 43 random characters. Only an HMAC-SHA256 of the
whole key with a per-key salt is stored, compared in constant time; the prefix finds the row. A revoked,
rotated-away or expired key is refused like an unknown one.

An API client acts as its own ``users`` row (created with the client, never able to log in), so that the
UI's scope rules apply to the API unchanged: a client limited to communities acts as a community-level
user of them (an :class:`Actor` with several `community_ids` when there are several), a client for the
whole sub-district as the command centre; cases it writes are reported by it.

Rate limits (the ``limits`` library, moving window) are kept in memory per process: each replica counts its
own calls, so with N replicas a client gets up to N times its limit in all.

Administration (create, rotate, revoke) is :mod:`dashboard.api.client_admin`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dashboard import clock
from dashboard.kernel import audit
from dashboard.kernel.errors import NotPermitted
from dashboard.kernel.scope import Actor
from models import User
from models.api_client import ApiClient, ApiClientCommunity, ApiRequest
from models.enums import Role

KEY_TAG = "g311_"
PREFIX_LEN = 8
DEFAULT_CLIENT_LIMIT = "120/minute"
"""A new client's rate limit (each client has its own, set in administration)."""
ANONYMOUS_LIMIT = "60/minute"
"""Calls without a key (or with a key that was refused), counted per source address."""
USE_RECORD_SECONDS = 60
"""`last_used_at` is written at most this often per client, so that reads take no write lock each."""


@dataclass(frozen=True)
class ApiClientView:
    """An authenticated client, as plain values."""

    id: int
    name: str
    can_read: bool
    can_write: bool
    community_ids: frozenset[int] | None  # None: the whole sub-district (else those, as their staff)
    sees_personal_data: bool
    user_id: int = 0
    username: str = ""
    rate_limit: str = DEFAULT_CLIENT_LIMIT


# ---------------------------------------------------------------- keys


def new_key() -> tuple[str, str]:
    """A fresh raw key and its lookup prefix."""
    prefix = secrets.token_hex(PREFIX_LEN // 2)
    return f"{KEY_TAG}{prefix}_{secrets.token_urlsafe(32)}", prefix


def key_hash(raw_key: str, salt: str) -> str:
    """The stored form of a key: HMAC-SHA256 of the whole key under the client's salt."""
    return hmac.new(salt.encode(), raw_key.encode(), hashlib.sha256).hexdigest()


def _prefix_of(raw_key: str) -> str | None:
    head = len(KEY_TAG) + PREFIX_LEN
    if not raw_key.startswith(KEY_TAG) or len(raw_key) < head + 2 or raw_key[head] != "_":
        return None
    return raw_key[len(KEY_TAG) : head]


_DUMMY_SALT = secrets.token_hex(16)
_DUMMY_HASH = key_hash(secrets.token_hex(16), _DUMMY_SALT)


def authenticate(session: Session, raw_key: str | None) -> ApiClientView | None:
    """The client whose key `raw_key` is, or None (no key, a malformed, unknown, revoked or expired key).

    Remembers the client's rate limit for :func:`check_rate` in this process."""
    raw_key = (raw_key or "").strip()
    prefix = _prefix_of(raw_key) if raw_key else None
    if prefix is None:
        return None
    row = session.exec(
        select(ApiClient, User.username)
        .join(User, User.id == ApiClient.user_id)
        .where(ApiClient.key_prefix == prefix)
    ).first()
    if row is None:
        hmac.compare_digest(key_hash(raw_key, _DUMMY_SALT), _DUMMY_HASH)  # an unknown prefix: the same work
        return None
    client, username = row
    if not hmac.compare_digest(key_hash(raw_key, client.key_salt), client.key_hash):
        return None
    now = clock.now()
    if client.revoked_at is not None or (client.expires_at is not None and client.expires_at <= now):
        return None
    view = view_of(client, username, communities_of(session, client.id))  # type: ignore[arg-type]
    _client_limits[view.id] = view.rate_limit
    return view


def communities_of(session: Session, client_id: int) -> frozenset[int] | None:
    """The communities a client is limited to; None for the whole sub-district (no rows)."""
    ids = session.exec(
        select(ApiClientCommunity.community_id).where(ApiClientCommunity.client_id == client_id)
    ).all()
    return frozenset(ids) or None


def view_of(client: ApiClient, username: str, communities: frozenset[int] | None) -> ApiClientView:
    """A client row and its communities (:func:`communities_of`) as the plain values the API works with."""
    return ApiClientView(
        id=client.id,  # type: ignore[arg-type]
        name=client.name,
        can_read=client.can_read,
        can_write=client.can_write,
        community_ids=communities,
        sees_personal_data=client.sees_personal_data,
        user_id=client.user_id,
        username=username,
        rate_limit=client.rate_limit,
    )


def actor_role(communities: frozenset[int] | None) -> Role:
    """The role a client acts under: communities' user when limited to some, else the command centre's."""
    return Role.community if communities else Role.operator


def scoped_actor(user_id: int, username: str, name: str, communities: frozenset[int] | None) -> Actor:
    """The :class:`Actor` of a client's users row with the client's communities (the row itself holds the
    first of them only)."""
    return Actor(
        id=user_id,
        username=username,
        display_name=name,
        role=actor_role(communities),
        community_id=min(communities) if communities else None,
        community_ids=communities or frozenset(),
    )


def actor_for(client: ApiClientView) -> Actor:
    """The :class:`Actor` a client acts as, so the scope filters of :mod:`dashboard.kernel.scope` (and the
    intake's checks) apply to the API as to the UI. Whether it may read or write at all is the caller's
    check (:attr:`ApiClientView.can_read`, :attr:`~ApiClientView.can_write`)."""
    return scoped_actor(client.user_id, client.username, client.name, client.community_ids)


def require_write(client: ApiClientView) -> Actor:
    """The actor a client writes as; :class:`NotPermitted` (HTTP 403) for a read-only key."""
    if not client.can_write:
        raise NotPermitted(action="report")
    return actor_for(client)


# ---------------------------------------------------------------- rate limits

_storage = MemoryStorage()
_limiter = MovingWindowRateLimiter(_storage)
_client_limits: dict[int, str] = {}
_parsed: dict[str, RateLimitItem] = {}


def _item(limit: str) -> RateLimitItem:
    item = _parsed.get(limit)
    if item is None:
        item = _parsed[limit] = parse(limit)
    return item


def valid_rate(limit: str) -> bool:
    """Whether `limit` is a rate string the limiter understands ("120/minute", "10/second" …)."""
    try:
        _item(limit.strip())
    except ValueError:
        return False
    return bool(limit.strip())


def check_rate(client_id: int | None, source: str, limit: str | None = None) -> bool:
    """Count one call and say whether it is within the limit (False: answer 429).

    With a client: its own limit (given, or remembered by :func:`authenticate`); without one: the
    per-address limit for anonymous calls. Counts live in this process only (see the module doc)."""
    if client_id is None:
        return _limiter.hit(_item(limit or ANONYMOUS_LIMIT), "source", source)
    chosen = limit or _client_limits.get(client_id, DEFAULT_CLIENT_LIMIT)
    return _limiter.hit(_item(chosen), "client", str(client_id))


# ---------------------------------------------------------------- use and audit


_recorded: dict[tuple[object, int], datetime] = {}
"""When this process last wrote each client's `last_used_at` (by database and client): calls in between
touch no database at all."""


def use_due(engine: Engine, client_id: int) -> bool:
    """Whether :func:`record_use` would write now: the caller need not open a writer transaction (and, on
    SQLite, take the write lock) for a read when it would not."""
    now = clock.now()
    last = _recorded.get((engine.url, client_id))
    return last is None or not now - timedelta(seconds=USE_RECORD_SECONDS) < last <= now


def record_use(session: Session, client_id: int) -> None:
    """Note that the client called now (its last-used time), at most once a minute: within the minute this
    process executes nothing (:func:`use_due`), and the UPDATE's condition keeps replicas from writing it
    more often either."""
    engine = session.get_bind().engine
    if not use_due(engine, client_id):
        return
    now = clock.now()
    cutoff = now - timedelta(seconds=USE_RECORD_SECONDS)
    _recorded[(engine.url, client_id)] = now
    stmt = (
        update(ApiClient)
        .where(
            ApiClient.id == client_id,
            or_(ApiClient.last_used_at.is_(None), ApiClient.last_used_at < cutoff),  # type: ignore[union-attr]
        )
        .values(last_used_at=now)
    )
    session.exec(stmt.execution_options(synchronize_session=False))  # type: ignore[call-overload]


def _client_actor(session: Session, client_id: int | None) -> Actor | None:
    """The actor of a client by id (also a revoked one: its refused calls are logged under its name)."""
    if client_id is None:
        return None
    row = session.exec(select(ApiClient.user_id, ApiClient.name).where(ApiClient.id == client_id)).first()
    if row is None:
        return None
    user_id, name = row
    return scoped_actor(user_id, name, name, communities_of(session, client_id))


def audit_refused(session: Session, client_id: int | None, source: str, path: str, reason: str) -> None:
    """Log a refused call (no or bad key 401, not allowed 403, too many 429 …) in the audit log.

    `reason` is a short code ("no_key", "bad_key", "read_only", "rate_limited", "out_of_scope" …)."""
    actor = _client_actor(session, client_id)
    detail = f"source={source}; reason={reason}"
    name = actor.display_name if actor else source[:64]
    target = path.split("?", 1)[0]  # never a key given in the query string
    audit.record(session, actor, "api_refused", target, "denied", detail, actor_name=name)


def audit_write(session: Session, client: ApiClientView, path: str, target: str, detail: str = "") -> None:
    """Log a write a client made over the API (a POSTed request: `target` is the case number)."""
    audit.record(session, actor_for(client), "api_write", target, "ok", f"{path} {detail}".strip())


# ---------------------------------------------------------------- cases that came in over the API


def register_request(session: Session, client: ApiClientView, case_id: int) -> str:
    """Record that `client` reported case `case_id` (in the intake's transaction): its status changes go
    back to the client's callback URL. Returns the Open311 token of the request."""
    token = secrets.token_urlsafe(18)
    session.add(ApiRequest(case_id=case_id, client_id=client.id, token=token, created_at=clock.now()))
    return token


def case_for_token(session: Session, token: str) -> int | None:
    """The case a POST's token stands for (``GET tokens/{token}``), or None."""
    return session.exec(select(ApiRequest.case_id).where(ApiRequest.token == token)).first()
