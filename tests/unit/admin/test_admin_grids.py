"""Administration of communities and grids: codes, worker reassignment with history (and figures per worker
over time), moving open cases only on request, and population aggregates with a date they apply from."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

import pytest
from sqlmodel import Session, func, select

from dashboard import clock
from dashboard.admin import grids, population
from dashboard.db import get_engine
from dashboard.kernel.errors import DomainError
from dashboard.kernel.scope import Actor
from dashboard.reporting import kpi
from models import AuditLog, Case, CaseEvent, Community, Grid, GridPopulationHistory, GridWorkerHistory, User
from models.enums import CaseStatus, Role
from tests.factories import World, add_case, build_world

T0 = datetime(2026, 1, 1)


@dataclass
class Env:
    session: Session
    world: World
    old_worker: int
    new_worker: int
    spare_worker: int

    @property
    def admin(self):  # type: ignore[no-untyped-def]
        return self.world.actors["admin"]


def _worker(session: Session, name: str, grid_id: int | None = None) -> int:
    user = User(
        username=name,
        display_name=f"网格员{name}",
        role=Role.grid_worker,
        password_hash="x",
        created_at=T0,
        grid_id=grid_id,
    )
    session.add(user)
    session.flush()
    assert user.id is not None
    return user.id


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    with Session(get_engine(db_url), expire_on_commit=False) as session:
        world = build_world(session)
        grid_id = world.grid_ids[0]
        old = _worker(session, "gw-old", grid_id)
        new = _worker(session, "gw-new")
        spare = _worker(session, "gw-spare")
        grid = session.get(Grid, grid_id)
        assert grid is not None
        grid.worker_id = old
        session.add(GridWorkerHistory(grid_id=grid_id, user_id=old, started_at=T0))
        session.commit()
        yield Env(session, world, old, new, spare)


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


# ---------------------------------------------------------------- codes and names


def test_grid_rename_and_code_validation(env: Env) -> None:
    s, w = env.session, env.world
    grid_id = w.grid_ids[0]
    changes = grids.update_grid(s, env.admin, grid_id, name="老街网格", code="ts-01-07")
    s.commit()
    assert changes == {"name": ["测试1社区第1网格", "老街网格"], "code": ["TS-01-01", "TS-01-07"]}
    grid = s.get(Grid, grid_id)
    assert grid is not None and (grid.code, grid.name) == ("TS-01-07", "老街网格")
    assert s.exec(select(AuditLog.action, AuditLog.target)).all() == [("grid_update", "TS-01-07")]

    for name, code, key in [
        ("老街网格", "TS-02-09", "admin.err_grid_code"),  # another community's prefix
        ("老街网格", "TS-01-07-1", "admin.err_grid_code"),
        ("老街网格", "TS-01-", "admin.err_grid_code"),
        ("老街网格", "TS-01-02", "admin.err_code_taken"),
        ("测试1社区第2网格", "TS-01-07", "admin.err_name_taken"),
        ("", "TS-01-07", "admin.err_required"),
    ]:
        with pytest.raises(DomainError) as err:
            grids.update_grid(s, env.admin, grid_id, name=name, code=code)
        assert err.value.key == key, (name, code)
        s.rollback()
    assert grids.update_grid(s, env.admin, grid_id, name="老街网格", code="TS-01-07") == {}


def test_community_code_change_renames_its_grids(env: Env) -> None:
    s, w = env.session, env.world
    changes = grids.update_community(s, env.admin, w.community_ids[0], name="老街社区", code="TS-09")
    s.commit()
    assert changes == {"name": ["测试1社区", "老街社区"], "code": ["TS-01", "TS-09"]}
    codes = s.exec(select(Grid.code).where(Grid.community_id == w.community_ids[0]).order_by(Grid.code)).all()
    assert codes == ["TS-09-01", "TS-09-02"]
    # other community untouched
    assert s.exec(
        select(Grid.code).where(Grid.community_id == w.community_ids[1]).order_by(Grid.code)
    ).all() == ["TS-02-01", "TS-02-02"]
    detail = json.loads(s.exec(select(AuditLog.detail).where(AuditLog.action == "community_update")).one())
    assert detail["grid_codes"] == {"TS-01-01": "TS-09-01", "TS-01-02": "TS-09-02"}


def test_community_code_clash_saves_nothing(env: Env, db_url: str) -> None:
    s, w = env.session, env.world
    # a stray grid already holds a code the cascade would produce
    stray = s.get(Grid, w.grid_ids[2])
    assert stray is not None
    stray.code = "TS-09-02"
    s.add(stray)
    s.commit()
    for code, key in [
        ("TS-09", "admin.err_code_taken"),
        ("TS-02", "admin.err_code_taken"),
        ("ts_09", "admin.err_community_code"),
    ]:
        with pytest.raises(DomainError) as err:
            grids.update_community(s, env.admin, w.community_ids[0], name="老街社区", code=code)
        assert err.value.key == key
        s.rollback()
    with Session(get_engine(db_url)) as other:
        assert other.get(Community, w.community_ids[0]).code == "TS-01"  # type: ignore[union-attr]
        assert sorted(other.exec(select(Grid.code)).all()) == ["TS-01-01", "TS-01-02", "TS-02-02", "TS-09-02"]
        assert _count(other, AuditLog) == 0


# ---------------------------------------------------------------- worker reassignment


def _grid_cases(env: Env) -> dict[str, Case]:
    """Cases of grid 0: two open assigned to the old worker, one closed, one open with another handler."""
    s, w = env.session, env.world
    made = {
        "open1": add_case(
            s,
            w,
            0,
            datetime(2026, 3, 2, 9),
            CaseStatus.in_progress,
            assignee_id=env.old_worker,
            accepted_at=datetime(2026, 3, 2, 9, 30),
        ),
        "open2": add_case(
            s,
            w,
            0,
            datetime(2026, 3, 3, 9),
            CaseStatus.accepted,
            assignee_id=env.old_worker,
            accepted_at=datetime(2026, 3, 3, 9, 30),
        ),
        "closed": add_case(
            s,
            w,
            0,
            datetime(2026, 2, 2, 9),
            CaseStatus.closed,
            assignee_id=env.old_worker,
            accepted_at=datetime(2026, 2, 2, 10),
            closed_at=datetime(2026, 2, 3, 9),
        ),
        "dept": add_case(
            s, w, 0, datetime(2026, 3, 4, 9), CaseStatus.dispatched, assignee_id=w.actors["department"].id
        ),
        "other_grid": add_case(
            s, w, 1, datetime(2026, 3, 4, 9), CaseStatus.accepted, assignee_id=env.old_worker
        ),
    }
    s.commit()
    return made


def test_reassign_without_moving_cases(env: Env) -> None:
    s, w = env.session, env.world
    made = {k: (c.id, c.assignee_id, c.version) for k, c in _grid_cases(env).items()}
    grid_id = w.grid_ids[0]
    assert grids.movable_case_count(s, env.admin, grid_id) == 2
    at = datetime(2026, 4, 1, 9)
    with clock.frozen(at):
        result = grids.assign_worker(s, env.admin, grid_id, env.new_worker)
        s.commit()
    assert (result.old_worker_id, result.new_worker_id, result.moved_case_ids) == (
        env.old_worker,
        env.new_worker,
        [],
    )
    s.expire_all()
    assert s.get(Grid, grid_id).worker_id == env.new_worker  # type: ignore[union-attr]
    assert s.get(User, env.new_worker).grid_id == grid_id  # type: ignore[union-attr]
    assert s.get(User, env.old_worker).grid_id is None  # type: ignore[union-attr]
    for case_id, assignee, version in made.values():
        fresh = s.get(Case, case_id)
        assert fresh is not None and (fresh.assignee_id, fresh.version) == (assignee, version)
    assert _count(s, CaseEvent) == 0
    history = s.exec(
        select(GridWorkerHistory.user_id, GridWorkerHistory.started_at, GridWorkerHistory.ended_at)
        .where(GridWorkerHistory.grid_id == grid_id)
        .order_by(GridWorkerHistory.started_at)
    ).all()
    assert history == [(env.old_worker, T0, at), (env.new_worker, at, None)]
    assert list(grids.worker_history(s, grid_id)["user_id"]) == [env.new_worker, env.old_worker]
    audit_row = s.exec(select(AuditLog).where(AuditLog.action == "grid_worker_assign")).one()
    assert json.loads(audit_row.detail)["changes"] == {"worker_id": [env.old_worker, env.new_worker]}


def test_reassign_moving_open_cases(env: Env) -> None:
    s, w = env.session, env.world
    made = {k: (c.id, c.assignee_id, c.version, c.status) for k, c in _grid_cases(env).items()}
    grid_id = w.grid_ids[0]
    with clock.frozen(datetime(2026, 4, 1, 9)):
        result = grids.assign_worker(s, env.admin, grid_id, env.new_worker, move_open_cases=True)
        s.commit()
    assert sorted(result.moved_case_ids) == sorted([made["open1"][0], made["open2"][0]])
    s.expire_all()
    for key, (case_id, assignee, version, status) in made.items():
        fresh = s.get(Case, case_id)
        assert fresh is not None
        if key in ("open1", "open2"):
            assert (fresh.assignee_id, fresh.version, fresh.status) == (env.new_worker, version + 1, status)
            assert fresh.updated_at == datetime(2026, 4, 1, 9)
        else:
            assert (fresh.assignee_id, fresh.version) == (assignee, version)
    events = s.exec(select(CaseEvent).order_by(CaseEvent.case_id)).all()
    assert [e.case_id for e in events] == sorted(result.moved_case_ids)
    for event in events:
        assert event.action == "comment" and event.to_status is None  # a side action, as every other
        assert event.actor_id == env.admin.id
        payload = json.loads(event.payload)
        assert payload == {
            "kind": "reassign",
            "grid": "TS-01-01",
            "from_user": env.old_worker,
            "to_user": env.new_worker,
        }


def test_reassign_validation_saves_nothing(env: Env, db_url: str) -> None:
    s, w = env.session, env.world
    _grid_cases(env)
    grid_id = w.grid_ids[0]
    # the spare worker holds grid 1 already
    grids.assign_worker(s, env.admin, w.grid_ids[1], env.spare_worker)
    s.commit()
    before = (_count(s, GridWorkerHistory), _count(s, AuditLog))
    cases_for = [
        (w.actors["operator"].id, "admin.err_worker_invalid"),  # not a grid worker
        (999_999, "admin.err_worker_invalid"),
        (env.old_worker, "admin.err_worker_unchanged"),
        (env.spare_worker, "admin.err_worker_busy"),
    ]
    for user_id, key in cases_for:
        with pytest.raises(DomainError) as err:
            grids.assign_worker(s, env.admin, grid_id, user_id, move_open_cases=True)
        assert err.value.key == key
        s.rollback()
    with pytest.raises(DomainError) as err:  # cases cannot move to nobody
        grids.assign_worker(s, env.admin, grid_id, None, move_open_cases=True)
    assert err.value.key == "admin.err_move_needs_workers"
    s.rollback()
    with Session(get_engine(db_url)) as other:
        assert other.get(Grid, grid_id).worker_id == env.old_worker  # type: ignore[union-attr]
        assert (_count(other, GridWorkerHistory), _count(other, AuditLog)) == before
        assert _count(other, CaseEvent) == 0
        assert (
            other.exec(select(func.count()).select_from(Case).where(Case.assignee_id == env.new_worker)).one()
            == 0
        )
    # a deactivated worker cannot take a grid
    user = s.get(User, env.new_worker)
    assert user is not None
    user.active = False
    s.add(user)
    s.commit()
    with pytest.raises(DomainError):
        grids.assign_worker(s, env.admin, grid_id, env.new_worker)


def test_vacant_grid_and_missing_history(env: Env) -> None:
    """A grid whose worker has no history row: the tenure is recorded as held since records began."""
    s, w = env.session, env.world
    grid_id = w.grid_ids[2]
    legacy = _worker(s, "gw-legacy", grid_id)
    grid = s.get(Grid, grid_id)
    assert grid is not None
    grid.worker_id = legacy
    s.commit()
    with clock.frozen(datetime(2026, 5, 1)):
        grids.assign_worker(s, env.admin, grid_id, None)
        s.commit()
    rows = s.exec(
        select(GridWorkerHistory.user_id, GridWorkerHistory.started_at, GridWorkerHistory.ended_at).where(
            GridWorkerHistory.grid_id == grid_id
        )
    ).all()
    assert rows == [(legacy, grids.RECORDS_BEGIN, datetime(2026, 5, 1))]
    assert s.get(Grid, grid_id).worker_id is None  # type: ignore[union-attr]
    assert grids.movable_case_count(s, env.admin, grid_id) == 0
    with clock.frozen(datetime(2026, 5, 2)):
        grids.assign_worker(s, env.admin, grid_id, env.spare_worker)
        s.commit()
    assert len(grids.worker_history(s, grid_id)) == 2


def test_worker_figures_follow_who_held_the_grid(env: Env) -> None:
    s, w = env.session, env.world
    grid_id = w.grid_ids[0]
    # three cases under the old worker (one of them later closed by the new worker), two after the change
    for day in (2, 3, 4):
        add_case(
            s,
            w,
            0,
            datetime(2026, 3, day, 9),
            CaseStatus.accepted,
            assignee_id=env.old_worker,
            accepted_at=datetime(2026, 3, day, 9, 30),
        )
    add_case(s, w, 1, datetime(2026, 3, 5, 9))  # another grid: nobody's here
    s.commit()
    period = kpi.Period(datetime(2026, 1, 1), datetime(2027, 1, 1))
    before_old = grids.worker_figures(s, env.old_worker, period, actor=env.admin, now=datetime(2026, 3, 31))
    assert before_old.reported == 3 and before_old.accepted == 3

    with clock.frozen(datetime(2026, 4, 1, 9)):
        grids.assign_worker(s, env.admin, grid_id, env.new_worker, move_open_cases=True)
        s.commit()
    for day in (6, 7):
        add_case(s, w, 0, datetime(2026, 4, day, 9), CaseStatus.reported)
    s.commit()

    now = datetime(2026, 4, 30)
    old = grids.worker_figures(s, env.old_worker, period, actor=env.admin, now=now)
    new = grids.worker_figures(s, env.new_worker, period, actor=env.admin, now=now)
    assert (old.reported, old.accepted) == (3, 3)  # the old worker keeps their history
    assert (new.reported, new.accepted) == (2, 0)
    grid_total = kpi.figures(s, env.admin, period, grid_id=grid_id, now=now)
    assert old.reported + new.reported == grid_total.reported == 5
    assert grids.worker_figures(s, env.spare_worker, period, actor=env.admin, now=now).reported == 0
    # limited to the actor's scope like every figure
    outsider = Actor(999, "c2", "社区2", Role.community, community_id=w.community_ids[1])
    assert grids.worker_figures(s, env.old_worker, period, actor=outsider, now=now).reported == 0


# ---------------------------------------------------------------- population


def test_population_applies_from_its_date(env: Env) -> None:
    s, w = env.session, env.world
    grid_id = w.grid_ids[0]
    figures = {"households": 120, "residents": 500, "elderly_60": 100, "elderly_alone": 20}
    with clock.frozen(datetime(2026, 6, 10, 9)):
        assert population.set_population(s, env.admin, grid_id, figures, date(2026, 6, 1)) is True
        s.commit()
    grid = s.get(Grid, grid_id)
    assert grid is not None
    assert (grid.households, grid.residents, grid.elderly_60, grid.elderly_alone, grid.population_as_of) == (
        120,
        500,
        100,
        20,
        date(2026, 6, 1),
    )

    # a future date is recorded but applied only when it comes
    with clock.frozen(datetime(2026, 6, 10, 9)):
        assert population.set_population(s, env.admin, grid_id, {"residents": 520}, date(2026, 7, 1)) is False
        # a back-dated entry older than what the grid holds is history only
        assert population.set_population(s, env.admin, grid_id, {"residents": 480}, date(2026, 5, 1)) is False
        s.commit()
    s.refresh(grid)
    assert grid.residents == 500
    assert population.apply_due_population(s, date(2026, 6, 30)) == 0
    assert population.apply_due_population(s, date(2026, 7, 1)) == 1
    s.commit()
    s.refresh(grid)
    assert (grid.residents, grid.households, grid.population_as_of) == (520, 120, date(2026, 7, 1))
    assert population.apply_due_population(s, date(2026, 7, 2)) == 0

    history = population.population_history(s, grid_id)
    assert list(history["effective_from"]) == [date(2026, 7, 1), date(2026, 6, 1), date(2026, 5, 1)]
    assert list(history["residents"]) == [520, 500, 480]
    assert (
        s.exec(select(func.count()).select_from(AuditLog).where(AuditLog.action == "grid_population")).one()
        == 3
    )


def test_population_validation_saves_nothing(env: Env, db_url: str) -> None:
    s, w = env.session, env.world
    grid_id = w.grid_ids[0]
    with clock.frozen(datetime(2026, 6, 10, 9)):
        for figures, day, key in [
            ({"residents": -1}, date(2026, 6, 1), "admin.err_population_value"),
            ({"residents": 2.5}, date(2026, 6, 1), "admin.err_population_value"),
            ({"residents": "many"}, date(2026, 6, 1), "admin.err_population_value"),
            ({"residents": True}, date(2026, 6, 1), "admin.err_population_value"),
            ({"pets": 3}, date(2026, 6, 1), "admin.err_population_field"),
            ({"elderly_60": 10, "elderly_alone": 11}, date(2026, 6, 1), "admin.err_population_subset"),
            ({"residents": 10}, date(2030, 1, 1), "admin.err_date_range"),
            ({"residents": 10}, date(1999, 1, 1), "admin.err_date_range"),
        ]:
            with pytest.raises(DomainError) as err:
                population.set_population(s, env.admin, grid_id, figures, day)
            assert err.value.key == key, figures
            s.rollback()
    with Session(get_engine(db_url)) as other:
        grid = other.get(Grid, grid_id)
        assert grid is not None and (grid.residents, grid.population_as_of) == (450, None)
        assert _count(other, GridPopulationHistory) == 0
        assert _count(other, AuditLog) == 0


def test_concurrent_reassignment_is_refused(env: Env, db_url: str) -> None:
    """Two admins change the same grid's worker from the same page: the second change writes nothing."""
    s, w = env.session, env.world
    grid_id = w.grid_ids[0]
    s.get(Grid, grid_id)  # the first admin's page shows the old worker (kept in this session, not reloaded)
    s.commit()
    with Session(get_engine(db_url)) as other:
        grids.assign_worker(other, env.admin, grid_id, env.spare_worker)
        other.commit()
    with pytest.raises(DomainError) as err:
        grids.assign_worker(s, env.admin, grid_id, env.new_worker, move_open_cases=True)
    assert err.value.key == "admin.err_changed_meanwhile"
    s.rollback()
    s.expire_all()
    assert s.get(Grid, grid_id).worker_id == env.spare_worker  # type: ignore[union-attr]
    open_rows = s.exec(
        select(GridWorkerHistory.user_id).where(
            GridWorkerHistory.grid_id == grid_id, GridWorkerHistory.ended_at.is_(None)
        )
    ).all()
    assert open_rows == [env.spare_worker]
