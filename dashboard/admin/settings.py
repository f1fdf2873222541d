"""System settings changeable at run time (table `settings`), with defaults from configuration.

A stored value wins over the configured default (environment variable, see ``dashboard/config.py``);
a missing or unreadable row falls back to the default, so a fresh database needs no rows. Values are
stored as text and returned typed. Every change is validated and written to `audit_log`.

Pages and the wall read through :func:`cached_setting`, a small per-process cache (a few seconds),
cleared in this process when a change commits; other replicas see the change when their entry expires.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import event
from sqlmodel import Session

from dashboard import clock
from dashboard.config import Settings, get_settings
from dashboard.kernel import audit
from dashboard.kernel.errors import Invalid, NotPermitted
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor
from models import Setting

Value = int | str


_PATH = re.compile(r"^/[^\x00-\x1f\x7f]*$")
"""A folder on the server: an absolute path (the app and the backup job run in different folders)."""
_URL = re.compile(r"^(/[^\s\"'<>\\]*|https?://[^\s\"'<>\\/]+(/[^\s\"'<>\\]*)?)$")
_BASE_URL = re.compile(r"^https?://[^\s\"'<>\\/?#]+(/[^\s\"'<>\\?#]*)?$")
"""The address residents reach the public pages at (QR posters): scheme and host, maybe a path, no query."""


@dataclass(frozen=True)
class SettingSpec:
    """One known setting: its type, bounds (for integers) and where its default comes from."""

    key: str
    kind: type
    default: Callable[[Settings], Value]
    minimum: int | None = None
    maximum: int | None = None
    max_length: int = 500


SPECS: dict[str, SettingSpec] = {
    s.key: s
    for s in (
        SettingSpec("wall_refresh_seconds", int, lambda c: c.wall_refresh_seconds, 10, 3600),
        SettingSpec("blind_spot_days", int, lambda c: c.blind_spot_days, 1, 365),
        SettingSpec("map_style_url", str, lambda c: c.map_style_url),
        SettingSpec("session_idle_minutes", int, lambda c: c.session_idle_minutes, 5, 1440),
        SettingSpec("backup.dir", str, lambda c: c.backup_dir, max_length=300),
        SettingSpec("backup.interval_hours", int, lambda c: c.backup_interval_hours, 1, 720),
        SettingSpec("retention.mask_after_years", int, lambda c: c.retention_mask_after_years, 0, 100),
        SettingSpec("residents.reports_per_hour", int, lambda c: 5, 1, 1000),
        SettingSpec("residents.reports_per_day", int, lambda c: 20, 1, 10000),
        SettingSpec("residents.public_base_url", str, lambda c: c.public_base_url, max_length=200),
    )
}
"""The settings an admin may change, in display order."""


def _spec(key: str) -> SettingSpec:
    spec = SPECS.get(key)
    if spec is None:
        raise Invalid("settings.unknown_key", setting=key)
    return spec


def default(key: str) -> Value:
    """The configured default of a setting (environment variable or built-in)."""
    return _spec(key).default(get_settings())


def parse(key: str, value: object) -> Value:
    """`value` checked and converted to the setting's type; raises :class:`Invalid`."""
    spec = _spec(key)
    if spec.kind is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or isinstance(value, float):
            raise Invalid("settings.not_integer", setting=key)
        try:
            number = value if isinstance(value, int) else int(str(value).strip())
        except ValueError:
            raise Invalid("settings.not_integer", setting=key) from None
        if (spec.minimum is not None and number < spec.minimum) or (
            spec.maximum is not None and number > spec.maximum
        ):
            raise Invalid("settings.out_of_range", setting=key, minimum=spec.minimum, maximum=spec.maximum)
        return number
    text = str(value).strip()
    if not text or len(text) > spec.max_length:
        raise Invalid("settings.bad_length", setting=key, maximum=spec.max_length)
    if key == "map_style_url" and not _URL.match(text):
        raise Invalid("settings.bad_url", setting=key)
    if key == "backup.dir" and not _PATH.match(text):
        raise Invalid("settings.bad_path", setting=key)
    if key == "residents.public_base_url":
        if not _BASE_URL.match(text):
            raise Invalid("settings.bad_base_url", setting=key)
        return text.rstrip("/")
    return text


def get_setting(session: Session, key: str) -> Value:
    """The current value of `key`, typed: the stored value, else the configured default."""
    spec = _spec(key)
    row = session.get(Setting, key)
    if row is not None:
        try:
            return parse(key, row.value)
        except Invalid:
            pass  # an unreadable stored value (edited by hand): the default keeps the app running
    return spec.default(get_settings())


def all_settings(session: Session) -> dict[str, Value]:
    """Every known setting's current value, in display order."""
    return {key: get_setting(session, key) for key in SPECS}


def is_default(session: Session, key: str) -> bool:
    """True when no value is stored for `key` (the configured default applies)."""
    _spec(key)
    return session.get(Setting, key) is None


def set_setting(session: Session, actor: Actor, key: str, value: object) -> bool:
    """Validate and store a setting (admin only); audited with the old and new value.

    Returns False (and writes nothing) when the value is unchanged. The in-process cache is cleared when
    the caller's transaction commits.
    """
    if not may(actor, "admin.manage"):
        raise NotPermitted("app.forbidden")
    new = parse(key, value)
    old = get_setting(session, key)
    row = session.get(Setting, key)
    if row is not None and old == new:
        return False
    if row is None:
        row = Setting(key=key, value=str(new))
    row.value = str(new)
    row.updated_at = clock.now()
    row.updated_by = actor.id
    session.add(row)
    audit.record(session, actor, "setting_update", key, detail=f"{key}: {old} → {new}")
    event.listen(session, "after_commit", lambda _s: clear_cache(), once=True)
    return True


def reset_setting(session: Session, actor: Actor, key: str) -> bool:
    """Remove the stored value so the configured default applies again (admin only, audited)."""
    if not may(actor, "admin.manage"):
        raise NotPermitted("app.forbidden")
    _spec(key)
    row = session.get(Setting, key)
    if row is None:
        return False
    old = get_setting(session, key)
    session.delete(row)
    audit.record(session, actor, "setting_update", key, detail=f"{key}: {old} → {default(key)} (default)")
    event.listen(session, "after_commit", lambda _s: clear_cache(), once=True)
    return True


# ---------------------------------------------------------------- cached reader

CACHE_SECONDS = 15.0
_cache: dict[tuple[str, str], tuple[float, Value]] = {}
_cache_lock = threading.Lock()


def cached_setting(key: str, database_url: str | None = None) -> Value:
    """`get_setting` through a short per-process cache, opening its own session (for pages and the wall)."""
    from dashboard.db import get_engine, normalise_url, session_scope

    url = normalise_url(database_url or get_settings().database_url)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get((url, key))
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    with session_scope(get_engine(url)) as session:
        value = get_setting(session, key)
    with _cache_lock:
        _cache[(url, key)] = (now, value)
    return value


def clear_cache() -> None:
    """Forget cached values (after a change, and in tests)."""
    with _cache_lock:
        _cache.clear()
