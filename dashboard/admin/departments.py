"""Departments (条): add, edit contacts, deactivate, and list them with the categories routed to them and
their open and overdue escalations (吹哨报到). Conventions of every admin change are in
:mod:`dashboard.admin.changes`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import and_, func
from sqlalchemy import case as sa_case
from sqlmodel import Session, select

from dashboard import clock
from dashboard.admin.changes import field_changes, require_admin, to_json, valid_text
from dashboard.kernel import audit
from dashboard.kernel.errors import Conflict, Invalid, NotFound
from dashboard.kernel.scope import Actor, case_filter
from dashboard.kernel.text import is_office_phone
from dashboard.reporting import kpi
from models import Case, CaseEscalation, Category, Department
from models.enums import DepartmentKind

DEPARTMENT_CODE = re.compile(r"^[A-Z][A-Z0-9_-]{0,15}$")


@dataclass
class DepartmentInput:
    name: str
    code: str
    kind: DepartmentKind | str = DepartmentKind.other
    contact_name: str = ""
    contact_phone: str = ""


def _department_values(
    session: Session, data: DepartmentInput, department_id: int | None
) -> dict[str, object]:
    name = valid_text(data.name, "name", 64)
    code = (data.code or "").strip().upper()
    if not DEPARTMENT_CODE.match(code):
        raise Invalid("admin.err_department_code")
    other = Department.id != (department_id or -1)
    if session.exec(select(Department.id).where(Department.name == name, other)).first():
        raise Invalid("admin.err_name_taken", name=name)
    if session.exec(select(Department.id).where(Department.code == code, other)).first():
        raise Invalid("admin.err_code_taken", code=code)
    try:
        kind = DepartmentKind(data.kind).value
    except ValueError:
        raise Invalid("admin.err_department_kind") from None
    contact_name = valid_text(data.contact_name, "contact_name", 32, required=False)
    phone = (data.contact_phone or "").strip()
    if phone and not is_office_phone(phone):
        raise Invalid("admin.err_phone")
    return {"name": name, "code": code, "kind": kind, "contact_name": contact_name, "contact_phone": phone}


def _department_snapshot(dept: Department) -> dict[str, object]:
    return {
        "name": dept.name,
        "code": dept.code,
        "kind": str(DepartmentKind(dept.kind).value),
        "contact_name": dept.contact_name,
        "contact_phone": dept.contact_phone,
        "active": bool(dept.active),
    }


def create_department(session: Session, actor: Actor, data: DepartmentInput) -> int:
    """Add a department (条); returns its id."""
    require_admin(actor)
    values = _department_values(session, data, None)
    dept = Department(**values, active=True)  # type: ignore[arg-type]
    session.add(dept)
    session.flush()
    audit.record(session, actor, "department_create", str(values["name"]), detail=to_json(values))
    assert dept.id is not None
    return dept.id


def update_department(
    session: Session, actor: Actor, department_id: int, data: DepartmentInput
) -> dict[str, list[object]]:
    """Change a department's name, code, kind or contacts; returns ``{field: [old, new]}``."""
    require_admin(actor)
    dept = session.get(Department, department_id)
    if dept is None:
        raise NotFound("admin.err_not_found")
    values = _department_values(session, data, department_id)
    changes = field_changes(_department_snapshot(dept), values)
    if not changes:
        return {}
    for name, value in values.items():
        setattr(dept, name, value)
    session.add(dept)
    audit.record(
        session,
        actor,
        "department_update",
        dept.name,
        detail=to_json({"code": dept.code, "changes": changes}),
    )
    return changes


def set_department_active(session: Session, actor: Actor, department_id: int, active: bool) -> bool:
    """Deactivate or reactivate a department. A department that active categories route to stays active
    until those categories are routed elsewhere, so new cases never go to a closed department."""
    require_admin(actor)
    dept = session.get(Department, department_id)
    if dept is None:
        raise NotFound("admin.err_not_found")
    if bool(dept.active) == active:
        return False
    if not active:
        routed = session.exec(
            select(Category.code)
            .where(Category.department_id == department_id, Category.active.is_(True))
            .order_by(Category.code)
        ).all()
        if routed:
            raise Conflict("admin.err_department_routed", codes=", ".join(routed))
    dept.active = active
    session.add(dept)
    audit.record(
        session,
        actor,
        "department_update",
        dept.name,
        detail=to_json({"code": dept.code, "changes": {"active": [not active, active]}}),
    )
    return True


def department_table(session: Session, actor: Actor, now: datetime | None = None) -> pd.DataFrame:
    """Departments with the categories routed to them and their open and overdue escalations (吹哨报到).

    An escalation is open while the department has not reported back and the case is still open; it is
    overdue when open past its own due time.
    """
    now = now or clock.now()
    open_cond = and_(CaseEscalation.reported_back_at.is_(None), kpi.is_open())
    esc = (
        select(
            CaseEscalation.department_id.label("department_id"),
            func.count().label("open_escalations"),
            func.sum(sa_case((CaseEscalation.due_at < now, 1), else_=0)).label("overdue"),
        )
        .join(Case, Case.id == CaseEscalation.case_id)
        .where(open_cond, case_filter(actor))
        .group_by(CaseEscalation.department_id)
    )
    counts = {row[0]: (int(row[1]), int(row[2] or 0)) for row in session.exec(esc).all()}  # type: ignore[call-overload]
    cats = session.exec(
        select(Category.department_id, Category.code)
        .where(Category.department_id.is_not(None), Category.active.is_(True))
        .order_by(Category.code)
    ).all()
    routed: dict[int, list[str]] = {}
    for dept_id, code in cats:
        routed.setdefault(dept_id, []).append(code)
    rows = session.exec(select(Department).order_by(Department.code)).all()
    records = [
        {
            "id": d.id,
            "code": d.code,
            "name": d.name,
            "kind": d.kind,
            "contact_name": d.contact_name,
            "contact_phone": d.contact_phone,
            "active": bool(d.active),
            "categories": ", ".join(routed.get(d.id, [])),  # type: ignore[arg-type]
            "open_escalations": counts.get(d.id, (0, 0))[0],
            "overdue_escalations": counts.get(d.id, (0, 0))[1],
        }
        for d in rows
    ]
    columns = [
        "id",
        "code",
        "name",
        "kind",
        "contact_name",
        "contact_phone",
        "active",
        "categories",
        "open_escalations",
        "overdue_escalations",
    ]
    return pd.DataFrame(records, columns=columns)
