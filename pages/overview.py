"""Overview: the day's key figures and each community at a glance."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard import clock
from dashboard.config import get_settings
from dashboard.i18n import t
from dashboard.kernel.formatting import change_delta, pct, points_delta
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor
from dashboard.reporting import kpi
from dashboard.territory import lookups as territory
from dashboard.ui.backup import current_status, stale_warning
from dashboard.ui.common import actor, chart_text, db_session, page_title


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
        by_comm = kpi.figures_by(s, me, last30, "community", now=now)
        by_cat = kpi.figures_by(s, me, last30, "category", now=now)
        by_day = kpi.figures_by(s, me, last30, "day", now=now)
        comms = territory.communities(s)
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
        "comms": comms,
        "grids": grids,
        "cats": cats,
        "at": now,
    }


me = actor()
page_title("overview.title")
if may(me, "admin.manage"):  # the admin's start page: say when backups stopped
    stale_warning(current_status()[1])
with st.spinner(t("app.loading")):
    data = _load(me, get_settings().database_url, clock.now().strftime("%Y-%m-%d %H:%M"))
f30, p30, fm, pm = data["f30"], data["p30"], data["fm"], data["pm"]

c1, c2, c3, c4, c5 = st.columns(5)
c1.metric(t("overview.open"), f"{f30.open_now:,}", border=True)
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
    points_delta(kpi.rate_change(f30.on_time_rate, p30.on_time_rate)),
    border=True,
)
c5.metric(
    t("overview.satisfaction_30"),
    pct(f30.satisfaction_rate),
    points_delta(kpi.rate_change(f30.satisfaction_rate, p30.satisfaction_rate)),
    border=True,
)
st.caption(t("app.updated_at", at=f"{data['at']:%Y-%m-%d %H:%M}"))

grids: pd.DataFrame = data["grids"]
comms: pd.DataFrame = data["comms"]
by_comm: pd.DataFrame = data["by_comm"].set_index("key")
per = grids.groupby("community_id").agg(
    grids=("id", "count"), households=("households", "sum"), residents=("residents", "sum")
)
table = comms.set_index("id").join(per, how="inner").join(by_comm, how="left").fillna(0)
st.subheader(t("overview.per_community"))
if table.empty:
    st.info(t("app.nothing"))
else:
    show = pd.DataFrame(
        {
            t("overview.community"): table["name"],
            t("overview.grids"): table["grids"].astype(int),
            t("overview.households"): table["households"].astype(int),
            t("overview.residents"): table["residents"].astype(int),
            t("overview.reported_30"): table["reported"].astype(int),
            t("overview.closed_30"): table["closed"].astype(int),
            t("overview.open"): table["open_now"].astype(int),
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
        st.plotly_chart(fig, width="stretch", config={"displayModeBar": False})
with right:
    st.subheader(t("overview.trend"))
    by_day = data["by_day"]
    if by_day.empty:
        st.info(t("app.nothing"))
    else:
        start = (data["at"] - timedelta(days=29)).date()
        days = pd.DataFrame({"key": pd.date_range(start, data["at"].date()).date})
        series = days.merge(by_day[["key", "reported", "closed"]], on="key", how="left").fillna(0)
        long = series.melt(id_vars="key", value_vars=["reported", "closed"], var_name="kind", value_name="n")
        long["kind"] = long["kind"].map({"reported": t("overview.reported"), "closed": t("overview.closed")})
        fig = px.line(
            long,
            x="key",
            y="n",
            color="kind",
            markers=True,
            labels={"key": t("overview.day"), "n": t("overview.count"), "kind": ""},
        )
        fig.update_layout(
            height=520, margin={"l": 10, "r": 10, "t": 10, "b": 10}, legend={"orientation": "h"}
        )
        st.plotly_chart(fig, width="stretch", config={"displayModeBar": False})
