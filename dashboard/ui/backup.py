"""The backup status the admin sees: on the backup page and, when a backup is missing, on the start page.

Reads the manifests in the folder of the setting ``backup.dir`` (:mod:`dashboard.backup.manifest`), at most
once a minute per process.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import streamlit as st

from dashboard import clock
from dashboard.admin.settings import cached_setting
from dashboard.backup.manifest import BackupStatus, backup_status
from dashboard.i18n import t


@st.cache_data(ttl=60, max_entries=8, show_spinner=False)
def _status(folder: str, interval_hours: int, _minute: str) -> BackupStatus:
    return backup_status(Path(folder), interval_hours, clock.now())


def current_status() -> tuple[Path, BackupStatus]:
    """The backup folder and the status of its backups."""
    folder = str(cached_setting("backup.dir"))
    hours = int(cached_setting("backup.interval_hours"))
    return Path(folder), _status(folder, hours, clock.now().strftime("%Y-%m-%d %H:%M"))


def age_text(age: timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    return t("backup.age_hours", hours=hours) if hours < 48 else t("backup.age_days", days=age.days)


def stale_warning(status: BackupStatus) -> bool:
    """Warn when no backup is younger than the interval; whether it warned."""
    if not status.stale:
        return False
    if status.latest is None:
        st.warning(t("backup.stale_none"), icon=":material/backup:")
    else:
        st.warning(t("backup.stale", hours=status.interval_hours), icon=":material/backup:")
    return True
