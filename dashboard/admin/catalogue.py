"""Administration: categories and their time limits, departments, communities and grids, grid workers,
population aggregates and the local working calendar.

Every change function checks that the actor is an admin, validates everything before it writes anything
(raising :class:`AdminError`, whose ``key`` is an i18n key), writes one `audit_log` row with the old and
new values, and leaves the commit to the caller's session, so a rejected change saves nothing.

Changes apply to what happens next: a category's new time limit or a new calendar override moves the due
dates of cases created afterwards (the case service reads the category and ``sla.load_calendar`` when a
case is created); existing cases keep the due dates they were given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import chinese_calendar
import pandas as pd
from sqlalchemy import ColumnElement, and_, exists, func, or_, update
from sqlalchemy import case as sa_case
from sqlmodel import Session, select

from dashboard import clock
from dashboard.admin import audit
from dashboard.cases import sla
from dashboard.kernel.scope import Actor, ScopeError, case_filter
from dashboard.reporting import kpi
from models import (
    AuditLog,
    CalendarOverride,
    Case,
    CaseEscalation,
    CaseEvent,
    Category,
    Community,
    Department,
    Grid,
    GridPopulationHistory,
    GridWorkerHistory,
    User,
)
from models.enums import (
    OPEN_STATUSES,
    POPULATION_FIELDS,
    CalendarKind,
    CalendarOverrideKind,
    DepartmentKind,
    Priority,
    Role,
)


class AdminError(ValueError):
    """A rejected change; nothing was written. ``key`` is an i18n key, ``params`` its placeholders."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def _require_admin(actor: Actor) -> None:
    if actor.role != Role.admin:
        raise ScopeError("app.forbidden")


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


def _changes(before: Mapping[str, object], after: Mapping[str, object]) -> dict[str, list[object]]:
    """``{field: [old, new]}`` for the fields whose value differs."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def _text(value: str, key: str, max_length: int, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise AdminError("admin.err_required", field=key)
    if len(text) > max_length:
        raise AdminError("admin.err_too_long", field=key, maximum=max_length)
    return text


# ---------------------------------------------------------------- categories

CATEGORY_CODE = re.compile(r"^[A-Z][A-Z0-9]{1,7}$")
"""Category codes: 2–8 capital letters or digits, starting with a letter (e.g. ``ENV``)."""

MAX_LIMIT: dict[CalendarKind, float] = {
    CalendarKind.natural_hours: 24 * 366,
    CalendarKind.working_hours: 8 * 250,
    CalendarKind.working_days: 250,
    CalendarKind.natural_days: 366,
}
"""The longest time limit accepted per calendar (about a year)."""


@dataclass
class CategoryInput:
    """The editable fields of a category (the code is fixed once created)."""

    name_zh: str
    name_en: str
    sla_limit: float
    calendar: CalendarKind | str
    response_limit: float
    response_calendar: CalendarKind | str
    priority_default: Priority | str = Priority.general
    department_id: int | None = None


def _category_values(
    session: Session, data: CategoryInput, category_id: int | None, current_department: int | None
) -> dict[str, object]:
    """The validated column values of `data` (raises AdminError on the first problem)."""
    name_zh = _text(data.name_zh, "name_zh", 32)
    name_en = _text(data.name_en, "name_en", 64)
    clash = session.exec(
        select(Category.code).where(
            func.lower(Category.name_zh) == name_zh.lower(), Category.id != (category_id or -1)
        )
    ).first()
    if clash:
        raise AdminError("admin.err_category_name_taken", name=name_zh, code=clash)
    values: dict[str, object] = {"name_zh": name_zh, "name_en": name_en}
    for limit_field, calendar_field in (("sla_limit", "calendar"), ("response_limit", "response_calendar")):
        try:
            kind = CalendarKind(getattr(data, calendar_field))
        except ValueError:
            raise AdminError("admin.err_calendar", field=calendar_field) from None
        try:
            amount = float(getattr(data, limit_field))
        except (TypeError, ValueError):
            raise AdminError("admin.err_limit", field=limit_field, maximum=MAX_LIMIT[kind]) from None
        if not (0 < amount <= MAX_LIMIT[kind]):
            raise AdminError("admin.err_limit", field=limit_field, maximum=MAX_LIMIT[kind])
        values[limit_field], values[calendar_field] = amount, kind.value
    try:
        values["priority_default"] = Priority(data.priority_default).value
    except ValueError:
        raise AdminError("admin.err_priority") from None
    if data.department_id is not None:
        dept = session.get(Department, data.department_id)
        if dept is None:
            raise AdminError("admin.err_department_missing")
        if not dept.active and data.department_id != current_department:
            raise AdminError("admin.err_department_inactive", name=dept.name)
    values["department_id"] = data.department_id
    return values


def _category_snapshot(cat: Category) -> dict[str, object]:
    return {
        "name_zh": cat.name_zh,
        "name_en": cat.name_en,
        "sla_limit": float(cat.sla_limit),
        "calendar": str(CalendarKind(cat.calendar).value),
        "response_limit": float(cat.response_limit),
        "response_calendar": str(CalendarKind(cat.response_calendar).value),
        "priority_default": str(Priority(cat.priority_default).value),
        "department_id": cat.department_id,
        "active": bool(cat.active),
    }


def create_category(session: Session, actor: Actor, code: str, data: CategoryInput) -> int:
    """Add a category; returns its id."""
    _require_admin(actor)
    code = (code or "").strip().upper()
    if not CATEGORY_CODE.match(code):
        raise AdminError("admin.err_category_code")
    if session.exec(select(Category.id).where(Category.code == code)).first():
        raise AdminError("admin.err_code_taken", code=code)
    values = _category_values(session, data, None, None)
    now = clock.now()
    cat = Category(code=code, **values, active=True, updated_at=now, updated_by=actor.id)  # type: ignore[arg-type]
    session.add(cat)
    session.flush()
    audit.record(session, actor, "category_create", code, detail=_json(values))
    assert cat.id is not None
    return cat.id


def update_category(
    session: Session, actor: Actor, category_id: int, data: CategoryInput
) -> dict[str, list[object]]:
    """Change a category's names, limits, calendars, priority or department; returns ``{field: [old, new]}``.

    Applies to cases created from now on; existing cases keep their due dates. Nothing is written when
    nothing changed.
    """
    _require_admin(actor)
    cat = session.get(Category, category_id)
    if cat is None:
        raise AdminError("admin.err_not_found")
    values = _category_values(session, data, category_id, cat.department_id)
    changes = _changes(_category_snapshot(cat), values)
    if not changes:
        return {}
    for name, value in values.items():
        setattr(cat, name, value)
    cat.updated_at = clock.now()
    cat.updated_by = actor.id
    session.add(cat)
    audit.record(
        session, actor, "category_update", cat.code, detail=_json({"code": cat.code, "changes": changes})
    )
    return changes


def set_category_active(session: Session, actor: Actor, category_id: int, active: bool) -> bool:
    """Retire (active=False) or restore a category; retired ones take no new cases but keep their history."""
    _require_admin(actor)
    cat = session.get(Category, category_id)
    if cat is None:
        raise AdminError("admin.err_not_found")
    if bool(cat.active) == active:
        return False
    if not active:
        remaining = session.exec(
            select(func.count())
            .select_from(Category)
            .where(Category.active.is_(True), Category.id != category_id)
        ).one()
        if not remaining:
            raise AdminError("admin.err_last_category")
    cat.active = active
    cat.updated_at = clock.now()
    cat.updated_by = actor.id
    session.add(cat)
    audit.record(
        session,
        actor,
        "category_update",
        cat.code,
        detail=_json({"code": cat.code, "changes": {"active": [not active, active]}}),
    )
    return True


def category_in_use(session: Session, category_id: int) -> bool:
    """Whether any case uses the category (then it can only be retired, never deleted)."""
    return session.exec(select(exists().where(Case.category_id == category_id))).one()


def delete_category(session: Session, actor: Actor, category_id: int) -> None:
    """Delete a category that no case uses (e.g. one added by mistake); used ones can only be retired."""
    _require_admin(actor)
    cat = session.get(Category, category_id)
    if cat is None:
        raise AdminError("admin.err_not_found")
    if category_in_use(session, category_id):
        raise AdminError("admin.err_category_in_use", code=cat.code)
    audit.record(session, actor, "category_delete", cat.code, detail=_json(_category_snapshot(cat)))
    session.delete(cat)


def category_table(session: Session) -> pd.DataFrame:
    """Every category with its department name, who changed it last and whether cases use it, by code."""
    editor = select(User.display_name).where(User.id == Category.updated_by).scalar_subquery()
    used = exists().where(Case.category_id == Category.id)
    stmt = (
        select(
            Category.id,
            Category.code,
            Category.name_zh,
            Category.name_en,
            Category.sla_limit,
            Category.calendar,
            Category.response_limit,
            Category.response_calendar,
            Category.priority_default,
            Category.department_id,
            Department.name,
            Category.active,
            Category.updated_at,
            editor,
            used,
        )
        .outerjoin(Department, Department.id == Category.department_id)
        .order_by(Category.code)
    )
    columns = [
        "id",
        "code",
        "name_zh",
        "name_en",
        "sla_limit",
        "calendar",
        "response_limit",
        "response_calendar",
        "priority_default",
        "department_id",
        "department",
        "active",
        "updated_at",
        "updated_by",
        "in_use",
    ]
    return pd.DataFrame(session.exec(stmt).all(), columns=columns)  # type: ignore[call-overload]


def recent_changes(session: Session, prefix: str, limit: int = 20) -> pd.DataFrame:
    """The latest audit rows whose action starts with `prefix` (e.g. ``"category_"``): at, who, target, detail."""
    stmt = (
        select(AuditLog.at, AuditLog.actor_name, AuditLog.action, AuditLog.target, AuditLog.detail)
        .where(AuditLog.action.startswith(prefix, autoescape=True))
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())
        .limit(limit)
    )
    return pd.DataFrame(session.exec(stmt).all(), columns=["at", "actor", "action", "target", "detail"])  # type: ignore[call-overload]


# ---------------------------------------------------------------- departments

DEPARTMENT_CODE = re.compile(r"^[A-Z][A-Z0-9_-]{0,15}$")
PHONE = re.compile(r"^[0-9][0-9 \-]{2,30}$")


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
    name = _text(data.name, "name", 64)
    code = (data.code or "").strip().upper()
    if not DEPARTMENT_CODE.match(code):
        raise AdminError("admin.err_department_code")
    other = Department.id != (department_id or -1)
    if session.exec(select(Department.id).where(Department.name == name, other)).first():
        raise AdminError("admin.err_name_taken", name=name)
    if session.exec(select(Department.id).where(Department.code == code, other)).first():
        raise AdminError("admin.err_code_taken", code=code)
    try:
        kind = DepartmentKind(data.kind).value
    except ValueError:
        raise AdminError("admin.err_department_kind") from None
    contact_name = _text(data.contact_name, "contact_name", 32, required=False)
    phone = (data.contact_phone or "").strip()
    if phone and not PHONE.match(phone):
        raise AdminError("admin.err_phone")
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
    _require_admin(actor)
    values = _department_values(session, data, None)
    dept = Department(**values, active=True)  # type: ignore[arg-type]
    session.add(dept)
    session.flush()
    audit.record(session, actor, "department_create", str(values["name"]), detail=_json(values))
    assert dept.id is not None
    return dept.id


def update_department(
    session: Session, actor: Actor, department_id: int, data: DepartmentInput
) -> dict[str, list[object]]:
    """Change a department's name, code, kind or contacts; returns ``{field: [old, new]}``."""
    _require_admin(actor)
    dept = session.get(Department, department_id)
    if dept is None:
        raise AdminError("admin.err_not_found")
    values = _department_values(session, data, department_id)
    changes = _changes(_department_snapshot(dept), values)
    if not changes:
        return {}
    for name, value in values.items():
        setattr(dept, name, value)
    session.add(dept)
    audit.record(
        session, actor, "department_update", dept.name, detail=_json({"code": dept.code, "changes": changes})
    )
    return changes


def set_department_active(session: Session, actor: Actor, department_id: int, active: bool) -> bool:
    """Deactivate or reactivate a department. A department that active categories route to stays active
    until those categories are routed elsewhere, so new cases never go to a closed department."""
    _require_admin(actor)
    dept = session.get(Department, department_id)
    if dept is None:
        raise AdminError("admin.err_not_found")
    if bool(dept.active) == active:
        return False
    if not active:
        routed = session.exec(
            select(Category.code)
            .where(Category.department_id == department_id, Category.active.is_(True))
            .order_by(Category.code)
        ).all()
        if routed:
            raise AdminError("admin.err_department_routed", codes=", ".join(routed))
    dept.active = active
    session.add(dept)
    audit.record(
        session,
        actor,
        "department_update",
        dept.name,
        detail=_json({"code": dept.code, "changes": {"active": [not active, active]}}),
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


# ---------------------------------------------------------------- communities and grids

COMMUNITY_CODE = re.compile(r"^[A-Z][A-Z0-9]{0,5}-[0-9A-Z]{1,4}$")
"""Community codes: sub-district prefix, a hyphen, a number (e.g. ``XL-03``)."""
GRID_SUFFIX = re.compile(r"^[0-9A-Z]{1,4}$")
"""A grid code is its community's code, a hyphen and this suffix (e.g. ``XL-03-07``)."""


def update_community(
    session: Session, actor: Actor, community_id: int, *, name: str, code: str
) -> dict[str, list[object]]:
    """Rename a community or change its code; the codes of its grids follow a new code prefix.

    Grid codes of the form ``<old code>-NN`` become ``<new code>-NN`` in the same transaction.
    """
    _require_admin(actor)
    comm = session.get(Community, community_id)
    if comm is None:
        raise AdminError("admin.err_not_found")
    name = _text(name, "name", 64)
    code = (code or "").strip().upper()
    if session.exec(select(Community.id).where(Community.name == name, Community.id != community_id)).first():
        raise AdminError("admin.err_name_taken", name=name)
    renamed_grids: dict[str, str] = {}
    if code != comm.code:
        if not COMMUNITY_CODE.match(code):
            raise AdminError("admin.err_community_code")
        if session.exec(select(Community.id).where(Community.code == code)).first():
            raise AdminError("admin.err_code_taken", code=code)
        prefix = f"{comm.code}-"
        grids = session.exec(
            select(Grid).where(
                Grid.community_id == community_id, Grid.code.startswith(prefix, autoescape=True)
            )
        ).all()
        renamed_grids = {g.code: f"{code}-{g.code[len(prefix) :]}" for g in grids}
        taken = session.exec(
            select(Grid.code).where(
                Grid.code.in_(list(renamed_grids.values())), Grid.id.not_in([g.id for g in grids])
            )
        ).all()
        if taken:
            raise AdminError("admin.err_code_taken", code=", ".join(taken))
        too_long = [c for c in renamed_grids.values() if len(c) > 16]
        if too_long:
            raise AdminError("admin.err_too_long", field="code", maximum=16)
        for g in grids:
            g.code = renamed_grids[g.code]
            session.add(g)
    changes = _changes({"name": comm.name, "code": comm.code}, {"name": name, "code": code})
    if not changes:
        return {}
    comm.name, comm.code = name, code
    session.add(comm)
    audit.record(
        session,
        actor,
        "community_update",
        name,
        detail=_json(
            {"changes": changes, "grid_codes": renamed_grids} if renamed_grids else {"changes": changes}
        ),
    )
    return changes


def update_grid(
    session: Session, actor: Actor, grid_id: int, *, name: str, code: str
) -> dict[str, list[object]]:
    """Rename a grid or change its code (``<community code>-<1–4 capitals or digits>``, unique)."""
    _require_admin(actor)
    grid = session.get(Grid, grid_id)
    if grid is None:
        raise AdminError("admin.err_not_found")
    name = _text(name, "name", 64)
    code = (code or "").strip().upper()
    if session.exec(
        select(Grid.id).where(Grid.community_id == grid.community_id, Grid.name == name, Grid.id != grid_id)
    ).first():
        raise AdminError("admin.err_name_taken", name=name)
    if code != grid.code:
        comm = session.get(Community, grid.community_id)
        assert comm is not None
        prefix = f"{comm.code}-"
        if not (code.startswith(prefix) and GRID_SUFFIX.match(code[len(prefix) :])) or len(code) > 16:
            raise AdminError("admin.err_grid_code", example=f"{prefix}07")
        if session.exec(select(Grid.id).where(Grid.code == code)).first():
            raise AdminError("admin.err_code_taken", code=code)
    changes = _changes({"name": grid.name, "code": grid.code}, {"name": name, "code": code})
    if not changes:
        return {}
    grid.name, grid.code = name, code
    session.add(grid)
    audit.record(session, actor, "grid_update", code, detail=_json({"changes": changes}))
    return changes


def grid_table(session: Session) -> pd.DataFrame:
    """Every grid with its community and current worker, by code (admin list; no personal data)."""
    stmt = (
        select(
            Grid.id,
            Grid.code,
            Grid.name,
            Grid.community_id,
            Community.code,
            Community.name,
            Grid.worker_id,
            User.display_name,
            User.username,
            Grid.households,
            Grid.residents,
            Grid.population_as_of,
        )
        .join(Community, Community.id == Grid.community_id)
        .outerjoin(User, User.id == Grid.worker_id)
        .order_by(Grid.code)
    )
    columns = [
        "id",
        "code",
        "name",
        "community_id",
        "community_code",
        "community",
        "worker_id",
        "worker",
        "worker_username",
        "households",
        "residents",
        "population_as_of",
    ]
    return pd.DataFrame(session.exec(stmt).all(), columns=columns)  # type: ignore[call-overload]


# ---------------------------------------------------------------- grid workers

RECORDS_BEGIN = datetime(2000, 1, 1)
"""Start given to a worker's tenure when the grid had a worker but no history row (held since records began)."""


@dataclass(frozen=True)
class Reassignment:
    grid_id: int
    old_worker_id: int | None
    new_worker_id: int | None
    moved_case_ids: list[int] = field(default_factory=list)


def worker_candidates(session: Session) -> pd.DataFrame:
    """Active grid-worker accounts and the grid each holds now (if any), by name."""
    held = select(Grid.code).where(Grid.worker_id == User.id).limit(1).scalar_subquery()
    stmt = (
        select(User.id, User.username, User.display_name, held)
        .where(User.role == Role.grid_worker.value, User.active.is_(True))
        .order_by(User.display_name, User.username)
    )
    return pd.DataFrame(session.exec(stmt).all(), columns=["id", "username", "display_name", "grid_code"])  # type: ignore[call-overload]


def _open_cases_of(grid_id: int, worker_id: int) -> list[ColumnElement[bool]]:
    return [
        Case.grid_id == grid_id,
        Case.assignee_id == worker_id,
        Case.status.in_([s.value for s in OPEN_STATUSES]),
    ]


def movable_case_count(session: Session, actor: Actor, grid_id: int) -> int:
    """Open cases of the grid assigned to its current worker (what a reassignment may move)."""
    grid = session.get(Grid, grid_id)
    if grid is None or grid.worker_id is None:
        return 0
    stmt = (
        select(func.count())
        .select_from(Case)
        .where(*_open_cases_of(grid_id, grid.worker_id), case_filter(actor))
    )
    return int(session.exec(stmt).one())


def assign_worker(
    session: Session, actor: Actor, grid_id: int, user_id: int | None, *, move_open_cases: bool = False
) -> Reassignment:
    """Give a grid a new grid worker (or none), keeping the history of who held it when.

    Closes the open `grid_worker_history` row of the grid and opens one for the new worker, so figures per
    worker (:func:`worker_figures`) keep each case with the worker who held the grid when it was reported.
    The new worker's account scope moves to the grid; the old worker's leaves it (they keep the cases
    assigned to them). Only when `move_open_cases` is set, the grid's open cases assigned to the old
    worker go to the new one, each with a ``comment`` event noting the reassignment and its version bumped.
    A worker holds one grid: one who holds another grid must be released there first.
    """
    _require_admin(actor)
    grid = session.get(Grid, grid_id)
    if grid is None:
        raise AdminError("admin.err_not_found")
    old_id = grid.worker_id
    if user_id == old_id:
        raise AdminError("admin.err_worker_unchanged")
    new_user: User | None = None
    if user_id is not None:
        new_user = session.get(User, user_id)
        if new_user is None or not new_user.active or new_user.role != Role.grid_worker:
            raise AdminError("admin.err_worker_invalid")
        other = session.exec(select(Grid.code).where(Grid.worker_id == user_id, Grid.id != grid_id)).first()
        if other:
            raise AdminError("admin.err_worker_busy", name=new_user.display_name, code=other)
    if move_open_cases and (old_id is None or new_user is None):
        raise AdminError("admin.err_move_needs_workers")

    # Claim the change: if another admin changed the grid's worker meanwhile, nothing is written.
    same_worker = Grid.worker_id.is_(None) if old_id is None else Grid.worker_id == old_id
    claimed = session.exec(
        update(Grid)
        .where(Grid.id == grid_id, same_worker)
        .values(worker_id=user_id)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise AdminError("admin.err_changed_meanwhile")
    grid.worker_id = user_id

    now = clock.now()
    open_rows = session.exec(
        select(GridWorkerHistory).where(
            GridWorkerHistory.grid_id == grid_id, GridWorkerHistory.ended_at.is_(None)
        )
    ).all()
    if old_id is not None and not any(r.user_id == old_id for r in open_rows):
        session.add(
            GridWorkerHistory(grid_id=grid_id, user_id=old_id, started_at=RECORDS_BEGIN, ended_at=now)
        )
    for row in open_rows:
        row.ended_at = now
        session.add(row)
    if new_user is not None:
        session.add(GridWorkerHistory(grid_id=grid_id, user_id=new_user.id, started_at=now))  # type: ignore[arg-type]
        new_user.grid_id = grid_id
        new_user.community_id = grid.community_id
        session.add(new_user)
    old_user = session.get(User, old_id) if old_id is not None else None
    if old_user is not None and old_user.grid_id == grid_id:
        old_user.grid_id = None
        session.add(old_user)

    session.flush()
    moved: list[int] = []
    if move_open_cases:
        assert old_id is not None and new_user is not None
        stmt = (
            update(Case)
            .where(*_open_cases_of(grid_id, old_id))
            .values(assignee_id=new_user.id, version=Case.version + 1, updated_at=now)
            .returning(Case.id, Case.status)
            .execution_options(synchronize_session=False)
        )
        result = session.exec(stmt).all()  # type: ignore[call-overload]
        payload = _json({"kind": "reassign", "grid": grid.code, "from_user": old_id, "to_user": new_user.id})
        # Stored in the data language of the sub-district, like other notes; the payload carries the facts.
        previous = old_user.display_name if old_user is not None else str(old_id)
        note = f"网格员调整：网格 {grid.code} 由 {previous} 移交 {new_user.display_name}"
        for case_id, status in sorted(result):
            moved.append(case_id)
            session.add(
                CaseEvent(
                    case_id=case_id,
                    at=now,
                    actor_id=actor.id,
                    action="comment",
                    from_status=status,
                    to_status=status,
                    note=note,
                    payload=payload,
                )
            )
        session.flush()
    audit.record(
        session,
        actor,
        "grid_worker_assign",
        grid.code,
        detail=_json(
            {"grid": grid.code, "changes": {"worker_id": [old_id, user_id]}, "moved_cases": len(moved)}
        ),
    )
    return Reassignment(grid_id, old_id, user_id, moved)


def worker_history(session: Session, grid_id: int) -> pd.DataFrame:
    """Who held the grid when, newest first: user_id, display_name, username, started_at, ended_at."""
    stmt = (
        select(
            GridWorkerHistory.user_id,
            User.display_name,
            User.username,
            GridWorkerHistory.started_at,
            GridWorkerHistory.ended_at,
        )
        .join(User, User.id == GridWorkerHistory.user_id)
        .where(GridWorkerHistory.grid_id == grid_id)
        .order_by(GridWorkerHistory.started_at.desc(), GridWorkerHistory.id.desc())
    )
    return pd.DataFrame(
        session.exec(stmt).all(),  # type: ignore[call-overload]
        columns=["user_id", "display_name", "username", "started_at", "ended_at"],
    )


def worker_figures(
    session: Session, worker_user_id: int, period: kpi.Period, *, actor: Actor, now: datetime | None = None
) -> kpi.Figures:
    """The figures (DESIGN §8) of the cases reported in grids while `worker_user_id` held them.

    A case counts for the worker who held its grid at the time it was reported (``grid_worker_history``:
    ``started_at <= reported_at < ended_at``), so after a reassignment the old worker keeps their history
    and the new worker starts from theirs. Limited to `actor`'s scope like every figure.
    """
    held = exists().where(
        GridWorkerHistory.user_id == worker_user_id,
        GridWorkerHistory.grid_id == Case.grid_id,
        GridWorkerHistory.started_at <= Case.reported_at,
        or_(GridWorkerHistory.ended_at.is_(None), Case.reported_at < GridWorkerHistory.ended_at),
    )
    return kpi.figures(session, actor, period, where=[held], now=now)


# ---------------------------------------------------------------- population aggregates

POPULATION_KEYS: tuple[str, ...] = ("households", "residents", *POPULATION_FIELDS)
MAX_POPULATION = 1_000_000
MAX_DAYS_AHEAD = 366


def _population_of(grid: Grid) -> dict[str, int]:
    return {k: int(getattr(grid, k) or 0) for k in POPULATION_KEYS}


def grid_population(session: Session, grid_id: int) -> dict[str, int]:
    """The population aggregates a grid holds now (households, residents and the groups)."""
    grid = session.get(Grid, grid_id)
    if grid is None:
        raise AdminError("admin.err_not_found")
    return _population_of(grid)


def _population_values(grid: Grid, figures: Mapping[str, object]) -> dict[str, int]:
    unknown = sorted(set(figures) - set(POPULATION_KEYS))
    if unknown:
        raise AdminError("admin.err_population_field", field=", ".join(unknown))
    values = _population_of(grid)
    for key, raw in figures.items():
        number: int | None = None
        if isinstance(raw, int) and not isinstance(raw, bool):
            number = raw
        elif isinstance(raw, float) and raw.is_integer():
            number = int(raw)
        elif isinstance(raw, str) and raw.strip().isdigit():
            number = int(raw.strip())
        if number is None or not 0 <= number <= MAX_POPULATION:
            raise AdminError("admin.err_population_value", field=key, maximum=MAX_POPULATION)
        values[key] = number
    for part in ("elderly_alone", "elderly_solitary"):
        if values[part] > values["elderly_60"]:
            raise AdminError("admin.err_population_subset", field=part, total="elderly_60")
    return values


def _apply_population(grid: Grid, values: Mapping[str, int], effective_from: date) -> None:
    for key in POPULATION_KEYS:
        setattr(grid, key, int(values.get(key, getattr(grid, key) or 0)))
    grid.population_as_of = effective_from


def set_population(
    session: Session, actor: Actor, grid_id: int, figures: Mapping[str, object], effective_from: date
) -> bool:
    """Record a grid's population aggregates as they apply from `effective_from`.

    Always writes a `grid_population_history` row (fields not given keep their current values). The grid's
    own columns change now when the date is today or past and not older than the figures they hold; a
    future date is applied by :func:`apply_due_population` once it arrives. Returns whether the grid's
    columns changed now.
    """
    _require_admin(actor)
    grid = session.get(Grid, grid_id)
    if grid is None:
        raise AdminError("admin.err_not_found")
    if not isinstance(effective_from, date) or isinstance(effective_from, datetime):
        raise AdminError("admin.err_date")
    today = clock.now().date()
    if effective_from < date(2000, 1, 1) or effective_from > today + timedelta(days=MAX_DAYS_AHEAD):
        raise AdminError("admin.err_date_range", days=MAX_DAYS_AHEAD)
    values = _population_values(grid, figures)
    now = clock.now()
    session.add(
        GridPopulationHistory(
            grid_id=grid_id,
            effective_from=effective_from,
            figures=_json(values),
            changed_by=actor.id,
            changed_at=now,
        )
    )
    applied = effective_from <= today and (
        grid.population_as_of is None or effective_from >= grid.population_as_of
    )
    changes = _changes(_population_of(grid), values)
    if applied:
        _apply_population(grid, values, effective_from)
        session.add(grid)
    session.flush()
    audit.record(
        session,
        actor,
        "grid_population",
        grid.code,
        detail=_json({"effective_from": effective_from, "applied": applied, "changes": changes}),
    )
    return applied


def apply_due_population(session: Session, today: date | None = None) -> int:
    """Apply population figures whose date has come (set ahead of time); returns how many grids changed.

    For each grid the latest history row dated today or earlier wins, if newer than what the grid holds.
    Cheap to call often (one grouped query); the admin grid page calls it on load.
    """
    today = today or clock.now().date()
    latest = (
        select(GridPopulationHistory.grid_id, func.max(GridPopulationHistory.effective_from).label("day"))
        .where(GridPopulationHistory.effective_from <= today)
        .group_by(GridPopulationHistory.grid_id)
        .subquery()
    )
    due = session.exec(
        select(Grid, latest.c.day)
        .join(latest, latest.c.grid_id == Grid.id)
        .where(or_(Grid.population_as_of.is_(None), Grid.population_as_of < latest.c.day))
    ).all()
    for grid, day in due:
        row = session.exec(
            select(GridPopulationHistory)
            .where(GridPopulationHistory.grid_id == grid.id, GridPopulationHistory.effective_from == day)
            .order_by(GridPopulationHistory.changed_at.desc(), GridPopulationHistory.id.desc())
        ).first()
        assert row is not None
        _apply_population(grid, json.loads(row.figures), day)
        session.add(grid)
    return len(due)


def population_history(session: Session, grid_id: int) -> pd.DataFrame:
    """The grid's population entries, newest date first: effective_from, changed_at, changed_by, and figures."""
    stmt = (
        select(
            GridPopulationHistory.effective_from,
            GridPopulationHistory.changed_at,
            User.display_name,
            GridPopulationHistory.figures,
        )
        .outerjoin(User, User.id == GridPopulationHistory.changed_by)
        .where(GridPopulationHistory.grid_id == grid_id)
        .order_by(GridPopulationHistory.effective_from.desc(), GridPopulationHistory.id.desc())
    )
    records = []
    for day, at, who, figures in session.exec(stmt).all():  # type: ignore[call-overload]
        records.append(
            {"effective_from": day, "changed_at": at, "changed_by": who or "", **json.loads(figures)}
        )
    return pd.DataFrame(records, columns=["effective_from", "changed_at", "changed_by", *POPULATION_KEYS])


# ---------------------------------------------------------------- working calendar

FIRST_YEAR, LAST_YEAR = 2000, 2100


def calendar_known(year: int) -> bool:
    """Whether `chinese_calendar` knows the statutory holidays of `year` (else a weekend-only fallback)."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
        return True
    except NotImplementedError:
        return False


def _holiday_name(day: date) -> str | None:
    """The statutory holiday's identifier (``national_day``…), None for ordinary days or unknown years."""
    try:
        _, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return None
    if not name:
        return None
    try:
        return chinese_calendar.Holiday(name).name
    except ValueError:
        return str(name)


@dataclass(frozen=True)
class CalendarDay:
    day: date
    statutory_working: bool
    holiday: str | None  # Holiday identifier for statutory holidays and their swapped workdays
    swapped_workday: bool  # a weekend day that is a working day by statute (调休上班)
    override: str | None  # CalendarOverrideKind value
    note: str
    working: bool  # the effective result, as the SLA engine sees it


def calendar_year(session: Session, year: int) -> list[CalendarDay]:
    """Every day of `year` with its statutory status, local override and effective working status."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise AdminError("admin.err_year", first=FIRST_YEAR, last=LAST_YEAR)
    start, end = date(year, 1, 1), date(year + 1, 1, 1)
    overrides = {
        d: (kind, note)
        for d, kind, note in session.exec(
            select(CalendarOverride.day, CalendarOverride.kind, CalendarOverride.note).where(
                CalendarOverride.day >= start, CalendarOverride.day < end
            )
        ).all()
    }
    cal = sla.WorkCalendar({d: k for d, (k, _) in overrides.items()})
    days = []
    for n in range((end - start).days):
        d = start + timedelta(days=n)
        statutory = sla.DEFAULT_CALENDAR.is_working_day(d)
        kind, note = overrides.get(d, (None, ""))
        days.append(
            CalendarDay(
                day=d,
                statutory_working=statutory,
                holiday=_holiday_name(d),
                swapped_workday=statutory and d.weekday() >= 5,
                override=str(kind) if kind else None,
                note=note,
                working=cal.is_working_day(d),
            )
        )
    return days


def calendar_overrides(session: Session, year: int | None = None) -> pd.DataFrame:
    """Local overrides (all, or of one year), by day: day, kind, note, created_by (name), created_at."""
    stmt = (
        select(
            CalendarOverride.day,
            CalendarOverride.kind,
            CalendarOverride.note,
            User.display_name,
            CalendarOverride.created_at,
        )
        .outerjoin(User, User.id == CalendarOverride.created_by)
        .order_by(CalendarOverride.day)
    )
    if year is not None:
        stmt = stmt.where(
            CalendarOverride.day >= date(year, 1, 1), CalendarOverride.day < date(year + 1, 1, 1)
        )
    return pd.DataFrame(
        session.exec(stmt).all(),  # type: ignore[call-overload]
        columns=["day", "kind", "note", "created_by", "created_at"],
    )


def add_calendar_override(
    session: Session, actor: Actor, day: date, kind: CalendarOverrideKind | str, note: str = ""
) -> None:
    """Add a local closure (non-working day) or extra working day; new cases' due dates respect it.

    Refused when the day already is what the override would make it (by statute) or already has an override.
    """
    _require_admin(actor)
    try:
        kind = CalendarOverrideKind(kind)
    except ValueError:
        raise AdminError("admin.err_override_kind") from None
    if not isinstance(day, date) or isinstance(day, datetime):
        raise AdminError("admin.err_date")
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise AdminError("admin.err_year", first=FIRST_YEAR, last=LAST_YEAR)
    note = _text(note, "note", 200, required=False)
    if session.get(CalendarOverride, day) is not None:
        raise AdminError("admin.err_override_exists", day=day.isoformat())
    if sla.DEFAULT_CALENDAR.is_working_day(day) == (kind == CalendarOverrideKind.workday):
        raise AdminError("admin.err_override_redundant_" + kind.value, day=day.isoformat())
    session.add(CalendarOverride(day=day, kind=kind, note=note, created_by=actor.id, created_at=clock.now()))
    session.flush()
    audit.record(
        session,
        actor,
        "calendar_override_add",
        day.isoformat(),
        detail=_json({"day": day, "kind": kind.value, "note": note}),
    )


def remove_calendar_override(session: Session, actor: Actor, day: date) -> None:
    """Remove a local override; the statutory calendar applies to the day again (for new cases)."""
    _require_admin(actor)
    row = session.get(CalendarOverride, day)
    if row is None:
        raise AdminError("admin.err_not_found")
    audit.record(
        session,
        actor,
        "calendar_override_remove",
        day.isoformat(),
        detail=_json({"day": day, "kind": str(row.kind), "note": row.note}),
    )
    session.delete(row)
