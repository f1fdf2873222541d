"""Server render time of every page, against the bare SQL it issues and the naive pandas way.

For each benchmark database (see bench/common.py) the app runs in ``streamlit.testing.v1.AppTest``,
logged in as ``admin`` (every page an admin may open), ``grid`` (the grid worker's own pages and the queue
in a grid's scope) and ``department`` (the department queue). Per page:

- **cold**: ``st.cache_data`` cleared, then ``AppTest.run()`` — every query runs (median of `runs`);
- **warm**: ``run()`` again with the caches filled (median of `runs`);
- **bare SQL**: the SELECT statements the cold run sent (captured with SQLAlchemy's
  ``before_cursor_execute``), re-run with their parameters on a raw DB-API connection, execute + fetchall,
  nothing else (median of `runs`) — the floor for that page; ``cold ÷ bare`` is our overhead;
- **naive**: for the overview, queue and map pages, ``bench.naive`` in its own process (load every case
  into pandas, then compute the page's figures there).

The first run of each page is not timed (it imports the page's modules). The database file stays in the OS
page cache between runs, so "cold" means cold application caches, not a cold disk.

    python -m bench.pages --cases 10k 100k 1M --backends sqlite postgresql --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

os.environ.setdefault("DASHBOARD_AUTO_SEED", "0")
os.environ.setdefault("DASHBOARD_SECRET_KEY", "bench-secret-key-not-for-production")

import streamlit as st
from sqlalchemy import event
from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

from bench import common
from dashboard.config import ROOT
from dashboard.db import dispose_engines, get_engine
from dashboard.ui.nav import pages_for
from models.enums import Role
from tests.apptest import use_navigation

use_navigation()
PASSWORD = "demo1234"
NAIVE_PAGES = ("overview", "queue", "map")


@dataclass
class PageResult:
    backend: str
    cases: int
    page: str  # file stem, with "@user" when not measured as admin
    user: str
    cold_s: float | None = None
    warm_s: float | None = None
    bare_s: float | None = None
    statements: int = 0  # SELECTs in the cold run
    writes: int = 0  # other statements in the cold run (session refresh, audit)
    cold_runs: list[float] = field(default_factory=list)
    warm_runs: list[float] = field(default_factory=list)
    error: str | None = None
    load: str = ""

    @property
    def ours_over_bare(self) -> float | None:
        return self.cold_s / self.bare_s if self.cold_s and self.bare_s else None


def plan() -> list[tuple[str, str]]:
    """(username, page path) pairs: everything an admin sees, the grid worker's and department's own pages."""
    out = [("admin", p.path) for p in pages_for(Role.admin)]
    admin_paths = {p for _, p in out}
    out += [("grid", p.path) for p in pages_for(Role.grid_worker) if p.path not in admin_paths]
    out += [("grid", "pages/queue.py"), ("department", "pages/department_queue.py")]
    return out


def _login(username: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.run()
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(PASSWORD)
    at.button(key="login_submit").click()
    at.run()
    if at.exception or "actor" not in at.session_state:
        raise RuntimeError(f"login as {username} failed: {[e.value for e in at.exception]}")
    return at


class _Capture:
    """Statements sent to the database while active."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, Any]] = []
        self.active = False

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if self.active and not executemany:
            self.statements.append((statement, parameters))


def _plain(params: Any) -> Any:
    """Enum parameters as their values, for the raw driver."""
    if isinstance(params, dict):
        return {k: v.value if isinstance(v, Enum) else v for k, v in params.items()}
    if isinstance(params, list | tuple):
        return tuple(v.value if isinstance(v, Enum) else v for v in params)
    return params


def _is_read(statement: str) -> bool:
    return statement.lstrip().upper().startswith(("SELECT", "WITH"))


def bare_sql(url: str, statements: list[tuple[str, Any]], runs: int) -> float:
    """Median seconds to execute and fetch `statements` on a raw DB-API connection."""
    raw = get_engine(url).raw_connection()
    try:
        totals = []
        for _ in range(runs):
            cursor = raw.cursor()
            started = time.perf_counter()
            for statement, params in statements:
                cursor.execute(statement, _plain(params))
                cursor.fetchall()
            totals.append(time.perf_counter() - started)
            cursor.close()
            raw.rollback()
        return statistics.median(totals)
    finally:
        raw.close()


def _timed_run(at: AppTest) -> float:
    started = time.perf_counter()
    at.run()
    return time.perf_counter() - started


def measure_database(db: common.BenchDb, runs: int, only: list[str] | None = None) -> list[PageResult]:
    """Every page of :func:`plan` on one database."""
    os.environ["DATABASE_URL"] = db.url
    dispose_engines()
    st.cache_data.clear()
    case_no = common.recent_open_case(db.url)
    capture = _Capture()
    event.listen(Engine, "before_cursor_execute", capture)
    results: list[PageResult] = []
    sessions: dict[str, AppTest] = {}
    try:
        for user, path in plan():
            stem = path.removeprefix("pages/").removesuffix(".py")
            name = stem if user == "admin" else f"{stem}@{user}"
            if only and stem not in only and name not in only:
                continue
            at = sessions.get(user) or sessions.setdefault(user, _login(user))
            res = PageResult(db.backend, db.cases, name, user, load=common.load())
            at.switch_page(path)
            if stem == "case_detail":
                at.query_params["case"] = case_no
            try:
                at.run()  # imports and first render, not timed
                for i in range(runs):
                    st.cache_data.clear()
                    capture.statements, capture.active = [], i == 0
                    res.cold_runs.append(_timed_run(at))
                    capture.active = False
                    if i == 0:
                        reads = [s for s in capture.statements if _is_read(s[0])]
                        res.statements, res.writes = len(reads), len(capture.statements) - len(reads)
                        selects = reads
                res.warm_runs = [_timed_run(at) for _ in range(runs)]
                res.cold_s, res.warm_s = statistics.median(res.cold_runs), statistics.median(res.warm_runs)
                res.bare_s = bare_sql(db.url, selects, runs) if selects else None
                if at.exception:
                    res.error = "; ".join(str(e.value)[:200] for e in at.exception)
            except Exception as exc:  # keep measuring the other pages
                res.error = f"{type(exc).__name__}: {exc}"[:300]
            results.append(res)
            ratio = f"{res.ours_over_bare:5.1f}" if res.ours_over_bare else "    -"
            print(
                f"{db.backend:<11}{db.label:>8} {name:<28} cold {res.cold_s or 0:7.3f}  warm {res.warm_s or 0:7.3f}"
                f"  bare {res.bare_s or 0:7.3f}  ÷bare {ratio}  sql {res.statements:>3}"
                + (f"  ERROR {res.error}" if res.error else ""),
                flush=True,
            )
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
        dispose_engines()
    return results


def measure_naive(db: common.BenchDb, runs: int) -> dict[str, Any]:
    """bench.naive in a subprocess (its own peak memory)."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.naive", db.url, "--runs", str(runs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DATABASE_URL": db.url},
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    data.update(backend=db.backend, cases=db.cases, load=common.load())
    print(
        f"{db.backend:<11}{db.label:>8} naive load {data['load_s']:.2f} s, peak {data['peak_rss_mb']} MB",
        flush=True,
    )
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["10k", "100k", "1M"])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pages", nargs="*", help="only these pages (file stems, or stem@user)")
    parser.add_argument("--no-naive", action="store_true")
    parser.add_argument("--out", default="pages", help="results name under bench/results/")
    args = parser.parse_args(argv)
    sizes = common.parse_sizes(args.cases)
    results: list[PageResult] = []
    naive: list[dict[str, Any]] = []
    versions: dict[str, str] = {}

    def run_all(cluster: common.PgCluster | None) -> None:
        if cluster is not None:
            versions["postgresql"] = cluster.version()
        for db in common.databases(sizes, args.backends, cluster):
            results.extend(measure_database(db, args.runs, args.pages))
            if not args.no_naive:
                naive.append(measure_naive(db, args.runs))

    if "postgresql" in args.backends:
        with common.pg_cluster() as cluster:
            run_all(cluster)
    else:
        run_all(None)
    common.save_json(
        args.out,
        {
            "machine": common.machine(),
            "runs": args.runs,
            "pages": [asdict(r) for r in results],
            "naive": naive,
            **versions,
        },
    )


if __name__ == "__main__":
    main()
