"""Volunteer coverage (DESIGN §7): need from population and recent cases through the editable rule table,
supply of active volunteers, coverage per grid × skill (heatmap), the ranked gap list, totals per community."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.i18n import current_lang, label, t
from dashboard.kernel.formatting import pct
from dashboard.kernel.policy import may
from dashboard.ui import charts
from dashboard.ui import volunteers as ui
from dashboard.ui.cases import current_lookups
from dashboard.ui.common import actor, db_session, page_link, page_title
from dashboard.ui.coverage_chart import coverage_heatmap
from dashboard.ui.errors import run_action
from dashboard.volunteers import need

GAP_ROWS = 30
KEY = "volcov"

me = actor()
page_title("vol.coverage", t("vol.coverage_caption"))
LANG = current_lang()
flash = st.session_state.pop(f"{KEY}_flash", None)
if flash:
    st.success(flash)

with st.spinner(t("app.loading")):
    data = ui.current_coverage(me)
cells: pd.DataFrame = data["cells"]
by_comm: pd.DataFrame = data["communities"]
by_skill: pd.DataFrame = data["skills"]

if cells.empty:
    st.info(t("vol.no_rules"))
else:
    total_need, covered = int(cells["need"].sum()), int(cells["covered"].sum())
    grid_totals = cells.groupby("grid_id").agg(need=("need", "sum"), gap=("gap", "sum"))
    k1, k2, k3, k4, k5 = st.columns(5)
    k1.metric(t("vol.total_need"), f"{total_need:,}", border=True)
    k2.metric(
        t("vol.total_supply"), f"{int(cells['supply'].sum()):,}", border=True, help=t("vol.supply_help")
    )
    k3.metric(
        t("vol.coverage_total"),
        pct(covered / total_need if total_need else None),
        border=True,
        help=t("vol.coverage_help"),
    )
    k4.metric(t("vol.gap_total"), f"{int(cells['gap'].sum()):,}", border=True)
    k5.metric(
        t("vol.grids_full"), f"{int((grid_totals['gap'] == 0).sum())} / {len(grid_totals)}", border=True
    )

    # ---------------------------------------------------------------- heatmap
    comm_ids = by_comm["community_id"].tolist()
    names = dict(zip(by_comm["community_id"], by_comm["community"], strict=True))
    h1, h2 = st.columns([3, 1], vertical_alignment="bottom")
    h1.subheader(t("vol.heatmap"), help=t("vol.heat_caption"))
    pick = h2.selectbox(
        t("vol.community"),
        [None, *comm_ids],
        key=f"{KEY}_comm",
        label_visibility="collapsed",
        format_func=lambda c: t("vol.all_communities") if c is None else names.get(c, str(c)),
        placeholder=t("app.all"),
    )
    shown = cells if pick is None else cells[cells["community_id"] == pick]
    fig = coverage_heatmap(need.heatmap_rows(cells, community_id=pick), LANG)
    charts.show(fig, key=f"{KEY}_heatmap")

    # ---------------------------------------------------------------- gap list
    left, right = st.columns([3, 2])
    with left.container(key=f"{KEY}_gap_box"):
        st.subheader(t("vol.gap_list"))
        gaps = need.gap_list(shown)
        if gaps.empty:
            st.success(t("vol.no_gaps"))
        else:
            top = gaps.head(GAP_ROWS)
            st.dataframe(
                pd.DataFrame(
                    {
                        t("vol.rank", LANG): range(1, len(top) + 1),
                        t("vol.grid", LANG): top["code"] + " " + top["name"],
                        t("vol.community", LANG): top["community"],
                        t("vol.skill_label", LANG): top["skill"].map(ui.skill_label),
                        t("vol.need", LANG): top["need"],
                        t("vol.supply", LANG): top["supply"],
                        t("vol.gap", LANG): top["gap"],
                        t("vol.dormant", LANG): top["dormant"],
                        t("vol.coverage_short", LANG): top["coverage"].fillna(0) * 100,
                    }
                ),
                hide_index=True,
                width="stretch",
                height=420,
                key=f"{KEY}_gaps",
                column_config={
                    t("vol.coverage_short"): st.column_config.ProgressColumn(
                        format="%.0f%%", min_value=0, max_value=100
                    ),
                    t("vol.dormant"): st.column_config.NumberColumn(help=t("vol.dormant_help")),
                },
            )
            st.caption(t("vol.gap_caption", shown=len(top), total=len(gaps)))
            first = top.iloc[0]
            l1, l2 = st.columns(2)
            page_link(
                "pages/matching.py",
                t("vol.match_biggest", code=first["code"], skill=ui.skill_label(first["skill"])),
                ":material/handshake:",
                {"grid": first["code"], "skill": first["skill"]},
                where=l1,
            )
            page_link(
                "pages/volunteers.py",
                t("vol.registry_of", code=first["code"]),
                ":material/volunteer_activism:",
                {"grid": first["code"]},
                where=l2,
            )
    with right:
        st.subheader(t("vol.by_skill"))
        sk = by_skill[by_skill["need"] > 0]
        st.dataframe(
            pd.DataFrame(
                {
                    t("vol.skill_label", LANG): sk["skill"].map(ui.skill_label),
                    t("vol.need", LANG): sk["need"],
                    t("vol.supply", LANG): sk["supply"],
                    t("vol.gap", LANG): sk["gap"],
                    t("vol.coverage_short", LANG): sk["coverage"] * 100,
                }
            ),
            hide_index=True,
            width="stretch",
            column_config={
                t("vol.coverage_short"): st.column_config.ProgressColumn(
                    format="%.0f%%", min_value=0, max_value=100
                )
            },
        )

    # ---------------------------------------------------------------- per community and per grid
    tab_comm, tab_grid = st.tabs([t("vol.per_community"), t("vol.per_grid")])
    with tab_comm:
        st.dataframe(
            pd.DataFrame(
                {
                    t("vol.community", LANG): by_comm["community"],
                    t("vol.grids", LANG): by_comm["grids"],
                    t("vol.need", LANG): by_comm["need"],
                    t("vol.supply", LANG): by_comm["supply"],
                    t("vol.covered", LANG): by_comm["covered"],
                    t("vol.gap", LANG): by_comm["gap"],
                    t("vol.grids_full", LANG): by_comm["grids_full"],
                    t("vol.coverage_short", LANG): by_comm["coverage"] * 100,
                }
            ),
            hide_index=True,
            width="stretch",
            key=f"{KEY}_communities",
            column_config={
                t("vol.coverage_short"): st.column_config.ProgressColumn(
                    format="%.1f%%", min_value=0, max_value=100
                )
            },
        )
    with tab_grid:
        per_grid = need.grid_totals(cells)
        st.dataframe(
            pd.DataFrame(
                {
                    t("vol.grid_code", LANG): per_grid["code"],
                    t("vol.grid", LANG): per_grid["name"],
                    t("vol.community", LANG): per_grid["community"],
                    t("vol.need", LANG): per_grid["need"],
                    t("vol.supply", LANG): per_grid["supply"],
                    t("vol.covered", LANG): per_grid["covered"],
                    t("vol.gap", LANG): per_grid["gap"],
                    t("vol.coverage_short", LANG): per_grid["coverage"] * 100,
                }
            ),
            hide_index=True,
            width="stretch",
            key=f"{KEY}_grids",
            column_config={
                t("vol.coverage_short"): st.column_config.ProgressColumn(
                    format="%.1f%%", min_value=0, max_value=100
                )
            },
        )
        st.caption(t("vol.per_grid_caption"))

# ---------------------------------------------------------------- need rules (one editable table)
st.subheader(t("vol.rules"))
editable = may(me, "volunteer.edit_rules")
fields = "、".join(label("population", f, LANG) for f in need.BASIS_FIELDS)
st.caption(t("vol.rules_help", fields=fields))
with db_session() as s:
    rules = need.need_rules(s)
nonce = st.session_state.get(f"{KEY}_rules_nonce", 0)
table = rules[need.RULE_COLUMNS].copy() if not rules.empty else pd.DataFrame(columns=need.RULE_COLUMNS)
table["id"] = table["id"].astype("Int64")
CATEGORY_NAMES = {code: (zh, en) for _, code, zh, en, _ in current_lookups()["categories"]}
table["basis"] = table["basis"].map(lambda b: need.basis_label(b, CATEGORY_NAMES, LANG))
edited = st.data_editor(
    table,
    key=f"{KEY}_rules_{nonce}",
    hide_index=True,
    width="stretch",
    num_rows="dynamic" if editable else "fixed",
    disabled=["id"] if editable else True,
    column_config={
        "id": st.column_config.NumberColumn("ID", disabled=True),
        "skill": st.column_config.SelectboxColumn(
            t("vol.skill_label"), options=ui.SKILL_OPTIONS, required=True
        ),
        "basis": st.column_config.TextColumn(
            t("vol.basis"), help=t("vol.basis_help"), required=True, max_chars=64
        ),
        "per": st.column_config.NumberColumn(
            t("vol.per"), help=t("vol.per_help"), min_value=0, required=True
        ),
        "minimum": st.column_config.NumberColumn(
            t("vol.minimum"), min_value=0, step=1, required=True, default=0
        ),
        "window_days": st.column_config.NumberColumn(
            t("vol.window_days"),
            help=t("vol.window_help"),
            min_value=1,
            max_value=3650,
            step=1,
            default=90,
            required=True,
        ),
        "active": st.column_config.CheckboxColumn(t("vol.rule_active"), default=True),
        "note": st.column_config.TextColumn(t("vol.note"), max_chars=500),
    },
)
if editable:
    s1, s2, _ = st.columns([1, 1, 4])
    if s1.button(t("vol.rules_save"), key=f"{KEY}_rules_save", type="primary", icon=":material/save:"):
        rows = []
        for rec in edited.to_dict("records"):
            row = {
                k: (None if isinstance(v, float) and np.isnan(v) or v is pd.NA else v) for k, v in rec.items()
            }
            rows.append({**row, "basis": need.basis_code(str(row.get("basis") or ""), CATEGORY_NAMES)})
        ok, changes = run_action(need.save_need_rules, me, rows)
        if ok:
            st.session_state[f"{KEY}_flash"] = t(
                "vol.rules_saved", added=changes.added, updated=changes.updated, removed=changes.removed
            )
            st.session_state[f"{KEY}_rules_nonce"] = nonce + 1
            ui.data_changed()
            st.rerun()
    if s2.button(t("vol.rules_reset"), key=f"{KEY}_rules_reset", icon=":material/undo:"):
        st.session_state[f"{KEY}_rules_nonce"] = nonce + 1
        st.rerun()
