"""Seed time: ``python -m seed`` at the default size and at a million cases, as a user would run it.

Each size is seeded into a fresh file (SQLite) or database (PostgreSQL) by the CLI in a subprocess; wall
time, CPU time and peak memory of the subprocess, and the load average before and after are recorded. The
SQLite file then becomes the cached benchmark database of that size (bench/common.py), so a full run seeds
each size once.

    python -m bench.seed_time --cases default 1M --backends sqlite postgresql
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from typing import Any

from bench import common
from dashboard.config import ROOT


def run_seed(url: str, cases: int) -> dict[str, Any]:
    """Run ``python -m seed`` on `url`; wall/CPU seconds and peak RSS of that process, load before/after."""
    cmd = [sys.executable, "-m", "seed", "--database-url", url]
    if cases:
        cmd += ["--cases", str(cases)]
    load_before = common.load()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=out, stderr=err, env={**os.environ, "DATABASE_URL": url}
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode:
        raise RuntimeError(f"seed failed: {stderr[-2000:]}")
    return {
        "cases": cases,
        "wall_s": round(wall, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "load_before": load_before,
        "load_after": common.load(),
        "summary": stdout.strip().splitlines(),
        "at": datetime.now().isoformat(timespec="seconds"),
    }


def seed_sqlite(cases: int) -> dict[str, Any]:
    common.BENCH_DIR.mkdir(parents=True, exist_ok=True)
    path = common.BENCH_DIR / f"sqlite-{cases or 'default'}.db"
    building = path.with_name(path.name + ".timing")
    for p in (building, path.with_name(building.name + "-wal"), path.with_name(building.name + "-shm")):
        p.unlink(missing_ok=True)
    result = run_seed(f"sqlite:///{building}", cases)
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)
    building.rename(path)
    meta = {
        "cases": cases,
        "seconds": result["wall_s"],
        "today": date.today(),
        "analyzed": True,
        "built": result["at"],
        "source": "bench.seed_time (python -m seed)",
    }
    common.write_meta(path.with_suffix(".json"), meta)
    result.update(backend="sqlite", size_mb=round(path.stat().st_size / 2**20))
    return result


def seed_postgresql(cluster: common.PgCluster, cases: int) -> dict[str, Any]:
    """Seed the PostgreSQL benchmark database of that size afresh (it is kept for bench.pages)."""
    name = f"bench_{cases or 'default'}"
    if name in cluster.databases():
        cluster.server.execute_autocommit(f'DROP DATABASE "{name}"')
    cluster.server.execute_autocommit(f'CREATE DATABASE "{name}"')
    result = run_seed(cluster.server.url(name), cases)
    cluster.record(
        name,
        {
            "cases": cases,
            "seconds": result["wall_s"],
            "today": date.today(),
            "built": result["at"],
            "source": "bench.seed_time (python -m seed)",
        },
    )
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port={cluster.server.port} user=postgres dbname=postgres") as c:
        size = c.execute("SELECT pg_database_size(%s)", (name,)).fetchone()[0]  # type: ignore[index]
    result.update(backend="postgresql", size_mb=round(size / 2**20))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.seed_time", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["default", "1M"])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args(argv)
    sizes = common.parse_sizes(args.cases)
    previous = common.load_json("seed") or {"runs": []}
    runs: list[dict[str, Any]] = list(previous["runs"])  # type: ignore[index]

    def record(result: dict[str, Any]) -> None:
        runs[:] = [r for r in runs if (r["backend"], r["cases"]) != (result["backend"], result["cases"])]
        runs.append(result)
        common.save_json("seed", {"machine": common.machine(), "runs": runs})
        label = common.size_label(result["cases"])
        print(
            f"{result['backend']:<11}{label:>8}  wall {result['wall_s']:7.1f} s  cpu {result['cpu_s']:7.1f} s"
            f"  peak {result['peak_rss_mb']} MB  load {result['load_before']} → {result['load_after']}",
            flush=True,
        )

    if "sqlite" in args.backends:
        for cases in sizes:
            record(seed_sqlite(cases))
    if "postgresql" in args.backends:
        with common.pg_cluster() as cluster:
            for cases in sizes:
                record(seed_postgresql(cluster, cases))


if __name__ == "__main__":
    main()
