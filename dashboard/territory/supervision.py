"""Supervision of field work (网格员走访督导): per grid, how often its worker visits, the share of its buildings
reached, the worker's open load and the grid's on-time rate, with the quiet grids first — so a grid nobody
walks shows up before it becomes a blind spot. A handful of GROUP BY queries whatever the number of visits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import ColumnElement, and_, case, func
from sqlmodel import Session, select

from dashboard import clock
from dashboard.kernel.scope import Actor, case_filter, grid_filter, visit_filter
from dashboard.reporting import kpi
from dashboard.territory.field import blind_days, calendar_days_since
from models import Building, Case, Community, Grid, GridVisit, User

QUIET_COVERAGE = 0.3
"""A grid whose worker reached fewer than this share of its buildings in the window is "quiet"."""
QUIET_VISITS_PER_WEEK = 1.5
"""…or one with fewer visits than this per week."""

OVERVIEW_COLUMNS = [
    "grid_id",
    "code",
    "name",
    "community_id",
    "community",
    "worker_id",
    "worker",
    "households",
    "buildings",
    "visits",
    "visits_per_week",
    "weekly",
    "households_visited",
    "buildings_visited",
    "coverage",
    "last_visit_at",
    "days_since_visit",
    "blind",
    "open_load",
    "overdue",
    "due",
    "on_time_rate",
    "quiet",
]


_GRID_COLUMNS = [
    "grid_id",
    "code",
    "name",
    "community_id",
    "community",
    "worker_id",
    "worker",
    "households",
    "buildings",
]


def field_overview(
    session: Session,
    actor: Actor,
    *,
    weeks: int = 4,
    window_days: int | None = None,
    community_id: int | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Per grid in scope (one worker each): visits per week over the last `weeks` weeks (and each week's
    count, oldest first), coverage (share of the grid's buildings visited in the last `window_days` days, by
    default the blind-spot window),
    the worker's open load (active cases assigned to them) and overdue ones, the grid's on-time rate over
    the same weeks (kpi formula), whether it is a blind spot, and ``quiet``: blind, or under
    :data:`QUIET_COVERAGE`, or under :data:`QUIET_VISITS_PER_WEEK`. Quietest first.

    A handful of GROUP BY queries whatever the number of visits and cases.
    """
    now = now or clock.now()
    window_days = window_days or blind_days(session)
    weeks = max(1, int(weeks))
    start = now - timedelta(days=7 * weeks)
    grids = _grids(session, actor, community_id)
    if grids.empty:
        return pd.DataFrame(columns=OVERVIEW_COLUMNS)
    ids = [int(g) for g in grids["grid_id"]]
    visits = _weekly_visits(session, actor, ids, start, now, weeks)
    reached = _buildings_reached(session, actor, ids, now - timedelta(days=window_days), now)
    load = _open_load(session, actor, [int(w) for w in grids["worker_id"].dropna()], now)
    rates = kpi.figures_by(session, actor, kpi.Period(start, now), "grid", now=now).set_index("key")
    blind = kpi.blind_spots(session, actor, window_days, now).set_index("grid_id")

    df = grids.copy()
    df["visits"] = [visits.get(g, (0, 0, []))[0] for g in ids]
    df["households_visited"] = [visits.get(g, (0, 0, []))[1] for g in ids]
    df["weekly"] = [visits.get(g, (0, 0, [0] * weeks))[2] or [0] * weeks for g in ids]
    df["visits_per_week"] = df["visits"] / weeks
    df["buildings_visited"] = [int(reached.get(g, 0)) for g in ids]
    df["coverage"] = (df["buildings_visited"] / df["buildings"].where(df["buildings"] > 0)).astype("float64")
    df["last_visit_at"] = [blind["last_visit_at"].get(g) if g in blind.index else None for g in ids]
    df["last_visit_at"] = pd.to_datetime(df["last_visit_at"])
    df["days_since_visit"] = calendar_days_since(df["last_visit_at"], now)
    df["blind"] = [bool(blind["blind"].get(g, True)) if g in blind.index else True for g in ids]
    df["open_load"] = [load.get(int(w), (0, 0))[0] if pd.notna(w) else 0 for w in df["worker_id"]]
    df["overdue"] = [load.get(int(w), (0, 0))[1] if pd.notna(w) else 0 for w in df["worker_id"]]
    df["due"] = [int(rates["due"].get(g, 0)) if g in rates.index else 0 for g in ids]
    df["on_time_rate"] = [
        float(rates["on_time_rate"].get(g)) if g in rates.index else float("nan") for g in ids
    ]
    df["worker"] = df["worker"].fillna("")
    df["quiet"] = (
        df["blind"]
        | (df["coverage"].fillna(0) < QUIET_COVERAGE)
        | (df["visits_per_week"] < QUIET_VISITS_PER_WEEK)
    )
    df["_cov"] = df["coverage"].fillna(0)
    df = df.sort_values(
        ["quiet", "blind", "_cov", "visits_per_week", "code"], ascending=[False, False, True, True, True]
    )
    return df[OVERVIEW_COLUMNS].reset_index(drop=True)


def _grids(session: Session, actor: Actor, community_id: int | None) -> pd.DataFrame:
    """The grids in scope (of one community when given) with their worker, households and buildings."""
    grid_where: list[ColumnElement[bool]] = [grid_filter(actor)]
    if community_id is not None:
        grid_where.append(Grid.community_id == community_id)
    building_counts = select(Building.grid_id, func.count().label("n")).group_by(Building.grid_id).subquery()
    rows = session.exec(
        select(
            Grid.id,
            Grid.code,
            Grid.name,
            Grid.community_id,
            Community.name,
            Grid.worker_id,
            User.display_name,
            Grid.households,
            func.coalesce(building_counts.c.n, 0),
        )
        .join(Community, Community.id == Grid.community_id)
        .outerjoin(User, User.id == Grid.worker_id)
        .outerjoin(building_counts, building_counts.c.grid_id == Grid.id)
        .where(*grid_where)
        .order_by(Grid.code)
    ).all()
    return pd.DataFrame(rows, columns=_GRID_COLUMNS)


def _weekly_visits(
    session: Session, actor: Actor, ids: list[int], start: datetime, now: datetime, weeks: int
) -> dict[int, tuple[int, int, list[int]]]:
    """Per grid: visits since `start`, households visited, and visits per week (week 0 = the oldest)."""
    bounds = [start + timedelta(days=7 * i) for i in range(weeks + 1)]
    per_week = [
        func.sum(case((and_(GridVisit.at >= bounds[i], GridVisit.at < bounds[i + 1]), 1), else_=0))
        for i in range(weeks)
    ]
    rows = session.exec(
        select(GridVisit.grid_id, func.count(), func.sum(GridVisit.households_visited), *per_week)
        .where(GridVisit.at >= start, GridVisit.at < now + timedelta(seconds=1), visit_filter(actor))
        .where(GridVisit.grid_id.in_(ids))
        .group_by(GridVisit.grid_id)
    ).all()
    return {int(r[0]): (int(r[1]), int(r[2] or 0), [int(x or 0) for x in r[3:]]) for r in rows}


def _buildings_reached(
    session: Session, actor: Actor, ids: list[int], since: datetime, now: datetime
) -> dict[int, int]:
    """Per grid: the number of its buildings visited between `since` and `now`."""
    return dict(
        session.exec(
            select(GridVisit.grid_id, func.count(func.distinct(GridVisit.building_id)))
            .where(
                GridVisit.at >= since,
                GridVisit.at <= now,
                GridVisit.building_id.is_not(None),
                GridVisit.grid_id.in_(ids),
                visit_filter(actor),
            )
            .group_by(GridVisit.grid_id)
        ).all()
    )


def _open_load(
    session: Session, actor: Actor, workers: list[int], now: datetime
) -> dict[int, tuple[int, int]]:
    """Per worker: active cases assigned to them (in the actor's scope) and how many of those are overdue."""
    if not workers:
        return {}
    overdue = case((and_(Case.due_at.is_not(None), Case.due_at <= now), 1), else_=0)
    rows = session.exec(
        select(Case.assignee_id, func.count(), func.sum(overdue))
        .where(Case.assignee_id.in_(workers), kpi.is_active(), case_filter(actor), kpi.not_duplicate())
        .group_by(Case.assignee_id)
    ).all()
    return {int(uid): (int(n), int(late or 0)) for uid, n, late in rows}
