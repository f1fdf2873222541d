"""The media store's retention job (``python -m dashboard media prune``): remove the objects no photo needs.

A removed photo keeps its row (the audit trail names it) and, for :data:`RETENTION_DAYS`, its bytes, so a
removal by mistake can be undone by an administrator. After that, and for objects no row names at all
(an upload whose transaction rolled back), the objects go. An object is kept while any live or recently
removed row has its content hash (the same photo on two cases is one set of objects), and any object
younger than :data:`GRACE_HOURS` is kept whatever the rows say: its upload may not have committed yet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, or_, select

from dashboard import clock
from dashboard.kernel import audit
from dashboard.media.renditions import hash_of_key
from dashboard.media.store import MediaStore, get_store
from models import CaseAttachment

RETENTION_DAYS = 30
"""How long the bytes of a removed photo are kept."""
GRACE_HOURS = 24
"""Objects younger than this are never removed (an upload in flight)."""


@dataclass(frozen=True)
class PruneResult:
    """What a run removed (or, as a dry run, would remove)."""

    objects: int
    expired_photos: int
    kept_objects: int
    dry_run: bool


def referenced_hashes(session: Session, cutoff: datetime) -> set[str]:
    """Content hashes still needed: of live photos and of those removed after `cutoff`."""
    rows = session.exec(
        select(CaseAttachment.content_hash)
        .where(or_(col(CaseAttachment.deleted_at).is_(None), col(CaseAttachment.deleted_at) > cutoff))
        .distinct()
    ).all()
    return set(rows)


def prune(
    session: Session,
    *,
    retention_days: int = RETENTION_DAYS,
    store: MediaStore | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> PruneResult:
    """Remove the objects of photos removed more than `retention_days` ago and objects no row names,
    older than :data:`GRACE_HOURS`; one audit row (``media_prune``) unless `dry_run`."""
    store = store or get_store()
    now = now or clock.now()
    cutoff = now - timedelta(days=retention_days)
    needed = referenced_hashes(session, cutoff)
    expired = session.exec(
        select(CaseAttachment.content_hash).where(col(CaseAttachment.deleted_at) <= cutoff).distinct()
    ).all()
    young = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=GRACE_HOURS)
    doomed: list[str] = []
    kept = 0
    for key, written in store.objects():
        content_hash = hash_of_key(key)
        if content_hash is None or content_hash in needed or written > young:
            kept += 1
        else:
            doomed.append(key)
    if not dry_run and doomed:
        store.delete(doomed)
    expired_photos = len(set(expired) - needed)
    if not dry_run:
        detail = {"objects": len(doomed), "expired_photos": expired_photos, "retention_days": retention_days}
        audit.record(
            session, None, "media_prune", store.describe(), detail=json.dumps(detail), actor_name="system"
        )
    return PruneResult(len(doomed), expired_photos, kept, dry_run)
