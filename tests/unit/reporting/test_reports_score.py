"""The ranking (考核) score: weights, missing rates, flagged small units, order and ties."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pandas as pd
import pytest
from sqlmodel import Session

from dashboard.db import get_engine
from dashboard.reporting import kpi, ranking, reports
from models.enums import CaseStatus, Satisfaction
from tests.factories import add_case, build_world


def test_weights_sum_to_one() -> None:
    assert sum(ranking.SCORE_WEIGHTS.values()) == pytest.approx(1.0)
    assert ranking.SCORE_WEIGHTS == {
        "on_time_rate": 0.40,
        "satisfaction_rate": 0.30,
        "rework_rate": 0.15,
        "response_rate": 0.15,
    }


def test_score_formula() -> None:
    rates = {"on_time_rate": 0.9, "satisfaction_rate": 0.8, "rework_rate": 0.1, "response_rate": 0.5}
    expected = 100 * (0.40 * 0.9 + 0.30 * 0.8 + 0.15 * (1 - 0.1) + 0.15 * 0.5)
    assert ranking.score(rates) == pytest.approx(expected)
    assert (
        ranking.score({"on_time_rate": 1, "satisfaction_rate": 1, "rework_rate": 0, "response_rate": 1})
        == 100
    )
    assert (
        ranking.score({"on_time_rate": 0, "satisfaction_rate": 0, "rework_rate": 1, "response_rate": 0}) == 0
    )


def test_missing_rate_rescales_the_other_weights() -> None:
    rates = {
        "on_time_rate": 0.9,
        "satisfaction_rate": None,
        "rework_rate": float("nan"),
        "response_rate": 0.5,
    }
    assert ranking.score(rates) == pytest.approx(100 * (0.40 * 0.9 + 0.15 * 0.5) / 0.55)
    assert ranking.score({"on_time_rate": None}) is None
    assert ranking.score({}) is None


def _figs(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def test_rank_orders_flags_and_ties() -> None:
    units = pd.DataFrame({"key": [1, 2, 3, 4, 5], "name": ["甲", "乙", "丙", "丁", "戊"]})
    base = {"due": 20, "overdue_now": 0, "rework_rate": 0.0, "response_rate": 1.0, "satisfaction_rate": 1.0}
    figs = _figs(
        [
            {"key": 1, "reported": 30, **base, "on_time_rate": 0.80},
            {"key": 2, "reported": 30, **base, "on_time_rate": 0.95},
            {"key": 3, "reported": 30, **base, "on_time_rate": 0.80},  # tie with 1
            {"key": 4, "reported": 3, **base, "on_time_rate": 1.00},  # best rates, too few cases
            # 5 has no cases at all
        ]
    )
    ranked = ranking.rank(figs, units, min_cases=10)
    assert list(ranked["name"]) == ["乙", "甲", "丙", "丁", "戊"]
    assert list(ranked["rank"].astype("object").where(ranked["rank"].notna(), None)) == [1, 2, 2, None, None]
    assert list(ranked["few_cases"]) == [False, False, False, True, True]
    assert ranked.loc[ranked["name"] == "戊", "cases"].item() == 0
    assert math.isnan(ranked.loc[ranked["name"] == "戊", "score"].item())
    assert ranked.loc[0, "score"] == pytest.approx(100 * (0.40 * 0.95 + 0.30 + 0.15 + 0.15))


def test_rank_of_no_figures_keeps_units() -> None:
    units = pd.DataFrame({"key": [1, 2], "name": ["甲", "乙"]})
    empty = kpi.COUNT_COLUMNS + list(kpi.RATE_COLUMNS)
    ranked = ranking.rank(pd.DataFrame(columns=["key", *empty]), units)
    assert list(ranked["name"]) == ["甲", "乙"]
    assert ranked["rank"].isna().all() and ranked["few_cases"].all()


@pytest.fixture
def ranked_db(db_url: str):  # type: ignore[no-untyped-def]
    """Grid 0: all closed on time and satisfied; grid 1: all late and dissatisfied; 12 cases each."""
    with Session(get_engine(db_url)) as s:
        world = build_world(s)
        start = datetime(2026, 10, 5, 9)
        for i in range(12):
            at = start + timedelta(days=i)
            add_case(
                s,
                world,
                0,
                at,
                CaseStatus.closed,
                accepted_at=at + timedelta(hours=1),
                resolved_at=at + timedelta(days=1),
                closed_at=at + timedelta(days=2),
                solved=True,
                satisfaction=Satisfaction.satisfied,
                department_id=world.department["CG"],
            )
            add_case(
                s,
                world,
                1,
                at,
                CaseStatus.closed,
                accepted_at=at + timedelta(hours=5),
                resolved_at=at + timedelta(days=4),
                closed_at=at + timedelta(days=5),
                solved=False,
                rework_count=1,
                satisfaction=Satisfaction.dissatisfied,
            )
        add_case(s, world, 2, start, CaseStatus.reported)  # community 2: one case only
        s.commit()
        yield s, world


def test_report_rankings_from_the_database(ranked_db) -> None:  # type: ignore[no-untyped-def]
    s, world = ranked_db
    now = datetime(2026, 11, 10)
    rep = reports.build_report(
        s, world.actors["leader"], kpi.month_period(datetime(2026, 10, 1).date()), now=now
    )
    grids = rep.rankings["grid"]
    assert list(grids["key"][:2]) == [world.grid_ids[0], world.grid_ids[1]]
    assert grids.loc[0, "score"] == pytest.approx(100.0)
    assert grids.loc[1, "score"] == pytest.approx(0.0)
    assert list(grids["rank"][:2]) == [1, 2]
    assert grids["few_cases"].tolist()[2:] == [True, True]  # grid 2 has one case, grid 3 none
    comms = rep.rankings["community"]
    assert comms.loc[0, "key"] == world.community_ids[0]
    assert bool(comms.loc[1, "few_cases"])
    # the finding names the weakest part of the last unit's score
    assert "按期结案率" in rep.findings["ranking_grid"]
    # a community's report ranks its grids and departments, not communities
    own = reports.build_report(
        s, world.actors["community"], kpi.month_period(datetime(2026, 10, 1).date()), now=now
    )
    assert set(own.rankings) == {"grid", "department"}
    assert set(own.rankings["grid"]["key"]) == set(world.grid_ids[:2])
    assert own.scope_name == "测试1社区"
    # a leader narrowing to community 2 sees only its cases
    other = reports.build_report(
        s,
        world.actors["leader"],
        kpi.month_period(datetime(2026, 10, 1).date()),
        community_id=world.community_ids[1],
        now=now,
    )
    assert other.headline.set_index("metric").at["reported", "current"] == 1
    assert other.scope_name == "测试2社区"


def test_community_user_cannot_widen_scope(ranked_db) -> None:  # type: ignore[no-untyped-def]
    s, world = ranked_db
    me = world.actors["community"]
    assert reports.report_actor(me, world.community_ids[1]) == me
    assert reports.report_actor(world.actors["leader"], None) == world.actors["leader"]
    narrowed = reports.report_actor(world.actors["leader"], world.community_ids[1])
    assert (narrowed.role, narrowed.community_id, narrowed.id) == (
        "community",
        world.community_ids[1],
        world.actors["leader"].id,
    )
