"""seed: a realistic backlog — new reports are accepted within hours, overdue cases are days to weeks late,
and the few long-running ones are projects and 历史遗留 (PRJ), as in a sub-district that escalates
(SQLite and PostgreSQL)."""

from __future__ import annotations

import statistics
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from dashboard.db import get_engine
from models import Case, CaseEvent, Category
from models.enums import ACTIVE_STATUSES, CaseStatus

MAX_WAITING_DAYS = 2
MAX_MEDIAN_LATE_DAYS = 21
LONG_LATE_DAYS = 90


def _seeded_now(engine: Engine) -> datetime:
    """The seed's "now": no event is later."""
    with engine.connect() as conn:
        return conn.execute(select(func.max(CaseEvent.at))).scalar_one()


def test_reports_wait_at_most_two_days(seeded_ro_url: str) -> None:
    engine = get_engine(seeded_ro_url)
    now = _seeded_now(engine)
    with engine.connect() as conn:
        waiting = conn.execute(
            select(Case.reported_at).where(Case.status == CaseStatus.reported.value)
        ).scalars()
        ages = [(now - at).total_seconds() / 86400 for at in waiting]
    assert ages, "the seed has cases waiting for acceptance"
    assert max(ages) <= MAX_WAITING_DAYS, sorted(ages)[-5:]


def test_overdue_cases_are_days_to_weeks_late(seeded_ro_url: str) -> None:
    engine = get_engine(seeded_ro_url)
    now = _seeded_now(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            select(Case.due_at, Category.code)
            .join(Category, Category.id == Case.category_id)
            .where(
                Case.status.in_([s.value for s in ACTIVE_STATUSES]),
                Case.due_at < now,
                func.coalesce(Case.duplicate_of_id, 0) == 0,
            )
        ).all()
    late = [((now - due).total_seconds() / 86400, code) for due, code in rows]
    assert late, "the seed has overdue cases"
    assert statistics.median(d for d, _ in late) <= MAX_MEDIAN_LATE_DAYS, sorted(late)
    long_running = [(d, code) for d, code in late if d > LONG_LATE_DAYS]
    assert len(long_running) <= max(3, len(late) // 20), long_running  # a few, not a wall of them
    assert {code for _, code in long_running} <= {"PRJ"}, long_running  # projects and 历史遗留 only
