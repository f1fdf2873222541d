"""Counters of the public pages' limits in the database (`public_attempts`), so every replica counts the
same: one atomic ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` per event, in fixed windows (an hour, a
day starting at midnight), and lock rows for a lookup locked after too many wrong codes."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from models import PublicAttempt

_T = PublicAttempt.__table__.c  # type: ignore[attr-defined]
_EPOCH = datetime(2000, 1, 1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
KEEP = timedelta(days=2)
"""Counter rows older than this (and locks that ran out) are deleted as new events come in."""


def window_start(now: datetime, window: timedelta) -> datetime:
    """The start of the fixed window of length `window` that holds `now` (days start at midnight)."""
    return now - (now - _EPOCH) % window


def _windowed(bucket: str, window: timedelta) -> str:
    """The counter row's bucket for `window`: an hour and the day both start at midnight, and would share
    one row (and count twice) if the window were not part of its name."""
    return f"{bucket}/{int(window.total_seconds())}"


def bump(session: Session, bucket: str, key: str, window: timedelta, now: datetime) -> int:
    """Count one event of `bucket` for `key` in the window holding `now`; the window's new count."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(PublicAttempt)
        .values(
            bucket=_windowed(bucket, window), key=key[:128], window_start=window_start(now, window), count=1
        )
        .on_conflict_do_update(
            index_elements=[_T.bucket, _T.key, _T.window_start], set_={"count": _T.count + 1}
        )
        .returning(_T.count)
    )
    return int(session.execute(stmt).scalar_one())


def count(session: Session, bucket: str, key: str, window: timedelta, now: datetime) -> int:
    """The events of `bucket` for `key` counted in the window holding `now`."""
    found = session.execute(
        select(_T.count).where(
            _T.bucket == _windowed(bucket, window),
            _T.key == key[:128],
            _T.window_start == window_start(now, window),
        )
    ).scalar_one_or_none()
    return int(found or 0)


def lock(session: Session, bucket: str, key: str, now: datetime, until: datetime) -> None:
    """Lock `key` of `bucket` until `until` (a row of its own, started at `now`)."""
    session.add(PublicAttempt(bucket=bucket, key=key[:128], window_start=now, count=0, locked_until=until))
    session.flush()


def locked_until(session: Session, bucket: str, key: str, now: datetime) -> datetime | None:
    """Until when `key` of `bucket` is locked (None: it is not)."""
    found = session.execute(
        select(func.max(_T.locked_until)).where(
            _T.bucket == bucket, _T.key == key[:128], _T.locked_until > now
        )
    ).scalar_one_or_none()
    return found


def forget_old(session: Session, now: datetime) -> None:
    """Delete counter rows nobody needs any more (indexed by `window_start`)."""
    session.execute(
        delete(PublicAttempt).where(
            _T.window_start < now - KEEP,
            or_(_T.locked_until.is_(None), and_(_T.locked_until.is_not(None), _T.locked_until < now)),
        )
    )
