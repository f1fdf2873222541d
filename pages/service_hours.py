"""Service hours: record service, verify it (bulk), totals per volunteer / grid / community / employer unit /
month, a leaderboard, and 在职党员双向报到 (which in-work Party members served at home this quarter)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard import clock
from dashboard.i18n import current_lang, t
from dashboard.io import exports
from dashboard.kernel.formatting import pct
from dashboard.kernel.policy import may
from dashboard.reporting import kpi
from dashboard.ui import charts
from dashboard.ui import volunteers as ui
from dashboard.ui.common import actor, chart_text, db_session, page_title, selected_rows
from dashboard.ui.errors import run_action
from dashboard.volunteers import hours, registry, report_in

PAGE_SIZE = 50
KEY = "volhrs"

me = actor()
page_title("vol.hours", t("vol.hours_caption"))
LANG = current_lang()
look = ui.current_lookups(me)
comms, grids = look["communities"], look["grids"]
flash = st.session_state.pop(f"{KEY}_flash", None)
if flash:
    st.success(flash)

tab_names = ["record", "verify", "totals", "leaderboard", "report_in"]
if not may(me, "volunteer.record_hours"):
    tab_names.remove("record")
tabs = dict(zip(tab_names, st.tabs([t(f"vol.tab_{n}") for n in tab_names]), strict=True))

# ---------------------------------------------------------------- record
if "record" in tabs:
    with tabs["record"]:
        nonce = st.session_state.get(f"{KEY}_nonce", 0)
        c1, c2 = st.columns([1, 2])
        who_text = c1.text_input(
            t("vol.find_volunteer"), key=f"{KEY}_who_text", max_chars=40, placeholder=ui.search_hint(me)
        )
        with db_session() as s:
            picks = registry.pick_volunteers(s, me, who_text.strip())
        labels = dict(zip(picks["id"].astype(int), picks["label"], strict=True))
        volunteer_id = c2.selectbox(
            t("vol.volunteer"),
            list(labels),
            key=f"{KEY}_who_{nonce}",
            index=None,
            format_func=lambda i: labels.get(i, str(i)),
            placeholder=t("vol.pick_placeholder"),
        )
        grid_ids = grids["id"].tolist()
        with st.form(f"{KEY}_record_{nonce}", border=True):
            f1, f2 = st.columns(2)
            grid_id = f1.selectbox(
                t("vol.served_grid"),
                grid_ids,
                index=None,
                key=f"{KEY}_grid_{nonce}",
                format_func=ui.grid_label(grids),
                placeholder=t("vol.pick_placeholder"),
            )
            skill = f2.selectbox(
                t("vol.activity"),
                ui.SKILL_OPTIONS,
                index=None,
                key=f"{KEY}_skill_{nonce}",
                format_func=ui.skill_label,
                placeholder=t("vol.pick_placeholder"),
            )
            f3, f4, f5 = st.columns(3)
            today = clock.now().date()
            day = f3.date_input(t("vol.date"), today, max_value=today, key=f"{KEY}_day_{nonce}")
            start_t = f4.time_input(t("vol.start_time"), time(9, 0), step=900, key=f"{KEY}_start_{nonce}")
            end_t = f5.time_input(t("vol.end_time"), time(11, 0), step=900, key=f"{KEY}_end_{nonce}")
            f6, f7 = st.columns([1, 2])
            case_number = f6.text_input(
                t("vol.case_number"), key=f"{KEY}_case_{nonce}", max_chars=24, help=t("vol.case_number_help")
            )
            note = f7.text_input(t("vol.note"), key=f"{KEY}_note_{nonce}", max_chars=200)
            submitted = st.form_submit_button(
                t("vol.record_submit"), type="primary", key=f"{KEY}_record_submit"
            )
        if submitted:
            if volunteer_id is None or grid_id is None or skill is None:
                st.error(t("vol.err.record_required"))
            else:
                start = datetime.combine(day, start_t)
                end = datetime.combine(day, end_t)
                if end <= start:  # ends after midnight
                    end += timedelta(days=1)
                ok, _ = run_action(
                    hours.record_service,
                    me,
                    volunteer_id=int(volunteer_id),
                    grid_id=int(grid_id),
                    skill=skill,
                    start=start,
                    end=end,
                    case_number=case_number or None,
                    note=note,
                )
                if ok:
                    duration = (end - start).total_seconds() / 3600
                    st.session_state[f"{KEY}_nonce"] = nonce + 1
                    st.session_state[f"{KEY}_flash"] = t("vol.recorded", hours=f"{duration:.2f}")
                    ui.data_changed()
                    st.rerun()

# ---------------------------------------------------------------- verify
with tabs["verify"]:
    v1, v2, v3 = st.columns([1.2, 1.6, 1.2])
    which = v1.selectbox(
        t("vol.verified_state"),
        ["unverified", "verified", "all"],
        key=f"{KEY}_which",
        format_func=lambda w: t(f"vol.verified_{w}"),
    )
    community_id = v2.selectbox(
        t("vol.community"),
        [None, *comms["id"].tolist()],
        key=f"{KEY}_vcomm",
        format_func=ui.community_label(comms),
        placeholder=t("app.all"),
    )
    choices = grids if community_id is None else grids[grids["community_id"] == community_id]
    grid_filter_id = v3.selectbox(
        t("vol.served_grid"),
        [None, *choices["id"].tolist()],
        key=f"{KEY}_vgrid",
        format_func=ui.grid_label(grids),
        placeholder=t("app.all"),
    )
    rq = hours.RecordQuery(verified=which, community_id=community_id, grid_id=grid_filter_id)
    page_no = ui.reset_page_on_change(f"{KEY}_vpage", rq)
    with db_session() as s:
        records = hours.list_service_records(s, me, rq, page=page_no, page_size=PAGE_SIZE)
    st.session_state[f"{KEY}_vpage"] = records.page
    rows = records.rows
    st.caption(t("vol.records_found", n=f"{records.total:,}"))
    if records.total == 0:
        st.info(t("vol.no_records"))
    else:
        table = pd.DataFrame(
            {
                "ID": rows["id"],
                t("vol.volunteer", LANG): rows["volunteer"],
                t("vol.served_grid", LANG): rows["grid_code"],
                t("vol.activity", LANG): rows["skill"].map(ui.skill_label),
                t("vol.start_time", LANG): rows["start"],
                t("vol.end_time", LANG): rows["end"],
                t("vol.hours_col", LANG): rows["hours"],
                t("vol.case_number", LANG): rows["case_number"].fillna(""),
                t("vol.note", LANG): rows["note"],
                t("vol.verified_col", LANG): rows["verified"],
                t("vol.planned", LANG): rows["planned"],
            }
        )
        can_verify = may(me, "volunteer.verify_hours")
        event = st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            key=f"{KEY}_records",
            on_select="rerun" if can_verify else "ignore",
            selection_mode="multi-row",
            column_config={
                t("vol.start_time"): st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                t("vol.end_time"): st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            },
        )
        ui.pager(records.total, records.pages, records.page, f"{KEY}_vpage")
        if can_verify:
            selected = [int(rows.iloc[i]["id"]) for i in selected_rows(event, len(rows))]
            open_ids = [int(i) for i in rows.loc[~rows["verified"] & ~rows["planned"], "id"]]
            b1, b2, _ = st.columns([1.2, 1.2, 3])
            todo: list[int] = []
            if b1.button(
                t("vol.verify_selected", n=len(selected)),
                key=f"{KEY}_verify_sel",
                type="primary",
                disabled=not selected,
                icon=":material/done:",
            ):
                todo = selected
            if b2.button(
                t("vol.verify_page", n=len(open_ids)),
                key=f"{KEY}_verify_page",
                disabled=not open_ids,
                icon=":material/done_all:",
            ):
                todo = open_ids
            if todo:
                ok, done = run_action(hours.verify_records, me, todo)
                if ok:
                    st.session_state[f"{KEY}_flash"] = t("vol.verified_n", n=done, skipped=len(todo) - done)
                    ui.data_changed()
                    st.rerun()
            st.caption(t("vol.verify_help"))

# ---------------------------------------------------------------- totals
with tabs["totals"]:
    period = ui.period_picker(f"{KEY}_tp")
    g1, g2 = st.columns([3, 1])
    by = (
        g1.segmented_control(
            t("vol.group_by"),
            ["volunteer", "grid", "community", "employer", "month"],
            default="community",
            key=f"{KEY}_by",
            format_func=lambda b: t(f"vol.by_{b}"),
        )
        or "community"
    )
    include_unverified = g2.toggle(t("vol.include_unverified"), key=f"{KEY}_unverified")
    with db_session() as s:
        totals = hours.service_totals(
            s, me, by, period, verified_only=not include_unverified, limit=200 if by == "volunteer" else None
        )
    if totals.empty:
        st.info(t("app.nothing"))
    else:
        if by == "employer":
            totals["label"] = totals["label"].replace("", t("vol.no_unit", LANG))
        k1, k2, k3 = st.columns(3)
        k1.metric(t("vol.total_hours"), f"{totals['hours'].sum():,.1f}", border=True)
        k2.metric(t("vol.total_records"), f"{totals['records'].sum():,}", border=True)
        k3.metric(t("vol.groups", what=t(f"vol.by_{by}")), f"{len(totals):,}", border=True)
        headers = {
            "label": t(f"vol.by_{by}", LANG),
            "records": t("vol.records", LANG),
            "volunteers": t("vol.volunteers_n", LANG),
            "hours": t("vol.hours_col", LANG),
        }
        chart = totals.head(30).assign(label=lambda d: chart_text(d["label"]))
        fig = px.bar(chart, x="label", y="hours", labels={"label": "", "hours": headers["hours"]})
        fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 10, "b": 10})
        charts.show(fig, key=f"{KEY}_totals_chart")
        st.dataframe(
            totals.drop(columns=["key"]).rename(columns=headers),
            hide_index=True,
            width="stretch",
            column_config={headers["hours"]: st.column_config.NumberColumn(format="%.1f")},
        )
        if by == "volunteer":
            st.caption(t("vol.top_n", n=200))

        def _export_totals() -> bytes:
            with db_session() as s:
                return hours.export_totals(
                    s, me, by, period, verified_only=not include_unverified, headers=headers
                )

        st.download_button(
            t("app.download_csv"),
            data=_export_totals,
            file_name=f"service-hours-{by}.csv",
            mime=exports.CSV_MIME,
            key=f"{KEY}_export",
            icon=":material/download:",
            on_click="ignore",
        )

# ---------------------------------------------------------------- leaderboard
with tabs["leaderboard"]:
    lperiod = ui.period_picker(f"{KEY}_lp", default="year")
    with db_session() as s:
        board = hours.service_totals(s, me, "volunteer", lperiod, limit=20)
    if board.empty:
        st.info(t("app.nothing"))
    else:
        board.insert(0, "rank", range(1, len(board) + 1))
        fig = px.bar(
            board.iloc[::-1].assign(label=lambda d: chart_text(d["label"])),
            x="hours",
            y="label",
            orientation="h",
            labels={"hours": t("vol.hours_col"), "label": ""},
        )
        fig.update_layout(height=max(300, 26 * len(board)), margin={"l": 10, "r": 10, "t": 10, "b": 10})
        charts.show(fig, key=f"{KEY}_board_chart")
        st.dataframe(
            board.drop(columns=["key"])
            .rename(
                columns={
                    "rank": t("vol.rank", LANG),
                    "label": t("vol.volunteer", LANG),
                    "records": t("vol.records", LANG),
                    "volunteers": t("vol.volunteers_n", LANG),
                    "hours": t("vol.hours_col", LANG),
                }
            )
            .drop(columns=[t("vol.volunteers_n", LANG)]),
            hide_index=True,
            width="stretch",
        )
        st.caption(t("vol.leaderboard_help"))

# ---------------------------------------------------------------- 在职党员双向报到
with tabs["report_in"]:
    today = clock.now().date()
    this_q = kpi.quarter_period(today)
    quarter = (
        st.segmented_control(
            t("vol.quarter"),
            ["this", "last"],
            default="this",
            key=f"{KEY}_q",
            format_func=lambda q: t(f"vol.quarter_{q}"),
        )
        or "this"
    )
    qp = this_q if quarter == "this" else this_q.previous()
    st.caption(
        t("vol.report_in_help", start=f"{qp.start:%Y-%m-%d}", end=f"{qp.end - timedelta(days=1):%Y-%m-%d}")
    )
    with db_session() as s:
        summary = report_in.report_in_summary(s, me, qp)
    if summary.empty:
        st.info(t("vol.no_members"))
    else:
        r1, r2, r3 = st.columns(3)
        registered, served = int(summary["registered"].sum()), int(summary["served"].sum())
        r1.metric(t("vol.registered_members"), f"{registered:,}", border=True)
        r2.metric(t("vol.served_members"), f"{served:,}", border=True)
        r3.metric(t("vol.report_in_rate"), pct(served / registered if registered else None), border=True)
        st.dataframe(
            pd.DataFrame(
                {
                    t("vol.community", LANG): summary["community"],
                    t("vol.registered_members", LANG): summary["registered"],
                    t("vol.served_members", LANG): summary["served"],
                    t("vol.not_served", LANG): summary["not_served"],
                    t("vol.report_in_rate", LANG): summary["rate"] * 100,
                }
            ),
            hide_index=True,
            width="stretch",
            column_config={
                t("vol.report_in_rate"): st.column_config.ProgressColumn(
                    format="%.0f%%", min_value=0, max_value=100
                )
            },
        )
        show = (
            st.segmented_control(
                t("vol.show_members"),
                ["not_served", "served"],
                default="not_served",
                key=f"{KEY}_served",
                format_func=lambda x: t(f"vol.{x}"),
            )
            or "not_served"
        )
        page_no = ui.reset_page_on_change(f"{KEY}_rpage", (qp, show))
        with db_session() as s:
            members = report_in.report_in_members(
                s, me, qp, served=show == "served", page=page_no, page_size=PAGE_SIZE
            )
        st.session_state[f"{KEY}_rpage"] = members.page
        if members.total == 0:
            st.info(t("app.nothing"))
        else:
            m = members.rows
            st.dataframe(
                pd.DataFrame(
                    {
                        "ID": m["id"],
                        t("vol.name", LANG): m["name"],
                        t("vol.community", LANG): m["community"],
                        t("vol.grid", LANG): m["grid_code"],
                        t("vol.employer", LANG): m["employer_unit"].fillna(""),
                        t("vol.records", LANG): m["records"],
                        t("vol.hours_col", LANG): m["hours"],
                    }
                ),
                hide_index=True,
                width="stretch",
            )
            ui.pager(members.total, members.pages, members.page, f"{KEY}_rpage")
