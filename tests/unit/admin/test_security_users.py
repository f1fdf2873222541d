"""User administration: validation, scope pickers per role, audit rows, guard rails, and the create-user CLI."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from sqlmodel import Session, select

from dashboard import cli, clock
from dashboard.admin import auth, grids, users
from dashboard.admin.users import UserInput
from dashboard.db import get_engine
from dashboard.kernel.errors import DomainError, NotPermitted
from models import AuditLog, Grid, GridWorkerHistory, LoginAttempt, User
from models.enums import Role
from tests.factories import World

PASSWORD = "Grid2026pass"


@pytest.fixture
def world_session(world: World) -> Iterator[tuple[Session, World]]:
    """The TINY world and a session on it."""
    with Session(get_engine(world.url)) as session:
        yield session, world


def _keys(err: DomainError) -> list[str]:
    """The i18n keys of the reasons: each broken rule listed, else the one refusal."""
    return [p.key for p in err.details] or [err.key]


def _audit(s: Session) -> list[tuple[str, str, str]]:
    return [(r.action, r.target, r.actor_name) for r in s.exec(select(AuditLog).order_by(AuditLog.id)).all()]


def test_create_user_with_each_scope(world_session) -> None:  # type: ignore[no-untyped-def]
    s, w = world_session
    admin = w.actors["admin"]
    gid = w.grid_ids[3]
    uid = users.create_user(
        s,
        admin,
        "gw-new",
        PASSWORD,
        UserInput("新网格员", Role.grid_worker, grid_id=gid, department_id=w.department["CG"]),
    )
    u = s.get(User, uid)
    assert u is not None
    # The grid decides the community; a department given for a grid worker is dropped.
    assert (u.grid_id, u.community_id, u.department_id) == (gid, w.community_ids[1], None)
    assert u.password_hash.startswith("$argon2") and auth.verify_password(u.password_hash, PASSWORD)
    cid = users.create_user(
        s,
        admin,
        "sq",
        PASSWORD,
        UserInput("社区书记", Role.community, community_id=w.community_ids[1], grid_id=gid),
    )
    c = s.get(User, cid)
    assert c is not None and (c.community_id, c.grid_id) == (w.community_ids[1], None)
    did = users.create_user(
        s, admin, "cg", PASSWORD, UserInput("城管", Role.department, department_id=w.department["CG"])
    )
    assert s.get(User, did).department_id == w.department["CG"]  # type: ignore[union-attr]
    lid = users.create_user(
        s, admin, "ld", PASSWORD, UserInput("领导", Role.leader, community_id=w.community_ids[0])
    )
    assert s.get(User, lid).community_id is None  # type: ignore[union-attr]
    actions = [a for a, _, _ in _audit(s)]
    # The new grid worker also takes over the grid itself, with its history (DESIGN §3).
    assert actions == ["grid_worker_assign"] + ["user_create"] * 4
    assert s.get(Grid, gid).worker_id == uid  # type: ignore[union-attr]
    detail = json.loads(
        s.exec(select(AuditLog.detail).where(AuditLog.action == "user_create").order_by(AuditLog.id)).first()  # type: ignore[arg-type]
    )
    assert detail["role"] == "grid_worker" and PASSWORD not in str(detail)


@pytest.mark.parametrize(
    ("role", "key"),
    [
        (Role.community, "users.err_community_required"),
        (Role.grid_worker, "users.err_grid_required"),
        (Role.department, "users.err_department_required"),
    ],
)
def test_scope_is_required_for_scoped_roles(world_session, role: Role, key: str) -> None:  # type: ignore[no-untyped-def]
    s, w = world_session
    with pytest.raises(DomainError) as e:
        users.create_user(s, w.actors["admin"], "scoped", PASSWORD, UserInput("X", role))
    assert _keys(e.value) == [key]
    with pytest.raises(DomainError):
        users.create_user(
            s,
            w.actors["admin"],
            "scoped",
            PASSWORD,
            UserInput("X", role, community_id=99999, grid_id=99999, department_id=99999),
        )


def test_validation_lists_every_problem(world_session) -> None:  # type: ignore[no-untyped-def]
    s, w = world_session
    with pytest.raises(DomainError) as e:
        users.create_user(s, w.actors["admin"], "x", "abc", UserInput("  ", Role.operator, phone="<script>"))
    assert set(_keys(e.value)) == {
        "users.err_username",
        "users.err_display_name",
        "users.err_phone",
        "auth.rule_length",
        "auth.rule_mix",
    }
    with pytest.raises(DomainError) as e:
        users.create_user(s, w.actors["admin"], "T-ADMIN", PASSWORD, UserInput("dup", Role.operator))
    assert _keys(e.value) == ["users.err_username_taken"]  # case-insensitive
    with pytest.raises(DomainError) as e:
        users.create_user(s, w.actors["admin"], "' OR 1=1 --", PASSWORD, UserInput("x", Role.operator))
    assert _keys(e.value) == ["users.err_username"]
    assert _audit(s) == []


def test_only_admins_manage_users(world_session) -> None:  # type: ignore[no-untyped-def]
    s, w = world_session
    target = users.find_by_username(s, "t-operator")
    assert target is not None
    for role in ("leader", "operator", "community", "grid_worker", "department", "volunteer_manager"):
        me = w.actors[role]
        with pytest.raises(NotPermitted):
            users.create_user(s, me, "new-user", PASSWORD, UserInput("x", Role.admin))
        with pytest.raises(NotPermitted):
            users.update_user(s, me, target, UserInput("x", Role.admin))
        with pytest.raises(NotPermitted):
            users.reset_password(s, me, target, PASSWORD)
        with pytest.raises(NotPermitted):
            users.set_active(s, me, target, False)
        with pytest.raises(NotPermitted):
            users.list_users(s, me)


def test_update_records_changed_fields_only(world_session) -> None:  # type: ignore[no-untyped-def]
    s, w = world_session
    admin = w.actors["admin"]
    uid = users.find_by_username(s, "t-operator")
    assert uid is not None
    assert users.update_user(s, admin, uid, UserInput("测试operator", Role.operator)) == []
    changed = users.update_user(
        s,
        admin,
        uid,
        UserInput("新名字", Role.community, community_id=w.community_ids[1], phone="13812345678"),
    )
    assert set(changed) == {"display_name", "role", "community_id", "phone"}
    row = s.exec(select(AuditLog).where(AuditLog.action == "user_update")).one()
    detail = json.loads(row.detail)
    assert detail["phone"] == "***" and "13812345678" not in row.detail
    assert row.target == "t-operator" and row.actor_id == admin.id


def test_moving_a_grid_worker_moves_the_grid_and_its_history(world_session) -> None:  # type: ignore[no-untyped-def]
    s, w = world_session
    admin = w.actors["admin"]
    worker = w.actors["grid_worker"]
    first, target = worker.grid_id, w.grid_ids[3]
    grids.assign_worker(s, admin, first, worker.id)
    users.update_user(s, admin, worker.id, UserInput("调岗网格员", Role.grid_worker, grid_id=target))
    assert s.get(Grid, first).worker_id is None  # type: ignore[union-attr]
    assert s.get(Grid, target).worker_id == worker.id  # type: ignore[union-attr]
    assert s.get(User, worker.id).grid_id == target  # type: ignore[union-attr]
    open_rows = s.exec(
        select(GridWorkerHistory.grid_id).where(
            GridWorkerHistory.user_id == worker.id, GridWorkerHistory.ended_at.is_(None)
        )
    ).all()
    assert open_rows == [target]
    users.update_user(s, admin, worker.id, UserInput("调岗网格员", Role.operator))
    assert s.get(Grid, target).worker_id is None  # type: ignore[union-attr]


def test_last_admin_and_self_are_protected(world_session) -> None:  # type: ignore[no-untyped-def]
    s, w = world_session
    admin = w.actors["admin"]
    with pytest.raises(DomainError, match="err_self_deactivate"):
        users.set_active(s, admin, admin.id, False)
    with pytest.raises(DomainError, match="err_last_admin"):
        users.update_user(s, admin, admin.id, UserInput("x", Role.leader))
    second = users.create_user(s, admin, "admin2", PASSWORD, UserInput("Admin 2", Role.admin))
    users.update_user(s, admin, second, UserInput("Admin 2", Role.operator))  # another admin remains


def test_deactivate_reactivate_unlock_reset_are_audited(world_session) -> None:  # type: ignore[no-untyped-def]
    s, w = world_session
    admin = w.actors["admin"]
    uid = users.find_by_username(s, "t-leader")
    assert uid is not None
    users.set_active(s, admin, uid, False)
    users.set_active(s, admin, uid, False)  # no change, no row
    users.set_active(s, admin, uid, True)
    users.unlock(s, admin, uid)  # nothing to lift: no row
    s.add(LoginAttempt(username="t-leader", source="10.0.0.1", failures=3, window_started_at=clock.now(),
                       last_failure_at=clock.now()))  # fmt: skip
    users.unlock(s, admin, uid)
    assert s.exec(select(LoginAttempt)).all() == []
    with pytest.raises(DomainError) as e:
        users.reset_password(s, admin, uid, "t-leader1x")
    assert _keys(e.value) == ["auth.rule_username"]
    users.reset_password(s, admin, uid, PASSWORD)
    assert [(a, t) for a, t, _ in _audit(s)] == [
        ("user_deactivate", "t-leader"),
        ("user_reactivate", "t-leader"),
        ("user_unlock", "t-leader"),
        ("password_reset", "t-leader"),
    ]


def test_list_users_filters_with_bound_parameters(world_session) -> None:  # type: ignore[no-untyped-def]
    s, w = world_session
    admin = w.actors["admin"]
    assert {u.username for u in users.list_users(s, admin, "t-grid")} == {"t-grid_worker"}
    assert users.list_users(s, admin, "' OR 1=1 --") == []
    assert users.list_users(s, admin, "%") == []  # LIKE wildcards are literal
    assert {u.role for u in users.list_users(s, admin, role=Role.department)} == {Role.department}


def test_cli_create_user_first_admin(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("Str0ngAdminPass\n"))
    code = cli.main(
        [
            "create-user",
            "--username",
            "boss",
            "--role",
            "admin",
            "--display-name",
            "主任",
            "--password-stdin",
            "--database-url",
            db_url,
        ]
    )
    assert code == 0, capsys.readouterr().err
    with Session(get_engine(db_url)) as s:
        user = s.exec(select(User).where(User.username == "boss")).one()
        assert user.role == Role.admin and user.display_name == "主任"
        assert auth.authenticate("boss", "Str0ngAdminPass", source="local", engine=get_engine(db_url)).actor
        assert s.exec(select(AuditLog.actor_name).where(AuditLog.action == "user_create")).one() == "cli"

    monkeypatch.setattr("sys.stdin", io.StringIO("weak\n"))
    code = cli.main(
        [
            "create-user",
            "--username",
            "boss2",
            "--role",
            "admin",
            "--password-stdin",
            "--database-url",
            db_url,
        ]
    )
    assert code == 1
    assert "at least 8 characters" in capsys.readouterr().err


def test_cli_prompts_with_getpass(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["Prompted2026", "Prompted2026"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert cli.main(["create-user", "--username", "ops", "--role", "operator", "--database-url", db_url]) == 0
    answers = iter(["Prompted2026", "Different2026"])
    assert (
        cli.main(["create-user", "--username", "ops2", "--role", "operator", "--database-url", db_url]) == 1
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("Reset2026pass\n"))
    assert (
        cli.main(["reset-password", "--username", "ops", "--password-stdin", "--database-url", db_url]) == 0
    )
    assert auth.authenticate("ops", "Reset2026pass", source="local", engine=get_engine(db_url)).actor
