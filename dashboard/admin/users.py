"""User administration: create, edit, deactivate, unlock and reset passwords, with validation and audit rows.

Only admins manage users (the CLI acts as ``actor=None`` for the first admin of a deployment). Each change
writes one `audit_log` row ("user_create", "user_update", "user_deactivate", "user_reactivate",
"user_unlock", "password_reset") whose detail lists the changed fields, never a password. Deactivating
a user or resetting a password ends the user's sessions. Refusals are
:class:`~dashboard.kernel.errors.DomainError` with i18n keys; broken rules are listed as its `details`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_
from sqlmodel import Session, select

from dashboard import clock
from dashboard.admin import auth, grids, throttle
from dashboard.kernel import audit
from dashboard.kernel.errors import Conflict, Invalid, NotFound, NotPermitted, Problem
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor
from dashboard.kernel.text import is_office_phone
from models import Community, Department, Grid, User
from models.enums import Role

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")

SCOPE_OF_ROLE: dict[Role, str | None] = {
    Role.admin: None,
    Role.leader: None,
    Role.operator: None,
    Role.volunteer_manager: None,
    Role.community: "community",
    Role.grid_worker: "grid",
    Role.department: "department",
}
"""Which scope picker a role needs: a community, a grid, a department, or none (the whole sub-district)."""


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    display_name: str
    role: Role
    community_id: int | None
    grid_id: int | None
    department_id: int | None
    phone: str
    active: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime
    sso_subject: str | None


@dataclass(frozen=True)
class UserInput:
    """The editable fields of a user (everything but username and password)."""

    display_name: str
    role: Role
    community_id: int | None = None
    grid_id: int | None = None
    department_id: int | None = None
    phone: str = ""
    sso_subject: str | None = None


def _invalid(problems: list[str]) -> Invalid:
    """The refusal listing every broken rule (i18n keys)."""
    return Invalid(details=[Problem(key) for key in problems])


def _require_admin(actor: Actor | None) -> None:
    """`None` is the command line (an operator with shell access to the server)."""
    if actor is not None and not may(actor, "admin.manage"):
        raise NotPermitted("users.err_forbidden")


def _row(u: User, locked_until: datetime | None) -> UserRow:
    assert u.id is not None
    return UserRow(
        u.id,
        u.username,
        u.display_name,
        Role(u.role),
        u.community_id,
        u.grid_id,
        u.department_id,
        u.phone,
        u.active,
        locked_until,
        u.last_login_at,
        u.created_at,
        u.sso_subject,
    )


def _record(
    session: Session, actor: Actor | None, action: str, target: str, detail: dict[str, object]
) -> None:
    audit.record(
        session,
        actor,
        action,
        target,
        detail=json.dumps(detail, ensure_ascii=False, default=str),
        actor_name=None if actor else "cli",
    )


def list_users(
    session: Session, actor: Actor, text: str = "", role: Role | None = None, active: bool | None = None
) -> list[UserRow]:
    """Users matching a text (username, display name), a role and an active flag, by username."""
    _require_admin(actor)
    stmt = select(User).order_by(User.username)
    if text.strip():
        needle = text.strip()
        stmt = stmt.where(
            or_(
                User.username.icontains(needle, autoescape=True),
                User.display_name.icontains(needle, autoescape=True),
            )
        )
    if role is not None:
        stmt = stmt.where(User.role == role)
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    blocked = throttle.blocked_until(session)
    return [_row(u, blocked.get(throttle.normalise_username(u.username))) for u in session.exec(stmt).all()]


def _load(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("users.err_not_found")
    return user


def _normalised_scope(session: Session, data: UserInput) -> tuple[int | None, int | None, int | None]:
    """(community_id, grid_id, department_id) for the role, checked to exist; other scope fields cleared."""
    match SCOPE_OF_ROLE[data.role]:
        case "community":
            if data.community_id is None or session.get(Community, data.community_id) is None:
                raise Invalid("users.err_community_required")
            return data.community_id, None, None
        case "grid":
            grid = session.get(Grid, data.grid_id) if data.grid_id is not None else None
            if grid is None:
                raise Invalid("users.err_grid_required")
            return grid.community_id, grid.id, None
        case "department":
            if data.department_id is None or session.get(Department, data.department_id) is None:
                raise Invalid("users.err_department_required")
            return None, None, data.department_id
        case _:
            return None, None, None


def _check_fields(session: Session, data: UserInput, user_id: int | None) -> list[str]:
    problems = []
    if not data.display_name.strip() or len(data.display_name.strip()) > 64:
        problems.append("users.err_display_name")
    phone = data.phone.strip()
    if phone and not is_office_phone(phone):
        problems.append("users.err_phone")
    subject = (data.sso_subject or "").strip()
    if len(subject) > 256:
        problems.append("users.err_sso_subject")
    elif subject:
        other = session.exec(select(User.id).where(User.sso_subject == subject)).first()
        if other is not None and other != user_id:
            problems.append("users.err_sso_taken")
    return problems


def _active_admins(session: Session) -> int:
    return session.exec(
        select(func.count()).select_from(User).where(User.role == Role.admin, User.active.is_(True))
    ).one()


def create_user(session: Session, actor: Actor | None, username: str, password: str, data: UserInput) -> int:
    """Create a user; returns its id. Raises :class:`Invalid` listing every broken rule."""
    _require_admin(actor)
    username = username.strip()
    problems = []
    if not USERNAME_RE.match(username):
        problems.append("users.err_username")
    elif (
        session.exec(select(User.id).where(func.lower(User.username) == username.lower())).first() is not None
    ):
        problems.append("users.err_username_taken")
    problems += _check_fields(session, data, None)
    problems += auth.password_problems(password, username)
    if problems:
        raise _invalid(problems)
    community_id, grid_id, department_id = _normalised_scope(session, data)
    user = User(
        username=username,
        display_name=data.display_name.strip(),
        role=data.role,
        community_id=community_id,
        grid_id=grid_id,
        department_id=department_id,
        phone=data.phone.strip(),
        password_hash=auth.hash_password(password),
        created_at=clock.now(),
        sso_subject=(data.sso_subject or "").strip() or None,
    )
    session.add(user)
    session.flush()
    assert user.id is not None
    _hold_grid(session, actor, user)
    _record(
        session,
        actor,
        "user_create",
        username,
        {
            "role": str(data.role),
            "community_id": community_id,
            "grid_id": grid_id,
            "department_id": department_id,
        },
    )
    return user.id


def _hold_grid(session: Session, actor: Actor, user: User) -> None:
    """Make the grid a grid worker's account is scoped to also the grid they hold, through
    :func:`grids.assign_worker`, so ``grids.worker_id`` and the worker history (which figures per worker
    rely on) follow the account: the grid held before is released, and the chosen grid's previous worker
    leaves it. A user who is no longer a grid worker releases the grid they held."""
    wanted = user.grid_id if user.role == Role.grid_worker else None
    held = session.exec(select(Grid.id).where(Grid.worker_id == user.id)).all()
    for grid_id in held:
        if grid_id != wanted:
            grids.assign_worker(session, actor, grid_id, None)
    if wanted is not None and wanted not in held:
        grids.assign_worker(session, actor, wanted, user.id)
    if wanted is not None:
        user.grid_id = wanted


def update_user(session: Session, actor: Actor, user_id: int, data: UserInput) -> list[str]:
    """Change a user's name, role, scope, phone and SSO subject; returns the changed field names."""
    _require_admin(actor)
    user = _load(session, user_id)
    problems = _check_fields(session, data, user_id)
    if problems:
        raise _invalid(problems)
    community_id, grid_id, department_id = _normalised_scope(session, data)
    if user.role == Role.admin and data.role != Role.admin and user.active and _active_admins(session) <= 1:
        raise Conflict("users.err_last_admin")
    new = {
        "display_name": data.display_name.strip(),
        "role": data.role,
        "community_id": community_id,
        "grid_id": grid_id,
        "department_id": department_id,
        "phone": data.phone.strip(),
        "sso_subject": (data.sso_subject or "").strip() or None,
    }
    changed = {k: v for k, v in new.items() if getattr(user, k) != v}
    if not changed:
        return []
    for key, value in changed.items():
        setattr(user, key, value)
    session.add(user)
    session.flush()
    if {"role", "grid_id"} & changed.keys():
        _hold_grid(session, actor, user)
    detail = {k: ("***" if k in ("phone", "sso_subject") else v) for k, v in changed.items()}
    _record(session, actor, "user_update", user.username, detail)
    return list(changed)


def set_active(session: Session, actor: Actor, user_id: int, active: bool) -> None:
    """Deactivate (ending every session) or reactivate a user. An admin cannot deactivate the last admin."""
    _require_admin(actor)
    user = _load(session, user_id)
    if user.active == active:
        return
    if not active:
        if actor.id == user.id:
            raise NotPermitted("users.err_self_deactivate")
        if user.role == Role.admin and _active_admins(session) <= 1:
            raise Conflict("users.err_last_admin")
    user.active = active
    session.add(user)
    if not active:
        auth.revoke_user_sessions(session, user_id)
    _record(session, actor, "user_deactivate" if not active else "user_reactivate", user.username, {})


def reset_password(session: Session, actor: Actor | None, user_id: int, password: str) -> None:
    """Set a new password, clear any lockout and end the user's sessions."""
    _require_admin(actor)
    user = _load(session, user_id)
    problems = auth.password_problems(password, user.username)
    if problems:
        raise _invalid(problems)
    user.password_hash = auth.hash_password(password)
    session.add(user)
    throttle.clear(session, user.username)
    auth.revoke_user_sessions(session, user_id)
    _record(session, actor, "password_reset", user.username, {})


def unlock(session: Session, actor: Actor, user_id: int) -> None:
    """Lift the delays failed logins put on a user before their time is up, at every address (and those
    addresses' own delays), and forget the failures; nothing to lift, nothing recorded."""
    _require_admin(actor)
    user = _load(session, user_id)
    if throttle.clear(session, user.username):
        _record(session, actor, "user_unlock", user.username, {})


def find_by_username(session: Session, username: str) -> int | None:
    """The id of the user with this username (case-insensitive), if any."""
    return session.exec(select(User.id).where(func.lower(User.username) == username.strip().lower())).first()
