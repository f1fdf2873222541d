"""Matching volunteers to a case or a need: ranking order, scope, and assignment onto the case timeline."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import select

from dashboard.kernel.errors import Conflict, Invalid, NotFound, NotPermitted
from dashboard.volunteers import matching
from models import Case, CaseEvent, ServiceRecord
from models.enums import CaseStatus
from tests.factories import VOLUNTEERS, World, add_recent_case, add_record, add_volunteer
from tests.factories import VOLUNTEERS_NOW as NOW

pytestmark = pytest.mark.world(VOLUNTEERS)


def _ranked(
    w: World,
    grid: str = "G1",
    skills: tuple[str, ...] = ("助老探访", "数字助老"),
    who: str = "manager",
    **kw: object,
) -> list[int]:
    with w.session() as s:
        df = matching.match_volunteers(
            s, w.actors[who], grid_id=w.grid[grid], skills=list(skills), now=NOW, **kw
        )
    return [int(v) for v in df["volunteer_id"]]


def test_neighbours_come_from_the_grid_geometry(world: World) -> None:
    with world.session() as s:
        assert matching.grid_neighbours(s, world.grid["G1"]) == {world.grid["G2"]}
        assert matching.grid_neighbours(s, world.grid["G3"]) == {world.grid["G2"], world.grid["G4"]}


def test_order_skill_fit_then_distance_then_load_then_recency(world: World) -> None:
    w = world
    # distance tiers with the main skill, no load
    elsewhere = add_volunteer(w, "G4", ["助老探访"])
    same_community = add_volunteer(w, "G3", ["助老探访"])
    neighbour = add_volunteer(w, "G2", ["助老探访"])
    home_busy = add_volunteer(w, "G1", ["助老探访"])
    add_record(w, home_busy, "G1", days_ago=5, hours=6)
    home_light = add_volunteer(w, "G1", ["助老探访"])
    add_record(w, home_light, "G1", days_ago=6, hours=2)
    # same load (none in 30 days): the one who served more recently first; never served last
    home_recent = add_volunteer(w, "G1", ["助老探访"])
    add_record(w, home_recent, "G1", days_ago=40)
    home_older = add_volunteer(w, "G1", ["助老探访"])
    add_record(w, home_older, "G1", days_ago=80)
    home_never = add_volunteer(w, "G1", ["助老探访"])
    # a secondary skill only: after every full fit, however close
    home_secondary = add_volunteer(w, "G1", ["数字助老"])
    # not candidates
    add_volunteer(w, "G1", ["急救"])  # no fitting skill
    add_volunteer(w, "G1", ["助老探访"], active=False)  # deactivated

    # at home: served in 30 days (lighter load first), then in 90 days (more recent first), never last
    assert _ranked(w) == [
        home_light,
        home_busy,
        home_recent,
        home_older,
        home_never,
        neighbour,
        same_community,
        elsewhere,
        home_secondary,
    ]


def test_dormant_volunteers_rank_below_active_ones(world: World) -> None:
    """Same skill, same grid, no load now: the one who last served 10 months ago comes after the ones who
    served within 30 and 90 days; activity even outweighs one step of distance."""
    w = world
    dormant = add_volunteer(w, "G1", ["助老探访"])
    add_record(w, dormant, "G1", days_ago=300)
    lately = add_volunteer(w, "G1", ["助老探访"])
    add_record(w, lately, "G1", days_ago=60)
    active = add_volunteer(w, "G1", ["助老探访"])
    add_record(w, active, "G1", days_ago=10)
    active_neighbour = add_volunteer(w, "G2", ["助老探访"])
    add_record(w, active_neighbour, "G2", days_ago=10)
    assert _ranked(w) == [active, lately, active_neighbour, dormant]
    with w.session() as s:
        df = matching.match_volunteers(
            s, w.actors["manager"], grid_id=w.grid["G1"], skills=["助老探访"], now=NOW
        )
    assert list(df["activity"]) == [0, 1, 0, 3]


def test_closed_cases_are_not_offered_for_matching(world: World) -> None:
    w = world
    open_ = add_recent_case(w, "G1", "ELD", days_ago=1, number="TS-OPEN")
    for status, number in ((CaseStatus.closed, "TS-CLOSED"), (CaseStatus.rejected, "TS-REJECTED")):
        add_recent_case(w, "G1", "ELD", days_ago=1, status=status, number=number)
    with w.session() as s:
        found = matching.case_for_matching(s, w.actors["operator"], "TS-OPEN")
        assert found is not None and found.id == open_ and found.assignable
        for number in ("TS-CLOSED", "TS-REJECTED"):
            refused = matching.case_for_matching(s, w.actors["operator"], number)
            assert refused is not None and not refused.assignable


def test_matching_result_columns_are_masked(world: World) -> None:
    vid = add_volunteer(world, "G2", ["助老探访", "急救", "数字助老"], name="李建国", phone="13912345678")
    add_record(world, vid, "G2", days_ago=3, hours=2.5)
    add_record(world, vid, "G2", days_ago=45, hours=4)  # outside the load window
    with world.session() as s:
        df = matching.match_volunteers(
            s, world.actors["manager"], grid_id=world.grid["G1"], skills=["助老探访", "数字助老"], now=NOW
        )
    row = df.iloc[0]
    assert row["name"] == "李*国" and row["phone"] == "139****5678"
    assert (row["fit"], row["distance"], row["load_hours"]) == (2, 1, 2.5)
    assert row["skills"] == ["助老探访", "数字助老"]
    assert row["last_service_at"] == NOW - timedelta(days=3)


def test_matching_scope_exclusions_and_limit(world: World) -> None:
    a = add_volunteer(world, "G1", ["助残"])
    b = add_volunteer(world, "G4", ["助残"])
    c = add_volunteer(world, "G5", ["助残"])
    assert _ranked(world, skills=("助残",)) == [a, b, c]
    assert _ranked(world, skills=("助残",), exclude=[a]) == [b, c]
    assert _ranked(world, skills=("助残",), limit=1) == [a]
    assert _ranked(world, skills=("助残",), who="community_b") == [b, c]  # only their own volunteers
    assert _ranked(world, skills=("不存在",)) == []
    with world.session() as s, pytest.raises(NotPermitted):
        matching.match_volunteers(
            s, world.actors["leader"], grid_id=world.grid["G1"], skills=["助残"], now=NOW
        )


def test_skills_for_category() -> None:
    assert matching.skills_for_category("ELD")[0] == "助老探访"
    assert matching.skills_for_category("dsb")[0] == "助残"
    assert matching.skills_for_category("XYZ") == ()


def test_assign_records_the_case_timeline_and_a_planned_record(world: World) -> None:
    w = world
    case_id = add_recent_case(w, "G1", "ELD", days_ago=1, number="TS20260309-0001")
    vid = add_volunteer(w, "G1", ["助老探访"], name="王小红")
    op = w.actors["operator"]
    with w.session() as s:
        found = matching.case_for_matching(s, op, "TS20260309-0001")
        assert found is not None and found.skills[0] == "助老探访" and found.assigned == ()
        event_id = matching.assign_volunteer(
            s,
            op,
            case_id=case_id,
            volunteer_id=vid,
            skill="助老探访",
            expected_version=found.version,
            plan_start=NOW + timedelta(days=1),
            plan_hours=2,
            now=NOW,
        )
        s.commit()
        event = s.get(CaseEvent, event_id)
        case = s.get(Case, case_id)
        assert event.action == "assign_volunteer" and event.actor_id == op.id
        assert event.from_status == CaseStatus.accepted and event.to_status is None  # a side action
        assert "王*红" in event.note and "王小红" not in event.note
        payload = json.loads(event.payload)
        assert payload["volunteer_id"] == vid
        record = s.get(ServiceRecord, payload["service_record_id"])
        assert record.case_id == case_id and record.grid_id == w.grid["G1"] and record.hours == 2
        assert record.verified_by is None and record.start == NOW + timedelta(days=1)
        assert case.version == found.version + 1 and case.status == CaseStatus.accepted
        again = matching.case_for_matching(s, op, "TS20260309-0001")
        assert again.assigned == (vid,)
        # the same volunteer twice, or with an old version, is refused and changes nothing
        with pytest.raises(Invalid, match="already_assigned"):
            matching.assign_volunteer(
                s,
                op,
                case_id=case_id,
                volunteer_id=vid,
                skill="助老探访",
                expected_version=again.version,
                now=NOW,
            )
        s.rollback()  # end this read transaction: the next volunteer is added by another session
        other = add_volunteer(w, "G1", ["助老探访"])
        with pytest.raises(Conflict, match="stale"):
            matching.assign_volunteer(
                s,
                op,
                case_id=case_id,
                volunteer_id=other,
                skill="助老探访",
                expected_version=found.version,
                now=NOW,
            )
        s.rollback()
        assert s.get(Case, case_id).version == found.version + 1
        assert len(s.exec(select(CaseEvent).where(CaseEvent.case_id == case_id)).all()) == 1


def test_assign_is_refused_out_of_scope_or_for_closed_cases(world: World) -> None:
    w = world
    in_b = add_recent_case(w, "G4", "ELD", days_ago=1)
    closed = add_recent_case(w, "G1", "ELD", days_ago=1, status=CaseStatus.closed)
    vid = add_volunteer(w, "G1", ["助老探访"])
    with w.session() as s:
        with pytest.raises(NotFound):  # community A may not touch community B's case
            matching.assign_volunteer(
                s,
                w.actors["community"],
                case_id=in_b,
                volunteer_id=vid,
                skill="助老探访",
                expected_version=1,
                now=NOW,
            )
        with pytest.raises(Invalid, match="case_closed"):
            matching.assign_volunteer(
                s,
                w.actors["operator"],
                case_id=closed,
                volunteer_id=vid,
                skill="助老探访",
                expected_version=1,
                now=NOW,
            )
        with pytest.raises(NotFound):  # community B may not assign community A's volunteer
            matching.assign_volunteer(
                s,
                w.actors["community_b"],
                case_id=in_b,
                volunteer_id=vid,
                skill="助老探访",
                expected_version=1,
                now=NOW,
            )
        with pytest.raises(NotPermitted):
            matching.assign_volunteer(
                s,
                w.actors["leader"],
                case_id=in_b,
                volunteer_id=vid,
                skill="助老探访",
                expected_version=1,
                now=NOW,
            )
        assert matching.case_for_matching(s, w.actors["community"], s.get(Case, in_b).number) is None
        s.rollback()
        assert s.exec(select(CaseEvent)).all() == []


def test_sees_cases_follows_case_scope(world: World) -> None:
    add_recent_case(world, "G4", "ELD", days_ago=1)
    with world.session() as s:
        assert matching.sees_cases(s, world.actors["operator"])
        assert matching.sees_cases(s, world.actors["community_b"])
        assert not matching.sees_cases(s, world.actors["community"])  # no case in community A
        # case_filter gives volunteer managers no cases
        assert not matching.sees_cases(s, world.actors["manager"])
