"""The local working calendar: statutory holidays and swapped workdays (`chinese_calendar`) and local
overrides (closures, extra working days). A new override moves the due dates of cases created afterwards
(the case service reads ``sla.load_calendar`` when a case is created); existing cases keep theirs.
Conventions of every admin change are in :mod:`dashboard.admin.changes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import chinese_calendar
import pandas as pd
from sqlmodel import Session, select

from dashboard import clock
from dashboard.admin.changes import require_admin, to_json, valid_text
from dashboard.cases import sla
from dashboard.kernel import audit
from dashboard.kernel.errors import Conflict, Invalid, NotFound
from dashboard.kernel.scope import Actor
from models import CalendarOverride, User
from models.enums import CalendarOverrideKind

FIRST_YEAR, LAST_YEAR = 2000, 2100


def calendar_known(year: int) -> bool:
    """Whether `chinese_calendar` knows the statutory holidays of `year` (else a weekend-only fallback)."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
        return True
    except NotImplementedError:
        return False


def _holiday_name(day: date) -> str | None:
    """The statutory holiday's identifier (``national_day``…), None for ordinary days or unknown years."""
    try:
        _, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return None
    if not name:
        return None
    try:
        return chinese_calendar.Holiday(name).name
    except ValueError:
        return str(name)


@dataclass(frozen=True)
class CalendarDay:
    day: date
    statutory_working: bool
    holiday: str | None  # Holiday identifier for statutory holidays and their swapped workdays
    swapped_workday: bool  # a weekend day that is a working day by statute (调休上班)
    override: str | None  # CalendarOverrideKind value
    note: str
    working: bool  # the effective result, as the SLA engine sees it


def calendar_year(session: Session, year: int) -> list[CalendarDay]:
    """Every day of `year` with its statutory status, local override and effective working status."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise Invalid("admin.err_year", first=FIRST_YEAR, last=LAST_YEAR)
    start, end = date(year, 1, 1), date(year + 1, 1, 1)
    overrides = {
        d: (kind, note)
        for d, kind, note in session.exec(
            select(CalendarOverride.day, CalendarOverride.kind, CalendarOverride.note).where(
                CalendarOverride.day >= start, CalendarOverride.day < end
            )
        ).all()
    }
    cal = sla.WorkCalendar({d: k for d, (k, _) in overrides.items()})
    days = []
    for n in range((end - start).days):
        d = start + timedelta(days=n)
        statutory = sla.DEFAULT_CALENDAR.is_working_day(d)
        kind, note = overrides.get(d, (None, ""))
        days.append(
            CalendarDay(
                day=d,
                statutory_working=statutory,
                holiday=_holiday_name(d),
                swapped_workday=statutory and d.weekday() >= 5,
                override=str(kind) if kind else None,
                note=note,
                working=cal.is_working_day(d),
            )
        )
    return days


def calendar_overrides(session: Session, year: int | None = None) -> pd.DataFrame:
    """Local overrides (all, or of one year), by day: day, kind, note, created_by (name), created_at."""
    stmt = (
        select(
            CalendarOverride.day,
            CalendarOverride.kind,
            CalendarOverride.note,
            User.display_name,
            CalendarOverride.created_at,
        )
        .outerjoin(User, User.id == CalendarOverride.created_by)
        .order_by(CalendarOverride.day)
    )
    if year is not None:
        stmt = stmt.where(
            CalendarOverride.day >= date(year, 1, 1), CalendarOverride.day < date(year + 1, 1, 1)
        )
    return pd.DataFrame(
        session.exec(stmt).all(),  # type: ignore[call-overload]
        columns=["day", "kind", "note", "created_by", "created_at"],
    )


def add_calendar_override(
    session: Session, actor: Actor, day: date, kind: CalendarOverrideKind | str, note: str = ""
) -> None:
    """Add a local closure (non-working day) or extra working day; new cases' due dates respect it.

    Refused when the day already is what the override would make it (by statute) or already has an override.
    """
    require_admin(actor)
    try:
        kind = CalendarOverrideKind(kind)
    except ValueError:
        raise Invalid("admin.err_override_kind") from None
    if not isinstance(day, date) or isinstance(day, datetime):
        raise Invalid("admin.err_date")
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise Invalid("admin.err_year", first=FIRST_YEAR, last=LAST_YEAR)
    note = valid_text(note, "note", 200, required=False)
    if session.get(CalendarOverride, day) is not None:
        raise Conflict("admin.err_override_exists", day=day.isoformat())
    if sla.DEFAULT_CALENDAR.is_working_day(day) == (kind == CalendarOverrideKind.workday):
        raise Invalid("admin.err_override_redundant_" + kind.value, day=day.isoformat())
    session.add(CalendarOverride(day=day, kind=kind, note=note, created_by=actor.id, created_at=clock.now()))
    session.flush()
    audit.record(
        session,
        actor,
        "calendar_override_add",
        day.isoformat(),
        detail=to_json({"day": day, "kind": kind.value, "note": note}),
    )


def remove_calendar_override(session: Session, actor: Actor, day: date) -> None:
    """Remove a local override; the statutory calendar applies to the day again (for new cases)."""
    require_admin(actor)
    row = session.get(CalendarOverride, day)
    if row is None:
        raise NotFound("admin.err_not_found")
    audit.record(
        session,
        actor,
        "calendar_override_remove",
        day.isoformat(),
        detail=to_json({"day": day, "kind": str(row.kind), "note": row.note}),
    )
    session.delete(row)
