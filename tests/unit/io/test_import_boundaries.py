"""GeoJSON boundary import: grid updates and additions (split), validation, datum conversion, re-location."""

from __future__ import annotations

import json
import math

import pytest
import shapely
from sqlalchemy import update
from sqlmodel import select

from dashboard.i18n import t_plain
from dashboard.io.boundaries import LIMITS, import_boundaries
from dashboard.io.cases import import_cases
from dashboard.territory import geo
from dashboard.territory.areas import load_territory
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


def _datav(features: list[tuple[int, str, list]], parent: int = 320311) -> bytes:
    """A DataV GeoAtlas export: MultiPolygons in GCJ-02, the code in ``adcode`` (a number), the name in
    ``name``, and the other properties DataV writes."""
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {
                        "adcode": adcode,
                        "name": name,
                        "center": polygons[0][0][0],
                        "centroid": polygons[0][0][1],
                        "childrenNum": 0,
                        "level": "street",
                        "parent": {"adcode": parent},
                        "subFeatureIndex": i,
                        "acroutes": [100000, 320000, 320300, parent],
                    },
                    "geometry": {
                        "type": "MultiPolygon",
                        "coordinates": [
                            [[list(geo.wgs84_to_gcj02(x, y)) for x, y in ring] for ring in polygon]
                            for polygon in polygons
                        ],
                    },
                }
                for i, (adcode, name, polygons) in enumerate(features)
            ],
        },
        ensure_ascii=False,
    ).encode()


def test_a_datav_geoatlas_export_imports_with_adcode_and_name(world: World) -> None:
    """Two communities as DataV draws them (one part, and two parts apart), over the stored TS-01/TS-02
    (which stay: overlaps with them are warnings)."""
    _world(world)
    west = [rect(118.0, 33.0, 118.005, 33.01)["coordinates"]]
    east = [
        rect(118.01, 33.0, 118.015, 33.0045)["coordinates"],
        rect(118.01, 33.0055, 118.015, 33.01)["coordinates"],
    ]
    data = _datav([(320311001, "河西社区", west), (320311002, "河东社区", east)])
    with world.session() as s:
        report = import_boundaries(
            s,
            world.actors["admin"],
            data,
            name="320311_full.json",
            level="community",
            convert="gcj02",
            commit=True,
        )
        s.commit()
        assert report.committed and report.errors == [] and report.new == 2, report.errors
        assert {w.key for w in report.warnings} == {"io.boundary.overlap"}
        assert {frozenset((w.value, w.values["other"])) for w in report.warnings} == {
            frozenset(("320311001", "TS-01")),
            frozenset(("320311002", "TS-02")),
        }
        stored = {c.code: c for c in s.exec(select(Community)).all()}
    assert stored["320311001"].name == "河西社区" and stored["320311002"].name == "河东社区"
    outline = geo.from_geojson(stored["320311002"].outline)
    assert outline.geom_type == "MultiPolygon" and len(outline.geoms) == 2
    expected = geo.from_geojson({"type": "MultiPolygon", "coordinates": east})
    assert outline.symmetric_difference(expected).area < 1e-10  # back in WGS-84 within centimetres


def test_boundary_properties_can_be_mapped(world: World) -> None:
    _world(world)
    data = fc(
        (
            {"OBJECTID": 7, "GRID_NO": "TS-01-01", "NAME_CN": "一号网格", "code": "wrong"},
            rect(118.0, 33.0, 118.005, 33.005),
        ),
    )
    with world.session() as s:
        report = import_boundaries(
            s,
            world.actors["admin"],
            data,
            {"columns": {"GRID_NO": "code", "NAME_CN": "name"}},
            name="m.geojson",
        )
    assert report.errors == [] and (report.updated, report.new) == (1, 0)
    assert report.mapping["columns"] == {"GRID_NO": "code", "NAME_CN": "name"}
    with world.session() as s, pytest.raises(ValueError, match="unknown field"):
        import_boundaries(s, world.actors["admin"], data, {"GRID_NO": "households"}, name="m.geojson")


def test_a_file_without_a_code_property_says_which_property_to_map(world: World) -> None:
    _world(world)
    data = fc(
        ({"OBJECTID": 1, "GRID_NO": "A1", "面积": 0.2}, rect(118.0, 33.0, 118.005, 33.005)),
        ({"OBJECTID": 2, "GRID_NO": "A2", "面积": 0.2}, rect(118.01, 33.0, 118.015, 33.005)),
    )
    with world.session() as s:
        report = import_boundaries(s, world.actors["admin"], data, name="x.geojson")
    problem = report.file_error
    assert problem is not None and problem.key == "io.boundary.no_code" and report.errors == []
    assert problem.values["candidates"] == "OBJECTID, GRID_NO"  # unique in every feature, in file order
    assert t_plain(problem.key, "zh", **problem.values).count("GRID_NO") == 1


def test_feature_and_vertex_limits_refuse_the_file_before_any_geometry_work(world: World) -> None:
    _world(world)
    tiny = [
        ({"code": f"T-{i}", "community": "TS-01"}, rect(118.0, 33.0, 118.00001, 33.00001))
        for i in range(LIMITS["grid"][0] + 1)
    ]
    with world.session() as s:
        report = import_boundaries(s, world.actors["admin"], fc(*tiny), name="tiny.geojson")
    assert report.file_error is not None and report.file_error.key == "io.boundary.too_many_features"
    assert report.file_error.values == {
        "count": f"{LIMITS['grid'][0] + 1:,}",
        "max": f"{LIMITS['grid'][0]:,}",
    }
    n = LIMITS["community"][1] // 4 + 10
    ring = [
        [118.0 + 0.01 * math.cos(2 * math.pi * k / n), 33.0 + 0.01 * math.sin(2 * math.pi * k / n)]
        for k in range(n)
    ]
    ring.append(ring[0])
    dense = fc(*[({"code": f"C-{i}"}, {"type": "Polygon", "coordinates": [ring]}) for i in range(4)])
    with world.session() as s:
        report = import_boundaries(s, world.actors["admin"], dense, name="dense.geojson", level="community")
    assert report.file_error is not None and report.file_error.key == "io.boundary.too_many_vertices"
    assert report.file_error.values["max"] == f"{LIMITS['community'][1]:,}"


def test_a_dense_boundary_is_stored_as_given_and_drawn_simplified(world: World) -> None:
    """A surveyed outline: TS-01-01's square with a vertex every 5 cm, each a centimetre off the edge."""
    _world(world)
    x0, y0, x1, y1 = 118.0, 33.0, 118.005, 33.005
    n = 2000
    ring = [[x0 + (x1 - x0) * k / n, y0 + (1e-7 if k % 2 else 0)] for k in range(n)]
    ring += [[x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    data = fc(({"code": "TS-01-01"}, {"type": "Polygon", "coordinates": [ring]}))
    with world.session() as s:
        report = import_boundaries(s, world.actors["admin"], data, name="dense.geojson", commit=True)
        s.commit()
        assert report.committed and report.updated == 1 and report.errors == []
        stored = geo.from_geojson(s.exec(select(Grid.polygon).where(Grid.code == "TS-01-01")).one())
        drawn = load_territory(s, world.actors["admin"]).grid("TS-01-01")
    assert shapely.get_num_coordinates(stored) == n + 4
    assert drawn is not None and len(drawn.geometry["coordinates"][0]) <= 6
    assert geo.from_geojson(drawn.geometry).symmetric_difference(stored).area < 1e-10
