"""The department queue: newest work first, overdue as its own view, searched like the triage queue."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashboard.cases import department, queue
from models import CaseEscalation
from models.enums import CaseStatus
from tests.factories import CASE_LOOP, CASE_LOOP_NOW, World, put_case

pytestmark = pytest.mark.world(CASE_LOOP, frozen_at=CASE_LOOP_NOW)

NOW = CASE_LOOP_NOW
S = CaseStatus


def _escalate(w: World, case_id: int, days_ago: float, due_in_days: float, back: bool = False) -> None:
    with w.session() as s:
        at = NOW - timedelta(days=days_ago)
        s.add(
            CaseEscalation(
                case_id=case_id,
                department_id=w.department["CG"],
                level="daily",
                escalated_at=at,
                due_at=NOW + timedelta(days=due_in_days),
                reported_back_at=at + timedelta(hours=1) if back else None,
                report="已处理" if back else None,
            )
        )
        s.commit()


@pytest.fixture
def desk(world: World) -> World:
    """Three pending escalations to CG (236 days overdue, due tomorrow, new today), one reported back; and
    three cases dispatched to CG (one 236 days overdue, two dispatched yesterday and today)."""
    w = world
    with w.session() as s:
        old = put_case(
            s,
            w,
            S.in_progress,
            number="XL20250715-0001",
            title="占道经营",
            reported_at=NOW - timedelta(days=240),
        )
        mid = put_case(s, w, S.in_progress, number="XL20260308-0001", title="井盖缺失")
        new = put_case(s, w, S.in_progress, number="XL20260309-0001", title="垃圾满溢", address="幸福路12号")
        done = put_case(s, w, S.in_progress, number="XL20260301-0001", title="广告牌")
        for c, days in ((old, 240), (mid, 1), (new, 0)):
            c.department_id = w.department["CG"]
            c.dispatched_at = NOW - timedelta(days=days, hours=1)
            s.add(c)
        s.commit()
    _escalate(w, old.id, 240, -236)
    _escalate(w, mid.id, 1, 1)
    _escalate(w, new.id, 0.1, 2)
    _escalate(w, done.id, 8, -6, back=True)
    return w


def _numbers(page: queue.QueuePage) -> list[str]:
    return list(page.rows["number"])


def test_new_work_first_and_overdue_on_its_own(desk: World) -> None:
    w, me = desk, desk.actors["department"]
    with w.session() as s:
        new = department.department_escalations(s, me, None, now=NOW)
        assert _numbers(new) == ["XL20260309-0001", "XL20260308-0001", "XL20250715-0001"]
        late = department.department_escalations(s, me, None, view="overdue", now=NOW)
        assert _numbers(late) == ["XL20250715-0001"]
        every = department.department_escalations(s, me, None, view="all", now=NOW)
        assert every.total == 4 and _numbers(every)[-1] == "XL20260301-0001"  # reported back last
        dispatched = queue.queue_page(
            s, me, department.department_cases_filters(w.department["CG"], "new"), now=NOW
        )
        assert _numbers(dispatched) == ["XL20260309-0001", "XL20260308-0001", "XL20250715-0001"]
        overdue = queue.queue_page(
            s, me, department.department_cases_filters(w.department["CG"], "overdue"), now=NOW
        )
        assert _numbers(overdue) == ["XL20250715-0001"]


def test_department_search(desk: World) -> None:
    w, me = desk, desk.actors["department"]
    with w.session() as s:
        for text, numbers in (
            ("井盖", ["XL20260308-0001"]),
            ("xl20250715", ["XL20250715-0001"]),
            ("无此", []),
        ):
            page = department.department_escalations(s, me, None, view="all", text=text, now=NOW)
            assert _numbers(page) == numbers, text
            cases = department.department_cases_filters(w.department["CG"], "new", text)
            assert _numbers(queue.queue_page(s, me, cases, now=NOW)) == numbers, text
