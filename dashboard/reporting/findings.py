"""The written finding (one sentence or two) above each section of a meeting report.

Each finding is built from the section's own figures; only the category finding queries again, to say
where the largest change of the most changed category happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import pandas as pd
from sqlmodel import Session

from dashboard.i18n import t, t_plain
from dashboard.kernel.formatting import as_number, change, pct, points
from dashboard.kernel.scope import Actor
from dashboard.reporting import kpi, ranking
from dashboard.reporting.periods import Comparison
from dashboard.reporting.resident_kpi import ResidentFigures
from models.enums import Role


def _metric_name(metric: str, lang: str) -> str:
    return t(f"report.metric.{metric}", lang)


def _target_text(sat: float | None, lang: str) -> str:
    if sat is None:
        return t("report.target_none", lang)
    key = "report.target_met" if sat >= kpi.SATISFACTION_TARGET else "report.target_missed"
    return t_plain(key, lang, target=pct(kpi.SATISFACTION_TARGET, 0))


def headline_finding(headline: pd.DataFrame, lang: str, mom_word: str, has_last_year: bool = True) -> str:
    """On-time closure and satisfaction (against the target) with their changes, and cases reported
    (同比 "无数据" when the same period last year holds no case)."""
    row = headline.set_index("metric")
    sat = as_number(row.at["satisfaction_rate", "current"])
    unit = t("report.points", lang)
    return t_plain(
        "report.finding.headline",
        lang,
        mom_word=mom_word,
        on_time=pct(row.at["on_time_rate", "current"]),
        on_time_mom=points(row.at["on_time_rate", "mom"], unit),
        on_time_yoy=points(row.at["on_time_rate", "yoy"], unit)
        if has_last_year
        else t_plain("report.no_data_short", lang),
        sat=pct(sat),
        target=_target_text(sat, lang),
        reported=f"{int(row.at['reported', 'current']):,}",
        reported_mom=change(row.at["reported", "mom"]),
    )


def trend_finding(trend: pd.DataFrame, unit: str, lang: str) -> str:
    """The average and the peak of cases reported per day (or week), and the cases closed."""
    total = int(trend["reported"].sum()) if not trend.empty else 0
    if total == 0:
        return t("report.finding.trend_none", lang)
    peak = trend.loc[trend["reported"].idxmax()]
    return t_plain(
        f"report.finding.trend_{unit}",
        lang,
        avg=f"{total / len(trend):.1f}",
        peak_day=pd.Timestamp(peak["day"]).strftime("%m-%d"),
        peak=int(peak["reported"]),
        closed=f"{int(trend['closed'].sum()):,}",
    )


def _where_changed(
    session: Session, actor: Actor, comp: Comparison, category_id: int, rising: bool, now: datetime
) -> tuple[str, int]:
    """The community (or grid, in a community's report) whose cases of one category changed most."""
    by = "community" if actor.role != Role.community else "grid"
    cur = kpi.figures_by(session, actor, comp.current, by, category_id=category_id, now=now)  # type: ignore[arg-type]
    prev = kpi.figures_by(session, actor, comp.previous, by, category_id=category_id, now=now)  # type: ignore[arg-type]
    delta = cur.set_index("key")["reported"].sub(prev.set_index("key")["reported"], fill_value=0)
    delta = delta[delta != 0]
    if delta.empty:
        return "—", 0
    key = delta.idxmax() if rising else delta.idxmin()
    names = ranking.units(session, actor)[by].set_index("key")["name"]
    return str(names.get(key, "—")), int(delta[key])


def category_finding(
    session: Session,
    actor: Actor,
    comp: Comparison,
    cats: pd.DataFrame,
    lang: str,
    mom_word: str,
    now: datetime,
) -> str:
    """The category whose count changed most, and where; or the largest category when none changed."""
    if cats.empty or int(cats["reported"].sum()) == 0:
        return t("report.finding.category_none", lang)
    delta = cats["reported"] - cats["previous"]
    top = cats.loc[delta.abs().idxmax()]
    d = int(top["reported"] - top["previous"])
    if d == 0:
        share = int(cats.at[0, "reported"]) / int(cats["reported"].sum())
        return t_plain(
            "report.finding.category_flat",
            lang,
            cat=cats.at[0, "name"],
            cur=int(cats.at[0, "reported"]),
            share=pct(share, 0),
        )
    where, where_delta = _where_changed(session, actor, comp, int(top["key"]), d > 0, now)
    rel = as_number(top["change"])
    key = "category_new" if rel is None else ("category_rise" if d > 0 else "category_fall")
    return t_plain(
        f"report.finding.{key}",
        lang,
        cat=top["name"],
        mom_word=mom_word,
        pct=f"{abs(rel or 0) * 100:.0f}%",
        prev=int(top["previous"]),
        cur=int(top["reported"]),
        where=where,
        delta=f"{where_delta:+d}",
    )


def ranking_finding(ranked: pd.DataFrame, lang: str) -> str:
    """The first and the last ranked unit, and the rate that weighs most in the gap between them."""
    eligible = ranked[ranked["rank"].notna()]
    if len(eligible) < 2:
        return t_plain("report.finding.ranking_few", lang, min=ranking.MIN_CASES)
    first, last = eligible.iloc[0], eligible.iloc[-1]
    gaps = {}
    for name, weight in ranking.SCORE_WEIGHTS.items():
        a, b = as_number(first[name]), as_number(last[name])
        if a is None or b is None:
            continue
        gaps[name] = weight * ((b - a) if name in ranking.INVERTED_RATES else (a - b))
    weak = max(gaps, key=lambda k: gaps[k]) if gaps else "on_time_rate"
    return t_plain(
        "report.finding.ranking",
        lang,
        first=first["name"],
        s1=f"{first['score']:.1f}",
        last=last["name"],
        s2=f"{last['score']:.1f}",
        weak=_metric_name(weak, lang),
        weak_value=pct(last[weak]),
    )


def overdue_finding(overdue: pd.DataFrame, overdue_now: int, lang: str) -> str:
    """How many cases are overdue now, and the longest overdue one."""
    if overdue.empty:
        return t("report.finding.overdue_none", lang)
    oldest = overdue.iloc[0]
    return t_plain(
        "report.finding.overdue",
        lang,
        n=f"{overdue_now:,}",
        number=oldest["number"],
        days=f"{oldest['days_overdue']:.0f}",
        cat=oldest["category"],
        where=oldest["grid"],
    )


def volunteer_finding(
    totals: Mapping[str, float | None], gaps: pd.DataFrame, lang: str, mom_word: str
) -> str:
    """Volunteer hours with their change, people and need coverage, and the largest gap."""
    text = t_plain(
        "report.finding.volunteers",
        lang,
        hours=f"{totals['hours'] or 0:,.0f}",
        mom_word=mom_word,
        change=change(totals["change"]),
        people=f"{int(totals['volunteers'] or 0):,}",
        coverage=pct(totals["coverage"]),
    )
    if gaps.empty:
        return text + t("report.finding.gaps_none", lang)
    g = gaps.iloc[0]
    return text + t_plain(
        "report.finding.gap",
        lang,
        grid=g["name"],
        skill=g["skill"],
        need=int(g["need"]),
        supply=int(g["supply"]),
    )


def resident_finding(
    current: ResidentFigures, previous: ResidentFigures, follow_rate: float | None, lang: str, mom_word: str
) -> str:
    """居民随手拍: resident reports with their change and 附议, 居民自评满意率 (of how many ratings) beside
    回访满意率."""
    if not (current.reported or current.supporters or current.rated):
        return t_plain("report.finding.residents_none", lang, follow_rate=pct(follow_rate))
    return t_plain(
        "report.finding.residents",
        lang,
        mom_word=mom_word,
        reported=f"{current.reported:,}",
        reported_mom=change(kpi.count_change(current.reported, previous.reported)),
        supporters=f"{current.supporters:,}",
        self_rate=pct(current.self_rating_rate),
        rated=f"{current.rated:,}",
        follow_rate=pct(follow_rate),
    )
