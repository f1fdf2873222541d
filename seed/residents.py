"""Residents' reports in the seed (居民随手拍, issue 23), so that its figures show something on first start.

The public channel is recent: over its last :data:`CHANNEL_DAYS` days, a share of the reports that came
"online" came from the QR posters instead (:class:`ResidentChannel`, asked for each arriving case). After the
cases are written, :func:`write_public_reports` gives each resident case its lookup row, a few cases their
附议 (other residents reporting the same problem within a day) and some closed cases a resident's own rating
(居民自评), given after the staff's follow-up and so not counted as the 回访 result.

Everything here draws from its own random generator, so the rest of the seed (every other case, event and
figure) is the same as without residents.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlmodel import Session

from dashboard.residents.abuse import normal_phone, phone_digest
from models import Case, CaseSupporter, PublicReport
from models.enums import CaseSource, CaseStatus, Satisfaction

CHANNEL_DAYS = 180
RESIDENT_SHARE = 0.7
"""Of the online reports of the channel's days, the share that came through 随手拍."""
SUPPORT_SHARE = 0.12
"""Resident cases with 附议 (1–3 other residents)."""
RATING_SHARE = 0.45
"""Closed resident cases whose reporter also rated the result on the public page."""
_SEED = 23


class ResidentChannel:
    """Decides, case by case as the seed generates them, which online reports were residents' 随手拍."""

    def __init__(self, now: datetime) -> None:
        self.rng = random.Random(_SEED)
        self.since = now - timedelta(days=CHANNEL_DAYS)

    def source(self, source: CaseSource, reported_at: datetime) -> CaseSource:
        if source == CaseSource.online and reported_at >= self.since and self.rng.random() < RESIDENT_SHARE:
            return CaseSource.resident
        return source


def _credential(rng: random.Random, case_id: int, kind: str, at: datetime, phone: str = "") -> PublicReport:
    """A lookup row whose digest is of no 查询码 at all (drawn at random, from the seed's generator so that
    the same seed gives the same rows): seeded cases cannot be looked up."""
    return PublicReport(
        case_id=case_id,
        kind=kind,
        code_salt=f"{rng.getrandbits(128):032x}",
        code_hash=f"{rng.getrandbits(256):064x}",
        phone_hash=phone_digest(normal_phone(phone) or "") if phone else "",
        consent=bool(phone),
        created_at=at,
    )


def _rating(rng: random.Random, staff: str | None) -> str:
    """A resident's own rating: mostly what the staff's follow-up heard, sometimes a step off."""
    if staff in (None, Satisfaction.not_reached.value) or rng.random() < 0.2:
        return rng.choices(
            [Satisfaction.satisfied.value, Satisfaction.basically.value, Satisfaction.dissatisfied.value],
            weights=[0.72, 0.2, 0.08],
        )[0]
    return str(staff)


def write_public_reports(engine: Engine, now: datetime) -> dict[str, int]:
    """Lookup rows, 附议 and residents' ratings for the seeded resident cases; returns the row counts."""
    rng = random.Random(_SEED + 1)
    with Session(engine) as session:
        cases = session.exec(  # type: ignore[call-overload]
            select(
                Case.id, Case.reported_at, Case.status, Case.closed_at, Case.satisfaction, Case.reporter_phone
            )
            .where(Case.source == CaseSource.resident.value, Case.duplicate_of_id.is_(None))
            .order_by(Case.id)
        ).all()
        reports: list[PublicReport] = []
        supporters: list[CaseSupporter] = []
        for case_id, reported_at, status, closed_at, satisfaction, phone in cases:
            own = _credential(rng, case_id, "report", reported_at, phone)
            if status == CaseStatus.closed and closed_at is not None and rng.random() < RATING_SHARE:
                rated_at = min(now, closed_at + timedelta(hours=rng.uniform(1, 72)))
                own.rating, own.rated_at = _rating(rng, satisfaction), rated_at
            reports.append(own)
            if status != CaseStatus.rejected and rng.random() < SUPPORT_SHARE:
                for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
                    at = min(now, reported_at + timedelta(hours=rng.uniform(0.5, 24)))
                    supporters.append(CaseSupporter(case_id=case_id, at=at))
                    reports.append(_credential(rng, case_id, "support", at))
        session.add_all([*reports, *supporters])
        session.commit()
    return {"public_reports": len(reports), "case_supporters": len(supporters)}
