"""Which backups to keep: the newest backup of each of the last N days, weeks and months that have one.

Each rule is counted on its own and a backup kept by any rule stays (restic's ``forget --keep-daily``
rules): with the defaults (7 daily, 4 weekly, 12 monthly) a year of nightly backups shrinks to about
20. Weeks are ISO weeks (Monday to Sunday); backups are dated by their manifest.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from dashboard.backup.manifest import BackupInfo, list_backups
from dashboard.kernel.errors import Invalid

KEEP_DAILY, KEEP_WEEKLY, KEEP_MONTHLY = 7, 4, 12


@dataclass(frozen=True)
class Retention:
    daily: int = KEEP_DAILY
    weekly: int = KEEP_WEEKLY
    monthly: int = KEEP_MONTHLY


_PERIODS: dict[str, Callable[[datetime], tuple[int, ...]]] = {
    "daily": lambda at: (at.year, at.month, at.day),
    "weekly": lambda at: tuple(at.isocalendar()[:2]),
    "monthly": lambda at: (at.year, at.month),
}


def to_keep(backups: list[BackupInfo], rules: Retention) -> set[Path]:
    """The backups the rules keep (`backups` in any order)."""
    newest_first = sorted(backups, key=lambda b: (b.created_at, b.path.name), reverse=True)
    keep: set[Path] = set()
    for name, period in _PERIODS.items():
        wanted = getattr(rules, name)
        seen: set[tuple[int, ...]] = set()
        for b in newest_first:
            if len(seen) >= wanted:
                break
            key = period(b.created_at)
            if key not in seen:
                seen.add(key)
                keep.add(b.path)
    return keep


def prune(directory: Path, rules: Retention = Retention(), *, dry_run: bool = False) -> list[Path]:
    """Delete the backups in `directory` the rules do not keep; the deleted folders, oldest first. Folders
    without a readable manifest (someone else's, or damaged) are left alone. Rules that keep nothing are
    refused (:class:`Invalid`)."""
    if rules.daily + rules.weekly + rules.monthly < 1 or min(rules.daily, rules.weekly, rules.monthly) < 0:
        raise Invalid("backup.keep_nothing")
    backups = list_backups(directory)
    keep = to_keep(backups, rules)
    gone = sorted((b for b in backups if b.path not in keep), key=lambda b: b.created_at)
    if not dry_run:
        for b in gone:
            shutil.rmtree(b.path)
    return [b.path for b in gone]
