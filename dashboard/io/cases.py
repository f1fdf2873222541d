"""Imports of cases from spreadsheets (CSV, Excel) and Open311 GeoReport v2 files (JSON, XML): rows are
checked and placed in their grids by :mod:`dashboard.io.case_rows`, then written here.

Imported cases get ``source='imported'`` and ``external_id`` = the file's case number (or Open311
``service_request_id``); a later import of the same external id updates that case (or reports it
unchanged). The case keeps the file's number when it has our format (``XL20261123-0042``) and is free,
else it gets a new number of its reporting day. Each point is placed in its grid by point-in-polygon
(after a GCJ-02/BD-09 conversion on request); a point outside every grid is an error, unless the row
also names a grid, which is then used (with a warning). Due times come from the category's time limit on
its calendar (``sla.sla_times``) unless the file gives one (``expected_datetime``). A new case gets a
``report`` event and, when the file says it is further along, one event into that status (``close`` for
a closed case, at its closing time), both by the importing user with ``{"import": file name}``, so that
every case's events lead to its status (from → to chain; the move itself need not be one the workflow
allows a user, e.g. reported → closed). On re-import the file's status is applied only when it crosses
between open and closed (the dashboard owns the workflow of open cases): a ``close`` or ``reopen`` event.
Personal data that arrives masked (``138****5678``, ``幸福路3号楼***``: a masked export) is not imported:
a new case leaves it empty, an existing one keeps its own. A file exported from here and imported again
matches its cases by number; a row naming a case that was recorded in the dashboard (not imported) is
refused, since such cases are changed through their workflow, not by files.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlmodel import Session

from dashboard.io.case_rows import CaseRows
from dashboard.io.case_writer import CaseWriter
from dashboard.io.dates import DATE_FIELDS, DateColumn, resolve, scan
from dashboard.io.open311_reader import iter_open311
from dashboard.io.runs import (
    CHUNK_ROWS,
    Cells,
    ImportMapping,
    ImportReport,
    ImportRun,
    Territory,
    table_rows,
)
from dashboard.io.sources import Progress, Source, as_source
from dashboard.io.tables import TableReader
from dashboard.kernel.scope import Actor

_OPEN311_FIELDS = {
    "number": "number",
    "status": "status",
    "status_notes": "status_notes",
    "service_code": "category",
    "service_name": "category_alt",
    "description": "description",
    "agency": "department",
    "reported_at": "reported_at",
    "updated_at": "updated_at",
    "due_at": "due_at",
    "address": "address",
    "lat": "lat",
    "lon": "lon",
}
_OPEN311_COLUMNS = {
    "number": "service_request_id",
    "status": "status",
    "status_notes": "status_notes",
    "category": "service_code",
    "category_alt": "service_name",
    "description": "description",
    "department": "agency_responsible",
    "reported_at": "requested_datetime",
    "updated_at": "updated_datetime",
    "due_at": "expected_datetime",
    "address": "address",
    "lat": "lat",
    "lon": "long",
    "title": "description",
}


_OPEN311_DATES = [f for f in DATE_FIELDS["cases"] if f in _OPEN311_FIELDS.values()]


def _open311_values(values: Mapping[str, Any]) -> dict[str, Any]:
    return {_OPEN311_FIELDS[k]: v for k, v in values.items() if k in _OPEN311_FIELDS}


def open311_date_columns(source: Source) -> dict[str, DateColumn]:
    """What an Open311 file's time columns (``requested_datetime`` …) say about their format, by column."""
    found = scan((_open311_values(raw.values) for raw in iter_open311(source)), _OPEN311_DATES)
    return {_OPEN311_COLUMNS[f]: column for f, column in found.items() if column.dated}


def _open311_rows(run: ImportRun, source: Source, dates: Mapping[str, str]) -> Iterator[list[Cells]]:
    found = scan((_open311_values(raw.values) for raw in iter_open311(source)), _OPEN311_DATES)
    run.use_date_formats(resolve(found, _OPEN311_COLUMNS, dates), _OPEN311_COLUMNS)
    chunk: list[Cells] = []
    size = max(source.size, 1)
    for raw in iter_open311(source):
        values = _open311_values(raw.values)
        if "category" not in values and "category_alt" in values:
            values["category"] = values["category_alt"]
        chunk.append(Cells(run, raw, values, _OPEN311_COLUMNS))
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
            run.progress(min(0.95, run.report.rows * 400 / size), f"{run.report.rows:,}")
    if chunk:
        yield chunk


def _run_cases(
    run: ImportRun, rows: Iterator[list[Cells]], mapping: ImportMapping, convert: str | None, open311: bool
) -> None:
    terr = Territory(run.session)
    validator = CaseRows(run, terr, mapping, convert)
    writer = CaseWriter(run, terr)
    for chunk in rows:
        run.report.rows += len(chunk)
        records = [r for c in chunk if (r := validator.record(c, open311=open311)) is not None]
        writer.chunk(validator.place(records))
    if run.writing:
        writer.link_duplicates()
    else:
        known = writer.file_numbers
        for ext, target in ((r, t) for r, t in writer.duplicates.items() if t not in known):
            run.warn(writer.seen.get(ext), "duplicate_of", target, "io.warn.duplicate_target")
    run.progress(1.0, f"{run.report.rows:,}")


def import_cases(
    session: Session,
    actor: Actor,
    file: Any,
    mapping: ImportMapping | Mapping[str, Any] | None = None,
    commit: bool = False,
    *,
    skip_bad_rows: bool = False,
    convert: str | None = None,
    progress: Progress | None = None,
    name: str | None = None,
) -> ImportReport:
    """Cases from a CSV or xlsx file (see the module docstring). `mapping` maps file headers to fields
    (default: suggested from the synonym table) and file category values to category codes."""
    source = as_source(file, name)
    run = ImportRun(
        session, actor, "cases", source, commit=commit, skip_bad_rows=skip_bad_rows, progress=progress
    )
    chosen = ImportMapping.of(mapping)

    def body(run: ImportRun) -> None:
        with TableReader(source, "cases") as reader:
            _run_cases(run, table_rows(run, reader, chosen, "cases"), chosen, convert, open311=False)

    return run.execute(body)


def import_open311(
    session: Session,
    actor: Actor,
    file: Any,
    mapping: ImportMapping | Mapping[str, Any] | None = None,
    commit: bool = False,
    *,
    skip_bad_rows: bool = False,
    convert: str | None = None,
    progress: Progress | None = None,
    name: str | None = None,
) -> ImportReport:
    """Cases from an Open311 GeoReport v2 ``requests.json`` (or XML) file. Key spellings are normalised
    (``service_request_id``/``id``, ``long``/``lon``/``lng`` …); `mapping` may map service codes or names
    the categories do not know to category codes (``{"categories": {"Pothole": "INF"}}``), status values
    to statuses, time columns to their format, and name a catch-all category (see :class:`ImportMapping`)."""
    source = as_source(file, name)
    run = ImportRun(
        session, actor, "open311", source, commit=commit, skip_bad_rows=skip_bad_rows, progress=progress
    )
    chosen = ImportMapping.of(mapping)
    return run.execute(
        lambda r: _run_cases(r, _open311_rows(r, source, chosen.dates), chosen, convert, open311=True)
    )
