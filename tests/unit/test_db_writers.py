"""SQLite writers of one process queue on a lock of the process before they ask SQLite for its write lock.

SQLite's own wait for a taken lock (the busy timeout) polls with growing sleeps, up to 100 ms apart, and
lets a newcomer in before a writer that has waited long: with ten concurrent API intakes the slowest
waited over a second while the lock was mostly free (bench/open311.py).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import event, text

from dashboard.db import dispose_engines, get_engine, session_scope

WRITERS = 6
HOLD_SECONDS = 0.05


def test_writers_of_one_process_take_turns_without_sqlites_busy_wait(tmp_path: Path) -> None:
    engine = get_engine(f"sqlite:///{tmp_path / 'writers.db'}")

    @event.listens_for(engine, "connect")
    def _no_busy_wait(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.execute("PRAGMA busy_timeout=0")  # a writer finding the lock taken fails at once

    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE written (n INTEGER)")
    failures: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def write(n: int) -> None:
        start.wait()
        try:
            with session_scope(engine, write=True) as s:
                s.exec(text("INSERT INTO written VALUES (:n)").bindparams(n=n))  # type: ignore[call-overload]
                time.sleep(HOLD_SECONDS)  # the write lock is held meanwhile
        except Exception as exc:  # collected for the assertion
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    with engine.connect() as conn:
        written = sorted(conn.exec_driver_sql("SELECT n FROM written").scalars())
    dispose_engines()
    assert failures == [] and written == list(range(WRITERS))
