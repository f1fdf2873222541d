"""``python -m dashboard api deliver``: push the waiting Open311 status callbacks to the clients' servers
(:mod:`dashboard.api.callbacks`) — once, or ``--loop`` until stopped. The app process delivers by itself
too; this is for a timer or a dedicated process. Replicas and this command never post the same callback
twice (each row is claimed first).

Exit codes: 0 done.
"""

from __future__ import annotations

import argparse
import time

from dashboard.cli import command


def _api_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["deliver"], help="deliver: post the callbacks that are due")
    p.add_argument("--loop", action="store_true", help="keep delivering until stopped (Ctrl-C)")
    p.add_argument("--database-url", help="default: DATABASE_URL or ./data/dashboard.db")


@command("api", "Open311 API: deliver the status callbacks that are due", _api_args)
def _api(args: argparse.Namespace) -> int:
    from dashboard import db
    from dashboard.api import callbacks

    engine = db.get_engine(args.database_url)
    while True:
        delivered = callbacks.deliver_due(engine)
        wait = callbacks.seconds_to_next(engine)
        print(f"delivered {delivered}; {'none pending' if wait is None else f'next in {wait:.0f} s'}")
        if not args.loop:
            return 0
        time.sleep(
            min(wait if wait is not None else callbacks.IDLE_POLL_SECONDS, callbacks.IDLE_POLL_SECONDS)
        )
