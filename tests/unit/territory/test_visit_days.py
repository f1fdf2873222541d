"""Issue 19: "最近走访 N 天前" is one figure: calendar days (local dates, Asia/Shanghai as stored) between the
visit's day and today, the same in the supervision list and table and on the grid worker's pages; 0 reads
今天 and 1 昨天."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest
from sqlmodel import Session

from dashboard.db import get_engine
from dashboard.i18n import t_plain
from dashboard.territory import my_grid, supervision
from dashboard.territory.field import calendar_days_since
from dashboard.ui.field import days_text
from models import Building, GridVisit
from tests.factories import build_world

NOW = datetime(2026, 11, 20, 9, 0)


@pytest.mark.parametrize(
    ("visited", "days"),
    [
        (datetime(2026, 11, 20, 0, 5), 0),
        (datetime(2026, 11, 19, 23, 50), 1),  # 9 hours ago, but yesterday
        (datetime(2026, 10, 6, 21, 0), 45),  # 44.5 days ago: the 45th day back, not 44 or 46
        (datetime(2026, 10, 6, 8, 0), 45),
    ],
)
def test_days_since_counts_calendar_days(visited: datetime, days: int) -> None:
    assert list(calendar_days_since(pd.Series([visited, None]), NOW).fillna(-1)) == [days, -1]


def test_days_text() -> None:
    assert days_text(0) == t_plain("field.today") == "今天"
    assert days_text(1) == t_plain("field.yesterday") == "昨天"
    assert days_text(45) == "45 天前"
    assert days_text(None) == t_plain("field.never")


def test_supervision_and_my_grid_agree(db_url: str) -> None:
    with Session(get_engine(db_url)) as s:
        world = build_world(s)
        grid = world.grid_ids[0]
        building = Building(grid_id=grid, name="1号楼", households=10, lon=118.001, lat=33.001)
        s.add(building)
        s.flush()
        visited = NOW - timedelta(days=44, hours=12)  # 2026-10-06 21:00
        s.add(
            GridVisit(worker_id=None, grid_id=grid, building_id=building.id, households_visited=1, at=visited)
        )
        s.commit()
        row = supervision.field_overview(s, world.actors["operator"], now=NOW).set_index("grid_id").loc[grid]
        assert row["days_since_visit"] == 45
        recency = my_grid.building_recency(s, world.actors["grid_worker"], now=NOW)
        assert list(recency["days_since"]) == [45]
