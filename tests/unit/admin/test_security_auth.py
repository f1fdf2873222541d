"""Login, throttling, sessions and single sign-on mapping (DESIGN §9), on a fresh database per backend.
(Parallel attempts, addresses and unlocking: tests/unit/admin/test_security_login.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, select

from dashboard import clock
from dashboard.admin import auth, users
from dashboard.admin.users import UserInput
from dashboard.db import get_engine
from models import AuditLog, LoginAttempt, User, UserSession
from models.enums import Role

T0 = datetime(2026, 11, 20, 9, 0)
SECRET = "unit-test-secret"
PASSWORD = "Grid2026pass"


@pytest.fixture
def s(db_url: str) -> Iterator[Session]:
    with Session(get_engine(db_url)) as session, clock.frozen(T0):
        users.create_user(session, None, "alice", PASSWORD, UserInput("Alice", Role.operator))
        session.commit()
        yield session


def _auth(s: Session, username: str, password: str) -> auth.LoginResult:
    """A password login from one address; it runs its own transactions, so the test's session commits first."""
    s.commit()
    return auth.authenticate(username, password, source="10.0.0.1", engine=s.get_bind())  # type: ignore[arg-type]


def _audit(s: Session, action: str = "login") -> list[tuple[str, str]]:
    rows = s.exec(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).all()
    return [(r.target, r.outcome) for r in rows]


def test_password_rules() -> None:
    assert auth.password_problems("short1") == ["auth.rule_length"]
    assert auth.password_problems("lettersonly") == ["auth.rule_mix"]
    assert auth.password_problems("1234567890") == ["auth.rule_mix"]
    assert auth.password_problems("xbob2026x", "bob") == ["auth.rule_username"]
    assert auth.password_problems(PASSWORD, "alice") == []


def test_argon2_hash_is_stored_never_the_password(s: Session) -> None:
    user = s.exec(select(User).where(User.username == "alice")).one()
    assert user.password_hash.startswith("$argon2")
    assert PASSWORD not in user.password_hash
    assert auth.verify_password(user.password_hash, PASSWORD)
    assert not auth.verify_password(user.password_hash, PASSWORD + "x")
    assert not auth.verify_password("not a hash", PASSWORD)


def test_login_ok_and_failed_are_audited(s: Session) -> None:
    with clock.frozen(T0):
        assert _auth(s, "alice", PASSWORD).actor is not None
        bad = _auth(s, "alice", "wrong-password1")
        unknown = _auth(s, "nobody", "whatever1")
    assert bad.actor is None and bad.error == "failed"
    assert unknown.actor is None and unknown.error == "failed"  # same answer: usernames are not revealed
    assert _audit(s) == [("alice", "ok"), ("alice", "failed"), ("nobody", "failed")]


def test_five_failures_make_the_username_wait_at_that_address(s: Session) -> None:
    """Changed on purpose: five failures used to lock the account for 15 minutes with its own message
    ("账号已锁定 … 10:15"), which told who exists and let anyone lock anyone out. Now that username waits at
    that address (1 minute, doubling with each further failure), and the answer stays "failed"."""
    with clock.frozen(T0):
        for _ in range(5):
            assert _auth(s, "alice", "wrong-password1").error == "failed"
    # Waiting: even the right password is refused, with the same answer, and the refusal is audited.
    with clock.frozen(T0 + timedelta(seconds=59)):
        still = _auth(s, "alice", PASSWORD)
    assert still.actor is None and still.error == "failed"
    with clock.frozen(T0 + timedelta(minutes=1)):
        again = _auth(s, "alice", PASSWORD)
    assert again.actor is not None
    assert s.exec(select(LoginAttempt).where(LoginAttempt.username == "alice")).all() == []
    outcomes = [o for _, o in _audit(s)]
    assert outcomes == ["failed"] * 5 + ["throttled", "ok"]


def test_success_resets_the_failure_count(s: Session) -> None:
    with clock.frozen(T0):
        for _ in range(4):
            _auth(s, "alice", "wrong-password1")
        assert _auth(s, "alice", PASSWORD).actor is not None
        for _ in range(4):
            assert _auth(s, "alice", "wrong-password1").error == "failed"


def test_inactive_user_cannot_log_in(s: Session) -> None:
    user = s.exec(select(User).where(User.username == "alice")).one()
    user.active = False
    s.add(user)
    with clock.frozen(T0):
        result = _auth(s, "alice", PASSWORD)
    assert result.actor is None and result.error == "inactive"


def _login(s: Session) -> str:
    actor = _auth(s, "alice", PASSWORD).actor
    assert actor is not None
    cookie = auth.start_session(s, actor, SECRET)
    s.commit()
    return cookie


def test_session_survives_within_idle_time_and_slides(s: Session) -> None:
    with clock.frozen(T0):
        cookie = _login(s)
    row = s.exec(select(UserSession)).one()
    assert cookie.split(".")[1] not in row.token_hash  # only a hash of the token is stored
    with clock.frozen(T0 + timedelta(minutes=100)):
        assert auth.resume_session(s, cookie, SECRET, idle_minutes=120) is not None
    # Activity at +100 min moved the idle window: +210 min is 110 min after it.
    with clock.frozen(T0 + timedelta(minutes=210)):
        assert auth.resume_session(s, cookie, SECRET, idle_minutes=120) is not None


def test_session_expires_after_idle_time(s: Session) -> None:
    with clock.frozen(T0):
        cookie = _login(s)
    with clock.frozen(T0 + timedelta(minutes=121)):
        assert auth.resume_session(s, cookie, SECRET, idle_minutes=120) is None
    row = s.exec(select(UserSession)).one()
    assert row.revoked_at == T0 + timedelta(minutes=121)
    # Once expired it stays expired, even if the clock were wound back.
    with clock.frozen(T0 + timedelta(minutes=1)):
        assert auth.resume_session(s, cookie, SECRET, idle_minutes=120) is None


def test_tampered_or_foreign_cookies_are_refused(s: Session) -> None:
    with clock.frozen(T0):
        cookie = _login(s)
        sid, token, sig = cookie.split(".")
        assert auth.resume_session(s, cookie, SECRET, 120) is not None
        assert auth.resume_session(s, cookie, "another-secret", 120) is None
        assert auth.resume_session(s, f"{sid}.{token}x.{sig}", SECRET, 120) is None
        assert auth.resume_session(s, f"{int(sid) + 1}.{token}.{sig}", SECRET, 120) is None
        assert auth.resume_session(s, "' OR 1=1 --", SECRET, 120) is None
        assert auth.resume_session(s, "", SECRET, 120) is None
        assert auth.resume_session(s, None, SECRET, 120) is None


def test_logout_deactivation_and_password_reset_end_sessions(s: Session) -> None:
    admin_id = users.create_user(s, None, "root", PASSWORD, UserInput("Root", Role.admin))
    admin = auth.actor_of(s.get(User, admin_id))  # type: ignore[arg-type]
    alice_id = users.find_by_username(s, "alice")
    assert alice_id is not None
    with clock.frozen(T0):
        c1 = _login(s)
        auth.end_session(s, c1)
        assert auth.resume_session(s, c1, SECRET, 120) is None

        c2 = _login(s)
        users.reset_password(s, admin, alice_id, "NewPass2026")
        assert auth.resume_session(s, c2, SECRET, 120) is None

        actor = _auth(s, "alice", "NewPass2026").actor
        assert actor is not None
        c3 = auth.start_session(s, actor, SECRET)
        users.set_active(s, admin, alice_id, False)
        assert auth.resume_session(s, c3, SECRET, 120) is None


def test_sso_maps_subject_then_email_username(s: Session) -> None:
    alice_id = users.find_by_username(s, "alice")
    users.create_user(s, None, "bob@example.org", PASSWORD, UserInput("Bob", Role.leader))
    user = s.get(User, alice_id)
    assert user is not None
    user.sso_subject = "oidc|alice"
    s.add(user)
    with clock.frozen(T0):
        by_subject = auth.sso_login(s, "oidc|alice", "someone@example.org")
        by_email = auth.sso_login(s, "oidc|bob", "Bob@Example.org", email_verified=True)
        unknown = auth.sso_login(s, "oidc|eve", "eve@example.org", email_verified=True)
        nothing = auth.sso_login(s, None, None)
    assert by_subject.actor is not None and by_subject.actor.username == "alice"
    assert by_email.actor is not None and by_email.actor.username == "bob@example.org"
    assert unknown.actor is None and unknown.error == "unknown"
    assert nothing.actor is None
    assert ("eve@example.org", "failed") in _audit(s)


def test_sso_refuses_inactive_users_and_ignores_password_delays(s: Session) -> None:
    """Changed on purpose: accounts are no longer locked (there is no lock to refuse); a delay on password
    guesses does not stop the provider's confirmed identity."""
    user = s.exec(select(User).where(User.username == "alice")).one()
    user.sso_subject = "sub-a"
    s.add(user)
    s.add(LoginAttempt(username="alice", source="10.0.0.1", failures=9, window_started_at=T0,
                       last_failure_at=T0, blocked_until=T0 + timedelta(minutes=5)))  # fmt: skip
    with clock.frozen(T0):
        assert auth.sso_login(s, "sub-a", None).actor is not None
        user.active = False
        s.add(user)
        assert auth.sso_login(s, "sub-a", None).error == "inactive"


def test_resuming_while_another_writer_commits_keeps_the_user_logged_in(db_url: str) -> None:
    """Resuming reads the session, then stamps its last activity (a write). If another writer commits in
    between, SQLite refuses the read transaction's upgrade at once (its snapshot is stale): the page run
    must not fail with "database is locked" — the resume is done again as a writer."""
    from sqlalchemy import event, text

    engine = get_engine(db_url)
    with Session(engine) as s, clock.frozen(T0):
        users.create_user(s, None, "alice", PASSWORD, UserInput("Alice", Role.operator))
        s.commit()
        cookie = _login(s)
    interfered: list[bool] = []

    def other_writer_commits(session: Session, *_: object) -> None:
        if not interfered:
            interfered.append(True)
            with engine.connect() as other:
                other.execute(text("UPDATE users SET display_name = 'Alice W.' WHERE username = 'alice'"))
                other.commit()

    event.listen(Session, "before_flush", other_writer_commits)
    try:
        with clock.frozen(T0 + timedelta(minutes=5)):
            actor = auth.resume(engine, cookie, SECRET, idle_minutes=120)
    finally:
        event.remove(Session, "before_flush", other_writer_commits)
    assert interfered and actor is not None and actor.username == "alice"
    with Session(engine) as s:
        assert s.exec(select(UserSession)).one().last_seen_at == T0 + timedelta(minutes=5)
