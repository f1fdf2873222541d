"""The meeting report's tables as an Excel workbook (openpyxl): a summary sheet, then one sheet per table.

Numbers stay numbers, formatted by the cell. Every text cell is neutralised against formula injection
(:func:`privacy.neutralise_formula`) and stored as a string: case titles are user text.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from dashboard.i18n import t, t_plain
from dashboard.kernel.privacy import neutralise_formula
from dashboard.reporting import ranking
from dashboard.reporting.periods import period_label
from dashboard.reporting.reports import Report
from dashboard.reporting.tables import (
    CATEGORIES,
    GAPS,
    HOURS,
    OVERDUE,
    RANKING,
    TREND,
    Column,
    column_header,
    points_format,
    resident_rows,
    section_title,
)

HEADLINE_SHEET = [
    Column("metric_name", "metric"),
    Column("current", "current", "float1"),
    Column("previous", "previous", "float1"),
    Column("last_year", "last_year", "float1"),
    Column("mom", "mom", "float1"),
    Column("yoy", "yoy", "float1"),
]
"""The headline sheet holds the raw values; its number formats are set per row (rate or count)."""
RESIDENT_SHEET = [
    Column("name", "item"),
    Column("current", "current", "float1"),
    Column("previous", "previous", "float1"),
    Column("change", "change", "float1"),
]
"""The 居民随手拍 sheet holds the raw values; its number formats are set per row (rate or count)."""
RANKING_SHEET = [
    *RANKING[:-1],
    Column("due", "due", "int"),
    Column("overdue_now", "overdue_now", "int"),
    RANKING[-1],
]


def _sheet(wb: Workbook, title: str, df: pd.DataFrame, columns: Sequence[Column], lang: str) -> Worksheet:
    ws = wb.create_sheet(title=str(neutralise_formula(title))[:31])
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="F4E4E1")
    for j, col in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=j, value=neutralise_formula(column_header(col, lang)))
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for i, record in enumerate(df.to_dict("records"), start=2):
        for j, col in enumerate(columns, start=1):
            cell = ws.cell(row=i, column=j, value=col.excel(record.get(col.field), lang))
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
            if col.number_format(lang):
                cell.number_format = col.number_format(lang)
    for j, col in enumerate(columns, start=1):
        longest = max(
            [len(column_header(col, lang))] + [len(col.text(v, lang)) for v in df.get(col.field, [])][:200]
        )
        ws.column_dimensions[get_column_letter(j)].width = min(60, max(8, longest * 1.6 + 2))
    ws.freeze_panes = "A2"
    return ws


def _summary_sheet(ws: Worksheet, report: Report) -> None:
    """Title, periods, scope, generation time, every finding and the score formula, one row each."""
    lang, comp = report.lang, report.comparison
    ws.title = t("report.title", lang)[:31]
    lines: list[tuple[str, str]] = [
        (t("report.title", lang), report.title),
        (t("report.period_kind", lang), report.period_label),
        (t("report.col.previous", lang), period_label(comp.previous, lang)),
        (t("report.col.last_year", lang), period_label(comp.last_year, lang)),
        (t("report.scope", lang), report.scope_name),
        (t("report.col.generated", lang), f"{report.generated_at:%Y-%m-%d %H:%M}"),
        *((section_title(k, lang), v) for k, v in report.findings.items()),
        (t("report.method", lang), t_plain("report.score_formula", lang, min=ranking.MIN_CASES)),
    ]
    for i, (key, value) in enumerate(lines, start=1):
        ws.cell(row=i, column=1, value=neutralise_formula(key)).font = Font(bold=True)
        cell = ws.cell(row=i, column=2, value=neutralise_formula(value))
        cell.data_type = "s"
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 110


def _format_rows(
    ws: Worksheet, kinds: pd.Series, values: Sequence[int], changes: Sequence[int], lang: str
) -> None:
    """Number formats row by row (`kinds`: rate or count): values in % or as integers, changes in
    percentage points (the cell then holds points, like the page's +2.1个百分点) or relative %."""
    for row, kind in enumerate(kinds, start=2):
        rate = kind == "rate"
        for col in values:
            ws.cell(row=row, column=col).number_format = "0.0%" if rate else "#,##0"
        for col in changes:
            cell = ws.cell(row=row, column=col)
            if rate and isinstance(cell.value, float):
                cell.value *= 100
            cell.number_format = points_format(lang) if rate else "+0%;-0%;0%"


def _headline_sheet(wb: Workbook, report: Report) -> None:
    """The headline values; rates in %, counts as integers, changes in percentage points / relative %."""
    lang = report.lang
    headline = report.headline.assign(
        metric_name=[t(f"report.metric.{m}", lang) for m in report.headline["metric"]]
    )
    ws = _sheet(wb, section_title("headline", lang), headline, HEADLINE_SHEET, lang)
    _format_rows(ws, headline["kind"], (2, 3, 4), (5, 6), lang)
    if report.has_last_year:
        return
    for row in range(2, len(headline) + 2):  # 去年同期 and 同比: no case then, not zero
        for col in (4, 6):
            cell = ws.cell(row=row, column=col, value=t("report.no_data_short", lang))
            cell.data_type = "s"


def _resident_sheet(wb: Workbook, report: Report) -> None:
    """居民随手拍: the values of the page's tiles and the deck's table (:func:`resident_rows`)."""
    lang = report.lang
    rows = resident_rows(report)
    ws = _sheet(wb, section_title("residents", lang), rows, RESIDENT_SHEET, lang)
    _format_rows(ws, rows["kind"], (2, 3), (4,), lang)


def build_workbook(report: Report) -> bytes:
    """The report's tables as an Excel workbook: a summary sheet, then one sheet per table."""
    lang = report.lang
    wb = Workbook()
    _summary_sheet(wb.active, report)
    _headline_sheet(wb, report)
    trend_cols = [Column("day", "week" if report.trend_unit == "week" else "day", "date"), *TREND[1:]]
    _sheet(wb, section_title("trend", lang), report.trend, trend_cols, lang)
    _sheet(wb, section_title("categories", lang), report.categories, CATEGORIES, lang)
    for by, ranked in report.rankings.items():
        _sheet(wb, section_title(f"ranking_{by}", lang), ranked, RANKING_SHEET, lang)
    _sheet(wb, section_title("overdue", lang), report.overdue, OVERDUE, lang)
    _sheet(wb, section_title("volunteers", lang), report.volunteer_hours, HOURS, lang)
    _sheet(wb, section_title("gaps", lang), report.gaps, GAPS, lang)
    _resident_sheet(wb, report)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
