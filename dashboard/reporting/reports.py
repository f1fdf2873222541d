"""Meeting reports (周/月/季报): every figure, table and finding a report shows, as plain data.

Everything here is built from the figures of :mod:`dashboard.reporting.kpi` (one formula per figure) and a
few small SQL aggregates; nothing loads individual cases except the ten longest overdue ones. The periods
compared are :mod:`~dashboard.reporting.periods`', the ranking score :mod:`~dashboard.reporting.ranking`'s
and the written findings :mod:`~dashboard.reporting.findings`'; the page, the deck and the workbook all
render the :class:`Report` built here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session

from dashboard import clock
from dashboard.i18n import t, t_plain
from dashboard.kernel import privacy
from dashboard.kernel.formatting import as_number
from dashboard.kernel.scope import Actor, case_filter
from dashboard.reporting import alert_digest, findings, kpi, ranking
from dashboard.reporting.kpi import Figures, Period
from dashboard.reporting.periods import Comparison, compare_periods, comparison_word, period_label
from dashboard.reporting.resident_kpi import ResidentFigures, resident_figures
from dashboard.territory import lookups as territory
from dashboard.volunteers.hours import service_totals
from dashboard.volunteers.need import coverage_matrix, gap_list
from models import Case, Category, Community, Department, Grid
from models.enums import Role

COUNT_METRICS = ("reported", "accepted", "closed")
RATE_METRICS = (
    "response_rate",
    "on_time_rate",
    "closure_rate",
    "resolution_rate",
    "satisfaction_rate",
    "rework_rate",
    "escalation_rate",
)
LOWER_IS_BETTER = frozenset({"rework_rate", "escalation_rate"})

DAILY_TREND_MAX_DAYS = 62
"""Longer periods are trended per week."""


def report_actor(actor: Actor, community_id: int | None) -> Actor:
    """The actor whose scope a report reads: the actor's own, narrowed to one community when asked.

    A sub-district role looking at one community reads as that community (so every service's scope filter
    applies unchanged); a community user always reads their own community, whatever is asked. Only ever
    narrows: a community user cannot widen their scope here.
    """
    if actor.role == Role.community:
        return actor
    if community_id is None:
        return actor
    if not actor.reads_all:
        return actor
    return replace(actor, role=Role.community, community_id=community_id, grid_id=None, department_id=None)


@dataclass
class Report:
    """Everything a meeting report shows, as plain data (page, PowerPoint and Excel all render this)."""

    lang: str
    comparison: Comparison
    scope_name: str
    community_id: int | None  # None: the whole sub-district
    generated_at: datetime
    # metric, kind (count|rate), current, previous, last_year, mom, yoy, lower_is_better
    headline: pd.DataFrame
    overdue_now: int
    trend: pd.DataFrame  # day, reported, closed (per day, or per week starting that day)
    trend_unit: str  # "day" | "week"
    # key, code, name, reported, previous, change, on_time_rate, satisfaction_rate, overdue_now
    categories: pd.DataFrame
    rankings: dict[str, pd.DataFrame]  # "community" (sub-district scope only), "grid", "department"
    # number, title, category, community, grid, department, status, due_at, days_overdue, reporter,
    # address (personal data masked)
    overdue: pd.DataFrame
    volunteer_hours: pd.DataFrame  # key, name, hours, volunteers, records (per community, or per grid)
    volunteer_totals: dict[str, float | None]  # hours, previous_hours, change, volunteers, records, coverage
    gaps: pd.DataFrame  # community, code, name (grid), skill, need, supply, gap (largest first)
    has_last_year: bool = True  # False: no case in the same period last year (去年同期 and 同比 are "无数据")
    # 居民随手拍 of the period and of the previous one (resident reports, 附议, 居民自评)
    residents: tuple[ResidentFigures, ResidentFigures] = field(
        default_factory=lambda: (ResidentFigures(), ResidentFigures())
    )
    outlook: alert_digest.Outlook = field(default_factory=lambda: alert_digest.Outlook(None))  # 研判预警
    findings: dict[str, str] = field(default_factory=dict)

    @property
    def period_label(self) -> str:
        return period_label(self.comparison.requested, self.lang)

    @property
    def title(self) -> str:
        return t_plain("report.deck_title", self.lang, scope=self.scope_name)

    @property
    def mom_word(self) -> str:
        return comparison_word(self.comparison.requested.kind, self.lang)


def _category_names(session: Session, lang: str) -> pd.DataFrame:
    cats = territory.categories(session, include_retired=True)
    if cats.empty:
        return pd.DataFrame(columns=["key", "code", "name"])
    name_col = "name_zh" if lang == "zh" else "name_en"
    return pd.DataFrame({"key": cats["id"], "code": cats["code"], "name": cats[name_col]})


def _headline(cur: Figures, prev: Figures, last_year: Figures | None) -> pd.DataFrame:
    """Every metric now, 环比 and 同比; `last_year` None (no case then) leaves 去年同期 and 同比 absent."""
    rows = []
    for m in COUNT_METRICS:
        c, p = getattr(cur, m), getattr(prev, m)
        y = None if last_year is None else getattr(last_year, m)
        rows.append(
            {
                "metric": m,
                "kind": "count",
                "current": float(c),
                "previous": float(p),
                "last_year": None if y is None else float(y),
                "mom": kpi.count_change(c, p),
                "yoy": None if y is None else kpi.count_change(c, y),
                "lower_is_better": False,
            }
        )
    for m in RATE_METRICS:
        c, p = getattr(cur, m), getattr(prev, m)
        y = None if last_year is None else getattr(last_year, m)
        rows.append(
            {
                "metric": m,
                "kind": "rate",
                "current": c,
                "previous": p,
                "last_year": y,
                "mom": kpi.rate_change(c, p),
                "yoy": kpi.rate_change(c, y),
                "lower_is_better": m in LOWER_IS_BETTER,
            }
        )
    df = pd.DataFrame(rows)
    for c in ("current", "previous", "last_year", "mom", "yoy"):
        df[c] = df[c].astype("float64")
    return df


def _trend(session: Session, actor: Actor, current: Period, now: datetime) -> tuple[pd.DataFrame, str]:
    by_day = kpi.figures_by(session, actor, current, "day", now=now)
    first = current.start.date()
    last = max(first, (current.end - timedelta(microseconds=1)).date())
    days = pd.DataFrame({"day": pd.date_range(first, last).date})
    series = days.merge(
        by_day[["key", "reported", "closed"]].rename(columns={"key": "day"}), on="day", how="left"
    ).fillna(0)
    series[["reported", "closed"]] = series[["reported", "closed"]].astype("int64")
    if len(series) <= DAILY_TREND_MAX_DAYS:
        return series, "day"
    stamps = pd.to_datetime(series["day"])
    monday = (stamps - pd.to_timedelta(stamps.dt.weekday, unit="D")).dt.date
    weekly = series.assign(day=monday).groupby("day", as_index=False)[["reported", "closed"]].sum()
    return weekly, "week"


def _categories(
    session: Session, actor: Actor, comp: Comparison, names: pd.DataFrame, now: datetime
) -> pd.DataFrame:
    cur = kpi.figures_by(session, actor, comp.current, "category", now=now)
    prev = kpi.figures_by(session, actor, comp.previous, "category", now=now)
    df = names.merge(
        cur[["key", "reported", "on_time_rate", "satisfaction_rate", "overdue_now"]], on="key", how="left"
    )
    df = df.merge(prev[["key", "reported"]].rename(columns={"reported": "previous"}), on="key", how="left")
    for c in ("reported", "previous", "overdue_now"):
        df[c] = df[c].fillna(0).astype("int64")
    df = df[(df["reported"] > 0) | (df["previous"] > 0)].copy()
    df["change"] = [
        kpi.count_change(int(c), int(p)) for c, p in zip(df["reported"], df["previous"], strict=True)
    ]
    df["change"] = df["change"].astype("float64")
    df = df.sort_values(["reported", "previous"], ascending=False).reset_index(drop=True)
    return df[
        [
            "key",
            "code",
            "name",
            "reported",
            "previous",
            "change",
            "on_time_rate",
            "satisfaction_rate",
            "overdue_now",
        ]
    ]


def longest_overdue(
    session: Session, actor: Actor, *, limit: int = 10, now: datetime | None = None, lang: str = "zh"
) -> pd.DataFrame:
    """The `limit` open cases longest past their due time, in scope; reporter and address masked.

    Overdue is kpi's 超期: still being handled (reported … in progress) and past due_at.
    """
    now = now or clock.now()
    cat_name = Category.name_zh if lang == "zh" else Category.name_en
    stmt = (
        select(
            Case.number,
            Case.title,
            cat_name,
            Community.name,
            Grid.name,
            Department.name,
            Case.status,
            Case.due_at,
            Case.reporter_name,
            Case.address,
        )
        .join(Category, Category.id == Case.category_id)
        .join(Grid, Grid.id == Case.grid_id)
        .join(Community, Community.id == Case.community_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .where(kpi.is_active(), Case.due_at < now, case_filter(actor), kpi.not_duplicate())
        .order_by(Case.due_at, Case.id)
        .limit(limit)
    )
    cols = [
        "number",
        "title",
        "category",
        "community",
        "grid",
        "department",
        "status",
        "due_at",
        "reporter",
        "address",
    ]
    df = pd.DataFrame(session.exec(stmt).all(), columns=cols)  # type: ignore[call-overload]
    # Meeting reports are projected and handed round: personal data is masked for every role.
    df["reporter"] = df["reporter"].map(privacy.mask_name).astype(object)
    df["address"] = df["address"].map(privacy.mask_address).astype(object)
    df["department"] = df["department"].fillna("").astype(object)
    df["days_overdue"] = [round((now - d).total_seconds() / 86400, 1) for d in df["due_at"]]
    df["days_overdue"] = df["days_overdue"].astype("float64")
    return df[
        [
            "number",
            "title",
            "category",
            "community",
            "grid",
            "department",
            "status",
            "due_at",
            "days_overdue",
            "reporter",
            "address",
        ]
    ]


def volunteer_figures(
    session: Session, actor: Actor, comp: Comparison, now: datetime
) -> tuple[pd.DataFrame, dict[str, float | None], pd.DataFrame]:
    """Verified service hours per community (or grid, in a community's report), totals and the gap list
    (also the volunteer manager's overview)."""
    by = "community" if actor.role != Role.community else "grid"
    per = service_totals(session, actor, by, comp.current)  # type: ignore[arg-type]
    per = per.rename(columns={"label": "name"})[["key", "name", "hours", "volunteers", "records"]]
    people = service_totals(session, actor, "volunteer", comp.current)
    before = service_totals(session, actor, by, comp.previous)  # type: ignore[arg-type]
    hours = float(per["hours"].sum())
    previous_hours = float(before["hours"].sum())
    cells = coverage_matrix(session, actor, now)
    need = int(cells["need"].sum()) if not cells.empty else 0
    covered = int(cells["covered"].sum()) if not cells.empty else 0
    totals: dict[str, float | None] = {
        "hours": round(hours, 1),
        "previous_hours": round(previous_hours, 1),
        "change": kpi.count_change(round(hours), round(previous_hours)),
        "volunteers": float(len(people)),
        "records": float(per["records"].sum()),
        "coverage": covered / need if need else None,
        "gap": float(cells["gap"].sum()) if not cells.empty else 0.0,
    }
    gap_cols = ["community", "code", "name", "skill", "need", "supply", "gap"]
    gaps = gap_list(cells, limit=10)[gap_cols] if not cells.empty else pd.DataFrame(columns=gap_cols)
    return per.reset_index(drop=True), totals, gaps.reset_index(drop=True)


def _scope_name(session: Session, reader: Actor, lang: str) -> str:
    if reader.role != Role.community:
        return t("app.scope_all", lang)
    comms = territory.communities(session).set_index("id")["name"]
    return str(comms.get(reader.community_id, "—"))


def _write_findings(session: Session, reader: Actor, report: Report, now: datetime) -> dict[str, str]:
    lang, mom_word = report.lang, report.mom_word
    return {
        "headline": findings.headline_finding(report.headline, lang, mom_word, report.has_last_year),
        "trend": findings.trend_finding(report.trend, report.trend_unit, lang),
        "categories": findings.category_finding(
            session, reader, report.comparison, report.categories, lang, mom_word, now
        ),
        **{f"ranking_{by}": findings.ranking_finding(df, lang) for by, df in report.rankings.items()},
        "overdue": findings.overdue_finding(report.overdue, report.overdue_now, lang),
        "volunteers": findings.volunteer_finding(report.volunteer_totals, report.gaps, lang, mom_word),
        "residents": findings.resident_finding(
            *report.residents,
            as_number(report.headline.set_index("metric").at["satisfaction_rate", "current"]),
            lang,
            mom_word,
        ),
        "outlook": report.outlook.finding,
    }


def build_report(
    session: Session,
    actor: Actor,
    period: Period,
    *,
    community_id: int | None = None,
    now: datetime | None = None,
    lang: str = "zh",
) -> Report:
    """The meeting report of `period` for the actor's scope, or one community of it (see report_actor)."""
    now = now or clock.now()
    reader = report_actor(actor, community_id)
    comp = compare_periods(period, now)
    cur = kpi.figures(session, reader, comp.current, now=now)
    prev = kpi.figures(session, reader, comp.previous, now=now)
    last_year = kpi.figures(session, reader, comp.last_year, now=now)
    trend, unit = _trend(session, reader, comp.current, now)
    hours, totals, gaps = volunteer_figures(session, reader, comp, now)
    report = Report(
        lang=lang,
        comparison=comp,
        scope_name=_scope_name(session, reader, lang),
        community_id=reader.community_id,
        generated_at=now,
        headline=_headline(cur, prev, last_year if last_year.has_cases else None),
        overdue_now=cur.overdue_now,
        trend=trend,
        trend_unit=unit,
        categories=_categories(session, reader, comp, _category_names(session, lang), now),
        rankings={
            by: ranking.rank(kpi.figures_by(session, reader, comp.current, by, now=now), names)  # type: ignore[arg-type]
            for by, names in ranking.units(session, reader).items()
        },
        overdue=longest_overdue(session, reader, now=now, lang=lang),
        volunteer_hours=hours,
        volunteer_totals=totals,
        gaps=gaps,
        has_last_year=last_year.has_cases,
        residents=(
            resident_figures(session, reader, comp.current),
            resident_figures(session, reader, comp.previous),
        ),
        outlook=alert_digest.outlook(session, reader, lang=lang),
    )
    report.findings = _write_findings(session, reader, report, now)
    return report
