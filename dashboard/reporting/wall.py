"""The wall screen's live figures: a few SQL aggregates per refresh and a ticker of what happened today.

Everything comes from :mod:`dashboard.reporting.kpi` (one formula per figure); no case rows are loaded
except the ticker's. Rendering is :mod:`dashboard.ui.wall`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import and_, case, func, or_, select
from sqlmodel import Session

from dashboard import clock
from dashboard.admin import settings as app_settings
from dashboard.cases.workflow import OpenCounts
from dashboard.kernel.scope import Actor, case_filter, service_record_filter
from dashboard.reporting import kpi
from dashboard.reporting.kpi import Figures, Period
from dashboard.reporting.periods import compare_periods
from dashboard.volunteers.hours import MAX_RECORD_HOURS
from models import Case, Category, Grid, ServiceRecord, Subdistrict
from models.enums import ACTIVE_STATUSES, CaseSource, Priority

REFRESH_KEY = "wall_refresh_seconds"
"""Key in the `settings` table that overrides the wall's refresh interval."""
MIN_REFRESH_SECONDS = 2
"""The wall never refreshes more often than this, whatever the setting says."""


TICKER_KINDS = ("urgent", "overdue", "closed", "dispatched", "new")
"""What a ticker item says happened today; urgent reports and cases that fell overdue today come first."""
_ATTENTION = ("urgent", "overdue")
_TICKER_SCAN = 1000
"""At most this many of today's cases are read for the ticker (a day brings about a hundred)."""


@dataclass(frozen=True)
class TickerItem:
    """One thing that happened to a case today, for the wall's ticker (title is user text: escape it)."""

    number: str
    title: str
    category: str
    grid: str
    priority: str
    kind: str  # one of TICKER_KINDS
    at: datetime  # when today it happened


@dataclass(frozen=True)
class WallSnapshot:
    """The wall's live figures at one moment (a few SQL aggregates, no case rows except the ticker)."""

    at: datetime
    scope_name: str  # the sub-district's name
    today: Figures
    month: Figures
    month_previous: Figures  # the same elapsed part of last month (环比)
    hotline: Figures  # this month, 12345 cases only
    hotline_previous: Figures
    open: OpenCounts  # open now by status group: 在办 (= today.open_now), 待核查, 未结案
    trend: tuple[tuple[date, int, int], ...]  # (day, reported, closed), the last 7 days
    on_duty_now: int
    served_today: int
    ticker: tuple[TickerItem, ...]


def refresh_seconds(database_url: str | None = None) -> int:
    """The wall's refresh interval in seconds: the `settings` row when present, else configuration
    (``DASHBOARD_WALL_REFRESH_SECONDS``, default 60); never below :data:`MIN_REFRESH_SECONDS`."""
    return max(MIN_REFRESH_SECONDS, int(app_settings.cached_setting(REFRESH_KEY, database_url)))


def volunteers_on_duty(session: Session, actor: Actor, now: datetime) -> tuple[int, int]:
    """(volunteers with a service record spanning now, volunteers with a record on today), in scope."""
    day_start = datetime(now.year, now.month, now.day)
    on_now = case((and_(ServiceRecord.start <= now, ServiceRecord.end >= now), ServiceRecord.volunteer_id))
    stmt = select(
        func.count(func.distinct(on_now)), func.count(func.distinct(ServiceRecord.volunteer_id))
    ).where(
        # a record is at most MAX_RECORD_HOURS long, so this bounds the scan to a day and a half of starts
        ServiceRecord.start >= day_start - timedelta(hours=MAX_RECORD_HOURS),
        ServiceRecord.start < day_start + timedelta(days=1),
        ServiceRecord.end >= day_start,
        service_record_filter(actor),
    )
    now_count, today_count = session.exec(stmt).one()  # type: ignore[call-overload]
    return int(now_count or 0), int(today_count or 0)


def _ticker_kind(row: Any, day_start: datetime, now: datetime) -> tuple[str, datetime] | None:
    """The most telling thing that happened to the case today, and when; None when nothing did."""
    if row.closed_at is not None and day_start <= row.closed_at <= now:
        return "closed", row.closed_at
    active = row.status in {s.value for s in ACTIVE_STATUSES}
    if active and row.due_at is not None and day_start <= row.due_at < now:
        return "overdue", row.due_at
    reported_today = day_start <= row.reported_at <= now
    if reported_today and row.priority in (Priority.emergency.value, Priority.urgent.value):
        return "urgent", row.reported_at
    if row.dispatched_at is not None and day_start <= row.dispatched_at <= now:
        return "dispatched", row.dispatched_at
    return ("new", row.reported_at) if reported_today else None


def ticker_items(
    session: Session, actor: Actor, now: datetime, *, limit: int = 20, lang: str = "zh"
) -> tuple[TickerItem, ...]:
    """What happened today: urgent reports and cases that fell overdue today first, then closures,
    dispatches and new reports, newest first.

    Two indexed reads of today's cases: the open ones (partial index of open cases) reported, dispatched
    or falling due today, and those closed today (closed_at index) — a case dispatched or reported
    today is either still open or closed today.
    """
    day_start = kpi.day_period(now.date()).start
    cat_name = Category.name_zh if lang == "zh" else Category.name_en
    base = (
        select(
            Case.number,
            Case.title,
            cat_name.label("category"),
            Grid.name.label("grid"),
            Case.priority,
            Case.status,
            Case.reported_at,
            Case.dispatched_at,
            Case.closed_at,
            Case.due_at,
        )
        .join(Category, Category.id == Case.category_id)
        .join(Grid, Grid.id == Case.grid_id)
        .where(kpi.not_duplicate(), case_filter(actor))
        .limit(_TICKER_SCAN)
    )
    today_open = base.where(
        kpi.is_open(),
        or_(
            Case.reported_at >= day_start,
            Case.dispatched_at >= day_start,
            and_(Case.due_at >= day_start, Case.due_at < now),
        ),
    )
    closed_today = base.where(Case.closed_at >= day_start, Case.closed_at <= now)
    items = []
    for stmt in (today_open, closed_today):
        for row in session.exec(stmt).all():  # type: ignore[call-overload]
            found = _ticker_kind(row, day_start, now)
            if found is not None:
                kind, at = found
                items.append(
                    TickerItem(row.number, row.title, row.category, row.grid, str(row.priority), kind, at)
                )
    items.sort(key=lambda i: (i.kind not in _ATTENTION, -i.at.timestamp(), i.number))
    return tuple(items[:limit])


def _figures_of(rows: pd.DataFrame, **overrides: int) -> Figures:
    """Figures from rows of kpi.figures_by (counts add up over groups: each case is in one group)."""
    values = {c: int(rows[c].sum()) if not rows.empty else 0 for c in kpi.COUNT_COLUMNS}
    return Figures(**{**values, **overrides})


def snapshot(session: Session, actor: Actor, now: datetime | None = None, lang: str = "zh") -> WallSnapshot:
    """Everything the wall's tiles, side panel and ticker show.

    Three grouped kpi queries cover all the figures (so a refresh stays cheap): the last 7 days by day
    (the trend, and today's new/accepted/closed), and this month and the same part of last month by
    source (their sums are the month's figures, the hotline row the 12345 三率; open and overdue now come
    with them).
    """
    now = now or clock.now()
    today = kpi.day_period(now.date())
    month = compare_periods(kpi.month_period(now.date()), now)
    week = Period(today.start - timedelta(days=6), today.end, "custom")
    by_day = kpi.figures_by(session, actor, week, "day", now=now)
    by_source = kpi.figures_by(session, actor, month.current, "source", now=now)
    before = kpi.figures_by(session, actor, month.previous, "source", now=now)
    hotline = CaseSource.hotline.value
    days = by_day.set_index("key")
    trend = tuple(
        (d, int(days["reported"].get(d, 0)), int(days["closed"].get(d, 0)))
        for d in (week.start.date() + timedelta(days=i) for i in range(7))
    )
    month_now = _figures_of(by_source)
    on_now, served = volunteers_on_duty(session, actor, now)
    scope_name = session.scalars(select(Subdistrict.name).order_by(Subdistrict.id).limit(1)).first()
    return WallSnapshot(
        at=now,
        scope_name=scope_name or "",
        today=_figures_of(
            by_day[by_day["key"] == today.start.date()],
            open_now=month_now.open_now,
            overdue_now=month_now.overdue_now,
        ),
        month=month_now,
        month_previous=_figures_of(before),
        hotline=_figures_of(by_source[by_source["key"] == hotline]),
        hotline_previous=_figures_of(before[before["key"] == hotline]),
        open=kpi.open_counts(session, actor),
        trend=trend,
        on_duty_now=on_now,
        served_today=served,
        ticker=ticker_items(session, actor, now, lang=lang),
    )
