"""The triage queue and case exports: filtered, counted and paged in SQL (the department queue:
:mod:`dashboard.cases.department`).

A queue page is one ``SELECT … LIMIT :n OFFSET :m`` over `cases` (joined to a few lookup tables by
primary key) plus one ``COUNT`` and one ``GROUP BY status``; it never loads the cases it does not show.
The default view is the work to do now ("todo": new reports first, newest first, then the open cases not
yet overdue by time left); the overdue ones are their own view, most overdue first. The other views order by
the due time, which the ``(status, due_at)`` index serves.
Ageing colours are computed in SQL by :mod:`dashboard.cases.ageing` from the stored clock instants.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Literal

import pandas as pd
from sqlalchemy import ColumnElement, FunctionElement, Select, and_, case, func, not_, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from dashboard import clock
from dashboard.cases import ageing
from dashboard.cases import export as case_export
from dashboard.kernel.privacy import address_matches, mask_address, searchable
from dashboard.kernel.scope import Actor, case_filter
from dashboard.reporting import kpi
from dashboard.reporting.warning.store import case_risks, high_risk_filter
from models import Case, CaseEscalation, Category, Community, Department, Grid, User
from models.enums import ACTIVE_STATUSES, OPEN_STATUSES, CaseStatus

View = str
"""``"todo"`` (new reports and the open cases not yet overdue), ``"overdue"`` (clock running, past due),
``"open"`` (every status still needing work, 未结案), ``"high_risk"`` (open and likely to miss its deadline, as the
morning's risk model scored it: 高风险), ``"in_hand"`` (在办, not offered on the queue page), ``"all"``, or one
CaseStatus value."""
VIEWS: tuple[str, ...] = ("todo", "overdue", "high_risk", "open", *(s.value for s in CaseStatus), "all")
Sort = Literal["urgency", "due", "newest", "oldest", "assigned"]
SORTS: tuple[str, ...] = ("urgency", "due", "newest", "oldest", "assigned")
"""``urgency``: the view's own order (todo: new reports newest first, then least time left; overdue: most
overdue first; otherwise by due time); ``assigned``: newest dispatch first."""
PAGE_SIZE = 50
EXPORT_MAX = 10_000
"""Most rows one export may hold (larger sets: narrow the filters)."""

_OPEN = [s.value for s in OPEN_STATUSES]
_ACTIVE = [s.value for s in ACTIVE_STATUSES]


@dataclass(frozen=True)
class QueueFilters:
    """What the user filtered on; every field maps to a URL query parameter on the page."""

    view: View = "todo"
    ageing: tuple[str, ...] = ()
    categories: tuple[int, ...] = ()
    community_id: int | None = None
    grid_id: int | None = None
    department_id: int | None = None
    sources: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    text: str = ""
    sort: Sort = "urgency"
    handler_department_id: int | None = None
    """Only cases dispatched to this department (``department_id`` above also counts escalations)."""


@dataclass(frozen=True)
class QueuePage:
    rows: pd.DataFrame
    total: int
    page: int
    pages: int
    page_size: int


def overdue(now: datetime) -> ColumnElement[bool]:
    """SQL condition: the clock is still running and past due at `now` (the 超期数 of DESIGN §8)."""
    return and_(Case.status.in_(_ACTIVE), Case.due_at.is_not(None), Case.due_at < now)


def _todo(now: datetime) -> ColumnElement[bool]:
    """SQL condition: work to do now: a new report (whatever its clock), or open and not overdue."""
    return and_(kpi.is_open(), or_(Case.status == CaseStatus.reported.value, not_(overdue(now))))


def _view_condition(view: View, now: datetime) -> ColumnElement[bool] | None:
    if view == "all":
        return None
    if view == "open":
        return kpi.is_open()
    if view == "in_hand":  # 在办 (cases/workflow.py's IN_HAND): the department page's list
        return kpi.is_active()
    if view == "todo":
        return _todo(now)
    if view == "overdue":
        return overdue(now)
    if view == "high_risk":
        return and_(kpi.is_open(), high_risk_filter())
    return Case.status == CaseStatus(view).value


def text_condition(actor: Actor, text: str) -> ColumnElement[bool] | None:
    """SQL condition of a search box: the number, the title, or the address where the actor's role may
    search it (:func:`dashboard.kernel.privacy.searchable`); None for an empty search."""
    text = text.strip()
    if not text:
        return None
    return or_(
        Case.number.contains(text.upper(), autoescape=True),
        Case.title.icontains(text, autoescape=True),
        # the address is masked to the building: matched only where the role may see it
        address_matches(Case.address, text, searchable(actor, "case")),
    )


def conditions(
    actor: Actor, f: QueueFilters, now: datetime, *, with_view: bool = True
) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a filtered queue in the actor's scope (the view's status left out on request,
    for the counts per status)."""
    out: list[ColumnElement[bool]] = [case_filter(actor)]
    if with_view and (view := _view_condition(f.view, now)) is not None:
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
    if (text := text_condition(actor, f.text)) is not None:
        out.append(text)
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


def _urgency_order() -> list[ColumnElement]:
    """New reports first, newest first; then running clocks by time left; then the stopped ones (resolved,
    verified) by due time. Only for the open views: the few thousand open cases are sorted, never the table."""
    new = Case.status == CaseStatus.reported.value
    group = case((new, 0), (Case.status.in_(_ACTIVE), 1), else_=2)
    return [group.asc(), case((new, Case.reported_at)).desc(), Case.due_at.asc(), Case.id.asc()]


def _order(f: QueueFilters) -> list[ColumnElement]:
    if f.sort == "newest":
        return [Case.reported_at.desc(), Case.id.desc()]
    if f.sort == "oldest":
        return [Case.reported_at.asc(), Case.id.asc()]
    if f.sort == "assigned":
        return [Case.dispatched_at.is_(None), Case.dispatched_at.desc(), Case.id.desc()]
    if f.sort == "urgency" and f.view in ("todo", "open"):
        return _urgency_order()
    # Plain ascending (no NULLS LAST), so that one status or none can be read in (status, due_at) or due_at
    # index order; for several statuses, sort the (few) matching cases instead.
    if f.view in ("todo", "overdue", "high_risk", "open", "in_hand") or f.ageing:
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
            Case.dispatched_at,
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
    "dispatched_at",
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
    """One page of the queue (addresses masked to the building) and the total count of the filter, with each
    case's overdue risk of the morning run (``risk``: probability or None, ``risk_factors``: its top factors)."""
    now = now or clock.now()
    total = session.exec(count_sql(actor, filters, now=now)).one()
    pages = max(1, math.ceil(total / page_size))
    page = min(max(page, 1), pages)
    rows = session.exec(queue_sql(actor, filters, now=now, page=page, page_size=page_size)).all()
    df = pd.DataFrame(rows, columns=QUEUE_COLUMNS)
    df["address"] = df["address"].map(mask_address)
    risks = case_risks(session, [int(i) for i in df["id"]])
    df["risk"] = [risks[int(i)].probability if int(i) in risks else None for i in df["id"]]
    df["risk_factors"] = [tuple(risks[int(i)].top_factors) if int(i) in risks else () for i in df["id"]]
    return QueuePage(df, int(total), page, pages, page_size)


def status_counts(
    session: Session, actor: Actor, filters: QueueFilters, now: datetime | None = None
) -> dict[str, int]:
    """Cases per status under every filter but the view (one GROUP BY), plus the 'todo', 'overdue', 'open'
    and 'all' totals, and the 'high_risk' count (its own count: the few scored cases lead)."""
    now = now or clock.now()
    stmt = (
        select(Case.status, func.count(), func.sum(case((overdue(now), 1), else_=0)))
        .where(*conditions(actor, filters, now, with_view=False))
        .group_by(Case.status)
    )
    counts = {s.value: 0 for s in CaseStatus}
    late = dict.fromkeys(counts, 0)
    for status, n, n_late in session.exec(stmt).all():
        counts[str(status)], late[str(status)] = int(n), int(n_late or 0)
    counts["open"] = sum(counts[s] for s in _OPEN)
    counts["all"] = sum(counts[s.value] for s in CaseStatus)
    counts["overdue"] = sum(late[s] for s in _ACTIVE)
    counts["todo"] = counts["open"] - counts["overdue"] + late[CaseStatus.reported.value]
    risky = conditions(actor, replace(filters, view="high_risk"), now)
    counts["high_risk"] = int(session.exec(select(func.count()).select_from(Case).where(*risky)).one())
    return counts


# ---------------------------------------------------------------- export

EXPORT_COLUMNS = case_export.EXPORT_COLUMNS
"""The queue exports the columns of every case export (:mod:`dashboard.cases.export`)."""
EXPORT_FORMATS: tuple[str, ...] = ("csv", "xlsx")


def export_ids(
    session: Session,
    actor: Actor,
    *,
    case_ids: Sequence[int] | None = None,
    filters: QueueFilters | None = None,
    now: datetime | None = None,
) -> list[int]:
    """The ids of the cases to export: the chosen ids, or the whole filter, in the actor's scope; the first
    :data:`EXPORT_MAX` in the queue's order."""
    now = now or clock.now()
    where = conditions(actor, filters, now) if filters is not None else [case_filter(actor)]
    if case_ids is not None:
        where.append(Case.id.in_(list(case_ids)[:EXPORT_MAX]))
    stmt = (
        select(Case.id).where(*where).order_by(*_order(filters or QueueFilters(view="all"))).limit(EXPORT_MAX)
    )
    return list(session.exec(stmt).all())


def export_file(
    session: Session,
    actor: Actor,
    fmt: str = "csv",
    *,
    case_ids: Sequence[int] | None = None,
    filters: QueueFilters | None = None,
    unmasked: bool = False,
    lang: str = "zh",
    now: datetime | None = None,
) -> bytes:
    """A CSV or Excel file (`fmt` of :data:`EXPORT_FORMATS`) of the chosen cases (or the filter), with the
    columns, headers and labels of every case export; personal data masked unless `unmasked` (admins
    only), formulas neutralised, the export written to the audit log.

    Runs outside the Streamlit session (the download button calls it on click), so it takes the language.
    """
    case_export.check_unmasked(actor, unmasked)
    now = now or clock.now()
    ids = export_ids(session, actor, case_ids=case_ids, filters=filters, now=now)
    detail: dict[str, object] = {}
    if filters is not None:
        detail = {k: v for k, v in asdict(filters).items() if v not in (None, (), "")}
    if case_ids is not None:
        detail["selected"] = len(case_ids)
    out = io.BytesIO()
    writer = case_export.WRITERS[fmt]
    writer(session, actor, out, ids=ids, unmasked=unmasked, lang=lang, filters=detail, now=now)
    return out.getvalue()
