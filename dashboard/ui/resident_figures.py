"""The residents' figures (居民随手拍) as the overview and the meeting report show them: resident reports and
附议 with their change, and 居民自评满意率 beside 回访满意率 (formulas: :mod:`dashboard.reporting.resident_kpi`)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.config import get_settings
from dashboard.i18n import t, t_plain
from dashboard.kernel.formatting import change_delta, pct, points_delta
from dashboard.kernel.scope import Actor
from dashboard.reporting import kpi, resident_kpi
from dashboard.reporting.kpi import Figures
from dashboard.reporting.reports import Report
from dashboard.reporting.resident_kpi import ResidentFigures
from dashboard.ui.common import db_session, plain


def resident_metrics(
    current: ResidentFigures,
    previous: ResidentFigures,
    follow_rate: float | None,
    previous_follow_rate: float | None,
) -> None:
    """Four tiles: 居民反映, 附议 (changes against the previous period), 居民自评满意率 and 回访满意率."""
    points = t_plain("report.points")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(
        t("resfig.reported"),
        f"{current.reported:,}",
        change_delta(kpi.count_change(current.reported, previous.reported)),
        delta_color="off",
        border=True,
        help=t("resfig.reported_help"),
    )
    c2.metric(
        t("resfig.supporters"),
        f"{current.supporters:,}",
        change_delta(kpi.count_change(current.supporters, previous.supporters)),
        delta_color="off",
        border=True,
        help=t("resfig.supporters_help"),
    )
    c3.metric(
        t("resfig.self_rate"),
        pct(current.self_rating_rate),
        points_delta(kpi.rate_change(current.self_rating_rate, previous.self_rating_rate), points),
        border=True,
        help=t("resfig.self_rate_help", n=current.rated, counted=current.counted),
    )
    c4.metric(
        t("resfig.follow_rate"),
        pct(follow_rate),
        points_delta(kpi.rate_change(follow_rate, previous_follow_rate), points),
        border=True,
        help=t("resfig.follow_rate_help"),
    )


@st.cache_data(ttl=60, max_entries=64, show_spinner=False)
def _overview_load(
    me: Actor, by: str, url: str, minute: str
) -> tuple[ResidentFigures, ResidentFigures, pd.DataFrame]:
    last30 = kpi.last_days(30, clock.now())
    with db_session() as s:
        current = resident_kpi.resident_figures(s, me, last30)
        previous = resident_kpi.resident_figures(s, me, last30.previous())
        per = resident_kpi.resident_figures_by(s, me, last30, by)  # type: ignore[arg-type]
    per_unit = per.set_index("key")[["reported"]].rename(columns={"reported": "resident_reported"})
    return current, previous, per_unit


def overview_panel(me: Actor, f30: Figures, p30: Figures, by: str) -> pd.DataFrame:
    """The overview's 居民随手拍 row (last 30 days against the 30 before); returns the resident reports per
    community or grid (index: id, column ``resident_reported``) for the overview's table."""
    current, previous, per_unit = _overview_load(
        me, by, get_settings().database_url, clock.now().strftime("%Y-%m-%d %H:%M")
    )
    st.subheader(t("resfig.title"))
    st.caption(t("resfig.caption_30"))
    resident_metrics(current, previous, f30.satisfaction_rate, p30.satisfaction_rate)
    return per_unit


def report_section(rep: Report) -> None:
    """The meeting report's 居民随手拍 section: its finding, the period against the previous one (the
    deck's slide and the workbook's sheet hold the same figures: reporting.tables.resident_rows)."""
    st.subheader(t("resfig.title"))
    st.info(plain(rep.findings["residents"]), icon=":material/lightbulb:")
    satisfaction = rep.headline.set_index("metric").loc["satisfaction_rate"]
    current, previous = rep.residents
    resident_metrics(
        current,
        previous,
        None if pd.isna(satisfaction["current"]) else float(satisfaction["current"]),
        None if pd.isna(satisfaction["previous"]) else float(satisfaction["previous"]),
    )
