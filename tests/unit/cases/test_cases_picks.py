"""The cases a page offers before one is chosen: the user's own recent cases (their timeline events, in
scope) and the most urgent ones (the queue's 待办 order)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashboard.cases import picks
from models import CaseEvent
from models.enums import CaseStatus
from tests.factories import CASE_LOOP, CASE_LOOP_NOW, World, put_case

pytestmark = pytest.mark.world(CASE_LOOP, frozen_at=CASE_LOOP_NOW)

S = CaseStatus


def _acted(w: World, who: str, case_id: int, hours_ago: float) -> None:
    with w.session() as s:
        s.add(
            CaseEvent(
                case_id=case_id,
                at=CASE_LOOP_NOW - timedelta(hours=hours_ago),
                actor_id=w.actors[who].id,
                action="comment",  # type: ignore[arg-type]
                from_status=None,
                to_status=None,
            )
        )
        s.commit()


def test_recent_cases_are_the_users_own_latest_in_scope(world: World) -> None:
    w = world
    with w.session() as s:
        a = put_case(s, w, S.in_progress, grid=0, number="XL20260309-0001")
        b = put_case(s, w, S.closed, grid=0, number="XL20260309-0002")
        c = put_case(s, w, S.accepted, grid=2, number="XL20260309-0003")
        put_case(s, w, S.accepted, grid=0, number="XL20260309-0004")  # nobody but the operator acted
    _acted(w, "grid", a.id, 5)
    _acted(w, "grid", b.id, 1)
    _acted(w, "grid", c.id, 0.5)  # another grid, not assigned to them: out of scope
    _acted(w, "grid", a.id, 10)
    with w.session() as s:
        mine = picks.recent_cases(s, w.actors["grid"])
        assert [p.number for p in mine] == ["XL20260309-0002", "XL20260309-0001"]
        assert mine[1].at == CASE_LOOP_NOW - timedelta(hours=5)  # the latest of its events
        assert [p.number for p in picks.recent_cases(s, w.actors["grid"], open_only=True)] == [a.number]
        assert picks.recent_cases(s, w.actors["grid2"]) == []


def test_urgent_cases_follow_the_todo_order(world: World) -> None:
    w = world
    with w.session() as s:
        put_case(s, w, S.accepted, number="XL20260101-0001", reported_at=CASE_LOOP_NOW - timedelta(days=60))
        put_case(s, w, S.in_progress, number="XL20260306-0001", reported_at=CASE_LOOP_NOW - timedelta(days=2))
        put_case(s, w, S.reported, number="XL20260309-0001", reported_at=CASE_LOOP_NOW - timedelta(hours=1))
        urgent = picks.urgent_cases(s, w.actors["operator"])
    assert [p.number for p in urgent] == ["XL20260309-0001", "XL20260306-0001"]
    assert all(p.at is None for p in urgent)
