"""Revocable read-only display links for wall screens: a TV opens ``/?display=TOKEN`` and sees the wall only.

Only a hash of the token is stored; revoking a link stops it at the screen's next refresh.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from dashboard import clock
from dashboard.kernel import audit
from dashboard.kernel.errors import Invalid, NotFound
from dashboard.kernel.scope import Actor
from models import DisplayLink
from models.enums import Role


@dataclass(frozen=True)
class DisplayInfo:
    id: int
    name: str
    created_at: datetime
    revoked_at: datetime | None
    last_seen_at: datetime | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_link(session: Session, actor: Actor, name: str) -> str:
    """Create a display link; returns the token (shown once, never stored in clear)."""
    name = name.strip()
    if not name:
        raise Invalid("settings.display_name_required")
    token = secrets.token_urlsafe(24)
    session.add(
        DisplayLink(name=name[:64], token_hash=_hash(token), created_by=actor.id, created_at=clock.now())
    )
    audit.record(session, actor, "display_link_create", name)
    return token


def revoke_link(session: Session, actor: Actor, link_id: int) -> None:
    link = session.get(DisplayLink, link_id)
    if link is None:
        raise NotFound("settings.display_not_found")
    if link.revoked_at is None:
        link.revoked_at = clock.now()
        session.add(link)
        audit.record(session, actor, "display_link_revoke", link.name)


def list_links(session: Session) -> list[DisplayInfo]:
    rows = session.exec(select(DisplayLink).order_by(DisplayLink.created_at.desc())).all()
    return [DisplayInfo(r.id, r.name, r.created_at, r.revoked_at, r.last_seen_at) for r in rows]  # type: ignore[arg-type]


def resolve(session: Session, token: str | None) -> Actor | None:
    """The read-only actor of a valid display link, else None. Touches last_seen_at at most once a minute."""
    if not token:
        return None
    link = session.exec(select(DisplayLink).where(DisplayLink.token_hash == _hash(token))).first()
    if link is None or link.revoked_at is not None:
        return None
    now = clock.now()
    if link.last_seen_at is None or (now - link.last_seen_at).total_seconds() > 60:
        link.last_seen_at = now
        session.add(link)
    return Actor(id=0, username=f"display:{link.name}", display_name=link.name, role=Role.leader)
