"""The backup page (数据备份) and the admin's start page: the latest backup's time and size from the
manifests, and a warning when none is younger than the interval."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from dashboard import clock
from dashboard.admin import settings
from dashboard.backup.manifest import Manifest
from dashboard.i18n import t


def _backup(root: Path, hours_ago: int, size: int) -> datetime:
    at = clock.now() - timedelta(hours=hours_ago)
    folder = root / f"backup-{at:%Y%m%d-%H%M%S}-sqlite"
    folder.mkdir(parents=True)
    (folder / "database.sqlite3").write_bytes(b"x" * size)
    files = {"database.sqlite3": {"size": size, "sha256": "0" * 64}}
    (folder / "manifest.json").write_text(Manifest(at, "sqlite", "0003", {"cases": 3000}, files).to_json())
    return at


@pytest.fixture
def backups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DASHBOARD_BACKUP_DIR", str(tmp_path))
    settings.clear_cache()
    yield tmp_path
    settings.clear_cache()


def _texts(at) -> str:  # type: ignore[no-untyped-def]
    return " ".join(str(e.value) for kind in (at.warning, at.success, at.info, at.metric) for e in kind)


def _backup_warnings(at) -> list[str]:  # type: ignore[no-untyped-def]
    """The start page's backup warnings (in December it also warns that next year's calendar is missing)."""
    return [w.value for w in at.warning if w.proto.icon == ":material/backup:"]


def test_the_page_shows_the_latest_backup_and_warns_when_it_is_old(
    seeded_ro_url: str, backups: Path, login
) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_ro_url, "admin", "pages/admin_backup.py")
    assert not at.exception and not at.error
    assert at.warning[0].value == t("backup.stale_none", "zh")
    at = login(seeded_ro_url, "admin")  # the start page says so too
    assert _backup_warnings(at) == [t("backup.stale_none", "zh")]

    _backup(backups, 30, 3 * 1024 * 1024)
    at = login(seeded_ro_url, "admin", "pages/admin_backup.py")
    assert at.warning[0].value == t("backup.stale", "zh", hours=24)
    assert "3.0 MiB" in _texts(at)

    made = _backup(backups, 2, 5 * 1024 * 1024)
    at = login(seeded_ro_url, "admin", "pages/admin_backup.py")
    assert not at.warning and at.success[0].value == t("backup.fresh", "zh", hours=24)
    latest = next(m for m in at.metric if m.label == t("backup.latest_at", "zh"))
    assert latest.value == f"{made:%Y-%m-%d %H:%M}"
    assert "5.0 MiB" in _texts(at) and "3,000" in _texts(at)
    at = login(seeded_ro_url, "admin")
    assert not _backup_warnings(at)


def test_only_the_admin_is_warned(seeded_ro_url: str, backups: Path, login) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_ro_url, "leader")
    assert not at.exception and not at.warning
