"""Administration of categories: validation, audit, retire/delete, and time-limit changes that move only
new cases' due dates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlmodel import Session, func, select

from dashboard import clock
from dashboard.admin import categories
from dashboard.admin.categories import CategoryInput
from dashboard.cases import intake as case_intake
from dashboard.cases import sla
from dashboard.cases.errors import InvalidInput
from dashboard.cases.intake import NewCase
from dashboard.db import get_engine
from dashboard.kernel.errors import DomainError, NotPermitted
from models import AuditLog, Case, Category, Department
from models.enums import CalendarKind, CaseSource
from tests.factories import World, add_case, build_world


@pytest.fixture
def env(db_url: str) -> Iterator[tuple[Session, World]]:
    with Session(get_engine(db_url), expire_on_commit=False) as session:
        world = build_world(session)
        session.commit()
        yield session, world


def _input(**overrides: object) -> CategoryInput:
    values: dict[str, object] = {
        "name_zh": "环境卫生",
        "name_en": "Environment",
        "sla_limit": 3,
        "calendar": CalendarKind.working_days,
        "response_limit": 2,
        "response_calendar": CalendarKind.working_hours,
        "priority_default": "general",
        "department_id": None,
    }
    values.update(overrides)
    return CategoryInput(**values)  # type: ignore[arg-type]


def _new_case(session: Session, world: World, title: str = "新案件") -> Case:
    ref = case_intake.create_case(
        session,
        world.actors["operator"],
        NewCase(
            category_id=world.category["ENV"],
            title=title,
            source=CaseSource.walk_in,
            grid_id=world.grid_ids[0],
        ),
    )
    session.commit()
    case = session.get(Case, ref.id)
    assert case is not None
    return case


def test_time_limit_change_moves_new_cases_only(env: tuple[Session, World]) -> None:
    session, world = env
    admin_actor = world.actors["admin"]
    start = datetime(2026, 11, 2, 9)  # Monday
    with clock.frozen(start):
        old = _new_case(session, world, "旧案件")
    assert old.due_at == datetime(2026, 11, 5, 9)  # 3 working days
    old_due = old.due_at

    with clock.frozen(datetime(2026, 11, 2, 10)):
        changes = categories.update_category(
            session,
            admin_actor,
            world.category["ENV"],
            _input(sla_limit=5, department_id=world.department["CG"]),
        )
        session.commit()
    assert changes["sla_limit"] == [3.0, 5.0]

    with clock.frozen(start):
        new = _new_case(session, world, "新案件")
    assert new.due_at == datetime(2026, 11, 9, 9)  # 5 working days, over the weekend
    assert new.due_at == sla.sla_times(start, 5, CalendarKind.working_days).due_at
    session.expire_all()
    assert session.get(Case, old.id).due_at == old_due  # type: ignore[union-attr]

    # a change of calendar kind applies too: 5 natural days
    categories.update_category(
        session,
        admin_actor,
        world.category["ENV"],
        _input(sla_limit=5, calendar="natural_days", department_id=world.department["CG"]),
    )
    session.commit()
    with clock.frozen(start):
        assert _new_case(session, world).due_at == datetime(2026, 11, 7, 9)


def test_update_records_who_when_and_old_new_values(env: tuple[Session, World]) -> None:
    session, world = env
    at = datetime(2026, 11, 3, 15, 30)
    with clock.frozen(at):
        categories.update_category(
            session,
            world.actors["admin"],
            world.category["ENV"],
            _input(
                name_en="Environment & sanitation",
                sla_limit=4,
                response_limit=1,
                priority_default="urgent",
                department_id=world.department["CG"],
            ),
        )
        session.commit()
    cat = session.get(Category, world.category["ENV"])
    assert cat is not None
    assert (cat.updated_at, cat.updated_by) == (at, world.actors["admin"].id)
    assert (cat.name_en, cat.sla_limit, cat.response_limit, cat.priority_default) == (
        "Environment & sanitation",
        4,
        1,
        "urgent",
    )
    row = session.exec(select(AuditLog).where(AuditLog.action == "category_update")).one()
    assert (row.actor_id, row.at, row.target) == (world.actors["admin"].id, at, "ENV")
    detail = json.loads(row.detail)
    assert detail["changes"] == {
        "name_en": ["Environment", "Environment & sanitation"],
        "sla_limit": [3.0, 4.0],
        "response_limit": [2.0, 1.0],
        "priority_default": ["general", "urgent"],
    }
    # saving the same values again changes nothing and writes no audit row
    assert (
        categories.update_category(
            session,
            world.actors["admin"],
            world.category["ENV"],
            _input(
                name_en="Environment & sanitation",
                sla_limit=4,
                response_limit=1,
                priority_default="urgent",
                department_id=world.department["CG"],
            ),
        )
        == {}
    )
    session.commit()
    assert (
        session.exec(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "category_update")
        ).one()
        == 1
    )


def test_create_category_and_validation(env: tuple[Session, World]) -> None:
    session, world = env
    actor = world.actors["admin"]
    new_id = categories.create_category(
        session,
        actor,
        "pty",
        _input(
            name_zh="党员服务", name_en="Party members", sla_limit=10, department_id=world.department["CG"]
        ),
    )
    session.commit()
    cat = session.get(Category, new_id)
    assert cat is not None and cat.code == "PTY" and cat.active
    assert session.exec(select(AuditLog.action).where(AuditLog.target == "PTY")).all() == ["category_create"]

    bad = [
        ("E", _input(name_zh="甲")),  # code too short
        ("ENV", _input(name_zh="甲")),  # code taken
        ("NEW", _input(name_zh="")),  # name required
        ("NEW", _input(name_zh="党员服务")),  # Chinese name taken
        ("NEW", _input(name_zh="甲", sla_limit=0)),
        ("NEW", _input(name_zh="甲", sla_limit=400, calendar="working_days")),
        ("NEW", _input(name_zh="甲", calendar="fortnights")),
        ("NEW", _input(name_zh="甲", response_limit=-1)),
        ("NEW", _input(name_zh="甲", priority_default="whenever")),
        ("NEW", _input(name_zh="甲", department_id=999_999)),
    ]
    for code, data in bad:
        with pytest.raises(DomainError):
            categories.create_category(session, actor, code, data)
        session.rollback()
    assert session.exec(select(func.count()).select_from(Category)).one() == 2

    # an inactive department cannot become the default department
    dept = Department(name="司法所", code="SF", active=False)
    session.add(dept)
    session.commit()
    with pytest.raises(DomainError) as err:
        categories.create_category(session, actor, "NEW", _input(name_zh="甲", department_id=dept.id))
    assert err.value.key == "admin.err_department_inactive"


def test_invalid_update_leaves_nothing_half_saved(env: tuple[Session, World], db_url: str) -> None:
    session, world = env
    with pytest.raises(DomainError):
        # names are fine, the response calendar is not: nothing of it may be saved
        categories.update_category(
            session,
            world.actors["admin"],
            world.category["ENV"],
            _input(name_zh="改名", sla_limit=9, response_calendar="lunar"),
        )
    session.rollback()
    with Session(get_engine(db_url)) as other:
        cat = other.get(Category, world.category["ENV"])
        assert cat is not None and (cat.name_zh, cat.sla_limit, cat.updated_by) == ("环境卫生", 3, None)
        assert other.exec(select(func.count()).select_from(AuditLog)).one() == 0


def test_only_admins_change_categories(env: tuple[Session, World]) -> None:
    session, world = env
    for role in ("leader", "operator", "grid_worker"):
        with pytest.raises(NotPermitted):
            categories.update_category(
                session, world.actors[role], world.category["ENV"], _input(sla_limit=1)
            )
        with pytest.raises(NotPermitted):
            categories.set_category_active(session, world.actors[role], world.category["ENV"], False)


def test_retire_restore_and_delete(env: tuple[Session, World]) -> None:
    session, world = env
    actor = world.actors["admin"]
    with pytest.raises(DomainError) as err:
        categories.set_category_active(session, actor, world.category["ENV"], False)
    assert err.value.key == "admin.err_last_category"
    other = categories.create_category(
        session, actor, "SUG", _input(name_zh="意见建议", name_en="Suggestions")
    )
    add_case(session, world)
    session.commit()

    assert categories.set_category_active(session, actor, world.category["ENV"], False)
    session.commit()
    assert not session.get(Category, world.category["ENV"]).active  # type: ignore[union-attr]
    # already retired
    assert categories.set_category_active(session, actor, world.category["ENV"], False) is False
    # a retired category takes no new cases
    with pytest.raises(InvalidInput):
        case_intake.create_case(
            session,
            world.actors["operator"],
            NewCase(
                category_id=world.category["ENV"], title="x", source="walk_in", grid_id=world.grid_ids[0]
            ),
        )
    session.rollback()
    table = categories.category_table(session).set_index("code")
    assert not table.loc["ENV", "active"] and table.loc["ENV", "in_use"] and not table.loc["SUG", "in_use"]

    with pytest.raises(DomainError) as err:
        categories.delete_category(session, actor, world.category["ENV"])
    assert err.value.key == "admin.err_category_in_use"
    categories.set_category_active(session, actor, world.category["ENV"], True)
    categories.delete_category(session, actor, other)
    session.commit()
    assert session.get(Category, other) is None
    actions = session.exec(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["category_create", "category_update", "category_update", "category_delete"]
