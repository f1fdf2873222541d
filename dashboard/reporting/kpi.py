"""The figures of DESIGN §8: one definition each, used by every page, the wall, the map and the reports.

Every count is an SQL aggregate over `cases`, limited to the actor's scope. Each figure counts the cases
whose *own* date falls in the period: reported by `reported_at`, response by `reported_at`, on-time
closure by `due_at`, closure and escalation by `accepted_at`, resolution and satisfaction by `closed_at`,
rework by `resolved_at`. Cases merged as duplicates and rejected cases are left out of every figure
except "reported" (which counts what came in, rejected included, duplicates excluded).

- 响应率 response = accepted within the response limit ÷ reported
- 按期结案率 on-time = closed by due_at ÷ cases due in the period (up to now), open ones past due included
- 结案率 closure = closed ÷ accepted
- 解决率 resolution = closed as solved ÷ closed
- 满意率 satisfaction = (满意 + 基本满意) ÷ followed up (不满意 included, 未回访 excluded)
- 返工率 rework = cases with ≥ 1 rework ÷ resolved
- 吹哨率 escalation = escalated ÷ accepted
- 超期数 overdue = cases still being handled (reported/accepted/dispatched/in progress) past due_at, now

The residents' figures (居民随手拍 reports, 附议, 居民自评满意率) are :mod:`dashboard.reporting.resident_kpi`'s.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Literal

import pandas as pd
from sqlalchemy import ColumnElement, and_, bindparam, case, func, literal, or_, select
from sqlmodel import Session

from dashboard import clock
from dashboard.cases import ageing
from dashboard.cases.workflow import OpenCounts
from dashboard.kernel.scope import Actor, case_filter, grid_filter
from models import Case, CaseEscalation, Grid, GridVisit
from models.enums import ACTIVE_STATUSES, OPEN_STATUSES, Ageing, CaseStatus, Satisfaction

GroupBy = Literal["community", "grid", "category", "department", "day", "source"]

SATISFACTION_TARGET = 0.90
"""满意率 target (DESIGN §1, §8): the wall, the meeting reports and the map legend measure against it."""
ON_TIME_TARGET = 0.90
"""按期结案率 target drawn in the map legend."""

# ---------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    """A half-open time range [start, end) with the kind it was made as (for 环比)."""

    start: datetime
    end: datetime
    kind: Literal["day", "week", "month", "quarter", "year", "custom"] = "custom"

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400

    def previous(self) -> Period:
        """The period before (环比): the previous calendar month/quarter/week/day, else same length before."""
        if self.kind == "month":
            return month_period(_shift_month(self.start.date(), -1))
        if self.kind == "quarter":
            return quarter_period(_shift_month(self.start.date(), -3))
        if self.kind == "year":
            return Period(self.start.replace(year=self.start.year - 1), self.start, "year")
        length = self.end - self.start
        return Period(self.start - length, self.start, self.kind)

    def same_last_year(self) -> Period:
        """The same period one year earlier (同比); 29 February maps to 28 February."""
        return Period(_minus_year(self.start), _minus_year(self.end), self.kind)

    def clipped(self, now: datetime) -> Period:
        """The part of the period up to `now`."""
        return Period(self.start, min(self.end, max(now, self.start)), self.kind)


def _minus_year(value: datetime) -> datetime:
    try:
        return value.replace(year=value.year - 1)
    except ValueError:  # 29 February
        return value.replace(year=value.year - 1, day=28)


def _shift_month(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def day_period(day: date) -> Period:
    return Period(_midnight(day), _midnight(day + timedelta(days=1)), "day")


def week_period(day: date) -> Period:
    """The Monday-to-Sunday week containing `day`."""
    monday = day - timedelta(days=day.weekday())
    return Period(_midnight(monday), _midnight(monday + timedelta(days=7)), "week")


def month_period(day: date) -> Period:
    first = day.replace(day=1)
    last = calendar.monthrange(day.year, day.month)[1]
    return Period(_midnight(first), _midnight(first + timedelta(days=last)), "month")


def quarter_period(day: date) -> Period:
    first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return Period(_midnight(first), _midnight(_shift_month(first, 3)), "quarter")


def last_days(n: int, now: datetime | None = None) -> Period:
    """The last `n` days up to now (a rolling window; its 环比 is the `n` days before)."""
    now = now or clock.now()
    return Period(now - timedelta(days=n), now, "custom")


# ---------------------------------------------------------------- figures


@dataclass
class Figures:
    """Counts behind the rates; rates are None when their denominator is zero."""

    reported: int = 0
    responded_in_time: int = 0
    due: int = 0
    closed_on_time: int = 0
    accepted: int = 0
    closed_of_accepted: int = 0
    escalated: int = 0
    closed: int = 0
    solved: int = 0
    followed_up: int = 0
    satisfied: int = 0
    resolved: int = 0
    reworked: int = 0
    open_now: int = 0
    overdue_now: int = 0

    @staticmethod
    def _rate(num: int, den: int) -> float | None:
        return num / den if den else None

    @property
    def has_cases(self) -> bool:
        """Whether any case counts in the period (``open_now`` and ``overdue_now`` are now's, not the period's):
        a period without one has no figures to compare with (shown "无数据"), not zeros."""
        return any((self.reported, self.due, self.accepted, self.closed, self.resolved))

    @property
    def response_rate(self) -> float | None:
        return self._rate(self.responded_in_time, self.reported)

    @property
    def on_time_rate(self) -> float | None:
        return self._rate(self.closed_on_time, self.due)

    @property
    def closure_rate(self) -> float | None:
        return self._rate(self.closed_of_accepted, self.accepted)

    @property
    def resolution_rate(self) -> float | None:
        return self._rate(self.solved, self.closed)

    @property
    def satisfaction_rate(self) -> float | None:
        return self._rate(self.satisfied, self.followed_up)

    @property
    def rework_rate(self) -> float | None:
        return self._rate(self.reworked, self.resolved)

    @property
    def escalation_rate(self) -> float | None:
        return self._rate(self.escalated, self.accepted)


COUNT_COLUMNS = [f.name for f in fields(Figures)]
RATE_COLUMNS = {
    "response_rate": ("responded_in_time", "reported"),
    "on_time_rate": ("closed_on_time", "due"),
    "closure_rate": ("closed_of_accepted", "accepted"),
    "resolution_rate": ("solved", "closed"),
    "satisfaction_rate": ("satisfied", "followed_up"),
    "rework_rate": ("reworked", "resolved"),
    "escalation_rate": ("escalated", "accepted"),
}

_GOOD = (Satisfaction.satisfied.value, Satisfaction.basically.value)
_FOLLOWED = (*_GOOD, Satisfaction.dissatisfied.value)
_ACTIVE = [s.value for s in ACTIVE_STATUSES]
_OPEN = [s.value for s in OPEN_STATUSES]


def _n(cond: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((cond, 1), else_=0))


def _group_column(by: GroupBy | None, date_col: ColumnElement) -> ColumnElement | None:
    match by:
        case None:
            return None
        case "community":
            return Case.community_id
        case "grid":
            return Case.grid_id
        case "category":
            return Case.category_id
        case "department":
            return Case.department_id
        case "source":
            return Case.source
        case "day":
            return func.date(date_col)
    raise ValueError(f"unknown grouping {by}")


def not_duplicate() -> ColumnElement[bool]:
    """SQL condition: the case is not merged into another one.

    Written as ``coalesce(duplicate_of_id, 0) = 0`` rather than ``IS NULL`` on purpose: SQLite's planner
    takes ``duplicate_of_id IS NULL`` for a selective lookup on ix_cases_duplicate_of_id (almost every row
    matches) instead of the date or status index of the query, which made every figure 5–10× slower.
    """
    return func.coalesce(Case.duplicate_of_id, 0) == 0


def is_active() -> ColumnElement[bool]:
    """SQL condition: the SLA clock is still running (status in ACTIVE_STATUSES).

    The statuses are rendered as SQL literals, not bound parameters, in the order of ACTIVE_STATUSES, so
    that SQLite can use the partial index ``ix_cases_active`` (a partial index is only used when its WHERE
    term appears verbatim in the query). Without it SQLite's statistics (no per-value histogram) take the
    four active statuses for half the table when they are a fraction of a percent, and scan a whole
    grouping index instead.
    """
    return Case.status.in_(bindparam("active_statuses", _ACTIVE, expanding=True, literal_execute=True))


def is_open() -> ColumnElement[bool]:
    """SQL condition: the case still needs work (status in OPEN_STATUSES), through ``ix_cases_open``.

    Literal statuses for the same reason as :func:`is_active`.
    """
    return Case.status.in_(bindparam("open_statuses", _OPEN, expanding=True, literal_execute=True))


def _is_closed() -> ColumnElement[bool]:
    """SQL condition: status is closed, written so that no index on ``status`` can serve it.

    Almost every case is closed, but SQLite's statistics cannot tell, so a plain ``status = 'closed'`` made
    it walk ix_cases_grid_status (or community_status) over every closed case instead of the closed_at
    range of the period.
    """
    return func.coalesce(Case.status, "") == CaseStatus.closed.value


def _where(actor: Actor, extra: Iterable[ColumnElement[bool]]) -> list[ColumnElement[bool]]:
    return [case_filter(actor), not_duplicate(), *extra]


def _filters(
    community_id: int | None,
    grid_id: int | None,
    category_id: int | None,
    department_id: int | None,
    source: str | None = None,
) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if source is not None:
        out.append(Case.source == source)
    if community_id is not None:
        out.append(Case.community_id == community_id)
    if grid_id is not None:
        out.append(Case.grid_id == grid_id)
    if category_id is not None:
        out.append(Case.category_id == category_id)
    if department_id is not None:
        out.append(Case.department_id == department_id)
    return out


def _blocks(period: Period, now: datetime) -> list[tuple[ColumnElement, dict[str, ColumnElement[int]], list]]:
    """(date column, {count name: expression}, extra conditions) — one indexed range query each."""
    not_rejected = Case.status != CaseStatus.rejected
    due_end = min(period.end, now)
    return [
        (
            Case.reported_at,
            {
                "reported": func.count(),
                "responded_in_time": _n(
                    and_(Case.accepted_at.is_not(None), Case.accepted_at <= Case.response_due_at)
                ),
            },
            [],
        ),
        (
            Case.due_at,
            {
                "due": func.count(),
                "closed_on_time": _n(and_(Case.closed_at.is_not(None), Case.closed_at <= Case.due_at)),
            },
            [not_rejected, Case.due_at < due_end],
        ),
        (
            Case.accepted_at,
            {
                "accepted": func.count(),
                "closed_of_accepted": _n(Case.closed_at.is_not(None)),
                "escalated": _n(Case.escalation_level.is_not(None)),
            },
            [not_rejected],
        ),
        (
            Case.closed_at,
            {
                "closed": func.count(),
                "solved": _n(Case.solved.is_(True)),
                "followed_up": _n(Case.satisfaction.in_(_FOLLOWED)),
                "satisfied": _n(Case.satisfaction.in_(_GOOD)),
            },
            [_is_closed()],
        ),
        (
            Case.resolved_at,
            {"resolved": func.count(), "reworked": _n(Case.rework_count > 0)},
            [not_rejected],
        ),
    ]


def figures_by(
    session: Session,
    actor: Actor,
    period: Period,
    by: GroupBy | None,
    *,
    community_id: int | None = None,
    grid_id: int | None = None,
    category_id: int | None = None,
    department_id: int | None = None,
    source: str | None = None,
    where: Iterable[ColumnElement[bool]] = (),
    now: datetime | None = None,
) -> pd.DataFrame:
    """All counts of :class:`Figures` (and the rates) per group, or one row when `by` is None.

    The result has a ``key`` column (group value; None when ungrouped), the count columns and the rate
    columns. Groups without any case do not appear; callers join to their list of groups. `source`
    limits the figures to one channel (e.g. ``"hotline"`` for the 12345 三率). `where` adds SQL conditions
    on `Case` (e.g. the grids a worker held when each case was reported, see
    ``dashboard.admin.grids.worker_figures``).
    """
    now = now or clock.now()
    extra = [*_filters(community_id, grid_id, category_id, department_id, source), *where]
    frames: list[pd.DataFrame] = []
    for date_col, counts, conds in _blocks(period, now):
        key = _group_column(by, date_col)
        key_col = (key if key is not None else literal(None)).label("key")
        stmt = select(key_col, *(expr.label(name) for name, expr in counts.items())).where(
            date_col >= period.start, date_col < period.end, *_where(actor, [*extra, *conds])
        )
        if key is not None:
            stmt = stmt.group_by(key)
        rows = session.exec(stmt).all()  # type: ignore[call-overload]
        frames.append(pd.DataFrame(rows, columns=["key", *counts]).set_index("key"))
    now_stmt = select(
        (_group_column(by, Case.reported_at) if by not in (None, "day") else literal(None)).label("key"),
        func.count().label("open_now"),
        _n(Case.due_at < now).label("overdue_now"),
    ).where(is_active(), *_where(actor, extra))
    if by not in (None, "day"):
        now_stmt = now_stmt.group_by(_group_column(by, Case.reported_at))
    frames.append(
        pd.DataFrame(session.exec(now_stmt).all(), columns=["key", "open_now", "overdue_now"]).set_index(
            "key"
        )
    )  # type: ignore[call-overload]
    if by == "day":
        frames[-1] = frames[-1].iloc[0:0]
    df = pd.concat(frames, axis=1).fillna(0)
    if by is None and df.empty:
        df = pd.DataFrame([{c: 0 for c in COUNT_COLUMNS}], index=pd.Index([None], name="key"))
    df = df.reindex(columns=COUNT_COLUMNS, fill_value=0).astype("int64")
    if by == "day":
        df.index = pd.to_datetime(pd.Index(df.index).astype(str)).date
    df = df.groupby(level=0).sum() if by is not None else df.iloc[[0]]
    for rate, (num, den) in RATE_COLUMNS.items():
        df[rate] = (df[num] / df[den].where(df[den] > 0)).astype("float64")
    df.index.name = "key"
    return df.reset_index()


def figures(
    session: Session,
    actor: Actor,
    period: Period,
    *,
    where: Iterable[ColumnElement[bool]] = (),
    **filters: int | str | None,
) -> Figures:
    """The figures of one period and scope."""
    row = figures_by(session, actor, period, None, where=where, **filters).iloc[0]  # type: ignore[arg-type]
    return Figures(**{name: int(row[name]) for name in COUNT_COLUMNS})


def open_counts(
    session: Session,
    actor: Actor,
    *,
    community_id: int | None = None,
    grid_id: int | None = None,
    department_id: int | None = None,
) -> OpenCounts:
    """Cases open now in scope by status group (:class:`~dashboard.cases.workflow.OpenCounts`: 在办, 待受理,
    待核查, 未结案), one GROUP BY status over ``ix_cases_open``; its 在办 is :class:`Figures`' ``open_now``."""
    stmt = (
        select(Case.status, func.count())
        .where(is_open(), *_where(actor, _filters(community_id, grid_id, None, department_id)))
        .group_by(Case.status)
    )
    rows = session.exec(stmt).all()  # type: ignore[call-overload]
    return OpenCounts.from_statuses({str(status): int(n) for status, n in rows})


OPEN_COUNT_COLUMNS = ["open_now", "overdue_now", *(colour.value for colour in Ageing)]


def open_counts_by(
    session: Session,
    actor: Actor,
    by: Literal["grid", "community", "category"],
    *,
    community_id: int | None = None,
    grid_id: int | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Per group (``key`` column): open (still being handled), overdue now, and by ageing colour.

    The ageing colours are :mod:`dashboard.cases.ageing`'s, from the instants stored on each case.
    """
    now = now or clock.now()
    key = _group_column(by, Case.reported_at)
    stmt = (
        select(
            key.label("key"),
            func.count().label("open_now"),
            _n(Case.due_at < now).label("overdue_now"),
            *(_n(ageing.condition(colour, now)).label(colour.value) for colour in Ageing),
        )
        .where(is_active(), *_where(actor, _filters(community_id, grid_id, None, None)))
        .group_by(key)
    )
    return pd.DataFrame(session.exec(stmt).all(), columns=["key", *OPEN_COUNT_COLUMNS])  # type: ignore[call-overload]


def blind_spots(session: Session, actor: Actor, days: int = 30, now: datetime | None = None) -> pd.DataFrame:
    """Grids in scope with their last case and last visit; ``blind`` when neither in the last `days` days.

    Columns: grid_id, code, name, community_id, last_case_at, last_visit_at, days_since (since the later
    of the two, None when neither ever happened), blind.
    """
    now = now or clock.now()
    # One index seek per grid (ix_cases_grid_reported, ix_grid_visits_grid_at) instead of grouping all cases.
    last_case = select(func.max(Case.reported_at)).where(Case.grid_id == Grid.id).scalar_subquery()
    last_visit = select(func.max(GridVisit.at)).where(GridVisit.grid_id == Grid.id).scalar_subquery()
    stmt = (
        select(
            Grid.id,
            Grid.code,
            Grid.name,
            Grid.community_id,
            last_case.label("last_case_at"),
            last_visit.label("last_visit_at"),
        )
        .where(grid_filter(actor))
        .order_by(Grid.code)
    )
    df = pd.DataFrame(
        session.exec(stmt).all(),  # type: ignore[call-overload]
        columns=["grid_id", "code", "name", "community_id", "last_case_at", "last_visit_at"],
    )
    for col in ("last_case_at", "last_visit_at"):
        df[col] = pd.to_datetime(df[col])
    latest = df[["last_case_at", "last_visit_at"]].max(axis=1)
    df["days_since"] = ((pd.Timestamp(now) - latest).dt.total_seconds() / 86400).round(1)
    df["blind"] = latest.isna() | (latest < pd.Timestamp(now - timedelta(days=days)))
    return df


def escalation_figures(
    session: Session,
    actor: Actor,
    period: Period,
    now: datetime | None = None,
    department_id: int | None = None,
) -> pd.DataFrame:
    """吹哨报到 per department: escalations received in the period (by ``escalated_at``), reported back, reported
    back by their deadline, still pending, and pending past their deadline now.

    报到及时率 ``on_time_rate`` = reported back by the deadline ÷ escalations whose deadline has passed or
    that were reported back (so fresh, not yet due escalations do not count against a department).
    Columns: department_id, escalated, reported_back, on_time, due, pending, overdue_now, on_time_rate.
    """
    now = now or clock.now()
    back = CaseEscalation.reported_back_at.is_not(None)
    pending = CaseEscalation.reported_back_at.is_(None)
    stmt = (
        select(
            CaseEscalation.department_id,
            func.count().label("escalated"),
            _n(back).label("reported_back"),
            _n(and_(back, CaseEscalation.reported_back_at <= CaseEscalation.due_at)).label("on_time"),
            _n(or_(back, CaseEscalation.due_at <= now)).label("due"),
            _n(pending).label("pending"),
            _n(and_(pending, CaseEscalation.due_at <= now)).label("overdue_now"),
        )
        .join(Case, Case.id == CaseEscalation.case_id)
        .where(
            CaseEscalation.escalated_at >= period.start,
            CaseEscalation.escalated_at < period.end,
            *_where(actor, []),
        )
        .group_by(CaseEscalation.department_id)
    )
    if department_id is not None:
        stmt = stmt.where(CaseEscalation.department_id == department_id)
    cols = ["department_id", "escalated", "reported_back", "on_time", "due", "pending", "overdue_now"]
    df = pd.DataFrame(session.exec(stmt).all(), columns=cols)  # type: ignore[call-overload]
    df[cols[1:]] = df[cols[1:]].fillna(0).astype("int64")
    df["on_time_rate"] = (df["on_time"] / df["due"].where(df["due"] > 0)).astype("float64")
    return df


def rate_change(current: float | None, previous: float | None) -> float | None:
    """Change of a rate in percentage points (as a fraction: 0.02 = 2 points); None when not comparable."""
    if current is None or previous is None:
        return None
    return current - previous


def count_change(current: int, previous: int) -> float | None:
    """Relative change of a count (0.18 = +18 %); None when the previous count is zero."""
    if not previous:
        return None
    return current / previous - 1
