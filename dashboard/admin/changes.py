"""What every administration change shares (categories, departments, grids, population, calendar).

Every change function checks that the actor is an admin, validates everything before it writes anything
(raising a :class:`~dashboard.kernel.errors.DomainError`, whose ``key`` is an i18n key), writes one
`audit_log` row with the old and new values, and leaves the commit to the caller's session, so a rejected
change saves nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pandas as pd
from sqlmodel import Session, select

from dashboard.kernel.errors import Invalid, NotPermitted
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor
from models import AuditLog


def require_admin(actor: Actor) -> None:
    """Refuse anyone but an admin (a :class:`NotPermitted`, like every permission refusal)."""
    if not may(actor, "admin.manage"):
        raise NotPermitted("app.forbidden")


def to_json(value: object) -> str:
    """The stable JSON of an audit detail or stored figures (keys sorted, dates as text, Chinese kept)."""
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


def field_changes(before: Mapping[str, object], after: Mapping[str, object]) -> dict[str, list[object]]:
    """``{field: [old, new]}`` for the fields whose value differs."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def valid_text(value: str, key: str, max_length: int, required: bool = True) -> str:
    """`value` stripped; refused when required and empty or longer than `max_length` (`key` names the field)."""
    text = (value or "").strip()
    if required and not text:
        raise Invalid("admin.err_required", field=key)
    if len(text) > max_length:
        raise Invalid("admin.err_too_long", field=key, maximum=max_length)
    return text


def recent_changes(session: Session, prefix: str, limit: int = 20) -> pd.DataFrame:
    """The latest audit rows whose action starts with `prefix` (e.g. ``"category_"``): at, who, target, detail."""
    stmt = (
        select(AuditLog.at, AuditLog.actor_name, AuditLog.action, AuditLog.target, AuditLog.detail)
        .where(AuditLog.action.startswith(prefix, autoescape=True))
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())
        .limit(limit)
    )
    return pd.DataFrame(session.exec(stmt).all(), columns=["at", "actor", "action", "target", "detail"])  # type: ignore[call-overload]
