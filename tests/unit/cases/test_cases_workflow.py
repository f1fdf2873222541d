"""The case state machine: every allowed and every forbidden move (generated from the transition table),
roles and scope, optimistic locking, escalations, extensions, follow-up and merge."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, func, select

from dashboard import clock
from dashboard.cases import change as case_change
from dashboard.cases import commands as cases
from dashboard.cases import sla
from dashboard.cases import view as case_view
from dashboard.cases.change import ACTIONS, CaseRef
from dashboard.cases.errors import InvalidInput, StaleCase
from dashboard.cases.workflow import TRANSITIONS
from dashboard.kernel.errors import Conflict, NotFound, NotPermitted
from models import Case, CaseEscalation, CaseEvent, CaseExtension
from models.enums import CaseStatus, EscalationLevel, Satisfaction
from tests.factories import CASE_LOOP, World, put_case
from tests.factories import CASE_LOOP_NOW as NOW

pytestmark = pytest.mark.world(CASE_LOOP)

S = CaseStatus
Call = Callable[[Session, World, Case], CaseRef]


def _setup_extension(s: Session, w: World, c: Case) -> None:
    s.add(
        CaseExtension(
            case_id=c.id, requested_by=w.actors["grid"].id, requested_at=NOW, amount=1, reason="雨天"
        )
    )
    s.commit()


def _setup_escalation(s: Session, w: World, c: Case) -> None:
    s.add(
        CaseEscalation(
            case_id=c.id,
            department_id=w.department["CG"],
            level="daily",
            escalated_at=NOW,
            due_at=NOW + timedelta(days=2),
        )
    )
    s.commit()


def _merge(s: Session, w: World, c: Case) -> CaseRef:
    target = put_case(s, w, S.accepted)
    return cases.merge(s, w.actors["operator"], c.id, c.version, target.id, "同一问题")


CALLS: dict[str, tuple[Call, Callable[[Session, World, Case], None] | None]] = {
    "accept": (lambda s, w, c: cases.accept(s, w.actors["operator"], c.id, c.version), None),
    "reject": (
        lambda s, w, c: cases.reject(s, w.actors["operator"], c.id, c.version, "不属于受理范围"),
        None,
    ),
    "dispatch": (
        lambda s, w, c: cases.dispatch(
            s, w.actors["operator"], c.id, c.version, assignee_id=w.actors["grid"].id
        ),
        None,
    ),
    "start": (lambda s, w, c: cases.start(s, w.actors["grid"], c.id, c.version), None),
    "return": (lambda s, w, c: cases.return_case(s, w.actors["grid"], c.id, c.version, "不属本网格"), None),
    "resolve": (lambda s, w, c: cases.resolve(s, w.actors["grid"], c.id, c.version, "已清理"), None),
    "rework": (lambda s, w, c: cases.rework(s, w.actors["operator"], c.id, c.version, "未清理干净"), None),
    "verify": (lambda s, w, c: cases.verify(s, w.actors["operator"], c.id, c.version), None),
    "follow_up": (
        lambda s, w, c: cases.follow_up(s, w.actors["operator"], c.id, c.version, "satisfied"),
        None,
    ),
    "close": (lambda s, w, c: cases.close(s, w.actors["operator"], c.id, c.version), None),
    "reopen": (
        lambda s, w, c: cases.reopen(s, w.actors["operator"], c.id, c.version, "居民反映问题复发"),
        None,
    ),
    "merge": (_merge, None),
    "extend_request": (
        lambda s, w, c: cases.request_extension(s, w.actors["grid"], c.id, c.version, 1, "连续降雨"),
        None,
    ),
    "extend_approve": (
        lambda s, w, c: cases.decide_extension(s, w.actors["operator"], c.id, c.version, True),
        _setup_extension,
    ),
    "extend_refuse": (
        lambda s, w, c: cases.decide_extension(s, w.actors["operator"], c.id, c.version, False),
        _setup_extension,
    ),
    "supervise": (
        lambda s, w, c: cases.supervise(s, w.actors["operator"], c.id, c.version, "请尽快处置"),
        None,
    ),
    "escalate": (
        lambda s, w, c: cases.escalate(
            s, w.actors["operator"], c.id, c.version, "daily", [w.department["CG"]], "需城管执法"
        ),
        None,
    ),
    "report_back": (
        lambda s, w, c: cases.report_back(s, w.actors["department"], c.id, c.version, "已到场处置"),
        _setup_escalation,
    ),
}


def test_every_action_of_the_table_has_a_service_call() -> None:
    """The generated matrix below covers the whole table (intake 'report' is tested in test_cases_intake,
    'assign_volunteer' belongs to volunteer matching, 'import_update' to the case import, 'support' (附议) to
    the residents' intake, tests/unit/residents)."""
    assert set(TRANSITIONS) - set(CALLS) == {
        "report",
        "comment",
        "assign_volunteer",
        "import_update",
        "support",
    }
    assert set(ACTIONS) - set(CALLS) == {"comment"}


MATRIX = [(action, status) for action in CALLS for status in S]


def _events(s: Session, case_id: int) -> int:
    return s.exec(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case_id)).one()


@pytest.mark.parametrize(("action", "status"), MATRIX, ids=[f"{a}-{st.value}" for a, st in MATRIX])
def test_transition_matrix(world: World, action: str, status: CaseStatus) -> None:
    allowed, to = TRANSITIONS[action]
    call, setup = CALLS[action]
    with world.session() as s, clock.frozen(NOW):
        c = put_case(s, world, status, satisfaction=Satisfaction.satisfied.value)
        if setup:
            setup(s, world, c)
        before_events = _events(s, c.id)
        if status in allowed:
            ref = call(s, world, c)
            s.commit()
            fresh = s.get(Case, c.id, populate_existing=True)
            assert fresh is not None
            assert fresh.status == (to or status)
            assert ref.status == fresh.status and ref.version == 2 == fresh.version
            last = s.exec(
                select(CaseEvent).where(CaseEvent.case_id == c.id).order_by(CaseEvent.id.desc())
            ).first()
            assert last is not None and last.action == action and last.at == NOW
            assert last.from_status == status and last.to_status == to
        else:
            with pytest.raises(Conflict) as err:
                call(s, world, c)
            s.rollback()
            assert err.value.values.get("status") == status.value
            fresh = s.get(Case, c.id, populate_existing=True)
            assert fresh is not None and fresh.status == status and fresh.version == 1
            assert _events(s, c.id) == before_events


@pytest.mark.parametrize("status", list(S))
def test_comment_allowed_in_every_status(world: World, status: CaseStatus) -> None:
    with world.session() as s:
        c = put_case(s, world, status)
        cases.comment(s, world.actors["grid"], c.id, "已电话联系居民")
        s.commit()
        # a note conflicts with nothing (no version asked) but counts like every event
        assert s.get(Case, c.id, populate_existing=True).version == 2  # type: ignore[union-attr]
        assert _events(s, c.id) == 2


# ---------------------------------------------------------------- roles and scope


def test_grid_worker_cannot_see_or_act_on_another_grids_case(world: World) -> None:
    with world.session() as s:
        other = put_case(s, world, S.accepted, grid=1)
        me = world.actors["grid"]
        for call in (
            lambda: cases.start(s, me, other.id, 1),
            lambda: cases.resolve(s, me, other.id, 1, "x"),
            lambda: cases.escalate(s, me, other.id, 1, "daily", [world.department["CG"]], "x"),
            lambda: cases.comment(s, me, other.id, "x"),
        ):
            with pytest.raises(NotFound):
                call()
            s.rollback()
        assert case_view.case_detail(s, me, other.id) is None
        assert case_view.timeline(s, me, other.id) == []
        assert case_view.find_case_id(s, me, other.number) is None
        fresh = s.get(Case, other.id, populate_existing=True)
        assert fresh is not None and fresh.version == 1 and fresh.status == S.accepted
        # the grid's own worker may
        assert cases.start(s, world.actors["grid2"], other.id, 1).status == S.in_progress


def test_community_scope(world: World) -> None:
    with world.session() as s:
        mine = put_case(s, world, S.reported, grid=1)
        theirs = put_case(s, world, S.reported, grid=2)
        boss = world.actors["community"]
        assert cases.accept(s, boss, mine.id, 1).status == S.accepted
        with pytest.raises(NotFound):
            cases.accept(s, boss, theirs.id, 1)


@pytest.mark.parametrize("who", ["grid", "department", "leader"])
def test_roles_that_may_not_triage(world: World, who: str) -> None:
    with world.session() as s:
        c = put_case(s, world, S.reported, department_id=world.department["CG"])
        with pytest.raises((NotPermitted, NotFound)) as err:
            cases.accept(s, world.actors[who], c.id, 1)
        if who == "leader":  # reads all, so sees it, but may not act
            assert isinstance(err.value, NotPermitted)
            assert err.value.values == {"action": "accept"}


def test_volunteer_manager_sees_no_case(world: World) -> None:
    with world.session() as s:
        c = put_case(s, world, S.reported)
        with pytest.raises(NotFound):
            cases.accept(s, world.actors["volunteers"], c.id, 1)


def test_department_handles_only_cases_dispatched_to_it(world: World) -> None:
    with world.session() as s:
        c = put_case(s, world, S.accepted)
        op, dept, other = world.actors["operator"], world.actors["department"], world.actors["department2"]
        with pytest.raises(NotFound):  # not dispatched or escalated to it: out of scope
            cases.start(s, dept, c.id, 1)
        ref = cases.dispatch(s, op, c.id, 1, department_id=world.department["CG"])
        with pytest.raises(NotFound):
            cases.start(s, other, c.id, ref.version)
        ref = cases.escalate(s, op, c.id, ref.version, "tough", [world.department["ZJ"]], "需住建配合")
        with pytest.raises(NotPermitted):  # called in, but not the handler
            cases.start(s, other, c.id, ref.version)
        ref = cases.start(s, dept, c.id, ref.version)
        assert ref.status == S.in_progress


def test_dispatch_needs_a_valid_target(world: World) -> None:
    with world.session() as s:
        c = put_case(s, world, S.accepted)
        op = world.actors["operator"]
        with pytest.raises(InvalidInput) as err:
            cases.dispatch(s, op, c.id, 1)
        assert err.value.problems == {"assignee": "errors.dispatch_target"}
        with pytest.raises(InvalidInput) as err:
            cases.dispatch(s, op, c.id, 1, assignee_id=world.actors["operator"].id)
        assert err.value.problems == {"assignee": "errors.bad_assignee"}
        s.rollback()
        # a community may dispatch only to its own grid workers
        with pytest.raises(InvalidInput):
            cases.dispatch(s, world.actors["community"], c.id, 1, assignee_id=world.actors["grid3"].id)
        s.rollback()
        assert s.get(Case, c.id, populate_existing=True).version == 1  # type: ignore[union-attr]


def test_allowed_actions_match_the_services(world: World) -> None:
    with world.session() as s:
        c = put_case(s, world, S.accepted)
        detail = case_view.case_detail(s, world.actors["operator"], c.id)
        assert detail is not None
        ops = case_change.allowed_actions(world.actors["operator"], detail.state)
        assert {"dispatch", "start", "supervise", "escalate", "extend_request", "merge", "comment"} <= set(
            ops
        )
        assert "accept" not in ops and "resolve" not in ops and "extend_approve" not in ops
        assert case_change.allowed_actions(world.actors["leader"], detail.state) == []
        grid_ops = case_change.allowed_actions(world.actors["grid"], detail.state)
        assert "dispatch" not in grid_ops and "start" in grid_ops and "escalate" in grid_ops


# ---------------------------------------------------------------- optimistic locking


def test_stale_version_is_refused_and_names_who_changed_it(world: World) -> None:
    with world.session() as setup:
        c = put_case(setup, world, S.reported)
    a, b = world.session(), world.session()
    try:
        seen_a = case_view.case_detail(a, world.actors["operator"], c.id)
        seen_b = case_view.case_detail(b, world.actors["community"], c.id)
        assert seen_a and seen_b and seen_a.version == seen_b.version == 1
        a.commit(), b.commit()  # each page was read in its own transaction, before the user acted
        with clock.frozen(datetime(2026, 3, 9, 10, 30, 5)):
            cases.accept(a, world.actors["operator"], c.id, seen_a.version)
            a.commit()
        with pytest.raises(StaleCase) as err:
            cases.reject(b, world.actors["community"], c.id, seen_b.version, "重复")
        b.rollback()
        assert err.value.values == {"by": "指挥中心王芳", "at": "2026-03-09 10:30:05"}
    finally:
        a.close()
        b.close()
    with world.session() as s:
        fresh = s.get(Case, c.id)
        assert fresh is not None and fresh.status == S.accepted and fresh.version == 2
        actions = s.exec(
            select(CaseEvent.action).where(CaseEvent.case_id == c.id).order_by(CaseEvent.id)
        ).all()
        assert actions == ["report", "accept"]


def test_concurrent_writer_between_check_and_update_loses_cleanly(world: World) -> None:
    """Session b has loaded the case (version 1 in its identity map) when a commits; b's UPDATE … WHERE
    version = 1 then matches nothing, so b gets the stale error and writes nothing."""
    with world.session() as setup:
        c = put_case(setup, world, S.accepted)
    a, b = world.session(), world.session()
    try:
        loaded = b.get(Case, c.id)
        assert loaded is not None and loaded.version == 1
        b.commit()  # b's page showed version 1; it was read in an earlier transaction, as a browser's is
        cases.dispatch(a, world.actors["operator"], c.id, 1, assignee_id=world.actors["grid"].id)
        a.commit()
        with pytest.raises(StaleCase) as err:
            cases.escalate(b, world.actors["community"], c.id, 1, "daily", [world.department["CG"]], "需城管")
        b.rollback()
        assert err.value.values["by"] == "指挥中心王芳"
    finally:
        a.close()
        b.close()
    with world.session() as s:
        assert (
            s.exec(
                select(func.count()).select_from(CaseEscalation).where(CaseEscalation.case_id == c.id)
            ).one()
            == 0
        )
        assert s.get(Case, c.id).status == S.dispatched  # type: ignore[union-attr]


def test_stale_check_beats_illegal_move(world: World) -> None:
    """An outdated screen gets "changed by …", not a confusing "not allowed from …"."""
    with world.session() as s:
        c = put_case(s, world, S.reported)
        cases.accept(s, world.actors["operator"], c.id, 1)
        with pytest.raises(StaleCase):
            cases.accept(s, world.actors["operator"], c.id, 1)


# ---------------------------------------------------------------- side actions


def test_escalation_blocks_resolution_until_every_department_reports_back(world: World) -> None:
    op, cg, zj, gw = (world.actors[n] for n in ("operator", "department", "department2", "grid"))
    with world.session() as s, clock.frozen(NOW):
        c = put_case(s, world, S.in_progress)
        ref = cases.escalate(
            s,
            op,
            c.id,
            1,
            EscalationLevel.tough,
            [world.department["CG"], world.department["ZJ"]],
            "多部门联合整治",
        )
        rows = s.exec(select(CaseEscalation).where(CaseEscalation.case_id == c.id)).all()
        assert {r.department_id for r in rows} == {world.department["CG"], world.department["ZJ"]}
        assert all(r.due_at == sla.add_limit(NOW, 3, "working_days") for r in rows)
        assert s.get(Case, c.id, populate_existing=True).escalation_level == "tough"  # type: ignore[union-attr]
        with pytest.raises(Conflict) as err:
            cases.resolve(s, gw, c.id, ref.version, "已处理")
        assert err.value.key == "errors.open_escalations" and err.value.values == {"count": 2}
        ref = cases.report_back(s, cg, c.id, ref.version, "城管已到场清理")
        with pytest.raises(Conflict):
            cases.report_back(s, cg, c.id, ref.version, "again")
        with pytest.raises(Conflict):
            cases.resolve(s, gw, c.id, ref.version, "已处理")
        ref = cases.report_back(s, zj, c.id, ref.version, "住建已维修")
        ref = cases.resolve(s, gw, c.id, ref.version, "已处理")
        assert ref.status == S.resolved
        # a lower whistle later does not lower the level
        s.commit()


def test_escalate_twice_to_the_same_department_is_refused(world: World) -> None:
    with world.session() as s:
        c = put_case(s, world, S.accepted)
        ref = cases.escalate(
            s, world.actors["operator"], c.id, 1, "emergency", [world.department["CG"]], "紧急"
        )
        with pytest.raises(InvalidInput) as err:
            cases.escalate(
                s, world.actors["operator"], c.id, ref.version, "daily", [world.department["CG"]], "again"
            )
        assert err.value.problems == {"departments": "errors.already_escalated"}
        ref = cases.escalate(
            s,
            world.actors["operator"],
            c.id,
            ref.version,
            "daily",
            [world.department["CG"], world.department["ZJ"]],
            "住建",
        )
        s.commit()
        assert s.get(Case, c.id, populate_existing=True).escalation_level == "emergency"  # type: ignore[union-attr]


def test_extension_moves_the_due_date_and_is_counted(world: World) -> None:
    gw, op = world.actors["grid"], world.actors["operator"]
    with world.session() as s, clock.frozen(NOW):
        c = put_case(s, world, S.in_progress)
        due, warn, black = c.due_at, c.warn_at, c.black_at
        with pytest.raises(InvalidInput):
            cases.request_extension(s, gw, c.id, 1, 0, "x")
        with pytest.raises(InvalidInput):
            cases.request_extension(s, gw, c.id, 1, 2, " ")
        ref = cases.request_extension(s, gw, c.id, 1, 2, "需等待配件")
        with pytest.raises(Conflict):  # one pending request at a time
            cases.request_extension(s, gw, c.id, ref.version, 1, "再延")
        with pytest.raises(NotPermitted):  # the handler cannot approve
            cases.decide_extension(s, gw, c.id, ref.version, True)
        ref = cases.decide_extension(s, op, c.id, ref.version, True, "同意")
        s.commit()
        fresh = s.get(Case, c.id, populate_existing=True)
        assert fresh is not None
        assert fresh.due_at == sla.extend(due, 2, "working_days")  # type: ignore[arg-type]
        assert fresh.warn_at == sla.extend(warn, 2, "working_days")  # type: ignore[arg-type]
        assert fresh.black_at == sla.extend(black, 2, "working_days")  # type: ignore[arg-type]
        assert fresh.extension_count == 1
        ext = s.exec(select(CaseExtension).where(CaseExtension.case_id == c.id)).one()
        assert (ext.decision, ext.old_due_at, ext.new_due_at) == ("approved", due, fresh.due_at)
        # a refused request leaves the due date alone
        ref = cases.request_extension(s, gw, c.id, ref.version, 1, "再等一天")
        cases.decide_extension(s, op, c.id, ref.version, False, "不同意")
        s.commit()
        again = s.get(Case, c.id, populate_existing=True)
        assert again.due_at == fresh.due_at and again.extension_count == 1  # type: ignore[union-attr]


def test_close_needs_follow_up_unless_anonymous(world: World) -> None:
    op = world.actors["operator"]
    with world.session() as s:
        c = put_case(s, world, S.verified)
        with pytest.raises(Conflict) as err:
            cases.close(s, op, c.id, 1)
        assert err.value.key == "errors.follow_up_first"
        ref = cases.follow_up(s, op, c.id, 1, Satisfaction.basically, "居民基本满意")
        ref = cases.close(s, op, c.id, ref.version, solved=True)
        s.commit()
        closed = s.get(Case, c.id, populate_existing=True)
        assert closed.status == S.closed and closed.satisfaction == "basically" and closed.solved  # type: ignore[union-attr]

        anon = put_case(s, world, S.verified, reporter_anonymous=True, reporter_name="", reporter_phone="")
        cases.close(s, op, anon.id, 1, solved=False)
        s.commit()
        fresh = s.get(Case, anon.id, populate_existing=True)
        assert fresh.satisfaction == Satisfaction.not_reached and fresh.solved is False  # type: ignore[union-attr]


def test_rework_counts_and_returns_to_the_handler(world: World) -> None:
    with world.session() as s:
        c = put_case(s, world, S.resolved)
        cases.rework(s, world.actors["operator"], c.id, 1, "现场仍有垃圾")
        s.commit()
        fresh = s.get(Case, c.id, populate_existing=True)
        assert fresh.status == S.in_progress and fresh.rework_count == 1  # type: ignore[union-attr]


def test_return_unassigns(world: World) -> None:
    with world.session() as s:
        c = put_case(s, world, S.dispatched, department_id=world.department["CG"])
        with pytest.raises(InvalidInput):
            cases.return_case(s, world.actors["department"], c.id, 1, "")
        cases.return_case(s, world.actors["department"], c.id, 1, "非本部门职责")
        s.commit()
        fresh = s.get(Case, c.id, populate_existing=True)
        assert (fresh.status, fresh.assignee_id, fresh.department_id) == (S.accepted, None, None)  # type: ignore[union-attr]


def test_merge_keeps_one_and_links_the_other(world: World) -> None:
    op = world.actors["operator"]
    with world.session() as s:
        kept = put_case(s, world, S.accepted)
        dup = put_case(s, world, S.reported)
        with pytest.raises(InvalidInput):
            cases.merge(s, op, dup.id, 1, dup.id)
        ref = cases.merge(s, op, dup.id, 1, kept.id, "同一堆杂物")
        s.commit()
        merged = s.get(Case, dup.id, populate_existing=True)
        assert merged.status == S.closed and merged.duplicate_of_id == kept.id and ref.status == S.closed  # type: ignore[union-attr]
        kept_events = case_view.timeline(s, op, kept.id)
        assert kept_events[-1].action == "comment" and kept_events[-1].payload == {"merged": dup.number}
        assert case_view.timeline(s, op, dup.id)[-1].payload == {
            "duplicate_of": kept.number,
            "duplicate_of_id": kept.id,
        }
        # cannot merge into a case that is itself closed
        third = put_case(s, world, S.reported)
        with pytest.raises(InvalidInput) as err:
            cases.merge(s, op, third.id, 1, dup.id)
        assert err.value.problems == {"into": "errors.merge_target_closed"}
        s.rollback()
        # reopening a merged duplicate makes it a case of its own again
        cases.reopen(s, op, dup.id, ref.version, "并非同一问题")
        s.commit()
        back = s.get(Case, dup.id, populate_existing=True)
        assert back.status == S.accepted and back.duplicate_of_id is None  # type: ignore[union-attr]


def test_timeline_names_the_actors(world: World) -> None:
    with world.session() as s:
        c = put_case(s, world, S.reported)
        ref = cases.accept(s, world.actors["operator"], c.id, 1)
        cases.start(s, world.actors["grid"], c.id, ref.version, "马上到")
        s.commit()
        entries = case_view.timeline(s, world.actors["operator"], c.id)
        assert [(e.action, e.actor) for e in entries] == [
            ("report", "指挥中心王芳"),
            ("accept", "指挥中心王芳"),
            ("start", "网格员刘洋"),
        ]
        assert entries[-1].note == "马上到" and entries[-1].to_status == S.in_progress
        # the grid handled it itself, so its worker is now the assignee
        assert s.get(Case, c.id, populate_existing=True).assignee_id == world.actors["grid"].id  # type: ignore[union-attr]
