"""Meeting reports (周/月/季报) and the wall screen's live figures.

Everything here is built from the figures of :mod:`dashboard.reporting.kpi` (one formula per figure) and a
few small SQL aggregates; nothing loads individual cases except the ten longest overdue ones and the
wall's short ticker.

Period comparisons
------------------
A report compares its period with the period before (环比, :meth:`kpi.Period.previous`: the previous
calendar week, month or quarter, or the same length before a custom range) and with the same period one
year earlier (同比, :meth:`kpi.Period.same_last_year`; 29 February maps to 28 February). A period still
running is cut at "now" and compared with the same elapsed length of the previous period, never more
than that whole period: a March report on 31 March compares with all of February, and a report of
1–10 March with 1–10 February.

Ranking score (考核)
--------------------
Communities, grids and departments are ranked by::

    score = 100 × (0.40 × on-time closure + 0.30 × satisfaction + 0.15 × (1 − rework) + 0.15 × response)

with each rate an absolute fraction from :mod:`kpi` (按期结案率, 满意率, 返工率, 响应率) over the report
period. Absolute rates, rather than min–max scaling, keep a unit's score independent of how the other
units did and comparable from one meeting to the next. A rate whose denominator is zero (for example no
follow-ups yet) is left out and the remaining weights are scaled up to sum to 1; a unit with none of the
four has no score. Units with fewer than :data:`MIN_CASES` cases reported in the period are flagged
(``few_cases``): they are listed after the ranked units, without a rank, because a handful of cases makes
any rate meaningless.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy import and_, case, func, or_, select
from sqlmodel import Session

from dashboard import clock
from dashboard.admin import settings as app_settings
from dashboard.i18n import t
from dashboard.kernel import privacy
from dashboard.kernel.scope import Actor, case_filter, service_record_filter
from dashboard.reporting import kpi
from dashboard.reporting.kpi import Figures, Period
from dashboard.territory import lookups as territory
from dashboard.volunteers import registry as volunteers
from models import Case, Category, Community, Department, Grid, ServiceRecord, Subdistrict
from models.enums import ACTIVE_STATUSES, CaseSource, Priority, Role

SCORE_WEIGHTS: dict[str, float] = {
    "on_time_rate": 0.40,
    "satisfaction_rate": 0.30,
    "rework_rate": 0.15,
    "response_rate": 0.15,
}
"""Weights of the ranking score; the rework rate counts as (1 − rework)."""

INVERTED_RATES = frozenset({"rework_rate"})
"""Rates where lower is better; the score uses one minus the rate."""

MIN_CASES = 10
"""Units with fewer cases reported in the period are flagged and not ranked."""

SATISFACTION_TARGET = 0.90
"""满意率 target of DESIGN §1."""

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

_ACTIVE = [s.value for s in ACTIVE_STATUSES]

WALL_REFRESH_KEY = "wall_refresh_seconds"
MIN_WALL_REFRESH_SECONDS = 2
"""Key in the `settings` table that overrides the wall's refresh interval."""

# ---------------------------------------------------------------- formatting (no Streamlit here)


def fmt_pct(value: float | None, digits: int = 1) -> str:
    """0.9123 → '91.2%'; None → '—'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value * 100:.{digits}f}%"


def fmt_points(value: float | None, unit: str = "pt") -> str:
    """A rate change as percentage points: 0.021 → '+2.1pt' (or '+2.1个百分点' with that unit); None → '—'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value * 100:+.1f}{unit}"


def fmt_change(value: float | None) -> str:
    """A relative change: 0.18 → '+18%'; None → '—'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value * 100:+.0f}%"


def as_number(value: object) -> float | None:
    """A float from a pandas cell, None for missing/NaN."""
    if value is None:
        return None
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


# ---------------------------------------------------------------- periods


@dataclass(frozen=True)
class Comparison:
    """The report period (cut at now when still running) and the periods it is compared with."""

    requested: Period
    current: Period
    previous: Period  # 环比
    last_year: Period  # 同比

    @property
    def partial(self) -> bool:
        return self.current.end < self.requested.end


def compare_periods(period: Period, now: datetime) -> Comparison:
    """The current, previous (环比) and last-year (同比) periods of a report made at `now`.

    A running period is cut at `now`; its previous period then covers the same elapsed length from the
    previous period's start, capped at that period's end (31 March → the whole of February), and its
    last-year period is the cut period shifted back one year.
    """
    current = period.clipped(now)
    previous = period.previous()
    if current.end < period.end:
        elapsed = current.end - current.start
        previous = Period(previous.start, min(previous.start + elapsed, previous.end), previous.kind)
    return Comparison(period, current, previous, current.same_last_year())


def period_label(period: Period, lang: str) -> str:
    """A human label of a period: 2026年3月 / March 2026, 2026年第1季度 / Q1 2026, or a date range."""
    start = period.start
    last = (period.end - timedelta(seconds=1)).date()
    if period.kind == "month":
        return t(
            "report.label_month", lang, year=start.year, month=start.month, month_name=start.strftime("%B")
        )
    if period.kind == "quarter":
        return t("report.label_quarter", lang, year=start.year, quarter=(start.month - 1) // 3 + 1)
    if period.kind == "week":
        return t(
            "report.label_week",
            lang,
            start=start.date().isoformat(),
            end=last.isoformat(),
            week=start.isocalendar()[1],
            year=start.isocalendar()[0],
        )
    return t("report.label_range", lang, start=start.date().isoformat(), end=last.isoformat())


def custom_period(first: date, last: date) -> Period:
    """The days `first` to `last` inclusive as a custom period."""
    if last < first:
        first, last = last, first
    return Period(
        datetime(first.year, first.month, first.day),
        datetime(last.year, last.month, last.day) + timedelta(days=1),
        "custom",
    )


def period_choices(kind: str, today: date, count: int) -> list[Period]:
    """The latest `count` calendar months or quarters up to the one containing `today`, newest first."""
    out: list[Period] = []
    current = kpi.month_period(today) if kind == "month" else kpi.quarter_period(today)
    for _ in range(count):
        out.append(current)
        current = current.previous()
    return out


def _comparison_word(kind: str, lang: str) -> str:
    key = kind if kind in ("week", "month", "quarter") else "custom"
    return t(f"report.mom_{key}", lang)


# ---------------------------------------------------------------- ranking score


def score(rates: Mapping[str, float | None]) -> float | None:
    """The ranking score (0–100) of one unit from its rates; see the module docstring for the formula."""
    total_weight = 0.0
    total = 0.0
    for name, weight in SCORE_WEIGHTS.items():
        value = as_number(rates.get(name))
        if value is None:
            continue
        total += weight * ((1.0 - value) if name in INVERTED_RATES else value)
        total_weight += weight
    if total_weight == 0:
        return None
    return 100.0 * total / total_weight


def rank(figures: pd.DataFrame, units: pd.DataFrame, min_cases: int = MIN_CASES) -> pd.DataFrame:
    """Rank `units` (columns ``key``, ``name``) by score from kpi.figures_by output `figures`.

    Units without cases are kept (with zero counts, flagged). Result columns: key, name, cases (reported),
    due, on_time_rate, satisfaction_rate, rework_rate, response_rate, overdue_now, score, few_cases, rank
    (1 = best; <NA> for flagged units or units without a score); ranked units first, by score.
    """
    cols = ["reported", "due", "overdue_now", *SCORE_WEIGHTS]
    fig = figures.set_index("key")[cols] if not figures.empty else pd.DataFrame(columns=cols)
    df = units[["key", "name"]].merge(fig, left_on="key", right_index=True, how="left")
    for c in ("reported", "due", "overdue_now"):
        df[c] = df[c].fillna(0).astype("int64")
    for c in SCORE_WEIGHTS:
        df[c] = df[c].astype("float64")
    df["score"] = [score({c: row[c] for c in SCORE_WEIGHTS}) for _, row in df.iterrows()]
    df["score"] = df["score"].astype("float64")
    df["few_cases"] = df["reported"] < min_cases
    eligible = ~df["few_cases"] & df["score"].notna()
    df["rank"] = pd.Series(pd.NA, index=df.index, dtype="Int64")
    df.loc[eligible, "rank"] = df.loc[eligible, "score"].rank(method="min", ascending=False).astype("int64")
    df["_order"] = (~eligible).astype(int)
    df = df.sort_values(["_order", "score", "reported"], ascending=[True, False, False], na_position="last")
    df = df.drop(columns="_order").rename(columns={"reported": "cases"}).reset_index(drop=True)
    return df[
        [
            "key",
            "name",
            "cases",
            "due",
            "on_time_rate",
            "satisfaction_rate",
            "rework_rate",
            "response_rate",
            "overdue_now",
            "score",
            "few_cases",
            "rank",
        ]
    ]


# ---------------------------------------------------------------- report


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
    headline: (
        pd.DataFrame
    )  # metric, kind (count|rate), current, previous, last_year, mom, yoy, lower_is_better
    overdue_now: int
    trend: pd.DataFrame  # day, reported, closed (per day, or per week starting that day)
    trend_unit: str  # "day" | "week"
    categories: (
        pd.DataFrame
    )  # key, code, name, reported, previous, change, on_time_rate, satisfaction_rate, …
    rankings: dict[str, pd.DataFrame]  # "community" (sub-district scope only), "grid", "department"
    overdue: pd.DataFrame  # number, title, category, community, grid, department, status, due_at,
    # days_overdue, reporter, address (personal data masked)
    volunteer_hours: pd.DataFrame  # key, name, hours, volunteers, records (per community, or per grid)
    volunteer_totals: dict[str, float | None]  # hours, previous_hours, change, volunteers, records, coverage
    gaps: pd.DataFrame  # community, code, name (grid), skill, need, supply, gap (largest first)
    findings: dict[str, str] = field(default_factory=dict)

    @property
    def period_label(self) -> str:
        return period_label(self.comparison.requested, self.lang)

    @property
    def title(self) -> str:
        return t("report.deck_title", self.lang, scope=self.scope_name)

    @property
    def mom_word(self) -> str:
        return _comparison_word(self.comparison.requested.kind, self.lang)


def _category_names(session: Session, lang: str) -> pd.DataFrame:
    cats = territory.categories(session, include_retired=True)
    if cats.empty:
        return pd.DataFrame(columns=["key", "code", "name"])
    name_col = "name_zh" if lang == "zh" else "name_en"
    return pd.DataFrame({"key": cats["id"], "code": cats["code"], "name": cats[name_col]})


def _headline(cur: Figures, prev: Figures, last_year: Figures) -> pd.DataFrame:
    rows = []
    for m in COUNT_METRICS:
        c, p, y = getattr(cur, m), getattr(prev, m), getattr(last_year, m)
        rows.append(
            {
                "metric": m,
                "kind": "count",
                "current": float(c),
                "previous": float(p),
                "last_year": float(y),
                "mom": kpi.count_change(c, p),
                "yoy": kpi.count_change(c, y),
                "lower_is_better": False,
            }
        )
    for m in RATE_METRICS:
        c, p, y = getattr(cur, m), getattr(prev, m), getattr(last_year, m)
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


def _units(session: Session, actor: Actor) -> dict[str, pd.DataFrame]:
    """The units ranked in this scope: communities (sub-district scope only), grids, departments."""
    grids = territory.grids(session, actor)
    depts = territory.departments(session)
    out: dict[str, pd.DataFrame] = {}
    if actor.role != Role.community:
        comms = territory.communities(session)
        out["community"] = pd.DataFrame({"key": comms["id"], "name": comms["name"]})
    out["grid"] = pd.DataFrame({"key": grids["id"], "name": grids["name"]})
    out["department"] = pd.DataFrame({"key": depts["id"], "name": depts["name"]})
    return out


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
        .where(Case.status.in_(_ACTIVE), Case.due_at < now, case_filter(actor), kpi.not_duplicate())
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


def _volunteers(
    session: Session, actor: Actor, comp: Comparison, now: datetime
) -> tuple[pd.DataFrame, dict[str, float | None], pd.DataFrame]:
    """Verified service hours per community (or grid, in a community's report), totals and the gap list."""
    by = "community" if actor.role != Role.community else "grid"
    per = volunteers.service_totals(session, actor, by, comp.current)  # type: ignore[arg-type]
    per = per.rename(columns={"label": "name"})[["key", "name", "hours", "volunteers", "records"]]
    people = volunteers.service_totals(session, actor, "volunteer", comp.current)
    before = volunteers.service_totals(session, actor, by, comp.previous)  # type: ignore[arg-type]
    hours = float(per["hours"].sum())
    previous_hours = float(before["hours"].sum())
    cells = volunteers.coverage_matrix(session, actor, now)
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
    gaps = (
        volunteers.gap_list(cells, limit=10)[gap_cols] if not cells.empty else pd.DataFrame(columns=gap_cols)
    )
    return per.reset_index(drop=True), totals, gaps.reset_index(drop=True)


# ---------------------------------------------------------------- findings


def _metric_name(metric: str, lang: str) -> str:
    return t(f"report.metric.{metric}", lang)


def _headline_finding(h: pd.DataFrame, lang: str, mom_word: str) -> str:
    row = h.set_index("metric")
    sat = as_number(row.at["satisfaction_rate", "current"])
    if sat is None:
        target = t("report.target_none", lang)
    else:
        target = t(
            "report.target_met" if sat >= SATISFACTION_TARGET else "report.target_missed",
            lang,
            target=fmt_pct(SATISFACTION_TARGET, 0),
        )
    return t(
        "report.finding.headline",
        lang,
        mom_word=mom_word,
        on_time=fmt_pct(as_number(row.at["on_time_rate", "current"])),
        on_time_mom=fmt_points(as_number(row.at["on_time_rate", "mom"]), t("report.points", lang)),
        on_time_yoy=fmt_points(as_number(row.at["on_time_rate", "yoy"]), t("report.points", lang)),
        sat=fmt_pct(sat),
        target=target,
        reported=f"{int(row.at['reported', 'current']):,}",
        reported_mom=fmt_change(as_number(row.at["reported", "mom"])),
    )


def _trend_finding(trend: pd.DataFrame, unit: str, lang: str) -> str:
    total = int(trend["reported"].sum()) if not trend.empty else 0
    if total == 0:
        return t("report.finding.trend_none", lang)
    peak = trend.loc[trend["reported"].idxmax()]
    return t(
        f"report.finding.trend_{unit}",
        lang,
        avg=f"{total / len(trend):.1f}",
        peak_day=pd.Timestamp(peak["day"]).strftime("%m-%d"),
        peak=int(peak["reported"]),
        closed=f"{int(trend['closed'].sum()):,}",
    )


def _category_finding(
    session: Session,
    actor: Actor,
    comp: Comparison,
    cats: pd.DataFrame,
    lang: str,
    mom_word: str,
    now: datetime,
) -> str:
    if cats.empty or int(cats["reported"].sum()) == 0:
        return t("report.finding.category_none", lang)
    delta = cats["reported"] - cats["previous"]
    top = cats.loc[delta.abs().idxmax()]
    d = int(top["reported"] - top["previous"])
    if d == 0:
        share = int(cats.at[0, "reported"]) / int(cats["reported"].sum())
        return t(
            "report.finding.category_flat",
            lang,
            cat=cats.at[0, "name"],
            cur=int(cats.at[0, "reported"]),
            share=fmt_pct(share, 0),
        )
    by = "community" if actor.role != Role.community else "grid"
    cur = kpi.figures_by(session, actor, comp.current, by, category_id=int(top["key"]), now=now)  # type: ignore[arg-type]
    prev = kpi.figures_by(session, actor, comp.previous, by, category_id=int(top["key"]), now=now)  # type: ignore[arg-type]
    change = cur.set_index("key")["reported"].sub(prev.set_index("key")["reported"], fill_value=0)
    change = change[change != 0]
    where_key = (change.idxmax() if d > 0 else change.idxmin()) if not change.empty else None
    names = _units(session, actor)[by].set_index("key")["name"]
    where = str(names.get(where_key, "—")) if where_key is not None else "—"
    where_delta = int(change.get(where_key, 0)) if where_key is not None else 0
    pct = as_number(top["change"])
    key = "category_new" if pct is None else ("category_rise" if d > 0 else "category_fall")
    return t(
        f"report.finding.{key}",
        lang,
        cat=top["name"],
        mom_word=mom_word,
        pct=f"{abs(pct or 0) * 100:.0f}%",
        prev=int(top["previous"]),
        cur=int(top["reported"]),
        where=where,
        delta=f"{where_delta:+d}",
    )


def _ranking_finding(ranked: pd.DataFrame, lang: str) -> str:
    eligible = ranked[ranked["rank"].notna()]
    if len(eligible) < 2:
        return t("report.finding.ranking_few", lang, min=MIN_CASES)
    first, last = eligible.iloc[0], eligible.iloc[-1]
    gaps = {}
    for name, weight in SCORE_WEIGHTS.items():
        a, b = as_number(first[name]), as_number(last[name])
        if a is None or b is None:
            continue
        gaps[name] = weight * ((b - a) if name in INVERTED_RATES else (a - b))
    weak = max(gaps, key=lambda k: gaps[k]) if gaps else "on_time_rate"
    return t(
        "report.finding.ranking",
        lang,
        first=first["name"],
        s1=f"{first['score']:.1f}",
        last=last["name"],
        s2=f"{last['score']:.1f}",
        weak=_metric_name(weak, lang),
        weak_value=fmt_pct(as_number(last[weak])),
    )


def _overdue_finding(overdue: pd.DataFrame, overdue_now: int, lang: str) -> str:
    if overdue.empty:
        return t("report.finding.overdue_none", lang)
    oldest = overdue.iloc[0]
    return t(
        "report.finding.overdue",
        lang,
        n=f"{overdue_now:,}",
        number=oldest["number"],
        days=f"{oldest['days_overdue']:.0f}",
        cat=oldest["category"],
        where=oldest["grid"],
    )


def _volunteer_finding(
    totals: Mapping[str, float | None], gaps: pd.DataFrame, lang: str, mom_word: str
) -> str:
    text = t(
        "report.finding.volunteers",
        lang,
        hours=f"{totals['hours'] or 0:,.0f}",
        mom_word=mom_word,
        change=fmt_change(totals["change"]),
        people=f"{int(totals['volunteers'] or 0):,}",
        coverage=fmt_pct(totals["coverage"]),
    )
    if gaps.empty:
        return text + t("report.finding.gaps_none", lang)
    g = gaps.iloc[0]
    return text + t(
        "report.finding.gap",
        lang,
        grid=g["name"],
        skill=g["skill"],
        need=int(g["need"]),
        supply=int(g["supply"]),
    )


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
    headline = _headline(cur, prev, last_year)
    trend, unit = _trend(session, reader, comp.current, now)
    cats = _categories(session, reader, comp, _category_names(session, lang), now)
    rankings = {
        by: rank(kpi.figures_by(session, reader, comp.current, by, now=now), names)  # type: ignore[arg-type]
        for by, names in _units(session, reader).items()
    }
    overdue = longest_overdue(session, reader, now=now, lang=lang)
    hours, totals, gaps = _volunteers(session, reader, comp, now)
    if reader.role == Role.community:
        comms = territory.communities(session).set_index("id")["name"]
        scope_name = str(comms.get(reader.community_id, "—"))
    else:
        scope_name = t("app.scope_all", lang)
    mom_word = _comparison_word(period.kind, lang)
    report = Report(
        lang=lang,
        comparison=comp,
        scope_name=scope_name,
        community_id=reader.community_id,
        generated_at=now,
        headline=headline,
        overdue_now=cur.overdue_now,
        trend=trend,
        trend_unit=unit,
        categories=cats,
        rankings=rankings,
        overdue=overdue,
        volunteer_hours=hours,
        volunteer_totals=totals,
        gaps=gaps,
    )
    report.findings = {
        "headline": _headline_finding(headline, lang, mom_word),
        "trend": _trend_finding(trend, unit, lang),
        "categories": _category_finding(session, reader, comp, cats, lang, mom_word, now),
        **{f"ranking_{by}": _ranking_finding(df, lang) for by, df in rankings.items()},
        "overdue": _overdue_finding(overdue, cur.overdue_now, lang),
        "volunteers": _volunteer_finding(totals, gaps, lang, mom_word),
    }
    return report


# ---------------------------------------------------------------- wall screen


@dataclass(frozen=True)
class TickerItem:
    """One urgent or overdue case on the wall's ticker (title is user text: escape when rendering)."""

    number: str
    title: str
    category: str
    grid: str
    priority: str
    due_at: datetime | None
    overdue: bool


@dataclass(frozen=True)
class WallSnapshot:
    """The wall's live figures at one moment (a few SQL aggregates, no case rows except the ticker)."""

    at: datetime
    scope_name: str  # the sub-district's name
    today: Figures
    month: Figures
    month_previous: Figures  # the same elapsed part of last month (环比)
    hotline: Figures  # this month, 12345 cases only
    hotline_previous: Figures
    trend: tuple[tuple[date, int, int], ...]  # (day, reported, closed), the last 7 days
    on_duty_now: int
    served_today: int
    ticker: tuple[TickerItem, ...]


def wall_refresh_seconds(database_url: str | None = None) -> int:
    """The wall's refresh interval in seconds: the `settings` row when present, else configuration
    (``DASHBOARD_WALL_REFRESH_SECONDS``, default 60); never below :data:`MIN_WALL_REFRESH_SECONDS`."""
    return max(MIN_WALL_REFRESH_SECONDS, int(app_settings.cached_setting(WALL_REFRESH_KEY, database_url)))


def volunteers_on_duty(session: Session, actor: Actor, now: datetime) -> tuple[int, int]:
    """(volunteers with a service record spanning now, volunteers with a record on today), in scope."""
    day_start = datetime(now.year, now.month, now.day)
    on_now = case((and_(ServiceRecord.start <= now, ServiceRecord.end >= now), ServiceRecord.volunteer_id))
    stmt = select(
        func.count(func.distinct(on_now)), func.count(func.distinct(ServiceRecord.volunteer_id))
    ).where(
        # a record is at most MAX_RECORD_HOURS long, so this bounds the scan to a day and a half of starts
        ServiceRecord.start >= day_start - timedelta(hours=volunteers.MAX_RECORD_HOURS),
        ServiceRecord.start < day_start + timedelta(days=1),
        ServiceRecord.end >= day_start,
        service_record_filter(actor),
    )
    now_count, today_count = session.exec(stmt).one()  # type: ignore[call-overload]
    return int(now_count or 0), int(today_count or 0)


def wall_ticker(
    session: Session, actor: Actor, now: datetime, *, limit: int = 20, lang: str = "zh"
) -> tuple[TickerItem, ...]:
    """Open cases that need attention now: emergencies first, then the longest overdue, then urgent ones."""
    cat_name = Category.name_zh if lang == "zh" else Category.name_en
    urgent = (Priority.emergency.value, Priority.urgent.value)
    order = case((Case.priority == Priority.emergency.value, 0), (Case.due_at < now, 1), else_=2)
    stmt = (
        select(Case.number, Case.title, cat_name, Grid.name, Case.priority, Case.due_at)
        .join(Category, Category.id == Case.category_id)
        .join(Grid, Grid.id == Case.grid_id)
        .where(
            Case.status.in_(_ACTIVE),
            kpi.not_duplicate(),
            case_filter(actor),
            or_(Case.due_at < now, Case.priority.in_(urgent)),
        )
        .order_by(order, Case.due_at, Case.id)
        .limit(limit)
    )
    return tuple(
        TickerItem(number, title, cat, grid, str(priority), due, due is not None and due < now)
        for number, title, cat, grid, priority, due in session.exec(stmt).all()  # type: ignore[call-overload]
    )


def _figures_of(rows: pd.DataFrame, **overrides: int) -> Figures:
    """Figures from rows of kpi.figures_by (counts add up over groups: each case is in one group)."""
    values = {c: int(rows[c].sum()) if not rows.empty else 0 for c in kpi.COUNT_COLUMNS}
    return Figures(**{**values, **overrides})


def wall_snapshot(
    session: Session, actor: Actor, now: datetime | None = None, lang: str = "zh"
) -> WallSnapshot:
    """Everything the wall's tiles, side panel and ticker show.

    Three grouped kpi queries cover all the figures (so a refresh stays cheap): the last 7 days by day
    (the trend, and today's new/accepted/closed), and this month and the same part of last month by
    source (their sums are the month's figures, the hotline row the 12345 三率; open and overdue now come
    with them).
    """
    now = now or clock.now()
    today = kpi.day_period(now.date())
    month = compare_periods(kpi.month_period(now.date()), now)
    week = Period(today.start - timedelta(days=6), today.end, "custom")
    by_day = kpi.figures_by(session, actor, week, "day", now=now)
    by_source = kpi.figures_by(session, actor, month.current, "source", now=now)
    before = kpi.figures_by(session, actor, month.previous, "source", now=now)
    hotline = CaseSource.hotline.value
    days = by_day.set_index("key")
    trend = tuple(
        (d, int(days["reported"].get(d, 0)), int(days["closed"].get(d, 0)))
        for d in (week.start.date() + timedelta(days=i) for i in range(7))
    )
    month_now = _figures_of(by_source)
    on_now, served = volunteers_on_duty(session, actor, now)
    scope_name = session.scalars(select(Subdistrict.name).order_by(Subdistrict.id).limit(1)).first()
    return WallSnapshot(
        at=now,
        scope_name=scope_name or "",
        today=_figures_of(
            by_day[by_day["key"] == today.start.date()],
            open_now=month_now.open_now,
            overdue_now=month_now.overdue_now,
        ),
        month=month_now,
        month_previous=_figures_of(before),
        hotline=_figures_of(by_source[by_source["key"] == hotline]),
        hotline_previous=_figures_of(before[before["key"] == hotline]),
        trend=trend,
        on_duty_now=on_now,
        served_today=served,
        ticker=wall_ticker(session, actor, now, lang=lang),
    )
