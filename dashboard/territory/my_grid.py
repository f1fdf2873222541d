"""A grid at a glance for its worker (My grid): population and activity, buildings by when they were last
visited, volunteers against need, and the worker's rates against their community's.

Figures come from :mod:`dashboard.reporting.kpi` (blind spots, on-time and satisfaction rates) and
:mod:`dashboard.volunteers.need` (need and supply of volunteers), so My grid says what the map, the wall and
the reports say.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import and_, case, func
from sqlmodel import Session, select

from dashboard import clock
from dashboard.admin import grids as grid_admin
from dashboard.kernel.scope import Actor, visit_filter
from dashboard.reporting import kpi
from dashboard.territory.field import blind_days, calendar_days_since, grid_in_scope
from dashboard.volunteers import need
from models import Building, Community, GridVisit
from models.enums import POPULATION_FIELDS, Role


@dataclass(frozen=True)
class GridActivity:
    """One grid's population aggregates and field activity: visits, last case, whether it is a blind spot
    (DESIGN §3: population is kept as aggregates)."""

    grid_id: int
    code: str
    name: str
    community_id: int
    community: str
    lon: float
    lat: float
    households: int
    residents: int
    actual_residents: int
    population: dict[str, int]
    buildings: int
    blind_days: int
    visits_7d: int
    visits_window: int
    households_visited_window: int
    last_visit_at: datetime | None
    last_case_at: datetime | None
    days_since_activity: float | None
    blind: bool


def grid_activity(
    session: Session, actor: Actor, grid_id: int | None = None, now: datetime | None = None
) -> GridActivity:
    """The grid (the worker's own by default) with its population, buildings, recent visits and whether it
    counts as a blind spot now (the same test as the map: :func:`kpi.blind_spots`)."""
    now = now or clock.now()
    grid = grid_in_scope(session, actor, grid_id)
    community = session.get(Community, grid.community_id)
    buildings = session.exec(select(func.count()).where(Building.grid_id == grid.id)).one()
    days = blind_days(session)
    week = now - timedelta(days=7)
    recent = GridVisit.at >= now - timedelta(days=days)
    v7, vn, hhn = session.exec(
        select(
            func.sum(case((GridVisit.at >= week, 1), else_=0)),
            func.count(),
            func.sum(GridVisit.households_visited),
        ).where(GridVisit.grid_id == grid.id, recent, GridVisit.at <= now, visit_filter(actor))
    ).one()
    blind = kpi.blind_spots(session, actor, days, now)
    row = blind[blind["grid_id"] == grid.id]
    last_visit = last_case = None
    days_since: float | None = None
    is_blind = True
    if not row.empty:
        r = row.iloc[0]
        last_visit = None if pd.isna(r["last_visit_at"]) else r["last_visit_at"].to_pydatetime()
        last_case = None if pd.isna(r["last_case_at"]) else r["last_case_at"].to_pydatetime()
        days_since = None if pd.isna(r["days_since"]) else float(r["days_since"])
        is_blind = bool(r["blind"])
    return GridActivity(
        grid_id=grid.id,  # type: ignore[arg-type]
        code=grid.code,
        name=grid.name,
        community_id=grid.community_id,
        community=community.name if community else "",
        lon=grid.centroid_lon,
        lat=grid.centroid_lat,
        households=grid.households,
        residents=grid.residents,
        actual_residents=grid.actual_residents,
        population={f: int(getattr(grid, f) or 0) for f in POPULATION_FIELDS},
        buildings=int(buildings),
        blind_days=days,
        visits_7d=int(v7 or 0),
        visits_window=int(vn or 0),
        households_visited_window=int(hhn or 0),
        last_visit_at=last_visit,
        last_case_at=last_case,
        days_since_activity=days_since,
        blind=is_blind,
    )


def building_recency(
    session: Session,
    actor: Actor,
    grid_id: int | None = None,
    now: datetime | None = None,
    days: int | None = None,
) -> pd.DataFrame:
    """The grid's buildings with when each was last visited, longest unvisited (never first) on top.

    Columns: building_id, name, households, lon, lat, last_visit_at, days_since (None: never), visits
    (in the last `days` days, by default the blind-spot window), due (not visited in those days).
    """
    now = now or clock.now()
    days = days or blind_days(session)
    grid = grid_in_scope(session, actor, grid_id)
    window = now - timedelta(days=days)
    stmt = (
        select(
            Building.id,
            Building.name,
            Building.households,
            Building.lon,
            Building.lat,
            func.max(GridVisit.at),
            func.coalesce(func.sum(case((GridVisit.at >= window, 1), else_=0)), 0),
        )
        .outerjoin(
            GridVisit,
            and_(GridVisit.building_id == Building.id, GridVisit.at <= now, visit_filter(actor)),
        )
        .where(Building.grid_id == grid.id)
        .group_by(Building.id, Building.name, Building.households, Building.lon, Building.lat)
    )
    cols = ["building_id", "name", "households", "lon", "lat", "last_visit_at", "visits"]
    df = pd.DataFrame(session.exec(stmt).all(), columns=cols)
    df["last_visit_at"] = pd.to_datetime(df["last_visit_at"])
    df["days_since"] = calendar_days_since(df["last_visit_at"], now)
    df["visits"] = df["visits"].astype("int64")
    df["due"] = df["last_visit_at"].isna() | (df["last_visit_at"] < pd.Timestamp(window))
    df["_never"] = df["last_visit_at"].isna()
    df = df.sort_values(
        ["_never", "last_visit_at", "name"], ascending=[False, True, True], na_position="first"
    )
    return df.drop(columns="_never").reset_index(drop=True)


def volunteers_vs_need(
    session: Session, actor: Actor, grid_id: int | None = None, now: datetime | None = None
) -> pd.DataFrame:
    """Volunteers living in the grid by skill against the need the rule table sets (DESIGN §7), biggest gap
    first. Columns: skill, need, supply, gap, coverage."""
    grid = grid_in_scope(session, actor, grid_id)
    cells = need.coverage_matrix(session, actor, now)
    mine = cells[cells["grid_id"] == grid.id]
    out = mine[["skill", "need", "supply", "gap", "coverage"]].copy()
    out = out.sort_values(["gap", "need"], ascending=[False, False], kind="stable")
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class RateComparison:
    """The worker's on-time and satisfaction rates in a period against their community's."""

    on_time: float | None
    due: int
    satisfaction: float | None
    followed_up: int
    community_on_time: float | None
    community_satisfaction: float | None


def _community_view(actor: Actor, community_id: int) -> Actor:
    """The actor with a community's scope, for community-wide *aggregate* rates only (never rows): a grid
    worker may compare themselves with their community's average without seeing its cases."""
    return replace(actor, role=Role.community, community_id=community_id, grid_id=None, department_id=None)


def rates_vs_community(
    session: Session, actor: Actor, period: kpi.Period, now: datetime | None = None
) -> RateComparison:
    """按期结案率 and 满意率 of the cases reported in the grids the worker held
    (``grid_admin.worker_figures``) against the whole community's, over `period` (kpi formulas)."""
    now = now or clock.now()
    grid = grid_in_scope(session, actor, None)
    mine = grid_admin.worker_figures(session, actor.id, period, actor=actor, now=now)
    view = _community_view(actor, grid.community_id)
    theirs = kpi.figures(session, view, period, community_id=grid.community_id, now=now)
    return RateComparison(
        on_time=mine.on_time_rate,
        due=mine.due,
        satisfaction=mine.satisfaction_rate,
        followed_up=mine.followed_up,
        community_on_time=theirs.on_time_rate,
        community_satisfaction=theirs.satisfaction_rate,
    )
