"""What every import shares: the column/category/status/date mapping, territory lookups, the typed cells
of a row, and the run that makes an import all or nothing (the report is :mod:`dashboard.io.report`).

An import always validates every row. With ``commit=False`` (the dry run) it writes nothing and reports
what a commit would do: rows new / updated / unchanged, and every error. With ``commit=True`` its writes
go into one SAVEPOINT of the caller's transaction, which is released only when the file was read to the
end without errors, or with errors that the user chose to skip (``skip_bad_rows``, bad rows are then
left out), and something is written; otherwise it is rolled back and the database is exactly as before.
A committed import writes one ``import`` row to the audit log; dry runs and failed imports write nothing.

Only required fields reject a row: a value of an optional field that cannot be read (a date, a number, a
phone number, a yes/no) is a warning and left out, as if the cell were empty.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, SQLModel, select

from dashboard import clock
from dashboard.cases import sla
from dashboard.io.dates import DATE_FIELDS, resolve, scan
from dashboard.io.headers import SYNONYMS, missing_fields, norm_key, suggest_mapping
from dashboard.io.labels import yes_no
from dashboard.io.report import ImportReport, RowError
from dashboard.io.sources import FileProblem, Progress, RawRow, Source
from dashboard.io.tables import TableReader
from dashboard.io.values import is_null, number, parse_datetime, text
from dashboard.kernel import audit
from dashboard.kernel.errors import NotPermitted
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor
from dashboard.territory.geo import GridLocator
from models import Category, Department, Grid
from models.enums import CaseStatus

CHUNK_ROWS = 2000
"""Rows validated and written per batch."""


# ---------------------------------------------------------------- mapping


def _fields(value: object) -> tuple[str, ...]:
    """The field(s) a file column feeds: one name, a list of names, or none ("")."""
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, Sequence):
        return tuple(str(v) for v in value if v)
    return ()


@dataclass(frozen=True)
class ImportMapping:
    """The user's choices for a file: file header → the field or fields it feeds (``""`` ignores a
    column; one column may feed several fields, several columns one field, joined by a blank in file
    order), file category value → category code, file status value → status, date column (file header
    or field) → format (:data:`dashboard.io.values.DATE_FORMATS` or a ``strptime`` pattern), and the
    category code every unknown category is put in (flagged), if any."""

    columns: dict[str, tuple[str, ...]] | None = None
    categories: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    dates: dict[str, str] = field(default_factory=dict)
    other_category: str = ""

    @staticmethod
    def of(value: ImportMapping | Mapping[str, Any] | None) -> ImportMapping:
        """From ``{"columns": {...}, "categories": {...}, "statuses": {...}, "dates": {...},
        "other_category": code}``, a plain ``{header: field}`` dict, or None. ValueError for a status
        that is not one of :class:`CaseStatus`."""
        if value is None:
            return ImportMapping()
        if isinstance(value, ImportMapping):
            return value
        keys = ("columns", "categories", "statuses", "dates", "other_category")
        if not any(k in value for k in keys):
            return ImportMapping({str(k): _fields(v) for k, v in value.items()})
        cols = value.get("columns")
        statuses = {str(k): str(v) for k, v in (value.get("statuses") or {}).items()}
        wrong = sorted(v for v in statuses.values() if v not in CaseStatus._value2member_map_)
        if wrong:
            raise ValueError(
                f"unknown status {wrong[0]!r}: use one of {', '.join(s.value for s in CaseStatus)}"
            )
        return ImportMapping(
            {str(k): _fields(v) for k, v in cols.items()} if cols is not None else None,
            {str(k): str(v) for k, v in (value.get("categories") or {}).items()},
            statuses,
            {str(k): str(v) for k, v in (value.get("dates") or {}).items() if v},
            str(value.get("other_category") or ""),
        )

    def by_field(self, kind: str, headers: Sequence[str]) -> dict[str, list[str]]:
        """Field → the file's headers that feed it, in file order (default: the suggested mapping). A
        field the kind does not have is a FileProblem."""
        columns = self.columns
        if columns is None:
            columns = {h: (f,) for h, f in suggest_mapping(kind, headers).items()}
        known = SYNONYMS[kind]
        out: dict[str, list[str]] = {}
        for header in headers:
            for f in columns.get(header, ()):
                if f not in known:
                    raise FileProblem("io.err.unknown_field", field=f, column=header)
                if header not in out.setdefault(f, []):
                    out[f].append(header)
        return out


def mapped_values(
    values: Mapping[str, Any], by_field: Mapping[str, list[str]], fields: Sequence[str] | None = None
) -> dict[str, Any]:
    """Field → value of one row: the cell of its one column, or the texts of its columns joined by a
    blank (the empty ones left out; None when all are empty)."""
    out: dict[str, Any] = {}
    for f in by_field if fields is None else fields:
        headers = by_field[f]
        if len(headers) == 1:
            out[f] = values.get(headers[0])
        else:
            joined = " ".join(v for h in headers if (v := text(values.get(h))))
            out[f] = joined or None
    return out


# ---------------------------------------------------------------- territory


class Territory:
    """Grids, categories and departments as lookups, read once per import."""

    def __init__(self, session: Session) -> None:
        grids = session.exec(select(Grid.id, Grid.code, Grid.community_id, Grid.polygon)).all()
        self.grid_by_code = {code.upper(): (gid, cid) for gid, code, cid, _p in grids}
        self.grid_community = {gid: cid for gid, _c, cid, _p in grids}
        self.grid_code = {gid: code for gid, code, _cid, _p in grids}
        self.locator = GridLocator([(gid, poly) for gid, _c, _cid, poly in grids]) if grids else None
        self.categories: dict[int, Category] = {c.id: c for c in session.exec(select(Category)).all()}  # type: ignore[misc]
        self._category_keys: dict[str, int] = {}
        for c in self.categories.values():
            for key in (c.name_en, c.name_zh, c.code):
                self._category_keys[norm_key(key)] = c.id  # type: ignore[assignment]
        depts = session.exec(select(Department.id, Department.code, Department.name)).all()
        self.department_keys = {norm_key(k): did for did, code, name in depts for k in (code, name)}
        self.calendar = sla.load_calendar(session)

    def category(self, value: object, mapped: Mapping[str, str]) -> Category | None:
        """The category named by code, Chinese or English name (case-insensitive), or by the user's mapping
        of this value to a code."""
        raw = text(value)
        if raw in mapped:
            raw = mapped[raw]
        cid = self._category_keys.get(norm_key(raw))
        return self.categories.get(cid) if cid is not None else None


class Cells:
    """The mapped values of one row, with typed getters that record problems against the file's column:
    an error for a required field (the row is not written), a warning for an optional one, whose value is
    then dropped (:meth:`drop`)."""

    def __init__(
        self, run: ImportRun, raw: RawRow, values: dict[str, Any], columns: Mapping[str, str]
    ) -> None:
        self.run, self.row, self.values, self.columns = run, raw.row, values, columns
        self.bad = False
        for column, value, key, note_values in raw.warnings:
            run.warn(raw.row, column, value, key, **note_values)
        if raw.problem:
            self.bad = True
            run.error(raw.row, "", "", raw.problem, **raw.problem_values)

    def has(self, f: str) -> bool:
        return f in self.values and not is_null(self.values[f])

    def text(self, f: str) -> str:
        return text(self.values.get(f))

    def error(self, f: str, key: str, **values: Any) -> None:
        self.bad = True
        self.run.error(self.row, self.columns.get(f, f), self.values.get(f), key, **values)

    def warn(self, f: str, key: str, **values: Any) -> None:
        self.run.warn(self.row, self.columns.get(f, f), self.values.get(f), key, **values)

    def drop(self, f: str, key: str, **values: Any) -> None:
        """Warn about an optional value and leave it out, as if the cell were empty (a re-import then
        keeps the stored value)."""
        self.warn(f, key, **values)
        self.values[f] = None

    def date(self, f: str, required: bool = False) -> datetime | None:
        """The value read in its column's format (decided for the whole column before the rows)."""
        fmt = self.run.date_formats.get(f, "ymd")
        try:
            value = parse_datetime(self.values.get(f), fmt)
        except (ValueError, OverflowError):
            if required:
                self.error(f, "io.err.bad_date" if fmt == "ymd" else "io.err.bad_date_in", format=fmt)
            else:
                self.drop(f, "io.warn.bad_date", format=fmt)
            return None
        if value is None and required:
            self.error(f, "io.err.required")
        return value

    def num(self, f: str, required: bool = False) -> float | None:
        try:
            return number(self.values.get(f))
        except ValueError:
            if required:
                self.error(f, "io.err.bad_number")
            else:
                self.drop(f, "io.warn.bad_number")
            return None

    def limited(self, f: str, max_length: int, required: bool = False) -> str:
        """Text of at most `max_length` characters: longer is an error when required, else dropped."""
        value = self.text(f)
        if required and not value:
            self.error(f, "io.err.required")
        elif len(value) > max_length:
            if required:
                self.error(f, "io.err.too_long", max=max_length)
            else:
                self.drop(f, "io.warn.too_long", max=max_length)
                return ""
        return value

    def flag(self, f: str) -> bool:
        """A yes/no column: True when absent, and True (with a warning) when its text means neither."""
        if not self.has(f):
            return True
        value = yes_no(self.values[f])
        if value is None:
            self.drop(f, "io.warn.yes_no")
        return value is not False


# ---------------------------------------------------------------- writing


def batches(values: list[Any], size: int = 1000) -> Iterator[list[Any]]:
    """`values` in lists of `size`, e.g. to keep ``IN (…)`` lists of a query within the databases' limits."""
    for i in range(0, len(values), size):
        yield values[i : i + size]


def bulk_insert(
    session: Session, model: type[SQLModel], rows: list[dict[str, Any]], returning: str | None = None
) -> list[Any]:
    """Insert many rows with Core (batched multi-row INSERTs, no ORM bookkeeping); with `returning`, that
    column of each new row in the order of `rows`."""
    if not rows:
        return []
    table = model.__table__  # type: ignore[attr-defined]
    stmt = insert(table)
    if returning is None:
        session.connection().execute(stmt, rows)
        return []
    result = session.connection().execute(
        stmt.returning(table.c[returning], sort_by_parameter_order=True), rows
    )
    return list(result.scalars().all())


# ---------------------------------------------------------------- the run


def _noop(_fraction: float, _message: str) -> None:
    return None


class ImportRun:
    """One import in progress: collects problems, knows whether rows may still be written, and wraps the
    writes in a savepoint that is kept only when the import succeeds as a whole."""

    def __init__(
        self,
        session: Session,
        actor: Actor,
        kind: str,
        source: Source,
        *,
        commit: bool,
        skip_bad_rows: bool,
        progress: Progress | None,
    ) -> None:
        if not may(actor, "data.import"):
            raise NotPermitted("io.forbidden")
        self.session = session
        self.actor = actor
        self.source = source
        self.commit = commit
        self.skip_bad_rows = skip_bad_rows
        self.progress = progress or _noop
        self.report = ImportReport(kind, source.name, commit=commit)
        self.now = clock.now()
        self.date_formats: dict[str, str] = {}
        """Field → format of its column (:mod:`dashboard.io.dates`), set before the rows are read."""
        self._bad_rows: set[int] = set()

    def error(self, row: int | None, column: str, value: object, key: str, **values: Any) -> None:
        """Record a row error (the row will not be written)."""
        if row is not None and row not in self._bad_rows:
            self._bad_rows.add(row)
            self.report.error_rows += 1
        self.report.add("error", RowError(row, column, text(value)[:200], key, values))

    def warn(self, row: int | None, column: str, value: object, key: str, **values: Any) -> None:
        self.report.add("warning", RowError(row, column, text(value)[:200], key, values))

    def use_date_formats(self, formats: dict[str, str], names: Mapping[str, str]) -> None:
        """Read the date fields in these formats (by field); the report shows them by column."""
        self.date_formats = formats
        self.report.date_formats = {names.get(f, f): fmt for f, fmt in formats.items()}

    def is_bad(self, row: int) -> bool:
        return row in self._bad_rows

    @property
    def writing(self) -> bool:
        """Whether rows are written now: committing, and no error yet unless bad rows are skipped."""
        return self.commit and (self.skip_bad_rows or self.report.error_rows == 0)

    def execute(self, body: Callable[[ImportRun], None]) -> ImportReport:
        """Run `body` (which validates, counts and, while :attr:`writing`, writes), then keep or undo."""
        savepoint = self.session.begin_nested() if self.commit else None
        try:
            body(self)
        except FileProblem as exc:
            self.report.file_error = RowError(exc.row, "", "", exc.key, dict(exc.values))
        except BaseException:
            if savepoint is not None and savepoint.is_active:
                savepoint.rollback()
            raise
        report = self.report
        for bucket in (report.errors, report.warnings):
            bucket.sort(key=lambda p: p.row or 0)
        if savepoint is None:
            return report
        if report.can_commit(self.skip_bad_rows) and report.good > 0:  # not a single good row: no audit row
            savepoint.commit()
            report.committed = True
            report.skipped = report.error_rows
            detail = {
                "rows": report.rows,
                "new": report.new,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "skipped": report.skipped,
                "relocated": report.relocated,
            }
            audit.record(
                self.session,
                self.actor,
                "import",
                f"{report.kind}:{report.file_name}",
                detail=json.dumps(detail, ensure_ascii=False),
            )
        else:
            savepoint.rollback()
        return report


def table_rows(
    run: ImportRun, reader: TableReader, mapping: ImportMapping, kind: str
) -> Iterator[list[Cells]]:
    """The rows of a spreadsheet as :class:`Cells` in chunks, through the user's column mapping (default:
    the suggested one); a mapping that lacks a required field fails the whole file. The date columns'
    formats are decided first, from a pass over the whole file (:mod:`dashboard.io.dates`)."""
    by_field = mapping.by_field(kind, reader.headers)
    names = {f: "+".join(headers) for f, headers in by_field.items()}
    fed: dict[str, list[str]] = {}
    for f, headers in by_field.items():
        for h in headers:
            fed.setdefault(h, []).append(f)
    run.report.mapping = {h: "+".join(fields) for h, fields in fed.items()}
    missing = missing_fields(kind, {f: f for f in by_field})
    if missing:
        raise FileProblem("io.err.missing_columns", columns=", ".join(missing))
    dated = [f for f in DATE_FIELDS.get(kind, ()) if f in by_field]
    if dated:
        with TableReader(run.source, kind) as again:
            rows = (mapped_values(raw.values, by_field, dated) for raw in again.rows() if not raw.problem)
            run.use_date_formats(resolve(scan(rows, dated), names, mapping.dates), names)
    for chunk in reader.chunks(CHUNK_ROWS):
        yield [Cells(run, raw, mapped_values(raw.values, by_field), names) for raw in chunk]
        fraction = reader.fraction()
        run.progress(fraction if fraction is not None else 0.5, f"{run.report.rows:,}")
