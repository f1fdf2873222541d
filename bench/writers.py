"""Concurrent writers: N processes creating and moving cases through the loop for a while, per backend.

Each writer runs units of work exactly as a page action does (``bench/workload.py``: a writer
transaction, tried again while other writers are in the way) and times each one. Reported per backend:
throughput, p50/p95/p99 latency, and the outcomes — done, conflicts (two writers acted on the same case
and the later one was told "changed by …": a correct answer, not a failure), refused (the user was told
"busy, try again" after the retries) and errors (anything raw, which must be 0). Writers work on a copy
of the benchmark database, so the cached one stays as it was.

    python -m bench.writers                       # 20 writers, 60 s, SQLite and PostgreSQL, default seed
    python -m bench.writers --writers 5 --seconds 20 --backends sqlite
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import shutil
import statistics
import time
import traceback
from collections import Counter
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from bench import common


def _writer(url: str, seed: int, seconds: float, start_at: float, out: Any) -> None:
    from bench.workload import load_world, step
    from dashboard.db import get_engine
    from dashboard.kernel.errors import Busy, DomainError

    engine = get_engine(url)
    world = load_world(engine)
    rng = random.Random(seed)
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    errors: list[str] = []
    time.sleep(max(0.0, start_at - time.time()))
    deadline = time.time() + seconds
    while time.time() < deadline:
        t0 = time.perf_counter()
        try:
            step(engine, rng, world)
            outcomes["done"] += 1
        except Busy:
            outcomes["refused"] += 1
        except DomainError:
            outcomes["conflict"] += 1
        except Exception:
            outcomes["error"] += 1
            errors.append(traceback.format_exc(limit=3))
        latencies.append(time.perf_counter() - t0)
    out.put((latencies, dict(outcomes), errors[:3]))


def _working_copy(db: common.BenchDb, cluster: common.PgCluster | None) -> str:
    if db.backend == "sqlite":
        source = Path(db.url.removeprefix("sqlite:///"))
        target = source.with_name("writers.db")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(source, target)
        return f"sqlite:///{target}"
    assert cluster is not None
    name = db.url.rsplit("/", 1)[1]
    common.dispose_engines()
    cluster.server.execute_autocommit('DROP DATABASE IF EXISTS "writers"')
    cluster.server.execute_autocommit(f'CREATE DATABASE "writers" TEMPLATE "{name}"')
    return cluster.server.url("writers")


def run(db: common.BenchDb, cluster: common.PgCluster | None, writers: int, seconds: float) -> dict[str, Any]:
    url = _working_copy(db, cluster)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 5 + writers * 0.3  # every process imported and connected before the start
    procs = [ctx.Process(target=_writer, args=(url, i, seconds, start_at, out)) for i in range(writers)]
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 300) for _ in procs]
    for p in procs:
        p.join(30)
    latencies = sorted(x for r in results for x in r[0])
    outcomes: Counter[str] = Counter()
    for r in results:
        outcomes.update(r[1])
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "backend": db.backend,
        "cases": common.size_label(db.cases),
        "writers": writers,
        "seconds": seconds,
        "units": len(latencies),
        "per_second": round(outcomes["done"] / seconds, 1),
        "p50_ms": round(q[49] * 1000, 1),
        "p95_ms": round(q[94] * 1000, 1),
        "p99_ms": round(q[98] * 1000, 1),
        "done": outcomes["done"],
        "conflicts": outcomes["conflict"],
        "refused": outcomes["refused"],
        "errors": outcomes["error"],
        "error_samples": [e for r in results for e in r[2]][:3],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--cases", nargs=1, default=["default"])
    args = parser.parse_args(argv)
    sizes = common.parse_sizes(args.cases)
    rows = []
    with common.pg_cluster() if "postgresql" in args.backends else nullcontext() as cluster:
        for db in common.databases(sizes, args.backends, cluster):
            row = run(db, cluster, args.writers, args.seconds)
            rows.append(row)
            print(
                f"{row['backend']:<10} {row['cases']:>7} cases  {row['writers']} writers × {row['seconds']:.0f} s: "
                f"{row['per_second']} units/s  p50 {row['p50_ms']} ms  p95 {row['p95_ms']} ms  "
                f"p99 {row['p99_ms']} ms  done {row['done']}  conflicts {row['conflicts']}  "
                f"refused {row['refused']}  errors {row['errors']}",
                flush=True,
            )
            for sample in row["error_samples"]:
                print(sample)
    common.save_json("writers", {"machine": common.machine(), "load": common.load(), "runs": rows})


if __name__ == "__main__":
    main()
