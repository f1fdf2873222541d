"""Passwords (argon2), login (throttled: :mod:`dashboard.admin.throttle`), single sign-on, and server-side
sessions behind a signed browser cookie.

A login creates a `user_sessions` row; the browser keeps ``<id>.<token>.<signature>`` in a cookie so a
reload within the idle limit stays logged in. Only a hash of the token is stored. Sessions expire after
`idle_minutes` without activity and can be revoked (logout, deactivation, password reset).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dashboard import clock, db
from dashboard.admin import throttle
from dashboard.kernel import audit
from dashboard.kernel.errors import Busy
from dashboard.kernel.scope import Actor
from models import User, UserSession
from models.enums import Role

MIN_PASSWORD_LENGTH = 8
COOKIE_NAME = "gg_session"

_hasher = PasswordHasher()
_hashing = threading.BoundedSemaphore(os.cpu_count() or 2)
"""Password hashes in flight at once. Each argon2 hash holds 64 MiB while it runs and there are only so
many cores to run them: a burst of logins beyond that only adds memory (a process went past 600 MB with
40 logins at once in the capacity staircase) and finishes no sooner, so the rest wait their turn here."""


def hash_password(password: str) -> str:
    with _hashing:
        return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        with _hashing:
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
    error: str | None = None
    """"failed" (unknown username, wrong password or too many attempts: one answer) | "inactive" (right
    password, deactivated account) | "unknown" (SSO identity without a user) | "unverified" (SSO e-mail
    the provider has not verified)"""


def authenticate(username: str, password: str, *, source: str, engine: Engine | None = None) -> LoginResult:
    """Check a username and password sent from `source` (the client's address, :func:`client_address`).

    The attempt is counted before the password is checked, and refused without a check while that username
    or that address must wait (:mod:`dashboard.admin.throttle`): parallel attempts cannot guess more often
    than the limit allows. Unknown usernames, wrong passwords and refused attempts get one answer
    ("failed") after one argon2 check each, so neither the text nor the time taken tells them apart; only
    the audit log does ("failed", "throttled"). Two short writer transactions (counting, then the outcome)
    leave the password check itself outside any transaction.
    """
    name = username.strip()

    def count(s: Session) -> tuple[bool, tuple[int, str] | None]:
        admitted = throttle.admit(s, name, source)
        user = s.exec(select(User).where(User.username == name)).first() if name else None
        return admitted, (user.id, user.password_hash) if user and user.id is not None else None

    admitted, found = db.run_unit(count, engine)
    checked = verify_password(found[1] if admitted and found else _DUMMY_HASH, password)
    right = checked and admitted and found is not None
    user_id = found[0] if right and found else None
    return db.run_unit(lambda s: _outcome(s, name, source, admitted, user_id), engine)


def _outcome(session: Session, name: str, source: str, admitted: bool, user_id: int | None) -> LoginResult:
    """Record how a password login ended: `user_id` is the user whose password was right, else None."""
    label, src = name[:64], throttle.normalise_source(source)
    if user_id is None:
        found = session.exec(select(User.id).where(User.username == name)).first() if name else None
        detail = f"{'' if found else 'unknown user; '}source={src}"
        audit.record(session, None, "login", label, "failed" if admitted else "throttled", detail, label)
        return LoginResult(None, "failed")
    throttle.succeeded(session, name, source)
    user = session.get(User, user_id)
    assert user is not None
    if not user.active:
        audit.record(session, None, "login", user.username, "inactive", f"source={src}", user.username)
        return LoginResult(None, "inactive")
    user.last_login_at = clock.now()
    session.add(user)
    actor = actor_of(user)
    audit.record(session, actor, "login", user.username, detail=f"source={src}")
    return LoginResult(actor)


_DUMMY_HASH = _hasher.hash(secrets.token_hex(8))


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: int) -> str:
    """The address a login comes from: the connection's peer (Streamlit gives None for loopback: "local"),
    or, behind `trusted_proxies` proxies that each append to ``X-Forwarded-For``, the address the outermost
    of them saw (that many entries from the right; entries further left are whatever the client sent)."""
    hops = [h.strip() for h in (forwarded_for or "").split(",") if h.strip()]
    if trusted_proxies > 0 and len(hops) >= trusted_proxies:
        candidate = hops[-trusted_proxies]
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            pass
    return peer[:64] if isinstance(peer, str) and peer.strip() else "local"


def claim_true(value: object) -> bool:
    """Whether an ID-token claim says yes (a JSON true; some providers send the string "true")."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def sso_login(
    session: Session, subject: str | None, email: str | None, email_verified: bool = False
) -> LoginResult:
    """Log in an identity confirmed by the OIDC provider (st.login): map it to a user and audit it.

    The identity maps to the user whose `sso_subject` equals the provider's subject, or, only when the
    provider says the e-mail is verified (`email_verified`), its e-mail; failing that to the user whose
    username is that verified e-mail. Anyone can put someone else's address on an account at many
    providers, so an unverified e-mail maps to nobody. Unknown identities and inactive accounts are
    refused. (Password throttling does not apply: no password is guessed here.)
    """
    mail = (email or "").strip()
    keys = [k for k in ((subject or "").strip(), mail if email_verified else "") if k]
    label = (mail or subject or "").strip()[:64]
    user = (
        session.exec(select(User).where(User.sso_subject.in_(keys)).order_by(User.id)).first()
        if keys
        else None
    )
    if user is None and mail and email_verified:
        user = session.exec(select(User).where(func.lower(User.username) == mail.lower())).first()
    if user is None:
        reason, error = (
            ("sso: e-mail not verified", "unverified")
            if mail and not email_verified
            else ("sso: no user for this identity", "unknown")
        )
        audit.record(session, None, "login", label, "failed", reason, actor_name=label)
        return LoginResult(None, error)
    if not user.active:
        audit.record(session, None, "login", user.username, "inactive", "sso", actor_name=user.username)
        return LoginResult(None, "inactive")
    user.last_login_at = clock.now()
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


def resume(engine: Engine | None, cookie: str | None, secret: str, idle_minutes: int) -> Actor | None:
    """:func:`resume_session` for a page run, in its own short transaction. It reads as a reader; when
    its write (the activity stamp, an idle revocation) meets another writer that committed meanwhile
    (:class:`Busy`), it is done again as a writer, so a busy database never logs anyone out."""
    try:
        with db.session_scope(engine) as session:
            return resume_session(session, cookie, secret, idle_minutes)
    except Busy:
        return db.run_unit(lambda session: resume_session(session, cookie, secret, idle_minutes), engine)


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
