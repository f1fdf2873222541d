"""Field work (dashboard/territory: todo_list, my_grid, visits, quick_intake, supervision) on hand-built
data: a visit ends a blind spot, the to-do list, visit validation, quick intake on the same case service, and
the supervisors' field figures (visits per week, coverage, open load, on-time rate, quiet grids) counted by
hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, select

from dashboard import clock
from dashboard.cases import change as case_change
from dashboard.cases import commands as cases
from dashboard.cases import intake as case_intake
from dashboard.cases.errors import InvalidInput
from dashboard.db import get_engine
from dashboard.kernel.errors import DomainError
from dashboard.kernel.scope import Actor
from dashboard.reporting import kpi
from dashboard.territory import my_grid, quick_intake, supervision, todo_list, visits
from dashboard.territory.visits import InvalidVisit, VisitInput
from models import Building, Case, CaseEscalation, Grid, GridVisit, GridWorkerHistory, User
from models.enums import CaseSource, CaseStatus, Role, Satisfaction
from tests.factories import World, add_case, build_world

S = CaseStatus
NOW = datetime(2026, 11, 20, 10, 0)


@pytest.fixture
def world_db(db_url: str) -> Iterator[tuple[Session, World]]:
    """The small world with buildings in grids 0 (four) and 1 (two), a second grid worker for grid 1, and
    each grid's worker recorded on the grid and in its history."""
    with Session(get_engine(db_url)) as s:
        world = build_world(s)
        gw = world.actors["grid_worker"]
        other = User(
            username="t-gw2",
            display_name="测试网格员二",
            role=Role.grid_worker,
            password_hash="x",
            created_at=NOW,
            community_id=world.community_ids[0],
            grid_id=world.grid_ids[1],
        )
        s.add(other)
        s.flush()
        world.actors["grid_worker2"] = Actor(
            other.id, other.username, other.display_name, Role.grid_worker, other.community_id, other.grid_id
        )  # type: ignore[arg-type]
        for index, user_id in ((0, gw.id), (1, other.id)):
            grid = s.get(Grid, world.grid_ids[index])
            assert grid is not None
            grid.worker_id = user_id
            s.add(grid)
            s.add(GridWorkerHistory(grid_id=grid.id, user_id=user_id, started_at=datetime(2026, 1, 1)))  # type: ignore[arg-type]
        for index, names in ((0, ["1号楼", "2号楼", "3号楼", "4号楼"]), (1, ["东院", "西院"])):
            for n, name in enumerate(names):
                s.add(
                    Building(
                        grid_id=world.grid_ids[index],
                        name=name,
                        households=10 + n,
                        lon=118.001 + n * 0.0005,
                        lat=33.001 + index * 0.005,
                    )
                )
        s.commit()
        yield s, world


def _buildings(s: Session, world: World, index: int) -> list[int]:
    return list(
        s.exec(
            select(Building.id).where(Building.grid_id == world.grid_ids[index]).order_by(Building.name)
        ).all()
    )


def _visit(
    s: Session, world: World, index: int, at: datetime, building: int | None = None, hh: int = 1
) -> None:
    s.add(
        GridVisit(
            worker_id=None, grid_id=world.grid_ids[index], building_id=building, households_visited=hh, at=at
        )
    )


# ---------------------------------------------------------------- blind spots


def test_a_visit_ends_a_blind_spot(world_db: tuple[Session, World]) -> None:
    """Grid 0 had a case 45 days ago and a visit 31 days ago, nothing since: a blind spot. The worker
    records a visit; the same figure (kpi.blind_spots, what the map and the wall show) no longer counts it."""
    s, world = world_db
    add_case(s, world, 0, NOW - timedelta(days=45), S.closed)
    _visit(s, world, 0, NOW - timedelta(days=31))
    for index in (1, 2, 3):  # the other grids are active
        _visit(s, world, index, NOW - timedelta(days=2))
    s.commit()
    leader, worker = world.actors["leader"], world.actors["grid_worker"]
    with clock.frozen(NOW):
        before = kpi.blind_spots(s, leader, 30, NOW).set_index("grid_id")
        assert bool(before.loc[world.grid_ids[0], "blind"]) is True
        assert before.loc[world.grid_ids[0], "days_since"] == pytest.approx(31.0)
        assert int(before["blind"].sum()) == 1
        assert my_grid.grid_activity(s, worker, now=NOW).blind is True

        building = _buildings(s, world, 0)[2]
        visit_id = visits.record_visit(s, worker, VisitInput(building_id=building, households_visited=3))
        s.commit()

        after = kpi.blind_spots(s, leader, 30, NOW).set_index("grid_id")
        assert bool(after.loc[world.grid_ids[0], "blind"]) is False
        assert after.loc[world.grid_ids[0], "days_since"] == pytest.approx(0.0)
        assert int(after["blind"].sum()) == 0
        activity = my_grid.grid_activity(s, worker, now=NOW)
        assert activity.blind is False and activity.last_visit_at == NOW
        assert (
            activity.visits_7d == 1
            and activity.visits_window == 1
            and activity.households_visited_window == 3
        )
    row = s.get(GridVisit, visit_id)
    assert row is not None
    assert (row.worker_id, row.grid_id, row.building_id, row.at) == (
        worker.id,
        world.grid_ids[0],
        building,
        NOW,
    )


def test_blind_spot_window_follows_the_admin_setting(world_db: tuple[Session, World]) -> None:
    s, world = world_db
    from dashboard.admin import settings

    _visit(s, world, 0, NOW - timedelta(days=20))
    s.commit()
    worker = world.actors["grid_worker"]
    assert my_grid.grid_activity(s, worker, now=NOW).blind is False
    settings.set_setting(s, world.actors["admin"], "blind_spot_days", 14)
    s.commit()
    activity = my_grid.grid_activity(s, worker, now=NOW)
    assert activity.blind_days == 14 and activity.blind is True


# ---------------------------------------------------------------- visits


def test_visit_validation(world_db: tuple[Session, World]) -> None:
    s, world = world_db
    worker = world.actors["grid_worker"]
    theirs = _buildings(s, world, 1)[0]
    with pytest.raises(InvalidVisit) as err:
        visits.record_visit(
            s,
            worker,
            VisitInput(
                building_id=theirs, met="陌生人", households_visited=999, groups=["aliens"], note="x" * 2001
            ),
        )
    assert err.value.problems == {
        "building": "field.err_building",
        "met": "field.err_met",
        "households": "field.err_households",
        "groups": "field.err_groups",
        "note": "field.err_too_long",
    }
    with pytest.raises(InvalidVisit) as err:  # another grid: outside the worker's scope
        visits.record_visit(s, worker, VisitInput(grid_id=world.grid_ids[1]))
    assert err.value.problems == {"grid": "field.err_grid"}
    with pytest.raises(InvalidVisit) as err:  # the community may visit its grids, not another community's
        visits.record_visit(s, world.actors["community"], VisitInput(grid_id=world.grid_ids[2]))
    assert err.value.problems == {"grid": "field.err_grid"}
    for role in ("department", "leader", "volunteer_manager"):
        with pytest.raises(DomainError) as refused:
            visits.record_visit(s, world.actors[role], VisitInput(grid_id=world.grid_ids[0]))
        assert refused.value.key == "field.err_not_permitted"
    # nobody home: 0 households is allowed; the groups are kept in their canonical order
    with clock.frozen(NOW):
        vid = visits.record_visit(
            s,
            world.actors["community"],
            VisitInput(
                grid_id=world.grid_ids[1],
                met="无人在家",
                households_visited=0,
                groups=["disabled", "elderly_alone"],
            ),
        )
    s.commit()
    row = s.get(GridVisit, vid)
    assert row is not None and row.households_visited == 0
    assert json.loads(row.groups) == ["elderly_alone", "disabled"]
    assert s.exec(select(GridVisit)).all() == [row]


def test_link_visit_to_the_case_it_found(world_db: tuple[Session, World]) -> None:
    s, world = world_db
    worker = world.actors["grid_worker"]
    with clock.frozen(NOW):
        vid = visits.record_visit(s, worker, VisitInput(note="楼道堆物"))
        found = quick_intake.quick_case(
            s, worker, category_id=world.category["ENV"], description="楼道堆物", source=CaseSource.grid_visit
        )
        ref = case_intake.create_case(s, worker, found)
        visits.link_visit_case(s, worker, vid, ref.id)
        s.commit()
        assert s.get(GridVisit, vid).case_id == ref.id  # type: ignore[union-attr]
        views = visits.recent_visits(s, worker)
        assert [(v.id, v.case_number) for v in views] == [(vid, ref.number)]
        with pytest.raises(DomainError):  # not their visit
            visits.link_visit_case(s, world.actors["grid_worker2"], vid, ref.id)


# ---------------------------------------------------------------- to-do


def test_todo_list(world_db: tuple[Session, World]) -> None:
    s, world = world_db
    me, other = world.actors["grid_worker"], world.actors["grid_worker2"]
    d = NOW - timedelta(days=5)
    late = add_case(s, world, 0, d, S.in_progress, assignee_id=me.id, due_at=NOW - timedelta(days=1))
    soon = add_case(
        s, world, 0, d, S.dispatched, assignee_id=me.id, due_at=NOW + timedelta(days=1), warn_at=NOW
    )
    grid_own = add_case(
        s, world, 0, d, S.accepted, due_at=NOW + timedelta(days=3), warn_at=NOW + timedelta(days=2)
    )
    add_case(s, world, 0, d, S.accepted, department_id=world.department["CG"])  # the department's
    add_case(s, world, 1, d, S.in_progress, assignee_id=other.id)  # someone else's
    add_case(s, world, 0, d, S.reported)  # not accepted yet: the command centre's
    add_case(s, world, 0, d, S.resolved, assignee_id=me.id)  # waiting for verification
    call = add_case(s, world, 0, d, S.verified, assignee_id=me.id, verified_at=NOW - timedelta(hours=3))
    add_case(s, world, 0, d, S.verified, reporter_anonymous=True)  # nobody to call
    add_case(s, world, 0, d, S.verified, satisfaction=Satisfaction.satisfied)  # already called
    add_case(s, world, 0, d, S.in_progress, assignee_id=me.id, duplicate_of_id=late.id)  # merged
    s.add(
        CaseEscalation(case_id=late.id, department_id=world.department["CG"], level="daily", escalated_at=d)
    )
    s.commit()
    todo = todo_list.todo(s, me, NOW)
    assert [i.id for i in todo.handle] == [late.id, soon.id, grid_own.id]  # overdue on top, then by due time
    assert [i.id for i in todo.follow_up] == [call.id]
    assert (todo.handle_total, todo.overdue, todo.follow_up_total) == (3, 1, 1)
    assert [i.ageing for i in todo.handle] == ["red", "yellow", "green"]
    assert todo.handle[0].overdue(NOW) and not todo.handle[1].overdue(NOW)
    nexts = [
        todo_list.next_action(i, case_change.allowed_actions(me, i.state))
        for i in [*todo.handle, *todo.follow_up]
    ]
    # resolving waits for the department called in; the others: start, start, follow-up
    assert nexts == [None, "start", "start", "follow_up"]
    assert todo_list.todo(s, me, NOW, limit=1).handle_total == 3
    theirs = s.exec(select(Case.id).where(Case.assignee_id == other.id)).one()
    assert [i.id for i in todo_list.todo(s, other, NOW).handle] == [theirs]

    # the grid worker records the follow-up (回访) themselves
    ref = cases.follow_up(s, me, call.id, call.version, Satisfaction.basically, "电话回访")
    s.commit()
    assert ref.status == S.verified
    assert todo_list.todo(s, me, NOW).follow_up_total == 0


# ---------------------------------------------------------------- quick intake


def test_quick_case_uses_the_intake_service(world_db: tuple[Session, World]) -> None:
    s, world = world_db
    me = world.actors["grid_worker"]
    assert quick_intake.quick_title("  \n3号楼楼道堆放纸箱\n三楼到五楼") == "3号楼楼道堆放纸箱"
    assert quick_intake.quick_title("很" * 40) == "很" * 29 + "…"
    b = _buildings(s, world, 0)[1]
    data = quick_intake.quick_case(
        s,
        me,
        category_id=world.category["ENV"],
        description="2号楼门口垃圾满溢\n已三天未清运",
        building_id=b,
        place="东侧",
        reporter_name="王小明",
        reporter_phone="138 1234 5678",
    )
    assert (data.grid_id, data.title, data.address, data.source) == (
        world.grid_ids[0],
        "2号楼门口垃圾满溢",
        "2号楼 东侧",
        CaseSource.proxy,
    )
    building = s.get(Building, b)
    assert (data.lon, data.lat) == (building.lon, building.lat)  # type: ignore[union-attr]
    with clock.frozen(NOW):
        ref = case_intake.create_case(s, me, data)
    s.commit()
    case = s.get(Case, ref.id)
    assert case is not None
    assert (case.source, case.grid_id, case.reporter_phone, case.status) == (
        "proxy",
        world.grid_ids[0],
        "13812345678",
        S.reported,
    )
    # 代录 needs a contact for the follow-up, unless anonymous; a blank description has no title
    bare = quick_intake.quick_case(s, me, category_id=world.category["ENV"], description="")
    with pytest.raises(InvalidInput) as err:
        case_intake.validate_new_case(s, me, bare)
    assert set(err.value.problems) == {"title", "reporter_name", "reporter_phone"}
    anonymous = quick_intake.quick_case(
        s, me, category_id=world.category["ENV"], description="噪音扰民", anonymous=True
    )
    assert case_intake.validate_new_case(s, me, anonymous).reporter_name == ""
    with pytest.raises(DomainError):  # a building of another grid
        quick_intake.quick_case(
            s, me, category_id=world.category["ENV"], description="x", building_id=_buildings(s, world, 1)[0]
        )


# ---------------------------------------------------------------- the field overview


def test_field_overview_figures(world_db: tuple[Session, World]) -> None:
    """Four weeks to NOW. Grid 0 (4 buildings): visits 3, 1, 0, 2 per week (oldest first) = 1.5 a week, 3 of
    4 buildings reached in 30 days (one more visit 40 days ago does not count). Grid 1 (2 buildings): one
    visit, 1 building: quiet. Worker 0 has two open cases, one overdue; grid 0 has two cases due in the
    four weeks, one closed on time."""
    s, world = world_db
    me, other = world.actors["grid_worker"], world.actors["grid_worker2"]
    b0 = _buildings(s, world, 0)
    b1 = _buildings(s, world, 1)
    start = NOW - timedelta(days=28)
    for week, count in enumerate([3, 1, 0, 2]):
        for n in range(count):
            _visit(s, world, 0, start + timedelta(days=7 * week + 1, hours=n), b0[n % 3], hh=2)
    _visit(s, world, 0, NOW - timedelta(days=40), b0[3])
    _visit(s, world, 1, NOW - timedelta(days=3), b1[0])
    _visit(s, world, 2, NOW - timedelta(days=1))  # the other community
    d = NOW - timedelta(days=10)
    add_case(s, world, 0, d, S.in_progress, assignee_id=me.id, due_at=NOW - timedelta(hours=1))
    add_case(s, world, 0, d, S.dispatched, assignee_id=me.id, due_at=NOW + timedelta(days=2))
    add_case(
        s,
        world,
        0,
        d,
        S.closed,
        assignee_id=me.id,
        due_at=d + timedelta(days=3),
        closed_at=d + timedelta(days=1),
    )
    add_case(
        s,
        world,
        1,
        d,
        S.closed,
        assignee_id=other.id,
        due_at=d + timedelta(days=3),
        closed_at=d + timedelta(days=1),
    )
    s.commit()

    df = supervision.field_overview(s, world.actors["community"], weeks=4, now=NOW).set_index("grid_id")
    assert list(df.index) == [world.grid_ids[1], world.grid_ids[0]]  # only community 0, quietest first
    g0, g1 = df.loc[world.grid_ids[0]], df.loc[world.grid_ids[1]]
    assert (g0["visits"], g0["visits_per_week"], list(g0["weekly"])) == (6, 1.5, [3, 1, 0, 2])
    assert g0["households_visited"] == 12
    assert (g0["buildings"], g0["buildings_visited"], g0["coverage"]) == (4, 3, pytest.approx(0.75))
    assert (g0["worker"], g0["open_load"], g0["overdue"]) == ("测试grid_worker", 2, 1)
    assert g0["due"] == 2 and g0["on_time_rate"] == pytest.approx(0.5)
    assert not g0["blind"] and not g0["quiet"]
    assert (g1["visits"], g1["buildings_visited"], g1["coverage"]) == (1, 1, pytest.approx(0.5))
    assert g1["visits_per_week"] == pytest.approx(0.25) and bool(g1["quiet"]) is True
    assert g1["on_time_rate"] == pytest.approx(1.0) and g1["days_since_visit"] == pytest.approx(3.0)

    everyone = supervision.field_overview(s, world.actors["operator"], weeks=2, now=NOW).set_index("grid_id")
    assert set(everyone.index) == set(world.grid_ids)
    assert list(everyone.loc[world.grid_ids[0], "weekly"]) == [0, 2]
    assert bool(everyone.loc[world.grid_ids[3], "blind"]) is True  # no case, no visit ever
    assert everyone.loc[world.grid_ids[3], "worker"] == ""
    assert (
        supervision.field_overview(s, world.actors["grid_worker"], now=NOW).index.size == 1
    )  # own grid only


def test_glance_figures(world_db: tuple[Session, World]) -> None:
    s, world = world_db
    me = world.actors["grid_worker"]
    b0 = _buildings(s, world, 0)
    _visit(s, world, 0, NOW - timedelta(days=2), b0[0])
    _visit(s, world, 0, NOW - timedelta(days=40), b0[1])
    d = datetime(2026, 11, 3, 9)
    for index, on_time, good in ((0, True, True), (0, False, True), (1, True, False), (1, True, True)):
        add_case(
            s,
            world,
            index,
            d,
            S.closed,
            due_at=d + timedelta(days=3),
            accepted_at=d,
            closed_at=d + timedelta(days=2 if on_time else 4),
            satisfaction=Satisfaction.satisfied if good else Satisfaction.dissatisfied,
        )
    s.commit()
    rec = my_grid.building_recency(s, me, now=NOW)
    assert list(rec["name"]) == ["3号楼", "4号楼", "2号楼", "1号楼"]  # never visited first, then the oldest
    assert list(rec["due"]) == [True, True, True, False]
    assert rec.loc[rec["name"] == "1号楼", "days_since"].item() == pytest.approx(2.0)
    rates = my_grid.rates_vs_community(s, me, kpi.month_period(NOW.date()), now=NOW)
    assert (rates.due, rates.on_time, rates.satisfaction) == (2, pytest.approx(0.5), pytest.approx(1.0))
    assert rates.community_on_time == pytest.approx(0.75)
    assert rates.community_satisfaction == pytest.approx(0.75)
    vols = my_grid.volunteers_vs_need(s, me, now=NOW)
    assert set(vols.columns) == {"skill", "need", "supply", "gap", "coverage"}
    with pytest.raises(DomainError):
        my_grid.grid_activity(s, world.actors["grid_worker"], grid_id=world.grid_ids[2])


def test_quick_title_ends_at_a_pause() -> None:
    """Issue 19: the automatic title never stops mid-word ("存在消…")."""
    text = "3号楼楼道堆放大量纸箱和废旧家具，存在消防隐患，居民多次反映至今无人处理"
    assert quick_intake.quick_title(text) == "3号楼楼道堆放大量纸箱和废旧家具，存在消防隐患…"
