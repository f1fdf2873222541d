"""The meeting deck's 研判预警 slide: the open alerts per kind in the finding, the strongest alerts of the
morning run as a native table (what was done about each in its last column).

Rendered from the report's :class:`~dashboard.reporting.alert_digest.Outlook` like every other slide: no
database, no Streamlit.
"""

from __future__ import annotations

from pptx.presentation import Presentation as Deck

from dashboard.reporting.reports import Report
from dashboard.reporting.slide_kit import BODY_TOP, BODY_W, MARGIN, add_no_data, add_table, content_slide
from dashboard.reporting.tables import OUTLOOK, section_title

WIDTHS = (1.1, 2.6, 1.2, 0.7, 0.7, 2.0, 1.1, 0.9, 0.8)
"""Relative column widths (the columns of tables.OUTLOOK)."""


def outlook_slide(prs: Deck, report: Report) -> None:
    """研判预警: the finding (open alerts per kind), then the table of the strongest alerts."""
    lang = report.lang
    slide = content_slide(prs, section_title("outlook", lang), report.outlook.finding)
    if report.outlook.table.empty:
        add_no_data(slide, lang)
        return
    add_table(
        slide,
        report.outlook.table,
        OUTLOOK,
        lang,
        MARGIN,
        BODY_TOP,
        BODY_W,
        size=11,
        max_chars=24,
        widths=WIDTHS,
    )
