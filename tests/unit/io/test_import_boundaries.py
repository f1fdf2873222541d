"""GeoJSON boundary import: grid updates and additions (split), validation, datum conversion, re-location."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import update
from sqlmodel import select

from dashboard.io.boundaries import import_boundaries
from dashboard.io.cases import import_cases
from dashboard.territory import geo
from models import Case, Community, Grid, Subdistrict
from tests.factories import IMPORTS, IMPORTS_NOW, World, counts, csv_bytes

pytestmark = pytest.mark.world(IMPORTS, frozen_at=IMPORTS_NOW)


def rect(x0: float, y0: float, x1: float, y1: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def fc(*features: tuple[dict, dict]) -> bytes:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": props, "geometry": geom} for props, geom in features
            ],
        }
    ).encode()


def _world(w: World) -> None:
    """Make the sub-district outline what its four grids tile (two columns of two squares, see tests.factories)
    and put one case near TS-01-01's top."""
    outline = {
        "type": "MultiPolygon",
        "coordinates": [
            rect(118.0, 33.0, 118.005, 33.01)["coordinates"],
            rect(118.01, 33.0, 118.015, 33.01)["coordinates"],
        ],
    }
    with w.session() as s:
        s.execute(update(Subdistrict).values(outline=json.dumps(outline)))
        s.commit()
        import_cases(
            s,
            w.actors["admin"],
            csv_bytes(
                [
                    ["编号", "标题", "类别", "上报时间", "经度", "纬度"],
                    ["B-1", "路灯", "ENV", "2026-11-02", 118.0025, 33.0045],
                ]
            ),
            name="c.csv",
            commit=True,
        )
        s.commit()


def test_split_a_grid_keeps_cases_unless_relocated(world: World) -> None:
    _world(world)
    split = fc(
        ({"code": "TS-01-01", "name": "第一网格（南）"}, rect(118.0, 33.0, 118.005, 33.004)),
        (
            {"网格编号": "TS-01-03", "名称": "第一网格（北）", "所属社区": "TS-01"},
            rect(118.0, 33.004, 118.005, 33.005),
        ),
    )
    g = world.grid_ids
    with world.session() as s:
        dry = import_boundaries(s, world.actors["admin"], split, name="split.geojson", relocate_cases=True)
        assert dry.ok and (dry.new, dry.updated, dry.relocated) == (1, 1, 1) and dry.warnings == []
        report = import_boundaries(s, world.actors["admin"], split, name="split.geojson", commit=True)
        s.commit()
        assert report.committed and report.relocated == 0
        first = s.get(Grid, g[0])
        assert first.name == "第一网格（南）" and geo.area_km2(first.polygon) < 0.9 * 0.005 * 0.005 * 111 * 93
        assert first.centroid_lat < 33.004 and (first.centroid_lon, first.centroid_lat) == geo.label_point(
            first.polygon
        )
        new = s.exec(select(Grid).where(Grid.code == "TS-01-03")).one()
        assert new.community_id == world.community_ids[0] and new.households == 0
        case = s.exec(select(Case).where(Case.external_id == "B-1")).one()
        assert case.grid_id == g[0]  # kept its grid
    with world.session() as s:
        again = import_boundaries(
            s, world.actors["admin"], split, name="split.geojson", commit=True, relocate_cases=True
        )
        assert (again.new, again.updated, again.unchanged) == (0, 0, 2)
        assert again.relocated == 1
        s.commit()
        case = s.exec(select(Case).where(Case.external_id == "B-1")).one()
        assert case.grid_id == new.id and case.community_id == world.community_ids[0] and case.version == 2
        shrunk = import_boundaries(
            s,
            world.actors["admin"],
            fc(({"code": "TS-01-01"}, rect(118.0, 33.0, 118.005, 33.0039))),
            name="m.json",
        )
        assert shrunk.updated == 1 and [w.key for w in shrunk.warnings] == ["io.boundary.gap"]


def test_bad_geometries_are_row_errors_and_nothing_is_written(world: World) -> None:
    _world(world)
    unclosed = rect(118.0, 33.0, 118.005, 33.005)
    unclosed["coordinates"][0].pop()
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[118.005, 33.0], [118.01, 33.005], [118.01, 33.0], [118.005, 33.005], [118.005, 33.0]]
        ],
    }
    data = fc(
        ({"code": "TS-01-01"}, unclosed),
        ({"code": "TS-01-02"}, bowtie),
        ({"name": "无编号"}, rect(118.0, 33.0, 118.001, 33.001)),
        ({"code": "TS-03-01", "community": "TS-09"}, rect(118.02, 33.0, 118.03, 33.01)),
        ({"code": "TS-02-01"}, rect(118.004, 33.0, 118.015, 33.005)),
        ({"code": "TS-02-01"}, rect(118.01, 33.0, 118.015, 33.005)),
        ({"code": "TS-02-02"}, {"type": "Point", "coordinates": [118.0, 33.0]}),
    )
    before = counts(world.url)
    with world.session() as s:
        report = import_boundaries(s, world.actors["admin"], data, name="bad.geojson", commit=True)
        s.commit()
    assert not report.committed and counts(world.url) == before
    assert sorted((e.row, e.key) for e in report.errors) == [
        (1, "io.boundary.unclosed_ring"),
        (2, "io.boundary.invalid"),
        (3, "io.err.required"),
        (4, "io.err.unknown_community"),
        (6, "io.err.duplicate_in_file"),
        (7, "io.boundary.wrong_type"),
    ]
    assert "io.boundary.overlap" in {w.key for w in report.warnings}
    assert "io.boundary.outside_outline" in {w.key for w in report.warnings}


def test_gcj02_boundaries_are_converted(world: World) -> None:
    _world(world)
    with world.session() as s:
        stored = s.exec(select(Grid.polygon).where(Grid.code == "TS-02-02")).one()
    ring = json.loads(stored)["coordinates"][0]
    shifted = {"type": "Polygon", "coordinates": [[list(geo.wgs84_to_gcj02(x, y)) for x, y in ring]]}
    data = fc(({"code": "TS-02-02"}, shifted))
    with world.session() as s:
        raw = import_boundaries(s, world.actors["admin"], data, name="g.geojson")
        assert raw.updated == 1 and raw.warnings  # unconverted it moves and overlaps/leaves gaps
        converted = import_boundaries(s, world.actors["admin"], data, name="g.geojson", convert="gcj02")
        assert (converted.unchanged, converted.updated, converted.warnings) == (1, 0, [])


def test_community_outlines(world: World) -> None:
    _world(world)
    data = fc(
        ({"社区编码": "TS-01", "社区名称": "测试一社区"}, rect(118.0, 33.0, 118.005, 33.01)),
        ({"code": "TS-02"}, rect(118.01, 33.0, 118.015, 33.01)),
    )
    with world.session() as s:
        report = import_boundaries(
            s, world.actors["admin"], data, name="c.geojson", level="community", commit=True
        )
        s.commit()
        assert report.committed and report.updated == 2
        c1 = s.get(Community, world.community_ids[0])
        assert c1.name == "测试一社区" and json.loads(c1.outline) == rect(118.0, 33.0, 118.005, 33.01)
        assert report.warnings == []
