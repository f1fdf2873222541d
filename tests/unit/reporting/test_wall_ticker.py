"""The wall's ticker shows what happened today — new reports, dispatches, closures, cases that fell overdue
today, urgent ones — and not the oldest overdue backlog (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from dashboard.db import get_engine
from dashboard.kernel.scope import Actor
from dashboard.reporting import wall
from models.enums import CaseStatus, Priority, Role
from tests.factories import add_case, build_world

NOW = datetime(2026, 11, 20, 15, 0)
TODAY = datetime(2026, 11, 20)
LEADER = Actor(id=0, username="wall", display_name="wall", role=Role.leader)


def test_ticker_shows_today(db_url: str) -> None:
    with Session(get_engine(db_url)) as s:
        w = build_world(s)
        old = datetime(2026, 1, 5, 9)
        add_case(
            s, w, 0, old, CaseStatus.in_progress, title="去年的积案", accepted_at=old
        )  # overdue for months
        add_case(s, w, 0, NOW - timedelta(hours=2), title="今天新报")
        add_case(
            s,
            w,
            1,
            NOW - timedelta(hours=1),
            priority=Priority.urgent,
            title="今天加急",
            due_at=NOW + timedelta(hours=20),
        )
        d = TODAY - timedelta(days=2)
        add_case(
            s,
            w,
            1,
            d,
            CaseStatus.dispatched,
            title="今天派遣",
            accepted_at=d,
            dispatched_at=TODAY + timedelta(hours=9),
        )
        add_case(
            s,
            w,
            2,
            d,
            CaseStatus.closed,
            title="今天结案",
            accepted_at=d,
            resolved_at=d + timedelta(days=1),
            closed_at=TODAY + timedelta(hours=10),
        )
        add_case(
            s,
            w,
            2,
            TODAY - timedelta(days=5),
            CaseStatus.in_progress,
            title="今天超期",
            accepted_at=TODAY - timedelta(days=5),
            due_at=TODAY + timedelta(hours=11),
        )
        add_case(
            s, w, 3, d, CaseStatus.closed, title="前天结案", accepted_at=d, closed_at=d + timedelta(hours=5)
        )
        s.commit()
        items = wall.ticker_items(s, LEADER, NOW)
    kinds = {i.title: i.kind for i in items}
    assert kinds == {
        "今天新报": "new",
        "今天加急": "urgent",
        "今天派遣": "dispatched",
        "今天结案": "closed",
        "今天超期": "overdue",
    }
    assert all(i.at >= TODAY for i in items)  # each item says when today it happened
    assert [i.kind for i in items][:2] == ["urgent", "overdue"]  # what needs attention first
    rest = [i.at for i in items][2:]
    assert rest == sorted(rest, reverse=True)  # then the newest first
