"""Case exports to CSV and Excel: the queue page's and the command's share one column definition (headers
the import recognises, grid names beside their codes, labels, empty cells for missing values), one line
end per CSV file, and the Excel file streams with progress."""

from __future__ import annotations

import csv
import io
import re
import tomllib
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from dashboard.cases import export as case_export
from dashboard.cases import queue
from dashboard.cases.queue import QueueFilters
from dashboard.db import get_engine
from dashboard.i18n import t_plain
from dashboard.io.headers import SYNONYMS, suggest_mapping
from dashboard.io.xlsx import XlsxStream
from models import Case, Grid
from models.enums import Ageing
from tests.unit.io.test_import_roundtrip import _admin

I18N = Path(__file__).parents[3] / "dashboard" / "i18n"
KEYS = {
    f"{section}.{key}"
    for path in I18N.glob("*/*.toml")
    for section, table in tomllib.loads(path.read_text()).items()
    for key in table
}
"""Every i18n key of the first two levels (``queue.export_selected``, ``enum.status`` …)."""
LEAKS = re.compile(r"\b(nan|NaN|None|NaT|null)\b|enum\.|case_export\.")


def _csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _xlsx_rows(data: bytes) -> list[list[str]]:
    """The sheet's rows as text, padded to the header's width (a row ends at its last value)."""
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    return [row + [""] * (len(rows[0]) - len(row)) for row in rows]


def _leaks(rows: list[list[str]]) -> list[str]:
    """Cells that show a missing value as text, an enum or i18n key instead of its label."""
    return [cell for row in rows for cell in row if LEAKS.search(cell) or cell in KEYS][:10]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_queue_export_has_the_shared_columns_and_no_placeholder_text(
    seeded_ro_url: str, fmt: str
) -> None:
    with Session(get_engine(seeded_ro_url)) as s:
        admin = _admin(s)
        data = queue.export_file(s, admin, fmt, filters=QueueFilters(view="all"), lang="zh")
        names = set(s.exec(select(Grid.name)).all())
        codes = set(s.exec(select(Grid.code)).all())
        with_satisfaction = len(s.exec(select(Case.id).where(Case.satisfaction.is_not(None))).all())
        s.rollback()  # the seed is shared and read-only: leave out the audit row
    rows = _csv_rows(data) if fmt == "csv" else _xlsx_rows(data)
    header, body = rows[0], rows[1:]
    assert header == case_export.headers("zh")
    assert header[:4] == ["事件编号", "状态", "预警", "类别"] and "报告人" in header
    assert len(body) == min(3000, queue.EXPORT_MAX) > 1000
    col = {c: header.index(case_export.headers("zh")[i]) for i, c in enumerate(case_export.EXPORT_COLUMNS)}
    assert {r[col["grid_name"]] for r in body} <= names and {r[col["grid"]] for r in body} <= codes
    satisfaction = [r[col["satisfaction"]] for r in body]
    ageing = [r[col["ageing"]] for r in body]
    # the seed has cases without a follow-up and closed cases without a running clock: empty cells
    assert 0 < sum(1 for v in satisfaction if v) == with_satisfaction < len(body)
    assert (
        "" in ageing
        and set(ageing) - {""}
        and set(ageing) - {""} <= {t_plain(f"enum.ageing.{a.value}") for a in Ageing}
    )
    assert _leaks(rows) == []


def test_queue_and_command_exports_are_the_same_file(seeded_ro_url: str) -> None:
    with Session(get_engine(seeded_ro_url)) as s:
        admin = _admin(s)
        numbers = s.exec(select(Case.number).order_by(Case.id).limit(40)).all()
        ids = s.exec(select(Case.id).order_by(Case.id).limit(40)).all()
        from_queue = queue.export_file(s, admin, "csv", case_ids=ids, lang="en")
        out = io.BytesIO()
        case_export.write_cases_csv(s, admin, out, numbers=numbers, lang="en")
        s.rollback()
    assert from_queue == out.getvalue()


def test_every_header_imports_back_as_its_field() -> None:
    importable = set(SYNONYMS["cases"])
    for lang in ("zh", "en"):
        mapping = suggest_mapping("cases", case_export.headers(lang))
        fields = dict(zip(case_export.headers(lang), case_export.EXPORT_COLUMNS, strict=True))
        expected = {h: f for h, f in fields.items() if f in importable and f != "category_name"}
        assert mapping == expected, lang


def test_a_csv_of_many_pages_has_one_line_end(seeded_ro_url: str) -> None:
    with Session(get_engine(seeded_ro_url)) as s:
        out = io.BytesIO()
        n = case_export.write_cases_csv(s, _admin(s), out, lang="zh")
        s.rollback()
    data = out.getvalue()
    assert n > case_export.PAGE_SIZE  # more than one page
    rows = _csv_rows(data)
    in_cells = sum(cell.count("\n") for row in rows for cell in row)
    assert b"\r" not in data.replace(b"\r\n", b"")
    assert data.count(b"\n") - in_cells == data.count(b"\r\n") == len(rows)


def test_the_excel_export_streams_with_progress(seeded_ro_url: str) -> None:
    ticks: list[tuple[float, str]] = []
    with Session(get_engine(seeded_ro_url)) as s:
        out = io.BytesIO()
        n = case_export.write_cases_xlsx(
            s, _admin(s), out, lang="zh", progress=lambda f, m: ticks.append((f, m))
        )
        s.rollback()
    pages = -(-n // case_export.PAGE_SIZE)
    assert len(ticks) == pages > 1 and ticks[-1] == (1.0, f"{n:,}")
    assert [f for f, _ in ticks] == sorted(f for f, _ in ticks)
    rows = _xlsx_rows(out.getvalue())
    assert len(rows) == n + 1 and _leaks(rows) == []


def test_the_streaming_workbook_keeps_every_kind_of_value() -> None:
    moment = datetime(2026, 11, 23, 8, 30, 15)
    rows = [
        ["文本", "=1+1", "<a href='x'>&</a>", "bell\x07gone", "", None],
        [1, 2.5, np.int64(7), np.float64(0.1), float("nan"), True],
        [moment, pd.Timestamp(moment), date(2026, 1, 2), 118.123456789, -33, "\u3000缩进"],
    ]
    out = io.BytesIO()
    with XlsxStream(out, "测试") as sheet:
        sheet.append_rows(rows[:1])
        sheet.append_rows(rows[1:])
    book = load_workbook(io.BytesIO(out.getvalue()))
    ws = book["测试"]
    got = [list(r) for r in ws.iter_rows(values_only=True)]
    assert got[0] == ["文本", "=1+1", "<a href='x'>&</a>", "bellgone", None, None]
    assert ws["B1"].data_type == "s"  # text, not a formula
    assert got[1] == [1, 2.5, 7, 0.1, None, True]
    assert got[2] == [moment, moment, datetime(2026, 1, 2), 118.123456789, -33, "\u3000缩进"]
    assert ws["A3"].number_format == "yyyy-mm-dd hh:mm:ss"


def test_the_streaming_workbook_writes_to_an_unseekable_stream() -> None:
    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: bytes) -> int:  # type: ignore[override]
            self.data += b
            return len(b)

    pipe = Pipe()
    with XlsxStream(pipe) as sheet:  # type: ignore[arg-type]
        sheet.append_rows([[i, f"行{i}"] for i in range(1000)])
    rows = list(
        load_workbook(io.BytesIO(bytes(pipe.data)), read_only=True).active.iter_rows(values_only=True)
    )
    assert rows[999] == (999, "行999") and len(rows) == 1000
