"""The figures of DESIGN §8 on hand-built cases, where every expected value is counted by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlmodel import Session

from dashboard.db import get_engine
from dashboard.reporting import kpi
from models.enums import CaseStatus, Satisfaction
from tests.factories import add_case, build_world

NOW = datetime(2026, 11, 20, 12, 0)
NOV = kpi.Period(datetime(2026, 11, 1), datetime(2026, 12, 1), "month")


@pytest.fixture
def world_db(db_url: str):  # type: ignore[no-untyped-def]
    with Session(get_engine(db_url)) as s:
        world = build_world(s)
        d = datetime(2026, 11, 3, 9)
        # 1: closed on time, satisfied, solved, responded in time
        add_case(
            s,
            world,
            0,
            d,
            CaseStatus.closed,
            accepted_at=d + timedelta(hours=1),
            resolved_at=d + timedelta(days=1),
            closed_at=d + timedelta(days=2),
            satisfaction=Satisfaction.satisfied,
            solved=True,
        )
        # 2: closed late, dissatisfied, reworked, escalated, late response
        add_case(
            s,
            world,
            1,
            d,
            CaseStatus.closed,
            accepted_at=d + timedelta(hours=5),
            resolved_at=d + timedelta(days=4),
            closed_at=d + timedelta(days=5),
            satisfaction=Satisfaction.dissatisfied,
            solved=False,
            rework_count=1,
            escalation_level="daily",
        )
        # 3: closed on time, not reached (excluded from satisfaction), other community
        add_case(
            s,
            world,
            2,
            d,
            CaseStatus.closed,
            accepted_at=d + timedelta(hours=1),
            resolved_at=d + timedelta(days=1),
            closed_at=d + timedelta(days=1),
            satisfaction=Satisfaction.not_reached,
            solved=True,
        )
        # 4: open, past due (overdue now), due in November
        add_case(
            s,
            world,
            0,
            datetime(2026, 11, 10, 9),
            CaseStatus.in_progress,
            accepted_at=datetime(2026, 11, 10, 10),
            due_at=datetime(2026, 11, 13, 9),
        )
        # 5: open, not yet due
        add_case(
            s, world, 0, datetime(2026, 11, 19, 9), CaseStatus.reported, due_at=datetime(2026, 11, 24, 9)
        )
        # 6: rejected: counts as reported only
        add_case(s, world, 0, d, CaseStatus.rejected, due_at=d + timedelta(days=1))
        # 7: duplicate: counted nowhere
        add_case(s, world, 0, d, CaseStatus.closed, duplicate_of_id=1, closed_at=d + timedelta(hours=2))
        # 8: October case, closed in October: outside the November period
        o = datetime(2026, 10, 5, 9)
        add_case(
            s,
            world,
            0,
            o,
            CaseStatus.closed,
            accepted_at=o,
            resolved_at=o + timedelta(days=1),
            closed_at=o + timedelta(days=1),
            satisfaction=Satisfaction.satisfied,
            solved=True,
        )
        s.commit()
        yield s, world


def test_figures_subdistrict(world_db) -> None:  # type: ignore[no-untyped-def]
    s, world = world_db
    f = kpi.figures(s, world.actors["operator"], NOV, now=NOW)
    assert f.reported == 6  # 1-6 (rejected counts as reported; duplicate does not)
    assert f.responded_in_time == 3  # cases 1, 3 and 4
    assert f.response_rate == pytest.approx(3 / 6)
    assert f.due == 4  # 1, 2, 3 and the overdue 4; case 5 is not due yet; rejected 6 excluded
    assert f.closed_on_time == 2
    assert f.on_time_rate == pytest.approx(0.5)
    assert f.accepted == 4 and f.closed_of_accepted == 3
    assert f.closure_rate == pytest.approx(0.75)
    assert f.closed == 3 and f.solved == 2
    assert f.followed_up == 2 and f.satisfied == 1
    assert f.satisfaction_rate == pytest.approx(0.5)
    assert f.resolved == 3 and f.reworked == 1
    assert f.escalated == 1 and f.escalation_rate == pytest.approx(0.25)
    assert f.open_now == 2 and f.overdue_now == 1


def test_figures_follow_scope(world_db) -> None:  # type: ignore[no-untyped-def]
    s, world = world_db
    grid = kpi.figures(s, world.actors["grid_worker"], NOV, now=NOW)
    assert grid.reported == 4  # cases 1, 4, 5, 6 in grid 0
    community = kpi.figures(s, world.actors["community"], NOV, now=NOW)
    assert community.reported == 5  # grids 0 and 1
    dept = kpi.figures(s, world.actors["department"], NOV, now=NOW)
    assert dept.reported == 0


def test_figures_by_community_and_day(world_db) -> None:  # type: ignore[no-untyped-def]
    s, world = world_db
    by = kpi.figures_by(s, world.actors["leader"], NOV, "community", now=NOW).set_index("key")
    assert by.loc[world.community_ids[0], "reported"] == 5
    assert by.loc[world.community_ids[1], "reported"] == 1
    assert by.loc[world.community_ids[1], "on_time_rate"] == pytest.approx(1.0)
    days = kpi.figures_by(s, world.actors["leader"], NOV, "day", now=NOW).set_index("key")
    assert days.loc[date(2026, 11, 3), "reported"] == 4
    assert days["reported"].sum() == 6


def test_empty_period_has_no_rates(world_db) -> None:  # type: ignore[no-untyped-def]
    s, world = world_db
    f = kpi.figures(s, world.actors["operator"], kpi.month_period(date(2025, 1, 1)), now=NOW)
    assert f.reported == 0 and f.on_time_rate is None and f.satisfaction_rate is None


def test_blind_spots(world_db) -> None:  # type: ignore[no-untyped-def]
    s, world = world_db
    df = kpi.blind_spots(s, world.actors["operator"], days=30, now=NOW).set_index("grid_id")
    assert not df.loc[world.grid_ids[0], "blind"]
    assert df.loc[world.grid_ids[3], "blind"]  # no case, no visit ever


def test_periods() -> None:
    m = kpi.month_period(date(2026, 3, 31))
    assert m.previous() == kpi.month_period(date(2026, 2, 1))
    assert m.previous().end == datetime(2026, 3, 1)
    jan = kpi.month_period(date(2026, 1, 15))
    assert jan.previous().start == datetime(2025, 12, 1)
    assert jan.same_last_year().start == datetime(2025, 1, 1)
    leap = kpi.Period(datetime(2028, 2, 29), datetime(2028, 3, 1), "day")
    assert leap.same_last_year().start == datetime(2027, 2, 28)
    q = kpi.quarter_period(date(2026, 2, 10))
    assert (q.start, q.end) == (datetime(2026, 1, 1), datetime(2026, 4, 1))
    assert q.previous().start == datetime(2025, 10, 1)
    w = kpi.week_period(date(2026, 11, 23))
    assert w.start == datetime(2026, 11, 23) and w.previous().start == datetime(2026, 11, 16)
    assert kpi.count_change(118, 100) == pytest.approx(0.18)
    assert kpi.count_change(5, 0) is None
    assert kpi.rate_change(0.9, 0.85) == pytest.approx(0.05)
