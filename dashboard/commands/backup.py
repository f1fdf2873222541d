"""``python -m dashboard backup``, ``restore`` and ``retention``: backups of the installation, restoring
one (also into the other kind of database: the way from SQLite to PostgreSQL), and the retention job
that masks old reporters' personal data. See README, "Backup and restore".

Exit codes: 0 done, 1 refused (the reason is printed: a target that holds data, a damaged backup …).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dashboard.cli import command
from dashboard.kernel.errors import DomainError


def _explain(err: DomainError) -> str:
    from dashboard.i18n import t_plain

    return t_plain(err.key, "en", **err.values)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _progress(args: argparse.Namespace) -> bool | None:
    return False if args.no_progress else None  # None: a bar when stderr is a terminal


def _backup_args(p: argparse.ArgumentParser) -> None:
    from dashboard.backup.prune import KEEP_DAILY, KEEP_MONTHLY, KEEP_WEEKLY

    p.add_argument("--out", type=Path, help="backup folder (default: the setting backup.dir)")
    p.add_argument("--database-url", help="default: DATABASE_URL or ./data/dashboard.db")
    p.add_argument(
        "--prune",
        action="store_true",
        help="after the backup, delete the backups the --keep-* rules do not keep",
    )
    p.add_argument(
        "--keep-daily",
        type=int,
        default=KEEP_DAILY,
        help=f"newest backup of each of the last N days (default {KEEP_DAILY})",
    )
    p.add_argument(
        "--keep-weekly",
        type=int,
        default=KEEP_WEEKLY,
        help=f"… of each of the last N ISO weeks (default {KEEP_WEEKLY})",
    )
    p.add_argument(
        "--keep-monthly",
        type=int,
        default=KEEP_MONTHLY,
        help=f"… of each of the last N months (default {KEEP_MONTHLY})",
    )
    p.add_argument("--prune-only", action="store_true", help="prune without making a backup")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (cron: none without a terminal anyway)")  # fmt: skip


@command("backup", "back up the database, the media store and a manifest while the app runs", _backup_args)
def backup(args: argparse.Namespace) -> int:
    from dashboard.backup.backup import backup_folder, make_backup
    from dashboard.backup.prune import Retention, prune

    try:
        if not args.prune_only:
            folder, manifest = make_backup(args.database_url, args.out, progress=_progress(args))
            rows = sum(manifest.tables.values())
            print(f"backup {folder}")
            print(f"  {manifest.backend}, schema {manifest.schema_revision}, {len(manifest.tables)} tables, "
                  f"{rows:,} rows ({manifest.tables.get('cases', 0):,} cases), {len(manifest.files)} files, "
                  f"{_size(manifest.size)}, {manifest.duration_seconds:.1f} s")  # fmt: skip
        if args.prune or args.prune_only:
            out = args.out or backup_folder(args.database_url)
            rules = Retention(args.keep_daily, args.keep_weekly, args.keep_monthly)
            gone = prune(out, rules)
            print(
                f"pruned {len(gone)} backups (keep {rules.daily} daily, {rules.weekly} weekly, {rules.monthly} monthly)"
            )
            for path in gone:
                print(f"  deleted {path.name}")
    except DomainError as e:
        print(f"refused: {_explain(e)}", file=sys.stderr)
        return 1
    return 0


def _restore_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("backup", type=Path, help="the backup's folder (backup-…, with manifest.json)")
    p.add_argument("--database-url", help="the target (default: DATABASE_URL or ./data/dashboard.db)")
    p.add_argument("--force", action="store_true", help="replace a database that holds data")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


@command(
    "restore",
    "check a backup and restore it into a database (SQLite or PostgreSQL, either way)",
    _restore_args,
)
def restore(args: argparse.Namespace) -> int:
    from dashboard.backup.restore import restore as run_restore

    try:
        report = run_restore(args.backup, args.database_url, force=args.force, progress=_progress(args))
    except DomainError as e:
        print(f"refused: {_explain(e)}", file=sys.stderr)
        return 1
    print(f"restored {args.backup.name}: {report.source_backend} → {report.target_backend} ({report.method}), "
          f"{report.seconds:.1f} s")  # fmt: skip
    print(f"  schema {report.revision_from} → {report.revision_to}; every table's rows match the manifest")
    for table, n in sorted(report.tables.items()):
        if n:
            print(f"  {table:<28}{n:>12,}")
    print(f"  {'total':<28}{report.rows:>12,} rows; {report.media_files} media files")
    return 0


def _retention_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["run"])
    p.add_argument("--years", type=int, help="mask cases closed more than N years ago (default: the setting retention.mask_after_years)")  # fmt: skip
    p.add_argument("--database-url", help="default: DATABASE_URL or ./data/dashboard.db")


@command("retention", "mask reporters' personal data of cases closed long ago (audited)", _retention_args)
def retention(args: argparse.Namespace) -> int:
    from dashboard.admin.settings import get_setting
    from dashboard.cases.retention import mask_closed_cases
    from dashboard.db import get_engine, session_scope, upgrade

    upgrade(args.database_url)
    engine = get_engine(args.database_url)
    years = args.years
    if years is None:
        with session_scope(engine) as s:
            years = int(get_setting(s, "retention.mask_after_years"))
    if years < 1:
        print("retention is off (setting retention.mask_after_years is 0); nothing masked")
        return 0
    result = mask_closed_cases(engine, years)
    f = result.fields
    print(f"cases closed before {result.cutoff:%Y-%m-%d}: {result.cases:,} masked "
          f"(names {f['reporter_name']:,}, phones {f['reporter_phone']:,}, addresses {f['address']:,}); audited")  # fmt: skip
    return 0
