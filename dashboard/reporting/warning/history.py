"""The counts the detectors share: cases per grid × category × day over the days before a run, read with one
SQL aggregate (never the cases themselves), and the territory they are counted over.

Merged duplicates are left out (they would count one problem twice); every other report counts, rejected
ones included, since a wave of reports is itself the signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
from sqlalchemy import func
from sqlmodel import Session, select

from dashboard.reporting.kpi import not_duplicate
from models import Case, Category, Community, Grid


@dataclass(frozen=True)
class Territory:
    """Grids (in array order) with their community, code and name; categories likewise."""

    grid_ids: np.ndarray
    grid_codes: list[str]
    grid_names: list[str]
    grid_community: np.ndarray  # community id of each grid
    polygons: list[str]
    community_ids: np.ndarray
    community_codes: list[str]
    community_names: list[str]
    category_ids: np.ndarray
    category_codes: list[str]

    def grid_index(self) -> dict[int, int]:
        return {int(g): i for i, g in enumerate(self.grid_ids)}

    def community_index(self) -> dict[int, int]:
        return {int(c): i for i, c in enumerate(self.community_ids)}


def load_territory(session: Session) -> Territory:
    """Every grid, community and category (their number is small: no scope, the job sees everything)."""
    grids = session.exec(
        select(Grid.id, Grid.code, Grid.name, Grid.community_id, Grid.polygon).order_by(Grid.id)  # type: ignore[arg-type]
    ).all()
    communities = session.exec(
        select(Community.id, Community.code, Community.name).order_by(Community.id)
    ).all()  # type: ignore[arg-type]
    categories = session.exec(select(Category.id, Category.code).order_by(Category.id)).all()  # type: ignore[arg-type]
    return Territory(
        grid_ids=np.array([g[0] for g in grids], dtype=np.int64),
        grid_codes=[g[1] for g in grids],
        grid_names=[g[2] for g in grids],
        grid_community=np.array([g[3] for g in grids], dtype=np.int64),
        polygons=[g[4] for g in grids],
        community_ids=np.array([c[0] for c in communities], dtype=np.int64),
        community_codes=[c[1] for c in communities],
        community_names=[c[2] for c in communities],
        category_ids=np.array([c[0] for c in categories], dtype=np.int64),
        category_codes=[c[1] for c in categories],
    )


@dataclass(frozen=True)
class DailyCounts:
    """``counts[g, k, d]``: cases of grid g and category k (Territory order) reported on day ``start + d``."""

    start: date
    counts: np.ndarray

    @property
    def days(self) -> int:
        return int(self.counts.shape[2])

    def day(self, index: int) -> date:
        return self.start + timedelta(days=index)


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def daily_counts(session: Session, territory: Territory, *, end: date, days: int) -> DailyCounts:
    """Counts per grid × category × day for the `days` days before `end` (end excluded)."""
    start = end - timedelta(days=days)
    day_col = func.date(Case.reported_at)
    rows = session.exec(
        select(Case.grid_id, Case.category_id, day_col, func.count())
        .where(
            Case.reported_at >= datetime.combine(start, time()),
            Case.reported_at < datetime.combine(end, time()),
            not_duplicate(),
        )
        .group_by(Case.grid_id, Case.category_id, day_col)
    ).all()
    counts = np.zeros((len(territory.grid_ids), len(territory.category_ids), days), dtype=np.int64)
    gi, ki = territory.grid_index(), {int(k): i for i, k in enumerate(territory.category_ids)}
    for grid_id, category_id, day, n in rows:
        g, k = gi.get(int(grid_id)), ki.get(int(category_id))
        d = (_as_date(day) - start).days
        if g is not None and k is not None and 0 <= d < days:
            counts[g, k, d] += int(n)
    return DailyCounts(start=start, counts=counts)


def by_community(territory: Territory, counts: np.ndarray) -> np.ndarray:
    """Sum the grid axis (first) of `counts` into communities (Territory order)."""
    ci = territory.community_index()
    rows = np.array([ci[int(c)] for c in territory.grid_community], dtype=np.int64)
    out = np.zeros((len(territory.community_ids), *counts.shape[1:]), dtype=counts.dtype)
    np.add.at(out, rows, counts)
    return out
