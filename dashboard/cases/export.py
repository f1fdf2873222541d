"""Case lists to CSV and Excel: the one column definition of every case export (the ``export`` command,
the queue page's CSV and Excel buttons), streamed in SQL pages.

Rows are read by keyset pagination on ``cases.id`` (``WHERE id > :last ORDER BY id LIMIT :n``), so an
export of a million cases holds one page in memory. Each page goes through ``exports.export_frame``
(personal data masked unless the role may export it unmasked, formula injection neutralised); the
export is written to the audit log once, at the end, with its row count. Headers are the
``case_export.*`` texts, spellings the case import recognises, so an exported file imports back as it
is (the grid by its code; its name is a column of its own). Enum values are their labels; a missing
value is an empty cell, never ``nan`` or ``None``. A CSV file ends every line in CRLF.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import IO, Any

import pandas as pd
from sqlalchemy import ColumnElement, Select, func
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from dashboard import clock
from dashboard.cases import ageing
from dashboard.i18n import current_lang, t_plain
from dashboard.io import exports
from dashboard.io.xlsx import XlsxStream
from dashboard.kernel.errors import NotPermitted
from dashboard.kernel.scope import Actor, case_filter
from models import Case, Category, Community, Department, Grid, User

PAGE_SIZE = 2000
XLSX_MAX_ROWS = 1_048_575
"""Rows an Excel sheet holds below its header."""

EXPORT_COLUMNS: tuple[str, ...] = (
    "number",
    "status",
    "ageing",
    "category",
    "category_name",
    "title",
    "description",
    "community",
    "grid_name",
    "grid",
    "lon",
    "lat",
    "address",
    "source",
    "reporter_name",
    "reporter_phone",
    "priority",
    "reported_at",
    "accepted_at",
    "resolved_at",
    "closed_at",
    "due_at",
    "department",
    "assignee",
    "extension_count",
    "rework_count",
    "satisfaction",
    "duplicate_of",
)
"""The fields of a case export, in column order; the header of each is ``t_plain("case_export.<field>")``."""

PII_COLUMNS = {"reporter_name": "name", "reporter_phone": "phone", "address": "address"}
"""Personal data in the export, by field, with its masking kind."""

LABELLED = {
    "status": "status",
    "ageing": "ageing",
    "source": "source",
    "priority": "priority",
    "satisfaction": "satisfaction",
}
"""Fields written as the label of their enum value (``enum.<kind>.<value>``)."""

Progress = Callable[[float, str], None]
"""Called with the fraction done and a short text (rows written) after each page."""


def headers(lang: str) -> list[str]:
    """The column headers of a case export in `lang`."""
    return [t_plain(f"case_export.{c}", lang) for c in EXPORT_COLUMNS]


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def enum_label(kind: str, value: object, lang: str) -> str:
    """The label of an enum value for a file; ``""`` for a missing one (never ``enum.<kind>.nan``)."""
    return "" if _missing(value) or value == "" else t_plain(f"enum.{kind}.{value}", lang)


def check_unmasked(actor: Actor, unmasked: bool) -> None:
    """NotPermitted unless the actor's role may export personal data unmasked (when asked for)."""
    if unmasked and not exports.may_export_unmasked(actor):
        raise NotPermitted("privacy.unmasked_forbidden")


def paged(session: Session, stmt: Select, page_size: int = PAGE_SIZE) -> Iterator[list[Any]]:
    """The rows of `stmt` (whose first column must be ``Case.id``) in pages by ascending id."""
    last = 0
    while True:
        rows = session.exec(stmt.where(Case.id > last).order_by(Case.id).limit(page_size)).all()  # type: ignore[call-overload]
        if not rows:
            return
        yield list(rows)
        last = rows[-1][0]
        if len(rows) < page_size:
            return


def selected_pages(
    session: Session,
    actor: Actor,
    stmt: Select,
    conditions: Sequence[ColumnElement[bool]] = (),
    numbers: Sequence[str] | None = None,
    page_size: int = PAGE_SIZE,
    *,
    ids: Sequence[int] | None = None,
) -> Iterator[list[Any]]:
    """Pages of `stmt` limited to the actor's scope, `conditions` (e.g. ``queue.conditions``) and, when
    given, the case `numbers` or `ids` (looked up a thousand at a time)."""
    base = stmt.where(case_filter(actor), *conditions)
    if numbers is None and ids is None:
        yield from paged(session, base, page_size)
        return
    if ids is not None:
        wanted: list[Any] = sorted(set(ids))
        column: Any = Case.id
    else:
        wanted = sorted({n.strip() for n in numbers or () if n and n.strip()})
        column = Case.number
    for i in range(0, len(wanted), 1000):
        yield from paged(session, base.where(column.in_(wanted[i : i + 1000])), page_size)


_Assignee = aliased(User)


def _select(now: datetime) -> Select:
    """One row per case with the fields of :data:`EXPORT_COLUMNS` (by name) and ``Case.id`` first (for
    paging); `now` for the ageing colour."""
    dup = aliased(Case)
    return (
        select(
            Case.id,
            Case.number,
            Case.status,
            ageing.colour_expr(now).label("ageing"),
            Category.code.label("category"),
            Category.name_zh,
            Category.name_en,
            Case.title,
            Case.description,
            Community.name.label("community"),
            Grid.name.label("grid_name"),
            Grid.code.label("grid"),
            Case.lon,
            Case.lat,
            Case.address,
            Case.source,
            Case.reporter_name,
            Case.reporter_phone,
            Case.priority,
            Case.reported_at,
            Case.accepted_at,
            Case.resolved_at,
            Case.closed_at,
            Case.due_at,
            Department.name.label("department"),
            _Assignee.display_name.label("assignee"),
            Case.extension_count,
            Case.rework_count,
            Case.satisfaction,
            dup.number.label("duplicate_of"),
        )
        .select_from(Case)
        .join(Category, Category.id == Case.category_id)
        .join(Grid, Grid.id == Case.grid_id)
        .join(Community, Community.id == Case.community_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .outerjoin(_Assignee, _Assignee.id == Case.assignee_id)
        .outerjoin(dup, dup.id == Case.duplicate_of_id)
    )


_TEXTS = (
    "description",
    "address",
    "reporter_name",
    "reporter_phone",
    "department",
    "assignee",
    "duplicate_of",
)
"""Optional text fields: ``""`` when the case has none."""


def _frame(rows: list[Any], lang: str) -> pd.DataFrame:
    """The rows as the export's fields: enum values as labels, missing text as ``""``."""
    records = []
    for r in rows:
        record = {c: getattr(r, c, None) for c in EXPORT_COLUMNS}
        record["category_name"] = r.name_zh if lang == "zh" else r.name_en
        for fld, kind in LABELLED.items():
            record[fld] = enum_label(kind, record[fld], lang)
        for fld in _TEXTS:
            record[fld] = record[fld] or ""
        records.append(record)
    return pd.DataFrame(records, columns=list(EXPORT_COLUMNS))


def case_frames(
    session: Session,
    actor: Actor,
    conditions: Sequence[ColumnElement[bool]] = (),
    numbers: Sequence[str] | None = None,
    *,
    ids: Sequence[int] | None = None,
    unmasked: bool = False,
    lang: str | None = None,
    now: datetime | None = None,
    page_size: int = PAGE_SIZE,
) -> Iterator[pd.DataFrame]:
    """The export as DataFrames of one SQL page each, masked and neutralised, headers in `lang`."""
    check_unmasked(actor, unmasked)
    lang = lang or current_lang()
    names = dict(zip(EXPORT_COLUMNS, headers(lang), strict=True))
    stmt = _select(now or clock.now())
    for rows in selected_pages(session, actor, stmt, conditions, numbers, page_size, ids=ids):
        frame = exports.export_frame(_frame(rows, lang), actor, PII_COLUMNS, unmasked)
        yield frame.rename(columns=names)


def _total(
    session: Session,
    actor: Actor,
    conditions: Sequence[ColumnElement[bool]],
    numbers: Sequence[str] | None,
    ids: Sequence[int] | None,
) -> int:
    """How many cases the export holds (at most), for its progress."""
    if ids is not None:
        return len(set(ids))
    if numbers is not None:
        return len({n.strip() for n in numbers if n and n.strip()})
    chosen = _select(clock.now()).where(case_filter(actor), *conditions).subquery()  # the export's joins
    return int(session.exec(select(func.count()).select_from(chosen)).one())


def write_cases_csv(
    session: Session,
    actor: Actor,
    out: IO[bytes],
    conditions: Sequence[ColumnElement[bool]] = (),
    numbers: Sequence[str] | None = None,
    *,
    ids: Sequence[int] | None = None,
    unmasked: bool = False,
    lang: str | None = None,
    filters: dict[str, object] | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> int:
    """Write the cases as CSV (UTF-8 with BOM, for Excel; CRLF line ends) to `out`, page by page;
    audited. Returns rows."""
    lang = lang or current_lang()
    total = _total(session, actor, conditions, numbers, ids) if progress else 0
    out.write(exports.to_csv_bytes(pd.DataFrame(columns=headers(lang))))
    n = 0
    frames = case_frames(session, actor, conditions, numbers, ids=ids, unmasked=unmasked, lang=lang, now=now)
    for frame in frames:
        out.write(exports.csv_rows(frame))  # already masked and neutralised
        n += len(frame)
        if progress:
            progress(min(1.0, n / max(total, 1)), f"{n:,}")
    exports.record_export(session, actor, "cases", n, "csv", unmasked, filters)
    return n


def _cell(value: Any) -> Any:
    if _missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def write_cases_xlsx(
    session: Session,
    actor: Actor,
    out: IO[bytes],
    conditions: Sequence[ColumnElement[bool]] = (),
    numbers: Sequence[str] | None = None,
    *,
    ids: Sequence[int] | None = None,
    unmasked: bool = False,
    lang: str | None = None,
    filters: dict[str, object] | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> int:
    """Write the cases as an Excel workbook to `out`, streamed a page at a time
    (:class:`dashboard.io.xlsx.XlsxStream`: text cells are text, never formulas), reporting progress after
    each page; audited. Raises ValueError past Excel's row limit. Returns rows."""
    lang = lang or current_lang()
    total = _total(session, actor, conditions, numbers, ids) if progress else 0
    n = 0
    with XlsxStream(out, "cases") as sheet:
        sheet.append_rows([headers(lang)])
        frames = case_frames(
            session, actor, conditions, numbers, ids=ids, unmasked=unmasked, lang=lang, now=now
        )
        for frame in frames:
            n += len(frame)
            if n > XLSX_MAX_ROWS:
                raise ValueError(f"more than {XLSX_MAX_ROWS} rows: narrow the filter or export CSV")
            sheet.append_rows(
                [_cell(v) for v in values] for values in frame.itertuples(index=False, name=None)
            )
            if progress:
                progress(min(1.0, n / max(total, 1)), f"{n:,}")
    exports.record_export(session, actor, "cases", n, "xlsx", unmasked, filters)
    return n


WRITERS: dict[str, Callable[..., int]] = {"csv": write_cases_csv, "xlsx": write_cases_xlsx}
"""The case export writers by format."""
