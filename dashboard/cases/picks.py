"""Cases to pick from before one is chosen (case page, matching): the ones the user last acted on, and the
most urgent work in their scope (the queue's 待办 order: new reports first, then the least time left)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from dashboard import clock
from dashboard.cases import queue
from dashboard.cases.queue import QueueFilters
from dashboard.kernel.scope import Actor, case_filter
from dashboard.reporting import kpi
from models import Case, CaseEvent

PICK_LIMIT = 6
"""Cases in each list."""
RECENT_DAYS = 90
"""The user's own events looked up this far back."""
RECENT_EVENTS = 200
"""At most this many of the user's latest events are read (an operator acts on hundreds of cases a week)."""


@dataclass(frozen=True)
class CasePick:
    """One case to pick: enough to recognise it (no personal data)."""

    id: int
    number: str
    title: str
    status: str
    due_at: datetime | None
    at: datetime | None
    """When the user last acted on it (recent list); None in the urgent list."""


def recent_cases(
    session: Session,
    actor: Actor,
    *,
    limit: int = PICK_LIMIT,
    open_only: bool = False,
    now: datetime | None = None,
) -> list[CasePick]:
    """The cases the actor last acted on (their own timeline events), latest first, still in their scope;
    `open_only`: only the cases still needing work."""
    now = now or clock.now()
    events = (
        select(CaseEvent.case_id.label("case_id"), CaseEvent.at.label("at"))
        .where(CaseEvent.actor_id == actor.id, CaseEvent.at >= now - timedelta(days=RECENT_DAYS))
        .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
        .limit(RECENT_EVENTS)
        .subquery()
    )
    last = select(events.c.case_id, func.max(events.c.at).label("at")).group_by(events.c.case_id).subquery()
    stmt = (
        select(Case.id, Case.number, Case.title, Case.status, Case.due_at, last.c.at)
        .join(last, last.c.case_id == Case.id)
        .where(case_filter(actor))
        .order_by(last.c.at.desc(), Case.id.desc())
        .limit(limit)
    )
    if open_only:
        stmt = stmt.where(kpi.is_open())
    return [CasePick(int(i), n, ti, str(st), due, at) for i, n, ti, st, due, at in session.exec(stmt).all()]


def urgent_cases(
    session: Session, actor: Actor, *, limit: int = PICK_LIMIT, now: datetime | None = None
) -> list[CasePick]:
    """The first cases of the actor's 待办 queue (new reports newest first, then the least time left)."""
    page = queue.queue_page(session, actor, QueueFilters(view="todo"), page_size=limit, now=now)
    return [
        CasePick(int(r.id), r.number, r.title, str(r.status), r.due_at, None) for r in page.rows.itertuples()
    ]
