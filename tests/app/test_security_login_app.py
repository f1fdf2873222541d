"""Login hardening through the running app (AppTest): one answer for unknown users, wrong passwords and
throttled attempts; the administrator lifts a delay on the users page; single sign-on refuses an e-mail
the provider has not verified."""

from __future__ import annotations

import sys
import types
from datetime import datetime

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from dashboard import clock
from dashboard.admin import throttle, users
from dashboard.admin.users import UserInput
from dashboard.db import get_engine
from models import AuditLog, LoginAttempt, User
from models.enums import Role
from tests.conftest import DEMO_PASSWORD, ROOT

T0 = datetime(2026, 11, 23, 10, 0)
SSO_SECRETS = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "test-cookie-secret",
        "client_id": "dashboard",
        "client_secret": "secret",
        "server_metadata_url": "https://sso.example.org/.well-known/openid-configuration",
    }
}


def _app(url: str, monkeypatch: pytest.MonkeyPatch, secrets: dict | None = None) -> AppTest:  # type: ignore[type-arg]
    import streamlit as st

    monkeypatch.setenv("DATABASE_URL", url)
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if secrets:
        at.secrets.update(secrets)
    return at


def _submit(at: AppTest, username: str, password: str) -> str:
    """Log in through the form; the error shown ("" when none)."""
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    at.button(key="login_submit").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at.error[0].value if at.error else ""


def test_unknown_user_wrong_password_and_throttled_look_the_same(
    seeded_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with clock.frozen(T0):
        at = _app(seeded_url, monkeypatch)
        at.run()
        unknown = _submit(at, "no-such-user", "wrong-password1")
        for _ in range(throttle.FREE_FAILURES):
            wrong = _submit(at, "operator", "wrong-password1")
        throttled = _submit(at, "operator", DEMO_PASSWORD)
        assert "actor" not in at.session_state
    assert unknown == wrong == throttled == "用户名或密码错误，或尝试次数过多，请稍后再试。"
    with Session(get_engine(seeded_url)) as s:
        rows = s.exec(
            select(AuditLog.target, AuditLog.outcome).where(AuditLog.action == "login").order_by(AuditLog.id)
        ).all()
    assert rows[-2:] == [("operator", "failed"), ("operator", "throttled")]
    assert ("no-such-user", "failed") in rows


def test_admin_lifts_the_delay_on_the_users_page(
    seeded_url: str, monkeypatch: pytest.MonkeyPatch, login
) -> None:  # type: ignore[no-untyped-def]
    with clock.frozen(T0):
        at = _app(seeded_url, monkeypatch)
        at.run()
        for _ in range(throttle.FREE_FAILURES):
            _submit(at, "operator", "wrong-password1")
        admin = login(seeded_url, "admin", page="pages/admin_users.py")
        with Session(get_engine(seeded_url)) as s:
            target = s.exec(select(User).where(User.username == "operator")).one()
        admin.selectbox(key="users_pick").set_value(target.id)
        admin.run()
        admin.button(key=f"ue{target.id}_unlock").click()
        admin.run()
        assert not admin.exception and "已解除 operator 的锁定" in admin.success[0].value
        with Session(get_engine(seeded_url)) as s:
            assert s.exec(select(LoginAttempt).where(LoginAttempt.username == "operator")).all() == []
        assert _submit(at, "operator", DEMO_PASSWORD) == ""
        assert at.session_state["actor"].username == "operator"


@pytest.fixture
def fake_authlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """st.login needs Authlib; the app only checks that it is importable before offering the button."""
    monkeypatch.setitem(sys.modules, "authlib", types.ModuleType("authlib"))


@pytest.mark.parametrize("claim", [None, False, "false"])
def test_sso_refuses_an_unverified_email(
    seeded_url: str, monkeypatch: pytest.MonkeyPatch, fake_authlib, claim: object
) -> None:  # type: ignore[no-untyped-def]
    with Session(get_engine(seeded_url)) as s:
        users.create_user(s, None, "lin@example.org", "Lin2026pass", UserInput("林", Role.leader))
        s.commit()
    identity = {"is_logged_in": True, "sub": "oidc|someone", "email": "Lin@Example.org",
                "iat": int(T0.replace(tzinfo=clock.TZ).timestamp())}  # fmt: skip
    if claim is not None:
        identity["email_verified"] = claim
    with clock.frozen(T0):
        at = _app(seeded_url, monkeypatch, SSO_SECRETS)
        at.user = identity
        at.run()
        assert not at.exception and "actor" not in at.session_state
        assert any("未确认此邮箱地址" in e.value for e in at.error)

        at = _app(seeded_url, monkeypatch, SSO_SECRETS)
        at.user = {**identity, "email_verified": True}
        at.run()
        assert not at.exception and at.session_state["actor"].username == "lin@example.org"
