"""Benchmark: import a 100,000-row case spreadsheet (CSV) into a small seeded database.

    python bench/import_100k.py [--rows 100000] [--database-url URL] [--keep]

Builds a seeded SQLite database (the default territory, few cases) unless ``--database-url`` points at one,
writes a messy-but-valid CSV (Chinese headers, mixed date formats, categories by code and by name, points
inside the grids), then times the dry run, the commit and an idempotent re-import, and prints the peak
memory of the process (``resource.getrusage(...).ru_maxrss``). The numbers of the last run per backend are
kept in bench/import_100k-sqlite.txt and bench/import_100k-postgresql.txt.
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlmodel import Session, select  # noqa: E402

from dashboard.admin.auth import actor_of  # noqa: E402
from dashboard.db import get_engine  # noqa: E402
from dashboard.io.cases import import_cases  # noqa: E402
from dashboard.territory.geo import GridLocator, from_geojson  # noqa: E402
from models import Category, Grid, User  # noqa: E402
from models.enums import Role  # noqa: E402

HEADERS = [
    "事件编号",
    "标题",
    "描述",
    "类别",
    "上报时间",
    "经度",
    "纬度",
    "地址",
    "来源",
    "状态",
    "结案时间",
    "报告人",
    "电话",
]
STATUSES = ["待受理", "已受理", "处置中", "已结案", "已结案", "已结案", "closed"]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def write_csv(path: Path, url: str, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    with Session(get_engine(url)) as s:
        grids = s.exec(select(Grid.id, Grid.polygon)).all()
        cats = s.exec(select(Category.code, Category.name_zh)).all()
    shapes = [from_geojson(p) for _id, p in grids]
    locator = GridLocator(grids)
    x0 = min(g.bounds[0] for g in shapes)
    y0 = min(g.bounds[1] for g in shapes)
    x1 = max(g.bounds[2] for g in shapes)
    y1 = max(g.bounds[3] for g in shapes)
    start = datetime(2025, 11, 1)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADERS)
        n = 0
        while n < rows:
            lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
            if locator.locate(lon, lat) is None:
                continue
            n += 1
            at = start + timedelta(minutes=rng.randrange(0, 360 * 24 * 60))
            date = [
                f"{at:%Y-%m-%d %H:%M}",
                f"{at:%Y/%m/%d %H:%M:%S}",
                f"{at:%Y年%m月%d日 %H时%M分}",
                f"{at:%Y.%m.%d}",
            ][n % 4]
            code, name = cats[n % len(cats)]
            status = STATUSES[n % len(STATUSES)]
            closed = f"{at + timedelta(days=2):%Y-%m-%d %H:%M}" if status in ("已结案", "closed") else ""
            w.writerow(
                [
                    f"LEGACY-{n:07d}",
                    f"历史案件 {n}",
                    "从旧系统导入的案件描述",
                    code if n % 2 else name,
                    date,
                    f"{lon:.6f}",
                    f"{lat:.6f}",
                    f"项里街道{n % 300}号",
                    "12345",
                    status,
                    closed,
                    "王小明" if n % 3 else "",
                    "13812345678" if n % 3 else "",
                ]
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="import100k-"))
    url = args.database_url
    if url is None:
        from seed.generate import seed_database

        url = f"sqlite:///{tmp / 'bench.db'}"
        t = time.perf_counter()
        seed_database(url, cases=500, volunteers=50, service_records=50, visits=50)
        print(f"seeded in {time.perf_counter() - t:.1f} s")
    path = tmp / "cases.csv"
    t = time.perf_counter()
    write_csv(path, url, args.rows)
    print(f"wrote {args.rows:,} rows ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t:.1f} s")
    base_mb = peak_mb()
    lines = [f"rows: {args.rows:,}  file: {path.stat().st_size / 1e6:.1f} MB  database: {url.split(':')[0]}"]
    with Session(get_engine(url)) as s:
        admin = actor_of(s.exec(select(User).where(User.role == Role.admin).order_by(User.id)).first())
    for label, commit in (("dry run", False), ("commit", True), ("re-import (dry run)", False)):
        ticks: list[float] = []
        with Session(get_engine(url)) as s:
            t, cpu = time.perf_counter(), time.process_time()
            report = import_cases(
                s, admin, path, commit=commit, progress=lambda f, _m, ticks=ticks: ticks.append(f)
            )
            s.commit()
            elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
        line = (
            f"{label:20s} {elapsed:6.1f} s (CPU {cpu:5.1f} s)  {args.rows / elapsed:7,.0f} rows/s  "
            f"peak RSS {peak_mb():5.0f} MB "
            f"(before imports {base_mb:.0f} MB)  progress callbacks {len(ticks)}  {report.summary('en')}"
        )
        print(line)
        lines.append(line)
    backend = "postgresql" if url.startswith("postgres") else "sqlite"
    (ROOT / "bench" / f"import_100k-{backend}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
