"""Backup and restore times and sizes (``python -m dashboard backup`` / ``restore``) on the benchmark
databases: for each database a backup (seconds, size), a restore into a fresh database of the same kind,
and one into the other kind (SQLite → PostgreSQL, the migration path, and back).

    python -m bench.backup                                  # the default seed (≈ 36,500 cases), both kinds
    python -m bench.backup --cases 1M                       # builds the 1M databases once (bench/common.py)

Prints a table and writes bench/results/backup.json. The databases are bench/common.py's (built or
reused); backups and restored copies go to a temporary folder under BENCH_DIR and are removed.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import uuid
from contextlib import ExitStack
from typing import Any

from bench import common
from dashboard.backup.backup import make_backup
from dashboard.backup.restore import restore
from dashboard.db import dispose_engines


def _mib(n: float) -> float:
    return round(n / 2**20, 1)


def _database_size(db: common.BenchDb, cluster: common.PgCluster | None) -> int:
    if db.backend == "sqlite":
        return common.Path(db.url.removeprefix("sqlite:///")).stat().st_size
    import psycopg

    assert cluster is not None
    name = db.url.rsplit("/", 1)[1]
    with psycopg.connect(f"host=127.0.0.1 port={cluster.server.port} user=postgres dbname=postgres") as c:
        return int(c.execute("SELECT pg_database_size(%s)", (name,)).fetchone()[0])  # type: ignore[index]


def _target(kind: str, work: common.Path, cluster: common.PgCluster | None, stack: ExitStack) -> str:
    """A fresh, empty database of `kind` (removed when `stack` closes)."""
    if kind == "sqlite":
        return f"sqlite:///{work / f'restore-{uuid.uuid4().hex[:8]}.db'}"
    assert cluster is not None
    name = f"bench_restore_{uuid.uuid4().hex[:8]}"
    cluster.server.execute_autocommit(f'CREATE DATABASE "{name}"')
    stack.callback(lambda: (dispose_engines(), cluster.server.drop_database(name)))
    return cluster.server.url(name)


def measure(db: common.BenchDb, kinds: list[str], cluster: common.PgCluster | None) -> dict[str, Any]:
    """Back up `db`, restore it into a fresh database of each kind in `kinds`; the figures."""
    work = common.Path(tempfile.mkdtemp(prefix="backup-", dir=common.BENCH_DIR))
    try:
        started = time.perf_counter()
        folder, manifest = make_backup(db.url, work / "backups", progress=False)
        backup_s = time.perf_counter() - started
        dispose_engines()
        out: dict[str, Any] = {
            "backend": db.backend,
            "cases": db.cases,
            "database_mib": _mib(_database_size(db, cluster)),
            "rows": sum(manifest.tables.values()),
            "backup_s": round(backup_s, 2),
            "backup_mib": _mib(manifest.size),
            "restores": {},
            "load": common.load(),
        }
        for kind in kinds:
            with ExitStack() as stack:
                target = _target(kind, work, cluster, stack)
                started = time.perf_counter()
                report = restore(folder, target, progress=False)
                out["restores"][kind] = {
                    "method": report.method,
                    "seconds": round(time.perf_counter() - started, 2),
                }
                dispose_engines()
        return out
    finally:
        dispose_engines()
        shutil.rmtree(work, ignore_errors=True)


def _print(results: list[dict[str, Any]]) -> None:
    print(f"{'database':<22}{'size':>10}{'rows':>12}{'backup':>10}{'file':>10}   restore into")
    for r in results:
        into = ", ".join(f"{k} {v['seconds']:.1f} s ({v['method']})" for k, v in r["restores"].items())
        label = f"{r['backend']} {common.size_label(r['cases'])}"
        print(f"{label:<22}{r['database_mib']:>7.1f} MiB{r['rows']:>12,}{r['backup_s']:>8.1f} s"
              f"{r['backup_mib']:>6.1f} MiB   {into}")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.backup", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["default"])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args(argv)
    sizes = common.parse_sizes(args.cases)
    common.BENCH_DIR.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    with ExitStack() as stack:
        cluster = stack.enter_context(common.pg_cluster()) if "postgresql" in args.backends else None
        for db in common.databases(sizes, args.backends, cluster):
            results.append(measure(db, args.backends, cluster))
            _print(results[-1:])
    print()
    _print(results)
    path = common.save_json("backup", {"machine": common.machine(), "runs": results})
    print(f"\nwritten {path}")
    if max(sizes) < 1_000_000:
        print("At a million cases: python -m bench.backup --cases 1M (seeds the 1M databases once, "
              "≈ 3–4 min each, see bench/RESULTS.md, then reuses them).")  # fmt: skip


if __name__ == "__main__":
    main()
