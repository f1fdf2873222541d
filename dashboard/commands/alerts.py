"""``python -m dashboard alerts run [--date D]`` and ``alerts list [--date D] [--kind K] --format json``: the
early-warning job from the shell (cron, or a second opinion on a replica), and the stored alerts for tools
and tests (kind, scope codes, category code, observed, expected, score, case numbers, a repeat's episode
state)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import TYPE_CHECKING

from dashboard.cli import command

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from dashboard.kernel.scope import Actor

KINDS = ("spike", "repeat", "hotspot", "risk")


def _args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="alerts_command", required=True)
    run = sub.add_parser("run", help="compute the alerts of a day (default today) and store them")
    run.add_argument("--date", type=date.fromisoformat, help="YYYY-MM-DD (default: today)")
    run.add_argument("--database-url", help="default: DATABASE_URL or ./data/dashboard.db")
    show = sub.add_parser("list", help="print the stored alerts of a day (default: the newest run)")
    show.add_argument("--date", type=date.fromisoformat, help="YYYY-MM-DD (default: the newest run)")
    show.add_argument("--kind", choices=KINDS)
    show.add_argument("--status", choices=("open", "all"), default="all")
    show.add_argument("--format", choices=("json", "text"), default="text")
    show.add_argument("--database-url", help="default: DATABASE_URL or ./data/dashboard.db")


@command("alerts", "early warning (研判预警): run the detectors, or list the stored alerts", _args)
def alerts(args: argparse.Namespace) -> int:
    from dashboard.db import get_engine, upgrade

    upgrade(args.database_url)
    engine = get_engine(args.database_url)
    if args.alerts_command == "run":
        return _run(engine, args.date)
    return _list(engine, args)


def _run(engine: Engine, day: date | None) -> int:
    from dashboard.kernel.errors import DomainError
    from dashboard.reporting.warning import run

    try:
        outcome = run.run(day, force=True, engine=engine)
    except DomainError:
        print("date is in the future", file=sys.stderr)
        return 2
    if not outcome.ran:
        print(f"alerts of {outcome.day}: {outcome.skipped} (another process holds the run)", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "day": outcome.day.isoformat(),
                "seconds": outcome.duration_s,
                "counts": outcome.counts,
                "auc": outcome.auc,
                "scored_cases": outcome.scored,
                "timings": outcome.timings,
            },
            ensure_ascii=False,
        )
    )
    return 0


def _system_actor() -> Actor:
    """The command reads everything, as the command centre does (an Actor of the operator role)."""
    from dashboard.kernel.scope import Actor
    from models.enums import Role

    return Actor(id=0, username="cli", display_name="cli", role=Role.operator)


def _list(engine: Engine, args: argparse.Namespace) -> int:
    from dashboard.db import session_scope
    from dashboard.reporting.warning import store

    with session_scope(engine) as session:
        day = args.date or store.latest_day(session)
        views = store.alerts_for(
            session, _system_actor(), day=day, kind=args.kind, status=args.status, lang="en"
        )
    rows = [
        {
            "id": v.id,
            "day": v.day.isoformat(),
            "kind": str(v.kind),
            "scope_type": str(v.scope_type),
            "scope_code": v.scope_code,
            "category_code": v.category_code,
            "observed": v.observed,
            "expected": v.expected,
            "score": v.score,
            "since": v.since.isoformat(),
            "status": str(v.status),
            "case_numbers": v.case_numbers,
            "episode": v.episode_state,
        }
        for v in views
    ]
    if args.format == "json":
        print(json.dumps({"day": day.isoformat() if day else None, "alerts": rows}, ensure_ascii=False))
    else:
        for r in rows:
            print(
                f"{r['kind']:8} {r['scope_type']:9} {r['scope_code']:24} {r['category_code'] or '-':4} "
                f"{r['observed']:>6.0f} {r['expected']:>7.2f} {r['score']:.2g} {len(r['case_numbers'])} cases"
            )
    return 0
