"""Administration of the API clients (系统对接 · API 客户端): create one (its key shown once), change its scope,
rate limit and callback URL, rotate its key (the old one is refused from then on), revoke it; the
callbacks that could not be delivered, and retrying them. Admins only; every change is audited."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import pandas as pd
from sqlalchemy import func
from sqlmodel import Session, select

from dashboard import clock
from dashboard.api.callbacks import wake_after_commit
from dashboard.api.clients import (
    DEFAULT_CLIENT_LIMIT,
    actor_role,
    communities_of,
    key_hash,
    new_key,
    valid_rate,
)
from dashboard.kernel import audit
from dashboard.kernel.errors import Invalid, NotFound, NotPermitted, Problem
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor
from models import Case, Community, User
from models.api_client import ApiCallback, ApiClient, ApiClientCommunity

RATE_UNITS = ("second", "minute", "hour", "day")
"""The periods a rate limit is given in (``"120/minute"``: 120 calls in any minute)."""

UNUSABLE_PASSWORD = "!api-client"
"""The password hash of a client's users row: no password matches it (the row never logs in)."""


@dataclass(frozen=True)
class ClientInput:
    """The editable settings of a client."""

    name: str
    can_read: bool = True
    can_write: bool = False
    community_ids: tuple[int, ...] | None = None  # None: the whole sub-district; else those (at least one)
    sees_personal_data: bool = False
    rate_limit: str = DEFAULT_CLIENT_LIMIT
    callback_url: str = ""
    expires_on: date | None = None  # the key is refused from this day on
    note: str = ""


@dataclass(frozen=True)
class IssuedKey:
    """A new key, shown to the administrator once (only its hash is kept) with the callback secret."""

    client_id: int
    name: str
    key: str
    callback_secret: str


def rate_text(count: int, unit: str) -> str:
    """A rate limit as stored (a `limits` rate string) from a count and one of :data:`RATE_UNITS`."""
    return f"{count}/{unit}"


def rate_parts(rate: str) -> tuple[int, str]:
    """The count and unit of a rate limit as stored by :func:`rate_text`."""
    count, _, unit = rate.partition("/")
    return int(count), unit


def _require_admin(actor: Actor) -> None:
    if not may(actor, "admin.manage"):
        raise NotPermitted()


def _checked(session: Session, data: ClientInput, client_id: int | None) -> dict[str, Any]:
    """The input as column values, or Invalid listing every problem."""
    problems: list[str] = []
    name = data.name.strip()
    if not name or len(name) > 64:
        problems.append("api_clients.err.name")
    elif session.exec(select(ApiClient.id).where(ApiClient.name == name, ApiClient.id != client_id)).first():
        problems.append("api_clients.err.name_taken")
    if not (data.can_read or data.can_write):
        problems.append("api_clients.err.no_scope")
    rate = data.rate_limit.strip()
    count, _, unit = rate.partition("/")
    if not (count.isdigit() and 0 < int(count) <= 1_000_000 and unit in RATE_UNITS and valid_rate(rate)):
        problems.append("api_clients.err.rate")
    url = data.callback_url.strip()
    if url and (not url.lower().startswith(("http://", "https://")) or len(url) > 300 or " " in url):
        problems.append("api_clients.err.url")
    communities = tuple(sorted(set(data.community_ids or ())))
    if data.community_ids is not None and not communities:
        problems.append("api_clients.err.no_community")
    if communities:
        known = session.exec(select(Community.id).where(Community.id.in_(communities))).all()  # type: ignore[union-attr]
        if len(known) != len(communities):
            problems.append("api_clients.err.community")
    if problems:
        raise Invalid(details=[Problem(key) for key in problems])
    return {
        "name": name,
        "community_ids": communities,
        "can_read": data.can_read,
        "can_write": data.can_write,
        "sees_personal_data": data.sees_personal_data,
        "rate_limit": rate,
        "callback_url": url,
        "expires_at": datetime.combine(data.expires_on, time()) if data.expires_on else None,
        "note": data.note.strip()[:200],
    }


def _communities(session: Session, client_id: int) -> tuple[int, ...]:
    return tuple(sorted(communities_of(session, client_id) or ()))


def _set_communities(session: Session, client: ApiClient, communities: tuple[int, ...]) -> None:
    """Make the client's community rows `communities`, and its users row act in their scope."""
    have = set(_communities(session, client.id))  # type: ignore[arg-type]
    for community_id in have - set(communities):
        row = session.get(ApiClientCommunity, (client.id, community_id))
        session.delete(row)
    for community_id in set(communities) - have:
        session.add(ApiClientCommunity(client_id=client.id, community_id=community_id))  # type: ignore[arg-type]
    user = session.get(User, client.user_id)
    if user is not None:  # one community on the row; the scope is the client's (clients.scoped_actor)
        user.display_name = client.name
        user.role = actor_role(frozenset(communities))
        user.community_id = min(communities) if communities else None
        session.add(user)
    session.flush()


def _snapshot(client: ApiClient, communities: tuple[int, ...]) -> dict[str, Any]:
    """What the audit log records of a client's settings (never its key, hash or secret)."""
    fields = ("name", "can_read", "can_write")
    return {f: getattr(client, f) for f in fields} | {
        "community_ids": list(communities),
        "sees_personal_data": client.sees_personal_data,
        "rate_limit": client.rate_limit,
        "callback_url": client.callback_url,
        "expires_at": str(client.expires_at) if client.expires_at else None,
        "note": client.note,
    }


def _issue(client: ApiClient) -> IssuedKey:
    """Give `client` a new key and callback secret (stored: the hash and the secret)."""
    raw, prefix = new_key()
    client.key_prefix = prefix
    client.key_salt = secrets.token_hex(16)
    client.key_hash = key_hash(raw, client.key_salt)
    client.callback_secret = secrets.token_urlsafe(32)
    return IssuedKey(client.id or 0, client.name, raw, client.callback_secret)


def create_client(session: Session, actor: Actor, data: ClientInput) -> IssuedKey:
    """Add a client and its users row; returns the key (the only time it can be read)."""
    _require_admin(actor)
    values = _checked(session, data, None)
    communities = values.pop("community_ids")
    now = clock.now()
    user = User(
        username=f"api-{secrets.token_hex(6)}",
        display_name=values["name"],
        role=actor_role(None),
        password_hash=UNUSABLE_PASSWORD,
        active=False,
        created_at=now,
    )
    session.add(user)
    session.flush()
    client = ApiClient(
        **values,
        user_id=user.id,
        key_prefix="",
        key_salt="",
        key_hash="",
        created_at=now,
        created_by=actor.id,
    )
    issued = _issue(client)
    session.add(client)
    session.flush()
    _set_communities(session, client, communities)
    detail = json.dumps(_snapshot(client, communities), ensure_ascii=False)
    audit.record(session, actor, "api_client_create", client.name, detail=detail)
    return IssuedKey(client.id, issued.name, issued.key, issued.callback_secret)  # type: ignore[arg-type]


def _load(session: Session, client_id: int) -> ApiClient:
    client = session.get(ApiClient, client_id)
    if client is None:
        raise NotFound()
    return client


def update_client(session: Session, actor: Actor, client_id: int, data: ClientInput) -> list[str]:
    """Change a client's settings; returns the names of the fields that changed."""
    _require_admin(actor)
    client = _load(session, client_id)
    before = _snapshot(client, _communities(session, client_id))
    values = _checked(session, data, client_id)
    communities = values.pop("community_ids")
    for name, value in values.items():
        setattr(client, name, value)
    after = _snapshot(client, communities)
    changed = [k for k in after if after[k] != before[k]]
    if not changed:
        return []
    session.add(client)
    _set_communities(session, client, communities)
    detail = json.dumps({k: [before[k], after[k]] for k in changed}, ensure_ascii=False)
    audit.record(session, actor, "api_client_update", client.name, detail=detail)
    return changed


def rotate_key(session: Session, actor: Actor, client_id: int) -> IssuedKey:
    """Replace a client's key and callback secret: the old key is refused from now on."""
    _require_admin(actor)
    client = _load(session, client_id)
    if client.revoked_at is not None:
        raise Invalid("api_clients.err.revoked")
    issued = _issue(client)
    client.rotated_at = clock.now()
    session.add(client)
    audit.record(session, actor, "api_client_rotate", client.name, detail=f"prefix={client.key_prefix}")
    return issued


def revoke_client(session: Session, actor: Actor, client_id: int) -> None:
    """Refuse the client's key for good (its cases and history stay)."""
    _require_admin(actor)
    client = _load(session, client_id)
    if client.revoked_at is not None:
        return
    client.revoked_at = clock.now()
    session.add(client)
    audit.record(session, actor, "api_client_revoke", client.name)


def client_table(session: Session, actor: Actor) -> pd.DataFrame:
    """Every client with its settings, key prefix, last use and callback counts, by name; `community_ids`
    and `community` (their names, None for the whole sub-district) give its scope."""
    _require_admin(actor)
    pending = (
        select(ApiCallback.client_id, func.count().label("n"))
        .where(ApiCallback.delivered_at.is_(None), ApiCallback.failed_at.is_(None))  # type: ignore[union-attr]
        .group_by(ApiCallback.client_id)
        .subquery()
    )
    failed = (
        select(ApiCallback.client_id, func.count().label("n"))
        .where(ApiCallback.failed_at.is_not(None))  # type: ignore[union-attr]
        .group_by(ApiCallback.client_id)
        .subquery()
    )
    rows = session.exec(
        select(ApiClient, func.coalesce(pending.c.n, 0), func.coalesce(failed.c.n, 0))
        .outerjoin(pending, pending.c.client_id == ApiClient.id)
        .outerjoin(failed, failed.c.client_id == ApiClient.id)
        .order_by(ApiClient.name)
    ).all()
    scopes: dict[int, list[tuple[int, str]]] = {}
    for client_id, community_id, name in session.exec(
        select(ApiClientCommunity.client_id, Community.id, Community.name)
        .join(Community, Community.id == ApiClientCommunity.community_id)
        .order_by(Community.id)
    ).all():
        scopes.setdefault(client_id, []).append((community_id, name))
    return pd.DataFrame(
        [
            {**c.model_dump(exclude={"key_hash", "key_salt", "callback_secret"})}
            | {
                "community_ids": tuple(i for i, _ in scopes.get(c.id, [])),  # type: ignore[arg-type]
                "community": "、".join(n for _, n in scopes.get(c.id, [])) or None,  # type: ignore[arg-type]
                "pending": int(p),
                "failed": int(f),
            }
            for c, p, f in rows
        ],
        columns=[*_TABLE_COLUMNS],
    )


_TABLE_COLUMNS = (
    "id",
    "name",
    "user_id",
    "key_prefix",
    "can_read",
    "can_write",
    "community_ids",
    "community",
    "sees_personal_data",
    "rate_limit",
    "callback_url",
    "note",
    "created_at",
    "created_by",
    "rotated_at",
    "expires_at",
    "revoked_at",
    "last_used_at",
    "pending",
    "failed",
)


def failed_callbacks(session: Session, actor: Actor, limit: int = 200) -> pd.DataFrame:
    """Callbacks that failed at least once and are not delivered (given up, or waiting to be tried again),
    newest first: which client, which case, how many attempts, the last error, when next or given up."""
    _require_admin(actor)
    rows = session.exec(
        select(
            ApiCallback.id,
            ApiClient.name,
            Case.number,
            ApiCallback.created_at,
            ApiCallback.attempts,
            ApiCallback.last_error,
            ApiCallback.next_attempt_at,
            ApiCallback.failed_at,
        )
        .join(ApiClient, ApiClient.id == ApiCallback.client_id)
        .join(Case, Case.id == ApiCallback.case_id)
        .where(ApiCallback.delivered_at.is_(None), ApiCallback.attempts > 0)  # type: ignore[union-attr]
        .order_by(ApiCallback.created_at.desc(), ApiCallback.id.desc())
        .limit(limit)
    ).all()
    columns = ["id", "client", "case", "created_at", "attempts", "last_error", "next_attempt_at", "failed_at"]
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)


def retry_callback(session: Session, actor: Actor, callback_id: int) -> None:
    """Try an undelivered callback again now, with a fresh count of attempts."""
    _require_admin(actor)
    row = session.get(ApiCallback, callback_id)
    if row is None or row.delivered_at is not None:
        raise NotFound()
    row.failed_at = None
    row.attempts = 0
    row.next_attempt_at = clock.now()
    row.claimed_at = None
    row.claimed_by = ""
    session.add(row)
    wake_after_commit(session)
    number = session.exec(select(Case.number).where(Case.id == row.case_id)).one()
    audit.record(session, actor, "api_callback_retry", number, detail=f"callback={callback_id}")
