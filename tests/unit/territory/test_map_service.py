"""The map's data: per-grid and per-community figures (from kpi.py and volunteers.py), GeoJSON features,
colour scales, case points, scenes for each level and the grid panel, on hand-built data."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import pandas as pd
import pytest
import shapely
from shapely.geometry import shape
from sqlmodel import Session

from dashboard.cases import ageing
from dashboard.db import get_engine
from dashboard.reporting import kpi
from dashboard.territory import areas, grid_panel, map_figures, map_scales, map_scene, map_values
from dashboard.volunteers import need
from models import GridVisit, NeedRule, Volunteer, VolunteerSkill
from models.enums import CaseStatus, Satisfaction
from tests.factories import add_case, build_world

NOW = datetime(2026, 11, 20, 12, 0)
PERIOD = map_figures.period_for("30d", NOW)


@pytest.fixture
def world_db(db_url: str):  # type: ignore[no-untyped-def]
    with Session(get_engine(db_url)) as s:
        world = build_world(s)

        def at(grid: int) -> dict[str, float]:
            return {"lon": 118.001 + (grid // 2) * 0.01, "lat": 33.001 + (grid % 2) * 0.005}

        d = datetime(2026, 11, 3, 9)
        # grid 0: two closed (one on time + satisfied, one late + dissatisfied), two open (one overdue)
        add_case(
            s,
            world,
            0,
            d,
            CaseStatus.closed,
            accepted_at=d + timedelta(hours=1),
            resolved_at=d + timedelta(days=1),
            closed_at=d + timedelta(days=2),
            satisfaction=Satisfaction.satisfied,
            solved=True,
            **at(0),
        )
        add_case(
            s,
            world,
            0,
            d,
            CaseStatus.closed,
            accepted_at=d + timedelta(hours=1),
            resolved_at=d + timedelta(days=4),
            closed_at=d + timedelta(days=5),
            satisfaction=Satisfaction.dissatisfied,
            solved=True,
            **at(0),
        )
        add_case(s, world, 0, datetime(2026, 11, 10, 9), CaseStatus.in_progress, **at(0))  # overdue, black
        add_case(s, world, 0, datetime(2026, 11, 19, 9), CaseStatus.reported, **at(0))  # green
        # grid 1: one open, nearly due (yellow)
        add_case(s, world, 1, datetime(2026, 11, 18, 9), CaseStatus.accepted, **at(1))
        # grid 2 (other community): one closed on time, basically satisfied
        add_case(
            s,
            world,
            2,
            d,
            CaseStatus.closed,
            accepted_at=d + timedelta(hours=1),
            resolved_at=d + timedelta(days=1),
            closed_at=d + timedelta(days=1),
            satisfaction=Satisfaction.basically,
            solved=True,
            **at(2),
        )
        # grid 3: nothing at all (a blind spot); grid 1 was visited
        s.add(GridVisit(grid_id=world.grid_ids[1], at=datetime(2026, 11, 15, 10), households_visited=3))
        # one need rule and one active volunteer with the skill in grid 0
        s.add(NeedRule(skill="急救", basis="households", per=0, minimum=2))
        v = Volunteer(
            name="张三",
            phone="13800000001",
            home_grid_id=world.grid_ids[0],
            community_id=world.community_ids[0],
            registered_at=NOW - timedelta(days=3),
        )
        s.add(v)
        s.flush()
        s.add(VolunteerSkill(volunteer_id=v.id, skill="急救"))
        s.commit()
        yield s, world


def _values(s: Session, actor, period=PERIOD):  # type: ignore[no-untyped-def]
    territory = areas.load_territory(s, actor)
    grids = map_values.grid_values(s, actor, period, blind_days=30, now=NOW)
    return territory, grids, map_values.community_values(s, actor, period, grids, territory, now=NOW)


def _same(a: float | None, b: float | None) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return b is not None and a == pytest.approx(b)


def test_grid_figures_are_the_kpi_figures(world_db) -> None:  # type: ignore[no-untyped-def]
    s, world = world_db
    leader = world.actors["leader"]
    territory, grids, _ = _values(s, leader)
    assert sorted(grids.index) == sorted(world.grid_ids)
    blind = kpi.blind_spots(s, leader, 30, NOW).set_index("grid_id")
    cov = need.coverage_by_grid(s, leader, NOW).set_index("grid_id")
    for area in territory.grids:
        f = kpi.figures(s, leader, PERIOD, grid_id=area.id, now=NOW)
        row = grids.loc[area.id]
        assert row["reported"] == f.reported
        assert row["open_now"] == f.open_now and row["overdue_now"] == f.overdue_now
        assert _same(row["on_time_rate"], f.on_time_rate)
        assert _same(row["satisfaction_rate"], f.satisfaction_rate)
        base = area.population["actual_residents"] or area.population["residents"]
        assert _same(row["per_1000"], f.reported / base * 1000)
        assert _same(row["days_since"], blind.loc[area.id, "days_since"])
        assert _same(row["coverage"], cov.loc[area.id, "coverage"])
    g0 = grids.loc[world.grid_ids[0]]
    assert (g0["reported"], g0["open_now"], g0["overdue_now"]) == (4, 2, 1)
    assert g0["satisfaction_rate"] == pytest.approx(0.5)
    assert (g0["black"], g0["green"]) == (1, 1)
    assert grids.loc[world.grid_ids[1], "yellow"] == 1
    assert g0["coverage"] == pytest.approx(0.5)  # 1 active volunteer of the 2 needed
    assert math.isnan(grids.loc[world.grid_ids[3], "days_since"])  # never any case or visit


def test_community_figures_are_the_kpi_figures(world_db) -> None:  # type: ignore[no-untyped-def]
    s, world = world_db
    leader = world.actors["leader"]
    territory, grids, comms = _values(s, leader)
    cov = need.coverage_by_community(s, leader, NOW).set_index("community_id")
    for area in territory.communities:
        f = kpi.figures(s, leader, PERIOD, community_id=area.id, now=NOW)
        row = comms.loc[area.id]
        assert row["reported"] == f.reported and row["open_now"] == f.open_now
        assert _same(row["on_time_rate"], f.on_time_rate)
        assert _same(row["satisfaction_rate"], f.satisfaction_rate)
        assert row["pop_residents"] == sum(g.population["residents"] for g in territory.grids_of(area.code))
        assert _same(row["coverage"], cov.loc[area.id, "coverage"])
    c0 = comms.loc[world.community_ids[0]]
    assert c0["days_since"] == grids.loc[world.grid_ids[:2], "days_since"].max()


def test_features_are_valid_geojson_with_every_grid(world_db) -> None:  # type: ignore[no-untyped-def]
    s, world = world_db
    leader = world.actors["leader"]
    territory, grids, _ = _values(s, leader)
    for figure in map_figures.figures_for(leader):
        scale = map_scales.make_scale(figure, grids[figure])
        fc = map_scene.features(territory.grids, grids, figure, scale, leader, "zh")
        fc = json.loads(json.dumps(fc))  # plain JSON
        assert fc["type"] == "FeatureCollection"
        assert [f["properties"]["code"] for f in fc["features"]] == sorted(g.code for g in territory.grids)
        for feat, area in zip(fc["features"], territory.grids, strict=True):
            geom = shape(feat["geometry"])
            assert (
                feat["type"] == "Feature" and geom.geom_type in ("Polygon", "MultiPolygon") and geom.is_valid
            )
            assert geom.equals_exact(shapely.from_geojson(json.dumps(area.geometry)), 1e-6)
            props = feat["properties"]
            assert {"code", "name", "level", "parent", "value", "text", "fill", "tip", "in_scope"} <= set(
                props
            )
            assert len(props["fill"]) == 4 and all(
                isinstance(c, int) and 0 <= c <= 255 for c in props["fill"]
            )
            assert area.name in props["tip"] and "网格员" in props["tip"]
            assert props["level"] == "grid" and props["parent"] == area.parent
    overdue = map_scene.features(
        territory.grids,
        grids,
        "overdue_now",
        map_scales.make_scale("overdue_now", grids["overdue_now"]),
        leader,
        "en",
    )
    by_code = {f["properties"]["code"]: f["properties"] for f in overdue["features"]}
    assert by_code["TS-01-01"]["value"] == 1 and by_code["TS-01-01"]["text"] == "1 cases"


def test_grid_worker_sees_only_their_grid(world_db) -> None:  # type: ignore[no-untyped-def]
    s, world = world_db
    gw = world.actors["grid_worker"]
    territory, grids, comms = _values(s, gw)
    assert [g.code for g in territory.grids if g.in_scope] == ["TS-01-01"]
    assert list(grids.index) == [world.grid_ids[0]] and comms.empty
    assert all(not g.population and not g.worker for g in territory.grids if not g.in_scope)
    scene = map_scene.build_scene(territory, grids, comms, "open_now", gw, community="TS-01", lang="zh")
    assert scene.level == "community"
    assert [f["properties"]["code"] for f in scene.areas["features"]] == ["TS-01-01"]
    assert [f["properties"]["code"] for f in scene.context["features"]] == ["TS-01-02"]
    assert "在办" not in scene.context["features"][0]["properties"]["tip"]
    assert [f["properties"]["code"] for f in scene.highlight["features"]] == ["TS-01-01"]
    assert scene.highlight["features"][0]["properties"]["line"] == map_scene.OWN_GRID_LINE
    # at sub-district level every community is grey (no figures of a whole community for a grid worker)
    top = map_scene.build_scene(territory, grids, comms, "open_now", gw, lang="zh")
    assert all(
        f["properties"]["value"] is None and f["properties"]["fill"] == map_scales.NO_DATA
        for f in top.areas["features"]
    )


def test_volunteer_manager_gets_no_case_figures(world_db) -> None:  # type: ignore[no-untyped-def]
    s, world = world_db
    vm = world.actors["volunteer_manager"]
    assert "open_now" not in map_figures.figures_for(vm) and "coverage" in map_figures.figures_for(vm)
    territory, grids, _ = _values(s, vm)
    assert grids["open_now"].isna().all() and grids.loc[world.grid_ids[0], "coverage"] == pytest.approx(0.5)
    scene = map_scene.build_scene(territory, grids, pd.DataFrame(), "coverage", vm, unit="grid")
    assert scene.aggregates == []
    assert all("在办" not in f["properties"]["tip"] for f in scene.areas["features"])


def test_cases_per_1000_prefers_actual_residents() -> None:
    assert map_figures.cases_per_1000(5, 2500, 2000) == pytest.approx(2.0)
    assert map_figures.cases_per_1000(5, 0, 2000) == pytest.approx(2.5)  # actual population unknown
    assert map_figures.cases_per_1000(5, 0, 0) is None
    assert map_figures.figure_label("pop_actual_residents", "zh") == "实有人口"
    assert map_figures.figure_label("pop_left_behind_children", "zh") == "留守儿童"


def test_scales() -> None:
    sat = map_scales.make_scale("satisfaction_rate", [])
    assert sat.kind == "diverging" and sat.target == pytest.approx(0.9)
    red, target, blue = sat.colour(0.6), sat.colour(0.9), sat.colour(1.0)
    assert red[0] > red[2] and blue[2] > blue[0] and target[:3] == [254, 224, 144]
    assert sat.colour(None) == map_scales.NO_DATA and sat.colour(float("nan")) == map_scales.NO_DATA
    counts = map_scales.make_scale("open_now", [3, 17, None])
    assert counts.kind == "sequential" and counts.domain == (0.0, 20.0)
    light, dark = counts.colour(0), counts.colour(20)
    assert sum(light[:3]) > sum(dark[:3])  # more is darker
    assert counts.colour(999) == dark
    assert map_scales.make_scale("open_now", []).domain == (0.0, map_figures.FIGURES["open_now"].min_top)
    days = map_scales.make_scale("days_since", [], blind_days=30)
    assert days.target == 30 and days.domain == (0.0, 60.0)
    ticks = map_scales.legend_ticks(sat, "zh")
    assert [text for _, text in ticks] == ["70.0%", "85.0%", "90.0%", "100.0%"]
    assert map_figures.format_value("per_1000", 3.456, "zh") == "3.5 件/千人"
    assert map_figures.format_value("coverage", None) == "—"


def test_count_scales_keep_a_minimum_range() -> None:
    """A grid worker's map (one grid, one open case) shows that case in a light colour, not the darkest:
    count scales run to at least a few cases, whatever the largest value in scope."""
    for figure in ("open_now", "overdue_now"):
        one = map_scales.make_scale(figure, [1.0])
        assert one.domain[1] >= 5, one.domain
        light, darkest = one.colour(1), one.colour(one.domain[1])
        assert sum(light[:3]) > sum(darkest[:3]) + 150, (light, darkest)  # clearly lighter
        assert map_scales.make_scale(figure, [0.0, 12.0]).domain == (0.0, 20.0)  # wider data: as before
    assert map_scales.make_scale("pop_households", [3.0]).domain == (0.0, 5.0)  # population: no minimum


def test_case_points_are_limited_most_urgent_first(world_db) -> None:  # type: ignore[no-untyped-def]
    s, world = world_db
    operator = world.actors["operator"]
    for i in range(10):
        add_case(s, world, 2, datetime(2026, 11, 1 + i, 9), CaseStatus.dispatched, lon=118.012, lat=33.001)
    add_case(s, world, 2, datetime(2026, 11, 1, 9), CaseStatus.in_progress)  # no coordinates: not drawn
    s.commit()
    every = map_values.case_points(s, operator, now=NOW)
    assert len(every) == 13
    dues = [p["number"] for p in every]
    assert len(set(dues)) == 13
    few = map_values.case_points(s, operator, limit=3, now=NOW)
    assert [p["number"] for p in few] == dues[:3]
    assert map_values.case_points(s, operator, community_id=world.community_ids[0], now=NOW) == [
        p for p in every if p["position"][0] < 118.01
    ]
    for p in every:
        assert p["colour"] == map_scales.AGEING_COLOURS[p["ageing"]] and p["number"] in p["tip"]
    # the oldest open case of grid 0 is black (overdue by more than the limit again)
    grid0 = map_values.case_points(s, operator, grid_id=world.grid_ids[0], now=NOW)
    assert [p["ageing"] for p in grid0] == ["black", "green"]
    assert (
        grid0[0]["ageing"]
        == ageing.colour_at(
            NOW, datetime(2026, 11, 12, 9), datetime(2026, 11, 13, 9), datetime(2026, 11, 16, 9)
        ).value
    )
    assert [p["number"] for p in map_values.case_points(s, world.actors["grid_worker"], now=NOW)] == [
        p["number"] for p in grid0
    ]


def test_scenes_per_level(world_db) -> None:  # type: ignore[no-untyped-def]
    s, world = world_db
    leader = world.actors["leader"]
    territory, grids, comms = _values(s, leader)
    top = map_scene.build_scene(territory, grids, comms, "overdue_now", leader)
    assert (top.level, top.areas_layer) == ("subdistrict", "communities") and not top.points
    assert len(top.areas["features"]) == 2 and len(top.grid_lines["features"]) == 4
    assert {a["code"]: a["open"] for a in top.aggregates} == {"TS-01-01": 2, "TS-01-02": 1}
    assert (
        next(a for a in top.aggregates if a["code"] == "TS-01-01")["colour"]
        == map_scales.AGEING_COLOURS["black"]
    )
    by_grid = map_scene.build_scene(territory, grids, comms, "overdue_now", leader, unit="grid")
    assert by_grid.areas_layer == "grids" and len(by_grid.areas["features"]) == 4
    points = map_values.case_points(s, leader, community_id=world.community_ids[0], now=NOW)
    comm = map_scene.build_scene(
        territory, grids, comms, "overdue_now", leader, community="TS-01", points=points
    )
    assert comm.level == "community" and len(comm.areas["features"]) == 2 and len(comm.points) == 3
    assert [f["properties"]["code"] for f in comm.others["features"]] == ["TS-02"]
    grid = map_scene.build_scene(territory, grids, comms, "overdue_now", leader, grid="TS-01-02")
    assert grid.level == "grid" and grid.highlight["features"][0]["properties"]["code"] == "TS-01-02"
    assert grid.view["zoom"] >= comm.view["zoom"] > top.view["zoom"]


def test_fit_view_and_periods() -> None:
    view = map_scene.fit_view((118.0, 33.0, 118.02, 33.01), 1000, 640)
    assert view["longitude"] == pytest.approx(118.01) and 33.0 < view["latitude"] < 33.01
    assert 14 < view["zoom"] < 16
    assert map_figures.period_for("30d", NOW) == kpi.last_days(30, NOW)
    assert map_figures.period_for("month", NOW).start == datetime(2026, 11, 1)
    assert map_figures.period_for("last_month", NOW).start == datetime(2026, 10, 1)
    assert map_figures.period_for("bogus", NOW) == kpi.last_days(30, NOW)
    assert set(map_figures.PERIODS) >= {"30d", "month", "quarter"}


def test_grid_panel(world_db) -> None:  # type: ignore[no-untyped-def]
    s, world = world_db
    leader, gw = world.actors["leader"], world.actors["grid_worker"]
    territory, grids, _ = _values(s, leader)
    p = grid_panel.grid_panel(s, leader, territory, "TS-01-01", PERIOD, grids, now=NOW, lang="zh")
    assert p is not None and p.community_code == "TS-01"
    assert p.population["residents"] == 450 and p.population["elderly_alone"] == 15
    assert list(p.open_by_category["code"]) == ["ENV"]
    assert p.open_by_category.loc[0, "open_now"] == 2 and p.open_by_category.loc[0, "black"] == 1
    cmp = p.comparison.set_index("level")
    assert cmp.loc["grid", "satisfaction_rate"] == pytest.approx(0.5)
    community = kpi.figures(s, leader, PERIOD, community_id=world.community_ids[0], now=NOW)
    assert cmp.loc["community", "satisfaction_rate"] == pytest.approx(community.satisfaction_rate)
    assert cmp.loc["subdistrict", "satisfaction_rate"] == pytest.approx(
        kpi.figures(s, leader, PERIOD, now=NOW).satisfaction_rate
    )
    assert p.volunteers.to_dict("records") == [{"skill": "急救", "need": 2, "supply": 1, "gap": 1}]
    assert p.last_visit_at is None and p.visits_30d == 0
    p1 = grid_panel.grid_panel(s, leader, territory, "TS-01-02", PERIOD, grids, now=NOW)
    assert p1.last_visit_at == datetime(2026, 11, 15, 10) and p1.visits_30d == 1
    # a grid worker: own grid only, no comparison outside the scope
    t_gw, g_gw, _ = _values(s, gw)
    own = grid_panel.grid_panel(s, gw, t_gw, "TS-01-01", PERIOD, g_gw, now=NOW)
    assert own is not None
    assert (
        own.comparison.set_index("level")[["on_time_rate", "satisfaction_rate"]]
        .loc[["community", "subdistrict"]]
        .isna()
        .all()
        .all()
    )
    assert grid_panel.grid_panel(s, gw, t_gw, "TS-01-02", PERIOD, g_gw, now=NOW) is None
    assert grid_panel.grid_panel(s, leader, territory, "NOPE", PERIOD, grids, now=NOW) is None


def test_ranking_needing_attention_first(world_db) -> None:  # type: ignore[no-untyped-def]
    s, world = world_db
    leader = world.actors["leader"]
    territory, grids, comms = _values(s, leader)
    scene = map_scene.build_scene(territory, grids, comms, "open_now", leader, unit="grid")
    assert list(map_scene.ranking(scene.areas, "open_now")["code"])[:2] == ["TS-01-01", "TS-01-02"]
    sat = map_scene.build_scene(territory, grids, comms, "satisfaction_rate", leader, unit="grid")
    assert list(map_scene.ranking(sat.areas, "satisfaction_rate")["code"]) == ["TS-01-01", "TS-02-01"]


@pytest.mark.parametrize("figure", sorted(map_figures.FIGURES))
def test_no_map_scale_runs_from_red_to_green(figure: str) -> None:
    """Red-green is the pair most colour-blind viewers cannot tell apart: no figure's scale may hold
    both a strong red and a strong green stop (the rates diverge red → yellow → blue)."""
    scale = map_scales.make_scale(figure, [0.0, 0.5, 1.0, 3.0])

    def strong(rgb: tuple[int, int, int], channel: int) -> bool:
        return rgb[channel] >= 120 and rgb[channel] - max(c for i, c in enumerate(rgb) if i != channel) >= 60

    colours = [rgb for _, rgb in scale.stops]
    assert not (any(strong(c, 0) for c in colours) and any(strong(c, 1) for c in colours)), colours
