"""The morning run inside the app process: one daemon thread per process and database.

The thread wakes at the configured time each day (``DASHBOARD_ALERTS_AT``, "HH:MM" local time, default
06:30) and, shortly after the process starts, runs today's alerts if they are missing (a server that was down
at 06:30 catches up). Every replica starts such a thread; the run's claim row (:func:`run.claim`) lets one of
them compute and the others find the stored result, so they agree. ``DASHBOARD_ALERTS_SCHEDULE=off`` turns
the thread off (the test suite does; ``python -m dashboard alerts run`` from cron is the alternative).

Nothing heavy is imported until the thread runs, so starting it costs a page nothing.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, time, timedelta

from sqlalchemy.engine import Engine

from dashboard import clock

log = logging.getLogger(__name__)

DEFAULT_AT = time(6, 30)
START_DELAY_S = 60.0
"""How long after the process starts the catch-up run waits (pages first: a replica has just come up)."""
_lock = threading.Lock()
_started: set[str] = set()


def enabled() -> bool:
    """Whether this process runs the schedule (``DASHBOARD_ALERTS_SCHEDULE``, on unless 0/off/false/no)."""
    return os.environ.get("DASHBOARD_ALERTS_SCHEDULE", "on").strip().lower() not in {
        "0",
        "off",
        "false",
        "no",
    }


def run_at() -> time:
    """The configured time of the morning run (``DASHBOARD_ALERTS_AT``, "HH:MM"); 06:30 when unset or bad."""
    raw = os.environ.get("DASHBOARD_ALERTS_AT", "")
    try:
        hour, minute = (int(x) for x in raw.split(":"))
        return time(hour, minute)
    except ValueError:
        return DEFAULT_AT


def next_run(now: datetime, at: time) -> datetime:
    """The first moment at `at` after `now`."""
    today = datetime.combine(now.date(), at)
    return today if today > now else today + timedelta(days=1)


def start(engine: Engine) -> bool:
    """Start the thread for `engine` once per process (further calls do nothing). Returns whether it did."""
    if not enabled():
        return False
    key = engine.url.render_as_string(hide_password=True)
    with _lock:
        if key in _started:
            return False
        _started.add(key)
    thread = threading.Thread(target=_loop, args=(engine,), name="alerts-schedule", daemon=True)
    thread.start()
    return True


def missing_today(engine: Engine) -> bool:
    """Whether today's run has not finished (and the database holds a territory to compute over)."""
    from sqlmodel import select

    from dashboard.db import is_seeded, session_scope
    from models import AlertRun

    if not is_seeded(engine):
        return False
    with session_scope(engine) as session:
        state = session.exec(select(AlertRun.state).where(AlertRun.day == clock.now().date())).first()
    return state != "done"


def run_once(engine: Engine) -> None:
    """Today's run unless it is done or running elsewhere; failures are logged (the next morning retries)."""
    from dashboard.reporting.warning import run

    try:
        outcome = run.run(force=False, engine=engine)
        if outcome.ran:
            log.info("alerts of %s computed in %.1f s: %s", outcome.day, outcome.duration_s, outcome.counts)
    except Exception:
        log.exception("scheduled alerts run failed")


def _loop(engine: Engine) -> None:
    stop = threading.Event()
    stop.wait(START_DELAY_S)
    try:
        if missing_today(engine):
            run_once(engine)
    except Exception:
        log.exception("alerts catch-up check failed")
    while True:
        wake = next_run(clock.now(), run_at())
        stop.wait(max((wake - clock.now()).total_seconds(), 1.0))
        run_once(engine)
