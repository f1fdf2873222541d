"""Benchmark: import and export throughput (rows/s, peak RSS) at 10,000 and 200,000 cases.

    python bench/io_throughput.py [--rows 10000 200000] [--keep]

For each size: seeds a small SQLite database (the default territory, 500 cases), writes a case CSV of that
many rows (bench/import_100k.py's generator: Chinese headers, mixed date formats, points inside the
grids), imports it (committed), then exports the imported cases as CSV, Excel, Open311 JSON and Open311 XML, and
imports the Open311 JSON export back (a dry run: every case is found unchanged). Each step runs in a
process of its own, so that its peak RSS (``ru_maxrss``) is its own and not the largest so far. Prints
one line per step and the machine; the figures of the last run are kept in bench/io_throughput.txt.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STEPS = (
    "import csv",
    "export csv",
    "export xlsx",
    "export open311 json",
    "export open311 xml",
    "import open311 json (dry run)",
)


def _admin(session: Any) -> Any:
    from sqlmodel import select

    from dashboard.admin.auth import actor_of
    from models import User
    from models.enums import Role

    return actor_of(session.exec(select(User).where(User.role == Role.admin).order_by(User.id)).first())


def _step(name: str, url: str, work: Path) -> dict[str, Any]:
    """Run one step in this process: seconds, CPU seconds, rows, output size."""
    from sqlmodel import Session

    from dashboard.cases import export as case_export
    from dashboard.db import get_engine
    from dashboard.io import open311
    from dashboard.io.cases import import_cases, import_open311
    from models import Case

    exporters = {
        "export csv": (case_export.write_cases_csv, "cases.csv"),
        "export xlsx": (case_export.write_cases_xlsx, "cases.xlsx"),
        "export open311 json": (open311.write_open311, "requests.json"),
        "export open311 xml": (open311.write_open311_xml, "requests.xml"),
    }
    with Session(get_engine(url)) as s:
        admin = _admin(s)
        t, cpu = time.perf_counter(), time.process_time()
        if name in exporters:
            writer, file_name = exporters[name]
            target = work / file_name
            with target.open("wb") as out:
                rows = writer(s, admin, out, [Case.source == "imported"], unmasked=True, lang="zh")
            size = target.stat().st_size
        else:
            source = work / ("input.csv" if name == "import csv" else "requests.json")
            run = import_cases if name == "import csv" else import_open311
            report = run(s, admin, source, commit=name == "import csv")
            assert report.ok, report.summary("en")
            rows, size = report.rows, source.stat().st_size
        s.commit()
        elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"step": name, "rows": rows, "seconds": elapsed, "cpu": cpu, "peak_mb": peak, "bytes": size}


def _run_child(name: str, url: str, work: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", name, "--url", url, "--work", str(work)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _size(rows: int, keep: bool) -> list[str]:
    from seed.generate import seed_database

    sys.path.insert(0, str(ROOT / "bench"))
    from import_100k import write_csv

    work = Path(tempfile.mkdtemp(prefix=f"io-{rows}-"))
    url = f"sqlite:///{work / 'bench.db'}"
    seed_database(url, cases=500, volunteers=50, service_records=50, visits=50)
    write_csv(work / "input.csv", url, rows)
    lines = []
    for name in STEPS:
        r = _run_child(name, url, work)
        line = (
            f"{rows:>8,} rows  {name:<30} {r['seconds']:7.1f} s (CPU {r['cpu']:6.1f} s)  "
            f"{r['rows'] / r['seconds']:8,.0f} rows/s  peak RSS {r['peak_mb']:5.0f} MB  "
            f"file {r['bytes'] / 1e6:6.1f} MB  ({r['rows']:,} rows)"
        )
        print(line, flush=True)
        lines.append(line)
    if keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 200_000])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_step(args.child, args.url, Path(args.work))))
        return 0
    from bench.common import machine

    started = time.perf_counter()
    info = machine()
    lines = [f"machine: {info['cpu']}, {info['cores']} cores, {info['memory']}, load {info['load']}"]
    print(lines[0], flush=True)
    for rows in args.rows:
        lines += _size(rows, args.keep)
    lines.append(f"total {time.perf_counter() - started:.0f} s (seeding and writing the input included)")
    print(lines[-1])
    (ROOT / "bench" / "io_throughput.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
