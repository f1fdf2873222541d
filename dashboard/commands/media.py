"""``python -m dashboard media prune``: the media store's retention job (see
:mod:`dashboard.media.retention`); run it daily from cron or a systemd timer, like the backup.

Exit codes: 0 done.
"""

from __future__ import annotations

import argparse
import os

from dashboard.cli import command


def _media_args(p: argparse.ArgumentParser) -> None:
    from dashboard.media.retention import RETENTION_DAYS

    p.add_argument("action", choices=["prune"])
    default = int(os.environ.get("DASHBOARD_MEDIA_RETENTION_DAYS", RETENTION_DAYS))
    p.add_argument(
        "--days", type=int, default=default, help=f"keep removed photos' files N days (default {default})"
    )
    p.add_argument("--dry-run", action="store_true", help="count what would be removed, remove nothing")
    p.add_argument("--database-url", help="default: DATABASE_URL or ./data/dashboard.db")


@command("media", "the photo store: prune files of removed and unreferenced photos", _media_args)
def media(args: argparse.Namespace) -> int:
    from dashboard.db import get_engine, session_scope, upgrade
    from dashboard.i18n import t_plain
    from dashboard.media.retention import prune
    from dashboard.media.store import get_store

    upgrade(args.database_url)
    with session_scope(get_engine(args.database_url), write=True) as session:
        result = prune(session, retention_days=args.days, dry_run=args.dry_run)
    key = "media.prune.dry_run" if result.dry_run else "media.prune.done"
    print(t_plain(key, "en", objects=result.objects, photos=result.expired_photos, days=args.days))
    print(f"store: {get_store().describe()}, {result.kept_objects} files kept")
    return 0
