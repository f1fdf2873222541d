"""Abuse controls of the public channel: how many reports a source address or a phone may send (settings
``residents.reports_per_hour`` / ``residents.reports_per_day``, 5 and 20 by default), when the CAPTCHA is
asked (from an address's second report of the day), blocked phone numbers, and the operators' side:
:func:`mark_spam` (closed as 无效 through the one change function) and :func:`block_phone` /
:func:`unblock_phone` / :func:`blocked_phones`.

Counters live in the database (:mod:`dashboard.residents.counters`), so replicas share them. Every
operator action here is audited; phones are kept as keyed digests and shown masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import Session, select

from dashboard import clock
from dashboard.admin.settings import get_setting
from dashboard.cases.change import CaseRef, change_case, required_text
from dashboard.cases.errors import InvalidInput
from dashboard.kernel import audit
from dashboard.kernel.errors import DomainError, NotFound, NotPermitted
from dashboard.kernel.policy import may
from dashboard.kernel.privacy import mask_phone
from dashboard.kernel.scope import Actor, case_filter
from dashboard.kernel.text import clean_text, normalise_reporter_phone
from dashboard.residents import counters
from dashboard.residents.common import digest
from models import BlockedPhone, Case, PublicReport

REPORTS_BY_SOURCE = "report.source"
REPORTS_BY_PHONE = "report.phone"
REASON_MAX = 200


def phone_digest(phone: str) -> str:
    """The keyed digest a phone number is counted and blocked under ('' for no phone)."""
    return digest("phone", phone) if phone else ""


def normal_phone(text: str) -> str | None:
    """A typed phone number normalised as intake stores it; None when it is not a phone number."""
    return normalise_reporter_phone(clean_text(text).strip())


@dataclass(frozen=True)
class ReportLimits:
    per_hour: int
    per_day: int


def report_limits(session: Session) -> ReportLimits:
    return ReportLimits(
        int(get_setting(session, "residents.reports_per_hour")),
        int(get_setting(session, "residents.reports_per_day")),
    )


def _over(session: Session, bucket: str, key: str, limits: ReportLimits, now: datetime) -> bool:
    hour = counters.count(session, bucket, key, counters.HOUR, now)
    day = counters.count(session, bucket, key, counters.DAY, now)
    return hour >= limits.per_hour or day >= limits.per_day


def check_report(session: Session, *, source: str, phone_hash: str, now: datetime | None = None) -> None:
    """Refuse a report from a blocked phone, or over the limits of its address or phone (nothing is
    counted: a refused report does not use up the resident's allowance)."""
    now = now or clock.now()
    if phone_hash and session.get(BlockedPhone, phone_hash) is not None:
        raise DomainError("residents.err.blocked")
    limits = report_limits(session)
    if _over(session, REPORTS_BY_SOURCE, source, limits, now) or (
        phone_hash and _over(session, REPORTS_BY_PHONE, phone_hash, limits, now)
    ):
        raise DomainError("residents.err.too_many", per_hour=limits.per_hour, per_day=limits.per_day)


def count_report(session: Session, *, source: str, phone_hash: str, now: datetime | None = None) -> None:
    """Count an accepted report against its address and phone (in the report's own transaction)."""
    now = now or clock.now()
    counters.forget_old(session, now)
    for bucket, key in ((REPORTS_BY_SOURCE, source), (REPORTS_BY_PHONE, phone_hash)):
        if key:
            counters.bump(session, bucket, key, counters.HOUR, now)
            counters.bump(session, bucket, key, counters.DAY, now)


def needs_captcha(session: Session, source: str, now: datetime | None = None) -> bool:
    """Whether the next report from `source` must pass the CAPTCHA: from its second report of the day."""
    return counters.count(session, REPORTS_BY_SOURCE, source, counters.DAY, now or clock.now()) >= 1


# ---------------------------------------------------------------- the operators' side


def _moderator(actor: Actor) -> None:
    if not may(actor, "resident.moderate"):
        raise NotPermitted(action="moderate")


def mark_spam(session: Session, actor: Actor, *, case_id: int, reason: str) -> CaseRef:
    """Close a resident's report as 无效 (spam): 不予受理 with the reason, marked ``spam`` in the event,
    through the one change function (so only a case still waiting for acceptance, in the actor's scope).
    Audited."""
    _moderator(actor)
    reason = required_text(reason, "reason")
    version = session.exec(select(Case.version).where(Case.id == case_id, case_filter(actor))).first()
    if version is None:
        raise NotFound()
    ref = change_case(
        session, actor, case_id, version, "reject", reason, lambda c, s, now: ({}, {"spam": True})
    )
    session.execute(
        update(PublicReport)
        .where(PublicReport.case_id == case_id, PublicReport.kind == "report")
        .values(spam_at=clock.now())
    )
    audit.record(session, actor, "public_spam", ref.number, detail=reason)
    return ref


@dataclass(frozen=True)
class BlockedPhoneView:
    phone_hash: str
    phone_masked: str
    reason: str
    blocked_by: int | None
    blocked_at: datetime


def _reason(reason: str) -> str:
    text = clean_text(reason).strip()
    if not text:
        raise InvalidInput({"reason": "errors.required"})
    if len(text) > REASON_MAX:
        raise InvalidInput({"reason": "errors.too_long"})
    return text


def _block(session: Session, actor: Actor, phone_hash: str, masked: str, reason: str) -> BlockedPhoneView:
    row = session.get(BlockedPhone, phone_hash)
    now = clock.now()
    if row is None:
        row = BlockedPhone(phone_hash=phone_hash, phone_masked=masked, blocked_at=now)
    row.reason, row.blocked_by, row.blocked_at = reason, actor.id or None, now
    session.add(row)
    session.flush()
    audit.record(session, actor, "public_block", masked, detail=reason)
    return BlockedPhoneView(phone_hash, row.phone_masked, reason, row.blocked_by, now)


def block_phone(session: Session, actor: Actor, *, phone: str, reason: str) -> BlockedPhoneView:
    """Refuse `phone` on the public pages from now on (again: the reason is updated). Audited, masked."""
    _moderator(actor)
    normal = normal_phone(phone)
    if normal is None:
        raise InvalidInput({"reporter_phone": "errors.phone_format"})
    return _block(session, actor, phone_digest(normal), mask_phone(normal), _reason(reason))


def block_reporter(session: Session, actor: Actor, *, case_id: int, reason: str) -> BlockedPhoneView:
    """Block the phone a resident gave with the report `case_id` (the operator sees it only masked)."""
    _moderator(actor)
    row = session.exec(
        select(PublicReport.phone_hash, Case.reporter_phone)
        .join(Case, Case.id == PublicReport.case_id)
        .where(PublicReport.case_id == case_id, PublicReport.kind == "report", case_filter(actor))
    ).first()
    if row is None or not row[0]:
        raise NotFound()
    return _block(session, actor, row[0], mask_phone(row[1]) or "****", _reason(reason))


def unblock_phone(session: Session, actor: Actor, *, phone_hash: str) -> bool:
    """Accept the blocked phone (by its digest, as :func:`blocked_phones` lists it) again. Audited."""
    _moderator(actor)
    row = session.get(BlockedPhone, phone_hash)
    if row is None:
        return False
    session.execute(delete(BlockedPhone).where(BlockedPhone.phone_hash == phone_hash))
    audit.record(session, actor, "public_unblock", row.phone_masked)
    return True


def blocked_phones(session: Session) -> list[BlockedPhoneView]:
    """The blocked phones, newest first (masked)."""
    rows = session.exec(select(BlockedPhone).order_by(BlockedPhone.blocked_at.desc())).all()
    return [
        BlockedPhoneView(r.phone_hash, r.phone_masked, r.reason, r.blocked_by, r.blocked_at) for r in rows
    ]
