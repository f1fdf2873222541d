"""Report period comparisons (环比 / 同比): month ends, year boundaries, leap days, running periods."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlmodel import Session

from dashboard.db import get_engine
from dashboard.reporting import kpi, periods, reports
from dashboard.reporting.kpi import Period
from models.enums import CaseStatus
from tests.factories import add_case, build_world


def d(*args: int) -> datetime:
    return datetime(*args)  # type: ignore[arg-type]


def test_full_march_compares_with_february_and_last_march() -> None:
    comp = periods.compare_periods(kpi.month_period(date(2026, 3, 31)), now=d(2026, 4, 10))
    assert comp.current == Period(d(2026, 3, 1), d(2026, 4, 1), "month")
    assert not comp.partial
    assert (comp.previous.start, comp.previous.end) == (d(2026, 2, 1), d(2026, 3, 1))
    assert (comp.last_year.start, comp.last_year.end) == (d(2025, 3, 1), d(2025, 4, 1))


def test_running_march_on_the_31st_compares_with_all_of_february() -> None:
    """31 March: 30½ days elapsed, more than February has; the previous period is the whole of February."""
    comp = periods.compare_periods(kpi.month_period(date(2026, 3, 31)), now=d(2026, 3, 31, 12))
    assert comp.partial
    assert (comp.current.start, comp.current.end) == (d(2026, 3, 1), d(2026, 3, 31, 12))
    assert (comp.previous.start, comp.previous.end) == (d(2026, 2, 1), d(2026, 3, 1))
    assert (comp.last_year.start, comp.last_year.end) == (d(2025, 3, 1), d(2025, 3, 31, 12))


def test_running_month_compares_same_elapsed_length() -> None:
    comp = periods.compare_periods(kpi.month_period(date(2026, 3, 10)), now=d(2026, 3, 10, 18))
    assert (comp.previous.start, comp.previous.end) == (d(2026, 2, 1), d(2026, 2, 10, 18))


def test_january_compares_with_december_of_the_previous_year() -> None:
    comp = periods.compare_periods(kpi.month_period(date(2026, 1, 15)), now=d(2026, 2, 2))
    assert (comp.previous.start, comp.previous.end) == (d(2025, 12, 1), d(2026, 1, 1))
    assert (comp.last_year.start, comp.last_year.end) == (d(2025, 1, 1), d(2025, 2, 1))


def test_first_quarter_compares_with_last_quarter_of_the_previous_year() -> None:
    comp = periods.compare_periods(kpi.quarter_period(date(2026, 2, 1)), now=d(2026, 5, 1))
    assert (comp.previous.start, comp.previous.end) == (d(2025, 10, 1), d(2026, 1, 1))
    assert (comp.last_year.start, comp.last_year.end) == (d(2025, 1, 1), d(2025, 4, 1))


def test_week_across_new_year() -> None:
    week = kpi.week_period(date(2026, 1, 1))  # a Thursday: the week starts Monday 29 December 2025
    comp = periods.compare_periods(week, now=d(2026, 3, 1))
    assert (comp.current.start, comp.current.end) == (d(2025, 12, 29), d(2026, 1, 5))
    assert (comp.previous.start, comp.previous.end) == (d(2025, 12, 22), d(2025, 12, 29))
    assert (comp.last_year.start, comp.last_year.end) == (d(2024, 12, 29), d(2025, 1, 5))


def test_leap_february() -> None:
    comp = periods.compare_periods(kpi.month_period(date(2028, 2, 29)), now=d(2028, 3, 5))
    assert (comp.current.start, comp.current.end) == (d(2028, 2, 1), d(2028, 3, 1))
    assert (comp.previous.start, comp.previous.end) == (d(2028, 1, 1), d(2028, 2, 1))
    assert (comp.last_year.start, comp.last_year.end) == (d(2027, 2, 1), d(2027, 3, 1))


def test_running_leap_february_on_the_29th_maps_to_28_february() -> None:
    comp = periods.compare_periods(kpi.month_period(date(2028, 2, 29)), now=d(2028, 2, 29, 9))
    assert (comp.last_year.start, comp.last_year.end) == (d(2027, 2, 1), d(2027, 2, 28, 9))
    # 28 days and 9 hours elapsed fit into January
    assert (comp.previous.start, comp.previous.end) == (d(2028, 1, 1), d(2028, 1, 29, 9))


def test_march_after_leap_february_is_capped_at_29_days() -> None:
    comp = periods.compare_periods(kpi.month_period(date(2028, 3, 31)), now=d(2028, 3, 31, 23))
    assert (comp.previous.start, comp.previous.end) == (d(2028, 2, 1), d(2028, 3, 1))


def test_custom_leap_day() -> None:
    day = periods.custom_period(date(2028, 2, 29), date(2028, 2, 29))
    comp = periods.compare_periods(day, now=d(2028, 6, 1))
    assert (comp.previous.start, comp.previous.end) == (d(2028, 2, 28), d(2028, 2, 29))
    assert (comp.last_year.start, comp.last_year.end) == (d(2027, 2, 28), d(2027, 3, 1))


def test_custom_period_is_inclusive_and_ordered() -> None:
    p = periods.custom_period(date(2026, 3, 10), date(2026, 3, 1))
    assert (p.start, p.end, p.kind) == (d(2026, 3, 1), d(2026, 3, 11), "custom")
    comp = periods.compare_periods(p, now=d(2026, 4, 1))
    assert (comp.previous.start, comp.previous.end) == (d(2026, 2, 19), d(2026, 3, 1))


@pytest.mark.parametrize(
    ("period", "lang", "expected"),
    [
        (kpi.month_period(date(2026, 3, 5)), "zh", "2026年3月"),
        (kpi.month_period(date(2026, 3, 5)), "en", "March 2026"),
        (kpi.quarter_period(date(2026, 11, 5)), "zh", "2026年第4季度"),
        (kpi.quarter_period(date(2026, 11, 5)), "en", "Q4 2026"),
        (periods.custom_period(date(2026, 3, 1), date(2026, 3, 7)), "en", "2026-03-01 to 2026-03-07"),
    ],
)
def test_period_labels(period: Period, lang: str, expected: str) -> None:
    assert periods.period_label(period, lang) == expected


@pytest.fixture
def month_end_db(db_url: str):  # type: ignore[no-untyped-def]
    """Cases on the edges of months and years, to check they land in the right compared period."""
    with Session(get_engine(db_url)) as s:
        world = build_world(s)
        for at in (
            d(2025, 3, 31, 8),  # last March (同比 of March 2026, up to the same hour)
            d(2025, 3, 31, 20),  # last March, after the hour of "now": outside the 同比 period
            d(2025, 12, 31, 23, 30),  # December (环比 of January 2026)
            d(2025, 12, 31, 23, 59),
            d(2026, 1, 1, 0, 10),  # January 2026
            d(2026, 2, 28, 22),  # February (环比 of March)
            d(2026, 3, 1, 0, 0),  # March
            d(2026, 3, 31, 8),
            d(2026, 3, 31, 13),  # after "now" on 31 March: not yet counted
        ):
            add_case(s, world, 0, at, CaseStatus.reported, due_at=at + timedelta(days=3))
        s.commit()
        yield s, world


def test_report_headline_counts_the_right_cases(month_end_db) -> None:  # type: ignore[no-untyped-def]
    s, world = month_end_db
    leader = world.actors["leader"]
    now = d(2026, 3, 31, 12)
    rep = reports.build_report(s, leader, kpi.month_period(now.date()), now=now, lang="zh")
    reported = rep.headline.set_index("metric").loc["reported"]
    assert (reported["current"], reported["previous"], reported["last_year"]) == (2, 1, 1)
    assert reported["mom"] == pytest.approx(1.0)  # 2 vs 1: +100 %
    assert reported["yoy"] == pytest.approx(1.0)
    jan = reports.build_report(s, leader, kpi.month_period(date(2026, 1, 1)), now=now, lang="en")
    row = jan.headline.set_index("metric").loc["reported"]
    assert (row["current"], row["previous"]) == (1, 2)
    assert row["mom"] == pytest.approx(-0.5)
    # nothing a year before: no 去年同期 figure (无数据, not 0) and no 同比 change
    assert not jan.has_last_year and pd_isna(row["last_year"]) and pd_isna(row["yoy"])
    assert "January 2026" == jan.period_label


def pd_isna(value: object) -> bool:
    import pandas as pd

    return bool(pd.isna(value))
