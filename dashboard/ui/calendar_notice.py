"""The administrator's start-page warning: a year whose working-day clocks run on the weekend fallback
because nobody holds its statutory schedule (this year, and from November next year)."""

from __future__ import annotations

import streamlit as st

from dashboard import clock
from dashboard.admin import calendar as work_calendar
from dashboard.i18n import t, t_plain
from dashboard.ui.common import db_session


def missing_schedule_warning() -> None:
    """Warn, with a link to the calendar page, when this year's or next year's schedule is missing."""
    with db_session() as s:
        missing = work_calendar.missing_years(s, clock.now().date())
    if not missing:
        return
    st.warning(
        t("admin.cal_missing_warning", years=t_plain("admin.cal_years_sep").join(map(str, missing))),
        icon=":material/event_busy:",
    )
    st.page_link(
        "pages/admin_calendar.py", label=t("admin.cal_missing_link"), icon=":material/calendar_month:"
    )
