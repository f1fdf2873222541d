"""System settings: typed values with configured defaults, validation, audit, and the cached reader."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlmodel import Session, func, select

from dashboard import clock
from dashboard.admin import settings
from dashboard.config import ROOT
from dashboard.db import get_engine
from dashboard.kernel.errors import Invalid, NotPermitted
from models import AuditLog, Setting
from tests.factories import World, build_world


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Session, World]]:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DASHBOARD_WALL_REFRESH_SECONDS", "45")
    settings.clear_cache()
    with Session(get_engine(db_url), expire_on_commit=False) as session:
        world = build_world(session)
        session.commit()
        yield session, world
    settings.clear_cache()


def test_defaults_come_from_configuration(env: tuple[Session, World]) -> None:
    session, _ = env
    assert settings.all_settings(session) == {
        "wall_refresh_seconds": 45,
        "blind_spot_days": 30,
        "map_style_url": "/app/static/map-style.json",
        "session_idle_minutes": 120,
        "backup.dir": str(ROOT / "data" / "backups"),
        "backup.interval_hours": 24,
        "retention.mask_after_years": 0,
        "residents.reports_per_hour": 5,
        "residents.reports_per_day": 20,
        "residents.public_base_url": "http://127.0.0.1:8501",
    }
    assert all(settings.is_default(session, key) for key in settings.SPECS)
    with pytest.raises(Invalid):
        settings.get_setting(session, "colour_scheme")


def test_set_typed_validated_and_audited(env: tuple[Session, World]) -> None:
    session, world = env
    actor = world.actors["admin"]
    with clock.frozen(datetime(2026, 11, 2, 9)):
        assert settings.set_setting(session, actor, "wall_refresh_seconds", "90")
        assert settings.set_setting(
            session, actor, "map_style_url", " https://tiles.example.gov.cn/style.json "
        )
        session.commit()
    assert settings.get_setting(session, "wall_refresh_seconds") == 90
    assert settings.get_setting(session, "map_style_url") == "https://tiles.example.gov.cn/style.json"
    row = session.get(Setting, "wall_refresh_seconds")
    assert row is not None and (row.value, row.updated_by, row.updated_at) == (
        "90",
        actor.id,
        datetime(2026, 11, 2, 9),
    )
    details = session.exec(
        select(AuditLog.detail).where(AuditLog.action == "setting_update").order_by(AuditLog.id)
    ).all()
    assert details[0] == "wall_refresh_seconds: 45 → 90"
    assert settings.set_setting(session, actor, "wall_refresh_seconds", 90) is False  # unchanged

    for key, value, error in [
        ("wall_refresh_seconds", "5", "settings.out_of_range"),
        ("wall_refresh_seconds", "ninety", "settings.not_integer"),
        ("wall_refresh_seconds", 1.5, "settings.not_integer"),
        ("blind_spot_days", 0, "settings.out_of_range"),
        ("session_idle_minutes", 100_000, "settings.out_of_range"),
        ("map_style_url", "", "settings.bad_length"),
        ("map_style_url", "javascript:alert(1)", "settings.bad_url"),
        ("map_style_url", "/static/a b.json", "settings.bad_url"),
        ("backup.dir", "data/backups", "settings.bad_path"),
        ("backup.dir", "/srv/back\x07ups", "settings.bad_path"),
        ("backup.interval_hours", 0, "settings.out_of_range"),
        ("retention.mask_after_years", -1, "settings.out_of_range"),
        ("nonsense", "1", "settings.unknown_key"),
    ]:
        with pytest.raises(Invalid) as err:
            settings.set_setting(session, actor, key, value)
        assert err.value.key == error, (key, value)
    with pytest.raises(NotPermitted):
        settings.set_setting(session, world.actors["operator"], "blind_spot_days", 10)
    session.rollback()
    assert session.exec(select(func.count()).select_from(AuditLog)).one() == 2

    assert settings.reset_setting(session, actor, "wall_refresh_seconds")
    session.commit()
    assert settings.get_setting(session, "wall_refresh_seconds") == 45
    assert settings.reset_setting(session, actor, "wall_refresh_seconds") is False


def test_a_batch_with_one_bad_value_saves_nothing(env: tuple[Session, World], db_url: str) -> None:
    session, world = env
    with pytest.raises(Invalid):
        for key, value in [("blind_spot_days", 14), ("session_idle_minutes", 1)]:
            settings.set_setting(session, world.actors["admin"], key, value)
    session.rollback()
    with Session(get_engine(db_url)) as other:
        assert other.exec(select(func.count()).select_from(Setting)).one() == 0
        assert other.exec(select(func.count()).select_from(AuditLog)).one() == 0


def test_unreadable_stored_value_falls_back_to_default(env: tuple[Session, World]) -> None:
    session, _ = env
    session.add(Setting(key="blind_spot_days", value="lots"))
    session.commit()
    assert settings.get_setting(session, "blind_spot_days") == 30


def test_cached_reader_sees_changes_after_commit(env: tuple[Session, World], db_url: str) -> None:
    session, world = env
    assert settings.cached_setting("blind_spot_days") == 30
    settings.set_setting(session, world.actors["admin"], "blind_spot_days", 14)
    assert settings.cached_setting("blind_spot_days", db_url) == 30  # not committed yet
    session.commit()
    assert settings.cached_setting("blind_spot_days", db_url) == 14
