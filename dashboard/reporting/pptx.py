"""The meeting report as a PowerPoint deck (python-pptx) and as an Excel workbook of its tables (openpyxl).

Both render a :class:`dashboard.reporting.reports.Report`; neither touches the database or Streamlit.

- Charts are native PowerPoint charts (``CategoryChartData`` + ``add_chart``), editable in PowerPoint and
  WPS, never pictures; tables are native tables.
- Every run of text carries an East Asian font (``a:ea`` = Microsoft YaHei, present on Windows and with
  WPS; LibreOffice falls back to a CJK font such as Noto Sans CJK) and a Latin font (Arial), so Chinese
  never renders as boxes.
- The workbook neutralises formula injection in every text cell (:func:`privacy.neutralise_formula`):
  case titles are user text.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
from pptx.enum.text import PP_ALIGN
from pptx.oxml.ns import qn
from pptx.util import Emu, Inches, Pt
from sqlmodel import Session

from dashboard.i18n import label, t
from dashboard.io import exports
from dashboard.kernel.privacy import neutralise_formula
from dashboard.kernel.scope import Actor
from dashboard.reporting import reports
from dashboard.reporting.reports import Report

EA_FONT = "Microsoft YaHei"
"""East Asian typeface of every run (微软雅黑: Windows, PowerPoint and WPS have it)."""
LATIN_FONT = "Arial"
"""Latin typeface of every run (the fallback for digits and Latin text)."""

PPTX_MIME = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_RED = RGBColor(0xC0, 0x39, 0x2B)
_DARK = RGBColor(0x1F, 0x29, 0x33)
_GREY = RGBColor(0x5F, 0x6B, 0x7A)
_HEADER_FILL = RGBColor(0xF4, 0xE4, 0xE1)
_SERIES_COLOURS = (RGBColor(0xC0, 0x39, 0x2B), RGBColor(0x34, 0x6D, 0xA8), RGBColor(0x9A, 0xA5, 0xB1))

SLIDE_W = Inches(13.333)
SLIDE_H = Inches(7.5)
_MARGIN = Inches(0.5)
_BODY_TOP = Inches(1.85)
_BODY_H = Inches(5.3)

# ---------------------------------------------------------------- columns


@dataclass(frozen=True)
class Column:
    """One column of a report table: source field, header key (report.col.*) and value format."""

    field: str
    header: str
    fmt: str = "text"  # text | int | float1 | pct | points | change | datetime | date | status | flag

    def text(self, value: object, lang: str) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            return "—" if self.fmt not in ("text", "flag") else ""
        match self.fmt:
            case "int":
                return f"{int(value):,}"  # type: ignore[call-overload]
            case "float1":
                return f"{float(value):,.1f}"  # type: ignore[arg-type]
            case "pct":
                return reports.fmt_pct(float(value))  # type: ignore[arg-type]
            case "points":
                return reports.fmt_points(float(value))  # type: ignore[arg-type]
            case "change":
                return reports.fmt_change(float(value))  # type: ignore[arg-type]
            case "datetime":
                return f"{value:%Y-%m-%d %H:%M}"
            case "date":
                return f"{value:%Y-%m-%d}"
            case "status":
                return label("status", value, lang)
            case "flag":
                return "✓" if bool(value) else ""
        return str(value)

    def excel(self, value: object, lang: str) -> object:
        """The cell value for Excel: numbers stay numbers (formatted by the cell), text is neutralised."""
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return None
        if self.fmt in ("int",):
            return int(value)  # type: ignore[call-overload]
        if self.fmt in ("float1", "pct", "points", "change"):
            return float(value)  # type: ignore[arg-type]
        if self.fmt in ("datetime", "date"):
            return value
        return neutralise_formula(self.text(value, lang))

    @property
    def number_format(self) -> str | None:
        return {
            "int": "#,##0",
            "float1": "#,##0.0",
            "pct": "0.0%",
            "points": "+0.0%;-0.0%;0.0%",
            "change": "+0%;-0%;0%",
            "datetime": "yyyy-mm-dd hh:mm",
            "date": "yyyy-mm-dd",
        }.get(self.fmt)


HEADLINE = [
    Column("metric_name", "metric"),
    Column("current_text", "current"),
    Column("previous_text", "previous"),
    Column("last_year_text", "last_year"),
    Column("mom_text", "mom"),
    Column("yoy_text", "yoy"),
]
TREND = [
    Column("day", "day", "date"),
    Column("reported", "reported", "int"),
    Column("closed", "closed", "int"),
]
CATEGORIES = [
    Column("name", "category"),
    Column("reported", "current", "int"),
    Column("previous", "previous", "int"),
    Column("change", "change", "change"),
    Column("on_time_rate", "metric.on_time_rate", "pct"),
    Column("satisfaction_rate", "metric.satisfaction_rate", "pct"),
    Column("overdue_now", "overdue_now", "int"),
]
RANKING = [
    Column("rank", "rank", "int"),
    Column("name", "name"),
    Column("cases", "cases", "int"),
    Column("on_time_rate", "metric.on_time_rate", "pct"),
    Column("satisfaction_rate", "metric.satisfaction_rate", "pct"),
    Column("rework_rate", "metric.rework_rate", "pct"),
    Column("response_rate", "metric.response_rate", "pct"),
    Column("score", "score", "float1"),
    Column("few_cases", "few_cases", "flag"),
]
OVERDUE = [
    Column("number", "number"),
    Column("title", "case_title"),
    Column("category", "category"),
    Column("grid", "grid"),
    Column("department", "department"),
    Column("status", "status", "status"),
    Column("due_at", "due_at", "datetime"),
    Column("days_overdue", "days_overdue", "float1"),
    Column("reporter", "reporter"),
    Column("address", "address"),
]
OVERDUE_SLIDE = [c for c in OVERDUE if c.field not in ("status", "address")]
HOURS = [
    Column("name", "name"),
    Column("hours", "hours", "float1"),
    Column("volunteers", "volunteers", "int"),
    Column("records", "records", "int"),
]
GAPS = [
    Column("community", "community"),
    Column("name", "grid"),
    Column("skill", "skill"),
    Column("need", "need", "int"),
    Column("supply", "supply", "int"),
    Column("gap", "gap", "int"),
]


def column_header(col: Column, lang: str) -> str:
    key = col.header if col.header.startswith("metric.") else f"col.{col.header}"
    return t(f"report.{key}", lang)


def headline_table(report: Report) -> pd.DataFrame:
    """The headline figures as display text (rates in %, changes in points or %), plus overdue now."""
    lang = report.lang
    rows = []
    for r in report.headline.itertuples():
        value = reports.fmt_pct if r.kind == "rate" else (lambda v: "—" if v is None else f"{int(v):,}")
        change = reports.fmt_points if r.kind == "rate" else reports.fmt_change
        rows.append(
            {
                "metric": r.metric,
                "metric_name": t(f"report.metric.{r.metric}", lang),
                "current_text": value(reports.as_number(r.current)),
                "previous_text": value(reports.as_number(r.previous)),
                "last_year_text": value(reports.as_number(r.last_year)),
                "mom_text": change(reports.as_number(r.mom)),
                "yoy_text": change(reports.as_number(r.yoy)),
            }
        )
    rows.append(
        {
            "metric": "overdue_now",
            "metric_name": t("report.metric.overdue_now", lang),
            "current_text": f"{report.overdue_now:,}",
            "previous_text": "",
            "last_year_text": "",
            "mom_text": "",
            "yoy_text": "",
        }
    )
    return pd.DataFrame(rows)


def volunteer_totals_table(report: Report) -> pd.DataFrame:
    tot = report.volunteer_totals
    fmt: dict[str, Callable[[float | None], str]] = {
        "hours": lambda v: f"{v or 0:,.1f}",
        "previous_hours": lambda v: f"{v or 0:,.1f}",
        "change": reports.fmt_change,
        "volunteers": lambda v: f"{int(v or 0):,}",
        "records": lambda v: f"{int(v or 0):,}",
        "coverage": reports.fmt_pct,
        "gap": lambda v: f"{int(v or 0):,}",
    }
    return pd.DataFrame(
        [{"item": t(f"report.total.{k}", report.lang), "value": f(tot.get(k))} for k, f in fmt.items()]
    )


# ---------------------------------------------------------------- PowerPoint


def _set_fonts(rPr) -> None:  # type: ignore[no-untyped-def]
    """Give a run's (or a chart's default) properties the Latin and the East Asian typeface."""
    latin = rPr.find(qn("a:latin"))
    if latin is None:
        latin = rPr.makeelement(qn("a:latin"), {})
        # a:latin follows the line/fill/effect properties and precedes a:ea, a:cs, a:sym, hyperlinks
        successors = [
            qn(f"a:{n}") for n in ("ea", "cs", "sym", "hlinkClick", "hlinkMouseOver", "rtl", "extLst")
        ]
        following = next((child for child in rPr if child.tag in successors), None)
        if following is not None:
            following.addprevious(latin)
        else:
            rPr.append(latin)
    latin.set("typeface", LATIN_FONT)
    ea = rPr.find(qn("a:ea"))
    if ea is None:
        ea = rPr.makeelement(qn("a:ea"), {})
        latin.addnext(ea)
    ea.set("typeface", EA_FONT)


def _tag_language(prs, lang: str) -> None:  # type: ignore[no-untyped-def]
    """Mark every run and chart text with the report's language (zh-CN / en-US).

    Besides spell checking, the tag lets renderers without Microsoft YaHei pick the right CJK fallback
    (Simplified Chinese glyphs rather than Japanese ones).
    """
    tag = {"zh": "zh-CN", "en": "en-US"}.get(lang, "zh-CN")
    tags = (qn("a:rPr"), qn("a:defRPr"), qn("a:endParaRPr"))
    for slide in prs.slides:
        roots = [slide.shapes._spTree, *(sh.chart._chartSpace for sh in slide.shapes if sh.has_chart)]
        for root in roots:
            for el in root.iter(*tags):
                el.set("lang", tag)
                el.set("altLang", "en-US")


def _style(run, size: float, bold: bool = False, color: RGBColor = _DARK) -> None:  # type: ignore[no-untyped-def]
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.color.rgb = color
    _set_fonts(run.font._rPr)


def _write(
    text_frame,
    lines: Sequence[str],
    size: float,
    bold: bool = False,  # type: ignore[no-untyped-def]
    color: RGBColor = _DARK,
    align: PP_ALIGN | None = None,
) -> None:
    text_frame.word_wrap = True
    for i, line in enumerate(lines):
        para = text_frame.paragraphs[0] if i == 0 else text_frame.add_paragraph()
        para.text = ""
        run = para.add_run()
        run.text = line
        _style(run, size, bold, color)
        if align is not None:
            para.alignment = align


def _title(slide, text: str) -> None:  # type: ignore[no-untyped-def]
    shape = slide.shapes.title
    shape.left, shape.top, shape.width, shape.height = (
        _MARGIN,
        Inches(0.3),
        SLIDE_W - 2 * _MARGIN,
        Inches(0.8),
    )
    shape.text_frame.clear()
    _write(shape.text_frame, [text], 28, bold=True, align=PP_ALIGN.LEFT)


def _finding(slide, text: str) -> None:  # type: ignore[no-untyped-def]
    box = slide.shapes.add_textbox(_MARGIN, Inches(1.1), SLIDE_W - 2 * _MARGIN, Inches(0.65))
    _write(box.text_frame, [text], 16, color=_RED)


def _table(
    slide,
    df: pd.DataFrame,
    columns: Sequence[Column],
    lang: str,
    left: Emu,
    top: Emu,
    width: Emu,  # type: ignore[no-untyped-def]
    size: float = 12,
    max_chars: int = 40,
    widths: Sequence[float] | None = None,
) -> None:
    rows = len(df) + 1
    height = Emu(int(_row_height(size) * rows))
    table = slide.shapes.add_table(rows, len(columns), left, top, width, height).table
    if widths:
        total = sum(widths)
        for i, w in enumerate(widths):
            table.columns[i].width = Emu(int(width * w / total))
    for j, col in enumerate(columns):
        cell = table.cell(0, j)
        cell.text = column_header(col, lang)
        cell.fill.solid()
        cell.fill.fore_color.rgb = _HEADER_FILL
        for para in cell.text_frame.paragraphs:
            for run in para.runs:
                _style(run, size, bold=True)
    for i, record in enumerate(df.to_dict("records"), start=1):
        for j, col in enumerate(columns):
            text = col.text(record.get(col.field), lang)
            if len(text) > max_chars:
                text = text[: max_chars - 1] + "…"
            cell = table.cell(i, j)
            cell.text = text
            cell.fill.background()
            for para in cell.text_frame.paragraphs:
                if col.fmt not in ("text", "status", "flag"):
                    para.alignment = PP_ALIGN.RIGHT
                for run in para.runs:
                    _style(run, size)


def _row_height(size: float) -> Emu:
    """The height of one table row holding one line of `size`-point text (cell margins included)."""
    return Emu(int(Pt(size * 1.25) + Inches(0.12)))


def _label(slide, text: str, left: Emu, top: Emu, width: Emu) -> None:  # type: ignore[no-untyped-def]
    box = slide.shapes.add_textbox(left, top, width, Inches(0.35))
    _write(box.text_frame, [text], 13, bold=True, color=_GREY)


def _chart(
    slide,
    kind: XL_CHART_TYPE,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],  # type: ignore[no-untyped-def]
    left: Emu,
    top: Emu,
    width: Emu,
    height: Emu,
    number_format: str = "#,##0",
    legend: bool = True,
    labels: bool = False,
    maximum: float | None = None,
    axis_format: str | None = None,
) -> None:
    data = CategoryChartData(number_format=number_format)
    data.categories = list(categories)
    for name, values in series:
        data.add_series(
            name, [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values]
        )
    chart = slide.shapes.add_chart(kind, left, top, width, height, data).chart
    chart.font.size = Pt(12)
    _set_fonts(chart.font._rPr)
    chart.has_title = False  # the slide title names the chart
    chart.has_legend = legend and len(series) > 1
    if chart.has_legend:
        chart.legend.position = XL_LEGEND_POSITION.TOP
        chart.legend.include_in_layout = False
    for i, plot_series in enumerate(chart.series):
        fmt = plot_series.format
        colour = _SERIES_COLOURS[i % len(_SERIES_COLOURS)]
        if kind in (XL_CHART_TYPE.LINE, XL_CHART_TYPE.LINE_MARKERS):
            fmt.line.color.rgb = colour
            fmt.line.width = Pt(2.25)
            plot_series.smooth = False
        else:
            fmt.fill.solid()
            fmt.fill.fore_color.rgb = colour
    if labels:
        plot = chart.plots[0]
        plot.has_data_labels = True
        plot.data_labels.number_format = number_format
        plot.data_labels.number_format_is_linked = False
        plot.data_labels.font.size = Pt(11)
        _set_fonts(plot.data_labels.font._rPr)
    chart.value_axis.tick_labels.number_format = axis_format or number_format
    chart.value_axis.tick_labels.number_format_is_linked = False
    if maximum is not None:
        chart.value_axis.maximum_scale = maximum
        chart.value_axis.minimum_scale = 0
    chart.value_axis.has_major_gridlines = True
    chart.value_axis.major_gridlines.format.line.color.rgb = RGBColor(0xDD, 0xE1, 0xE6)


def _content_slide(prs, title: str, finding: str):  # type: ignore[no-untyped-def]
    slide = prs.slides.add_slide(prs.slide_layouts[5])  # "Title Only"
    _title(slide, title)
    _finding(slide, finding)
    return slide


def _left(share: float) -> tuple[Emu, Emu]:
    """(left, width) of the left `share` of the body, and the rest starts after a gap."""
    body = SLIDE_W - 2 * _MARGIN
    return _MARGIN, Emu(int(body * share) - Inches(0.15))


def _right(share: float) -> tuple[Emu, Emu]:
    body = SLIDE_W - 2 * _MARGIN
    left = _MARGIN + Emu(int(body * share)) + Inches(0.15)
    return left, Emu(SLIDE_W - _MARGIN - left)


def _no_data(slide, lang: str, left: Emu = _MARGIN, width: Emu | None = None) -> None:  # type: ignore[no-untyped-def]
    box = slide.shapes.add_textbox(left, _BODY_TOP, width or SLIDE_W - 2 * _MARGIN, Inches(0.6))
    _write(box.text_frame, [t("report.no_data", lang)], 18, color=_GREY)


def _section(key: str, lang: str) -> str:
    return t(f"report.section.{key}", lang)


def build_deck(report: Report) -> bytes:
    """The report as a 16:9 PowerPoint deck: a title slide, one slide per section, a definitions slide."""
    lang = report.lang
    prs = Presentation()
    prs.slide_width, prs.slide_height = SLIDE_W, SLIDE_H
    comp = report.comparison

    # title
    slide = prs.slides.add_slide(prs.slide_layouts[0])
    title, subtitle = slide.shapes.title, slide.placeholders[1]
    title.left, title.top, title.width, title.height = (
        _MARGIN,
        Inches(2.2),
        SLIDE_W - 2 * _MARGIN,
        Inches(1.4),
    )
    subtitle.left, subtitle.top, subtitle.width, subtitle.height = (
        _MARGIN,
        Inches(3.8),
        SLIDE_W - 2 * _MARGIN,
        Inches(1.8),
    )
    title.text_frame.clear()
    _write(title.text_frame, [report.title], 40, bold=True, color=_RED, align=PP_ALIGN.CENTER)
    subtitle.text_frame.clear()
    _write(
        subtitle.text_frame,
        [
            report.period_label,
            t(
                "report.compared",
                lang,
                previous=reports.period_label(comp.previous, lang),
                last_year=reports.period_label(comp.last_year, lang),
            ),
            t("report.generated", lang, at=f"{report.generated_at:%Y-%m-%d %H:%M}"),
        ],
        18,
        color=_GREY,
        align=PP_ALIGN.CENTER,
    )

    # headline figures: table and a chart of the main rates against both comparisons
    slide = _content_slide(prs, _section("headline", lang), report.findings["headline"])
    left, width = _left(0.52)
    _table(
        slide,
        headline_table(report),
        HEADLINE,
        lang,
        left,
        _BODY_TOP,
        width,
        size=12,
        widths=[2.2, 1.2, 1.2, 1.2, 1.2, 1.2],
    )
    rates = report.headline[
        report.headline["metric"].isin(
            ["response_rate", "on_time_rate", "resolution_rate", "satisfaction_rate"]
        )
    ]
    left, width = _right(0.52)
    _chart(
        slide,
        XL_CHART_TYPE.COLUMN_CLUSTERED,
        [t(f"report.metric.{m}", lang) for m in rates["metric"]],
        [
            (t("report.col.current", lang), list(rates["current"])),
            (t("report.col.previous", lang), list(rates["previous"])),
            (t("report.col.last_year", lang), list(rates["last_year"])),
        ],
        left,
        _BODY_TOP,
        width,
        _BODY_H,
        number_format="0%",
        maximum=1.0,
    )

    # trend
    slide = _content_slide(prs, _section("trend", lang), report.findings["trend"])
    if report.trend.empty:
        _no_data(slide, lang)
    else:
        _chart(
            slide,
            XL_CHART_TYPE.LINE_MARKERS,
            [f"{d:%m-%d}" for d in report.trend["day"]],
            [
                (t("report.col.reported", lang), list(report.trend["reported"])),
                (t("report.col.closed", lang), list(report.trend["closed"])),
            ],
            _MARGIN,
            _BODY_TOP,
            SLIDE_W - 2 * _MARGIN,
            _BODY_H,
        )

    # categories: chart of the twelve largest, table of the ten largest
    slide = _content_slide(prs, _section("categories", lang), report.findings["categories"])
    cats = report.categories.head(12)
    if cats.empty:
        _no_data(slide, lang)
    else:
        shown = cats.iloc[::-1]  # bar charts draw bottom-up: largest on top
        left, width = _left(0.45)
        _chart(
            slide,
            XL_CHART_TYPE.BAR_CLUSTERED,
            list(shown["name"]),
            [
                (t("report.col.current", lang), list(shown["reported"])),
                (t("report.col.previous", lang), list(shown["previous"])),
            ],
            left,
            _BODY_TOP,
            width,
            _BODY_H,
        )
        left, width = _right(0.45)
        _table(
            slide,
            cats.head(10),
            CATEGORIES,
            lang,
            left,
            _BODY_TOP,
            width,
            size=11,
            widths=[2.2, 1, 1, 1, 1.2, 1.2, 1],
        )

    # rankings
    for by, ranked in report.rankings.items():
        slide = _content_slide(prs, _section(f"ranking_{by}", lang), report.findings[f"ranking_{by}"])
        if ranked.empty:
            _no_data(slide, lang)
            continue
        widths = [0.7, 2.6, 0.9, 1.1, 1.1, 1.0, 1.0, 1.0, 1.0]
        if by == "grid" and len(ranked) > 15:
            half = (SLIDE_W - 2 * _MARGIN - Inches(0.3)) // 2
            cols = [c for c in RANKING if c.field != "few_cases"]
            right = Emu(_MARGIN + half + Inches(0.3))
            below = Emu(_BODY_TOP + Inches(0.4))
            _label(slide, _section("top_grids", lang), _MARGIN, _BODY_TOP, Emu(half))
            _table(
                slide,
                ranked.head(10),
                cols,
                lang,
                _MARGIN,
                below,
                Emu(half),
                size=10,
                max_chars=14,
                widths=widths[:-1],
            )
            _label(slide, _section("bottom_grids", lang), right, _BODY_TOP, Emu(half))
            _table(
                slide,
                ranked[ranked["rank"].notna()].tail(5),
                cols,
                lang,
                right,
                below,
                Emu(half),
                size=10,
                max_chars=14,
                widths=widths[:-1],
            )
            continue
        top = ranked.head(12)
        scored = top[top["score"].notna()].iloc[::-1]
        left, width = _left(0.38)
        if scored.empty:
            _no_data(slide, lang, left, width)
        else:
            _chart(
                slide,
                XL_CHART_TYPE.BAR_CLUSTERED,
                list(scored["name"]),
                [(t("report.col.score", lang), [round(float(v), 1) for v in scored["score"]])],
                left,
                _BODY_TOP,
                width,
                _BODY_H,
                number_format="0.0",
                legend=False,
                labels=True,
                maximum=100,
                axis_format="0",
            )
        left, width = _right(0.38)
        _table(slide, top, RANKING, lang, left, _BODY_TOP, width, size=10, max_chars=14, widths=widths)

    # longest overdue
    slide = _content_slide(prs, _section("overdue", lang), report.findings["overdue"])
    if report.overdue.empty:
        _no_data(slide, lang)
    else:
        _table(
            slide,
            report.overdue,
            OVERDUE_SLIDE,
            lang,
            _MARGIN,
            _BODY_TOP,
            SLIDE_W - 2 * _MARGIN,
            size=11,
            max_chars=22,
            widths=[1.7, 3.2, 1.3, 1.9, 1.2, 1.6, 0.9, 0.9],
        )

    # volunteers: hours per community (or grid) and the largest gaps
    slide = _content_slide(prs, _section("volunteers", lang), report.findings["volunteers"])
    hours = report.volunteer_hours.head(12)
    left, width = _left(0.42)
    if hours.empty:
        _no_data(slide, lang, left, width)
    else:
        shown = hours.iloc[::-1]
        _chart(
            slide,
            XL_CHART_TYPE.BAR_CLUSTERED,
            list(shown["name"]),
            [(t("report.col.hours", lang), [round(float(v), 1) for v in shown["hours"]])],
            left,
            _BODY_TOP,
            width,
            _BODY_H,
            number_format="#,##0",
            legend=False,
            labels=True,
        )
    left, width = _right(0.42)
    totals = volunteer_totals_table(report)
    _table(
        slide,
        totals,
        [Column("item", "item"), Column("value", "value")],
        lang,
        left,
        _BODY_TOP,
        width,
        size=11,
    )
    if not report.gaps.empty:
        top = Emu(_BODY_TOP + _row_height(11) * (len(totals) + 1) + Inches(0.2))
        _label(slide, _section("gaps", lang), left, top, width)
        _table(
            slide,
            report.gaps.head(6),
            GAPS,
            lang,
            left,
            Emu(top + Inches(0.4)),
            width,
            size=10,
            max_chars=14,
            widths=[1.4, 2, 1.2, 0.8, 0.8, 0.8],
        )

    # definitions
    slide = _content_slide(
        prs, t("report.method", lang), t("report.score_formula", lang, min=reports.MIN_CASES)
    )
    box = slide.shapes.add_textbox(_MARGIN, _BODY_TOP, SLIDE_W - 2 * _MARGIN, Inches(3))
    _write(box.text_frame, [t("report.method_text", lang)], 16, color=_GREY)

    _tag_language(prs, lang)
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()


# ---------------------------------------------------------------- Excel


def _sheet(wb: Workbook, title: str, df: pd.DataFrame, columns: Sequence[Column], lang: str) -> None:
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
            if col.number_format:
                cell.number_format = col.number_format
    for j, col in enumerate(columns, start=1):
        longest = max(
            [len(column_header(col, lang))] + [len(col.text(v, lang)) for v in df.get(col.field, [])][:200]
        )
        ws.column_dimensions[get_column_letter(j)].width = min(60, max(8, longest * 1.6 + 2))
    ws.freeze_panes = "A2"


def build_workbook(report: Report) -> bytes:
    """The report's tables as an Excel workbook: a summary sheet, then one sheet per table."""
    lang = report.lang
    wb = Workbook()
    summary = wb.active
    summary.title = t("report.title", lang)[:31]
    comp = report.comparison
    lines: list[tuple[str, str]] = [
        (t("report.title", lang), report.title),
        (t("report.period_kind", lang), report.period_label),
        (t("report.col.previous", lang), reports.period_label(comp.previous, lang)),
        (t("report.col.last_year", lang), reports.period_label(comp.last_year, lang)),
        (t("report.scope", lang), report.scope_name),
        (t("report.col.generated", lang), f"{report.generated_at:%Y-%m-%d %H:%M}"),
        *((_section(k, lang), v) for k, v in report.findings.items()),
        (t("report.method", lang), t("report.score_formula", lang, min=reports.MIN_CASES)),
    ]
    for i, (key, value) in enumerate(lines, start=1):
        summary.cell(row=i, column=1, value=neutralise_formula(key)).font = Font(bold=True)
        cell = summary.cell(row=i, column=2, value=neutralise_formula(value))
        cell.data_type = "s"
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    summary.column_dimensions["A"].width = 24
    summary.column_dimensions["B"].width = 110

    headline = report.headline.assign(
        metric_name=[t(f"report.metric.{m}", lang) for m in report.headline["metric"]]
    )
    title = _section("headline", lang)
    _sheet(
        wb,
        title,
        headline,
        [
            Column("metric_name", "metric"),
            Column("current", "current", "float1"),
            Column("previous", "previous", "float1"),
            Column("last_year", "last_year", "float1"),
            Column("mom", "mom", "float1"),
            Column("yoy", "yoy", "float1"),
        ],
        lang,
    )
    # number formats by row: rates in %, counts as integers; changes in percentage points / relative %
    ws = wb[str(neutralise_formula(title))[:31]]
    for row, kind in enumerate(headline["kind"], start=2):
        for col in range(2, 5):
            ws.cell(row=row, column=col).number_format = "0.0%" if kind == "rate" else "#,##0"
        for col in (5, 6):
            ws.cell(row=row, column=col).number_format = (
                "+0.0%;-0.0%;0.0%" if kind == "rate" else "+0%;-0%;0%"
            )
    trend_cols = [Column("day", "week" if report.trend_unit == "week" else "day", "date"), *TREND[1:]]
    _sheet(wb, _section("trend", lang), report.trend, trend_cols, lang)
    _sheet(wb, _section("categories", lang), report.categories, [Column("code", "code"), *CATEGORIES], lang)
    for by, ranked in report.rankings.items():
        _sheet(
            wb,
            _section(f"ranking_{by}", lang),
            ranked,
            [
                *RANKING[:-1],
                Column("due", "due", "int"),
                Column("overdue_now", "overdue_now", "int"),
                RANKING[-1],
            ],
            lang,
        )
    _sheet(wb, _section("overdue", lang), report.overdue, OVERDUE, lang)
    _sheet(wb, _section("volunteers", lang), report.volunteer_hours, HOURS, lang)
    _sheet(wb, _section("gaps", lang), report.gaps, GAPS, lang)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def file_stem(report: Report) -> str:
    """A file name (without extension) for the exports: report_<scope>_<period start>_<kind>."""
    start: date | datetime = report.comparison.requested.start
    kind = report.comparison.requested.kind
    scope = "all" if report.community_id is None else f"c{report.community_id}"
    return f"report_{scope}_{start:%Y%m%d}_{kind}"


def export(session: Session, actor: Actor, report: Report, fmt: Literal["pptx", "xlsx"]) -> bytes:
    """Build the deck or the workbook and write the "export" row of the audit log (same transaction)."""
    data = build_deck(report) if fmt == "pptx" else build_workbook(report)
    rows = (
        len(report.headline)
        + len(report.trend)
        + len(report.categories)
        + len(report.overdue)
        + sum(len(df) for df in report.rankings.values())
        + len(report.volunteer_hours)
        + len(report.gaps)
    )
    req = report.comparison.requested
    exports.record_export(
        session,
        actor,
        "report",
        rows,
        fmt,
        filters={
            "period": f"{req.start:%Y-%m-%d}/{req.end:%Y-%m-%d}",
            "kind": req.kind,
            "community_id": report.community_id,
            "lang": report.lang,
        },
    )
    return data
