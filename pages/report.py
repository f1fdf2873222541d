"""Meeting report: a week, month, quarter or custom range, for the sub-district or one community — headline
figures with 环比 and 同比, trend, categories, rankings (考核), the longest overdue cases and volunteers, each
with a written finding; exported as a PowerPoint deck with native charts and an Excel workbook (audited).
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard import clock
from dashboard.config import get_settings
from dashboard.i18n import current_lang, label, t, t_plain
from dashboard.kernel.formatting import (
    MISSING,
    as_number,
    change,
    change_delta,
    count,
    pct,
    points,
    points_delta,
)
from dashboard.kernel.scope import Actor
from dashboard.reporting import export, kpi, periods, ranking, reports, tables
from dashboard.reporting.kpi import Period
from dashboard.territory import lookups as territory
from dashboard.ui import charts
from dashboard.ui.common import actor, chart_text, db_session, page_link, page_title, plain
from dashboard.ui.ranking_chart import score_dots
from dashboard.ui.resident_figures import report_section
from models.enums import Role

KINDS = ["week", "month", "quarter", "custom"]


@st.cache_data(ttl=300, max_entries=32, show_spinner=False)
def _report(
    me: Actor, url: str, start: str, end: str, kind: str, community_id: int | None, lang: str, minute: str
) -> reports.Report:
    period = Period(pd.Timestamp(start).to_pydatetime(), pd.Timestamp(end).to_pydatetime(), kind)  # type: ignore[arg-type]
    with db_session() as s:
        return reports.build_report(s, me, period, community_id=community_id, now=clock.now(), lang=lang)


@st.cache_data(ttl=600, max_entries=8, show_spinner=False)
def _communities(url: str) -> pd.DataFrame:
    with db_session() as s:
        return territory.communities(s)


def _finding(text: str) -> None:
    st.info(plain(text), icon=":material/lightbulb:")


def _pick_period(lang: str, today: date) -> Period:
    kind = (
        st.segmented_control(
            t("report.period_kind"),
            KINDS,
            default="month",
            key="report_kind",
            required=True,
            format_func=lambda k: t(f"report.kind_{k}"),
            width="stretch",
        )
        or "month"
    )
    if kind == "week":
        day = st.date_input(
            t("report.pick_week"), value=today - timedelta(days=7), max_value=today, key="report_week"
        )
        return kpi.week_period(day)
    if kind in ("month", "quarter"):
        choices = periods.period_choices(kind, today, 24 if kind == "month" else 8)
        # a meeting usually reviews the last complete month or quarter
        picked = st.selectbox(
            t(f"report.pick_{kind}"),
            choices,
            index=1,
            key=f"report_{kind}",
            format_func=lambda p: periods.period_label(p, lang),
        )
        return picked
    value = st.date_input(
        t("report.pick_range"), value=(today - timedelta(days=29), today), max_value=today, key="report_range"
    )
    first, last = (value[0], value[-1]) if isinstance(value, tuple) and value else (today, today)
    return periods.custom_period(first, last)


def _pick_scope(me: Actor, url: str) -> int | None:
    comms = _communities(url)
    names = dict(zip(comms["id"], comms["name"], strict=True))
    if me.role == Role.community:
        st.selectbox(
            t("report.scope"),
            [me.community_id],
            format_func=lambda c: names.get(c, "—"),
            disabled=True,
            key="report_scope_own",
        )
        return me.community_id
    return st.selectbox(
        t("report.scope"),
        [None, *comms["id"]],
        key="report_scope",
        format_func=lambda c: t("report.scope_all") if c is None else names.get(c, "—"),
        placeholder=t("app.all"),
    )


def _rate_config(columns: list[str]) -> dict[str, object]:
    return {c: st.column_config.NumberColumn(c, format="%.1f%%") for c in columns}


def _with_dashes(show: pd.DataFrame, config: dict[str, object], formats: dict[str, str]) -> pd.DataFrame:
    """Each column of `formats` that holds a missing value as text in its format, "—" where it is missing (a
    table would show "None"), without its number configuration."""
    for column, fmt in formats.items():
        if column in show and show[column].isna().any():
            show[column] = show[column].map(lambda v, f=fmt: MISSING if as_number(v) is None else f.format(v))
            config.pop(column, None)
    return show


def _headline(rep: reports.Report) -> None:
    st.subheader(t("report.section.headline"))
    _finding(rep.findings["headline"])
    h = rep.headline.set_index("metric")
    cols = st.columns(6)
    for col, metric in zip(
        cols,
        ["reported", "closed", "response_rate", "on_time_rate", "satisfaction_rate", "rework_rate"],
        strict=True,
    ):
        row = h.loc[metric]
        rate = row["kind"] == "rate"
        value = pct(row["current"]) if rate else count(row["current"])
        delta = points_delta(row["mom"], t_plain("report.points")) if rate else change_delta(row["mom"])
        yoy_text = points(row["yoy"], t_plain("report.points")) if rate else change(row["yoy"])
        if not rep.has_last_year:
            yoy_text = t("report.no_data_short")
        col.metric(
            t(f"report.metric.{metric}"),
            value,
            delta,
            border=True,
            delta_color="inverse" if metric in reports.LOWER_IS_BETTER else ("off" if not rate else "normal"),
            help=f"{t('report.yoy')} {yoy_text}",
        )
    table = tables.headline_table(rep)
    st.dataframe(
        table.drop(columns=["metric"]).rename(
            columns={
                "metric_name": t("report.col.metric"),
                "current_text": t("report.col.current"),
                "previous_text": t("report.col.previous"),
                "last_year_text": t("report.col.last_year"),
                "mom_text": t("report.col.mom"),
                "yoy_text": t("report.col.yoy"),
            }
        ),
        hide_index=True,
        width="stretch",
    )


def _trend(rep: reports.Report) -> None:
    st.subheader(t("report.section.trend"))
    _finding(rep.findings["trend"])
    day_label = t("report.col.week" if rep.trend_unit == "week" else "report.col.day")
    if rep.trend_unit == "day":  # a running period ends today: its part of a day drawn dotted
        fig = charts.daily_trend(
            list(rep.trend["day"]),
            [(t_plain(f"report.col.{c}"), list(rep.trend[c])) for c in ("reported", "closed")],
            rep.generated_at,
            x_title=day_label,
            y_title=t_plain("report.col.cases"),
            height=360,
        )
        charts.show(fig, key="report_trend")
        return
    long = rep.trend.melt(id_vars="day", value_vars=["reported", "closed"], var_name="kind", value_name="n")
    long["kind"] = long["kind"].map({"reported": t("report.col.reported"), "closed": t("report.col.closed")})
    fig = px.line(
        long,
        x="day",
        y="n",
        color="kind",
        markers=True,
        labels={"day": day_label, "n": t("report.col.cases"), "kind": ""},
    )
    fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 10, "b": 10}, legend={"orientation": "h"})
    charts.show(fig, key="report_trend")


def _categories(rep: reports.Report) -> None:
    st.subheader(t("report.section.categories"))
    _finding(rep.findings["categories"])
    cats = rep.categories
    if cats.empty:
        st.info(t("report.no_data"))
        return
    left, right = st.columns([1, 1])
    top = cats.head(12).iloc[::-1]
    long = top.melt(id_vars="name", value_vars=["reported", "previous"], var_name="kind", value_name="n")
    long["name"] = chart_text(long["name"])
    long["kind"] = long["kind"].map(
        {"reported": t("report.col.current"), "previous": t("report.col.previous")}
    )
    fig = px.bar(
        long,
        x="n",
        y="name",
        color="kind",
        orientation="h",
        barmode="group",
        labels={"n": t("report.col.cases"), "name": "", "kind": ""},
    )
    fig.update_layout(height=460, margin={"l": 10, "r": 10, "t": 10, "b": 10}, legend={"orientation": "h"})
    charts.show(fig, where=left, key="report_categories")
    names = {
        "name": t("report.col.category"),
        "reported": t("report.col.current"),
        "previous": t("report.col.previous"),
        "change": t("report.col.change"),
        "on_time_rate": t("report.metric.on_time_rate"),
        "satisfaction_rate": t("report.metric.satisfaction_rate"),
        "overdue_now": t("report.col.overdue_now"),
    }
    show = cats[list(names)].copy()
    for c in ("change", "on_time_rate", "satisfaction_rate"):
        show[c] = show[c] * 100
    config = _rate_config([names["on_time_rate"], names["satisfaction_rate"]])
    config[names["change"]] = st.column_config.NumberColumn(names["change"], format="%+.0f%%")
    rates = dict.fromkeys([names["on_time_rate"], names["satisfaction_rate"]], "{:.1f}%")
    shown = _with_dashes(show.rename(columns=names), config, {names["change"]: "{:+.0f}%", **rates})
    right.dataframe(shown, hide_index=True, width="stretch", height=460, column_config=config)


def _ranking_table(ranked: pd.DataFrame) -> None:
    names = {
        "rank": t("report.col.rank"),
        "name": t("report.col.name"),
        "cases": t("report.col.cases"),
        "on_time_rate": t("report.metric.on_time_rate"),
        "satisfaction_rate": t("report.metric.satisfaction_rate"),
        "rework_rate": t("report.metric.rework_rate"),
        "response_rate": t("report.metric.response_rate"),
        "overdue_now": t("report.col.overdue_now"),
        "score": t("report.col.score"),
        "few_cases": t("report.col.few_cases"),
    }
    show = ranked[list(names)].copy()
    for c in ("on_time_rate", "satisfaction_rate", "rework_rate", "response_rate"):
        show[c] = show[c] * 100
    rate_columns = [names[c] for c in ("on_time_rate", "satisfaction_rate", "rework_rate", "response_rate")]
    config = _rate_config(rate_columns)
    rates = dict.fromkeys(rate_columns, "{:.1f}%")
    config[names["score"]] = st.column_config.ProgressColumn(
        names["score"], format="%.1f", min_value=0, max_value=100
    )
    st.dataframe(
        _with_dashes(
            show.rename(columns=names), config, {names["rank"]: "{:.0f}", names["score"]: "{:.1f}", **rates}
        ),
        hide_index=True,
        width="stretch",
        column_config=config,
        height=min(560, 38 + 35 * len(show)),
    )


def _rankings(rep: reports.Report) -> None:
    tabs = st.tabs([t(f"report.section.ranking_{by}") for by in rep.rankings])
    for tab, (by, ranked) in zip(tabs, rep.rankings.items(), strict=True):
        with tab:
            _finding(rep.findings[f"ranking_{by}"])
            if by != "grid" and ranked["score"].notna().any():
                fig = score_dots(
                    chart_text(ranked["name"]).tolist(),
                    ranked["score"].tolist(),
                    t_plain("report.col.score"),
                    t_plain("report.no_data_short"),
                )
                charts.show(fig, key=f"report_rank_{by}")
            _ranking_table(ranked)
    st.caption(t("report.score_formula", min=ranking.MIN_CASES))


def _overdue(rep: reports.Report) -> None:
    st.subheader(t("report.section.overdue"))
    _finding(rep.findings["overdue"])
    if rep.overdue.empty:
        return
    show = rep.overdue.copy()
    show["status"] = show["status"].map(lambda s: label("status", s))
    names = {c.field: tables.column_header(c, rep.lang) for c in tables.OVERDUE}
    st.dataframe(
        show[list(names)].rename(columns=names),
        hide_index=True,
        width="stretch",
        column_config={
            names["due_at"]: st.column_config.DatetimeColumn(names["due_at"], format="YYYY-MM-DD HH:mm"),
            names["days_overdue"]: st.column_config.NumberColumn(names["days_overdue"], format="%.1f"),
        },
    )


def _volunteers(rep: reports.Report) -> None:
    st.subheader(t("report.section.volunteers"))
    _finding(rep.findings["volunteers"])
    tot = rep.volunteer_totals
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(
        t("report.total.hours"),
        f"{tot['hours'] or 0:,.0f}",
        change_delta(tot["change"]),
        border=True,
    )
    c2.metric(t("report.total.volunteers"), f"{int(tot['volunteers'] or 0):,}", border=True)
    c3.metric(t("report.total.coverage"), pct(tot["coverage"]), border=True)
    c4.metric(t("report.total.gap"), f"{int(tot['gap'] or 0):,}", border=True)
    left, right = st.columns([1, 1])
    hours = rep.volunteer_hours
    if not hours.empty:
        top = hours.head(15).iloc[::-1].assign(name=lambda d: chart_text(d["name"]))
        fig = px.bar(
            top, x="hours", y="name", orientation="h", labels={"hours": t("report.col.hours"), "name": ""}
        )
        fig.update_layout(height=max(260, 28 * len(top)), margin={"l": 10, "r": 10, "t": 10, "b": 10})
        charts.show(fig, where=left, key="report_hours")
    with right:
        st.markdown(f"**{t('report.section.gaps')}**")
        names = {c.field: tables.column_header(c, rep.lang) for c in tables.GAPS}
        st.dataframe(rep.gaps[list(names)].rename(columns=names), hide_index=True, width="stretch")


def _outlook(rep: reports.Report) -> None:
    """研判预警: the open alerts of the morning run in the report's scope, the strongest listed."""
    st.subheader(t("report.section.outlook"))
    _finding(rep.findings["outlook"])
    if rep.outlook.table.empty:
        return
    names = {c.field: tables.column_header(c, rep.lang) for c in tables.OUTLOOK}
    show = pd.DataFrame(
        {names[c.field]: [c.text(v, rep.lang) for v in rep.outlook.table[c.field]] for c in tables.OUTLOOK}
    )
    st.dataframe(show, hide_index=True, width="stretch")
    page_link("pages/warning.py", t("warning.title"), ":material/crisis_alert:")


def _exports(me: Actor, rep: reports.Report) -> None:
    st.subheader(t("report.export"))
    stem = export.file_stem(rep)

    def _deck() -> bytes:
        with db_session() as s:
            return export.export(s, me, rep, "pptx")

    def _workbook() -> bytes:
        with db_session() as s:
            return export.export(s, me, rep, "xlsx")

    c1, c2 = st.columns([1, 1])
    c1.download_button(
        t("report.download_pptx"),
        data=_deck,
        file_name=f"{stem}.pptx",
        mime=export.PPTX_MIME,
        key="report_pptx",
        icon=":material/slideshow:",
        on_click="ignore",
        width="stretch",
        type="primary",
    )
    c2.download_button(
        t("report.download_xlsx"),
        data=_workbook,
        file_name=f"{stem}.xlsx",
        mime=export.XLSX_MIME,
        key="report_xlsx",
        icon=":material/table_view:",
        on_click="ignore",
        width="stretch",
    )
    st.caption(t("report.export_note"))


me = actor()
lang = current_lang()
url = get_settings().database_url
now = clock.now()
page_title("report.title", t("report.caption"))
c1, c2, c3 = st.columns([1.4, 1.2, 1.2])
with c1:
    kind_period = _pick_period(lang, now.date())
with c3:
    community_id = _pick_scope(me, url)
with st.spinner(t("report.building")):
    rep = _report(
        me,
        url,
        kind_period.start.isoformat(),
        kind_period.end.isoformat(),
        kind_period.kind,
        community_id,
        lang,
        f"{now:%Y-%m-%d %H:%M}",
    )
comp = rep.comparison
with c2:
    st.markdown(f"**{plain(rep.title)}**  \n{plain(rep.period_label)}")
if comp.partial:
    st.caption(
        t(
            "report.partial",
            now=f"{comp.current.end:%Y-%m-%d %H:%M}",
            previous=periods.period_label(comp.previous, lang),
            last_year=periods.period_label(comp.last_year, lang),
        )
    )
else:
    st.caption(
        t(
            "report.compared",
            previous=periods.period_label(comp.previous, lang),
            last_year=periods.period_label(comp.last_year, lang),
        )
    )

_headline(rep)
report_section(rep)
_trend(rep)
_categories(rep)
_rankings(rep)
_overdue(rep)
_volunteers(rep)
_outlook(rep)
_exports(me, rep)
