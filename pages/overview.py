"""Overview: the day's key figures in the user's scope, and each community (or each grid of a community or a
grid worker) at a glance. A role that reads no case, the volunteer manager, gets the volunteers' figures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard import clock
from dashboard.config import get_settings
from dashboard.i18n import t, t_plain
from dashboard.kernel.formatting import change_delta, pct, points_delta
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor
from dashboard.reporting import kpi, reports
from dashboard.reporting.periods import compare_periods
from dashboard.territory import lookups as territory
from dashboard.ui import charts
from dashboard.ui.backup import current_status, stale_warning
from dashboard.ui.common import actor, chart_text, db_session, page_title, plain
from dashboard.ui.resident_figures import overview_panel
from dashboard.ui.volunteers import skill_label
from dashboard.volunteers import registry


def _per_grid(me: Actor) -> bool:
    """A community's or a grid worker's overview lists its grids; the others list the communities."""
    return me.community_id is not None or me.grid_id is not None


@st.cache_data(ttl=60, max_entries=64, show_spinner=False)
def _load(me: Actor, url: str, day: str) -> dict:
    now = clock.now()
    last30 = kpi.last_days(30, now)
    month = kpi.month_period(now.date()).clipped(now)
    prev_month = kpi.month_period(month.previous().start.date())
    prev_month = kpi.Period(prev_month.start, prev_month.start + (month.end - month.start), "custom")
    with db_session() as s:
        f30 = kpi.figures(s, me, last30, now=now)
        p30 = kpi.figures(s, me, last30.previous(), now=now)
        fm = kpi.figures(s, me, month, now=now)
        pm = kpi.figures(s, me, prev_month, now=now)
        by_comm = kpi.figures_by(s, me, last30, "grid" if _per_grid(me) else "community", now=now)
        groups = kpi.open_counts(s, me)
        by_cat = kpi.figures_by(s, me, last30, "category", now=now)
        by_day = kpi.figures_by(s, me, last30, "day", now=now)
        comms = territory.communities(s)
        depts = territory.departments(s, include_inactive=True)
        grids = territory.grids(s, me)
        cats = territory.categories(s, include_retired=True)
    return {
        "f30": f30,
        "p30": p30,
        "fm": fm,
        "pm": pm,
        "by_comm": by_comm,
        "by_cat": by_cat,
        "by_day": by_day,
        "open": groups,
        "comms": comms,
        "depts": depts,
        "grids": grids,
        "cats": cats,
        "at": now,
    }


@st.cache_data(ttl=60, max_entries=16, show_spinner=False)
def _volunteer_load(me: Actor, url: str, day: str) -> dict:
    """The volunteer manager's figures: registered volunteers, this month's verified hours (with 环比),
    the volunteers who served, coverage and the gaps, per community."""
    now = clock.now()
    month = compare_periods(kpi.month_period(now.date()), now)
    with db_session() as s:
        per, totals, gaps = reports.volunteer_figures(s, me, month, now)
        active = registry.count_volunteers(s, me, registry.VolunteerQuery(status="active"), now)
    return {"per": per, "totals": totals, "gaps": gaps, "active": active, "at": now}


def _volunteer_overview(me: Actor) -> None:
    data = _volunteer_load(me, get_settings().database_url, clock.now().strftime("%Y-%m-%d %H:%M"))
    tot = data["totals"]
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.metric(t("overview.vol_active"), f"{data['active']:,}", border=True)
    c2.metric(
        t("overview.vol_hours"),
        f"{tot['hours'] or 0:,.1f}",
        change_delta(tot["change"]),
        delta_color="off",
        border=True,
    )
    c3.metric(t("overview.vol_served"), f"{int(tot['volunteers'] or 0):,}", border=True)
    c4.metric(t("overview.vol_coverage"), pct(tot["coverage"]), border=True, help=t("vol.coverage_help"))
    c5.metric(t("overview.vol_gap"), f"{int(tot['gap'] or 0):,}", border=True)
    st.caption(t("app.updated_at", at=f"{data['at']:%Y-%m-%d %H:%M}"))
    left, right = st.columns(2)
    with left:
        _volunteer_table(
            t("overview.vol_per_community"),
            data["per"],
            lambda per: {
                t("overview.community"): per["name"],
                t("overview.vol_hours"): per["hours"].round(1),
                t("overview.vol_served"): per["volunteers"].astype(int),
                t("overview.vol_records"): per["records"].astype(int),
            },
        )
    with right:
        _volunteer_table(
            t("overview.vol_gaps"),
            data["gaps"],
            lambda gaps: {
                t("overview.community"): gaps["community"],
                t("overview.grid"): gaps["code"] + " " + gaps["name"],
                t("vol.skills"): gaps["skill"].map(skill_label),
                t("overview.vol_gap"): gaps["gap"].astype(int),
            },
        )


def _volunteer_table(
    title: str, rows: pd.DataFrame, columns: Callable[[pd.DataFrame], dict[str, pd.Series]]
) -> None:
    """One of the volunteer manager's tables under its heading: the `columns` built from `rows`, or "nothing"."""
    st.subheader(title)
    if rows.empty:
        st.info(t("app.nothing"))
    else:
        st.dataframe(pd.DataFrame(columns(rows)), hide_index=True, width="stretch")


def _scope_label(me: Actor, data: dict) -> str:
    """全街道, 部门 城管, 社区 项里社区, or 网格 XL-01-01 项里社区第1网格: what the figures of this page cover."""
    if me.grid_id is not None:
        mine = data["grids"][data["grids"]["id"] == me.grid_id]
        if not mine.empty:
            return t("overview.scope_grid", code=mine.iloc[0]["code"], name=mine.iloc[0]["name"])
    if me.department_id is not None:
        names = data["depts"].set_index("id")["name"]
        return t("overview.scope_department", name=names.get(me.department_id, ""))
    if me.community_id is not None:
        names = data["comms"].set_index("id")["name"]
        return t("overview.scope_community", name=names.get(me.community_id, ""))
    return t("app.scope_all")


me = actor()
page_title("overview.title")
if may(me, "admin.manage"):  # the admin's start page: say when backups stopped
    stale_warning(current_status()[1])
if not may(me, "case.read"):  # the volunteer manager: the volunteers' figures, no case figures
    with st.spinner(t("app.loading")):
        _volunteer_overview(me)
    st.stop()
with st.spinner(t("app.loading")):
    data = _load(me, get_settings().database_url, clock.now().strftime("%Y-%m-%d %H:%M"))
f30, p30, fm, pm = data["f30"], data["p30"], data["fm"], data["pm"]
grids: pd.DataFrame = data["grids"]
comms: pd.DataFrame = data["comms"]
st.caption(f"{t('app.scope')}: {_scope_label(me, data)}")

c1, c2, c3, c4, c5 = st.columns(5)
c1.metric(
    t("status_group.in_hand"), f"{data['open'].in_hand:,}", border=True, help=t("status_group.in_hand_help")
)
c2.metric(t("overview.overdue"), f"{f30.overdue_now:,}", border=True)
c3.metric(
    t("overview.this_month"),
    f"{fm.reported:,}",
    change_delta(kpi.count_change(fm.reported, pm.reported)),
    delta_color="off",
    border=True,
)
c4.metric(
    t("overview.on_time_30"),
    pct(f30.on_time_rate),
    points_delta(kpi.rate_change(f30.on_time_rate, p30.on_time_rate), t_plain("report.points")),
    border=True,
)
c5.metric(
    t("overview.satisfaction_30"),
    pct(f30.satisfaction_rate),
    points_delta(kpi.rate_change(f30.satisfaction_rate, p30.satisfaction_rate), t_plain("report.points")),
    border=True,
)
updated = t("app.updated_at", at=f"{data['at']:%Y-%m-%d %H:%M}")
st.caption(f"{plain(data['open'].breakdown())} · {updated}", help=t("status_group.not_closed_help"))
resident_reports = overview_panel(me, f30, p30, "grid" if _per_grid(me) else "community")

by_unit: pd.DataFrame = data["by_comm"].set_index("key")
if not _per_grid(me):  # each community
    per = grids.groupby("community_id").agg(
        grids=("id", "count"), households=("households", "sum"), residents=("residents", "sum")
    )
    table = comms.set_index("id").join(per, how="inner").join(by_unit, how="left").fillna(0)
else:  # each grid of the community, or the worker's own grid: never the whole community's name
    table = grids.assign(name=grids["code"] + " " + grids["name"]).set_index("id")
    table = table.join(by_unit, how="left").fillna(0)
table = table.join(resident_reports, how="left").fillna({"resident_reported": 0})
st.subheader(t("overview.per_grid" if _per_grid(me) else "overview.per_community"))
if table.empty:
    st.info(t("app.nothing"))
else:
    show = pd.DataFrame(
        {
            t("overview.grid" if _per_grid(me) else "overview.community"): table["name"],
            **({} if _per_grid(me) else {t("overview.grids"): table["grids"].astype(int)}),
            t("overview.households"): table["households"].astype(int),
            t("overview.residents"): table["residents"].astype(int),
            t("overview.reported_30"): table["reported"].astype(int),
            t("resfig.per_unit"): table["resident_reported"].astype(int),
            t("overview.closed_30"): table["closed"].astype(int),
            t("status_group.in_hand"): table["open_now"].astype(int),
            t("overview.overdue"): table["overdue_now"].astype(int),
            t("overview.on_time_30"): table["on_time_rate"] * 100,
            t("overview.satisfaction_30"): table["satisfaction_rate"] * 100,
        }
    )
    st.dataframe(
        show,
        hide_index=True,
        width="stretch",
        height=35 * (len(show) + 1) + 3,
        column_config={
            t("overview.on_time_30"): st.column_config.NumberColumn(format="%.1f%%"),
            t("overview.satisfaction_30"): st.column_config.NumberColumn(format="%.1f%%"),
        },
    )

left, right = st.columns(2)
with left:
    st.subheader(t("overview.by_category"))
    cats = data["cats"]
    name_col = "name_zh" if st.session_state.get("lang", "zh") == "zh" else "name_en"
    by_cat = data["by_cat"].merge(cats[["id", name_col]], left_on="key", right_on="id", how="left")
    by_cat = by_cat[by_cat["reported"] > 0].sort_values("reported")
    by_cat[name_col] = chart_text(by_cat[name_col])
    if by_cat.empty:
        st.info(t("app.nothing"))
    else:
        fig = px.bar(
            by_cat,
            x="reported",
            y=name_col,
            orientation="h",
            labels={"reported": t("overview.count"), name_col: t("overview.category")},
        )
        fig.update_layout(height=520, margin={"l": 10, "r": 10, "t": 10, "b": 10})
        charts.show(fig)
with right:
    st.subheader(t("overview.trend"))
    by_day = data["by_day"]
    if by_day.empty:
        st.info(t("app.nothing"))
    else:
        start = (data["at"] - timedelta(days=29)).date()
        days = pd.DataFrame({"key": pd.date_range(start, data["at"].date()).date})
        series = days.merge(by_day[["key", "reported", "closed"]], on="key", how="left").fillna(0)
        fig = charts.daily_trend(
            list(series["key"]),
            [
                (t_plain("overview.reported"), list(series["reported"])),
                (t_plain("overview.closed"), list(series["closed"])),
            ],
            data["at"],
            x_title=t_plain("overview.day"),
            y_title=t_plain("overview.count"),
        )
        charts.show(fig)
