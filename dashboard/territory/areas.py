"""The sub-district, its communities and grids as the map draws them: boundaries read from the database,
simplified for the browser, with label points, bounds and (in the actor's scope) population and worker."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlmodel import Session

from dashboard.kernel.scope import Actor, grid_filter
from dashboard.territory import geo
from dashboard.territory.map_figures import POPULATION_KEYS
from models import Community, Grid, Subdistrict, User
from models.enums import Role

Level = Literal["subdistrict", "community", "grid"]

COORD_DIGITS = 5
"""Decimals kept in polygon coordinates sent to the browser (1e-5° ≈ 1 m)."""
DISPLAY_TOLERANCE = 1e-5
"""Douglas–Peucker tolerance (degrees, ≈ 1 m) of the outlines sent to the browser: a boundary surveyed
to the centimetre (tens of thousands of vertices) is drawn with the few hundred that show at street zoom;
label points, bounds and every computation use the stored outline."""


@dataclass(frozen=True)
class Area:
    """A sub-district, community or grid as the map draws it (plain values, cache friendly)."""

    id: int
    code: str
    name: str
    level: Level
    geometry: dict[str, Any]
    label: tuple[float, float]
    bounds: tuple[float, float, float, float]
    parent: str | None = None  # community code of a grid, sub-district code of a community
    in_scope: bool = True
    worker: str = ""
    worker_id: int | None = None
    population: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Territory:
    subdistricts: list[Area]
    communities: list[Area]
    grids: list[Area]

    def community(self, code: str | None) -> Area | None:
        return next((c for c in self.communities if c.code == code), None)

    def grid(self, code: str | None) -> Area | None:
        return next((g for g in self.grids if g.code == code), None)

    def grids_of(self, community_code: str) -> list[Area]:
        return [g for g in self.grids if g.parent == community_code]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return _union_bounds(a.bounds for a in (self.subdistricts or self.communities or self.grids))


def _union_bounds(bounds: Iterable[tuple[float, float, float, float]]) -> tuple[float, float, float, float]:
    items = list(bounds)
    if not items:
        return (118.28, 33.96, 118.28, 33.96)
    return (
        min(b[0] for b in items),
        min(b[1] for b in items),
        max(b[2] for b in items),
        max(b[3] for b in items),
    )


def _area(ident: int, code: str, name: str, level: Level, text: str, **extra: Any) -> Area:
    shape = geo.from_geojson(text)
    lon, lat = geo.label_point(shape)
    return Area(
        id=ident,
        code=code,
        name=name,
        level=level,
        geometry=json.loads(geo.to_geojson(shape.simplify(DISPLAY_TOLERANCE), COORD_DIGITS)),
        label=(round(lon, COORD_DIGITS), round(lat, COORD_DIGITS)),
        bounds=tuple(round(v, COORD_DIGITS) for v in shape.bounds),  # type: ignore[arg-type]
        **extra,
    )


def load_territory(session: Session, actor: Actor) -> Territory:
    """Boundaries of the sub-district(s), communities and grids, read from the database.

    Every area is returned (the map shows the whole territory for orientation); ``in_scope`` says whether
    the actor may see its figures, and grids outside the scope carry no population or worker.
    """
    subs = session.exec(select(Subdistrict.id, Subdistrict.code, Subdistrict.name, Subdistrict.outline)).all()  # type: ignore[call-overload]
    sub_code = {sid: code for sid, code, _, _ in subs}
    scoped = set(session.scalars(select(Grid.id).where(grid_filter(actor))).all())
    rows = session.exec(  # type: ignore[call-overload]
        select(Grid, Community.code, User.display_name)
        .join(Community, Community.id == Grid.community_id)
        .outerjoin(User, User.id == Grid.worker_id)
        .order_by(Grid.code)
    ).all()
    grids: list[Area] = []
    for grid, community_code, worker in rows:
        in_scope = grid.id in scoped
        population = {k: int(getattr(grid, k) or 0) for k in POPULATION_KEYS} if in_scope else {}
        grids.append(
            _area(
                grid.id,
                grid.code,
                grid.name,
                "grid",
                grid.polygon,
                parent=community_code,
                in_scope=in_scope,
                worker=(worker or "") if in_scope else "",
                worker_id=grid.worker_id if in_scope else None,
                population=population,
            )
        )
    comm_rows = session.exec(  # type: ignore[call-overload]
        select(
            Community.id, Community.code, Community.name, Community.outline, Community.subdistrict_id
        ).order_by(Community.code)
    ).all()
    communities: list[Area] = []
    for cid, code, name, outline, sid in comm_rows:
        own = [g for g in grids if g.parent == code]
        in_scope = community_in_scope(actor, cid) and bool(own) and all(g.in_scope for g in own)
        population = (
            {k: sum(g.population.get(k, 0) for g in own) for k in POPULATION_KEYS} if in_scope else {}
        )
        communities.append(
            _area(
                cid,
                code,
                name,
                "community",
                outline,
                parent=sub_code.get(sid),
                in_scope=in_scope,
                population=population,
            )
        )
    subdistricts = [
        _area(sid, code, name, "subdistrict", outline, in_scope=actor.reads_all)
        for sid, code, name, outline in subs
    ]
    return Territory(subdistricts, communities, grids)


def community_in_scope(actor: Actor, community_id: int) -> bool:
    """Whether the actor may see figures of a whole community (a grid worker sees only their grid)."""
    if actor.role == Role.grid_worker:
        return False
    if actor.role == Role.community:
        return actor.community_id == community_id
    return True
