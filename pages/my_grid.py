"""My grid (网格员, phone first): today's to-do list — cases to handle, most urgent first, and cases awaiting a
follow-up call — each acted on right here (start, resolve with a note, follow-up result); then the grid at
a glance: my figures this month against the community, population groups, buildings not reached lately,
and volunteers by skill against need."""

from __future__ import annotations

import streamlit as st

from dashboard import clock
from dashboard.i18n import t, t_plain
from dashboard.kernel.errors import DomainError
from dashboard.kernel.formatting import pct, points_delta
from dashboard.territory import my_grid, todo_list, visits
from dashboard.ui import cases as case_ui
from dashboard.ui import field as ui
from dashboard.ui.common import actor, db_session, page_title, plain
from dashboard.ui.errors import show_error
from dashboard.ui.volunteers import skill_label

me = actor()
ui.phone_css()
now = clock.now()
try:
    data = ui.current_glance(me)
except DomainError as err:
    page_title("field.my_grid")
    show_error(err)
    st.stop()
activity: my_grid.GridActivity = data["activity"]
page_title("field.my_grid", f"{plain(activity.code)} {plain(activity.name)} · {plain(activity.community)}")
case_ui.flash()

with st.container(horizontal=True, gap="small", key="my_grid_go"):
    if st.button(
        t("field.visit"), key="go_visit", icon=":material/directions_walk:", type="primary", width="stretch"
    ):
        st.switch_page(ui.VISIT_PAGE)
    if st.button(
        t("field.quick_intake"), key="go_intake", icon=":material/record_voice_over:", width="stretch"
    ):
        st.session_state.pop(ui.PREFILL_KEY, None)
        st.switch_page(ui.QUICK_INTAKE)

with db_session() as s:
    todo = todo_list.todo(s, me, now)

ui.metric_row(
    [
        (t("field.to_handle"), str(todo.handle_total), None),
        (t("field.overdue"), str(todo.overdue), None),
        (t("field.to_follow_up"), str(todo.follow_up_total), None),
    ],
    key="my_grid_counts",
)

# ---------------------------------------------------------------- to-do
st.subheader(t("field.handle_title", count=todo.handle_total))
if not todo.handle:
    st.info(t("field.nothing_to_handle"), icon=":material/task_alt:")
for item in todo.handle:
    ui.todo_card(item, me, now)
if todo.handle_total > len(todo.handle):
    st.caption(t("field.more_in_queue", count=todo.handle_total - len(todo.handle)))

st.subheader(t("field.follow_up_title", count=todo.follow_up_total))
if not todo.follow_up:
    st.info(t("field.nothing_to_follow_up"), icon=":material/task_alt:")
else:
    st.caption(t("field.follow_up_hint"))
for item in todo.follow_up:
    ui.todo_card(item, me, now)

ui.open_todo_dialog(me)

# ---------------------------------------------------------------- my grid at a glance
st.subheader(t("field.glance"))
rates: my_grid.RateComparison = data["rates"]


def _vs(mine: float | None, theirs: float | None) -> str | None:
    delta = points_delta(None if mine is None or theirs is None else mine - theirs, t_plain("report.points"))
    # plain: a metric's delta is red with a down arrow only when its text starts with a minus sign
    return t_plain("field.vs_community", delta=delta) if delta else None


ui.metric_row(
    [
        (t("field.my_on_time"), pct(rates.on_time), _vs(rates.on_time, rates.community_on_time)),
        (
            t("field.my_satisfaction"),
            pct(rates.satisfaction),
            _vs(rates.satisfaction, rates.community_satisfaction),
        ),
    ],
    key="my_grid_rates",
)
st.caption(
    t(
        "field.rates_note",
        due=rates.due,
        followed=rates.followed_up,
        on_time=pct(rates.community_on_time),
        satisfaction=pct(rates.community_satisfaction),
    )
)

with st.container(border=True, key="my_grid_activity"):
    st.markdown(f"**{t('field.activity')}**")
    if activity.blind:
        st.error(t("field.blind_now", days=activity.blind_days), icon=":material/visibility_off:")
    st.markdown(
        t(
            "field.activity_line",
            week=activity.visits_7d,
            month=activity.visits_window,
            households=activity.households_visited_window,
            days=activity.blind_days,
        )
    )
    st.caption(
        t(
            "field.last_activity",
            visit=ui.fmt_dt(activity.last_visit_at),
            case=ui.fmt_dt(activity.last_case_at),
        )
    )

with st.container(border=True, key="my_grid_population"):
    st.markdown(f"**{t('field.population')}**")
    st.markdown(
        t(
            "field.population_line",
            households=activity.households,
            residents=activity.residents,
            actual=activity.actual_residents,
        )
    )
    groups = [(ui.group_label(g), activity.population.get(g, 0)) for g in visits.VISIT_GROUPS]
    st.markdown("\n".join(f"- {name}　**{n}**" for name, n in groups if n))

buildings = data["buildings"]
with st.container(border=True, key="my_grid_buildings"):
    st.markdown(f"**{t('field.buildings_title', count=len(buildings))}**")
    due = buildings[buildings["due"]]
    if due.empty:
        st.success(t("field.all_reached", days=activity.blind_days), icon=":material/check_circle:")
    else:
        st.warning(
            t("field.not_reached", count=len(due), days=activity.blind_days), icon=":material/warning:"
        )
    for i, row in enumerate(buildings.itertuples()):
        if i == 5:
            st.caption(t("field.more_buildings", count=len(buildings) - 5))
            break
        days = None if row.days_since != row.days_since else row.days_since
        badge = ":red-badge" if row.due else ":green-badge"
        with st.container(horizontal=True, vertical_alignment="center", key=f"bld_{row.building_id}"):
            st.markdown(
                f"{badge}[{ui.days_text(days)}] **{plain(row.name)}** · {t('field.households', n=row.households)}",
                width="stretch",
            )
            if st.button(t("field.visit_here"), key=f"visit_bld_{row.building_id}", width="content"):
                st.session_state[ui.VISIT_BUILDING_KEY] = int(row.building_id)
                st.switch_page(ui.VISIT_PAGE)
    if len(buildings) > 5:
        with st.expander(t("field.all_buildings")):
            for row in buildings.itertuples():
                days = None if row.days_since != row.days_since else row.days_since
                st.markdown(
                    f"{':red-badge' if row.due else ':green-badge'}[{ui.days_text(days)}] {plain(row.name)} · "
                    f"{t('field.households', n=row.households)} · {t('field.visits_n', n=row.visits, days=activity.blind_days)}"
                )

vols = data["volunteers"]
with st.container(border=True, key="my_grid_volunteers"):
    st.markdown(f"**{t('field.volunteers_title')}**")
    if vols.empty:
        st.caption(t("field.no_need_rules"))
    else:
        gaps = int(vols["gap"].sum())
        st.caption(t("field.volunteer_gaps", gap=gaps) if gaps else t("field.volunteers_ok"))
        for row in vols.itertuples():
            share = 1.0 if row.need <= 0 else min(1.0, row.supply / row.need)
            st.progress(
                share,
                text=t("field.skill_line", skill=skill_label(row.skill), supply=row.supply, need=row.need)
                + (f" · {t('field.gap', gap=row.gap)}" if row.gap else ""),
            )
