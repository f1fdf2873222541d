"""Matching volunteers to a case (``?case=NUMBER``) or to a need (``?grid=CODE&skill=…``): candidates ranked
by skill fit, distance (home grid, neighbouring grids, same community) with recent activity, current load and
recency; assigning one writes the case timeline and can plan a service record. Without a case number it
offers the user's recent open cases and the most urgent ones; a closed or rejected case is refused."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.i18n import current_lang, label, t
from dashboard.kernel.errors import DomainError
from dashboard.ui import volunteers as ui
from dashboard.ui.case_picker import case_picker
from dashboard.ui.cases import category_name
from dashboard.ui.common import actor, db_session, page_link, page_title, plain
from dashboard.ui.errors import run_action, show_error
from dashboard.volunteers import hours, matching, registry

KEY = "volmatch"
LIMIT = 20

me = actor()
page_title("vol.matching", t("vol.matching_caption"))
LANG = current_lang()
look = ui.current_lookups(me)
grids = look["grids"]
flash = st.session_state.pop(f"{KEY}_flash", None)
if flash:
    st.success(flash)

# Query parameters choose the mode and pre-fill it once.
qp_state = (st.query_params.get("case"), st.query_params.get("grid"), st.query_params.get("skill"))
if st.session_state.get(f"{KEY}_qp") != qp_state:
    st.session_state[f"{KEY}_qp"] = qp_state
    case_qp, grid_qp, skill_qp = qp_state
    if case_qp:
        st.session_state[f"{KEY}_mode"] = "case"
        st.session_state[f"{KEY}_case"] = case_qp[:24]
    elif grid_qp:
        st.session_state[f"{KEY}_mode"] = "need"
        with db_session() as s:
            st.session_state[f"{KEY}_grid"] = registry.grid_by_code(s, me, grid_qp)
        if skill_qp in ui.SKILL_OPTIONS:
            st.session_state[f"{KEY}_skills"] = [skill_qp]

with db_session() as s:
    sees_cases = matching.sees_cases(s, me)
modes = ["case", "need"] if sees_cases else ["need"]
if st.session_state.get(f"{KEY}_mode") not in modes:
    st.session_state[f"{KEY}_mode"] = modes[0]
mode = (
    st.segmented_control(
        t("vol.match_from"),
        modes,
        key=f"{KEY}_mode",
        format_func=lambda m: t(f"vol.match_from_{m}"),
    )
    or modes[0]
)
if not sees_cases:
    st.caption(t("vol.no_case_access"))

target_grid: int | None = None
skills: list[str] = []
found: matching.CaseForMatching | None = None
if mode == "case":
    number = st.text_input(
        t("vol.case_number"), key=f"{KEY}_case", max_chars=24, placeholder="XL20260101-0001"
    ).strip()
    if not number:
        st.info(t("vol.enter_case"))
        if picked := case_picker(me, f"{KEY}_pick", open_only=True):
            st.query_params["case"] = picked
            st.rerun()
        st.stop()
    with db_session() as s:
        found = matching.case_for_matching(s, me, number)
    if found is None:
        st.warning(t("vol.case_not_visible", number=number))
        st.stop()
    if not found.assignable:
        st.warning(t("vol.case_not_assignable", number=found.number, status=label("status", found.status)))
        st.stop()
    c1, c2, c3, c4 = st.columns([1.2, 2.5, 1, 1])
    c1.metric(t("vol.case_number"), found.number)
    c2.markdown(f"**{t('vol.case_title')}**  \n{plain(found.title)}")
    c3.metric(t("vol.category"), plain(category_name(found.category_zh, found.category_en)))  # Markdown
    c4.metric(t("vol.case_status"), label("status", found.status))
    target_grid = found.grid_id
    st.caption(t("vol.case_grid", code=found.grid_code))
    if f"{KEY}_skills_{found.id}" not in st.session_state:
        st.session_state[f"{KEY}_skills_{found.id}"] = list(found.skills)
    skills = st.multiselect(
        t("vol.skills_wanted"),
        ui.SKILL_OPTIONS,
        key=f"{KEY}_skills_{found.id}",
        format_func=ui.skill_label,
        help=t("vol.skills_wanted_help"),
        placeholder=t("app.all"),
    )
    if not found.skills:
        st.caption(t("vol.no_category_skills"))
else:
    n1, n2 = st.columns([1, 2])
    grid_ids = grids["id"].tolist()
    if st.session_state.get(f"{KEY}_grid") not in grid_ids:
        st.session_state[f"{KEY}_grid"] = None
    target_grid = n1.selectbox(
        t("vol.grid"),
        grid_ids,
        key=f"{KEY}_grid",
        format_func=ui.grid_label(grids),
        placeholder=t("vol.pick_placeholder"),
    )
    skills = n2.multiselect(
        t("vol.skills_wanted"),
        ui.SKILL_OPTIONS,
        key=f"{KEY}_skills",
        format_func=ui.skill_label,
        help=t("vol.skills_wanted_help"),
        placeholder=t("app.all"),
    )
    if target_grid is None or not skills:
        st.info(t("vol.enter_need"))
        st.stop()

if not skills:
    st.info(t("vol.enter_need"))
    st.stop()

exclude = list(found.assigned) if found else []
try:
    with db_session() as s:
        candidates = matching.match_volunteers(
            s, me, grid_id=int(target_grid), skills=skills, exclude=exclude, limit=LIMIT
        )
except DomainError as exc:
    show_error(exc)
    st.stop()

st.subheader(t("vol.candidates"))
st.caption(t("vol.ranking_help"))
if found and found.assigned:
    st.caption(t("vol.already_assigned_n", n=len(found.assigned)))
if candidates.empty:
    st.info(t("vol.no_candidates"))
    st.stop()

st.dataframe(
    pd.DataFrame(
        {
            t("vol.rank", LANG): range(1, len(candidates) + 1),
            t("vol.name", LANG): candidates["name"],
            t("vol.phone", LANG): candidates["phone"],
            t("vol.home_grid", LANG): candidates["grid_code"],
            t("vol.community", LANG): candidates["community"],
            t("vol.distance_col", LANG): candidates["distance"].map(
                lambda d: t(ui.DISTANCE_KEYS[int(d)], LANG)
            ),
            t("vol.activity_col", LANG): candidates["activity"].map(
                lambda a: t(ui.ACTIVITY_KEYS[int(a)], LANG)
            ),
            t("vol.fit", LANG): candidates["fit"].map(
                lambda f: t("vol.fit_full" if f == 2 else "vol.fit_partial", LANG)
            ),
            t("vol.skills", LANG): candidates["skills"].map(ui.skills_text),
            t("vol.load", LANG): candidates["load_hours"],
            t("vol.last_service", LANG): candidates["last_service_at"],
        }
    ),
    hide_index=True,
    width="stretch",
    key=f"{KEY}_candidates",
    column_config={
        t("vol.last_service"): st.column_config.DateColumn(format="YYYY-MM-DD"),
        t("vol.load"): st.column_config.NumberColumn(format="%.1f"),
    },
)

if found is None:
    code = grids.set_index("id").loc[target_grid, "code"]
    page_link(
        "pages/volunteers.py",
        t("vol.registry_of", code=code),
        ":material/volunteer_activism:",
        {"grid": code},
    )
    st.stop()

# ---------------------------------------------------------------- assign to the case
st.subheader(t("vol.assign"))
labels = {
    int(r.volunteer_id): f"{i}. {r.name} · {r.grid_code}" for i, r in enumerate(candidates.itertuples(), 1)
}
a1, a2 = st.columns([2, 1])
pick = a1.selectbox(t("vol.volunteer"), list(labels), key=f"{KEY}_pick_{found.id}", format_func=labels.get)
own = candidates.set_index("volunteer_id").loc[pick, "skills"] if pick is not None else []
skill = a2.selectbox(
    t("vol.assign_skill"), own or skills, key=f"{KEY}_skill_{found.id}_{pick}", format_func=ui.skill_label
)
plan = st.checkbox(t("vol.plan_record"), key=f"{KEY}_plan", help=t("vol.plan_help"))
plan_start: datetime | None = None
plan_hours = 0.0
if plan:
    p1, p2, p3 = st.columns(3)
    tomorrow = clock.now().date() + timedelta(days=1)
    day = p1.date_input(t("vol.date"), tomorrow, min_value=clock.now().date(), key=f"{KEY}_plan_day")
    at = p2.time_input(t("vol.start_time"), time(9, 0), step=900, key=f"{KEY}_plan_time")
    plan_hours = p3.number_input(
        t("vol.hours_col"),
        min_value=0.5,
        max_value=hours.MAX_RECORD_HOURS,
        value=2.0,
        step=0.5,
        key=f"{KEY}_plan_hours",
    )
    plan_start = datetime.combine(day, at)
if st.button(
    t("vol.assign_button"),
    key=f"{KEY}_assign",
    type="primary",
    icon=":material/person_add:",
    disabled=pick is None,
):
    ok, _ = run_action(
        matching.assign_volunteer,
        me,
        case_id=found.id,
        volunteer_id=int(pick),
        skill=skill,
        expected_version=found.version,
        plan_start=plan_start,
        plan_hours=plan_hours,
    )
    if ok:
        st.session_state[f"{KEY}_flash"] = t("vol.assigned", name=labels[int(pick)], number=found.number)
        ui.data_changed()
        st.rerun()
