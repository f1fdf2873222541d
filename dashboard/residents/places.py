"""Where a resident's problem is: the 社区 → 网格/小区 → 楼栋 choices of the public form, the grid of a QR
code, and a typed address matched against the buildings' names."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from models import Building, Community, Grid


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class Place:
    """The form's current choices and what each select offers (the next one filtered by the former)."""

    community_id: int | None
    grid_id: int | None
    building_id: int | None
    communities: list[Choice]
    grids: list[Choice]
    buildings: list[Choice]


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def resolve_place(
    session: Session,
    *,
    community: str | None = None,
    grid: str | None = None,
    grid_code: str | None = None,
    building: str | None = None,
) -> Place:
    """The choices as given, made consistent: a grid (by id, or by its code from a QR link) sets its
    community, a building outside the chosen grid is dropped, a grid outside the chosen community too."""
    grid_id = _int(grid)
    if grid_id is None and grid_code:
        grid_id = session.exec(select(Grid.id).where(Grid.code == grid_code.strip()[:16])).first()
    community_id = _int(community)
    grid_row = session.get(Grid, grid_id) if grid_id is not None else None
    if grid_row is None or (community_id is not None and grid_row.community_id != community_id):
        grid_id = None
        grid_row = None
    if grid_row is not None:
        community_id = grid_row.community_id
    building_id = _int(building)
    if building_id is not None:
        found = session.get(Building, building_id)
        if found is None or grid_id is None or found.grid_id != grid_id:
            building_id = None
    communities = session.exec(select(Community.id, Community.name).order_by(Community.code)).all()
    if community_id not in {c for c, _ in communities}:
        community_id, grid_id, building_id = None, None, None
    grids = (
        session.exec(
            select(Grid.id, Grid.name).where(Grid.community_id == community_id).order_by(Grid.code)
        ).all()
        if community_id is not None
        else []
    )
    buildings = (
        session.exec(
            select(Building.id, Building.name).where(Building.grid_id == grid_id).order_by(Building.name)
        ).all()
        if grid_id is not None
        else []
    )
    return Place(
        community_id,
        grid_id,
        building_id,
        [Choice(str(i), n) for i, n in communities],
        [Choice(str(i), n) for i, n in grids],
        [Choice(str(i), n) for i, n in buildings],
    )


def match_building(
    session: Session, address: str, *, grid_id: int | None, community_id: int | None
) -> int | None:
    """The building whose name the typed `address` contains (the longest such name, within the chosen
    grid, else community, else anywhere), or None."""
    if not address.strip():
        return None
    stmt = select(Building.id, Building.name).join(Grid, Grid.id == Building.grid_id)
    if grid_id is not None:
        stmt = stmt.where(Building.grid_id == grid_id)
    elif community_id is not None:
        stmt = stmt.where(Grid.community_id == community_id)
    hits = [(len(name), bid) for bid, name in session.exec(stmt).all() if name and name in address]
    return max(hits)[1] if hits else None
