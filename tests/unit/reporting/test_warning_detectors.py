"""The early-warning detectors on hand-built history (tests/warning_data.py), on both databases: each finds a
planted episode and stays quiet on flat data. The risk model is trained on a few hundred cases only."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from dashboard.reporting.warning import history, hotspots, repeats, risk, spikes
from models.enums import AlertKind, AlertScope, CaseStatus
from tests.factories import World
from tests.warning_data import DAY, LATTICE, LATTICE8, NOW, case, flat_history, save

pytestmark = pytest.mark.world(LATTICE, frozen_at=NOW)


def _spikes(w: World) -> list:
    with w.session() as s:
        territory = history.load_territory(s)
        daily = history.daily_counts(s, territory, end=DAY, days=spikes.HISTORY_DAYS)
        return spikes.detect(s, territory, daily, DAY)


def test_spike_found_in_the_planted_grid_and_not_on_flat_history(world: World) -> None:
    save(world, flat_history(world, rate=0.6))
    assert _spikes(world) == []
    midnight = datetime.combine(DAY, datetime.min.time())
    planted = save(world, [case(world, 5, "ENV", midnight - timedelta(hours=h)) for h in range(2, 40, 4)])
    found = {(f.scope_type, f.scope_code): f for f in _spikes(world)}
    grid = found[(AlertScope.grid, "LT-01-06")]
    assert grid.kind == AlertKind.spike and grid.category_code == "ENV"
    assert grid.observed >= len(planted) and grid.expected < 4 and grid.score < spikes.P_GRID
    assert grid.since >= DAY - timedelta(days=3) and set(planted) <= set(grid.case_ids)
    assert grid.community_ids == {world.community_ids[0]} and grid.grid_ids == {world.grid_ids[5]}
    daily = grid.evidence["daily"]
    assert daily[-1]["day"] == (DAY - timedelta(days=1)).isoformat() and daily[-1]["observed"] >= 5
    assert {code for scope, code in found if scope == AlertScope.grid} == {"LT-01-06"}


def test_spike_expectation_follows_the_rest_of_the_district() -> None:
    """A wave everywhere is no local spike: doubling every cell's last day leaves the tails unchanged-ish."""
    rng = np.random.default_rng(3)
    counts = rng.poisson(2.0, size=(10, 1, spikes.HISTORY_DAYS))
    counts[:, :, -1] *= 2
    assert (spikes.score_cells(counts).p > spikes.P_COMMUNITY).all()
    counts[4, 0, -2:] += 12
    result = spikes.score_cells(counts)
    assert result.p[4, 0] < spikes.P_COMMUNITY and int(result.window[4, 0]) in (1, 2)


def _communities(rng: np.random.Generator, rate: np.ndarray) -> np.ndarray:
    """11 communities × 1 category of daily counts at `rate` (per community and day, or per day too)."""
    return rng.poisson(np.broadcast_to(rate, (11, 1, spikes.HISTORY_DAYS)))


def test_a_rise_spread_over_a_community_is_found() -> None:
    """Three times the usual over two days in a community of 4 cases a day (+16 cases, none in one place)
    is a spike; Poisson history gets no variance inflation, and 20 quiet districts give at most one alert."""
    rng = np.random.default_rng(11)
    quiet = [_communities(rng, np.array(4.0)) for _ in range(20)]
    results = [spikes.score_cells(c) for c in quiet]
    assert all((r.delta2 == 0).all() for r in results)
    assert sum(int((r.p < spikes.P_COMMUNITY).sum()) for r in results) <= 1  # of 20 × 11 communities
    found = 0
    for counts in quiet:
        counts[4, 0, -2:] += 8
        found += spikes.score_cells(counts).p[4, 0] < spikes.P_COMMUNITY
    assert found >= 18


def test_overdispersed_history_widens_the_expectation() -> None:
    """Weeks that vary far more than Poisson (a community's rate drawn anew each week) give δ² > 0 and a
    larger p for the same rise than Poisson weeks do."""
    rng = np.random.default_rng(5)
    weekly = rng.gamma(2.0, 1.5, size=(11, 1, spikes.HISTORY_DAYS // 7 + 1)).repeat(7, axis=2)
    wild = _communities(rng, weekly[:, :, : spikes.HISTORY_DAYS])
    calm = _communities(rng, np.array(3.0))
    for counts in (wild, calm):
        counts[4, 0, -2:] = [9, 9]
    wide, narrow = spikes.score_cells(wild), spikes.score_cells(calm)
    assert wide.delta2[0] > 0.1 and narrow.delta2[0] == 0
    assert wide.p[4, 0] > 10 * narrow.p[4, 0]


def test_repeats_by_building_phone_and_rework(world: World) -> None:
    at = datetime.combine(DAY, datetime.min.time())
    cases = [
        case(world, 2, "INF", at - timedelta(days=70), address="幸福小区3号楼2单元301"),
        case(world, 2, "INF", at - timedelta(days=30), address="幸福小区 3号楼 5单元 602"),
        case(world, 2, "INF", at - timedelta(days=3), address="幸福小区３号楼"),
        case(world, 2, "INF", at - timedelta(days=2), address="幸福小区3号楼东"),
        case(world, 2, "ENV", at - timedelta(days=3), address="幸福小区3号楼1单元"),  # another category
        case(world, 3, "INF", at - timedelta(days=5), address="和平里7号楼1单元"),
        case(world, 3, "INF", at - timedelta(days=120), address="和平里7号楼2单元"),  # too old
        case(world, 3, "INF", at - timedelta(days=4), address="和平里7号楼3单元"),
    ]
    cases += [
        case(world, 9, "ENV", at - timedelta(days=d), reporter_phone="139-1234-5678") for d in (2, 9, 25)
    ]
    cases.append(case(world, 9, "ENV", at - timedelta(days=40), reporter_phone="13912345678"))  # too old
    cases += [case(world, 10, "SAF", at - timedelta(days=3), reporter_phone="13700000000") for _ in range(2)]
    cases.append(case(world, 11, "SAF", at - timedelta(days=10), rework_count=2, number="LT-REWORKED"))
    cases.append(case(world, 11, "SAF", at - timedelta(days=10), rework_count=1))
    ids = save(world, cases)
    with world.session() as s:
        found = repeats.detect(s, history.load_territory(s), DAY)
    by_rule = {(f.evidence["rule"], f.scope_code): f for f in found}
    assert set(by_rule) == {
        ("building", "LT-02-03:幸福小区3号楼"),
        ("phone", "139****5678"),
        ("reworked", "LT-REWORKED"),
    }
    building = by_rule[("building", "LT-02-03:幸福小区3号楼")]
    assert building.observed == 4 and building.category_code == "INF" and building.case_ids == ids[:4]
    assert building.score < repeats.BUILDING_P and building.expected == repeats.BUILDING_FLOOR
    assert building.since == (DAY - timedelta(days=70)) and building.scope_name == "幸福小区3号楼"
    assert all("301" not in a and "602" not in a for a in building.evidence["addresses"])
    phone = by_rule[("phone", "139****5678")]
    assert phone.observed == 3 and "5678" not in phone.key and "13912345678" not in phone.key
    assert by_rule[("reworked", "LT-REWORKED")].case_ids == [ids[-2]]


def test_building_threshold_is_tunable(world: World) -> None:
    at = datetime.combine(DAY, datetime.min.time())
    save(
        world, [case(world, 2, "INF", at - timedelta(days=d), address="幸福小区3号楼") for d in (5, 6, 7, 8)]
    )
    with world.session() as s:
        territory = history.load_territory(s)
        assert len(repeats.by_building(s, territory, DAY)) == 1
        assert repeats.by_building(s, territory, DAY, minimum=5) == []
    # the same four cases at a building that had about as many every quarter of the year before: no repeat
    save(
        world,
        [
            case(world, 2, "INF", at - timedelta(days=100 + 25 * i), address="幸福小区3号楼")
            for i in range(10)
        ],
    )
    with world.session() as s:
        assert repeats.by_building(s, history.load_territory(s), DAY) == []


def _hotspots(w: World) -> tuple[list, dict]:
    with w.session() as s:
        territory = history.load_territory(s)
        daily = history.daily_counts(s, territory, end=DAY, days=hotspots.HISTORY_DAYS)
        return hotspots.detect(s, territory, daily, DAY)


def test_lattice_adjacency_is_queen(world: World) -> None:
    with world.session() as s:
        neighbours = hotspots.adjacency(history.load_territory(s))
    assert neighbours[0] == [1, 4, 5] and len(neighbours[5]) == 8


@pytest.mark.world(LATTICE8, frozen_at=NOW)
def test_hotspot_cluster_found_and_quiet_on_flat_history(world: World) -> None:
    save(world, flat_history(world, rate=0.15, category="SAF", days=hotspots.HISTORY_DAYS, seed=2))
    found, layer = _hotspots(world)
    assert found == [] and len(layer["SAF"]) == 64
    at = datetime.combine(DAY, datetime.min.time())
    block = [25, 26, 33, 34]  # a 2 × 2 block of 东社区
    save(world, [case(world, g, "SAF", at - timedelta(days=1 + 2 * i)) for g in block for i in range(10)])
    found, layer = _hotspots(world)
    (spot,) = found
    assert spot.kind == AlertKind.hotspot and spot.category_code == "SAF" and spot.score < hotspots.CLUSTER_P
    members = {g["grid_id"] for g in spot.evidence["grids"]}
    assert len(members) >= 2 and members <= {world.grid_ids[g] for g in block}
    assert spot.observed > 2 * spot.expected and spot.community_ids == {world.community_ids[0]}
    cells = {grid_id: (zv, p) for grid_id, zv, p in layer["SAF"]}
    assert all(cells[world.grid_ids[g]][0] > 1 for g in block)
    assert sum(cells[world.grid_ids[g]][1] < 0.05 for g in block) >= 2


def test_risk_model_learns_which_cases_run_late(world: World) -> None:
    """SAF cases (24 h) are mostly late (90 %), ENV ones rarely (5 %): the model says so, its AUC on
    the held-back month is high, its probabilities are calibrated enough to rank, and the open SAF case is
    the risky one, with the category among its reasons."""
    rng = np.random.default_rng(5)
    at0 = datetime.combine(DAY, datetime.min.time()) - timedelta(days=200)
    cases = []
    for i in range(420):
        category = "SAF" if i % 3 == 0 else "ENV"
        at = at0 + timedelta(hours=int(i * 11))
        late = rng.random() < (0.9 if category == "SAF" else 0.05)
        due = at + timedelta(days=1 if category == "SAF" else 3)
        closed = due + timedelta(hours=5) if late else at + (due - at) * 0.5
        cases.append(
            case(
                world,
                i % 16,
                category,
                at,
                due_at=due,
                closed_at=closed,
                resolved_at=closed - timedelta(hours=1),
            )
        )
    now = NOW
    open_saf = case(
        world,
        3,
        "SAF",
        now - timedelta(hours=3),
        status=CaseStatus.dispatched,
        due_at=now + timedelta(hours=21),
    )
    open_env = case(
        world,
        4,
        "ENV",
        now - timedelta(hours=3),
        status=CaseStatus.dispatched,
        due_at=now + timedelta(days=3),
    )
    overdue = case(
        world, 4, "ENV", now - timedelta(days=5), status=CaseStatus.dispatched, due_at=now - timedelta(days=1)
    )
    ids = save(world, [*cases, open_saf, open_env, overdue])
    with world.session() as s:
        result = risk.assess(s, NOW)
    saf_id, env_id, overdue_id = ids[-3:]
    assert result.auc is not None and result.auc > 0.75 and result.rows > 300
    assert overdue_id not in result.scores and set(result.scores) == {saf_id, env_id}
    p_saf, factors = result.scores[saf_id]
    assert p_saf > 0.5 > result.scores[env_id][0]
    assert "category" in [f[0] for f in factors]
    assert [f.case_ids for f in result.findings] == [[saf_id]]
    table = result.calibration
    assert 5 <= len(table) <= 10 and sum(r["n"] for r in table) > 10
    assert table[-1]["observed"] >= table[0]["observed"]
