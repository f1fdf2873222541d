"""The working calendar: statutory holidays and swapped workdays from `chinese-calendar`, local overrides
that move new cases' working-day due dates, and their validation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from sqlmodel import Session, func, select

from dashboard import clock
from dashboard.admin import calendar as work_calendar
from dashboard.cases import intake as case_intake
from dashboard.cases import sla
from dashboard.cases.intake import NewCase
from dashboard.db import get_engine
from dashboard.kernel.errors import DomainError, NotPermitted
from models import AuditLog, CalendarOverride, Case
from models.enums import CalendarKind, CalendarOverrideKind, CaseSource
from tests.factories import World, build_world


@pytest.fixture
def env(db_url: str) -> Iterator[tuple[Session, World]]:
    with Session(get_engine(db_url), expire_on_commit=False) as session:
        world = build_world(session)  # category ENV: 3 working days
        session.commit()
        yield session, world


def _new_case_due(session: Session, world: World, at: datetime) -> datetime:
    with clock.frozen(at):
        ref = case_intake.create_case(
            session,
            world.actors["operator"],
            NewCase(
                category_id=world.category["ENV"],
                title="路灯不亮",
                source=CaseSource.hotline,
                grid_id=world.grid_ids[0],
            ),
        )
        session.commit()
    due = session.get(Case, ref.id).due_at  # type: ignore[union-attr]
    assert due is not None
    return due


def test_local_closure_moves_working_day_due_date(env: tuple[Session, World]) -> None:
    session, world = env
    start = datetime(2026, 11, 2, 9)  # Monday
    first = _new_case_due(session, world, start)
    assert first == datetime(2026, 11, 5, 9)  # Thursday

    work_calendar.add_calendar_override(
        session, world.actors["admin"], date(2026, 11, 3), "closure", "防汛停工"
    )
    session.commit()
    second = _new_case_due(session, world, start)
    assert second == datetime(2026, 11, 6, 9)  # one working day later
    assert second == sla.add_limit(start, 3, CalendarKind.working_days, sla.load_calendar(session))
    session.expire_all()
    assert session.exec(select(Case.due_at).order_by(Case.id)).all() == [
        first,
        second,
    ]  # the old case keeps its date

    # an extra working day on Saturday 7 November pulls a Friday case's due date in by a day
    friday = datetime(2026, 11, 6, 9)
    assert _new_case_due(session, world, friday) == datetime(2026, 11, 11, 9)  # Fri, Mon, Tue → Wed 09:00
    work_calendar.add_calendar_override(
        session, world.actors["admin"], date(2026, 11, 7), CalendarOverrideKind.workday
    )
    session.commit()
    cal = sla.load_calendar(session)
    assert cal.is_working_day(date(2026, 11, 7)) and not cal.is_working_day(date(2026, 11, 3))
    assert _new_case_due(session, world, friday) == datetime(2026, 11, 10, 9)  # Fri, Sat, Mon → Tue 09:00
    # removing the closure restores the statutory calendar for new cases
    work_calendar.remove_calendar_override(session, world.actors["admin"], date(2026, 11, 3))
    session.commit()
    assert _new_case_due(session, world, start) == datetime(2026, 11, 5, 9)
    actions = session.exec(
        select(AuditLog.action).where(AuditLog.action.startswith("calendar_")).order_by(AuditLog.id)
    ).all()
    assert actions == ["calendar_override_add", "calendar_override_add", "calendar_override_remove"]
    detail = json.loads(
        session.exec(select(AuditLog.detail).where(AuditLog.action == "calendar_override_remove")).one()
    )
    assert detail == {"day": "2026-11-03", "kind": "closure", "note": "防汛停工"}


def test_override_validation_saves_nothing(env: tuple[Session, World], db_url: str) -> None:
    session, world = env
    actor = world.actors["admin"]
    work_calendar.add_calendar_override(session, actor, date(2026, 11, 3), "closure")
    session.commit()
    for day, kind, note, key in [
        (date(2026, 11, 3), "workday", "", "admin.err_override_exists"),
        (date(2026, 10, 1), "closure", "", "admin.err_override_redundant_closure"),  # National Day
        (date(2026, 11, 7), "closure", "", "admin.err_override_redundant_closure"),  # Saturday
        (date(2026, 9, 20), "workday", "", "admin.err_override_redundant_workday"),  # swapped workday
        (date(2026, 11, 4), "holiday", "", "admin.err_override_kind"),
        (date(2026, 11, 4), "closure", "x" * 201, "admin.err_too_long"),
        (date(1999, 11, 4), "closure", "", "admin.err_year"),
        (datetime(2026, 11, 4, 9), "closure", "", "admin.err_date"),
    ]:
        with pytest.raises(DomainError) as err:
            work_calendar.add_calendar_override(session, actor, day, kind, note)  # type: ignore[arg-type]
        assert err.value.key == key, (day, kind)
        session.rollback()
    with pytest.raises(DomainError):
        work_calendar.remove_calendar_override(session, actor, date(2026, 11, 4))
    with pytest.raises(NotPermitted):
        work_calendar.add_calendar_override(session, world.actors["operator"], date(2026, 11, 4), "closure")
    session.rollback()
    with Session(get_engine(db_url)) as other:
        assert other.exec(select(CalendarOverride.day)).all() == [date(2026, 11, 3)]
        assert other.exec(select(func.count()).select_from(AuditLog)).one() == 1


def test_calendar_year_shows_holidays_swaps_and_overrides(env: tuple[Session, World]) -> None:
    session, world = env
    work_calendar.add_calendar_override(session, world.actors["admin"], date(2026, 11, 3), "closure", "停电")
    work_calendar.add_calendar_override(session, world.actors["admin"], date(2026, 11, 7), "workday")
    session.commit()
    days = {d.day: d for d in work_calendar.calendar_year(session, 2026)}
    assert len(days) == 365
    national = days[date(2026, 10, 1)]
    assert (national.holiday, national.statutory_working, national.working) == ("national_day", False, False)
    swapped = days[date(2026, 9, 20)]  # Sunday worked before National Day
    assert swapped.swapped_workday and swapped.working
    closure = days[date(2026, 11, 3)]
    assert (closure.statutory_working, closure.override, closure.note, closure.working) == (
        True,
        "closure",
        "停电",
        False,
    )
    extra = days[date(2026, 11, 7)]
    assert (extra.statutory_working, extra.override, extra.working) == (False, "workday", True)
    ordinary = days[date(2026, 11, 4)]
    assert (ordinary.holiday, ordinary.swapped_workday, ordinary.override, ordinary.working) == (
        None,
        False,
        None,
        True,
    )
    assert list(work_calendar.calendar_overrides(session, 2026)["day"]) == [
        date(2026, 11, 3),
        date(2026, 11, 7),
    ]
    assert work_calendar.calendar_overrides(session, 2025).empty

    assert work_calendar.calendar_known(2026) and not work_calendar.calendar_known(2030)
    # fallback: weekends and fixed days
    later = {d.day: d for d in work_calendar.calendar_year(session, 2030)}
    assert not later[date(2030, 10, 1)].working and later[date(2030, 10, 8)].working
    with pytest.raises(DomainError):
        work_calendar.calendar_year(session, 1900)
