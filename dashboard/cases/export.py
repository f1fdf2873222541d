"""Case lists of any size to CSV and Excel, streamed in SQL pages (the ``export`` command; pages with a
bounded list use :mod:`dashboard.io.exports` directly).

Rows are read by keyset pagination on ``cases.id`` (``WHERE id > :last ORDER BY id LIMIT :n``), so an
export of a million cases holds one page in memory. Each page goes through ``exports.export_frame``
(personal data masked unless the role may export it unmasked, formula injection neutralised); the
export is written to the audit log once, at the end, with its row count. The columns use the headers
the case import recognises, so an exported file imports back as it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import IO, Any

import pandas as pd
from sqlalchemy import ColumnElement, Select
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from dashboard.i18n import current_lang, label
from dashboard.io import exports
from dashboard.kernel.errors import NotPermitted
from dashboard.kernel.scope import Actor, case_filter
from models import Case, Category, Community, Department, Grid

PAGE_SIZE = 2000
XLSX_MAX_ROWS = 1_048_575
"""Rows an Excel sheet holds below its header."""

COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("number", "事件编号", "number"),
    ("status", "状态", "status"),
    ("category", "类别", "category"),
    ("category_name", "类别名称", "category_name"),
    ("title", "标题", "title"),
    ("description", "描述", "description"),
    ("community", "社区", "community"),
    ("grid", "网格", "grid"),
    ("lon", "经度", "lon"),
    ("lat", "纬度", "lat"),
    ("address", "地址", "address"),
    ("source", "来源", "source"),
    ("reporter_name", "报告人", "reporter_name"),
    ("reporter_phone", "电话", "reporter_phone"),
    ("priority", "紧急程度", "priority"),
    ("reported_at", "上报时间", "reported_at"),
    ("accepted_at", "受理时间", "accepted_at"),
    ("resolved_at", "处置时间", "resolved_at"),
    ("closed_at", "结案时间", "closed_at"),
    ("due_at", "办理期限", "due_at"),
    ("department", "责任部门", "department"),
    ("satisfaction", "满意度", "satisfaction"),
    ("duplicate_of", "重复案件", "duplicate_of"),
)
"""(field, Chinese header, English header) of a case export, in column order."""

PII_COLUMNS = {"reporter_name": "name", "reporter_phone": "phone", "address": "address"}
"""Personal data in the export, by field, with its masking kind."""


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
) -> Iterator[list[Any]]:
    """Pages of `stmt` limited to the actor's scope, `conditions` (e.g. ``queue.conditions``) and, when
    given, the case `numbers` (looked up a thousand at a time)."""
    base = stmt.where(case_filter(actor), *conditions)
    if numbers is None:
        yield from paged(session, base, page_size)
        return
    wanted = sorted({n.strip() for n in numbers if n and n.strip()})
    for i in range(0, len(wanted), 1000):
        yield from paged(session, base.where(Case.number.in_(wanted[i : i + 1000])), page_size)


def _select() -> Select:
    """One row per case with the fields of :data:`COLUMNS` (by name) and ``Case.id`` first (for paging)."""
    dup = aliased(Case)
    return (
        select(
            Case.id,
            Case.number,
            Case.status,
            Category.code.label("category"),
            Category.name_zh,
            Category.name_en,
            Case.title,
            Case.description,
            Community.name.label("community"),
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
            Case.satisfaction,
            dup.number.label("duplicate_of"),
        )
        .select_from(Case)
        .join(Category, Category.id == Case.category_id)
        .join(Grid, Grid.id == Case.grid_id)
        .join(Community, Community.id == Case.community_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .outerjoin(dup, dup.id == Case.duplicate_of_id)
    )


def _frame(rows: list[Any], lang: str) -> pd.DataFrame:
    records = [
        {
            "number": r.number,
            "status": label("status", r.status, lang),
            "category": r.category,
            "category_name": r.name_zh if lang == "zh" else r.name_en,
            "title": r.title,
            "description": r.description,
            "community": r.community,
            "grid": r.grid,
            "lon": r.lon,
            "lat": r.lat,
            "address": r.address,
            "source": label("source", r.source, lang),
            "reporter_name": r.reporter_name,
            "reporter_phone": r.reporter_phone,
            "priority": label("priority", r.priority, lang),
            "reported_at": r.reported_at,
            "accepted_at": r.accepted_at,
            "resolved_at": r.resolved_at,
            "closed_at": r.closed_at,
            "due_at": r.due_at,
            "department": r.department or "",
            "satisfaction": label("satisfaction", r.satisfaction, lang) if r.satisfaction else "",
            "duplicate_of": r.duplicate_of or "",
        }
        for r in rows
    ]
    return pd.DataFrame(records, columns=[c for c, _zh, _en in COLUMNS])


def case_frames(
    session: Session,
    actor: Actor,
    conditions: Sequence[ColumnElement[bool]] = (),
    numbers: Sequence[str] | None = None,
    *,
    unmasked: bool = False,
    lang: str | None = None,
    page_size: int = PAGE_SIZE,
) -> Iterator[pd.DataFrame]:
    """The export as DataFrames of one SQL page each, masked and neutralised, headers in `lang`."""
    check_unmasked(actor, unmasked)
    lang = lang or current_lang()
    headers = {c: (zh if lang == "zh" else en) for c, zh, en in COLUMNS}
    for rows in selected_pages(session, actor, _select(), conditions, numbers, page_size):
        frame = exports.export_frame(_frame(rows, lang), actor, PII_COLUMNS, unmasked)
        yield frame.rename(columns=headers)


def write_cases_csv(
    session: Session,
    actor: Actor,
    out: IO[bytes],
    conditions: Sequence[ColumnElement[bool]] = (),
    numbers: Sequence[str] | None = None,
    *,
    unmasked: bool = False,
    lang: str | None = None,
    filters: dict[str, object] | None = None,
) -> int:
    """Write the cases as CSV (UTF-8 with BOM, for Excel) to `out`, page by page; audited. Returns rows."""
    n = 0
    for frame in case_frames(session, actor, conditions, numbers, unmasked=unmasked, lang=lang):
        if n == 0:
            out.write(exports.to_csv_bytes(frame))
        else:
            out.write(frame.to_csv(index=False, header=False).encode("utf-8"))  # already neutralised
        n += len(frame)
    if n == 0:
        lang = lang or current_lang()
        empty = pd.DataFrame(columns=[zh if lang == "zh" else en for _c, zh, en in COLUMNS])
        out.write(exports.to_csv_bytes(empty))
    exports.record_export(session, actor, "cases", n, "csv", unmasked, filters)
    return n


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    return value


def write_cases_xlsx(
    session: Session,
    actor: Actor,
    out: IO[bytes],
    conditions: Sequence[ColumnElement[bool]] = (),
    numbers: Sequence[str] | None = None,
    *,
    unmasked: bool = False,
    lang: str | None = None,
    filters: dict[str, object] | None = None,
) -> int:
    """Write the cases as an Excel workbook to `out` (openpyxl write-only mode: rows stream to a temporary
    file, not memory); audited. Raises ValueError past Excel's row limit. Returns rows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    lang = lang or current_lang()
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("cases")
    ws.append([zh if lang == "zh" else en for _c, zh, en in COLUMNS])
    n = 0
    for frame in case_frames(session, actor, conditions, numbers, unmasked=unmasked, lang=lang):
        n += len(frame)
        if n > XLSX_MAX_ROWS:
            raise ValueError(f"more than {XLSX_MAX_ROWS} rows: narrow the filter or export CSV")
        for values in frame.itertuples(index=False, name=None):
            row = []
            for value in values:
                v = _cell(value)
                if isinstance(v, datetime):
                    cell = WriteOnlyCell(ws, value=v)
                    cell.number_format = "yyyy-mm-dd hh:mm:ss"
                    row.append(cell)
                elif isinstance(v, str):
                    cell = WriteOnlyCell(ws, value=v)
                    cell.data_type = "s"  # never a formula (text is neutralised as well)
                    row.append(cell)
                else:
                    row.append(v)
            ws.append(row)
    wb.save(out)
    exports.record_export(session, actor, "cases", n, "xlsx", unmasked, filters)
    return n
