"""Writing the audit log (`audit_log`): logins, personal-data views, exports, imports, user and settings
changes. Every write that matters adds its row in the same transaction as the change itself; reading and
searching the trail is administration's (:mod:`dashboard.admin.audit`)."""

from __future__ import annotations

from sqlmodel import Session

from dashboard import clock
from dashboard.kernel.scope import Actor
from models import AuditLog


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    target: str = "",
    outcome: str = "ok",
    detail: str = "",
    actor_name: str | None = None,
) -> None:
    """Add one audit row to the session (committed with the caller's transaction)."""
    session.add(
        AuditLog(
            actor_id=(actor.id or None) if actor else None,  # a system actor (id 0) is no user
            actor_name=actor_name if actor_name is not None else (actor.username if actor else ""),
            at=clock.now(),
            action=action,
            target=target[:200],
            outcome=outcome,
            detail=detail,
        )
    )
