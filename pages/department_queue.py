"""Department queue (吹哨报到): the cases a department was called in on or dispatched, with their deadlines,
searched like the triage queue; newest work first, the overdue ones as their own view; the handler reports
back (报到) or works the case from here."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.cases import change as case_change
from dashboard.cases import department, queue
from dashboard.cases import view as case_view
from dashboard.cases.department import DeptView
from dashboard.i18n import label, t
from dashboard.kernel import privacy
from dashboard.kernel.formatting import pct
from dashboard.reporting import kpi
from dashboard.ui import cases as ui
from dashboard.ui.common import actor, db_session, page_title, plain, selected_rows
from models.enums import ACTIVE_STATUSES, Role

me = actor()
page_title("dept.title", t("dept.caption"))
ui.flash()
DEPTS = {did: name for did, _, name in ui.current_lookups()["departments"]}

if me.role == Role.department:
    dept = me.department_id
    if dept is None:
        st.warning(t("dept.no_department"))
        st.stop()
    st.markdown(f"**{plain(DEPTS.get(dept, ''))}**")
elif me.reads_all:
    if "dq_dept" not in st.session_state:
        raw = st.query_params.get("dept", "")
        st.session_state["dq_dept"] = (
            int(raw) if raw.isdigit() and int(raw) in DEPTS else next(iter(DEPTS), None)
        )
    dept = st.selectbox(t("dept.department"), list(DEPTS), key="dq_dept", format_func=lambda i: DEPTS[i])
    if dept is not None and st.query_params.get("dept") != str(dept):
        st.query_params["dept"] = str(dept)
else:
    st.error(t("app.forbidden"))
    st.stop()
if dept is None:
    st.info(t("app.nothing"))
    st.stop()

now = clock.now()
with db_session() as s:
    figures = kpi.escalation_figures(s, me, kpi.last_days(90, now), now, department_id=dept)
row = figures.iloc[0] if len(figures) else None
c1, c2, c3, c4 = st.columns(4)
c1.metric(t("dept.escalated_90"), f"{int(row['escalated']) if row is not None else 0:,}", border=True)
c2.metric(t("dept.pending"), f"{int(row['pending']) if row is not None else 0:,}", border=True)
c3.metric(t("dept.overdue"), f"{int(row['overdue_now']) if row is not None else 0:,}", border=True)
c4.metric(
    t("dept.on_time_rate"),
    pct(None if row is None or pd.isna(row["on_time_rate"]) else row["on_time_rate"]),
    border=True,
)

# ---------------------------------------------------------------- search and view (both lists)
top = st.columns([3, 2])
hint = "queue.search_hint" if privacy.searchable(me, "case") == "substring" else "queue.search_hint_exact"
text = top[0].text_input(t("queue.search"), key="dq_q", placeholder=t(hint), max_chars=60).strip()
view: DeptView = (
    top[1].segmented_control(
        t("dept.view"),
        list(department.DEPT_VIEWS),
        key="dq_view",
        default="new",
        required=True,
        format_func=lambda v: t(f"dept.view_{v}"),
    )
    or "new"
)

# ---------------------------------------------------------------- escalations to the department
st.subheader(t("dept.escalations"))
pager_key = f"dq_pager_{dept}_{view}_{text}"
with st.spinner(t("app.loading")), db_session() as s:
    esc = department.department_escalations(
        s, me, dept, view=view, text=text, page=int(st.session_state.get(pager_key) or 1), now=now
    )
chosen: int | None = None
if esc.rows.empty:
    st.info(t("dept.no_escalations"), icon=":material/inbox:")
else:
    rows = esc.rows
    table = pd.DataFrame(
        {
            t("queue.col_number"): rows["number"],
            t("queue.col_title"): rows["title"],
            t("dept.col_level"): rows["level"].map(lambda v: label("escalation", v)),
            t("dept.col_escalated_at"): rows["escalated_at"].map(ui.fmt_dt),
            t("dept.col_due"): rows["due_at"].map(ui.fmt_dt),
            t("dept.col_state"): [
                t("dept.state_done")
                if pd.notna(back)
                else (t("dept.state_overdue") if late else t("dept.state_pending"))
                for back, late in zip(rows["reported_back_at"], rows["overdue"], strict=True)
            ],
            t("dept.col_left"): [
                ui.clock_text(due, now, pd.isna(back))
                for due, back in zip(rows["due_at"], rows["reported_back_at"], strict=True)
            ],
            t("queue.col_status"): rows["status"].map(lambda v: label("status", v)),
            t("dept.col_case_due"): rows["case_due_at"].map(ui.fmt_dt),
            t("dept.col_report"): rows["report"],
        }
    )
    event = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        key="dq_escalations",
        on_select="rerun",
        selection_mode="single-row",
    )
    if esc.pages > 1:
        st.pagination(esc.pages, default=esc.page, key=pager_key)
    picked = selected_rows(event, len(rows))
    if picked:
        chosen = int(rows.iloc[picked[0]]["case_id"])
    else:
        st.caption(t("dept.select_hint"))

# ---------------------------------------------------------------- cases dispatched to the department
st.subheader(t(f"dept.dispatched_{view}"))
dispatched_key = f"dq_dispatched_pager_{dept}_{view}_{text}"
with db_session() as s:
    groups = kpi.open_counts(s, me, department_id=dept)
    mine = queue.queue_page(
        s,
        me,
        department.department_cases_filters(dept, view, text),
        page=int(st.session_state.get(dispatched_key) or 1),
        now=now,
    )
st.caption(f"{plain(groups.breakdown())}　{t('dept.dispatched_note')}")
handled = mine.rows
if handled.empty:
    st.info(t(f"dept.no_dispatched_{view}"), icon=":material/inbox:")
else:
    running = handled["status"].isin([s.value for s in ACTIVE_STATUSES])
    table2 = pd.DataFrame(
        {
            t("queue.col_ageing"): handled["ageing"].map(ui.ageing_text),
            t("queue.col_number"): handled["number"],
            t("queue.col_title"): handled["title"],
            t("queue.col_status"): handled["status"].map(lambda v: label("status", v)),
            t("case.dispatched_at"): handled["dispatched_at"].map(ui.fmt_dt),
            t("queue.col_due"): handled["due_at"].map(ui.fmt_dt),
            t("queue.col_left"): [
                ui.clock_text(d, now, r) for d, r in zip(handled["due_at"], running, strict=True)
            ],
            t("queue.col_grid"): handled["grid_code"],
        }
    )
    event2 = st.dataframe(
        ui.style_ageing(table2, t("queue.col_ageing"), handled["ageing"]),
        hide_index=True,
        width="stretch",
        key="dq_dispatched",
        on_select="rerun",
        selection_mode="single-row",
    )
    if mine.pages > 1:
        st.pagination(mine.pages, default=mine.page, key=dispatched_key)
    picked2 = selected_rows(event2, len(handled))
    if picked2 and chosen is None:
        chosen = int(handled.iloc[picked2[0]]["id"])

# ---------------------------------------------------------------- the chosen case: report back, work it
if chosen is not None:
    with db_session() as s:
        detail = case_view.case_detail(s, me, chosen)
    if detail is not None:
        st.divider()
        st.markdown(f"**{detail.number}** · {label('status', detail.status)}")
        st.text(detail.title)
        ui.action_buttons(detail, me, case_change.allowed_actions(me, detail.state))
        if st.button(t("case.open_case", number=detail.number), key="dq_open", icon=":material/open_in_new:"):
            st.switch_page(ui.CASE_PAGE, query_params={"case": detail.number})
