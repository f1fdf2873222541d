"""The drawing kit of the meeting report deck (python-pptx): page geometry, text, native tables and charts.

- Charts are native PowerPoint charts (``CategoryChartData`` + ``add_chart``), editable in PowerPoint and
  WPS, never pictures; tables are native tables.
- Every run of text carries an East Asian font (``a:ea`` = Microsoft YaHei, present on Windows and with
  WPS; LibreOffice falls back to a CJK font such as Noto Sans CJK) and a Latin font (Arial), so Chinese
  never renders as boxes; :func:`tag_language` marks the language for the renderers that fall back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
from lxml.etree import _Element
from pptx.chart.chart import Chart
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
from pptx.enum.text import PP_ALIGN
from pptx.oxml.ns import qn
from pptx.presentation import Presentation
from pptx.slide import Slide
from pptx.text.text import TextFrame, _Run
from pptx.util import Emu, Inches, Pt

from dashboard.i18n import t
from dashboard.reporting.tables import Column, column_header

EA_FONT = "Microsoft YaHei"
"""East Asian typeface of every run (微软雅黑: Windows, PowerPoint and WPS have it)."""
LATIN_FONT = "Arial"
"""Latin typeface of every run (the fallback for digits and Latin text)."""

RED = RGBColor(0xC0, 0x39, 0x2B)
DARK = RGBColor(0x1F, 0x29, 0x33)
GREY = RGBColor(0x5F, 0x6B, 0x7A)
_HEADER_FILL = RGBColor(0xF4, 0xE4, 0xE1)
_GRIDLINES = RGBColor(0xDD, 0xE1, 0xE6)
_SERIES_COLOURS = (RGBColor(0xC0, 0x39, 0x2B), RGBColor(0x34, 0x6D, 0xA8), RGBColor(0x9A, 0xA5, 0xB1))

SLIDE_W = Inches(13.333)
SLIDE_H = Inches(7.5)
MARGIN = Inches(0.5)
BODY_TOP = Inches(1.85)
BODY_H = Inches(5.3)
BODY_W = Emu(SLIDE_W - 2 * MARGIN)
_GAP = Inches(0.15)
"""Half the gap between the left and the right part of a slide's body."""

# ---------------------------------------------------------------- fonts and text


def set_fonts(rPr: _Element) -> None:
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


def tag_language(prs: Presentation, lang: str) -> None:
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


def _style(run: _Run, size: float, bold: bool = False, color: RGBColor = DARK) -> None:
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.color.rgb = color
    set_fonts(run.font._rPr)


def write(
    text_frame: TextFrame,
    lines: Sequence[str],
    size: float,
    *,
    bold: bool = False,
    color: RGBColor = DARK,
    align: PP_ALIGN | None = None,
) -> None:
    """Replace the text of a frame with `lines`, one paragraph each, in the deck's fonts."""
    text_frame.word_wrap = True
    for i, line in enumerate(lines):
        para = text_frame.paragraphs[0] if i == 0 else text_frame.add_paragraph()
        para.text = ""
        run = para.add_run()
        run.text = line
        _style(run, size, bold, color)
        if align is not None:
            para.alignment = align


def add_label(slide: Slide, text: str, left: Emu, top: Emu, width: Emu) -> None:
    """A small grey heading above a table or chart."""
    box = slide.shapes.add_textbox(left, top, width, Inches(0.35))
    write(box.text_frame, [text], 13, bold=True, color=GREY)


def add_no_data(slide: Slide, lang: str, left: Emu = MARGIN, width: Emu = BODY_W) -> None:
    """The "no data in this period" note where a chart or table would be."""
    box = slide.shapes.add_textbox(left, BODY_TOP, width, Inches(0.6))
    write(box.text_frame, [t("report.no_data", lang)], 18, color=GREY)


# ---------------------------------------------------------------- slides and layout


def content_slide(prs: Presentation, title: str, finding: str) -> Slide:
    """A new "Title Only" slide with the section's title and its written finding (in red) below it."""
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    shape = slide.shapes.title
    shape.left, shape.top, shape.width, shape.height = MARGIN, Inches(0.3), BODY_W, Inches(0.8)
    shape.text_frame.clear()
    write(shape.text_frame, [title], 28, bold=True, align=PP_ALIGN.LEFT)
    box = slide.shapes.add_textbox(MARGIN, Inches(1.1), BODY_W, Inches(0.65))
    write(box.text_frame, [finding], 16, color=RED)
    return slide


def left_part(share: float) -> tuple[Emu, Emu]:
    """(left, width) of the left `share` of the body, leaving a gap before the right part."""
    return MARGIN, Emu(int(BODY_W * share) - _GAP)


def right_part(share: float) -> tuple[Emu, Emu]:
    """(left, width) of the body to the right of its left `share`, after the gap."""
    left = MARGIN + Emu(int(BODY_W * share)) + _GAP
    return left, Emu(SLIDE_W - MARGIN - left)


def row_height(size: float) -> Emu:
    """The height of one table row holding one line of `size`-point text (cell margins included)."""
    return Emu(int(Pt(size * 1.25) + Inches(0.12)))


# ---------------------------------------------------------------- tables and charts


def add_table(
    slide: Slide,
    df: pd.DataFrame,
    columns: Sequence[Column],
    lang: str,
    left: Emu,
    top: Emu,
    width: Emu,
    *,
    size: float = 12,
    max_chars: int = 40,
    widths: Sequence[float] | None = None,
) -> None:
    """A native table of `df`'s `columns` (text cut at `max_chars`; `widths` are relative shares)."""
    rows = len(df) + 1
    height = Emu(int(row_height(size) * rows))
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


def _colour_series(chart: Chart, kind: XL_CHART_TYPE) -> None:
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


def add_chart(
    slide: Slide,
    kind: XL_CHART_TYPE,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    left: Emu,
    top: Emu,
    width: Emu,
    height: Emu,
    *,
    number_format: str = "#,##0",
    legend: bool = True,
    labels: bool = False,
    maximum: float | None = None,
    minimum: float = 0.0,
    axis_format: str | None = None,
) -> None:
    """A native chart of named `series` over `categories` (NaN becomes a gap).

    `labels` writes each value on its bar; `maximum` fixes the value axis to minimum…maximum (rates:
    0…1.0; ranking scores start near the lowest score).
    """
    data = CategoryChartData(number_format=number_format)
    data.categories = list(categories)
    for name, values in series:
        data.add_series(
            name, [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values]
        )
    chart = slide.shapes.add_chart(kind, left, top, width, height, data).chart
    chart.font.size = Pt(12)
    set_fonts(chart.font._rPr)
    chart.has_title = False  # the slide title names the chart
    chart.has_legend = legend and len(series) > 1
    if chart.has_legend:
        chart.legend.position = XL_LEGEND_POSITION.TOP
        chart.legend.include_in_layout = False
    _colour_series(chart, kind)
    if labels:
        plot = chart.plots[0]
        plot.has_data_labels = True
        plot.data_labels.number_format = number_format
        plot.data_labels.number_format_is_linked = False
        plot.data_labels.font.size = Pt(11)
        set_fonts(plot.data_labels.font._rPr)
    chart.value_axis.tick_labels.number_format = axis_format or number_format
    chart.value_axis.tick_labels.number_format_is_linked = False
    if maximum is not None:
        chart.value_axis.maximum_scale = maximum
        chart.value_axis.minimum_scale = minimum
    chart.value_axis.has_major_gridlines = True
    chart.value_axis.major_gridlines.format.line.color.rgb = _GRIDLINES
