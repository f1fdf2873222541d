"""The triage queue, the department queue and case exports: filtered, counted and paged in SQL.

A queue page is one ``SELECT … LIMIT :n OFFSET :m`` over `cases` (joined to a few lookup tables by
primary key) plus one ``COUNT`` and one ``GROUP BY status``; it never loads the cases it does not show.
The default order is the due time, most urgent first, which the ``(status, due_at)`` index serves.
Ageing colours are computed in SQL by :mod:`dashboard.cases.ageing` from the stored clock instants.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import pandas as pd
from sqlalchemy import ColumnElement, FunctionElement, Select, and_, func, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from dashboard import clock
from dashboard.cases import ageing
from dashboard.i18n import label, t
from dashboard.io import exports
from dashboard.kernel.privacy import address_matches, mask_address, searchable
from dashboard.kernel.scope import Actor, case_filter
from dashboard.reporting import kpi
from models import Case, CaseEscalation, Category, Community, Department, Grid, User
from models.enums import OPEN_STATUSES, CaseStatus, Role

View = str
"""``"open"`` (every status still needing work), ``"all"``, or one CaseStatus value."""
VIEWS: tuple[str, ...] = ("open", *(s.value for s in CaseStatus), "all")
Sort = Literal["due", "newest", "oldest"]
SORTS: tuple[str, ...] = ("due", "newest", "oldest")
PAGE_SIZE = 50
EXPORT_MAX = 10_000
"""Most rows one export may hold (larger sets: narrow the filters)."""

_OPEN = [s.value for s in OPEN_STATUSES]


@dataclass(frozen=True)
class QueueFilters:
    """What the user filtered on; every field maps to a URL query parameter on the page."""

    view: View = "open"
    ageing: tuple[str, ...] = ()
    categories: tuple[int, ...] = ()
    community_id: int | None = None
    grid_id: int | None = None
    department_id: int | None = None
    sources: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    text: str = ""
    sort: Sort = "due"
    handler_department_id: int | None = None
    """Only cases dispatched to this department (``department_id`` above also counts escalations)."""


@dataclass(frozen=True)
class QueuePage:
    rows: pd.DataFrame
    total: int
    page: int
    pages: int
    page_size: int


def _view_condition(view: View) -> ColumnElement[bool] | None:
    if view == "all":
        return None
    if view == "open":
        return kpi.is_open()
    return Case.status == CaseStatus(view).value


def conditions(
    actor: Actor, f: QueueFilters, now: datetime, *, with_view: bool = True
) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a filtered queue in the actor's scope (the view's status left out on request,
    for the counts per status)."""
    out: list[ColumnElement[bool]] = [case_filter(actor)]
    if with_view and (view := _view_condition(f.view)) is not None:
        out.append(view)
    if f.ageing:
        out.append(or_(*(ageing.condition(a, now) for a in f.ageing)))
    if f.categories:
        out.append(Case.category_id.in_(list(f.categories)))
    if f.community_id is not None:
        out.append(Case.community_id == f.community_id)
    if f.grid_id is not None:
        out.append(Case.grid_id == f.grid_id)
    if f.department_id is not None:
        escalated = select(CaseEscalation.case_id).where(CaseEscalation.department_id == f.department_id)
        out.append(or_(Case.department_id == f.department_id, Case.id.in_(escalated)))
    if f.handler_department_id is not None:
        out.append(Case.department_id == f.handler_department_id)
    if f.sources:
        out.append(Case.source.in_(list(f.sources)))
    if f.date_from is not None:
        out.append(Case.reported_at >= datetime.combine(f.date_from, datetime.min.time()))
    if f.date_to is not None:
        out.append(Case.reported_at < datetime.combine(f.date_to + timedelta(days=1), datetime.min.time()))
    text = f.text.strip()
    if text:
        out.append(
            or_(
                Case.number.contains(text.upper(), autoescape=True),
                Case.title.icontains(text, autoescape=True),
                # the address is masked to the building: matched only where the role may see it
                address_matches(Case.address, text, searchable(actor, "case")),
            )
        )
    return out


class sort_only(FunctionElement):
    """An ORDER BY key that SQLite must sort rather than read in index order: ``+due_at`` (unary plus is a
    no-op on any SQLite value). Elsewhere the plain column.

    For a few statuses at once (the "open" view), walking the ``due_at`` index in order would step over
    every closed case (most of a million) to find a page of open ones; fetching the open cases through the
    ``(status, due_at)`` index and sorting those few thousand is what is fast. PostgreSQL's planner makes
    that choice from its statistics by itself.
    """

    inherit_cache = True
    name = "sort_only"


@compiles(sort_only)
def _sort_only_default(element: sort_only, compiler: Any, **kw: Any) -> str:
    return compiler.process(next(iter(element.clauses)), **kw)


@compiles(sort_only, "sqlite")
def _sort_only_sqlite(element: sort_only, compiler: Any, **kw: Any) -> str:
    return "+" + compiler.process(next(iter(element.clauses)), **kw)


def _order(f: QueueFilters) -> list[ColumnElement]:
    if f.sort == "newest":
        return [Case.reported_at.desc(), Case.id.desc()]
    if f.sort == "oldest":
        return [Case.reported_at.asc(), Case.id.asc()]
    # Plain ascending (no NULLS LAST), so that one status or none can be read in (status, due_at) or due_at
    # index order; for several statuses, sort the (few) matching cases instead.
    if f.view == "open" or f.ageing:
        return [sort_only(Case.due_at).asc(), Case.id.asc()]
    return [Case.due_at.asc(), Case.id.asc()]


Assignee = aliased(User)


def queue_sql(
    actor: Actor, filters: QueueFilters, *, now: datetime, page: int = 1, page_size: int = PAGE_SIZE
) -> Select:
    """The SELECT of one queue page: the page's columns, filtered, ordered, LIMIT/OFFSET.

    Past the first page the page's ids are found first (a "deferred join"): the OFFSET then steps over index
    entries only, not over table rows and their five joins, so the last of 20,000 pages at a million cases
    takes a few hundredths of a second instead of over two seconds.
    """
    page = max(page, 1)
    offset = (page - 1) * page_size
    conds = conditions(actor, filters, now)
    stmt = (
        select(
            Case.id,
            Case.number,
            Case.title,
            Case.status,
            ageing.colour_expr(now).label("ageing"),
            Case.category_id,
            Category.code.label("category_code"),
            Category.name_zh.label("category_zh"),
            Category.name_en.label("category_en"),
            Case.grid_id,
            Grid.code.label("grid_code"),
            Case.community_id,
            Community.name.label("community"),
            Case.address,
            Case.source,
            Case.priority,
            Case.reported_at,
            Case.due_at,
            Case.department_id,
            Department.name.label("department"),
            Case.assignee_id,
            Assignee.display_name.label("assignee"),
            Case.supervised,
            Case.escalation_level,
            Case.extension_count,
            Case.version,
        )
        .select_from(Case)
        .outerjoin(Category, Category.id == Case.category_id)
        .outerjoin(Grid, Grid.id == Case.grid_id)
        .outerjoin(Community, Community.id == Case.community_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .outerjoin(Assignee, Assignee.id == Case.assignee_id)
        .order_by(*_order(filters))
    )
    if offset:
        ids = (
            select(Case.id)
            .where(*conds)
            .order_by(*_order(filters))
            .limit(page_size)
            .offset(offset)
            .subquery()
        )
        return stmt.join(ids, ids.c.id == Case.id)
    return stmt.where(*conds).limit(page_size).offset(offset)


QUEUE_COLUMNS = [
    "id",
    "number",
    "title",
    "status",
    "ageing",
    "category_id",
    "category_code",
    "category_zh",
    "category_en",
    "grid_id",
    "grid_code",
    "community_id",
    "community",
    "address",
    "source",
    "priority",
    "reported_at",
    "due_at",
    "department_id",
    "department",
    "assignee_id",
    "assignee",
    "supervised",
    "escalation_level",
    "extension_count",
    "version",
]


def count_sql(actor: Actor, filters: QueueFilters, *, now: datetime) -> Select:
    return select(func.count()).select_from(Case).where(*conditions(actor, filters, now))


def queue_page(
    session: Session,
    actor: Actor,
    filters: QueueFilters,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    now: datetime | None = None,
) -> QueuePage:
    """One page of the queue (addresses masked to the building) and the total count of the filter."""
    now = now or clock.now()
    total = session.exec(count_sql(actor, filters, now=now)).one()
    pages = max(1, math.ceil(total / page_size))
    page = min(max(page, 1), pages)
    rows = session.exec(queue_sql(actor, filters, now=now, page=page, page_size=page_size)).all()
    df = pd.DataFrame(rows, columns=QUEUE_COLUMNS)
    df["address"] = df["address"].map(mask_address)
    return QueuePage(df, int(total), page, pages, page_size)


def status_counts(
    session: Session, actor: Actor, filters: QueueFilters, now: datetime | None = None
) -> dict[str, int]:
    """Cases per status under every filter but the view (one GROUP BY), plus the 'open' and 'all' totals."""
    now = now or clock.now()
    stmt = (
        select(Case.status, func.count())
        .where(*conditions(actor, filters, now, with_view=False))
        .group_by(Case.status)
    )
    counts = {s.value: 0 for s in CaseStatus}
    for status, n in session.exec(stmt).all():
        counts[str(status)] = int(n)
    counts["open"] = sum(counts[s] for s in _OPEN)
    counts["all"] = sum(counts[s.value] for s in CaseStatus)
    return counts


# ---------------------------------------------------------------- export

EXPORT_COLUMNS = [
    "number",
    "status",
    "ageing",
    "category",
    "title",
    "description",
    "community",
    "grid",
    "address",
    "reporter_name",
    "reporter_phone",
    "source",
    "priority",
    "reported_at",
    "due_at",
    "resolved_at",
    "closed_at",
    "department",
    "assignee",
    "extension_count",
    "rework_count",
    "satisfaction",
]
PII_COLUMNS = {"reporter_name": "name", "reporter_phone": "phone", "address": "address"}
_LABELLED = {
    "status": "status",
    "ageing": "ageing",
    "source": "source",
    "priority": "priority",
    "satisfaction": "satisfaction",
}


def export_rows(
    session: Session,
    actor: Actor,
    *,
    case_ids: Sequence[int] | None = None,
    filters: QueueFilters | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """The cases to export, unmasked (callers mask): the chosen ids, or the whole filter, in the actor's
    scope, at most :data:`EXPORT_MAX` rows."""
    now = now or clock.now()
    where = conditions(actor, filters, now) if filters is not None else [case_filter(actor)]
    if case_ids is not None:
        where.append(Case.id.in_(list(case_ids)[:EXPORT_MAX]))
    stmt = (
        select(
            Case.number,
            Case.status,
            ageing.colour_expr(now),
            Category.name_zh,
            Case.title,
            Case.description,
            Community.name,
            Grid.code,
            Case.address,
            Case.reporter_name,
            Case.reporter_phone,
            Case.source,
            Case.priority,
            Case.reported_at,
            Case.due_at,
            Case.resolved_at,
            Case.closed_at,
            Department.name,
            Assignee.display_name,
            Case.extension_count,
            Case.rework_count,
            Case.satisfaction,
        )
        .select_from(Case)
        .outerjoin(Category, Category.id == Case.category_id)
        .outerjoin(Grid, Grid.id == Case.grid_id)
        .outerjoin(Community, Community.id == Case.community_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .outerjoin(Assignee, Assignee.id == Case.assignee_id)
        .where(*where)
        .order_by(*_order(filters or QueueFilters(view="all")))
        .limit(EXPORT_MAX)
    )
    return pd.DataFrame(session.exec(stmt).all(), columns=EXPORT_COLUMNS)


def export_csv(
    session: Session,
    actor: Actor,
    *,
    case_ids: Sequence[int] | None = None,
    filters: QueueFilters | None = None,
    unmasked: bool = False,
    lang: str = "zh",
    now: datetime | None = None,
) -> bytes:
    """A CSV of the chosen cases (or the filter) with translated headers and labels; personal data masked
    unless `unmasked` (admins only), formulas neutralised, the export written to the audit log.

    Runs outside the Streamlit session (the download button calls it on click), so it takes the language.
    """
    df = export_rows(session, actor, case_ids=case_ids, filters=filters, now=now)
    for col, kind in _LABELLED.items():
        df[col] = df[col].map(lambda v, k=kind: label(k, v, lang) if v else "")
    frame = exports.export_frame(df, actor, PII_COLUMNS, unmasked)
    frame.columns = [t(f"case_export.{c}", lang) for c in EXPORT_COLUMNS]
    data = exports.to_csv_bytes(frame)
    detail: dict[str, object] = {}
    if filters is not None:
        detail = {k: v for k, v in asdict(filters).items() if v not in (None, (), "")}
    if case_ids is not None:
        detail["selected"] = len(case_ids)
    exports.record_export(session, actor, "cases", len(frame), "csv", unmasked, detail)
    return data


# ---------------------------------------------------------------- department queue

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


def escalation_sql(
    actor: Actor,
    department_id: int,
    *,
    pending_only: bool,
    now: datetime,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> Select:
    """The escalations (吹哨) to a department, pending first by their own deadline."""
    stmt = (
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
        .where(CaseEscalation.department_id == department_id, case_filter(actor))
        .order_by(
            CaseEscalation.reported_back_at.is_not(None), CaseEscalation.due_at.asc(), CaseEscalation.id.asc()
        )
        .limit(page_size)
        .offset((max(page, 1) - 1) * page_size)
    )
    if pending_only:
        stmt = stmt.where(CaseEscalation.reported_back_at.is_(None))
    return stmt


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
    pending_only: bool = True,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    now: datetime | None = None,
) -> QueuePage:
    """One page of a department's escalations (and the total), in the actor's scope."""
    now = now or clock.now()
    dept = department_in_scope(actor, department_id)
    if dept is None:
        return QueuePage(pd.DataFrame(columns=DEPT_COLUMNS), 0, 1, 1, page_size)
    count = (
        select(func.count())
        .select_from(CaseEscalation)
        .join(Case, Case.id == CaseEscalation.case_id)
        .where(CaseEscalation.department_id == dept, case_filter(actor))
    )
    if pending_only:
        count = count.where(CaseEscalation.reported_back_at.is_(None))
    total = int(session.exec(count).one())
    pages = max(1, math.ceil(total / page_size))
    page = min(max(page, 1), pages)
    rows = session.exec(
        escalation_sql(actor, dept, pending_only=pending_only, now=now, page=page, page_size=page_size)
    ).all()
    df = pd.DataFrame(rows, columns=DEPT_COLUMNS)
    df["overdue"] = df["overdue"].astype(bool)
    return QueuePage(df, total, page, pages, page_size)
