"""``python -m seed``: migrate and fill a database with the deterministic demo sub-district.

Refuses (exit code 1) when the database already holds data, unless ``--reset`` is given.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from tqdm import tqdm

from dashboard.config import get_settings
from seed.generate import SeedAlreadyExists, seed_database


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m seed", description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL or ./data/dashboard.db")
    parser.add_argument(
        "--cases", type=int, default=None, help="number of cases (default ≈ 100 a day for a year)"
    )
    parser.add_argument("--random-seed", type=int, default=20261123)
    parser.add_argument(
        "--no-demo-users", action="store_true", help="no demo accounts (other accounts never get a password)"
    )
    parser.add_argument("--demo-password", default="demo1234")
    parser.add_argument("--reset", action="store_true", help="drop every table first, then seed")
    parser.add_argument("--today", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default: today)")
    parser.add_argument("--volunteers", type=int, default=1500)
    parser.add_argument("--service-records", type=int, default=60000)
    parser.add_argument("--visits", type=int, default=20000)
    parser.add_argument("--no-photos", action="store_true", help="no case photos (and no typical cases)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    url = args.database_url or get_settings().database_url
    if args.cases is not None and args.cases < 0:
        print("--cases must not be negative", file=sys.stderr)
        return 2
    with tqdm(total=100, unit="%", bar_format="{l_bar}{bar}| {elapsed}") as bar:

        def progress(fraction: float, message: str) -> None:
            bar.set_description(message, refresh=False)
            bar.update(max(0.0, round(100 * fraction, 1) - bar.n))

        try:
            report = seed_database(
                url,
                cases=args.cases,
                random_seed=args.random_seed,
                demo_users=not args.no_demo_users,
                demo_password=args.demo_password,
                reset=args.reset,
                today=args.today,
                volunteers=args.volunteers,
                service_records=args.service_records,
                visits=args.visits,
                progress=progress,
                photos=not args.no_photos,
            )
        except SeedAlreadyExists as exc:
            bar.close()
            print(f"refused: {exc}", file=sys.stderr)
            return 1
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
