"""The whole benchmark in one command; writes bench/RESULTS.md.

    python -m bench.run --cases 1000000                 # seed times, pages at 10k/100k/1M, memory, report
    python -m bench.run --cases 1000000 --skip-seed     # reuse the cached databases for everything

Steps (each can also be run alone, see its module):

1. ``bench.seed_time``: ``python -m seed`` at the default size and at `--cases`, SQLite and PostgreSQL
   (the seeded databases become the cached benchmark databases of those sizes);
2. ``bench.pages``: every page's cold/warm render, bare SQL and the naive way, at 10k, 100k and `--cases`
   (smaller sizes are seeded on first use and cached under ./data/bench/);
3. ``bench.memory``: peak RSS and bytes to the browser of a real server at `--cases` (SQLite and PostgreSQL);
4. ``bench.report``: RESULTS.md, page_times.html and page_times.png.
"""

from __future__ import annotations

import argparse

from bench import common, memory, pages, report, seed_time


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000, help="the largest size (default 1000000)")
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (medians)")
    parser.add_argument(
        "--skip-seed", action="store_true", help="do not time the seed; reuse cached databases"
    )
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args(argv)
    big = common.size_label(args.cases)
    sizes = [s for s in ("10k", "100k") if common.parse_sizes([s])[0] < args.cases] + [big]
    if not args.skip_seed:
        seed_time.main(["--cases", "default", big, "--backends", *args.backends])
    pages.main(["--cases", *sizes, "--backends", *args.backends, "--runs", str(args.runs)])
    if not args.skip_memory:
        memory.main(["--cases", big, "--backends", *args.backends])
    print(report.write())


if __name__ == "__main__":
    main()
