"""The panel beside the map when it shows one grid: its figures, open cases by category, its rates against
its community and the sub-district (where the actor's scope covers them), volunteers against need, and
the last visits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import case, func, select
from sqlmodel import Session

from dashboard import clock
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor, visit_filter
from dashboard.reporting import kpi
from dashboard.territory.areas import Area, Territory
from dashboard.volunteers import need as volunteers
from models import Category, GridVisit

_COMPARISON_COLUMNS = ["level", "name", "on_time_rate", "satisfaction_rate"]


@dataclass(frozen=True)
class GridPanel:
    """What the panel beside the map shows for one grid."""

    code: str
    name: str
    community_code: str
    community_name: str
    worker: str
    population: dict[str, int]
    values: dict[str, Any]
    open_by_category: pd.DataFrame  # code, name, open_now, overdue_now, green, yellow, red, black
    comparison: pd.DataFrame  # level, name, on_time_rate, satisfaction_rate (NaN: not in scope)
    volunteers: pd.DataFrame  # skill, need, supply, gap
    last_visit_at: datetime | None
    visits_30d: int


def grid_panel(
    session: Session,
    actor: Actor,
    territory: Territory,
    grid_code: str,
    period: kpi.Period,
    values: pd.DataFrame,
    *,
    now: datetime | None = None,
    lang: str | None = None,
) -> GridPanel | None:
    """The panel of a grid in the actor's scope, or None when it is unknown or outside the scope.

    `values` is :func:`~dashboard.territory.map_values.grid_values` for the same actor and period (already
    computed for the map). The community and sub-district comparisons are shown only where the actor's
    scope covers them.
    """
    now = now or clock.now()
    grid = territory.grid(grid_code)
    if grid is None or not grid.in_scope:
        return None
    community = territory.community(grid.parent)
    by_category = pd.DataFrame(columns=["code", "name", *kpi.OPEN_COUNT_COLUMNS])
    comparison_rows: list[dict[str, Any]] = []
    if may(actor, "case.browse"):
        by_category = _open_by_category(session, actor, grid, now, lang)
        comparison_rows = _rate_comparison(session, actor, territory, grid, community, period, now)
    comparison = pd.DataFrame(comparison_rows, columns=_COMPARISON_COLUMNS)
    for col in ("on_time_rate", "satisfaction_rate"):
        comparison[col] = comparison[col].astype("float64")
    vols = pd.DataFrame(columns=["skill", "need", "supply", "gap"])
    if may(actor, "volunteer.read"):
        cells = volunteers.coverage_matrix(session, actor, now)
        vols = cells.loc[cells["grid_id"] == grid.id, ["skill", "need", "supply", "gap"]].reset_index(
            drop=True
        )
    last_visit, visits = _recent_visits(session, actor, grid, now)
    return GridPanel(
        code=grid.code,
        name=grid.name,
        community_code=community.code if community else "",
        community_name=community.name if community else "",
        worker=grid.worker,
        population=dict(grid.population),
        values=values.loc[grid.id].to_dict() if grid.id in values.index else {},
        open_by_category=by_category,
        comparison=comparison,
        volunteers=vols,
        last_visit_at=last_visit,
        visits_30d=visits,
    )


def _open_by_category(
    session: Session, actor: Actor, grid: Area, now: datetime, lang: str | None
) -> pd.DataFrame:
    """Open cases of the grid per category (with ageing colours), most overdue first."""
    counts = kpi.open_counts_by(session, actor, "category", grid_id=grid.id, now=now)
    cats = pd.DataFrame(
        session.exec(
            select(Category.id, Category.code, Category.name_en if lang == "en" else Category.name_zh)
        ).all(),  # type: ignore[call-overload]
        columns=["key", "code", "name"],
    )
    by_category = counts.merge(cats, on="key", how="left").drop(columns="key")
    return (
        by_category[["code", "name", *kpi.OPEN_COUNT_COLUMNS]]
        .sort_values(["overdue_now", "open_now"], ascending=False)
        .reset_index(drop=True)
    )


def _rates_row(level: str, name: str, figures: kpi.Figures | None) -> dict[str, Any]:
    return {
        "level": level,
        "name": name,
        "on_time_rate": figures.on_time_rate if figures else None,
        "satisfaction_rate": figures.satisfaction_rate if figures else None,
    }


def _rate_comparison(
    session: Session,
    actor: Actor,
    territory: Territory,
    grid: Area,
    community: Area | None,
    period: kpi.Period,
    now: datetime,
) -> list[dict[str, Any]]:
    """On-time and satisfaction rates of the grid, its community and the sub-district; a level outside the
    actor's scope keeps its row with no rates (the panel says so rather than leaving it out)."""
    rows = [_rates_row("grid", grid.name, kpi.figures(session, actor, period, grid_id=grid.id, now=now))]
    if community is not None:
        figures = (
            kpi.figures(session, actor, period, community_id=community.id, now=now)
            if community.in_scope
            else None
        )
        rows.append(_rates_row("community", community.name, figures))
    if territory.subdistricts:
        figures = kpi.figures(session, actor, period, now=now) if actor.reads_all else None
        rows.append(_rates_row("subdistrict", territory.subdistricts[0].name, figures))
    return rows


def _recent_visits(session: Session, actor: Actor, grid: Area, now: datetime) -> tuple[datetime | None, int]:
    """The grid's last visit and the number of visits in the last 30 days (those the actor may see)."""
    recent = case((GridVisit.at >= now - timedelta(days=30), 1), else_=0)
    last_visit, visits = session.exec(  # type: ignore[call-overload]
        select(func.max(GridVisit.at), func.sum(recent)).where(
            GridVisit.grid_id == grid.id, visit_filter(actor)
        )
    ).one()
    return last_visit, int(visits or 0)
