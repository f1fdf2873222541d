"""Repeat problems (重复诉求 / 高频): the same building with N or more cases of one category in 90 days (and more
than its own past makes likely), the
same reporter's phone with N or more cases in 30 days, a case reworked or reopened twice. These are the
candidates for a special project (专项): the problem keeps coming back.

Addresses are compared down to the building (as ``kernel.privacy.address_shown`` cuts it: …3号楼, 东院, 5组), after
Unicode normalisation and without blanks, so "幸福小区3号楼2单元301" and "幸福小区 3号楼 5单元" are one
building; an address in which no building is found is compared whole. Phones are compared by their digits,
shown masked and named in the alert's key by a keyed hash (the number itself is not stored with the alert).
Merged duplicates do not count.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from scipy import stats
from sqlalchemy import func
from sqlmodel import Session, select

from dashboard.config import get_settings
from dashboard.kernel.privacy import BUILDING_PATTERN, mask_address, mask_phone
from dashboard.reporting.kpi import not_duplicate
from dashboard.reporting.warning.finding import Finding
from dashboard.reporting.warning.history import Territory
from models import Case, CaseEvent
from models.enums import AlertKind, AlertScope

BUILDING_DAYS = 90
BUILDING_MIN = 3
"""Cases of one category at one building within BUILDING_DAYS that make a repeat (N, tunable)..."""
BUILDING_HISTORY_DAYS = 365
BUILDING_FLOOR = 0.2
BUILDING_P = 1e-3
"""... when that many is also unusual for the place: the Poisson tail of the count against the building's own
rate of that category in the BUILDING_HISTORY_DAYS before (or the history there is; at least BUILDING_FLOOR
cases per window) is below BUILDING_P. Without it a village group (5组) or a big estate with a steady flow of
reports is a "repeat" every day (measured on the seeded history: 90 new such alerts per community and month
with N alone, 30 with BUILDING_P = 0.01). A building without a past needs 4 cases in 90 days to be flagged."""
BUILDING_HISTORY_MIN_DAYS = 30
"""A database holding less history than BUILDING_HISTORY_DAYS before the window learns each building's rate
from what it has (a place's past is not taken for silent because it was not recorded); with less than this
many days it has no past to compare with, and the floor alone applies."""
PHONE_DAYS = 30
PHONE_MIN = 3
"""Cases from one phone within PHONE_DAYS that make a repeat."""
REWORK_DAYS = 90
REWORK_MIN = 2
"""Reworks plus reopenings of one case (reported within REWORK_DAYS) that make a repeat."""
_BLANKS = re.compile(r"\s+")
_BUILDING = re.compile(BUILDING_PATTERN)


def building_of(address: str | None) -> str:
    """The normalised building an address names (see the module docstring), '' for no address."""
    text = _BLANKS.sub("", unicodedata.normalize("NFKC", address or ""))
    found = _BUILDING.search(text)
    return text[: found.end()] if found else text


def _start(day: date, days: int) -> datetime:
    return datetime.combine(day - timedelta(days=days), time())


def by_building(
    session: Session,
    territory: Territory,
    day: date,
    *,
    minimum: int = BUILDING_MIN,
    days: int = BUILDING_DAYS,
) -> list[Finding]:
    """Buildings with `minimum` or more cases of one category reported in the `days` days before `day`, more
    than their own history makes likely (see :data:`BUILDING_P`)."""
    recent_from = _start(day, days)
    rows = session.exec(
        select(Case.id, Case.category_id, Case.grid_id, Case.community_id, Case.address, Case.reported_at)
        .where(
            Case.reported_at >= _start(day, days + BUILDING_HISTORY_DAYS),
            Case.reported_at < datetime.combine(day, time()),
            Case.address != "",
            not_duplicate(),
        )
        .order_by(Case.reported_at)  # type: ignore[arg-type]
    ).all()
    groups: dict[tuple[str, int], list[tuple[int, int, int, str, datetime]]] = defaultdict(list)
    before: dict[tuple[str, int], int] = defaultdict(int)
    for case_id, category_id, grid_id, community_id, address, at in rows:
        building = building_of(address)
        if building and at < recent_from:
            before[(building, int(category_id))] += 1
        elif building:
            groups[(building, int(category_id))].append(
                (int(case_id), int(grid_id), int(community_id), address, at)
            )
    codes = dict(zip(territory.category_ids.tolist(), territory.category_codes, strict=True))
    grid_codes = dict(zip(territory.grid_ids.tolist(), territory.grid_codes, strict=True))
    known = _history_days(session, recent_from)
    findings = []
    for (building, category_id), cases in groups.items():
        rate = before[(building, category_id)] / known if known >= BUILDING_HISTORY_MIN_DAYS else 0.0
        expected = max(rate * days, BUILDING_FLOOR)
        p = float(stats.poisson.sf(len(cases) - 1, expected))
        if len(cases) < minimum or p >= BUILDING_P:
            continue
        grids = {c[1] for c in cases}
        findings.append(
            Finding(
                kind=AlertKind.repeat,
                scope_type=AlertScope.building,
                scope_code=f"{grid_codes.get(cases[-1][1], '')}:{building}"[:64],
                scope_name=mask_address(building)[:200],
                category_id=category_id,
                category_code=codes.get(category_id),
                observed=float(len(cases)),
                expected=round(expected, 2),
                score=p,
                since=cases[0][4].date(),
                grid_ids=grids,
                community_ids={c[2] for c in cases},
                case_ids=[c[0] for c in cases],
                evidence={
                    "rule": "building",
                    "window_days": days,
                    "threshold": minimum,
                    "before": before[(building, category_id)],
                    "history_days": known,
                    "addresses": sorted({mask_address(c[3]) for c in cases}),
                    "days": sorted({c[4].date().isoformat() for c in cases}),
                },
                identity=building,
            )
        )
    return findings


def _history_days(session: Session, until: datetime) -> int:
    """Days of recorded history before `until`, at most BUILDING_HISTORY_DAYS (from the first case)."""
    first = session.exec(select(func.min(Case.reported_at))).one()
    if first is None:
        return 0
    first = first if isinstance(first, datetime) else datetime.fromisoformat(str(first))
    return max(0, min(BUILDING_HISTORY_DAYS, (until - first).days))


def phone_key(digits: str) -> str:
    """A keyed hash naming a phone in an alert's key (not reversible without the server's secret)."""
    return hmac.new(get_settings().secret_key.encode(), digits.encode(), hashlib.sha256).hexdigest()[:24]


def by_phone(
    session: Session, territory: Territory, day: date, *, minimum: int = PHONE_MIN, days: int = PHONE_DAYS
) -> list[Finding]:
    """Reporters' phones with `minimum` or more cases in the `days` days before `day` (anonymous ones left out)."""
    rows = session.exec(
        select(
            Case.id, Case.grid_id, Case.community_id, Case.reporter_phone, Case.reported_at, Case.category_id
        )
        .where(
            Case.reported_at >= _start(day, days),
            Case.reported_at < datetime.combine(day, time()),
            Case.reporter_phone != "",
            Case.reporter_anonymous.is_(False),  # type: ignore[attr-defined]
            not_duplicate(),
        )
        .order_by(Case.reported_at)  # type: ignore[arg-type]
    ).all()
    groups: dict[str, list[tuple[int, int, int, datetime, int]]] = defaultdict(list)
    for case_id, grid_id, community_id, phone, at, category_id in rows:
        digits = re.sub(r"\D", "", phone or "")
        if len(digits) >= 7:
            groups[digits].append((int(case_id), int(grid_id), int(community_id), at, int(category_id)))
    codes = dict(zip(territory.category_ids.tolist(), territory.category_codes, strict=True))
    findings = []
    for digits, cases in groups.items():
        if len(cases) < minimum:
            continue
        masked = mask_phone(digits)
        per_category: dict[str, int] = defaultdict(int)
        for c in cases:
            per_category[codes.get(c[4], "")] += 1
        findings.append(
            Finding(
                kind=AlertKind.repeat,
                scope_type=AlertScope.phone,
                scope_code=masked,
                scope_name=masked,
                category_id=None,
                category_code=None,
                observed=float(len(cases)),
                expected=float(minimum),
                score=1.0,
                since=cases[0][3].date(),
                grid_ids={c[1] for c in cases},
                community_ids={c[2] for c in cases},
                case_ids=[c[0] for c in cases],
                evidence={
                    "rule": "phone",
                    "window_days": days,
                    "threshold": minimum,
                    "categories": dict(sorted(per_category.items())),
                },
                identity=phone_key(digits),
            )
        )
    return findings


def reworked(
    session: Session, territory: Territory, day: date, *, minimum: int = REWORK_MIN, days: int = REWORK_DAYS
) -> list[Finding]:
    """Cases reported in the `days` days before `day` that were reworked or reopened `minimum` times or more."""
    since = _start(day, days)
    reopens = dict(
        session.exec(
            select(CaseEvent.case_id, func.count())
            .join(Case, Case.id == CaseEvent.case_id)  # type: ignore[arg-type]
            .where(CaseEvent.action == "reopen", Case.reported_at >= since)
            .group_by(CaseEvent.case_id)
        ).all()
    )
    candidates = select(
        Case.id,
        Case.number,
        Case.category_id,
        Case.grid_id,
        Case.community_id,
        Case.reported_at,
        Case.rework_count,
    ).where(
        Case.reported_at >= since,
        Case.reported_at < datetime.combine(day, time()),
        (Case.rework_count >= 1) | Case.id.in_(list(reopens) or [-1]),  # type: ignore[union-attr]
    )
    codes = dict(zip(territory.category_ids.tolist(), territory.category_codes, strict=True))
    findings = []
    for case_id, number, category_id, grid_id, community_id, at, rework in session.exec(candidates).all():
        reopen = int(reopens.get(case_id, 0))
        total = int(rework or 0) + reopen
        if total < minimum:
            continue
        findings.append(
            Finding(
                kind=AlertKind.repeat,
                scope_type=AlertScope.case,
                scope_code=number,
                scope_name=number,
                category_id=int(category_id),
                category_code=codes.get(int(category_id)),
                observed=float(total),
                expected=float(minimum),
                score=1.0,
                since=at.date(),
                grid_ids={int(grid_id)},
                community_ids={int(community_id)},
                case_ids=[int(case_id)],
                evidence={
                    "rule": "reworked",
                    "rework": int(rework or 0),
                    "reopen": reopen,
                    "threshold": minimum,
                },
            )
        )
    return findings


def detect(session: Session, territory: Territory, day: date) -> list[Finding]:
    """All three kinds of repeat problem, as of the day before `day`."""
    return [
        *by_building(session, territory, day),
        *by_phone(session, territory, day),
        *reworked(session, territory, day),
    ]
