"""Ageing colours: the boundaries, the one rule for missing instants, and the SQL forms (the queue's
colour column and filter, the figures' counts per colour) agreeing with the Python one case by case."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import product

import pytest
from sqlmodel import select

from dashboard.cases import ageing
from dashboard.cases.ageing import colour_at
from dashboard.cases.sla import sla_times
from dashboard.reporting import kpi
from models import Case
from models.enums import ACTIVE_STATUSES, Ageing, CalendarKind, CaseStatus
from tests.factories import CASE_LOOP, build_world, put_case
from tests.factories import CASE_LOOP_NOW as NOW

WD = CalendarKind.working_days


def test_ageing_boundaries() -> None:
    t = sla_times(datetime(2026, 9, 14, 10), 4, WD)
    tick = timedelta(microseconds=1)

    def colour(now: datetime) -> Ageing | None:
        return colour_at(now, t.warn_at, t.due_at, t.black_at)

    assert colour(datetime(2026, 9, 14, 10)) is Ageing.green
    assert colour(t.warn_at - tick) is Ageing.green
    assert colour(t.warn_at) is Ageing.yellow
    assert colour(t.due_at - tick) is Ageing.yellow
    assert colour(t.due_at) is Ageing.red
    assert colour(t.black_at - tick) is Ageing.red
    assert colour(t.black_at) is Ageing.black
    assert colour(t.black_at + timedelta(days=100)) is Ageing.black


def test_ageing_missing_or_closed() -> None:
    t = sla_times(datetime(2026, 9, 14, 10), 4, WD)
    assert colour_at(t.black_at, t.warn_at, t.due_at, t.black_at, closed=True) is None
    assert colour_at(t.black_at, None, None, None) is None
    assert colour_at(t.warn_at, None, t.due_at, t.black_at) is Ageing.green  # no warn time: no yellow
    assert colour_at(t.black_at, t.warn_at, t.due_at, None) is Ageing.red  # no black time: stays red
    assert colour_at(t.black_at, t.warn_at, None, t.black_at) is None  # no due date: no clock


def test_unknown_colour_is_refused() -> None:
    with pytest.raises(ValueError):
        ageing.condition("purple", NOW)


def test_sql_forms_agree_with_python(db_url: str) -> None:
    """Every combination of present and missing instants, on a running and a stopped clock, at instants
    before and on each threshold: the SQL colour, each colour's condition and the per-colour counts of
    the figures all give what `colour_at` gives."""
    start = NOW - timedelta(days=3)
    warn, due, black = start + timedelta(days=1), start + timedelta(days=2), start + timedelta(days=4)
    world = build_world(db_url, CASE_LOOP)
    grid = world.grid_ids[2]
    with world.session() as s:
        for status, w, d, b in product(
            (CaseStatus.in_progress, CaseStatus.resolved), (warn, None), (due, None), (black, None)
        ):
            put_case(s, world, status, reported_at=start, grid=2, warn_at=w, due_at=d, black_at=b)
        cases = s.exec(select(Case).where(Case.grid_id == grid)).all()
        in_grid = Case.grid_id == grid
        for now in sorted(
            {t + e for t in (start, warn, due, black) for e in (timedelta(seconds=-1), timedelta())}
        ):
            expected = {
                c.id: colour_at(now, c.warn_at, c.due_at, c.black_at, closed=c.status not in ACTIVE_STATUSES)
                for c in cases
            }
            rows = s.exec(select(Case.id, ageing.colour_expr(now)).where(in_grid)).all()
            assert {i: (Ageing(v) if v else None) for i, v in rows} == expected, now
            counts = kpi.open_counts_by(s, world.actors["operator"], "grid", grid_id=grid, now=now)
            for colour in Ageing:
                chosen = s.exec(select(Case.id).where(in_grid, ageing.condition(colour, now))).all()
                assert set(chosen) == {i for i, v in expected.items() if v is colour}, (now, colour)
                assert int(counts[colour.value].sum()) == len(chosen), (now, colour)
