"""Passwords (argon2), login with lockout, and server-side sessions behind a signed browser cookie.

A login creates a `user_sessions` row; the browser keeps ``<id>.<token>.<signature>`` in a cookie so a
reload within the idle limit stays logged in. Only a hash of the token is stored. Sessions expire after
`idle_minutes` without activity and can be revoked (logout, deactivation, password reset).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func
from sqlmodel import Session, select

from dashboard import clock
from dashboard.kernel import audit
from dashboard.kernel.scope import Actor
from models import User, UserSession
from models.enums import Role

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 8
COOKIE_NAME = "gg_session"

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_problems(password: str, username: str = "") -> list[str]:
    """i18n keys of the password rules `password` breaks (empty list = acceptable)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append("auth.rule_length")
    if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        problems.append("auth.rule_mix")
    if username and username.lower() in password.lower():
        problems.append("auth.rule_username")
    return problems


def actor_of(user: User) -> Actor:
    assert user.id is not None
    return Actor(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        community_id=user.community_id,
        grid_id=user.grid_id,
        department_id=user.department_id,
    )


@dataclass(frozen=True)
class LoginResult:
    actor: Actor | None
    error: str | None = None  # "failed" | "locked" | "inactive" | "unknown" (SSO identity without a user)
    locked_until: datetime | None = None


def authenticate(session: Session, username: str, password: str) -> LoginResult:
    """Check a username and password, counting failures and locking the account after five."""
    now = clock.now()
    user = session.exec(select(User).where(User.username == username.strip())).first()
    if user is None:
        # Spend the same time as a real check so that timing does not reveal which usernames exist.
        verify_password(_DUMMY_HASH, password)
        audit.record(
            session, None, "login", username[:64], "failed", "unknown user", actor_name=username[:64]
        )
        return LoginResult(None, "failed")
    if user.locked_until and user.locked_until > now:
        audit.record(session, None, "login", user.username, "locked", actor_name=user.username)
        return LoginResult(None, "locked", user.locked_until)
    if not verify_password(user.password_hash, password):
        user.failed_logins += 1
        outcome = "failed"
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            outcome = "locked"
        session.add(user)
        audit.record(session, None, "login", user.username, outcome, actor_name=user.username)
        return LoginResult(None, outcome, user.locked_until if outcome == "locked" else None)
    if not user.active:
        audit.record(session, None, "login", user.username, "inactive", actor_name=user.username)
        return LoginResult(None, "inactive")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.add(user)
    actor = actor_of(user)
    audit.record(session, actor, "login", user.username)
    return LoginResult(actor)


_DUMMY_HASH = _hasher.hash(secrets.token_hex(8))


def sso_login(session: Session, subject: str | None, email: str | None) -> LoginResult:
    """Log in an identity confirmed by the OIDC provider (st.login): map it to a user and audit it.

    The identity maps to the user whose `sso_subject` equals the provider's subject or e-mail, else to the
    user whose username is the e-mail. Unknown identities, inactive and locked accounts are refused.
    """
    keys = [k.strip() for k in (subject, email) if k and k.strip()]
    label = (email or subject or "").strip()[:64]
    user = (
        session.exec(select(User).where(User.sso_subject.in_(keys)).order_by(User.id)).first()
        if keys
        else None
    )
    if user is None and email and email.strip():
        user = session.exec(select(User).where(func.lower(User.username) == email.strip().lower())).first()
    if user is None:
        audit.record(
            session, None, "login", label, "failed", "sso: no user for this identity", actor_name=label
        )
        return LoginResult(None, "unknown")
    now = clock.now()
    if user.locked_until and user.locked_until > now:
        audit.record(session, None, "login", user.username, "locked", "sso", actor_name=user.username)
        return LoginResult(None, "locked", user.locked_until)
    if not user.active:
        audit.record(session, None, "login", user.username, "inactive", "sso", actor_name=user.username)
        return LoginResult(None, "inactive")
    user.last_login_at = now
    session.add(user)
    actor = actor_of(user)
    audit.record(session, actor, "login", user.username, detail="sso")
    return LoginResult(actor)


def _sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()[:32]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, actor: Actor, secret: str) -> str:
    """Create a server-side session; returns the signed cookie value."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    row = UserSession(token_hash=_token_hash(token), user_id=actor.id, created_at=now, last_seen_at=now)
    session.add(row)
    session.flush()
    payload = f"{row.id}.{token}"
    return f"{payload}.{_sign(secret, payload)}"


def resume_session(
    session: Session, cookie: str | None, secret: str, idle_minutes: int, *, touch: bool = True
) -> Actor | None:
    """The actor of a valid, unexpired, unrevoked session cookie of an active user, else None. With
    `touch` the check counts as activity (at most one write a minute); an auto-refresh passes False."""
    if not cookie or cookie.count(".") != 2:
        return None
    sid, token, signature = cookie.split(".")
    if not hmac.compare_digest(_sign(secret, f"{sid}.{token}"), signature) or not sid.isdigit():
        return None
    row = session.get(UserSession, int(sid))
    now = clock.now()
    if (
        row is None
        or row.revoked_at is not None
        or not hmac.compare_digest(row.token_hash, _token_hash(token))
    ):
        return None
    if row.last_seen_at < now - timedelta(minutes=idle_minutes):
        row.revoked_at = now
        session.add(row)
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if touch and (now - row.last_seen_at).total_seconds() > 60:
        row.last_seen_at = now
        session.add(row)
    return actor_of(user)


def end_session(session: Session, cookie: str | None) -> None:
    """Revoke the session named by a cookie (logout)."""
    if cookie and cookie.count(".") == 2 and cookie.split(".")[0].isdigit():
        row = session.get(UserSession, int(cookie.split(".")[0]))
        if row is not None and row.revoked_at is None:
            row.revoked_at = clock.now()
            session.add(row)


def revoke_user_sessions(session: Session, user_id: int) -> None:
    """End every session of a user (deactivation, password reset)."""
    now = clock.now()
    for row in session.exec(
        select(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    ):
        row.revoked_at = now
        session.add(row)
