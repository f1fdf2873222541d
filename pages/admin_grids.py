"""Communities and grids (admin): names and codes, the grid worker (with the history of who held the grid),
and population aggregates with the date they apply from. Boundaries change only through a GeoJSON import."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.admin import grids as grid_admin
from dashboard.admin import population
from dashboard.config import get_settings
from dashboard.i18n import label, t, t_plain
from dashboard.kernel.formatting import pct
from dashboard.kernel.scope import Actor
from dashboard.reporting import kpi
from dashboard.ui.admin import AdminPage
from dashboard.ui.common import db_session, page_link
from dashboard.ui.qr_posters import community_section, grid_section

IMPORT_PAGE = "pages/import_data.py"
NO_WORKER = 0  # the "(none)" choice of the worker picker (user ids start at 1)


PAGE = AdminPage("admin.grids", t("admin.grid_caption"), "admin_grid_flash")
me = PAGE.me


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def _worker_figures(me: Actor, user_ids: tuple[int, ...], url: str, hour: str) -> dict[int, kpi.Figures]:
    """Each worker's figures of the last year, counted by the grids they held when cases were reported."""
    period = kpi.last_days(365)
    with db_session() as s:
        return {u: grid_admin.worker_figures(s, u, period, actor=me) for u in user_ids}


with st.container(border=True):
    st.markdown(t("admin.grid_boundaries_note"))
    page_link(IMPORT_PAGE, t("admin.grid_import_link"), ":material/upload_file:")

with db_session() as s:
    if population.apply_due_population(s):  # figures entered ahead of time whose date has come
        st.cache_data.clear()
    grids = grid_admin.grid_table(s)
    candidates = grid_admin.worker_candidates(s)
communities = (
    grids[["community_id", "community_code", "community"]].drop_duplicates().sort_values("community_code")
)
comm_label = {int(r.community_id): f"{r.community_code} · {r.community}" for r in communities.itertuples()}

comm_id = st.selectbox(
    t("admin.grid_community"), list(comm_label), format_func=lambda i: comm_label[i], key="grid_comm"
)
in_comm = grids[grids["community_id"] == comm_id]
st.dataframe(
    pd.DataFrame(
        {
            t("admin.code"): in_comm["code"],
            t("admin.field.name"): in_comm["name"],
            t("admin.grid_worker"): in_comm["worker"].fillna("—"),
            label("population", "households"): in_comm["households"],
            label("population", "residents"): in_comm["residents"],
            t("admin.population_as_of"): in_comm["population_as_of"],
        }
    ),
    hide_index=True,
    width="stretch",
)

with st.expander(t("admin.grid_edit_community")):
    current = communities[communities["community_id"] == comm_id].iloc[0]
    with st.form(f"comm_form_{comm_id}"):
        c1, c2 = st.columns([2, 1])
        comm_name = c1.text_input(
            t("admin.field.name"), current["community"], max_chars=64, key=f"comm_{comm_id}_name"
        )
        comm_code = c2.text_input(
            t("admin.code"),
            current["community_code"],
            max_chars=16,
            key=f"comm_{comm_id}_code",
            help=t("admin.comm_code_help"),
        )
        comm_saved = st.form_submit_button(t("admin.save"), type="primary", key=f"comm_{comm_id}_save")
    if comm_saved:
        PAGE.save(
            lambda s: grid_admin.update_community(s, me, comm_id, name=comm_name, code=comm_code),
            t("admin.saved", what=comm_name.strip()),
        )

community_section(me, comm_id, str(current["community_code"]))

grid_rows = {int(r["id"]): r for _, r in in_comm.iterrows()}
grid_id = st.selectbox(
    t("admin.grid_pick"),
    list(grid_rows),
    index=None,
    placeholder=t("admin.choose"),
    key="grid_pick",
    format_func=lambda i: f"{grid_rows[i]['code']} · {grid_rows[i]['name']}",
)
if grid_id is None:
    st.stop()
grid = grid_rows[grid_id]
tab_basic, tab_worker, tab_population, tab_qr = st.tabs(
    [t("admin.grid_basic"), t("admin.grid_worker"), t("admin.grid_population"), t("qr.tab")]
)

with tab_basic:
    with st.form(f"grid_form_{grid_id}"):
        c1, c2 = st.columns([2, 1])
        name = c1.text_input(t("admin.field.name"), grid["name"], max_chars=64, key=f"grid_{grid_id}_name")
        code = c2.text_input(
            t("admin.code"),
            grid["code"],
            max_chars=16,
            key=f"grid_{grid_id}_code",
            help=t("admin.grid_code_help", example=f"{grid['community_code']}-07"),
        )
        saved = st.form_submit_button(t("admin.save"), type="primary", key=f"grid_{grid_id}_save")
    if saved:
        PAGE.save(
            lambda s: grid_admin.update_grid(s, me, grid_id, name=name, code=code),
            t("admin.saved", what=code.strip().upper()),
        )

with tab_worker:
    current_worker = int(grid["worker_id"]) if pd.notna(grid["worker_id"]) else None
    st.markdown(t("admin.worker_current", name=grid["worker"] if current_worker else "—"))
    with db_session() as s:
        movable = grid_admin.movable_case_count(s, me, grid_id)
        history = grid_admin.worker_history(s, grid_id)
    figures = _worker_figures(
        me,
        tuple(int(u) for u in history["user_id"].unique()[:10]),
        get_settings().database_url,
        clock.now().strftime("%Y-%m-%d %H"),
    )
    workers = {int(r.id): r for r in candidates.itertuples()}

    def _worker_label(i: int) -> str:
        """Plain text (a selectbox option; t() escapes it where it is a value)."""
        if i == NO_WORKER:
            return t("admin.worker_none")
        w = workers[i]
        held = f" · {t_plain('admin.worker_holds', code=w.grid_code)}" if w.grid_code else ""
        return f"{w.display_name} ({w.username}){held}"

    options = [NO_WORKER, *workers]
    with st.form(f"worker_form_{grid_id}"):
        new_worker = st.selectbox(
            t("admin.worker_new"),
            options,
            format_func=_worker_label,
            index=options.index(current_worker) if current_worker in options else 0,
            key=f"worker_{grid_id}_pick",
        )
        move = st.checkbox(
            t("admin.worker_move", n=movable),
            value=False,
            key=f"worker_{grid_id}_move",
            disabled=not movable,
            help=t("admin.worker_move_help"),
        )
        assigned = st.form_submit_button(
            t("admin.worker_assign"), type="primary", key=f"worker_{grid_id}_save"
        )
    if assigned:
        PAGE.attempt(
            lambda s: grid_admin.assign_worker(s, me, grid_id, new_worker or None, move_open_cases=move),
            lambda result: t(
                "admin.worker_assigned",
                code=grid["code"],
                name=_worker_label(new_worker),
                n=len(result.moved_case_ids),
            ),
        )

    st.subheader(t("admin.worker_history"))
    if history.empty:
        st.info(t("admin.worker_no_history"))
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    t("admin.grid_worker"): history["display_name"],
                    t("admin.worker_from"): history["started_at"],
                    t("admin.worker_to"): history["ended_at"],
                    t("admin.worker_reported"): [
                        figures[int(u)].reported if int(u) in figures else None for u in history["user_id"]
                    ],
                    t("admin.worker_closed"): [
                        figures[int(u)].closed if int(u) in figures else None for u in history["user_id"]
                    ],
                    t("admin.worker_on_time"): [
                        pct(figures[int(u)].on_time_rate) if int(u) in figures else "—"
                        for u in history["user_id"]
                    ],
                }
            ),
            hide_index=True,
            width="stretch",
        )
        st.caption(t("admin.worker_figures_note"))

with tab_population:
    with db_session() as s:
        current_pop = population.population_history(s, grid_id)
        values = population.grid_population(s, grid_id)
    with st.form(f"pop_form_{grid_id}"):
        effective = st.date_input(
            t("admin.population_from"),
            value=clock.now().date(),
            key=f"pop_{grid_id}_from",
            min_value=date(2000, 1, 1),
            help=t("admin.population_from_help"),
        )
        entered: dict[str, int] = {}
        cols = st.columns(4)
        for index, key in enumerate(population.POPULATION_KEYS):
            entered[key] = cols[index % 4].number_input(
                label("population", key),
                min_value=0,
                max_value=population.MAX_POPULATION,
                step=1,
                value=int(values.get(key, 0)),
                key=f"pop_{grid_id}_{key}",
            )
        pop_saved = st.form_submit_button(t("admin.save"), type="primary", key=f"pop_{grid_id}_save")
    if pop_saved:
        PAGE.attempt(
            lambda s: population.set_population(s, me, grid_id, entered, effective),
            lambda applied: t(
                "admin.population_applied" if applied else "admin.population_recorded",
                code=grid["code"],
                day=f"{effective:%Y-%m-%d}",
            ),
        )
    st.subheader(t("admin.population_history"))
    if current_pop.empty:
        st.info(t("app.nothing"))
    else:
        st.dataframe(
            current_pop.rename(
                columns={
                    "effective_from": t("admin.population_as_of"),
                    "changed_at": t("admin.at"),
                    "changed_by": t("admin.actor"),
                    **{k: label("population", k) for k in population.POPULATION_KEYS},
                }
            ),
            hide_index=True,
            width="stretch",
        )

with tab_qr:
    grid_section(me, grid_id)
