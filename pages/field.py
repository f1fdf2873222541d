"""The field (网格员走访督导) for a community secretary, the command centre and leaders: per grid worker, visits
per week, the share of their grid's buildings reached in the blind-spot window, open load and on-time rate,
quietest grids first and highlighted, so a grid nobody walks shows up before it becomes a blind spot."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.admin.settings import cached_setting
from dashboard.config import get_settings
from dashboard.i18n import t
from dashboard.kernel.formatting import pct
from dashboard.kernel.scope import Actor
from dashboard.territory import supervision
from dashboard.ui import cases as case_ui
from dashboard.ui import field as field_ui
from dashboard.ui.common import actor, db_session, page_title, plain

me = actor()
url = get_settings().database_url
DAYS = int(cached_setting("blind_spot_days", url))
page_title("field.supervision", t("field.supervision_caption", days=DAYS))
WEEKS = [4, 8, 12]


@st.cache_data(ttl=120, max_entries=64, show_spinner=False)
def _overview(
    me: Actor, url: str, weeks: int, days: int, community_id: int | None, at: datetime
) -> pd.DataFrame:
    with db_session() as s:
        return supervision.field_overview(
            s, me, weeks=weeks, window_days=days, community_id=community_id, now=at
        )


look = case_ui.current_lookups()
communities = {cid: name for cid, _, name in look["communities"]}
c1, c2 = st.columns([3, 2])
community: int | None = None
if me.community_id is None:
    picked = c1.selectbox(
        t("field.community"),
        [None, *communities],
        key="field_comm",
        format_func=lambda c: t("app.scope_all") if c is None else communities[c],
        placeholder=t("app.all"),
    )
    community = picked
else:
    c1.markdown(f"**{t('field.community')}**　{plain(communities.get(me.community_id, ''))}")
weeks = c2.segmented_control(
    t("field.window"),
    WEEKS,
    default=4,
    required=True,
    key="field_weeks",
    format_func=lambda w: t("field.weeks", n=w),
)
now = clock.now()
with st.spinner(t("app.loading")):
    df = _overview(me, url, int(weeks or 4), DAYS, community, now.replace(second=0))

if df.empty:
    st.info(t("app.nothing"), icon=":material/info:")
    st.stop()

quiet = df[df["quiet"]]
m = st.columns(4)
m[0].metric(t("field.m_grids"), len(df), border=True)
m[1].metric(t("field.m_quiet"), len(quiet), border=True)
m[2].metric(t("field.m_visits_week"), f"{df['visits_per_week'].mean():.1f}", border=True)
m[3].metric(t("field.m_coverage"), pct(df["coverage"].mean(), 0), border=True)

if not quiet.empty:
    st.warning(t("field.quiet_title", count=len(quiet)), icon=":material/visibility_off:")
    for row in quiet.head(10).itertuples():
        reasons = []
        if row.blind:
            reasons.append(t("field.r_blind", days=DAYS))
        if (row.coverage if row.coverage == row.coverage else 0) < supervision.QUIET_COVERAGE:
            reasons.append(t("field.r_coverage", share=pct(row.coverage, 0)))
        if row.visits_per_week < supervision.QUIET_VISITS_PER_WEEK:
            reasons.append(t("field.r_visits", n=f"{row.visits_per_week:.1f}"))
        last = (
            t("field.r_last", when=field_ui.days_text(row.days_since_visit))
            if row.days_since_visit == row.days_since_visit
            else t("field.never")
        )
        st.markdown(
            f"- **{plain(row.code)}** {plain(row.worker or t('field.no_worker'))} · {plain(row.community)} · "
            + "；".join(reasons)  # translated texts: t() escaped their values
            + f" · {last}"
        )
st.caption(
    t(
        "field.quiet_rule",
        coverage=pct(supervision.QUIET_COVERAGE, 0),
        visits=supervision.QUIET_VISITS_PER_WEEK,
        days=DAYS,
    )
)

table = pd.DataFrame(
    {
        "code": df["code"],
        "worker": df["worker"].replace("", "—"),
        "community": df["community"],
        "quiet": df["quiet"].map(lambda q: t("field.quiet") if q else ""),
        "visits_per_week": df["visits_per_week"].round(1),
        "weekly": df["weekly"],
        "coverage": (df["coverage"] * 100).round(0),
        "buildings": df["buildings_visited"].astype(str) + " / " + df["buildings"].astype(str),
        "days_since_visit": df["days_since_visit"].map(field_ui.days_text),
        "open_load": df["open_load"],
        "overdue": df["overdue"],
        "on_time_rate": df["on_time_rate"].map(lambda v: "—" if v != v else pct(v)),
    }
)
if me.community_id is not None:
    table = table.drop(columns="community")


def _highlight(row: pd.Series) -> list[str]:
    return ["background-color: #fdecea; color: #922b21" if row["quiet"] else "" for _ in row]


st.dataframe(
    table.style.apply(_highlight, axis=1).format({"visits_per_week": "{:.1f}"}),
    hide_index=True,
    width="stretch",
    key="field_table",
    column_config={
        "code": st.column_config.TextColumn(t("field.c_grid"), pinned=True, width="small"),
        "worker": st.column_config.TextColumn(t("field.c_worker"), width="small"),
        "community": st.column_config.TextColumn(t("field.community")),
        "quiet": st.column_config.TextColumn(t("field.c_quiet"), width="small"),
        "visits_per_week": st.column_config.NumberColumn(t("field.c_visits_week"), width="small"),
        "weekly": st.column_config.BarChartColumn(
            t("field.c_weekly"), y_min=0, width="small", help=t("field.h_weekly", n=int(weeks or 4))
        ),
        "coverage": st.column_config.ProgressColumn(
            t("field.c_coverage"),
            min_value=0,
            max_value=100,
            format="%.0f%%",
            help=t("field.h_coverage", days=DAYS),
        ),
        "buildings": st.column_config.TextColumn(t("field.c_buildings"), width="small"),
        "days_since_visit": st.column_config.TextColumn(t("field.c_days"), width="small"),
        "open_load": st.column_config.NumberColumn(t("field.c_load"), width="small"),
        "overdue": st.column_config.NumberColumn(t("field.c_overdue"), width="small"),
        "on_time_rate": st.column_config.TextColumn(
            t("field.c_on_time"), width="small", help=t("field.h_on_time", n=int(weeks or 4))
        ),
    },
)
st.caption(t("field.table_note"))
