"""The working calendar (admin): statutory holidays and swapped workdays (an entered State Council notice,
else chinese-calendar), entering a year's notice by pasting it, and local overrides (closures, extra working
days) that the SLA clocks of new cases respect."""

from __future__ import annotations

import calendar as month_calendar
from datetime import date

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.admin import calendar as work_calendar
from dashboard.admin.calendar import CalendarDay, PastedSchedule
from dashboard.i18n import t, t_plain
from dashboard.ui.admin import AdminPage
from dashboard.ui.common import db_session
from models.enums import CalendarOverrideKind

PAGE = AdminPage("admin.calendar", t("admin.cal_caption"), "admin_cal_flash")
me = PAGE.me


today = clock.now().date()
years = list(range(today.year - 2, today.year + 3))
with db_session() as s:
    missing = work_calendar.missing_years(s, today)
year = st.columns([1, 4])[0].selectbox(
    t("admin.cal_year"), years, index=years.index(missing[0] if missing else today.year), key="cal_year"
)

with db_session() as s:
    source = work_calendar.year_source(s, year)
    days = work_calendar.calendar_year(s, year)
    overrides = work_calendar.calendar_overrides(s, year)
if source == "fallback":
    st.warning(t("admin.cal_unknown_year", year=year))
elif source == "entered":
    st.info(t("admin.cal_source_entered", year=year))


def _status(d: CalendarDay) -> str:
    """One of: override kinds, holiday, swapped, weekend, work (the legend's classes)."""
    if d.override:
        return d.override
    if d.swapped_workday:
        return "swapped"
    if not d.statutory_working:
        return "holiday" if d.holiday or d.entered_name is not None else "weekend"
    return "work"


MARK = {
    "closure": "admin.cal_mark_closure",
    "workday": "admin.cal_mark_workday",
    "holiday": "admin.cal_mark_holiday",
    "swapped": "admin.cal_mark_swapped",
    "weekend": "",
    "work": "",
}
COLOUR = {
    "closure": "#d9c2e9",
    "workday": "#c6dbf7",
    "holiday": "#f7c6c6",
    "swapped": "#fde2b8",
    "weekend": "#eeeeee",
    "work": "",
}

c1, c2, c3, c4 = st.columns(4)
c1.metric(t("admin.cal_working_days"), sum(d.working for d in days), border=True)
c2.metric(t("admin.cal_holidays"), sum(1 for d in days if _status(d) == "holiday"), border=True)
c3.metric(t("admin.cal_swapped"), sum(1 for d in days if d.swapped_workday), border=True)
c4.metric(t("admin.cal_overrides"), len(overrides), border=True)
st.caption(
    " · ".join(
        f"{t(MARK[k])} = {t('admin.cal_legend_' + k)}" for k in ("holiday", "swapped", "closure", "workday")
    )
)

by_day = {d.day: d for d in days}
weekdays = [t(f"admin.weekday_{i}") for i in range(7)]


def _month_grid(month: int) -> pd.io.formats.style.Styler:
    weeks = month_calendar.Calendar().monthdatescalendar(year, month)
    text, colour = [], []
    for week in weeks:
        row_text, row_colour = [], []
        for day in week:
            if day.month != month:
                row_text.append("")
                row_colour.append("")
                continue
            status = _status(by_day[day])
            mark = t(MARK[status]) if MARK[status] else ""
            row_text.append(f"{day.day} {mark}".strip())
            row_colour.append(f"background-color: {COLOUR[status]}" if COLOUR[status] else "")
        text.append(row_text)
        colour.append(row_colour)
    frame = pd.DataFrame(text, columns=weekdays)
    styles = pd.DataFrame(colour, columns=weekdays)
    return frame.style.apply(lambda _: styles, axis=None)


for first in range(1, 13, 3):
    cols = st.columns(3)
    for offset, col in enumerate(cols):
        month = first + offset
        with col:
            st.markdown(f"**{t('admin.cal_month', year=year, month=month)}**")
            st.dataframe(_month_grid(month), hide_index=True, width="stretch")

special = [d for d in days if _status(d) in ("holiday", "swapped", "closure", "workday")]
with st.expander(t("admin.cal_special_days", n=len(special))):
    st.dataframe(
        pd.DataFrame(
            {
                t("admin.cal_day"): [d.day for d in special],
                t("admin.cal_weekday"): [weekdays[d.day.weekday()] for d in special],
                t("admin.cal_kind"): [t("admin.cal_legend_" + _status(d)) for d in special],
                t("admin.cal_holiday"): [
                    t(f"admin.holiday.{d.holiday}") if d.holiday else (d.entered_name or "") for d in special
                ],
                t("admin.cal_note"): [d.note for d in special],
                t("admin.cal_is_working"): [d.working for d in special],
            }
        ),
        hide_index=True,
        width="stretch",
        column_config={t("admin.cal_is_working"): st.column_config.CheckboxColumn()},
    )


def _paste_preview(schedule: PastedSchedule) -> bool:
    """Show what the pasted text gives; whether it may be saved (read, no unreadable line)."""
    if schedule.errors:
        st.error(t("admin.cal_paste_errors", n=len(schedule.errors)))
        st.markdown(
            "\n".join(
                "- " + t("admin.cal_paste_err_line", line=e.line, text=e.text, reason=t(e.key, **e.values))
                for e in schedule.errors
            )
        )
    if schedule.skipped:
        lines = t_plain("admin.cal_years_sep").join(map(str, schedule.skipped))
        st.caption(t("admin.cal_paste_skipped", n=len(schedule.skipped), lines=lines))
    if not schedule.days:
        st.info(t("admin.cal_paste_nothing"))
        return False
    off = sum(not p.working for p in schedule.days)
    st.markdown(f"**{t('admin.cal_paste_days', off=off, work=len(schedule.days) - off)}**")
    st.dataframe(
        pd.DataFrame(
            {
                t("admin.cal_day"): [p.day for p in schedule.days],
                t("admin.cal_weekday"): [weekdays[p.day.weekday()] for p in schedule.days],
                t("admin.cal_kind"): [
                    t_plain("admin.cal_legend_" + ("swapped" if p.working else "holiday"))
                    for p in schedule.days
                ],
                t("admin.cal_holiday"): [p.name for p in schedule.days],
                t("admin.cal_paste_col_line"): [p.line for p in schedule.days],
            }
        ),
        hide_index=True,
        width="stretch",
    )
    with db_session() as s:
        months = work_calendar.preview_schedule(s, schedule)
    st.markdown(f"**{t('admin.cal_paste_months')}**")
    st.dataframe(
        months.assign(month=[t_plain("admin.cal_month", year=year, month=m) for m in months["month"]]).rename(
            columns={
                "month": t_plain("admin.cal_paste_col_month"),
                "working_before": t_plain("admin.cal_paste_col_before"),
                "working_after": t_plain("admin.cal_paste_col_after"),
                "days_off": t_plain("admin.cal_paste_col_off"),
                "makeup_days": t_plain("admin.cal_paste_col_makeup"),
            }
        ),
        hide_index=True,
        width="stretch",
    )
    return not schedule.errors


st.subheader(f"{t('admin.cal_paste')} · {year}")
st.caption(t("admin.cal_paste_help"))
if source == "entered":
    st.info(t("admin.cal_paste_replaces", year=year))
notice = st.text_area(t("admin.cal_paste_text"), height=220, key="cal_paste_text")
shown = st.session_state.get("cal_paste_shown")
if notice.strip():
    readable = _paste_preview(work_calendar.parse_notice(notice, year))
    st.session_state["cal_paste_shown"] = (year, notice)
    if readable and st.button(t("admin.cal_paste_save", year=year), type="primary", key="cal_paste_save"):
        if shown != (year, notice):
            st.warning(t("admin.cal_paste_changed"))
        else:
            PAGE.attempt(
                lambda s: work_calendar.save_schedule(s, me, year, notice),
                lambda saved: t(
                    "admin.cal_paste_saved",
                    year=year,
                    off=sum(not p.working for p in saved.days),
                    work=sum(p.working for p in saved.days),
                ),
            )

st.subheader(t("admin.cal_local"))
st.caption(t("admin.cal_local_help"))
left, right = st.columns(2)
with left, st.form("cal_add_form"):
    day = st.date_input(
        t("admin.cal_day"),
        value=today,
        min_value=date(work_calendar.FIRST_YEAR, 1, 1),
        max_value=date(work_calendar.LAST_YEAR, 12, 31),
        key="cal_add_day",
    )
    kind = st.radio(
        t("admin.cal_kind"),
        list(CalendarOverrideKind),
        horizontal=True,
        key="cal_add_kind",
        format_func=lambda k: t("admin.cal_legend_" + k),
    )
    note = st.text_input(t("admin.cal_note"), max_chars=200, key="cal_add_note")
    added = st.form_submit_button(t("admin.cal_add"), type="primary", key="cal_add_save")
if added:
    PAGE.attempt(
        lambda s: work_calendar.add_calendar_override(s, me, day, kind, note),
        t("admin.cal_added", day=f"{day:%Y-%m-%d}", kind=t("admin.cal_legend_" + kind)),
    )

with right:
    if overrides.empty:
        st.info(t("admin.cal_no_overrides", year=year))
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    t("admin.cal_day"): overrides["day"],
                    t("admin.cal_kind"): [t("admin.cal_legend_" + k) for k in overrides["kind"]],
                    t("admin.cal_note"): overrides["note"],
                    t("admin.actor"): overrides["created_by"].fillna(""),
                }
            ),
            hide_index=True,
            width="stretch",
        )
        choice = st.selectbox(
            t("admin.cal_remove_pick"),
            list(overrides["day"]),
            index=None,
            placeholder=t("admin.choose"),
            key="cal_remove_day",
            format_func=lambda d: f"{d:%Y-%m-%d}",
        )
        if choice is not None and st.button(t("admin.cal_remove"), key="cal_remove"):
            PAGE.attempt(
                lambda s: work_calendar.remove_calendar_override(s, me, choice),
                t("admin.cal_removed", day=f"{choice:%Y-%m-%d}"),
            )
