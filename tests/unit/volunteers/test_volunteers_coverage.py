"""Need, supply (the "active" definition), coverage and gaps on hand-built grids; need-rule editing.

On the VOLUNTEERS world (tests/factories.py), with this module's population:

    community A: G1 | G2 | G3      (unit squares in a row: G1–G2 and G2–G3 share an edge)
    community B:            | G4    (G4 touches G3)       G5 (far away)
"""

from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd
import pytest
from sqlmodel import select

from dashboard.kernel.errors import Invalid, NotPermitted
from dashboard.volunteers.hours import record_service
from dashboard.volunteers.need import (
    RULE_COLUMNS,
    RuleChanges,
    coverage_by_community,
    coverage_by_grid,
    coverage_by_skill,
    coverage_matrix,
    gap_list,
    need_by_grid_skill,
    need_rules,
    parse_basis,
    save_need_rules,
    supply_by_grid_skill,
    validate_need_rules,
)
from models import AuditLog, NeedRule, Volunteer
from models.enums import CaseStatus
from tests.factories import VOLUNTEERS, World, add_recent_case, add_record, add_volunteer
from tests.factories import VOLUNTEERS_NOW as NOW

pytestmark = pytest.mark.world(
    VOLUNTEERS,
    population={
        "G1": {"elderly_alone": 25, "elderly_solitary": 6, "disabled": 8, "elderly_60": 120},
        "G2": {"elderly_alone": 10, "elderly_solitary": 0, "disabled": 0, "elderly_60": 49},
        "G3": {"elderly_alone": 0, "elderly_solitary": 0, "disabled": 17, "elderly_60": 0},
        "G4": {"elderly_alone": 3},
        "G5": {},
    },
)


def set_rules(w: World, rules: list[tuple[str, str, float, int, int]]) -> None:
    """Replace the rule table with (skill, basis, per, minimum, window_days) rows."""
    with w.session() as s:
        for r in s.exec(select(NeedRule)).all():
            s.delete(r)
        s.flush()
        for skill, basis, per, minimum, window in rules:
            s.add(NeedRule(skill=skill, basis=basis, per=per, minimum=minimum, window_days=window))
        s.commit()


def cell(df: pd.DataFrame, w: World, grid: str, skill: str) -> pd.Series:
    rows = df[(df["grid_id"] == w.grid[grid]) & (df["skill"] == skill)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


# ---------------------------------------------------------------- need


def test_need_from_population_and_minimum(world: World) -> None:
    set_rules(
        world,
        [
            ("助老探访", "elderly_alone+elderly_solitary", 10, 0, 90),
            ("助残", "disabled", 8, 0, 90),
            ("数字助老", "elderly_60", 50, 0, 90),
            ("急救", "residents", 0, 2, 90),
        ],
    )
    with world.session() as s:
        need = need_by_grid_skill(s, world.actors["manager"], now=NOW)
    assert cell(need, world, "G1", "助老探访")["need"] == 4  # ceil(31 / 10)
    assert cell(need, world, "G1", "助老探访")["basis_value"] == 31
    assert cell(need, world, "G2", "助老探访")["need"] == 1  # exactly 10 → 1, not 2
    assert cell(need, world, "G3", "助老探访")["need"] == 0
    assert cell(need, world, "G1", "助残")["need"] == 1  # 8 / 8
    assert cell(need, world, "G3", "助残")["need"] == 3  # ceil(17 / 8)
    assert cell(need, world, "G1", "数字助老")["need"] == 3  # ceil(120 / 50)
    assert cell(need, world, "G2", "数字助老")["need"] == 1  # ceil(49 / 50)
    for g in world.grid:  # per == 0 → the minimum only, in every grid
        assert cell(need, world, g, "急救")["need"] == 2
    assert len(need) == 4 * len(world.grid)


def test_need_from_recent_cases_of_a_category(world: World) -> None:
    set_rules(world, [("矛盾调解", "cases:DIS", 20, 0, 90)])
    for _ in range(21):
        add_recent_case(world, "G1", "DIS", days_ago=10)
    add_recent_case(world, "G1", "DIS", days_ago=95)  # outside the window
    add_recent_case(world, "G1", "ELD", days_ago=5)  # other category
    add_recent_case(world, "G2", "DIS", days_ago=1, status=CaseStatus.rejected)  # rejected cases are no need
    original = add_recent_case(world, "G3", "DIS", days_ago=1)
    add_recent_case(world, "G3", "DIS", days_ago=1, duplicate_of=original)  # a merged duplicate counts once
    with world.session() as s:
        need = need_by_grid_skill(s, world.actors["manager"], now=NOW)
    assert cell(need, world, "G1", "矛盾调解")["basis_value"] == 21
    assert cell(need, world, "G1", "矛盾调解")["need"] == 2  # ceil(21 / 20)
    assert cell(need, world, "G2", "矛盾调解")["need"] == 0
    assert cell(need, world, "G3", "矛盾调解")["need"] == 1
    # a shorter window drops the old cases but the community-wide minimum still applies
    set_rules(world, [("矛盾调解", "cases:DIS", 20, 1, 5)])
    with world.session() as s:
        need = need_by_grid_skill(s, world.actors["manager"], now=NOW)
    assert cell(need, world, "G1", "矛盾调解")["basis_value"] == 0
    assert cell(need, world, "G1", "矛盾调解")["need"] == 1


def test_several_rules_for_a_skill_take_the_largest_need(world: World) -> None:
    set_rules(world, [("急救", "residents", 0, 2, 90), ("急救", "disabled", 5, 0, 90)])
    with world.session() as s:
        need = need_by_grid_skill(s, world.actors["manager"], now=NOW)
    assert cell(need, world, "G3", "急救")["need"] == 4  # ceil(17 / 5) beats the minimum 2
    assert cell(need, world, "G1", "急救")["need"] == 2  # ceil(8 / 5) = 2 ties with the minimum
    assert cell(need, world, "G2", "急救")["need"] == 2


def test_inactive_rules_are_ignored(world: World) -> None:
    set_rules(world, [("急救", "residents", 0, 2, 90)])
    with world.session() as s:
        rule = s.exec(select(NeedRule)).one()
        rule.active = False
        s.commit()
        assert need_by_grid_skill(s, world.actors["manager"], now=NOW).empty


# ---------------------------------------------------------------- supply: the "active" definition


def test_supply_counts_only_active_volunteers_of_the_home_grid_with_the_skill(world: World) -> None:
    set_rules(world, [("助老探访", "elderly_alone", 10, 0, 90)])
    served_recently = add_volunteer(world, "G1", ["助老探访"])
    add_record(world, served_recently, "G2", days_ago=89)  # served elsewhere: still counts for the home grid
    unverified = add_volunteer(world, "G1", ["助老探访", "急救"])
    add_record(world, unverified, "G1", days_ago=3, verified=False)  # service, verified or not, is activity
    add_volunteer(world, "G1", ["助老探访"], registered_days_ago=29)  # new: active without service
    old_service = add_volunteer(world, "G1", ["助老探访"])
    add_record(world, old_service, "G1", days_ago=91)  # too long ago → dormant
    add_volunteer(world, "G1", ["助老探访"], registered_days_ago=31)  # registered too long ago → dormant
    deactivated = add_volunteer(world, "G1", ["助老探访"], active=False)
    add_record(world, deactivated, "G1", days_ago=1)  # the flag wins
    add_volunteer(world, "G1", ["助老探访"], registered_days_ago=1, active=False)
    planned = add_volunteer(world, "G1", ["助老探访"])
    add_record(world, planned, "G1", days_ago=-2)  # a planned (future) record is not activity
    other_skill = add_volunteer(world, "G1", ["急救"])
    add_record(world, other_skill, "G1", days_ago=1)
    other_grid = add_volunteer(world, "G2", ["助老探访"])
    add_record(world, other_grid, "G1", days_ago=1)  # serves G1 but lives in G2

    with world.session() as s:
        supply = supply_by_grid_skill(s, world.actors["manager"], now=NOW)
    g1 = cell(supply, world, "G1", "助老探访")
    assert g1["supply"] == 3
    assert g1["dormant"] == 3  # old service, old registration, planned only
    assert cell(supply, world, "G1", "急救")["supply"] == 2
    assert cell(supply, world, "G2", "助老探访")["supply"] == 1


def test_supply_boundaries_are_inclusive_of_exactly_90_and_30_days(world: World) -> None:
    a = add_volunteer(world, "G1", ["急救"])
    add_record(world, a, "G1", days_ago=90)
    add_volunteer(world, "G1", ["急救"], registered_days_ago=30)
    with world.session() as s:
        supply = supply_by_grid_skill(s, world.actors["manager"], now=NOW)
    assert cell(supply, world, "G1", "急救")["supply"] == 2


# ---------------------------------------------------------------- coverage and gaps


@pytest.fixture
def covered_world(world: World) -> World:
    """G1: 助老探访 need 4, supply 5 (surplus); 急救 need 2, supply 1. G2: 助老探访 need 1, supply 0; 急救 2/0.
    G3: 助老探访 need 0; 急救 2/2. G4: 助老探访 1/0, 急救 2/0. G5: 急救 2/3."""
    set_rules(
        world, [("助老探访", "elderly_alone+elderly_solitary", 10, 0, 90), ("急救", "residents", 0, 2, 90)]
    )
    for _ in range(5):
        add_volunteer(world, "G1", ["助老探访"], registered_days_ago=3)
    add_volunteer(world, "G1", ["急救"], registered_days_ago=3)
    add_volunteer(world, "G1", ["急救"])  # dormant
    add_volunteer(world, "G3", ["急救", "助老探访"], registered_days_ago=3)
    add_volunteer(world, "G3", ["急救"], registered_days_ago=3)
    for _ in range(3):
        add_volunteer(world, "G5", ["急救"], registered_days_ago=3)
    return world


def test_coverage_cells_and_gaps(covered_world: World) -> None:
    w = covered_world
    with w.session() as s:
        cells = coverage_matrix(s, w.actors["manager"], now=NOW)
    c = cell(cells, w, "G1", "助老探访")
    assert (c["need"], c["supply"], c["gap"], c["covered"]) == (4, 5, 0, 4)
    assert c["coverage"] == pytest.approx(1.25)  # cells are uncapped
    c = cell(cells, w, "G1", "急救")
    assert (c["need"], c["supply"], c["gap"], c["dormant"]) == (2, 1, 1, 1)
    assert c["coverage"] == pytest.approx(0.5)
    c = cell(cells, w, "G3", "助老探访")
    assert c["need"] == 0 and c["supply"] == 1 and math.isnan(c["coverage"])
    gaps = gap_list(cells)  # biggest gap first, then lowest coverage, then grid code
    assert list(zip(gaps["code"], gaps["skill"], gaps["gap"], strict=True)) == [
        ("G2", "急救", 2),
        ("G4", "急救", 2),
        ("G2", "助老探访", 1),
        ("G4", "助老探访", 1),
        ("G1", "急救", 1),
    ]


def test_coverage_by_grid_is_capped_per_skill_and_none_without_need(covered_world: World) -> None:
    w = covered_world
    with w.session() as s:
        by_grid = coverage_by_grid(s, w.actors["manager"], now=NOW).set_index("grid_id")
    assert list(by_grid.reset_index().columns) == ["grid_id", "need", "supply", "coverage"]
    assert len(by_grid) == 5
    g1 = by_grid.loc[w.grid["G1"]]
    assert (g1["need"], g1["supply"]) == (6, 6)
    assert g1["coverage"] == pytest.approx(
        5 / 6
    )  # min(5, 4) + min(1, 2) over 6: a surplus does not hide a gap
    assert by_grid.loc[w.grid["G2"], "coverage"] == 0.0
    assert by_grid.loc[w.grid["G3"], "coverage"] == 1.0
    assert by_grid.loc[w.grid["G5"], "coverage"] == 1.0  # 3 of 2: capped at 100 %
    set_rules(w, [("助残", "disabled", 8, 0, 90)])
    with w.session() as s:
        by_grid = coverage_by_grid(s, w.actors["manager"], now=NOW).set_index("grid_id")
    assert by_grid.loc[w.grid["G2"], "need"] == 0
    assert pd.isna(by_grid.loc[w.grid["G2"], "coverage"])  # no need: no figure


def test_coverage_without_rules_keeps_every_grid(world: World) -> None:
    set_rules(world, [])
    with world.session() as s:
        by_grid = coverage_by_grid(s, world.actors["manager"], now=NOW)
    assert len(by_grid) == 5 and by_grid["coverage"].isna().all() and (by_grid["need"] == 0).all()


def test_coverage_by_community_and_skill(covered_world: World) -> None:
    w = covered_world
    with w.session() as s:
        cells = coverage_matrix(s, w.actors["manager"], now=NOW)
        comm = coverage_by_community(s, w.actors["manager"], cells=cells).set_index("community")
    a = comm.loc["甲社区"]  # G1 6 need (5 covered), G2 3 (0), G3 2 (2)
    assert (a["grids"], a["need"], a["covered"], a["gap"], a["grids_full"]) == (3, 11, 7, 4, 1)
    assert a["coverage"] == pytest.approx(7 / 11)
    b = comm.loc["乙社区"]  # G4 3 need (0), G5 2 (2)
    assert (b["need"], b["covered"], b["gap"]) == (5, 2, 3)
    by_skill = coverage_by_skill(cells).set_index("skill")
    assert by_skill.loc["急救", "need"] == 10 and by_skill.loc["急救", "covered"] == 5


def test_grid_worker_sees_only_their_grid(covered_world: World) -> None:
    w = covered_world
    with w.session() as s:
        by_grid = coverage_by_grid(s, w.actors["grid"], now=NOW)
        cells = coverage_matrix(s, w.actors["community_b"], now=NOW)
    assert by_grid["grid_id"].tolist() == [w.grid["G1"]]
    assert set(cells["code"]) == {"G4", "G5"}


def test_coverage_rises_when_a_dormant_volunteer_serves(covered_world: World) -> None:
    w = covered_world
    with w.session() as s:
        before = coverage_by_grid(s, w.actors["manager"], now=NOW).set_index("grid_id")
        dormant = s.exec(
            select(Volunteer.id).where(
                Volunteer.home_grid_id == w.grid["G1"], Volunteer.registered_at < NOW - timedelta(days=300)
            )
        ).one()
        record_service(
            s,
            w.actors["manager"],
            volunteer_id=dormant,
            grid_id=w.grid["G1"],
            skill="急救",
            start=NOW - timedelta(hours=3),
            end=NOW - timedelta(hours=1),
            now=NOW,
        )
        s.commit()
        after = coverage_by_grid(s, w.actors["manager"], now=NOW).set_index("grid_id")
    assert before.loc[w.grid["G1"], "coverage"] == pytest.approx(5 / 6)
    assert after.loc[w.grid["G1"], "coverage"] == pytest.approx(1.0)


# ---------------------------------------------------------------- need rules


def test_parse_basis() -> None:
    assert parse_basis("elderly_alone + elderly_solitary").fields == ("elderly_alone", "elderly_solitary")
    assert parse_basis("cases:dis").category == "DIS"
    for bad in ("", "elderly", "cases:", "elderly_alone+elderly_alone", "residents;drop", "cases:DIS OR 1"):
        with pytest.raises(Invalid):
            parse_basis(bad)


def test_validate_need_rules_reports_rows() -> None:
    rows = [
        {"skill": "助残", "basis": "disabled", "per": 8, "minimum": 0, "window_days": 90},
        {"skill": "飞行", "basis": "disabled", "per": 8, "minimum": 0, "window_days": 90},
        {"skill": "助残", "basis": "disabled", "per": 4, "minimum": 0, "window_days": 90},
        {"skill": "急救", "basis": "cases:XXX", "per": -1, "minimum": 1.5, "window_days": 0},
        {"skill": "急救", "basis": "residents", "per": 0, "minimum": 0, "window_days": 90},
    ]
    problems = validate_need_rules(rows, ["DIS", "ELD"])
    got = {(p.row, p.key) for p in problems}
    assert (1, "vol.err.skill") in got
    assert (2, "vol.err.rule_duplicate") in got
    assert {
        (3, "vol.err.basis_category"),
        (3, "vol.err.per"),
        (3, "vol.err.minimum"),
        (3, "vol.err.window"),
    } <= got
    assert (4, "vol.err.rule_empty") in got
    assert not any(p.row == 0 for p in problems)


def test_save_need_rules_adds_updates_deletes_and_audits(world: World) -> None:
    set_rules(world, [("助残", "disabled", 8, 0, 90), ("急救", "residents", 0, 2, 90)])
    manager = world.actors["manager"]
    with world.session() as s:
        rules = need_rules(s)
        rows = rules[RULE_COLUMNS].to_dict("records")
        rows = [r for r in rows if r["skill"] != "急救"]  # delete
        rows[0]["per"] = 6  # update
        rows.append(
            {
                "id": None,
                "skill": "矛盾调解",
                "basis": " cases:DIS ",
                "per": 20,
                "minimum": 0,
                "window_days": 90,
                "active": True,
                "note": "=cmd",
            }
        )
        changes = save_need_rules(s, manager, rows, now=NOW)
        s.commit()
        assert changes == RuleChanges(added=1, updated=1, removed=1)
        after = need_rules(s).set_index("skill")
        assert after.loc["助残", "per"] == 6 and after.loc["矛盾调解", "basis"] == "cases:DIS"
        assert "急救" not in after.index
        log = s.exec(select(AuditLog).where(AuditLog.action == "need_rules_change")).one()
        assert log.actor_id == manager.id and "矛盾调解" in log.detail
        # saving the same table again changes nothing and writes no audit row
        same = need_rules(s)[RULE_COLUMNS].to_dict("records")
        assert save_need_rules(s, manager, same, now=NOW) == RuleChanges(0, 0, 0)
        s.commit()
        assert len(s.exec(select(AuditLog).where(AuditLog.action == "need_rules_change")).all()) == 1


def test_save_need_rules_refuses_bad_rows_and_other_roles(world: World) -> None:
    set_rules(world, [("助残", "disabled", 8, 0, 90)])
    with world.session() as s:
        rows = need_rules(s)[RULE_COLUMNS].to_dict("records")
        bad = [
            *rows,
            {"id": None, "skill": "助残", "basis": "disabled", "per": 3, "minimum": 0, "window_days": 90},
        ]
        with pytest.raises(Invalid) as err:
            save_need_rules(s, world.actors["manager"], bad, now=NOW)
        assert err.value.details[0].key == "vol.err.rule_duplicate"
        for who in ("leader", "community", "grid", "operator"):
            with pytest.raises(NotPermitted):
                save_need_rules(s, world.actors[who], rows, now=NOW)
        s.rollback()
        assert need_rules(s)["per"].tolist() == [8]


def test_a_basis_reads_and_is_typed_in_the_users_language() -> None:
    """Issue 19: the rule table shows 空巢/独居老人+孤寡老人 and 案件：矛盾纠纷, never field names or codes, and
    takes either language (or the stored form) back."""
    from dashboard.volunteers.need import basis_code, basis_label

    names = {"DIS": ("矛盾纠纷", "Disputes")}
    assert basis_label("elderly_alone+elderly_solitary", names, "zh") == "空巢/独居老人+孤寡老人"
    assert basis_label("cases:DIS", names, "zh") == "案件：矛盾纠纷"
    assert basis_label("cases:DIS", names, "en") == "cases: Disputes"
    assert basis_code("空巢/独居老人 ＋ 孤寡老人", names) == "elderly_alone+elderly_solitary"
    assert basis_code("案件：矛盾纠纷", names) == basis_code("cases: Disputes", names) == "cases:DIS"
    assert basis_code("cases:DIS", names) == "cases:DIS" and basis_code("households", names) == "households"
    assert basis_code("案件：不存在", names) == "案件：不存在", "left for validation to report"
