"""Throttling password logins: failed attempts counted in the database (`login_attempts`), per (username,
source address) and per source address across usernames, each by one atomic statement.

An attempt is *admitted* before its password is checked: the statement that counts it checks, on the same
row, that no delay is running (``INSERT … ON CONFLICT DO UPDATE … WHERE not blocked RETURNING``), so
parallel attempts cannot read the same count. An admitted attempt counts as a failure until its password
proves right (:func:`succeeded` takes it back). From the `FREE_FAILURES`-th failure of a username from one
address on, that pair waits ``BASE_DELAY × 2^(failures − FREE_FAILURES)``, at most `MAX_DELAY`; an
address with `SOURCE_LIMIT` failures within `SOURCE_WINDOW`, whatever the usernames, waits
`SOURCE_WINDOW`. A delay binds the address that earned it: strangers elsewhere cannot lock anyone out.
An administrator lifts a user's delays with :func:`clear`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from dashboard import clock
from models import LoginAttempt

FREE_FAILURES = 5
"""Failures of one username from one address before it must wait."""
BASE_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(minutes=15)
SOURCE_LIMIT = 20
"""Failures from one address, across usernames, within `SOURCE_WINDOW` before the address must wait."""
SOURCE_WINDOW = timedelta(minutes=10)
FORGET_AFTER = timedelta(hours=24)
"""A username's count starts afresh when its last failure from that address is older than this."""
ANY_USER = ""
"""The `username` of the row counting every username from an address."""

_T = LoginAttempt.__table__.c  # type: ignore[attr-defined]


def normalise_username(username: str) -> str:
    """The key a username is counted under (case and surrounding blanks do not make a new key)."""
    return username.strip().casefold()[:64]


def normalise_source(source: str) -> str:
    return source.strip()[:64] or "unknown"


def delay_after(failures: int) -> timedelta | None:
    """How long a username waits at an address after `failures` failures there (None: not at all)."""
    if failures < FREE_FAILURES:
        return None
    return min(BASE_DELAY * 2 ** min(failures - FREE_FAILURES, 10), MAX_DELAY)


class _Refused(Exception):
    """A delay is running: undo what the attempt counted so far (savepoint)."""


def _count(session: Session, username: str, source: str, now: datetime, restart: ColumnElement[bool]) -> int:
    """Count one failure on the row (`username`, `source`), starting afresh where `restart` holds, unless
    the row is blocked; the new count, or :class:`_Refused`. One statement: checked and counted together."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(LoginAttempt)
        .values(username=username, source=source, failures=1, window_started_at=now, last_failure_at=now)
        .on_conflict_do_update(
            index_elements=[_T.username, _T.source],
            set_={
                "failures": case((restart, 1), else_=_T.failures + 1),
                "window_started_at": case((restart, now), else_=_T.window_started_at),
                "last_failure_at": now,
            },
            where=or_(_T.blocked_until.is_(None), _T.blocked_until <= now),
        )
        .returning(_T.failures)
    )
    failures = session.execute(stmt).scalar_one_or_none()
    if failures is None:
        raise _Refused
    return failures


def _block(session: Session, username: str, source: str, until: datetime) -> None:
    session.execute(
        update(LoginAttempt).where(_T.username == username, _T.source == source).values(blocked_until=until)
    )


def admit(session: Session, username: str, source: str) -> bool:
    """Count an attempt of `username` from `source` as a failure, unless that pair or that address must
    still wait: whether the attempt may check its password. An empty username counts for the address only.
    Refused attempts count nothing (a delay does not grow while it runs)."""
    user, src, now = normalise_username(username), normalise_source(source), clock.now()
    try:
        with session.begin_nested():
            if user:
                delay = delay_after(_count(session, user, src, now, _T.last_failure_at < now - FORGET_AFTER))
                if delay is not None:
                    _block(session, user, src, now + delay)
            if (
                _count(session, ANY_USER, src, now, _T.window_started_at <= now - SOURCE_WINDOW)
                >= SOURCE_LIMIT
            ):
                _block(session, ANY_USER, src, now + SOURCE_WINDOW)
    except _Refused:
        return False
    return True


def succeeded(session: Session, username: str, source: str) -> None:
    """The admitted attempt's password was right: the pair starts afresh, the address's count takes the
    attempt back, and rows nobody needs any more go."""
    user, src, now = normalise_username(username), normalise_source(source), clock.now()
    session.execute(delete(LoginAttempt).where(_T.username == user, _T.source == src))
    session.execute(
        update(LoginAttempt)
        .where(_T.username == ANY_USER, _T.source == src, _T.failures > 0)
        .values(
            failures=_T.failures - 1,
            blocked_until=case((_T.failures - 1 < SOURCE_LIMIT, None), else_=_T.blocked_until),
        )
    )
    session.execute(
        delete(LoginAttempt).where(
            _T.last_failure_at < now - FORGET_AFTER,
            or_(_T.blocked_until.is_(None), _T.blocked_until <= now),
        )
    )


def clear(session: Session, username: str) -> bool:
    """Lift every delay of `username` (an administrator's unlock): its rows at every address, and the
    address-wide rows of those addresses. Whether there was anything to lift."""
    user = normalise_username(username)
    sources = list(session.execute(select(_T.source).where(_T.username == user)).scalars())
    # Rows in the order attempts take them (the username's, then the address's): no deadlock with one.
    session.execute(delete(LoginAttempt).where(_T.username == user))
    if sources:
        session.execute(delete(LoginAttempt).where(_T.username == ANY_USER, _T.source.in_(sources)))
    return bool(sources)


def blocked_until(session: Session) -> dict[str, datetime]:
    """Normalised username → the end of its longest running delay (at any address), for the users list."""
    rows = session.execute(
        select(_T.username, func.max(_T.blocked_until))
        .where(_T.username != ANY_USER, _T.blocked_until > clock.now())
        .group_by(_T.username)
    )
    return {name: until for name, until in rows}
