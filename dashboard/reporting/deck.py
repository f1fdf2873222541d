"""The meeting report as a 16:9 PowerPoint deck: one builder per slide kind, and :func:`build_deck`.

The deck renders a :class:`~dashboard.reporting.reports.Report`; it touches neither the database nor
Streamlit. Drawing (fonts, native tables and charts, geometry) is :mod:`~dashboard.reporting.slide_kit`'s.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import pandas as pd
from pptx import Presentation
from pptx.enum.chart import XL_CHART_TYPE
from pptx.enum.text import PP_ALIGN
from pptx.presentation import Presentation as Deck
from pptx.slide import Slide
from pptx.util import Emu, Inches

from dashboard.i18n import t, t_plain
from dashboard.reporting import ranking
from dashboard.reporting.outlook_slide import outlook_slide
from dashboard.reporting.periods import period_label
from dashboard.reporting.reports import Report
from dashboard.reporting.resident_slide import resident_slide
from dashboard.reporting.slide_kit import (
    BODY_H,
    BODY_TOP,
    BODY_W,
    GREY,
    MARGIN,
    RED,
    SLIDE_H,
    SLIDE_W,
    add_chart,
    add_label,
    add_no_data,
    add_table,
    content_slide,
    left_part,
    right_part,
    row_height,
    tag_language,
    write,
)
from dashboard.reporting.tables import (
    CATEGORIES,
    GAPS,
    HEADLINE,
    OVERDUE_SLIDE,
    RANKING,
    Column,
    headline_table,
    section_title,
    volunteer_totals_table,
)
from dashboard.reporting.typical_slide import TypicalCase, typical_slides

HEADLINE_CHART_RATES = ("response_rate", "on_time_rate", "resolution_rate", "satisfaction_rate")
"""The rates charted against both comparisons on the headline slide."""
RANKING_WIDTHS = (0.7, 2.6, 0.9, 1.1, 1.1, 1.0, 1.0, 1.0, 1.0)
"""Relative column widths of a ranking table (the columns of tables.RANKING)."""
GRID_HALVES_OVER = 15
"""A grid ranking longer than this shows the top ten and the bottom five side by side, without a chart."""


def title_slide(prs: Deck, report: Report) -> None:
    """The report's title, its period, what it is compared with and when it was made."""
    lang, comp = report.lang, report.comparison
    slide = prs.slides.add_slide(prs.slide_layouts[0])
    title, subtitle = slide.shapes.title, slide.placeholders[1]
    title.left, title.top, title.width, title.height = MARGIN, Inches(2.2), BODY_W, Inches(1.4)
    subtitle.left, subtitle.top, subtitle.width, subtitle.height = MARGIN, Inches(3.8), BODY_W, Inches(1.8)
    title.text_frame.clear()
    write(title.text_frame, [report.title], 40, bold=True, color=RED, align=PP_ALIGN.CENTER)
    subtitle.text_frame.clear()
    compared = t_plain(
        "report.compared",
        lang,
        previous=period_label(comp.previous, lang),
        last_year=period_label(comp.last_year, lang),
    )
    generated = t_plain("report.generated", lang, at=f"{report.generated_at:%Y-%m-%d %H:%M}")
    lines = [report.period_label, compared, generated]
    write(subtitle.text_frame, lines, 18, color=GREY, align=PP_ALIGN.CENTER)


def headline_slide(prs: Deck, report: Report) -> None:
    """The headline table, and a chart of the main rates against both comparisons."""
    lang = report.lang
    slide = content_slide(prs, section_title("headline", lang), report.findings["headline"])
    left, width = left_part(0.52)
    widths = [2.2, 1.2, 1.2, 1.2, 1.2, 1.2]
    add_table(slide, headline_table(report), HEADLINE, lang, left, BODY_TOP, width, widths=widths)
    rates = report.headline[report.headline["metric"].isin(HEADLINE_CHART_RATES)]
    compared = ("current", "previous", "last_year") if report.has_last_year else ("current", "previous")
    series = [(t(f"report.col.{c}", lang), list(rates[c])) for c in compared]
    categories = [t(f"report.metric.{m}", lang) for m in rates["metric"]]
    left, width = right_part(0.52)
    add_chart(
        slide,
        XL_CHART_TYPE.COLUMN_CLUSTERED,
        categories,
        series,
        left,
        BODY_TOP,
        width,
        BODY_H,
        number_format="0%",
        maximum=1.0,
    )


def trend_slide(prs: Deck, report: Report) -> None:
    """Cases reported and closed per day (or week)."""
    lang, trend = report.lang, report.trend
    slide = content_slide(prs, section_title("trend", lang), report.findings["trend"])
    if trend.empty:
        add_no_data(slide, lang)
        return
    series = [(t(f"report.col.{c}", lang), list(trend[c])) for c in ("reported", "closed")]
    days = [f"{d:%m-%d}" for d in trend["day"]]
    add_chart(slide, XL_CHART_TYPE.LINE_MARKERS, days, series, MARGIN, BODY_TOP, BODY_W, BODY_H)


def categories_slide(prs: Deck, report: Report) -> None:
    """A chart of the twelve largest categories against the previous period, a table of the ten largest."""
    lang = report.lang
    slide = content_slide(prs, section_title("categories", lang), report.findings["categories"])
    cats = report.categories.head(12)
    if cats.empty:
        add_no_data(slide, lang)
        return
    shown = cats.iloc[::-1]  # bar charts draw bottom-up: largest on top
    series = [
        (t("report.col.current", lang), list(shown["reported"])),
        (t("report.col.previous", lang), list(shown["previous"])),
    ]
    left, width = left_part(0.45)
    add_chart(slide, XL_CHART_TYPE.BAR_CLUSTERED, list(shown["name"]), series, left, BODY_TOP, width, BODY_H)
    left, width = right_part(0.45)
    widths = [2.2, 1, 1, 1, 1.2, 1.2, 1]
    add_table(slide, cats.head(10), CATEGORIES, lang, left, BODY_TOP, width, size=11, widths=widths)


def _grid_halves(slide: Slide, ranked: pd.DataFrame, lang: str) -> None:
    """A long grid ranking: the ten best and the five worst ranked grids side by side."""
    half = Emu((BODY_W - Inches(0.3)) // 2)
    right = Emu(MARGIN + half + Inches(0.3))
    below = Emu(BODY_TOP + Inches(0.4))
    cols = [c for c in RANKING if c.field != "few_cases"]
    parts = (
        (MARGIN, "top_grids", ranked.head(10)),
        (right, "bottom_grids", ranked[ranked["rank"].notna()].tail(5)),
    )
    for left, key, rows in parts:
        add_label(slide, section_title(key, lang), left, BODY_TOP, half)
        add_table(
            slide,
            rows,
            cols,
            lang,
            left,
            below,
            half,
            size=10,
            max_chars=14,
            widths=RANKING_WIDTHS[:-1],
        )


def ranking_slide(prs: Deck, report: Report, by: str) -> None:
    """One ranking (考核): a chart of the scores of the first twelve (a unit without a score keeps its row,
    named with 无数据) and their table."""
    lang, ranked = report.lang, report.rankings[by]
    slide = content_slide(prs, section_title(f"ranking_{by}", lang), report.findings[f"ranking_{by}"])
    if ranked.empty:
        add_no_data(slide, lang)
        return
    if by == "grid" and len(ranked) > GRID_HALVES_OVER:
        _grid_halves(slide, ranked, lang)
        return
    top = ranked.head(12)
    left, width = left_part(0.38)
    if top["score"].isna().all():
        add_no_data(slide, lang, left, width)
    else:
        shown = top.iloc[::-1]  # a bar chart draws its first category at the bottom
        low, high = ranking.score_axis(shown["score"].dropna())
        no_data = t_plain("report.no_data_short", lang)
        names = [
            name if score == score else f"{name}（{no_data}）"
            for name, score in zip(shown["name"], shown["score"], strict=True)
        ]
        add_chart(
            slide,
            XL_CHART_TYPE.BAR_CLUSTERED,
            names,
            [(t("report.col.score", lang), [round(float(v), 1) for v in shown["score"]])],
            left,
            BODY_TOP,
            width,
            BODY_H,
            number_format="0.0",
            legend=False,
            labels=True,
            minimum=low,
            maximum=high,
            axis_format="0",
        )
    left, width = right_part(0.38)
    add_table(slide, top, RANKING, lang, left, BODY_TOP, width, size=10, max_chars=14, widths=RANKING_WIDTHS)


def overdue_slide(prs: Deck, report: Report) -> None:
    """The longest overdue open cases (personal data masked)."""
    lang = report.lang
    slide = content_slide(prs, section_title("overdue", lang), report.findings["overdue"])
    if report.overdue.empty:
        add_no_data(slide, lang)
        return
    add_table(
        slide,
        report.overdue,
        OVERDUE_SLIDE,
        lang,
        MARGIN,
        BODY_TOP,
        BODY_W,
        size=11,
        max_chars=22,
        widths=[1.7, 3.2, 1.3, 1.9, 1.2, 1.6, 0.9, 0.9],
    )


def volunteers_slide(prs: Deck, report: Report) -> None:
    """Volunteer hours per community (or grid), the totals and the largest gaps between need and supply."""
    lang = report.lang
    slide = content_slide(prs, section_title("volunteers", lang), report.findings["volunteers"])
    hours = report.volunteer_hours.head(12)
    left, width = left_part(0.42)
    if hours.empty:
        add_no_data(slide, lang, left, width)
    else:
        shown = hours.iloc[::-1]
        add_chart(
            slide,
            XL_CHART_TYPE.BAR_CLUSTERED,
            list(shown["name"]),
            [(t("report.col.hours", lang), [round(float(v), 1) for v in shown["hours"]])],
            left,
            BODY_TOP,
            width,
            BODY_H,
            legend=False,
            labels=True,
        )
    left, width = right_part(0.42)
    totals = volunteer_totals_table(report)
    columns = [Column("item", "item"), Column("value", "value")]
    add_table(slide, totals, columns, lang, left, BODY_TOP, width, size=11)
    if report.gaps.empty:
        return
    top = Emu(BODY_TOP + row_height(11) * (len(totals) + 1) + Inches(0.2))
    add_label(slide, section_title("gaps", lang), left, top, width)
    add_table(
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


def method_slide(prs: Deck, report: Report) -> None:
    """How the figures and the ranking score are defined."""
    lang = report.lang
    score_formula = t_plain("report.score_formula", lang, min=ranking.MIN_CASES)
    slide = content_slide(prs, t("report.method", lang), score_formula)
    box = slide.shapes.add_textbox(MARGIN, BODY_TOP, BODY_W, Inches(3))
    write(box.text_frame, [t("report.method_text", lang)], 16, color=GREY)


def build_deck(report: Report, typical: Sequence[TypicalCase] = ()) -> bytes:
    """The report as a 16:9 PowerPoint deck: a title slide, one slide per section (居民随手拍 among them),
    the 典型案例 (`typical`, before and after photos; none when no case is marked), a definitions slide."""
    prs = Presentation()
    prs.slide_width, prs.slide_height = SLIDE_W, SLIDE_H
    title_slide(prs, report)
    headline_slide(prs, report)
    trend_slide(prs, report)
    categories_slide(prs, report)
    for by in report.rankings:
        ranking_slide(prs, report, by)
    overdue_slide(prs, report)
    volunteers_slide(prs, report)
    resident_slide(prs, report)
    outlook_slide(prs, report)
    typical_slides(prs, typical, report.lang)
    method_slide(prs, report)
    tag_language(prs, report.lang)
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()
