"""The local working calendar: statutory holidays and swapped workdays, and local overrides (closures, extra
working days). A new override moves the due dates of cases created afterwards (the case service reads
``sla.load_calendar`` when a case is created); existing cases keep theirs.

The statutory schedule of a year comes from the State Council notice an administrator pasted
(:func:`parse_notice`, :func:`preview_schedule`, :func:`save_schedule`), else from `chinese_calendar`
(2004–2026), else from a weekend fallback that :func:`missing_years` reports. Conventions of every admin
change are in :mod:`dashboard.admin.changes`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import chinese_calendar
import pandas as pd
from sqlalchemy import delete
from sqlmodel import Session, col, select

from dashboard import clock
from dashboard.admin.changes import require_admin, to_json, valid_text
from dashboard.cases import sla
from dashboard.i18n import t_plain
from dashboard.kernel import audit
from dashboard.kernel.errors import Conflict, Invalid, NotFound
from dashboard.kernel.scope import Actor
from models import CalendarOverride, StatutoryDay, User
from models.enums import CalendarOverrideKind

FIRST_YEAR, LAST_YEAR = 2000, 2100
WARN_FROM_MONTH = 11
"""From this month on, a missing schedule of next year is reported (the notice usually comes in November)."""


def year_source(session: Session, year: int) -> sla.YearSource:
    """Who holds `year`'s statutory schedule: "entered" (an administrator), "package", or "fallback"."""
    return sla.load_calendar(session).year_source(year)


def missing_years(session: Session, today: date) -> list[int]:
    """The years whose working-day clocks run on the weekend fallback and should not: this year, and from
    November next year too."""
    cal = sla.load_calendar(session)
    years = [today.year, today.year + 1] if today.month >= WARN_FROM_MONTH else [today.year]
    return [y for y in years if cal.year_source(y) == "fallback"]


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
    holiday: str | None  # Holiday identifier (package) for statutory holidays and their swapped workdays
    swapped_workday: bool  # a weekend day that is a working day by statute (调休上班)
    override: str | None  # CalendarOverrideKind value
    note: str
    working: bool  # the effective result, as the SLA engine sees it
    entered_name: str | None = None  # the holiday's name in the notice an administrator entered


def calendar_year(session: Session, year: int) -> list[CalendarDay]:
    """Every day of `year` with its statutory status, local override and effective working status."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise Invalid("admin.err_year", first=FIRST_YEAR, last=LAST_YEAR)
    start, end = date(year, 1, 1), date(year + 1, 1, 1)
    notes = dict(
        session.exec(
            select(CalendarOverride.day, CalendarOverride.note).where(
                CalendarOverride.day >= start, CalendarOverride.day < end
            )
        ).all()
    )
    names = dict(
        session.exec(
            select(StatutoryDay.day, StatutoryDay.name).where(
                StatutoryDay.day >= start, StatutoryDay.day < end
            )
        ).all()
    )
    cal = sla.load_calendar(session)
    days = []
    for n in range((end - start).days):
        d = start + timedelta(days=n)
        statutory = cal.statutory_working(d)
        kind = cal.overrides.get(d)
        days.append(
            CalendarDay(
                day=d,
                statutory_working=statutory,
                holiday=None if d in cal.entered else _holiday_name(d),
                swapped_workday=statutory and d.weekday() >= 5,
                override=str(kind) if kind else None,
                note=notes.get(d, ""),
                working=cal.is_working_day(d),
                entered_name=names.get(d),
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
    if sla.load_calendar(session).statutory_working(day) == (kind == CalendarOverrideKind.workday):
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


# ---------------------------------------------------------------- a State Council notice, pasted

MAX_NOTICE_CHARS = 20_000
MAX_RANGE_DAYS = 31
_WEEKDAY_CHARS = "一二三四五六日"
_TOKEN = re.compile(
    r"(?P<iso>(?P<iy>\d{4})\s*[-/.年]\s*(?P<im>\d{1,2})\s*[-/.月]\s*(?P<id>\d{1,2})(?:\s*日)?)"
    r"|(?P<cn>(?:(?P<cy>\d{4})\s*年\s*)?(?:(?P<cm>\d{1,2})\s*月\s*)?(?P<cd>\d{1,2})\s*日)"
    r"|(?P<note>\([^)]*\))"
    r"|(?P<range>[~至到—–])"
    r"|(?P<count>共\s*(?P<n>\d+)\s*天)"
    r"|(?P<work>上班|补班|班)"
    r"|(?P<off>放假|休息|休)"
)
"""Tokens of a notice line after NFKC (full-width digits, brackets, colons and tildes made ASCII)."""
_SAID_WEEKDAY = re.compile(r"(?:周|星期|礼拜)([一二三四五六日天])")
_NUMBERING = re.compile(r"^(?:[一二三四五六七八九十]+\s*[、.．]|\d+\s*[、.．)])\s*")


@dataclass(frozen=True)
class PastedDay:
    """A day of a pasted schedule: off (放假) or a make-up working day (上班), the holiday, its line."""

    day: date
    working: bool
    name: str
    line: int


@dataclass(frozen=True)
class PasteError:
    """A line that could not be read: its number and text, and why (an i18n key and its values)."""

    line: int
    text: str
    key: str
    values: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class PastedSchedule:
    """What a pasted notice says for its `year`; lines without any date (the notice's prose) are skipped."""

    year: int
    days: tuple[PastedDay, ...]
    errors: tuple[PasteError, ...]
    skipped: tuple[int, ...]


class _Unreadable(Exception):
    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key, self.values = key, values


class _LineReader:
    """One line, token by token: dates (a missing year or month comes from the date before, then from the
    notice year), ranges between two dates, weekday notes checked against the date, and the kind (休 or 班)
    that closes the dates before it; ``共N天`` is checked against the days off just read."""

    def __init__(self, year: int) -> None:
        self.year = year
        self.pending: list[date] = []
        self.last: date | None = None
        self.last_explicit = False
        self.range_open = False
        self.last_off: list[date] = []
        self.found: list[tuple[date, bool]] = []

    def feed(self, m: re.Match[str]) -> None:
        if m["iso"] or m["cn"]:
            self._date(m)
        elif m["note"]:
            self._note(m["note"])
        elif m["range"]:
            self.range_open = bool(self.pending)
        elif m["count"]:
            if self.last_off and len(self.last_off) != int(m["n"]):
                raise _Unreadable("admin.cal_paste_err_count", said=int(m["n"]), counted=len(self.last_off))
        else:
            self._kind(working=m["work"] is not None)

    def end(self) -> list[tuple[date, bool]]:
        if self.range_open:
            raise _Unreadable("admin.cal_paste_err_range_end")
        if self.pending:
            raise _Unreadable("admin.cal_paste_err_no_kind", day=self.pending[0].isoformat())
        return self.found

    def _resolve(self, m: re.Match[str]) -> tuple[date, bool]:
        if m["iso"]:
            y, mo, d, explicit = int(m["iy"]), int(m["im"]), int(m["id"]), True
        else:
            explicit = m["cy"] is not None
            y = int(m["cy"]) if explicit else (self.last.year if self.last else self.year)
            if m["cm"] is None and self.last is None:
                raise _Unreadable("admin.cal_paste_err_month", text=m.group())
            mo = int(m["cm"]) if m["cm"] is not None else self.last.month  # type: ignore[union-attr]
            d = int(m["cd"])
        try:
            return date(y, mo, d), explicit
        except ValueError:
            raise _Unreadable("admin.cal_paste_err_date", text=m.group()) from None

    def _date(self, m: re.Match[str]) -> None:
        day, explicit = self._resolve(m)
        if not self.range_open:
            self.pending.append(day)
        else:
            self.range_open = False
            first = self.pending.pop()
            if day < first and not self.last_explicit:  # 12月30日至1月1日: the range starts the year before
                first = first.replace(year=first.year - 1)
            if day < first:
                raise _Unreadable("admin.cal_paste_err_range", first=first.isoformat(), last=day.isoformat())
            if (day - first).days >= MAX_RANGE_DAYS:
                raise _Unreadable("admin.cal_paste_err_range_long", maximum=MAX_RANGE_DAYS)
            self.pending.extend(first + timedelta(days=n) for n in range((day - first).days + 1))
        self.last, self.last_explicit = day, explicit

    def _note(self, note: str) -> None:
        said = _SAID_WEEKDAY.search(note)
        if said is None or self.last is None:
            return
        if _WEEKDAY_CHARS.index(said[1].replace("天", "日")) != self.last.weekday():
            raise _Unreadable(
                "admin.cal_paste_err_weekday",
                day=self.last.isoformat(),
                said=said.group(),
                weekday=t_plain(f"admin.weekday_{self.last.weekday()}"),
            )

    def _kind(self, working: bool) -> None:
        if self.range_open:
            raise _Unreadable("admin.cal_paste_err_range_end")
        if not self.pending:  # 调休, 与周末连休, 值班: a kind word without dates before it
            return
        self.found.extend((d, working) for d in self.pending)
        if not working:
            self.last_off = list(self.pending)
        self.pending = []


def _holiday_label(line: str) -> str:
    """The holiday a notice line is about: the text before its colon (``一、元旦：…`` → ``元旦``)."""
    head, colon, _ = _NUMBERING.sub("", line).partition(":")
    head = head.strip()
    if not colon or not head or len(head) > 40 or _TOKEN.search(head):
        return ""
    return head


def _merge(
    days: dict[date, PastedDay], found: list[tuple[date, bool]], line: int, name: str, year: int
) -> PasteError | None:
    """Add a line's days unless one lies outside the notice's year or contradicts an earlier line."""
    lo, hi = date(year - 1, 12, 1), date(year, 12, 31)
    for day, working in found:
        if not lo <= day <= hi:
            return PasteError(line, "", "admin.cal_paste_err_outside", {"day": day.isoformat(), "year": year})
        earlier = days.get(day)
        if earlier is not None and earlier.working != working:
            return PasteError(
                line, "", "admin.cal_paste_err_conflict", {"day": day.isoformat(), "other": earlier.line}
            )
    for day, working in found:
        days.setdefault(day, PastedDay(day, working, name, line))
    return None


def parse_notice(text: str, year: int) -> PastedSchedule:
    """Read a pasted State Council notice for `year` (or plain lines such as ``2027-01-01~2027-01-03 休``,
    ``2027-02-07 班``): its days off and make-up working days. Nothing is saved."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise Invalid("admin.err_year", first=FIRST_YEAR, last=LAST_YEAR)
    days: dict[date, PastedDay] = {}
    errors: list[PasteError] = []
    skipped: list[int] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = unicodedata.normalize("NFKC", raw).strip().replace("～", "~")
        reader = _LineReader(year)
        try:
            for m in _TOKEN.finditer(line):
                reader.feed(m)
            found = reader.end()
        except _Unreadable as err:
            errors.append(PasteError(number, raw.strip(), err.key, err.values))
            continue
        if not found:
            if line:
                skipped.append(number)
            continue
        error = _merge(days, found, number, _holiday_label(line), year)
        if error is not None:
            errors.append(PasteError(number, raw.strip(), error.key, error.values))
    return PastedSchedule(
        year, tuple(sorted(days.values(), key=lambda p: p.day)), tuple(errors), tuple(skipped)
    )


def _with_schedule(session: Session, schedule: PastedSchedule) -> sla.WorkCalendar:
    """The calendar new cases would use once `schedule` replaces its year's entered schedule."""
    held = sla.load_calendar(session)
    replaced = set(session.exec(select(StatutoryDay.day).where(StatutoryDay.year == schedule.year)).all())
    entered = {d: w for d, w in held.entered.items() if d not in replaced}
    entered.update({p.day: p.working for p in schedule.days})
    return sla.WorkCalendar(held.overrides, entered, held.entered_years | {schedule.year})


def preview_schedule(session: Session, schedule: PastedSchedule) -> pd.DataFrame:
    """Per month of the notice year: working days now and with the pasted schedule (local overrides
    included), the schedule's days off and make-up working days. Nothing is saved."""
    before, after = sla.load_calendar(session), _with_schedule(session, schedule)
    rows = []
    for month in range(1, 13):
        first = date(schedule.year, month, 1)
        nxt = date(schedule.year + month // 12, month % 12 + 1, 1)
        span = [first + timedelta(days=n) for n in range((nxt - first).days)]
        pasted = [p for p in schedule.days if (p.day.year, p.day.month) == (schedule.year, month)]
        rows.append(
            {
                "month": month,
                "working_before": sum(before.is_working_day(d) for d in span),
                "working_after": sum(after.is_working_day(d) for d in span),
                "days_off": sum(not p.working for p in pasted),
                "makeup_days": sum(p.working for p in pasted),
            }
        )
    return pd.DataFrame(rows)


def save_schedule(session: Session, actor: Actor, year: int, text: str) -> PastedSchedule:
    """Save the pasted notice as `year`'s statutory schedule, replacing the one entered before; refused
    (nothing saved) while any line is unreadable. New cases' working-day clocks follow it."""
    require_admin(actor)
    if len(text) > MAX_NOTICE_CHARS:
        raise Invalid("admin.err_too_long", field="notice", maximum=MAX_NOTICE_CHARS)
    schedule = parse_notice(text, year)
    if schedule.errors:
        raise Invalid("admin.cal_paste_err_unread", n=len(schedule.errors))
    if not schedule.days:
        raise Invalid("admin.cal_paste_err_empty")
    days = [p.day for p in schedule.days]
    taken = session.exec(
        select(StatutoryDay.day, StatutoryDay.year).where(
            col(StatutoryDay.day).in_(days), StatutoryDay.year != year
        )
    ).first()
    if taken is not None:
        raise Conflict("admin.cal_paste_err_other_year", day=taken[0].isoformat(), year=taken[1])
    old = session.exec(select(StatutoryDay.day).where(StatutoryDay.year == year)).all()
    session.execute(delete(StatutoryDay).where(col(StatutoryDay.year) == year))
    now = clock.now()
    session.add_all(
        StatutoryDay(
            day=p.day, year=year, working=p.working, name=p.name, created_by=actor.id, created_at=now
        )
        for p in schedule.days
    )
    session.flush()
    audit.record(
        session,
        actor,
        "calendar_schedule_save",
        str(year),
        detail=to_json(
            {
                "year": year,
                "days_off": [p.day for p in schedule.days if not p.working],
                "working_days": [p.day for p in schedule.days if p.working],
                "replaced": len(old),
            }
        ),
    )
    return schedule
