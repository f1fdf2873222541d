"""Case categories (事项分类) and their time limits: add, edit, retire, restore, delete, list.

A category's new time limit applies to cases created afterwards: the case service reads the category when
a case is created, and existing cases keep the due dates they were given. Conventions of every admin
change (validation first, one audit row, the caller commits) are in :mod:`dashboard.admin.changes`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import exists, func
from sqlmodel import Session, select

from dashboard import clock
from dashboard.admin.changes import field_changes, require_admin, to_json, valid_text
from dashboard.kernel import audit
from dashboard.kernel.errors import Conflict, Invalid, NotFound
from dashboard.kernel.scope import Actor
from models import Case, Category, Department, User
from models.enums import CalendarKind, Priority

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
    after_photo_required: bool | None = None
    """处置需上传处置后照片 (resolve needs an after-photo); None leaves it as it is (off for a new category)."""


def _category_values(
    session: Session, data: CategoryInput, category_id: int | None, current_department: int | None
) -> dict[str, object]:
    """The validated column values of `data` (raises Invalid on the first problem)."""
    name_zh = valid_text(data.name_zh, "name_zh", 32)
    name_en = valid_text(data.name_en, "name_en", 64)
    clash = session.exec(
        select(Category.code).where(
            func.lower(Category.name_zh) == name_zh.lower(), Category.id != (category_id or -1)
        )
    ).first()
    if clash:
        raise Invalid("admin.err_category_name_taken", name=name_zh, code=clash)
    values: dict[str, object] = {"name_zh": name_zh, "name_en": name_en}
    for limit_field, calendar_field in (("sla_limit", "calendar"), ("response_limit", "response_calendar")):
        try:
            kind = CalendarKind(getattr(data, calendar_field))
        except ValueError:
            raise Invalid("admin.err_calendar", field=calendar_field) from None
        try:
            amount = float(getattr(data, limit_field))
        except (TypeError, ValueError):
            raise Invalid("admin.err_limit", field=limit_field, maximum=MAX_LIMIT[kind]) from None
        if not (0 < amount <= MAX_LIMIT[kind]):
            raise Invalid("admin.err_limit", field=limit_field, maximum=MAX_LIMIT[kind])
        values[limit_field], values[calendar_field] = amount, kind.value
    try:
        values["priority_default"] = Priority(data.priority_default).value
    except ValueError:
        raise Invalid("admin.err_priority") from None
    if data.department_id is not None:
        dept = session.get(Department, data.department_id)
        if dept is None:
            raise Invalid("admin.err_department_missing")
        if not dept.active and data.department_id != current_department:
            raise Invalid("admin.err_department_inactive", name=dept.name)
    values["department_id"] = data.department_id
    if data.after_photo_required is not None:
        values["after_photo_required"] = bool(data.after_photo_required)
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
        "after_photo_required": bool(cat.after_photo_required),
        "active": bool(cat.active),
    }


def create_category(session: Session, actor: Actor, code: str, data: CategoryInput) -> int:
    """Add a category; returns its id."""
    require_admin(actor)
    code = (code or "").strip().upper()
    if not CATEGORY_CODE.match(code):
        raise Invalid("admin.err_category_code")
    if session.exec(select(Category.id).where(Category.code == code)).first():
        raise Invalid("admin.err_code_taken", code=code)
    values = _category_values(session, data, None, None)
    now = clock.now()
    cat = Category(code=code, **values, active=True, updated_at=now, updated_by=actor.id)  # type: ignore[arg-type]
    session.add(cat)
    session.flush()
    audit.record(session, actor, "category_create", code, detail=to_json(values))
    assert cat.id is not None
    return cat.id


def update_category(
    session: Session, actor: Actor, category_id: int, data: CategoryInput
) -> dict[str, list[object]]:
    """Change a category's names, limits, calendars, priority or department; returns ``{field: [old, new]}``.

    Applies to cases created from now on; existing cases keep their due dates. Nothing is written when
    nothing changed.
    """
    require_admin(actor)
    cat = session.get(Category, category_id)
    if cat is None:
        raise NotFound("admin.err_not_found")
    values = _category_values(session, data, category_id, cat.department_id)
    changes = field_changes(_category_snapshot(cat), values)
    if not changes:
        return {}
    for name, value in values.items():
        setattr(cat, name, value)
    cat.updated_at = clock.now()
    cat.updated_by = actor.id
    session.add(cat)
    audit.record(
        session, actor, "category_update", cat.code, detail=to_json({"code": cat.code, "changes": changes})
    )
    return changes


def set_category_active(session: Session, actor: Actor, category_id: int, active: bool) -> bool:
    """Retire (active=False) or restore a category; retired ones take no new cases but keep their history."""
    require_admin(actor)
    cat = session.get(Category, category_id)
    if cat is None:
        raise NotFound("admin.err_not_found")
    if bool(cat.active) == active:
        return False
    if not active:
        remaining = session.exec(
            select(func.count())
            .select_from(Category)
            .where(Category.active.is_(True), Category.id != category_id)
        ).one()
        if not remaining:
            raise Conflict("admin.err_last_category")
    cat.active = active
    cat.updated_at = clock.now()
    cat.updated_by = actor.id
    session.add(cat)
    audit.record(
        session,
        actor,
        "category_update",
        cat.code,
        detail=to_json({"code": cat.code, "changes": {"active": [not active, active]}}),
    )
    return True


def category_in_use(session: Session, category_id: int) -> bool:
    """Whether any case uses the category (then it can only be retired, never deleted)."""
    return session.exec(select(exists().where(Case.category_id == category_id))).one()


def delete_category(session: Session, actor: Actor, category_id: int) -> None:
    """Delete a category that no case uses (e.g. one added by mistake); used ones can only be retired."""
    require_admin(actor)
    cat = session.get(Category, category_id)
    if cat is None:
        raise NotFound("admin.err_not_found")
    if category_in_use(session, category_id):
        raise Conflict("admin.err_category_in_use", code=cat.code)
    audit.record(session, actor, "category_delete", cat.code, detail=to_json(_category_snapshot(cat)))
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
            Category.after_photo_required,
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
        "after_photo_required",
        "active",
        "updated_at",
        "updated_by",
        "in_use",
    ]
    return pd.DataFrame(session.exec(stmt).all(), columns=columns)  # type: ignore[call-overload]
