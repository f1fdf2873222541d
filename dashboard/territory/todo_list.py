"""The grid worker's to-do list (My grid): cases to handle, most urgent first, and cases awaiting a follow-up
call, with the next step the worker takes on each.

Only the few cases of one worker's list are read whole; the totals are counted in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_
from sqlmodel import Session, select

from dashboard import clock
from dashboard.cases.ageing import colour_expr
from dashboard.cases.change import CaseState
from dashboard.kernel.scope import Actor, case_filter
from dashboard.reporting import kpi
from models import Case, CaseEscalation, CaseExtension, Category
from models.enums import ACTIVE_STATUSES, CaseStatus, Satisfaction

S = CaseStatus

TODO_LIMIT = 50
"""Most cases one to-do section lists (the rest are counted and reachable through the queue)."""


@dataclass(frozen=True)
class TodoItem:
    """One case on the worker's list, as plain values (address and reporter unmasked: the page masks)."""

    id: int
    number: str
    version: int
    title: str
    status: CaseStatus
    category_code: str
    category_zh: str
    category_en: str
    reported_at: datetime
    due_at: datetime | None
    verified_at: datetime | None
    ageing: str | None
    address: str
    reporter_name: str
    reporter_phone: str
    reporter_anonymous: bool
    satisfaction: Satisfaction | None
    grid_id: int
    community_id: int
    assignee_id: int | None
    department_id: int | None
    duplicate_of_id: int | None
    supervised: bool
    pending_escalations: frozenset[int] = frozenset()
    pending_extension: bool = False

    @property
    def state(self) -> CaseState:
        """The facts :func:`dashboard.cases.commands.allowed_actions` decides on."""
        return CaseState(
            status=self.status,
            grid_id=self.grid_id,
            community_id=self.community_id,
            assignee_id=self.assignee_id,
            department_id=self.department_id,
            reporter_anonymous=self.reporter_anonymous,
            satisfaction=self.satisfaction,
            duplicate_of_id=self.duplicate_of_id,
            pending_escalations=self.pending_escalations,
            pending_extension=self.pending_extension,
        )

    def overdue(self, now: datetime) -> bool:
        return self.status in ACTIVE_STATUSES and self.due_at is not None and self.due_at <= now


@dataclass(frozen=True)
class Todo:
    """The worker's day: cases to handle (most urgent first) and cases awaiting a follow-up call."""

    handle: list[TodoItem]
    follow_up: list[TodoItem]
    handle_total: int
    follow_up_total: int
    overdue: int


def _handle_condition(actor: Actor) -> ColumnElement[bool]:
    """Cases the worker has to handle: dispatched to them (or taken on by them), or accepted in their grid
    with nobody assigned yet (the grid handles it itself: accepted → in progress)."""
    mine = and_(
        Case.assignee_id == actor.id,
        Case.status.in_([S.accepted.value, S.dispatched.value, S.in_progress.value]),
    )
    if actor.grid_id is None:
        return mine
    unassigned = and_(
        Case.grid_id == actor.grid_id,
        Case.status == S.accepted.value,
        Case.assignee_id.is_(None),
        Case.department_id.is_(None),
    )
    return or_(mine, unassigned)


def _follow_up_condition(actor: Actor) -> ColumnElement[bool]:
    """Verified cases still without a follow-up result whose reporter can be called back."""
    where = [Case.assignee_id == actor.id]
    if actor.grid_id is not None:
        where.append(Case.grid_id == actor.grid_id)
    return and_(
        Case.status == S.verified.value,
        Case.satisfaction.is_(None),
        Case.reporter_anonymous.is_(False),
        or_(*where),
    )


_TODO_COLUMNS = {
    "id": Case.id,
    "number": Case.number,
    "version": Case.version,
    "title": Case.title,
    "status": Case.status,
    "category_code": Category.code,
    "category_zh": Category.name_zh,
    "category_en": Category.name_en,
    "reported_at": Case.reported_at,
    "due_at": Case.due_at,
    "verified_at": Case.verified_at,
    "address": Case.address,
    "reporter_name": Case.reporter_name,
    "reporter_phone": Case.reporter_phone,
    "reporter_anonymous": Case.reporter_anonymous,
    "satisfaction": Case.satisfaction,
    "grid_id": Case.grid_id,
    "community_id": Case.community_id,
    "assignee_id": Case.assignee_id,
    "department_id": Case.department_id,
    "duplicate_of_id": Case.duplicate_of_id,
    "supervised": Case.supervised,
}
"""The columns a to-do list reads, by the :class:`TodoItem` field each fills (then ``ageing``, computed)."""


def _items(session: Session, rows: Sequence[Any]) -> list[TodoItem]:
    """The to-do items of rows read with ``_TODO_COLUMNS``, with their open escalations and extension requests."""
    ids = [r[0] for r in rows]
    if not ids:
        return []
    pending: dict[int, set[int]] = {}
    for case_id, dept in session.exec(
        select(CaseEscalation.case_id, CaseEscalation.department_id).where(
            CaseEscalation.case_id.in_(ids), CaseEscalation.reported_back_at.is_(None)
        )
    ).all():
        pending.setdefault(case_id, set()).add(dept)
    extending = set(
        session.exec(
            select(CaseExtension.case_id).where(
                CaseExtension.case_id.in_(ids), CaseExtension.decision == "pending"
            )
        ).all()
    )
    out = []
    for row in rows:
        values = dict(zip((*_TODO_COLUMNS, "ageing"), row, strict=True))
        values.update(
            status=CaseStatus(values["status"]),
            address=values["address"] or "",
            reporter_name=values["reporter_name"] or "",
            reporter_phone=values["reporter_phone"] or "",
            reporter_anonymous=bool(values["reporter_anonymous"]),
            satisfaction=Satisfaction(values["satisfaction"]) if values["satisfaction"] else None,
            supervised=bool(values["supervised"]),
            pending_escalations=frozenset(pending.get(values["id"], ())),
            pending_extension=values["id"] in extending,
        )
        out.append(TodoItem(**values))
    return out


def todo(session: Session, actor: Actor, now: datetime | None = None, limit: int = TODO_LIMIT) -> Todo:
    """The worker's to-do list: cases to handle ordered by due time (overdue first, as they fall due
    earliest) and cases awaiting a follow-up call (回访), longest waiting first; each list at most `limit`
    long, with the full counts."""
    now = now or clock.now()
    base = [case_filter(actor), kpi.not_duplicate()]
    handle = _handle_condition(actor)
    follow = _follow_up_condition(actor)
    columns = (*_TODO_COLUMNS.values(), colour_expr(now).label("ageing"))
    handle_rows = session.exec(
        select(*columns)
        .join(Category, Category.id == Case.category_id)
        .where(*base, handle)
        .order_by(case((Case.due_at.is_(None), 1), else_=0), Case.due_at, Case.id)
        .limit(limit)
    ).all()
    follow_rows = session.exec(
        select(*columns)
        .join(Category, Category.id == Case.category_id)
        .where(*base, follow)
        .order_by(Case.verified_at, Case.id)
        .limit(limit)
    ).all()
    overdue = and_(Case.due_at.is_not(None), Case.due_at <= now)
    handle_total, overdue_total = session.exec(
        select(func.count(), func.coalesce(func.sum(case((overdue, 1), else_=0)), 0)).where(*base, handle)
    ).one()
    follow_total = session.exec(select(func.count()).where(*base, follow)).one()
    return Todo(
        handle=_items(session, handle_rows),
        follow_up=_items(session, follow_rows),
        handle_total=int(handle_total),
        follow_up_total=int(follow_total),
        overdue=int(overdue_total),
    )


def next_action(item: TodoItem, allowed: Sequence[str]) -> str | None:
    """The step the worker takes next on this case from the list (start, resolve or follow-up), if allowed."""
    wanted = {
        S.accepted: "start",
        S.dispatched: "start",
        S.in_progress: "resolve",
        S.verified: "follow_up" if item.satisfaction is None else None,
    }.get(item.status)
    return wanted if wanted in allowed else None
