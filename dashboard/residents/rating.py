"""评价: after 办结 the reporter rates the handling 满意 / 基本满意 / 不满意 with a comment.

The rating becomes the case's 回访 result (``cases.satisfaction``, counted by the satisfaction figures;
``public_reports.rating_counted`` marks it 居民自评) unless staff had already followed up; it is recorded
on the case timeline either way, through the one change function, by the system actor (payload
``source=resident``). 不满意 then reopens the case for the supervisor's review: a 重办 decision
(``reopen``, back to 已受理 with the resident's words as the reason), audited, never silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from dashboard import clock
from dashboard.cases.change import CaseState, change_case
from dashboard.cases.commands import reopen
from dashboard.cases.errors import StaleCase
from dashboard.i18n import t_plain
from dashboard.kernel import audit
from dashboard.kernel.errors import Busy, Conflict, NotFound
from dashboard.kernel.text import clean_text
from dashboard.residents.common import RESIDENT, RESIDENT_NAME
from dashboard.residents.lookup import may_rate
from dashboard.residents.report import PublicInvalid
from models import Case, PublicReport
from models.enums import Satisfaction

RATINGS = (Satisfaction.satisfied, Satisfaction.basically, Satisfaction.dissatisfied)
COMMENT_MAX = 300
_STAFF_RESULTS = frozenset(RATINGS)
"""A case whose satisfaction is one of these was followed up by staff (未回访 is no result)."""


@dataclass(frozen=True)
class Rated:
    counted: bool
    """The rating became the case's 回访 result (居民自评)."""
    reopened: bool


def rate(session: Session, report_id: int, rating: str, comment: str, *, source: str) -> Rated:
    """Record the reporter's rating of the case their lookup row `report_id` proves."""
    try:
        value = Satisfaction(rating)
    except ValueError:
        value = None
    text = clean_text(comment).strip()
    if value not in RATINGS:
        raise PublicInvalid({"rating": "errors.required"})
    if len(text) > COMMENT_MAX:
        raise PublicInvalid({"comment": "residents.err.too_long"})
    row = session.get(PublicReport, report_id)
    case = session.get(Case, row.case_id) if row is not None else None
    if row is None or case is None:
        raise NotFound()
    if not may_rate(row, case):
        raise Conflict("residents.err.cannot_rate")
    reopened = value == Satisfaction.dissatisfied
    # 不满意 reopens the case, which clears its 回访 result: the rating is then on the timeline only.
    counted = case.satisfaction not in _STAFF_RESULTS and not reopened
    label = t_plain(f"enum.satisfaction.{value.value}", "zh")
    note = t_plain("residents.rating_note", "zh", rating=label, comment=text or "—")

    def change(c: Case, state: CaseState, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        values = {"satisfaction": value} if counted else {}
        return values, {"source": "resident", "satisfaction": value.value, "counted": counted}

    try:
        ref = change_case(session, RESIDENT, case.id, case.version, "comment", note, change)  # type: ignore[arg-type]
        if reopened:
            reason = t_plain("residents.reopen_reason", "zh", comment=text or "—")
            reopen(session, RESIDENT, ref.id, ref.version, reason)
    except StaleCase:  # staff changed the case this very moment: try again, never name them to a resident
        raise Busy() from None
    now = clock.now()
    row.rating, row.rating_comment, row.rated_at, row.rating_counted = value.value, text, now, counted
    session.add(row)
    audit.record(
        session,
        None,
        "public_rate",
        case.number,
        detail=f"source={source} rating={value.value} counted={counted} reopened={reopened}",
        actor_name=RESIDENT_NAME,
    )
    return Rated(counted, reopened)
