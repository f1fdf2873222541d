"""``python -m dashboard import`` and ``export``: the admin page's imports from the shell, and case exports
(CSV, Excel, Open311 GeoReport v2) of any size.

``import KIND FILE`` runs a dry run unless ``--commit`` is given (``--date-format COLUMN=FORMAT`` reads a
date column in a format of :data:`dashboard.io.values.DATE_FORMATS`); it prints the counts and the first
problems, writes every problem to ``--errors-out`` (CSV), and exits 0 when the file is clean (or was
committed), 1 when rows have errors (nothing written unless ``--skip-bad-rows``) or no row is without
errors, 2 when the file cannot be read at all. ``export cases`` streams the cases (filters like GeoReport v2's ``GET requests``:
``--number``, ``--service-code``, ``--status``, ``--since``/``--until`` on the reporting time, plus
``--community`` and ``--grid``) to a file or to stdout (``--out -``); ``export services`` writes the
categories as Open311 ``services.json``. Both act as a user (``--user``, default: the first active admin)
and are audited like the page.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dashboard.cli import command

if TYPE_CHECKING:
    from dashboard.io.runs import ImportReport

MAX_IMPORT_MB = 1024
"""Largest file the command imports (the page's limit is the upload limit)."""


def _user_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--database-url", help="default: DATABASE_URL or ./data/dashboard.db")
    p.add_argument("--user", help="act as this user (default: the first active admin)")
    p.add_argument(
        "--lang", choices=["zh", "en"], help="language of labels and messages (default: DASHBOARD_LANG)"
    )


def _actor(session: Any, username: str | None):  # type: ignore[no-untyped-def]
    from sqlmodel import select

    from dashboard.admin.auth import actor_of
    from models import User
    from models.enums import Role

    stmt = select(User).where(User.active.is_(True))
    stmt = (
        stmt.where(User.username == username)
        if username
        else stmt.where(User.role == Role.admin).order_by(User.id)
    )
    user = session.exec(stmt).first()
    return actor_of(user) if user is not None else None


def _import_args(p: argparse.ArgumentParser) -> None:
    from dashboard.io.sources import CONVERSIONS, KINDS

    p.add_argument("kind", choices=KINDS)
    p.add_argument("file", type=Path)
    p.add_argument("--commit", action="store_true", help="write (default: dry run, nothing written)")
    p.add_argument(
        "--mapping",
        help='JSON (or a JSON file): {"columns": {header: field or [fields]}, "categories": {value: code}, '
        '"statuses": {value: status}, "dates": {column: format}, "other_category": code}',
    )
    p.add_argument(
        "--date-format",
        action="append",
        default=[],
        metavar="COLUMN=FORMAT",
        help="read a date column in this format: ymd, dmy, mdy, excel, epoch or a strptime pattern (repeatable)",
    )
    p.add_argument(
        "--convert", choices=CONVERSIONS, help="coordinates are GCJ-02 or BD-09: convert to WGS-84"
    )
    p.add_argument(
        "--skip-bad-rows", action="store_true", help="commit the good rows even if some rows have errors"
    )
    p.add_argument(
        "--level", choices=["grid", "community"], default="grid", help="boundaries: what the features are"
    )
    p.add_argument(
        "--relocate-cases", action="store_true", help="boundaries: place cases again by the new grids"
    )
    p.add_argument("--errors-out", type=Path, help="write every problem to this CSV file")
    _user_arg(p)


def _mapping(value: str | None, date_formats: list[str]) -> Any:
    """The import mapping from ``--mapping`` and ``--date-format`` (ValueError when either is wrong)."""
    from dashboard.io.runs import ImportMapping

    mapping: dict[str, Any] = {}
    if value:
        path = Path(value)
        loaded = json.loads(path.read_text(encoding="utf-8") if path.is_file() else value)
        if not isinstance(loaded, dict):
            raise ValueError("--mapping must be a JSON object")
        keys = ("columns", "categories", "statuses", "dates", "other_category")
        mapping = loaded if any(k in loaded for k in keys) else {"columns": loaded}
    dates = dict(mapping.get("dates") or {})
    for item in date_formats:
        column, sep, fmt = item.rpartition("=")
        if not sep or not column or not fmt:
            raise ValueError(f"--date-format takes COLUMN=FORMAT, not {item!r}")
        dates[column] = fmt
    return ImportMapping.of({**mapping, "dates": dates}) if mapping or dates else None


def _file_problem(args: argparse.Namespace) -> str | None:
    """Why the file cannot be imported at all, or None."""
    from dashboard.io.sources import SUFFIXES

    if not args.file.is_file():
        return f"no such file: {args.file}"
    if args.file.suffix.lower() not in SUFFIXES[args.kind]:
        return f"{args.kind} imports take {', '.join(SUFFIXES[args.kind])} files"
    if args.file.stat().st_size > MAX_IMPORT_MB * 1024 * 1024:
        return f"file larger than {MAX_IMPORT_MB} MB"
    return None


def _import_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of the import of `args.kind` (each kind takes only its own)."""
    options: dict[str, Any] = {"skip_bad_rows": args.skip_bad_rows}
    if args.kind in ("cases", "open311", "boundaries"):
        options["convert"] = args.convert
    if args.kind == "boundaries":
        options.update(level=args.level, relocate_cases=args.relocate_cases)
    return options


def _outcome(report: ImportReport, args: argparse.Namespace) -> tuple[str, int]:
    """What happened (one line) and the exit code."""
    if not args.commit:
        return "dry run: nothing written (add --commit to import)", 0 if report.ok else 1
    if report.committed:
        skipped = f", {report.skipped} rows with errors left out" if report.skipped else ""
        return f"committed: {report.new} new, {report.updated} updated{skipped}", 0
    if report.error_rows and not args.skip_bad_rows:
        return f"nothing written: {report.error_rows} rows have errors (fix them, or add --skip-bad-rows)", 1
    return "nothing written: no row without errors", 1


def _print_report(report: ImportReport, args: argparse.Namespace) -> int:
    """Print the counts and the first problems (every one to ``--errors-out``); the exit code."""
    lang = args.lang
    print(report.summary(lang))
    if formats := report.date_formats:
        print("date formats: " + ", ".join(f"{column}={fmt}" for column, fmt in formats.items()))
    shown = report.problems_frame(lang).head(20)
    if not shown.empty:
        print(shown.astype(object).where(shown.notna(), "").to_string(index=False))  # no row: blank
        if report.problem_count > len(shown):
            print(f"… {report.problem_count - len(shown)} more")
    if args.errors_out:
        args.errors_out.write_bytes(report.problems_csv(lang))
        print(f"{report.problem_count} problems written to {args.errors_out}")
    if report.file_error is not None:
        return 2
    message, code = _outcome(report, args)
    print(message)
    return code


@command(
    "import",
    "import cases, Open311 requests, volunteers, service records or boundaries (dry run by default)",
    _import_args,
)
def import_file(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from dashboard.db import get_engine, session_scope, upgrade
    from dashboard.i18n import t_plain
    from dashboard.io.imports import run_import
    from dashboard.kernel.errors import DomainError

    problem = _file_problem(args)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    try:
        mapping = _mapping(args.mapping, args.date_format)
    except (OSError, json.JSONDecodeError) as e:
        print(f"--mapping is not valid JSON: {e}", file=sys.stderr)
        return 2
    except ValueError as e:
        print(str(e), file=sys.stderr)
        return 2
    options = _import_options(args)
    upgrade(args.database_url)
    bar = tqdm(total=100, unit="%", file=sys.stderr, disable=None, desc=args.file.name)

    def progress(fraction: float, message: str) -> None:
        bar.n = round(min(max(fraction, 0.0), 1.0) * 100)
        bar.set_postfix_str(message, refresh=True)

    with session_scope(get_engine(args.database_url), write=args.commit) as s:
        actor = _actor(s, args.user)
        if actor is None:
            no_user = "no such active user" if args.user else "no active admin: create one with create-user"
            print(no_user, file=sys.stderr)
            return 2
        try:
            report = run_import(
                s, actor, args.kind, args.file, mapping, args.commit, progress=progress, **options
            )
        except DomainError as e:
            print(f"refused: {t_plain(e.key, args.lang, **e.values)}", file=sys.stderr)
            return 1
    bar.close()
    return _print_report(report, args)


def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=["cases", "services"])
    p.add_argument("--format", choices=["open311", "open311-xml", "csv", "xlsx"], default="open311")
    p.add_argument("--out", required=True, help="file to write, or - for stdout")
    p.add_argument("--community", help="community code, e.g. XL-03")
    p.add_argument("--grid", help="grid code, e.g. XL-03-07")
    p.add_argument("--since", help="reported on or after this date (YYYY-MM-DD)")
    p.add_argument("--until", help="reported on or before this date (YYYY-MM-DD)")
    p.add_argument("--status", choices=["open", "closed", "all"], default="all", help="Open311 status")
    p.add_argument("--service-code", action="append", help="category code (repeatable)")
    p.add_argument("--number", action="append", help="case number, as service_request_id (repeatable)")
    p.add_argument("--unmasked", action="store_true", help="personal data unmasked (admins only; audited)")
    _user_arg(p)


def _conditions(s: Any, args: argparse.Namespace) -> tuple[list[Any], dict[str, object]] | str:
    """SQL conditions and the filters for the audit row, or an error message."""
    from sqlmodel import select

    from dashboard.io.open311 import CLOSED_STATUSES
    from dashboard.io.values import parse_datetime
    from models import Case, Category, Community, Grid

    conds: list[Any] = []
    filters: dict[str, object] = {}
    for flag, model, column in (("community", Community, Case.community_id), ("grid", Grid, Case.grid_id)):
        code = getattr(args, flag)
        if code:
            found = s.exec(select(model.id).where(model.code == code.upper())).first()
            if found is None:
                return f"no {flag} with code {code}"
            conds.append(column == found)
            filters[flag] = code
    for flag in ("since", "until"):
        value = getattr(args, flag)
        if value:
            try:
                day = parse_datetime(value)
            except ValueError:
                day = None
            if day is None:
                return f"--{flag}: not a date: {value}"
            day = datetime.combine(day.date(), datetime.min.time())
            conds.append(
                Case.reported_at >= day if flag == "since" else Case.reported_at < day + timedelta(days=1)
            )
            filters[flag] = value
    if args.status != "all":
        closed = [st.value for st in CLOSED_STATUSES]
        conds.append(Case.status.in_(closed) if args.status == "closed" else Case.status.not_in(closed))
        filters["status"] = args.status
    if args.service_code:
        codes = [c.upper() for c in args.service_code]
        conds.append(Case.category_id.in_(select(Category.id).where(Category.code.in_(codes))))
        filters["service_code"] = codes
    if args.number:
        filters["numbers"] = len(args.number)
    return conds, filters


def _export_progress(name: str) -> Callable[[float, str], None]:
    """A progress bar on standard error (none when it is not a terminal) for a streamed export."""
    from tqdm import tqdm

    bar = tqdm(total=100, unit="%", file=sys.stderr, disable=None, desc=name)

    def progress(fraction: float, message: str) -> None:
        bar.n = round(min(max(fraction, 0.0), 1.0) * 100)
        bar.set_postfix_str(message, refresh=True)

    return progress


@command(
    "export", "export cases (Open311 JSON, CSV, Excel) or the categories as Open311 services", _export_args
)
def export_file(args: argparse.Namespace) -> int:
    from dashboard.cases import export as case_export
    from dashboard.db import get_engine, session_scope, upgrade
    from dashboard.io import open311
    from dashboard.kernel.errors import DomainError

    if args.what == "services" and args.format != "open311":
        print("services are exported as Open311 JSON only", file=sys.stderr)
        return 2
    upgrade(args.database_url)
    to_stdout = args.out == "-"
    target = Path(args.out)
    with session_scope(get_engine(args.database_url), write=True) as s:
        actor = _actor(s, args.user)
        if actor is None:
            print("no such active user" if args.user else "no active admin", file=sys.stderr)
            return 2
        if args.what == "services":
            data = json.dumps(open311.services(s, args.lang), ensure_ascii=False, indent=1).encode("utf-8")
            if to_stdout:
                sys.stdout.buffer.write(data)
            else:
                target.write_bytes(data)
            return 0
        found = _conditions(s, args)
        if isinstance(found, str):
            print(found, file=sys.stderr)
            return 2
        conds, filters = found
        writer = {
            "open311": open311.write_open311,
            "open311-xml": open311.write_open311_xml,
            "csv": case_export.write_cases_csv,
            "xlsx": case_export.write_cases_xlsx,
        }[args.format]
        partial = target.with_name(target.name + ".part")
        extra: dict[str, Any] = {}
        if args.format in case_export.WRITERS:  # CSV and Excel report progress after each page
            extra["progress"] = _export_progress("stdout" if to_stdout else target.name)
        try:
            with nullcontext(sys.stdout.buffer) if to_stdout else partial.open("wb") as out:
                n = writer(
                    s,
                    actor,
                    out,
                    conds,
                    args.number,
                    unmasked=args.unmasked,
                    lang=args.lang,
                    filters=filters,
                    **extra,
                )
        except (DomainError, ValueError) as e:
            from dashboard.i18n import t_plain

            partial.unlink(missing_ok=True)
            reason = t_plain(e.key, args.lang, **e.values) if isinstance(e, DomainError) else e
            print(f"refused: {reason}", file=sys.stderr)
            return 1
        if not to_stdout:
            partial.replace(target)
    print(f"{n} cases written to {'stdout' if to_stdout else target}", file=sys.stderr)
    return 0
