"""Administration of departments (条): add, edit contacts, deactivate, and the per-department overview of
routed categories and open/overdue escalations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, func, select

from dashboard.admin import departments
from dashboard.admin.departments import DepartmentInput
from dashboard.db import get_engine
from dashboard.kernel.errors import DomainError, NotPermitted
from dashboard.kernel.scope import Actor
from models import AuditLog, CaseEscalation, Category, Department
from models.enums import CaseStatus, EscalationLevel, Role
from tests.factories import World, add_case, build_world


@pytest.fixture
def env(db_url: str) -> Iterator[tuple[Session, World]]:
    with Session(get_engine(db_url), expire_on_commit=False) as session:
        world = build_world(session)  # department 城管 (CG), category ENV routed to it
        session.commit()
        yield session, world


def test_create_edit_and_validate(env: tuple[Session, World], db_url: str) -> None:
    session, world = env
    actor = world.actors["admin"]
    dept_id = departments.create_department(
        session, actor, DepartmentInput("民政办", "mz", "civil_affairs", "王主任", "0527-84361234")
    )
    session.commit()
    dept = session.get(Department, dept_id)
    assert dept is not None and (dept.code, dept.kind, dept.active) == ("MZ", "civil_affairs", True)

    changes = departments.update_department(
        session, actor, dept_id, DepartmentInput("民政办", "MZ", "civil_affairs", "李主任", "13812345678")
    )
    session.commit()
    assert changes == {
        "contact_name": ["王主任", "李主任"],
        "contact_phone": ["0527-84361234", "13812345678"],
    }
    row = session.exec(select(AuditLog).where(AuditLog.action == "department_update")).one()
    assert json.loads(row.detail)["changes"] == changes

    for data, key in [
        (DepartmentInput("城管", "NEW"), "admin.err_name_taken"),
        (DepartmentInput("新部门", "CG"), "admin.err_code_taken"),
        (DepartmentInput("新部门", "9X"), "admin.err_department_code"),
        (DepartmentInput("", "NEW"), "admin.err_required"),
        (DepartmentInput("新部门", "NEW", "aliens"), "admin.err_department_kind"),
        (DepartmentInput("新部门", "NEW", "other", "", "call me"), "admin.err_phone"),
        (DepartmentInput("新部门", "NEW", "other", "x" * 33), "admin.err_too_long"),
    ]:
        with pytest.raises(DomainError) as err:
            departments.update_department(session, actor, dept_id, data)
        assert err.value.key == key, data
        session.rollback()
    with pytest.raises(NotPermitted):
        departments.create_department(session, world.actors["leader"], DepartmentInput("新部门", "NEW"))
    with Session(get_engine(db_url)) as other:
        assert other.exec(select(func.count()).select_from(Department)).one() == 2
        assert other.get(Department, dept_id).contact_name == "李主任"  # type: ignore[union-attr]


def test_deactivate_only_when_no_category_routes_to_it(env: tuple[Session, World]) -> None:
    session, world = env
    actor = world.actors["admin"]
    with pytest.raises(DomainError) as err:
        departments.set_department_active(session, actor, world.department["CG"], False)
    assert err.value.key == "admin.err_department_routed" and err.value.values == {"codes": "ENV"}
    session.rollback()
    cat = session.get(Category, world.category["ENV"])
    assert cat is not None
    cat.department_id = None
    session.add(cat)
    session.commit()
    assert departments.set_department_active(session, actor, world.department["CG"], False)
    session.commit()
    assert not session.get(Department, world.department["CG"]).active  # type: ignore[union-attr]
    assert departments.set_department_active(session, actor, world.department["CG"], False) is False
    assert departments.set_department_active(session, actor, world.department["CG"], True)


def test_department_table_counts_escalations(env: tuple[Session, World]) -> None:
    session, world = env
    now = datetime(2026, 11, 10, 9)
    other = Department(name="住建", code="ZJ")
    session.add(other)
    session.flush()

    def escalate(
        status: CaseStatus, due: datetime, back: datetime | None = None, dept: int | None = None
    ) -> None:
        case = add_case(session, world, 0, datetime(2026, 11, 2, 9), status)
        session.add(
            CaseEscalation(
                case_id=case.id,
                department_id=dept or world.department["CG"],  # type: ignore[arg-type]
                level=EscalationLevel.daily,
                escalated_at=datetime(2026, 11, 2, 10),
                due_at=due,
                reported_back_at=back,
            )
        )

    escalate(CaseStatus.in_progress, now + timedelta(days=1))  # open
    escalate(CaseStatus.in_progress, now - timedelta(days=1))  # open, overdue
    escalate(CaseStatus.dispatched, now - timedelta(days=1), back=now - timedelta(days=2))  # reported back
    escalate(CaseStatus.closed, now - timedelta(days=1))  # case closed
    escalate(CaseStatus.accepted, now - timedelta(hours=1), dept=other.id)  # other department, overdue
    session.commit()

    table = departments.department_table(session, world.actors["admin"], now).set_index("code")
    assert table.loc["CG", "categories"] == "ENV" and table.loc["ZJ", "categories"] == ""
    assert (table.loc["CG", "open_escalations"], table.loc["CG", "overdue_escalations"]) == (2, 1)
    assert (table.loc["ZJ", "open_escalations"], table.loc["ZJ", "overdue_escalations"]) == (1, 1)
    # scoped like every case query: another community's actor sees none of grid 0's escalations
    scoped = departments.department_table(
        session, Actor(99, "c2", "c2", Role.community, community_id=world.community_ids[1]), now
    )
    assert scoped["open_escalations"].sum() == 0
