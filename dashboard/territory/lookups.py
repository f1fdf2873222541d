"""Reading the territory (communities, grids, categories, departments) as small lookup tables."""

from __future__ import annotations

import pandas as pd
from sqlmodel import Session, select

from dashboard.kernel.scope import Actor, grid_filter
from models import Building, Category, Community, Department, Grid


def communities(session: Session) -> pd.DataFrame:
    """id, code, name, kind of every community, by code."""
    rows = session.exec(
        select(Community.id, Community.code, Community.name, Community.kind).order_by(Community.code)
    ).all()
    return pd.DataFrame(rows, columns=["id", "code", "name", "kind"])


def grids(session: Session, actor: Actor | None = None) -> pd.DataFrame:
    """Grids (in the actor's scope when given) with their community and population totals, by code."""
    stmt = select(
        Grid.id, Grid.code, Grid.name, Grid.community_id, Grid.households, Grid.residents, Grid.worker_id
    ).order_by(Grid.code)
    if actor is not None:
        stmt = stmt.where(grid_filter(actor))
    rows = session.exec(stmt).all()
    return pd.DataFrame(
        rows, columns=["id", "code", "name", "community_id", "households", "residents", "worker_id"]
    )


def buildings(session: Session, actor: Actor) -> pd.DataFrame:
    """The buildings and courtyards (楼栋/院落) of the grids in the actor's scope, by grid and name: id, name,
    grid_id, grid_code, community, lon, lat (a sub-district has a few thousand)."""
    rows = session.exec(
        select(Building.id, Building.name, Grid.id, Grid.code, Community.name, Building.lon, Building.lat)
        .join(Grid, Grid.id == Building.grid_id)
        .join(Community, Community.id == Grid.community_id)
        .where(grid_filter(actor))
        .order_by(Grid.code, Building.name, Building.id)
    ).all()
    return pd.DataFrame(rows, columns=["id", "name", "grid_id", "grid_code", "community", "lon", "lat"])


def categories(session: Session, include_retired: bool = False) -> pd.DataFrame:
    """Categories with their SLA settings, by code."""
    table = Category.__table__
    stmt = select(*table.columns).order_by(table.c.code)
    if not include_retired:
        stmt = stmt.where(table.c.active.is_(True))
    return pd.DataFrame(session.exec(stmt).all(), columns=[c.name for c in table.columns])  # type: ignore[call-overload]


def departments(session: Session, include_inactive: bool = False) -> pd.DataFrame:
    stmt = select(
        Department.id, Department.code, Department.name, Department.kind, Department.active
    ).order_by(Department.code)
    if not include_inactive:
        stmt = stmt.where(Department.active.is_(True))
    return pd.DataFrame(session.exec(stmt).all(), columns=["id", "code", "name", "kind", "active"])
