"""ui/field: a worker's saved visit refreshes that worker's cached glance and building list, and no one
else's (clearing the whole cache made every grid worker's next page recompute them: bench/LOAD.md)."""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from typing import Any

import pandas as pd
import pytest

from dashboard.kernel.scope import Actor
from dashboard.ui import field
from models.enums import Role


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> Counter[int]:
    """How often each worker's glance was computed (the domain reads replaced by counters)."""
    calls: Counter[int] = Counter()

    @contextmanager
    def no_session() -> Any:
        yield None

    def activity(_s: Any, me: Actor, now: Any) -> dict[str, int]:
        calls[me.id] += 1
        return {"cases": me.id}

    empty = pd.DataFrame({"building_id": [], "name": [], "households": [], "days_since": []})
    monkeypatch.setattr(field, "db_session", no_session)
    monkeypatch.setattr(field.my_grid, "grid_activity", activity)
    monkeypatch.setattr(field.my_grid, "building_recency", lambda *a, **k: empty)
    monkeypatch.setattr(field.my_grid, "volunteers_vs_need", lambda *a, **k: {})
    monkeypatch.setattr(field.my_grid, "rates_vs_community", lambda *a, **k: {})
    field.glance.clear()
    yield calls
    field.glance.clear()


def _worker(user_id: int) -> Actor:
    return Actor(
        id=user_id, username=f"gw{user_id}", display_name="网格员", role=Role.grid_worker, grid_id=user_id
    )


def test_a_visit_refreshes_only_its_workers_glance(computed: Counter[int]) -> None:
    one, two = _worker(9001), _worker(9002)
    for me in (one, two, one, two):
        field.current_glance(me)
    assert computed == {9001: 1, 9002: 1}  # cached
    field.clear_caches(one)
    field.current_glance(one)
    field.current_glance(two)
    assert computed == {9001: 2, 9002: 1}
