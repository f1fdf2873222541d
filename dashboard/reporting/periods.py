"""The periods a meeting report covers and compares, and their labels.

A report compares its period with the period before (环比, :meth:`kpi.Period.previous`: the previous
calendar week, month or quarter, or the same length before a custom range) and with the same period one
year earlier (同比, :meth:`kpi.Period.same_last_year`; 29 February maps to 28 February). A period still
running is cut at "now" and compared with the same elapsed length of the previous period, never more
than that whole period: a March report on 31 March compares with all of February, and a report of
1–10 March with 1–10 February.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dashboard.i18n import t, t_plain
from dashboard.reporting import kpi
from dashboard.reporting.kpi import Period


@dataclass(frozen=True)
class Comparison:
    """The report period (cut at now when still running) and the periods it is compared with."""

    requested: Period
    current: Period
    previous: Period  # 环比
    last_year: Period  # 同比

    @property
    def partial(self) -> bool:
        return self.current.end < self.requested.end


def compare_periods(period: Period, now: datetime) -> Comparison:
    """The current, previous (环比) and last-year (同比) periods of a report made at `now`.

    A running period is cut at `now`; its previous period then covers the same elapsed length from the
    previous period's start, capped at that period's end (31 March → the whole of February), and its
    last-year period is the cut period shifted back one year.
    """
    current = period.clipped(now)
    previous = period.previous()
    if current.end < period.end:
        elapsed = current.end - current.start
        previous = Period(previous.start, min(previous.start + elapsed, previous.end), previous.kind)
    return Comparison(period, current, previous, current.same_last_year())


def period_label(period: Period, lang: str) -> str:
    """A human label of a period: 2026年3月 / March 2026, 2026年第1季度 / Q1 2026, or a date range."""
    start = period.start
    last = (period.end - timedelta(seconds=1)).date()
    if period.kind == "month":
        return t_plain(
            "report.label_month", lang, year=start.year, month=start.month, month_name=start.strftime("%B")
        )
    if period.kind == "quarter":
        return t_plain("report.label_quarter", lang, year=start.year, quarter=(start.month - 1) // 3 + 1)
    if period.kind == "week":
        return t_plain(
            "report.label_week",
            lang,
            start=start.date().isoformat(),
            end=last.isoformat(),
            week=start.isocalendar()[1],
            year=start.isocalendar()[0],
        )
    return t_plain("report.label_range", lang, start=start.date().isoformat(), end=last.isoformat())


def custom_period(first: date, last: date) -> Period:
    """The days `first` to `last` inclusive as a custom period."""
    if last < first:
        first, last = last, first
    return Period(
        datetime(first.year, first.month, first.day),
        datetime(last.year, last.month, last.day) + timedelta(days=1),
        "custom",
    )


def period_choices(kind: str, today: date, count: int) -> list[Period]:
    """The latest `count` calendar months or quarters up to the one containing `today`, newest first."""
    out: list[Period] = []
    current = kpi.month_period(today) if kind == "month" else kpi.quarter_period(today)
    for _ in range(count):
        out.append(current)
        current = current.previous()
    return out


def comparison_word(kind: str, lang: str) -> str:
    """The words for 环比 of a period kind (环比; week on week, month on month, vs the previous period)."""
    key = kind if kind in ("week", "month", "quarter") else "custom"
    return t(f"report.mom_{key}", lang)
