"""The department queue (吹哨报到): the escalations to a department and the cases dispatched to it, in three
views (new work first, overdue, all), searched like the triage queue, paged in SQL."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal

import pandas as pd
from sqlalchemy import ColumnElement, Select, and_, func
from sqlmodel import Session, select

from dashboard import clock
from dashboard.cases.queue import PAGE_SIZE, QueueFilters, QueuePage, Sort, text_condition
from dashboard.kernel.scope import Actor, case_filter
from models import Case, CaseEscalation
from models.enums import Role

DEPT_COLUMNS = [
    "escalation_id",
    "case_id",
    "number",
    "title",
    "status",
    "case_due_at",
    "level",
    "escalated_at",
    "due_at",
    "reported_back_at",
    "report",
    "overdue",
    "version",
]


DeptView = Literal["new", "overdue", "all"]
DEPT_VIEWS: tuple[str, ...] = ("new", "overdue", "all")
"""A department's views: ``new`` its pending work, newest first; ``overdue`` pending past its deadline, most
overdue first; ``all`` everything, reported back included, pending first by deadline."""


def _escalation_where(
    actor: Actor, department_id: int, view: DeptView, text: str, now: datetime
) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = [CaseEscalation.department_id == department_id, case_filter(actor)]
    if view != "all":
        out.append(CaseEscalation.reported_back_at.is_(None))
    if view == "overdue":
        out.append(CaseEscalation.due_at <= now)
    if (found := text_condition(actor, text)) is not None:
        out.append(found)
    return out


def _escalation_order(view: DeptView) -> list[ColumnElement]:
    if view == "new":
        return [CaseEscalation.escalated_at.desc(), CaseEscalation.id.desc()]
    if view == "overdue":
        return [CaseEscalation.due_at.asc(), CaseEscalation.id.asc()]
    return [
        CaseEscalation.reported_back_at.is_not(None),
        CaseEscalation.due_at.asc(),
        CaseEscalation.id.asc(),
    ]


def escalation_sql(
    actor: Actor,
    department_id: int,
    *,
    view: DeptView = "new",
    text: str = "",
    now: datetime,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> Select:
    """The escalations (吹哨) to a department in one of :data:`DEPT_VIEWS`, matching the search `text` (the
    queue's search: number, title, address as the role may search it)."""
    return (
        select(
            CaseEscalation.id,
            Case.id,
            Case.number,
            Case.title,
            Case.status,
            Case.due_at,
            CaseEscalation.level,
            CaseEscalation.escalated_at,
            CaseEscalation.due_at,
            CaseEscalation.reported_back_at,
            CaseEscalation.report,
            and_(CaseEscalation.reported_back_at.is_(None), CaseEscalation.due_at <= now),
            Case.version,
        )
        .join(Case, Case.id == CaseEscalation.case_id)
        .where(*_escalation_where(actor, department_id, view, text, now))
        .order_by(*_escalation_order(view))
        .limit(page_size)
        .offset((max(page, 1) - 1) * page_size)
    )


def department_cases_filters(department_id: int, view: DeptView, text: str = "") -> QueueFilters:
    """The queue filters of the cases dispatched to a department, in the same views as its escalations:
    ``new`` the ones in hand (在办; the handled ones awaiting sign-off are the command centre's), newest
    dispatch first; ``overdue`` most overdue first; ``all`` every one."""
    queue_view = {"new": "in_hand", "overdue": "overdue", "all": "all"}[view]
    sort: Sort = "urgency" if view == "overdue" else "assigned"
    return QueueFilters(view=queue_view, handler_department_id=department_id, text=text, sort=sort)


def department_in_scope(actor: Actor, department_id: int | None) -> int | None:
    """The department whose queue the actor may see: their own for a department user, any for read-all."""
    if actor.role == Role.department:
        return actor.department_id
    if actor.reads_all:
        return department_id
    return None


def department_escalations(
    session: Session,
    actor: Actor,
    department_id: int | None,
    *,
    view: DeptView = "new",
    text: str = "",
    page: int = 1,
    page_size: int = PAGE_SIZE,
    now: datetime | None = None,
) -> QueuePage:
    """One page of a department's escalations in `view` matching `text` (and the total), in the actor's
    scope."""
    now = now or clock.now()
    dept = department_in_scope(actor, department_id)
    if dept is None:
        return QueuePage(pd.DataFrame(columns=DEPT_COLUMNS), 0, 1, 1, page_size)
    count = (
        select(func.count())
        .select_from(CaseEscalation)
        .join(Case, Case.id == CaseEscalation.case_id)
        .where(*_escalation_where(actor, dept, view, text, now))
    )
    total = int(session.exec(count).one())
    pages = max(1, math.ceil(total / page_size))
    page = min(max(page, 1), pages)
    rows = session.exec(
        escalation_sql(actor, dept, view=view, text=text, now=now, page=page, page_size=page_size)
    ).all()
    df = pd.DataFrame(rows, columns=DEPT_COLUMNS)
    df["overdue"] = df["overdue"].astype(bool)
    return QueuePage(df, total, page, pages, page_size)
