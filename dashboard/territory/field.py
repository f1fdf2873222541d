"""Field work (网格员的日常): what its modules share — the blind-spot window and the grid a worker works in,
checked against the actor's scope.

The parts: :mod:`~dashboard.territory.todo_list` (the worker's to-do list), :mod:`~dashboard.territory.my_grid`
(the grid at a glance), :mod:`~dashboard.territory.visits` (走访), :mod:`~dashboard.territory.quick_intake`
(代录) and :mod:`~dashboard.territory.supervision` (the field overview that shows a community secretary or
the command centre which grids nobody has walked lately). Every query there is limited to the actor's scope
(``case_filter``, ``grid_filter``, ``visit_filter``) and counts in SQL.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlmodel import Session, select

from dashboard.admin import settings
from dashboard.kernel.errors import NotFound
from dashboard.kernel.scope import Actor, grid_filter
from models import Grid

BLIND_DAYS_SETTING = "blind_spot_days"
"""The admin's blind-spot window (DESIGN §8, default 30 days): no case and no visit in this many days makes a
grid a blind spot, and it is the window of building coverage here too."""


def blind_days(session: Session) -> int:
    """The blind-spot window in days, as the map and the wall use it (system setting)."""
    return int(settings.get_setting(session, BLIND_DAYS_SETTING))


def calendar_days_since(last: pd.Series, now: datetime) -> pd.Series:
    """Calendar days from each instant's local day to `now`'s (times are stored as naive Asia/Shanghai wall
    clock): 0 today, 1 yesterday, NaN for never. The one count behind every "最近走访 N 天前"."""
    stamps = pd.to_datetime(last)
    return (pd.Timestamp(now.date()) - stamps.dt.normalize()).dt.days.astype("float64")


def grid_in_scope(session: Session, actor: Actor, grid_id: int | None = None) -> Grid:
    """The grid (the actor's own by default) if it is in the actor's scope; else :class:`NotFound`."""
    grid_id = grid_id if grid_id is not None else actor.grid_id
    if grid_id is None:
        raise NotFound("field.err_no_grid")
    grid = session.exec(select(Grid).where(Grid.id == grid_id, grid_filter(actor))).first()
    if grid is None:
        raise NotFound("field.err_no_grid")
    return grid
