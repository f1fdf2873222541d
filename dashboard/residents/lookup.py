"""进度查询: a case number and its 查询码 (or the last four digits of the phone given) prove the right to
follow one case; what the resident then sees is :class:`PublicCase` — the public timeline (已受理, 已派遣,
处置中, 已办结 with dates), the handling department's name and the published reply (the handler's result,
or the reason a report was not taken up). Never staff names, internal notes, other residents' data, or
the address beyond the building; of the photos, only those staff marked public.

Codes are compared in constant time against every lookup row of the number (an unknown number costs the
same and counts the same as a wrong code). Ten wrong attempts on a number within a day lock its lookup
for an hour (:data:`LOCK`); wrong attempts from one address are limited too (:data:`SOURCE_FAILURES`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from dashboard import clock
from dashboard.kernel import audit
from dashboard.kernel.errors import DomainError
from dashboard.kernel.privacy import address_shown
from dashboard.residents import counters
from dashboard.residents.common import RESIDENT_NAME, digest, normalise_code, same
from dashboard.residents.photos import public_photo_ids
from models import Case, CaseEvent, CaseSupporter, Category, Department, PublicReport
from models.enums import CaseStatus, Satisfaction

S = CaseStatus

WRONG_PER_NUMBER = 10
"""Wrong codes for one case number (within a day) before its lookup is locked."""
LOCK = timedelta(hours=1)
SOURCE_FAILURES = 30
"""Wrong lookups from one address within an hour before it must wait for the next hour."""
NUMBER_MAX = 20

FAILS_BY_NUMBER = "lookup.number"
FAILS_BY_SOURCE = "lookup.source"
LOCKS = "lookup.lock"

STAGES = ("reported", "accepted", "dispatched", "in_progress", "closed")
"""The public timeline's steps (``residents.stage.<name>``: 已提交, 已受理, 已派遣, 处置中, 已办结): the first
one tells a resident who looks right after sending that the report arrived."""
_REACHED = {
    "reported": tuple(CaseStatus),
    "accepted": (S.accepted, S.dispatched, S.in_progress, S.resolved, S.verified, S.closed),
    "dispatched": (S.dispatched, S.in_progress, S.resolved, S.verified, S.closed),
    "in_progress": (S.in_progress, S.resolved, S.verified, S.closed),
    "closed": (S.closed,),
}


@dataclass(frozen=True)
class Stage:
    name: str
    done: bool
    at: datetime | None


@dataclass(frozen=True)
class PublicCase:
    """What a successful lookup shows (and nothing else of the case)."""

    report_id: int
    kind: str
    number: str
    category_zh: str
    category_en: str
    reported_at: datetime
    place: str
    status: CaseStatus
    stages: tuple[Stage, ...]
    department: str
    reply: str
    supporters: int
    rating: str | None
    can_rate: bool
    photos: tuple[int, ...] = ()
    """The case's photos staff marked public (:mod:`dashboard.residents.photos`)."""


def normalise_number(text: str) -> str:
    return "".join((text or "").split()).upper()[:NUMBER_MAX]


def _matching_row(session: Session, number: str, secret: str) -> int | None:
    """The lookup row of `number` that `secret` proves, compared in constant time against every row."""
    rows = session.exec(
        select(PublicReport.id, PublicReport.code_salt, PublicReport.code_hash, PublicReport.phone_tail_hash)
        .join(Case, Case.id == PublicReport.case_id)
        .where(Case.number == number)
        .order_by(PublicReport.id)
    ).all()
    code = normalise_code(secret)
    tail = code if len(code) == 4 and code.isdigit() else ""
    found = None
    for rid, salt, code_hash, tail_hash in rows:
        code_ok = same(digest("code", salt, code), code_hash)
        tail_ok = bool(tail_hash) and same(digest("tail", salt, tail), tail_hash)
        if (code_ok or tail_ok) and found is None:
            found = rid
    return found


def check_allowed(session: Session, number: str, source: str, now: datetime | None = None) -> None:
    """Refuse a lookup of a locked number or from an address with too many wrong lookups."""
    now = now or clock.now()
    until = counters.locked_until(session, LOCKS, normalise_number(number), now)
    if until is not None:
        raise DomainError("residents.err.locked", until=f"{until:%H:%M}")
    if counters.count(session, FAILS_BY_SOURCE, source, counters.HOUR, now) >= SOURCE_FAILURES:
        raise DomainError("residents.err.lookup_busy")


def prove(session: Session, number: str, secret: str, *, source: str) -> int | None:
    """The lookup row `secret` proves for `number`, or None (a wrong attempt: counted, and the number
    locked at the tenth). Call :func:`check_allowed` first; commit the session either way."""
    now = clock.now()
    number = normalise_number(number)
    check_allowed(session, number, source, now)
    found = _matching_row(session, number, secret) if number else None
    if found is not None:
        return found
    counters.bump(session, FAILS_BY_SOURCE, source, counters.HOUR, now)
    if counters.bump(session, FAILS_BY_NUMBER, number, counters.DAY, now) >= WRONG_PER_NUMBER:
        counters.lock(session, LOCKS, number, now, now + LOCK)
        audit.record(
            session, None, "public_lookup_lock", number, "refused", f"source={source}", RESIDENT_NAME
        )
    return None


def _stage_times(session: Session, case: Case) -> dict[str, datetime | None]:
    started = session.exec(
        select(CaseEvent.at)
        .where(CaseEvent.case_id == case.id, CaseEvent.action == "start")
        .order_by(CaseEvent.at.desc())
    ).first()
    return {
        "reported": case.reported_at,
        "accepted": case.accepted_at,
        "dispatched": case.dispatched_at,
        "in_progress": started or case.resolved_at,
        "closed": case.closed_at,
    }


def _reply(session: Session, case: Case) -> str:
    """The published reply: the reason a report was not taken up, else the last handler's result once
    handling is finished (never comments or other internal notes)."""
    action = {S.rejected: "reject"}.get(CaseStatus(case.status))
    if action is None and CaseStatus(case.status) in (S.resolved, S.verified, S.closed):
        action = "resolve"
    if action is None:
        return ""
    note = session.exec(
        select(CaseEvent.note)
        .where(CaseEvent.case_id == case.id, CaseEvent.action == action)
        .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
    ).first()
    return note or ""


def may_rate(row: PublicReport, case: Case) -> bool:
    """The reporter may rate a case closed on its own merits (not merged away), once per closing."""
    return (
        row.kind == "report"
        and case.status == S.closed
        and case.duplicate_of_id is None
        and case.closed_at is not None
        and (row.rated_at is None or row.rated_at < case.closed_at)
    )


def public_case(session: Session, report_id: int) -> PublicCase | None:
    """What the lookup row `report_id` lets its holder see (None: no such row)."""
    row = session.get(PublicReport, report_id)
    case = session.get(Case, row.case_id) if row is not None else None
    if row is None or case is None:
        return None
    category = session.get(Category, case.category_id)
    department = session.get(Department, case.department_id) if case.department_id else None
    times = _stage_times(session, case)
    status = CaseStatus(case.status)
    stages = tuple(
        Stage(n, status in _REACHED[n], times[n] if status in _REACHED[n] else None) for n in STAGES
    )
    supporters = len(session.exec(select(CaseSupporter.id).where(CaseSupporter.case_id == case.id)).all())
    rating = row.rating if row.rated_at is not None and not may_rate(row, case) else None
    return PublicCase(
        report_id=report_id,
        kind=row.kind,
        number=case.number,
        category_zh=category.name_zh if category else "",
        category_en=category.name_en if category else "",
        reported_at=case.reported_at,
        place=address_shown(case.address),
        status=status,
        stages=stages,
        department=department.name if department else "",
        reply=_reply(session, case),
        supporters=supporters,
        rating=rating if rating in {s.value for s in Satisfaction} else None,
        can_rate=may_rate(row, case),
        photos=public_photo_ids(session, case.id),  # type: ignore[arg-type]
    )
