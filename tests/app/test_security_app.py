"""Security through the running app (AppTest): login, lockout, idle expiry, page access, user admin, audit page,
deep links to another scope's case, and single sign-on when configured."""

from __future__ import annotations

import sys
import types
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from dashboard import clock
from dashboard.admin import auth, users
from dashboard.db import get_engine
from dashboard.ui.nav import PAGES
from models import AuditLog, Case, User, UserSession
from models.enums import Role
from tests.conftest import DEMO_PASSWORD, ROOT, SQLITE_ONLY

T0 = datetime(2026, 11, 23, 10, 0)
DEMO = {
    Role.admin: "admin",
    Role.leader: "leader",
    Role.operator: "operator",
    Role.community: "community",
    Role.grid_worker: "grid",
    Role.department: "department",
    Role.volunteer_manager: "volunteers",
}


def _app(url: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    import streamlit as st

    monkeypatch.setenv("DATABASE_URL", url)
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    return at


def _submit(at: AppTest, username: str, password: str) -> None:
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    at.button(key="login_submit").click()
    at.run()


def _texts(at: AppTest) -> str:
    kinds = (
        at.title,
        at.header,
        at.subheader,
        at.markdown,
        at.caption,
        at.text,
        at.code,
        at.info,
        at.warning,
        at.error,
        at.success,
        at.metric,
    )
    parts = [e.value for kind in kinds for e in kind]
    return "\n".join(str(p) for p in parts)


# ---------------------------------------------------------------- login, lockout, expiry


def test_lockout_through_the_login_form(seeded_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Changed on purpose: no "账号已锁定 … 10:15" any more (it told who exists); after five failures the
    username waits at that address (1 minute here) and the form keeps giving the one "failed" answer."""
    with clock.frozen(T0):
        at = _app(seeded_url, monkeypatch)
        for _ in range(5):
            _submit(at, "operator", "wrong-password1")
            assert "用户名或密码错误" in at.error[0].value
        _submit(at, "operator", DEMO_PASSWORD)
        assert "用户名或密码错误" in at.error[0].value and "actor" not in at.session_state
        assert "锁定" not in at.error[0].value
    with clock.frozen(T0 + timedelta(minutes=1)):
        _submit(at, "operator", DEMO_PASSWORD)
        assert not at.exception and at.session_state["actor"].username == "operator"
    with Session(get_engine(seeded_url)) as s:
        outcomes = s.exec(
            select(AuditLog.outcome)
            .where(AuditLog.action == "login", AuditLog.target == "operator")
            .order_by(AuditLog.id)
        ).all()
    assert outcomes[-7:] == ["failed"] * 5 + ["throttled", "ok"]


def _resume(url: str, monkeypatch: pytest.MonkeyPatch, cookie: str, actor: object | None = None) -> AppTest:
    """A run of app.py by a browser session holding this cookie (AppTest reruns only re-run the page script,
    so each check of the login gate starts a new AppTest, as a new request of the same browser would)."""
    import streamlit as st

    monkeypatch.setenv("DATABASE_URL", url)
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["cookie"] = cookie
    if actor is not None:
        at.session_state["actor"] = actor
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _logged_in(at: AppTest) -> bool:
    return "actor" in at.session_state and not [b for b in at.button if b.key == "login_submit"]


def test_idle_session_expires_and_activity_keeps_it(seeded_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHBOARD_SESSION_IDLE_MINUTES", "30")
    with clock.frozen(T0):
        at = _app(seeded_url, monkeypatch)
        _submit(at, "leader", DEMO_PASSWORD)
        cookie, actor = at.session_state["cookie"], at.session_state["actor"]
        assert actor.username == "leader"
    with clock.frozen(T0 + timedelta(minutes=29)):
        assert _logged_in(_resume(seeded_url, monkeypatch, cookie, actor))
    with clock.frozen(T0 + timedelta(minutes=58)):  # 29 min after the last activity
        assert _logged_in(_resume(seeded_url, monkeypatch, cookie, actor))
    with clock.frozen(T0 + timedelta(minutes=89)):  # 31 min idle
        at = _resume(seeded_url, monkeypatch, cookie, actor)
        assert not _logged_in(at) and "actor" not in at.session_state
        assert at.text_input(key="login_username") is not None
        assert "登录已超时" in at.warning[0].value
    with clock.frozen(T0 + timedelta(minutes=90)):  # an expired session stays expired
        assert not _logged_in(_resume(seeded_url, monkeypatch, cookie))
    with Session(get_engine(seeded_url)) as s:
        leader = s.exec(select(User.id).where(User.username == "leader")).one()
        # (the copied database may hold sessions of other tests' logins: take this test's one)
        row = s.exec(
            select(UserSession).where(UserSession.user_id == leader, UserSession.created_at == T0)
        ).one()
        assert row.revoked_at == T0 + timedelta(minutes=89)


def test_a_fresh_visit_shows_the_login_form_without_warnings(
    seeded_ro_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _app(seeded_ro_url, monkeypatch)
    assert not at.exception and not at.warning and not at.error
    assert at.text_input(key="login_username") is not None and "actor" not in at.session_state


def test_revoked_and_forged_cookies_do_not_log_in(
    seeded_url: str, monkeypatch: pytest.MonkeyPatch, login
) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_url, "operator")
    cookie = at.session_state["cookie"]
    sid, token, sig = cookie.split(".")
    assert _logged_in(_resume(seeded_url, monkeypatch, cookie))
    assert not _logged_in(_resume(seeded_url, monkeypatch, f"{sid}.{token}.{'0' * len(sig)}"))
    assert not _logged_in(_resume(seeded_url, monkeypatch, f"{int(sid) + 1}.{token}.{sig}"))
    with Session(get_engine(seeded_url)) as s:
        auth.end_session(s, cookie)  # what the logout button does
        s.commit()
    assert not _logged_in(_resume(seeded_url, monkeypatch, cookie))


def test_deactivated_user_is_thrown_out_on_next_request(
    seeded_url: str, monkeypatch: pytest.MonkeyPatch, login
) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_url, "operator")
    cookie = at.session_state["cookie"]
    with Session(get_engine(seeded_url)) as s:
        admin = auth.actor_of(s.exec(select(User).where(User.username == "admin")).one())
        users.set_active(s, admin, users.find_by_username(s, "operator"), False)  # type: ignore[arg-type]
        s.commit()
    at = _resume(seeded_url, monkeypatch, cookie, at.session_state["actor"])
    assert not _logged_in(at) and at.text_input(key="login_username") is not None


# ---------------------------------------------------------------- page access


@SQLITE_ONLY  # the gate is the navigation's (kernel/policy.py), not the database's
@pytest.mark.parametrize("role", list(DEMO), ids=[str(r) for r in DEMO])
def test_pages_outside_the_role_cannot_be_opened(role: Role, seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    """The app does not route to a page outside the role's navigation, and the page itself refuses too."""
    at = login(seeded_ro_url, DEMO[role])
    actor = at.session_state["actor"]
    for spec in PAGES:
        if spec.group != "nav.admin" or role in spec.roles:  # the administration pages, from the registry
            continue
        path = spec.path
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(path)
        page = AppTest.from_file(str(ROOT / path), default_timeout=60)
        page.session_state["actor"] = actor
        page.run()
        assert not page.exception, [e.value for e in page.exception]
        assert not page.title and not page.dataframe and page.error, (role, path)


# ---------------------------------------------------------------- user administration


def test_admin_creates_a_grid_worker_through_the_page(seeded_url: str, login) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_url, "admin", page="pages/admin_users.py")
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "用户管理"
    at.text_input(key="un_username").input("gw-test")
    at.text_input(key="un_name").input("<b>测试</b> **网格员**")
    at.selectbox(key="un_role").set_value(Role.grid_worker)
    at.run()
    at.selectbox(key="un_grid").select_index(0)  # the grid picker appears for this role only
    assert not [s for s in at.selectbox if s.key in ("un_community", "un_department")]
    at.text_input(key="un_pw1").input("short")
    at.text_input(key="un_pw2").input("short")
    at.button(key="un_create").click()
    at.run()
    assert at.error and "8" in at.error[0].value  # the password rule, translated
    at.text_input(key="un_pw1").input("Field2026ok")
    at.text_input(key="un_pw2").input("Field2026ok")
    at.button(key="un_create").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "已创建用户" in at.success[0].value
    with Session(get_engine(seeded_url)) as s:
        user = s.exec(select(User).where(User.username == "gw-test")).one()
        assert user.role == Role.grid_worker and user.grid_id is not None and user.community_id is not None
        assert s.exec(
            select(AuditLog).where(AuditLog.action == "user_create", AuditLog.target == "gw-test")
        ).one()
    # The new account works.
    at2 = _app(seeded_url, pytest.MonkeyPatch())
    _submit(at2, "gw-test", "Field2026ok")
    assert at2.session_state["actor"].grid_id == user.grid_id


def test_admin_edits_deactivates_and_resets(seeded_url: str, login) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_url, "admin", page="pages/admin_users.py")
    with Session(get_engine(seeded_url)) as s:
        target = s.exec(select(User).where(User.username == "volunteers")).one()
    at.selectbox(key="users_pick").set_value(target.id)
    at.run()
    k = f"ue{target.id}"
    at.text_input(key=f"{k}_name").input("志愿服务站站长")
    at.button(key=f"{k}_save").click()
    at.run()
    assert not at.exception and "已保存" in at.success[0].value
    at.checkbox(key=f"{k}_sure").check()
    at.run()
    at.button(key=f"{k}_deactivate").click()
    at.run()
    assert "已停用" in at.success[0].value
    at.text_input(key=f"{k}_pw1").input("Brand2026new")
    at.text_input(key=f"{k}_pw2").input("Brand2026new")
    at.button(key=f"{k}_reset").click()
    at.run()
    assert not at.exception and "已重置" in at.success[0].value
    with Session(get_engine(seeded_url)) as s:
        row = s.get(User, target.id)
        assert row is not None and row.display_name == "志愿服务站站长" and not row.active
        actions = s.exec(
            select(AuditLog.action).where(AuditLog.target == "volunteers").order_by(AuditLog.id)
        ).all()
        assert actions[-3:] == ["user_update", "user_deactivate", "password_reset"]


# ---------------------------------------------------------------- audit page


@pytest.mark.parametrize("username", ["admin", "leader"])
def test_audit_page_filters_and_survives_hostile_text(seeded_url: str, login, username: str) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_url, username, page="pages/audit.py")
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "审计日志"
    assert at.dataframe, "the trail shows rows (at least this login)"
    at.multiselect(key="audit_actions").set_value(["login"])
    at.run()
    df = at.dataframe[0].value
    assert set(df["操作"]) == {"登录"}
    at.text_input(key="audit_target").input("' OR 1=1 --")
    at.run()
    assert not at.exception and not at.dataframe and "没有符合条件的记录" in at.info[0].value
    at.text_input(key="audit_target").input("")
    at.multiselect(key="audit_actions").set_value([])
    at.selectbox(key="audit_source").set_value("case")
    at.run()
    df = at.dataframe[0].value
    assert set(df["来源"]) == {"案件流转"} and len(df) == 50
    at.button(key="audit_next").click()
    at.run()
    assert "第 2 /" in _texts(at)


# ---------------------------------------------------------------- deep link to another scope's case


CASE_PAGE = ROOT / "pages" / "case_detail.py"


@pytest.mark.skipif(not CASE_PAGE.exists(), reason="pages/case_detail.py is not written yet")
def test_grid_worker_cannot_open_another_grids_case_by_url(seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    with Session(get_engine(seeded_ro_url)) as s:
        me = s.exec(select(User).where(User.username == "grid")).one()
        other = s.exec(
            select(Case).where(Case.grid_id != me.grid_id, Case.assignee_id != me.id).order_by(Case.id)
        ).first()
        own = s.exec(select(Case).where(Case.grid_id == me.grid_id).order_by(Case.id)).first()
        assert other is not None and own is not None
    at = login(seeded_ro_url, "grid")
    at.query_params["case"] = other.number
    at.switch_page("pages/case_detail.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = _texts(at) + "".join(str(d.value) for d in at.dataframe)
    for secret in (
        other.title,
        other.description[:30],
        other.reporter_name,
        other.reporter_phone,
        other.address,
    ):
        assert not secret or secret not in shown, secret
    assert at.error or at.warning or at.info  # a clean refusal, not a blank page
    # ... while the worker's own case opens from the same kind of link.
    at.query_params["case"] = own.number
    at.run()
    assert not at.exception and own.number in _texts(at)


# ---------------------------------------------------------------- single sign-on


SSO_SECRETS = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "test-cookie-secret",
        "client_id": "dashboard",
        "client_secret": "secret",
        "server_metadata_url": "https://sso.example.org/.well-known/openid-configuration",
    }
}


@pytest.fixture
def fake_authlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """st.login needs Authlib; the app only checks that it is importable before offering the button."""
    monkeypatch.setitem(sys.modules, "authlib", types.ModuleType("authlib"))


def test_no_sso_button_without_secrets(seeded_ro_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(seeded_ro_url, monkeypatch)
    assert not at.exception
    assert not [b for b in at.button if b.key == "login_sso"]


def test_sso_button_and_identity_mapping(
    seeded_url: str, monkeypatch: pytest.MonkeyPatch, fake_authlib
) -> None:  # type: ignore[no-untyped-def]
    with Session(get_engine(seeded_url)) as s:
        user = s.exec(select(User).where(User.username == "operator")).one()
        user.sso_subject = "oidc|operator-1"
        s.add(user)
        s.commit()
    monkeypatch.setenv("DATABASE_URL", seeded_url)
    with clock.frozen(T0):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.secrets.update(SSO_SECRETS)
        at.run()
        assert not at.exception
        assert at.button(key="login_sso").label == "使用单点登录"

        # Back from the provider: a fresh identity that maps to a user logs in.
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.secrets.update(SSO_SECRETS)
        at.user = {
            "is_logged_in": True,
            "sub": "oidc|operator-1",
            "email": "op@example.org",
            "iat": int(T0.replace(tzinfo=clock.TZ).timestamp()) - 30,
        }
        at.run()
        assert not at.exception and at.session_state["actor"].username == "operator"

        # An identity confirmed long ago (Streamlit's 30-day identity cookie) does not open a session by itself.
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.secrets.update(SSO_SECRETS)
        at.user = {
            "is_logged_in": True,
            "sub": "oidc|operator-1",
            "iat": int(T0.replace(tzinfo=clock.TZ).timestamp()) - 86400,
        }
        at.run()
        assert not at.exception and "actor" not in at.session_state

        # An identity without an account is refused with a message, not an exception.
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.secrets.update(SSO_SECRETS)
        at.user = {
            "is_logged_in": True,
            "sub": "oidc|stranger",
            "email": "stranger@example.org",
            "email_verified": True,
            "iat": int(T0.replace(tzinfo=clock.TZ).timestamp()),
        }
        at.run()
        assert not at.exception and "actor" not in at.session_state
        assert any("没有对应的账号" in e.value for e in at.error)
    with Session(get_engine(seeded_url)) as s:
        rows = s.exec(
            select(AuditLog).where(AuditLog.action == "login", AuditLog.detail.contains("sso"))
        ).all()
        assert {(r.target, r.outcome) for r in rows} == {
            ("operator", "ok"),
            ("stranger@example.org", "failed"),
        }
