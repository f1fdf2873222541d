"""Benchmark databases: seeded SQLite files and PostgreSQL databases at given case counts, built once and reused.

SQLite files live in ``BENCH_DIR`` (default ./data/bench/, env ``BENCH_DIR``) as ``sqlite-<cases>.db`` with a
``.json`` side file (case count, seed time, the seed's "today"). PostgreSQL runs as a persistent throw-away
cluster in ``BENCH_DIR/pg`` (started with the same helpers as the tests, tests/pg.py), one database per
size, so the million-case database is loaded only once. A database built by an older schema gets the
model's indexes (missing ones created, dropped ones removed) and a full ANALYZE before it is used.

    python -m bench.common --cases 10000 100000 1000000 --backends sqlite postgresql
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import inspect, select
from sqlmodel import SQLModel

from dashboard.config import ROOT
from dashboard.db import dispose_engines, get_engine
from tests import pg

BENCH_DIR = Path(os.environ.get("BENCH_DIR", ROOT / "data" / "bench"))
RESULTS_DIR = ROOT / "bench" / "results"
DEFAULT = 0
"""Case count meaning "the seed's default size" (≈ 36,500 cases, a year)."""
PG_OPTIONS = "-c shared_buffers=512MB -c work_mem=32MB -c effective_cache_size=4GB -c max_connections=200"
"""Server settings of the benchmark cluster (tests/pg.py adds fsync=off and synchronous_commit=off)."""


def size_label(cases: int) -> str:
    if cases == DEFAULT:
        return "default"
    if cases % 1_000_000 == 0:
        return f"{cases // 1_000_000}M"
    if cases % 1000 == 0:
        return f"{cases // 1000}k"
    return str(cases)


@dataclass
class BenchDb:
    backend: str  # "sqlite" or "postgresql"
    cases: int  # DEFAULT (0) for the seed's default size
    url: str
    seed_seconds: float | None  # seconds the seed took when this database was built (None: unknown)
    built_now: bool  # built in this run (False: reused)
    today: str  # the seed's "today"

    @property
    def label(self) -> str:
        return size_label(self.cases)


def _read_meta(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def write_meta(path: Path, meta: dict) -> None:
    path.write_text(json.dumps(meta, indent=2, default=str))


def seed(url: str, cases: int, today: date | None = None) -> float:
    """Seed `url` (created empty) with `cases` cases (DEFAULT: the default size); return the seconds taken."""
    from seed.generate import seed_database

    started = time.perf_counter()
    seed_database(url, cases=cases or None, today=today)
    seconds = time.perf_counter() - started
    dispose_engines()
    return seconds


def sync_indexes(url: str, analyze: bool = False) -> list[str]:
    """Give an existing database the indexes of the current models; full ANALYZE when anything changed.

    Drops ``ix_`` indexes the models no longer declare, creates the missing ones. Returns the changes
    (``+name`` / ``-name``).
    """
    engine = get_engine(url)
    changes: list[str] = []
    with engine.begin() as conn:
        insp = inspect(conn)
        for table in SQLModel.metadata.sorted_tables:
            if not insp.has_table(table.name):
                continue
            have = {i["name"] for i in insp.get_indexes(table.name)}
            want = {i.name for i in table.indexes}
            for name in sorted(have - want):
                if name and name.startswith("ix_"):
                    conn.exec_driver_sql(f'DROP INDEX "{name}"')
                    changes.append(f"-{name}")
            for index in sorted(table.indexes, key=lambda i: str(i.name)):
                if index.name not in have:
                    index.create(conn)
                    changes.append(f"+{index.name}")
        if changes or analyze:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA analysis_limit=0")
            conn.exec_driver_sql("ANALYZE")
    dispose_engines()
    return changes


def sqlite_db(cases: int, directory: Path = BENCH_DIR, rebuild: bool = False) -> BenchDb:
    """The SQLite benchmark database with `cases` cases, seeded unless a cached file exists."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"sqlite-{cases or 'default'}.db"
    meta_path = path.with_suffix(".json")
    if rebuild:
        for p in (path, meta_path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            p.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    if path.exists():
        meta = _read_meta(meta_path)
        changes = sync_indexes(url, analyze=not meta.get("analyzed"))
        if changes or not meta.get("analyzed"):
            meta.update(analyzed=True, index_changes=[*meta.get("index_changes", []), *changes])
            write_meta(meta_path, meta)
        return BenchDb("sqlite", cases, url, meta.get("seconds"), False, str(meta.get("today", "?")))
    building = path.with_name(path.name + ".building")
    for p in (building, Path(f"{building}-wal"), Path(f"{building}-shm")):
        p.unlink(missing_ok=True)
    seconds = seed(f"sqlite:///{building}", cases)
    building.rename(path)
    meta = {
        "cases": cases,
        "seconds": round(seconds, 1),
        "today": date.today(),
        "analyzed": True,
        "built": datetime.now().isoformat(timespec="seconds"),
    }
    write_meta(meta_path, meta)
    return BenchDb("sqlite", cases, url, round(seconds, 1), True, str(meta["today"]))


class PgCluster:
    """A PostgreSQL cluster kept in ``BENCH_DIR/pg`` between runs (initdb once, then start/stop)."""

    def __init__(self, directory: Path = BENCH_DIR) -> None:
        bin_dir = pg.find_bin_dir()
        if bin_dir is None:
            raise FileNotFoundError("no PostgreSQL server binaries found")
        self.root = directory / "pg"
        self.server = pg.PgServer(bin_dir=bin_dir, root=self.root, port=pg.free_port())
        self.meta_path = directory / "pg.json"

    def start(self) -> None:
        data = self.root / "data"
        if not (data / "PG_VERSION").exists():
            shutil.rmtree(self.root, ignore_errors=True)
            self.root.mkdir(parents=True)
            os.chmod(self.root, 0o755)
            self.meta_path.unlink(missing_ok=True)
            self.server.start()  # initdb + start (with the test settings)
            self.stop()
        opts = (
            f"-p {self.server.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
            f"-c synchronous_commit=off -c full_page_writes=off {PG_OPTIONS}"
        )
        self.server._run("pg_ctl", "-D", str(data), "-o", opts, "-l", str(self.root / "log"), "-w", "start")

    def stop(self) -> None:
        self.server._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")

    def version(self) -> str:
        out = subprocess.run(
            [str(self.server.bin_dir / "postgres"), "--version"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()

    def databases(self) -> set[str]:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.server.port} user=postgres dbname=postgres") as c:
            return {r[0] for r in c.execute("SELECT datname FROM pg_database")}

    def db(self, cases: int, rebuild: bool = False, today: date | None = None) -> BenchDb:
        """The PostgreSQL benchmark database with `cases` cases, seeded unless it already exists."""
        name = f"bench_{cases or 'default'}"
        url = self.server.url(name)
        metas = _read_meta(self.meta_path)
        meta = metas.get(name, {})
        exists = name in self.databases()
        if exists and (rebuild or not meta):
            dispose_engines()
            self.server.execute_autocommit(f'DROP DATABASE "{name}"')
            exists = False
        if exists:
            sync_indexes(url)
            return BenchDb("postgresql", cases, url, meta.get("seconds"), False, str(meta.get("today", "?")))
        self.server.execute_autocommit(f'CREATE DATABASE "{name}"')
        seconds = seed(url, cases, today)
        meta = {
            "cases": cases,
            "seconds": round(seconds, 1),
            "today": today or date.today(),
            "built": datetime.now().isoformat(timespec="seconds"),
        }
        self.record(name, meta)
        return BenchDb("postgresql", cases, url, round(seconds, 1), True, str(meta["today"]))

    def record(self, name: str, meta: dict) -> None:
        """Remember how database `name` was built (it is reused while this record exists)."""
        metas = _read_meta(self.meta_path)
        metas[name] = meta
        write_meta(self.meta_path, metas)


@contextmanager
def pg_cluster(directory: Path = BENCH_DIR) -> Iterator[PgCluster]:
    cluster = PgCluster(directory)
    cluster.start()
    try:
        yield cluster
    finally:
        dispose_engines()
        cluster.stop()


def databases(
    sizes: list[int], backends: list[str], cluster: PgCluster | None, rebuild: bool = False
) -> list[BenchDb]:
    """Every (backend, size) benchmark database, built or reused, SQLite first."""
    out: list[BenchDb] = []
    for cases in sizes:
        if "sqlite" in backends:
            out.append(sqlite_db(cases, rebuild=rebuild))
        if "postgresql" in backends and cluster is not None:
            today = date.fromisoformat(out[-1].today) if out and out[-1].today != "?" else None
            out.append(cluster.db(cases, rebuild=rebuild, today=today))
    return out


def recent_open_case(url: str) -> str:
    """The number of the most recently reported open case (what a user opens from the queue)."""
    from dashboard.reporting.kpi import is_open
    from models import Case

    with get_engine(url).connect() as conn:
        stmt = select(Case.number).where(is_open()).order_by(Case.reported_at.desc()).limit(1)
        number = conn.execute(stmt).scalar_one()
    dispose_engines()
    return number


def machine() -> dict[str, str]:
    """Cores, memory, CPU model, disk and load, for the results file."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    disk = shutil.disk_usage(BENCH_DIR if BENCH_DIR.exists() else ROOT)
    import sqlite3

    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "disk": f"{disk.total / 1e9:.0f} GB virtual disk ({_disk_kind()}), {disk.free / 1e9:.0f} GB free",
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load": load(),
    }


def _disk_kind() -> str:
    for dev in sorted(Path("/sys/block").glob("*")):
        rot = dev / "queue" / "rotational"
        if rot.exists() and not dev.name.startswith(("loop", "ram")):
            return f"{dev.name}, {'rotational' if rot.read_text().strip() == '1' else 'non-rotational'}"
    return "unknown"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def save_json(name: str, data: object) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    return path


def load_json(name: str) -> object | None:
    path = RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def parse_sizes(values: list[str]) -> list[int]:
    """``default``, ``10000``, ``10k``, ``1M`` → case counts."""
    out = []
    for v in values:
        v = v.strip().lower()
        if v == "default":
            out.append(DEFAULT)
        elif v.endswith("k"):
            out.append(int(float(v[:-1]) * 1000))
        elif v.endswith("m"):
            out.append(int(float(v[:-1]) * 1_000_000))
        else:
            out.append(int(v))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.common", description="build or reuse the databases"
    )
    parser.add_argument("--cases", nargs="+", default=["default", "10k", "100k", "1M"])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    sizes = parse_sizes(args.cases)
    if "postgresql" in args.backends:
        with pg_cluster() as cluster:
            dbs = databases(sizes, args.backends, cluster, args.rebuild)
    else:
        dbs = databases(sizes, args.backends, None, args.rebuild)
    for d in dbs:
        state = "built" if d.built_now else "reused"
        print(f"{d.backend:<11}{d.label:>8}  {state:<7} seed {d.seed_seconds} s  today {d.today}  {d.url}")


if __name__ == "__main__":
    main()
