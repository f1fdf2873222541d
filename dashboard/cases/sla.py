"""SLA clocks (DESIGN §5): due dates, elapsed time and the ageing instants for the four calendars.

All datetimes are naive Asia/Shanghai wall time. The four calendar kinds:

- ``natural_hours`` / ``natural_days``: plain clock arithmetic (``start + amount`` hours or days).
- ``working_hours``: working time is 08:00–12:00 and 14:00–18:00 on working days.
- ``working_days``: one working day is 8 working hours, so ``amount`` working days are ``amount * 8``
  working hours (Mon 10:00 + 1 working day = Tue 10:00; fractions allowed).

Working time is handled through one monotone measure, the *working offset* of an instant: the working
microseconds from a fixed origin up to that instant. ``elapsed`` is a difference of offsets and
``add_limit`` returns the earliest instant whose offset reaches ``offset(start) + amount``; being the
earliest, a deadline landing exactly at the end of a period stays there (12:00, 18:00) and a clock started
outside working time starts at the next working period. Offsets are integer microseconds, so
``elapsed(s, add_limit(s, x, k), k) == x`` up to the microsecond rounding of ``x``.

Per calendar the sorted ordinals of the working days of a span of years are built once (and widened when
a date falls outside), so a working-hours due date is a couple of bisections, not a walk over days.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Literal

import chinese_calendar
from sqlmodel import Session, select

from dashboard.cases.ageing import BLACK_FACTOR, WARN_SHARE
from models.enums import CalendarKind, CalendarOverrideKind

_US_PER_HOUR = 3_600_000_000
_US_PER_DAY = 24 * _US_PER_HOUR
_WORK_DAY_US = 8 * _US_PER_HOUR
"""Working microseconds in one working day (two periods of four hours)."""
_AM_START = 8 * _US_PER_HOUR
_AM_END = 12 * _US_PER_HOUR
_PM_START = 14 * _US_PER_HOUR
_PM_END = 18 * _US_PER_HOUR
_PERIOD_US = 4 * _US_PER_HOUR
_MAX_ORDINAL = date.max.toordinal()

_FALLBACK_HOLIDAYS: frozenset[tuple[int, int]] = frozenset(
    {(1, 1), (5, 1), (5, 2), (5, 3)} | {(10, d) for d in range(1, 8)}
)
"""Fixed statutory days used for years nobody holds the schedule of (see :class:`WorkCalendar`)."""

YearSource = Literal["entered", "package", "fallback"]
"""Where a year's statutory schedule comes from: entered by an administrator, the package, or neither."""


def package_knows(year: int) -> bool:
    """Whether `chinese_calendar` holds the statutory holidays and swapped workdays of `year`."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def _package_working_day(d: date) -> bool | None:
    """The package's answer for `d`, None for a year it does not know."""
    try:
        return chinese_calendar.is_workday(d)
    except NotImplementedError:
        return None


@dataclass(frozen=True, slots=True)
class _Span:
    """Working-day ordinals of the dates in ``[lo, hi)`` (ordinals), sorted."""

    lo: int
    hi: int
    days: tuple[int, ...]


class WorkCalendar:
    """Which days are working days: China's statutory calendar plus local overrides.

    The statutory days, first source first:

    1. the days of a State Council notice an administrator entered (``entered``: day → working; the
       notice years in ``entered_years``), ``calendar_statutory_days``;
    2. the ``chinese_calendar`` package, which knows the years 2004–2026 only (``holidays`` 0.109 has no
       later 调休 either: its China dates after 2026 are projected by rule, not taken from a notice);
    3. for an entered year, the other days follow the weekends; for a year nobody holds, the fallback is
       Saturdays and Sundays off plus the fixed days Jan 1, May 1–3 and Oct 1–7, with no swapped workdays
       and no lunar holidays (their dates and 调休 are only published a year ahead). That fallback is
       never silent: :meth:`year_source` says "fallback" and administrators are warned.

    Local overrides (``calendar_overrides``) win over all of them: ``CalendarOverrideKind.closure`` makes a
    day non-working, ``CalendarOverrideKind.workday`` makes it a working day.

    Instances are immutable and safe to share between threads; caches are built lazily.
    """

    def __init__(
        self,
        overrides: Mapping[date, CalendarOverrideKind | str] | None = None,
        entered: Mapping[date, bool] | None = None,
        entered_years: Iterable[int] = (),
    ) -> None:
        self._overrides: Mapping[date, CalendarOverrideKind] = MappingProxyType(
            {d: CalendarOverrideKind(k) for d, k in (overrides or {}).items()}
        )
        self._entered: Mapping[date, bool] = MappingProxyType(dict(entered or {}))
        self._entered_years = frozenset(entered_years)
        self._day_cache: dict[date, bool] = {}
        self._span: _Span | None = None
        self._lock = threading.Lock()

    @property
    def overrides(self) -> Mapping[date, CalendarOverrideKind]:
        """The local overrides, read only."""
        return self._overrides

    @property
    def entered(self) -> Mapping[date, bool]:
        """The statutory days an administrator entered (day → working), read only."""
        return self._entered

    @property
    def entered_years(self) -> frozenset[int]:
        """The notice years whose schedule an administrator entered."""
        return self._entered_years

    def __repr__(self) -> str:
        return (
            f"WorkCalendar({len(self._overrides)} overrides, {len(self._entered)} entered days "
            f"of {sorted(self._entered_years)})"
        )

    def _key(self) -> tuple[frozenset, frozenset, frozenset[int]]:
        return frozenset(self._overrides.items()), frozenset(self._entered.items()), self._entered_years

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WorkCalendar):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def year_source(self, year: int) -> YearSource:
        """Who holds `year`'s statutory schedule: an administrator, the package, or nobody (fallback)."""
        if year in self._entered_years:
            return "entered"
        return "package" if package_knows(year) else "fallback"

    def statutory_working(self, d: date) -> bool:
        """Whether `d` is a working day by the national schedule alone (no local overrides)."""
        entered = self._entered.get(d)
        if entered is not None:
            return entered
        known = _package_working_day(d)
        if known is not None:
            return known
        held = d.year in self._entered_years
        return d.weekday() < 5 and (held or (d.month, d.day) not in _FALLBACK_HOLIDAYS)

    def is_working_day(self, d: date) -> bool:
        """Whether `d` is a working day (local override first, then the statutory schedule)."""
        if isinstance(d, datetime):
            d = d.date()
        cached = self._day_cache.get(d)
        if cached is not None:
            return cached
        kind = self._overrides.get(d)
        if kind is None:
            result = self.statutory_working(d)
        else:
            result = kind == CalendarOverrideKind.workday
        self._day_cache[d] = result
        return result

    def _covering(self, lo: int, hi: int) -> _Span:
        """A span of whole years covering the ordinals ``[lo, hi]``, widening the cached one if needed."""
        span = self._span
        if span is not None and span.lo <= lo and hi < span.hi:
            return span
        with self._lock:
            span = self._span
            if span is not None and span.lo <= lo and hi < span.hi:
                return span
            lo_year = date.fromordinal(lo).year - 1
            hi_year = date.fromordinal(hi).year + 2
            if span is not None:
                lo_year = min(lo_year, date.fromordinal(span.lo).year)
                hi_year = max(hi_year, date.fromordinal(span.hi).year)
            first = date(max(lo_year, 1), 1, 1).toordinal()
            last = date(hi_year, 1, 1).toordinal() if hi_year <= date.max.year else _MAX_ORDINAL + 1
            days = tuple(o for o in range(first, last) if self.is_working_day(date.fromordinal(o)))
            span = _Span(first, last, days)
            self._span = span  # replaced whole: readers holding the old span stay consistent
            return span


DEFAULT_CALENDAR = WorkCalendar()
"""The statutory calendar with no local overrides."""


def load_calendar(session: Session) -> WorkCalendar:
    """The working calendar with the local overrides (``calendar_overrides``) and the statutory schedules
    administrators entered (``calendar_statutory_days``)."""
    from models import CalendarOverride, StatutoryDay

    overrides = session.exec(select(CalendarOverride.day, CalendarOverride.kind)).all()
    entered = session.exec(select(StatutoryDay.day, StatutoryDay.working, StatutoryDay.year)).all()
    calendar = WorkCalendar(
        {day: kind for day, kind in overrides},
        {day: working for day, working, _ in entered},
        {year for _, _, year in entered},
    )
    with _loaded_lock:
        known = _loaded.get(calendar)
        if known is not None:
            return known
        if len(_loaded) >= LOADED_KEPT:
            _loaded.pop(next(iter(_loaded)))
        _loaded[calendar] = calendar
    return calendar


LOADED_KEPT = 8
"""Calendars :func:`load_calendar` keeps (by value, oldest dropped first): the same stored days give the same
instance, so its working-day span is built once per process, not for every new case (which cost two
thirds of an API intake's time)."""
_loaded: dict[WorkCalendar, WorkCalendar] = {}
_loaded_lock = threading.Lock()


# ---------------------------------------------------------------- working offsets


def _day_us(t: datetime) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def _in_day_working_us(us: int) -> int:
    """Working microseconds from midnight up to `us` past midnight, on a working day."""
    if us <= _AM_START:
        return 0
    if us <= _AM_END:
        return us - _AM_START
    if us <= _PM_START:
        return _PERIOD_US
    if us <= _PM_END:
        return _PERIOD_US + us - _PM_START
    return _WORK_DAY_US


def _offset(span: _Span, t: datetime) -> int:
    """Working microseconds from the start of `span` up to `t` (`t` must lie inside the span)."""
    o = t.toordinal()
    i = bisect_left(span.days, o)
    off = i * _WORK_DAY_US
    if i < len(span.days) and span.days[i] == o:
        off += _in_day_working_us(_day_us(t))
    return off


def _add_working(start: datetime, us: int, cal: WorkCalendar) -> datetime:
    """The earliest instant at which `us` working microseconds have passed since `start`."""
    if us <= 0:
        return start
    o = start.toordinal()
    # Generous guess of the last day needed: a working day every 3 calendar days, plus a holiday week.
    hi = min(o + 3 * (us // _WORK_DAY_US) + 10, _MAX_ORDINAL)
    while True:
        span = cal._covering(o, hi)
        k, r = divmod(_offset(span, start) + us, _WORK_DAY_US)
        if r == 0:
            k, in_day = k - 1, _PM_END
        elif r <= _PERIOD_US:
            in_day = _AM_START + r
        else:
            in_day = _PM_START + r - _PERIOD_US
        if k < len(span.days):
            return datetime.fromordinal(span.days[k]) + timedelta(microseconds=in_day)
        if span.hi > _MAX_ORDINAL:
            raise OverflowError("SLA deadline beyond the year 9999")
        hi = min(span.hi + 366, _MAX_ORDINAL)  # not enough working days in the span (closures): widen, redo


def _working_elapsed_us(start: datetime, end: datetime, cal: WorkCalendar) -> int:
    span = cal._covering(start.toordinal(), end.toordinal())
    return _offset(span, end) - _offset(span, start)


# ---------------------------------------------------------------- public API


def _amount_us(amount: float) -> int:
    if amount < 0:
        raise ValueError(f"SLA amount must not be negative: {amount!r}")
    return round(amount * _US_PER_HOUR)


def add_limit(
    start: datetime, amount: float, kind: CalendarKind | str, cal: WorkCalendar = DEFAULT_CALENDAR
) -> datetime:
    """The instant `amount` units of calendar `kind` after `start` (hours for *_hours, days for *_days).

    Working time not reached from `start` (outside 08–12/14–18 or on a day off) does not count; a deadline
    landing exactly at the end of a working period stays there. Raises ValueError for a negative amount or
    an unknown kind.
    """
    if kind == CalendarKind.working_days:
        return _add_working(start, _amount_us(amount * 8), cal)
    if kind == CalendarKind.working_hours:
        return _add_working(start, _amount_us(amount), cal)
    if kind == CalendarKind.natural_hours:
        return start + timedelta(microseconds=_amount_us(amount))
    if kind == CalendarKind.natural_days:
        return start + timedelta(microseconds=_amount_us(amount * 24))
    raise ValueError(f"unknown calendar kind: {kind!r}")


def extend(
    due_at: datetime, amount: float, kind: CalendarKind | str, cal: WorkCalendar = DEFAULT_CALENDAR
) -> datetime:
    """A deadline extension (延期): the due date pushed by `amount` units of the category's calendar."""
    return add_limit(due_at, amount, kind, cal)


def elapsed(
    start: datetime, end: datetime, kind: CalendarKind | str, cal: WorkCalendar = DEFAULT_CALENDAR
) -> float:
    """Time from `start` to `end` in the units of `kind` (hours or days); 0 if `end` <= `start`.

    The inverse of :func:`add_limit`: working kinds count only working time (working days = working
    hours / 8).
    """
    if end <= start:
        return 0.0
    if kind == CalendarKind.working_hours:
        return _working_elapsed_us(start, end, cal) / _US_PER_HOUR
    if kind == CalendarKind.working_days:
        return _working_elapsed_us(start, end, cal) / _WORK_DAY_US
    if kind == CalendarKind.natural_hours:
        return (end - start) / timedelta(hours=1)
    if kind == CalendarKind.natural_days:
        return (end - start) / timedelta(days=1)
    raise ValueError(f"unknown calendar kind: {kind!r}")


@dataclass(frozen=True)
class SlaTimes:
    """The three instants of a case's clock: yellow from `warn_at`, red from `due_at`, black from `black_at`."""

    due_at: datetime
    warn_at: datetime
    black_at: datetime


def sla_times(
    start: datetime, amount: float, kind: CalendarKind | str, cal: WorkCalendar = DEFAULT_CALENDAR
) -> SlaTimes:
    """Due date, warning time (25 % of the limit left) and black time (overdue by the limit again).

    The shares are :mod:`dashboard.cases.ageing`'s; the calendar decides what a share of the limit is.
    """
    return SlaTimes(
        due_at=add_limit(start, amount, kind, cal),
        warn_at=add_limit(start, WARN_SHARE * amount, kind, cal),
        black_at=add_limit(start, BLACK_FACTOR * amount, kind, cal),
    )
