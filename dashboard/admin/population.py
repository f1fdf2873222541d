"""Population aggregates of a grid (households, residents and the groups of ``POPULATION_FIELDS``) with
the date they apply from: figures entered ahead of time wait in `grid_population_history` until their date
comes. Conventions of every admin change are in :mod:`dashboard.admin.changes`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy import func, or_
from sqlmodel import Session, select

from dashboard import clock
from dashboard.admin.changes import field_changes, require_admin, to_json
from dashboard.kernel import audit
from dashboard.kernel.errors import Invalid, NotFound
from dashboard.kernel.scope import Actor
from models import Grid, GridPopulationHistory, User
from models.enums import POPULATION_FIELDS

POPULATION_KEYS: tuple[str, ...] = ("households", "residents", *POPULATION_FIELDS)
MAX_POPULATION = 1_000_000
MAX_DAYS_AHEAD = 366


def _population_of(grid: Grid) -> dict[str, int]:
    return {k: int(getattr(grid, k) or 0) for k in POPULATION_KEYS}


def grid_population(session: Session, grid_id: int) -> dict[str, int]:
    """The population aggregates a grid holds now (households, residents and the groups)."""
    grid = session.get(Grid, grid_id)
    if grid is None:
        raise NotFound("admin.err_not_found")
    return _population_of(grid)


def _population_values(grid: Grid, figures: Mapping[str, object]) -> dict[str, int]:
    unknown = sorted(set(figures) - set(POPULATION_KEYS))
    if unknown:
        raise Invalid("admin.err_population_field", field=", ".join(unknown))
    values = _population_of(grid)
    for key, raw in figures.items():
        number: int | None = None
        if isinstance(raw, int) and not isinstance(raw, bool):
            number = raw
        elif isinstance(raw, float) and raw.is_integer():
            number = int(raw)
        elif isinstance(raw, str) and raw.strip().isdigit():
            number = int(raw.strip())
        if number is None or not 0 <= number <= MAX_POPULATION:
            raise Invalid("admin.err_population_value", field=key, maximum=MAX_POPULATION)
        values[key] = number
    for part in ("elderly_alone", "elderly_solitary"):
        if values[part] > values["elderly_60"]:
            raise Invalid("admin.err_population_subset", field=part, total="elderly_60")
    return values


def _apply_population(grid: Grid, values: Mapping[str, int], effective_from: date) -> None:
    for key in POPULATION_KEYS:
        setattr(grid, key, int(values.get(key, getattr(grid, key) or 0)))
    grid.population_as_of = effective_from


def set_population(
    session: Session, actor: Actor, grid_id: int, figures: Mapping[str, object], effective_from: date
) -> bool:
    """Record a grid's population aggregates as they apply from `effective_from`.

    Always writes a `grid_population_history` row (fields not given keep their current values). The grid's
    own columns change now when the date is today or past and not older than the figures they hold; a
    future date is applied by :func:`apply_due_population` once it arrives. Returns whether the grid's
    columns changed now.
    """
    require_admin(actor)
    grid = session.get(Grid, grid_id)
    if grid is None:
        raise NotFound("admin.err_not_found")
    if not isinstance(effective_from, date) or isinstance(effective_from, datetime):
        raise Invalid("admin.err_date")
    today = clock.now().date()
    if effective_from < date(2000, 1, 1) or effective_from > today + timedelta(days=MAX_DAYS_AHEAD):
        raise Invalid("admin.err_date_range", days=MAX_DAYS_AHEAD)
    values = _population_values(grid, figures)
    now = clock.now()
    session.add(
        GridPopulationHistory(
            grid_id=grid_id,
            effective_from=effective_from,
            figures=to_json(values),
            changed_by=actor.id,
            changed_at=now,
        )
    )
    applied = effective_from <= today and (
        grid.population_as_of is None or effective_from >= grid.population_as_of
    )
    changes = field_changes(_population_of(grid), values)
    if applied:
        _apply_population(grid, values, effective_from)
        session.add(grid)
    session.flush()
    audit.record(
        session,
        actor,
        "grid_population",
        grid.code,
        detail=to_json({"effective_from": effective_from, "applied": applied, "changes": changes}),
    )
    return applied


def apply_due_population(session: Session, today: date | None = None) -> int:
    """Apply population figures whose date has come (set ahead of time); returns how many grids changed.

    For each grid the latest history row dated today or earlier wins, if newer than what the grid holds.
    Cheap to call often (one grouped query); the admin grid page calls it on load.
    """
    today = today or clock.now().date()
    latest = (
        select(GridPopulationHistory.grid_id, func.max(GridPopulationHistory.effective_from).label("day"))
        .where(GridPopulationHistory.effective_from <= today)
        .group_by(GridPopulationHistory.grid_id)
        .subquery()
    )
    due = session.exec(
        select(Grid, latest.c.day)
        .join(latest, latest.c.grid_id == Grid.id)
        .where(or_(Grid.population_as_of.is_(None), Grid.population_as_of < latest.c.day))
    ).all()
    for grid, day in due:
        row = session.exec(
            select(GridPopulationHistory)
            .where(GridPopulationHistory.grid_id == grid.id, GridPopulationHistory.effective_from == day)
            .order_by(GridPopulationHistory.changed_at.desc(), GridPopulationHistory.id.desc())
        ).first()
        assert row is not None
        _apply_population(grid, json.loads(row.figures), day)
        session.add(grid)
    return len(due)


def population_history(session: Session, grid_id: int) -> pd.DataFrame:
    """The grid's population entries, newest date first: effective_from, changed_at, changed_by, and figures."""
    stmt = (
        select(
            GridPopulationHistory.effective_from,
            GridPopulationHistory.changed_at,
            User.display_name,
            GridPopulationHistory.figures,
        )
        .outerjoin(User, User.id == GridPopulationHistory.changed_by)
        .where(GridPopulationHistory.grid_id == grid_id)
        .order_by(GridPopulationHistory.effective_from.desc(), GridPopulationHistory.id.desc())
    )
    records = []
    for day, at, who, figures in session.exec(stmt).all():  # type: ignore[call-overload]
        records.append(
            {"effective_from": day, "changed_at": at, "changed_by": who or "", **json.loads(figures)}
        )
    return pd.DataFrame(records, columns=["effective_from", "changed_at", "changed_by", *POPULATION_KEYS])
