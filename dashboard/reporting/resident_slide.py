"""The meeting deck's 居民随手拍 slide: resident reports, 附议 and 居民自评 against the previous period as a
native table (the numbers of the report page's tiles, :func:`~dashboard.reporting.tables.resident_rows`),
and 居民自评满意率 beside 回访满意率 as a native chart.

Rendered from the :class:`~dashboard.reporting.reports.Report` like every other slide: no database, no
Streamlit.
"""

from __future__ import annotations

from pptx.enum.chart import XL_CHART_TYPE
from pptx.presentation import Presentation as Deck

from dashboard.i18n import t
from dashboard.reporting.reports import Report
from dashboard.reporting.slide_kit import (
    BODY_H,
    BODY_TOP,
    add_chart,
    add_table,
    content_slide,
    left_part,
    right_part,
)
from dashboard.reporting.tables import RESIDENT_RATES, RESIDENTS, resident_rows, resident_table, section_title

WIDTHS = (2.4, 1.1, 1.1, 1.3)
"""Relative column widths (the columns of tables.RESIDENTS)."""


def resident_slide(prs: Deck, report: Report) -> None:
    """居民随手拍: the finding, the table of the figures, the chart of the two satisfaction rates."""
    lang = report.lang
    slide = content_slide(prs, section_title("residents", lang), report.findings["residents"])
    left, width = left_part(0.55)
    add_table(slide, resident_table(report), RESIDENTS, lang, left, BODY_TOP, width, size=14, widths=WIDTHS)
    rates = resident_rows(report).set_index("item").loc[list(RESIDENT_RATES)]
    series = [(t(f"report.col.{c}", lang), list(rates[c])) for c in ("current", "previous")]
    left, width = right_part(0.55)
    add_chart(
        slide,
        XL_CHART_TYPE.COLUMN_CLUSTERED,
        list(rates["name"]),
        series,
        left,
        BODY_TOP,
        width,
        BODY_H,
        number_format="0%",
        labels=True,
        maximum=1.0,
    )
