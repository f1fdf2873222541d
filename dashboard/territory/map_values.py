"""What the grid map reads from the database: every figure per grid and per community, and open case points.

Every case figure comes from :mod:`dashboard.reporting.kpi` (the same formulas as every other page) and
volunteer coverage from :mod:`dashboard.volunteers.need`; this module only joins them per area. What it
reads never grows with the number of cases: one aggregate row per grid, and at most ``POINT_LIMIT`` points.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import and_, select
from sqlmodel import Session

from dashboard import clock
from dashboard.cases import ageing
from dashboard.i18n import label, t_plain
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor, case_filter, grid_filter
from dashboard.reporting import kpi, resident_kpi
from dashboard.territory.areas import Territory
from dashboard.territory.map_figures import POPULATION_KEYS, cases_per_1000
from dashboard.territory.map_scales import AGEING_COLOURS
from dashboard.volunteers import need as volunteers
from models import Case, Category, Grid

POINT_LIMIT = 3000
"""Most case points sent to the browser (the most urgent first), whatever the number of cases."""

_AGEING = ["green", "yellow", "red", "black"]
VALUE_COLUMNS = [
    *kpi.COUNT_COLUMNS,
    *kpi.RATE_COLUMNS,
    *_AGEING,
    "per_1000",
    "resident_reported",
    "need",
    "supply",
    "coverage",
    "days_since",
    "last_case_at",
    "last_visit_at",
]
"""Columns of :func:`grid_values` and :func:`community_values` besides ``pop_<field>``: every count and
rate of ``kpi.Figures`` (open_now and overdue_now are current, the rest over the period), open cases by
ageing colour, per-1,000, resident reports (居民随手拍, over the period), volunteer need/supply/coverage and the
last activity."""

_ALL_COLUMNS = [*VALUE_COLUMNS, *(f"pop_{k}" for k in POPULATION_KEYS)]
_FLOAT_COLUMNS = [*kpi.RATE_COLUMNS, "per_1000", "need", "supply", "coverage", "days_since"]


def _coverage(session: Session, actor: Actor, now: datetime, cells: pd.DataFrame | None) -> pd.DataFrame:
    """Volunteer need, supply and coverage per grid (DESIGN §7), from the volunteers service."""
    if not may(actor, "volunteer.read"):
        return pd.DataFrame(columns=["grid_id", "need", "supply", "coverage"])
    cov = volunteers.coverage_by_grid(session, actor, now, cells=cells)
    return cov[["grid_id", "need", "supply", "coverage"]]


def coverage_cells(session: Session, actor: Actor, now: datetime) -> pd.DataFrame | None:
    """The volunteer coverage matrix for both map levels (computed once), None for roles without it."""
    if not may(actor, "volunteer.read"):
        return None
    return volunteers.coverage_matrix(session, actor, now)


def grid_values(
    session: Session,
    actor: Actor,
    period: kpi.Period,
    *,
    blind_days: int = 30,
    now: datetime | None = None,
    cells: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every map figure per grid in the actor's scope (index: grid id), from kpi.py and volunteers.py.

    Columns: VALUE_COLUMNS plus ``pop_<field>`` for households, residents and the population groups.
    Rates and per-1,000 are NaN where their denominator is zero. `cells`: :func:`coverage_cells` when the
    caller computes both levels (else computed here).
    """
    now = now or clock.now()
    stmt = select(Grid.id, *(getattr(Grid, k) for k in POPULATION_KEYS)).where(grid_filter(actor))
    df = pd.DataFrame(session.exec(stmt).all(), columns=["grid_id", *(f"pop_{k}" for k in POPULATION_KEYS)])  # type: ignore[call-overload]
    df = df.set_index("grid_id")
    if may(actor, "case.browse"):
        figs = kpi.figures_by(session, actor, period, "grid", now=now).set_index("key")
        df = df.join(figs[[*kpi.COUNT_COLUMNS, *kpi.RATE_COLUMNS]], how="left")
        ageing = kpi.open_counts_by(session, actor, "grid", now=now).set_index("key")
        df = df.join(ageing[_AGEING], how="left")
        residents = resident_kpi.resident_figures_by(session, actor, period, "grid").set_index("key")
        df = df.join(residents[["reported"]].rename(columns={"reported": "resident_reported"}), how="left")
        for col in (*kpi.COUNT_COLUMNS, *_AGEING, "resident_reported"):
            df[col] = df[col].fillna(0).astype("int64")
        df["per_1000"] = [
            cases_per_1000(r, a, p)
            for r, a, p in zip(df["reported"], df["pop_actual_residents"], df["pop_residents"], strict=True)
        ]
    blind = kpi.blind_spots(session, actor, blind_days, now).set_index("grid_id")
    df = df.join(blind[["last_case_at", "last_visit_at", "days_since"]], how="left")
    cov = _coverage(session, actor, now, cells).set_index("grid_id")
    df = df.join(cov, how="left")
    df = df.reindex(columns=_ALL_COLUMNS)
    for col in _FLOAT_COLUMNS:
        df[col] = df[col].astype("float64")
    df.index.name = "grid_id"
    return df


def community_values(
    session: Session,
    actor: Actor,
    period: kpi.Period,
    grids: pd.DataFrame,
    territory: Territory,
    *,
    now: datetime | None = None,
    cells: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every map figure per community whose figures the actor may see (index: community id).

    `grids` is :func:`grid_values` of the same actor and period. Case figures are the sums of the
    grids' ``kpi.figures_by(..., "grid")`` counts (a case's community is its grid's), with the rates of
    ``kpi.RATE_COLUMNS`` taken over those sums — one query set instead of two; population is the sum of the grids;
    coverage from ``volunteers.coverage_by_community``; days since activity is the longest of the
    community's grids (so a community with a neglected grid stands out).
    """
    now = now or clock.now()
    comm_of = {g.id: c.id for c in territory.communities if c.in_scope for g in territory.grids_of(c.code)}
    ids = sorted(set(comm_of.values()))
    df = pd.DataFrame(index=pd.Index(ids, name="community_id"))
    if not ids:
        return df.reindex(columns=_ALL_COLUMNS)
    part = grids[grids.index.isin(comm_of)].copy()
    part["community_id"] = part.index.map(comm_of)
    sums = part.groupby("community_id")[[f"pop_{k}" for k in POPULATION_KEYS]].sum()
    df = df.join(sums, how="left")
    if may(actor, "case.browse"):
        counts = part.groupby("community_id")[[*kpi.COUNT_COLUMNS, *_AGEING, "resident_reported"]].sum()
        df = df.join(counts.astype("int64"), how="left")
        for rate, (num, den) in kpi.RATE_COLUMNS.items():
            df[rate] = df[num] / df[den].where(df[den] > 0)
        df["per_1000"] = [
            cases_per_1000(r, a, p)
            for r, a, p in zip(df["reported"], df["pop_actual_residents"], df["pop_residents"], strict=True)
        ]
    if may(actor, "volunteer.read"):
        cov = volunteers.coverage_by_community(session, actor, now, cells=cells).set_index("community_id")
        df = df.join(cov[["need", "supply", "coverage"]], how="left")
    df["days_since"] = part["days_since"].groupby(part["community_id"]).max()
    df["last_case_at"] = part["last_case_at"].groupby(part["community_id"]).max()
    df["last_visit_at"] = part["last_visit_at"].groupby(part["community_id"]).max()
    df = df.reindex(columns=_ALL_COLUMNS)
    for col in _FLOAT_COLUMNS:
        df[col] = df[col].astype("float64")
    return df


def figure_value(values: pd.DataFrame, ident: int, column: str) -> float | None:
    """One area's value of a figure column, None when unknown (not in `values`, or NaN)."""
    if ident not in values.index or column not in values.columns:
        return None
    v = values.at[ident, column]
    if v is None or pd.isna(v):
        return None
    return float(v)


def case_points(
    session: Session,
    actor: Actor,
    *,
    community_id: int | None = None,
    grid_id: int | None = None,
    limit: int = POINT_LIMIT,
    now: datetime | None = None,
    lang: str | None = None,
) -> list[dict[str, Any]]:
    """Open cases (still being handled) with coordinates, most urgent first, at most `limit` of them.

    The query is limited in SQL (``ORDER BY due_at LIMIT``), so the number of cases in the database does
    not change what is read or sent. Each point: position, number, category, status, ageing, colour, tip.
    """
    now = now or clock.now()
    name_col = Category.name_en if lang == "en" else Category.name_zh
    conds = [
        kpi.is_active(),
        kpi.not_duplicate(),
        Case.lon.is_not(None),
        Case.lat.is_not(None),
        case_filter(actor),
    ]
    if community_id is not None:
        conds.append(Case.community_id == community_id)
    if grid_id is not None:
        conds.append(Case.grid_id == grid_id)
    stmt = (
        select(
            Case.number,
            Case.lon,
            Case.lat,
            Case.status,
            Case.warn_at,
            Case.due_at,
            Case.black_at,
            Category.code,
            name_col,
        )
        .join(Category, Category.id == Case.category_id)
        .where(and_(*conds))
        .order_by(Case.due_at.is_(None), Case.due_at, Case.id)
        .limit(limit)
    )
    out = []
    for number, lon, lat, status, warn_at, due_at, black_at, cat_code, cat_name in session.exec(stmt).all():  # type: ignore[call-overload]
        colour = ageing.colour_at(now, warn_at, due_at, black_at)
        key = colour.value if colour else "green"
        due = f"{due_at:%Y-%m-%d %H:%M}" if due_at else "—"
        out.append(
            {
                "position": [round(lon, 6), round(lat, 6)],
                "number": number,
                "category": cat_code,
                "ageing": key,
                "colour": AGEING_COLOURS[key],
                "tip": "\n".join(
                    [
                        f"{number} · {cat_name}",
                        f"{label('status', status, lang)} · {label('ageing', key, lang)}",
                        t_plain("map.tip.due", lang, due=due),
                    ]
                ),
            }
        )
    return out
