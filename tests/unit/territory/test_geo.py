"""dashboard.territory.geo: datums, distances, grid lookup, adjacency and boundary validation."""

from __future__ import annotations

import json
import random

import pytest
import shapely
import shapely.geometry

from dashboard.territory import geo


def square(x: float, y: float, size: float = 0.001, *, closed: bool = True) -> dict:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size]]
    if closed:
        ring.append([x, y])
    return {"type": "Polygon", "coordinates": [ring]}


def two_by_two() -> list[tuple[int, dict]]:
    """Grids 1 2 (bottom row) and 3 4 (top row), 0.001° squares at 118.28 E, 33.96 N."""
    x, y, s = 118.28, 33.96, 0.001
    return [(1, square(x, y)), (2, square(x + s, y)), (3, square(x, y + s)), (4, square(x + s, y + s))]


# -- datums -----------------------------------------------------------------------------------------


def test_wgs84_to_gcj02_beijing_reference_offset() -> None:
    lon, lat = geo.wgs84_to_gcj02(116.397, 39.909)
    assert lon - 116.397 == pytest.approx(0.0062, abs=0.0005)
    assert lat - 39.909 == pytest.approx(0.0014, abs=0.0003)


@pytest.mark.parametrize(
    ("forward", "backward"),
    [(geo.wgs84_to_gcj02, geo.gcj02_to_wgs84), (geo.wgs84_to_bd09, geo.bd09_to_wgs84)],
)
def test_datum_round_trips_within_half_a_metre(forward, backward) -> None:
    rng = random.Random(1)
    points = [(116.397, 39.909), (118.28, 33.96)] + [
        (rng.uniform(75, 135), rng.uniform(18, 53)) for _ in range(200)
    ]
    for lon, lat in points:
        back = backward(*forward(lon, lat))
        assert geo.haversine_m(lon, lat, *back) < 0.5
        assert forward(lon, lat) != (lon, lat)


def test_bd09_is_gcj02_plus_baidu_offset() -> None:
    gcj = geo.wgs84_to_gcj02(118.28, 33.96)
    bd = geo.wgs84_to_bd09(118.28, 33.96)
    assert bd == geo.gcj02_to_bd09(*gcj)
    assert bd[0] - gcj[0] == pytest.approx(0.0065, abs=0.0015)
    assert bd[1] - gcj[1] == pytest.approx(0.006, abs=0.0015)
    assert geo.haversine_m(*geo.bd09_to_gcj02(*bd), *gcj) < 0.01


@pytest.mark.parametrize("point", [(-0.1276, 51.5072), (151.2093, -33.8688), (139.6917, 35.6895 + 25)])
def test_no_gcj_offset_outside_china(point: tuple[float, float]) -> None:
    assert geo.wgs84_to_gcj02(*point) == point
    assert geo.gcj02_to_wgs84(*point) == point


def test_haversine() -> None:
    assert geo.haversine_m(118.0, 33.0, 118.0, 34.0) == pytest.approx(111_195, rel=1e-3)
    assert geo.haversine_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(111_195, rel=1e-3)
    assert geo.haversine_m(118.28, 33.96, 118.28, 33.96) == 0.0
    a = geo.haversine_m(116.397, 39.909, 118.28, 33.96)
    assert a == pytest.approx(geo.haversine_m(118.28, 33.96, 116.397, 39.909))
    assert 650_000 < a < 700_000  # Beijing – Suqian


# -- GeoJSON helpers --------------------------------------------------------------------------------


def test_to_geojson_is_compact_and_rounded() -> None:
    text = geo.to_geojson(shapely.box(118.123456789, 33.1, 118.2, 33.2))
    assert " " not in text
    data = json.loads(text)
    assert data["type"] == "Polygon"
    assert [118.123457, 33.1] in data["coordinates"][0]
    assert geo.from_geojson(text).equals(geo.from_geojson(data))


def test_from_geojson_accepts_feature_and_shapely() -> None:
    feature = {"type": "Feature", "properties": {"code": "XL-01-01"}, "geometry": square(118.0, 33.0)}
    assert geo.from_geojson(feature).geom_type == "Polygon"
    box = shapely.box(0, 0, 1, 1)
    assert geo.from_geojson(box) is box


def test_label_point_is_inside_a_concave_polygon() -> None:
    u_shape = shapely.Polygon([(0, 0), (3, 0), (3, 3), (2, 3), (2, 1), (1, 1), (1, 3), (0, 3)])
    assert not u_shape.contains(shapely.Point(geo.centroid(u_shape)))
    assert u_shape.contains(shapely.Point(geo.label_point(u_shape)))


def test_area_km2() -> None:
    # 0.01° × 0.01° at 34° N: 1.112 km × 0.922 km
    area = geo.area_km2(square(118.0, 33.995, 0.01))
    assert area == pytest.approx(1.1119 * 1.1119 * 0.8290, rel=0.005)


# -- locator and adjacency --------------------------------------------------------------------------


def test_locator_finds_grids_and_misses_outside() -> None:
    locator = geo.GridLocator([(gid, json.dumps(g)) for gid, g in two_by_two()])
    assert len(locator) == 4
    assert locator.locate(118.2805, 33.9605) == 1
    assert locator.locate(118.2815, 33.9605) == 2
    assert locator.locate(118.2805, 33.9615) == 3
    assert locator.locate(118.2815, 33.9615) == 4
    assert locator.locate(118.2785, 33.9605) is None
    assert locator.locate(0.0, 0.0) is None
    assert locator.locate(118.281, 33.9605) == 1  # on the shared edge of 1 and 2: lowest id
    assert locator.locate_many([], []) == []


def test_locate_many_matches_locate() -> None:
    locator = geo.GridLocator(two_by_two())
    rng = random.Random(3)
    lons = [rng.uniform(118.2795, 118.2825) for _ in range(2000)]
    lats = [rng.uniform(33.9595, 33.9625) for _ in range(2000)]
    found = locator.locate_many(lons, lats)
    assert found == [locator.locate(x, y) for x, y in zip(lons, lats, strict=True)]
    assert None in found and set(found) == {None, 1, 2, 3, 4}
    with pytest.raises(ValueError):
        locator.locate_many([1.0], [1.0, 2.0])


def test_locator_agrees_with_plain_point_in_polygon() -> None:
    """The indexed locator gives the grid a plain containment test gives, for random points (its speed
    is measured in bench/, not here: timed unit tests fail on a loaded machine)."""
    grids = [
        (i * 10 + j, square(118.2 + i * 0.01, 33.9 + j * 0.01, 0.01)) for i in range(10) for j in range(10)
    ]
    locator = geo.GridLocator(grids)
    shapes = [(gid, shapely.geometry.shape(polygon)) for gid, polygon in grids]
    rng = random.Random(5)
    for _ in range(2_000):
        lon, lat = rng.uniform(118.19, 118.31), rng.uniform(33.89, 34.01)
        inside = [gid for gid, shape in shapes if shape.covers(shapely.Point(lon, lat))]
        assert locator.locate(lon, lat) in (inside or [None])


def test_neighbours_of_a_two_by_two_grid() -> None:
    adjacency = geo.neighbours(two_by_two())
    assert adjacency == {1: {2, 3}, 2: {1, 4}, 3: {1, 4}, 4: {2, 3}}  # diagonals only meet at a corner


def test_neighbours_tolerance_bridges_slivers() -> None:
    gap = 0.000002  # ≈ 0.2 m between the two columns
    grids = [(1, square(118.28, 33.96)), (2, square(118.281 + gap, 33.96)), (3, square(118.28, 33.961))]
    assert geo.neighbours(grids) == {1: {3}, 2: set(), 3: {1}}
    assert geo.neighbours(grids, tolerance_m=0.5) == {1: {2, 3}, 2: {1}, 3: {1}}


# -- boundary validation ----------------------------------------------------------------------------


def kinds(problems: list[geo.BoundaryProblem]) -> set[tuple[object, str]]:
    return {(p.feature, p.kind) for p in problems}


def test_clean_tiling_has_no_problems() -> None:
    assert geo.validate_boundaries(two_by_two()) == []
    outline = shapely.box(118.28, 33.96, 118.282, 33.962)
    assert geo.validate_boundaries(two_by_two(), outline=outline) == []


def test_unclosed_ring_is_reported() -> None:
    problems = geo.validate_boundaries([(1, square(118.28, 33.96, closed=False))])
    assert kinds(problems) == {(1, "unclosed_ring")}


def test_bow_tie_is_invalid() -> None:
    bow_tie = {
        "type": "Polygon",
        "coordinates": [
            [[118.28, 33.96], [118.281, 33.961], [118.281, 33.96], [118.28, 33.961], [118.28, 33.96]]
        ],
    }
    (problem,) = geo.validate_boundaries([("XL-01-01", bow_tie)])
    assert problem.kind == "invalid"
    assert "Self-intersection" in problem.detail


def test_overlap_is_reported_with_its_area() -> None:
    grids = [(1, square(118.28, 33.96)), (2, square(118.2805, 33.96))]
    (problem,) = geo.validate_boundaries(grids)
    assert (problem.feature, problem.kind, problem.other) == (1, "overlap", 2)
    assert problem.area_m2 == pytest.approx(0.0005 * 0.001 * 111_195**2 * 0.8297, rel=0.01)


def test_enclosed_gap_is_reported() -> None:
    nine = [(f"{i}{j}", square(118.28 + i * 0.001, 33.96 + j * 0.001)) for i in range(3) for j in range(3)]
    assert geo.validate_boundaries(nine) == []
    holed = [f for f in nine if f[0] != "11"]
    (problem,) = geo.validate_boundaries(holed)
    assert (problem.feature, problem.kind) == (None, "gap")
    assert problem.area_m2 == pytest.approx(111.195 * 92.2 * 1.0, rel=0.01)
    assert "118.2815" in problem.detail


def test_narrow_sliver_open_to_the_outside_is_a_gap() -> None:
    gap = 0.000005  # ≈ 0.46 m wide, 222 m long
    grids = [
        (1, square(118.28, 33.96)),
        (2, square(118.281 + gap, 33.96)),
        (3, square(118.28, 33.961)),
        (4, square(118.281 + gap, 33.961)),
    ]
    (problem,) = geo.validate_boundaries(grids)
    assert problem.kind == "gap"
    assert problem.area_m2 == pytest.approx(0.46 * 222.4, rel=0.02)
    assert geo.validate_boundaries(grids, gap_width_m=0.0) == []


def test_concave_outer_boundary_is_not_a_gap() -> None:
    ell = {
        "type": "Polygon",
        "coordinates": [
            [
                [118.28, 33.96],
                [118.282, 33.96],
                [118.282, 33.961],
                [118.281, 33.961],
                [118.281, 33.962],
                [118.28, 33.962],
                [118.28, 33.96],
            ]
        ],
    }
    assert geo.validate_boundaries([(1, ell), (2, square(118.281, 33.961, 0.0005))]) == []


def test_outline_gaps_and_features_outside() -> None:
    outline = shapely.box(118.28, 33.96, 118.283, 33.961)
    grids = [(1, square(118.28, 33.96)), (2, square(118.282, 33.96)), (3, square(118.283, 33.96))]
    problems = geo.validate_boundaries(grids, outline=outline)
    assert kinds(problems) == {(None, "gap"), (3, "outside_outline")}


def test_malformed_features() -> None:
    features = [
        ("point", {"type": "Point", "coordinates": [118.28, 33.96]}),
        ("text", "not json"),
        ("swapped", square(33.96, 118.28)),
        ("short", {"type": "Polygon", "coordinates": [[[118.28, 33.96], [118.281, 33.96], [118.28, 33.96]]]}),
        ("dup", square(118.30, 33.96)),
        ("dup", square(118.31, 33.96)),
    ]
    found = kinds(geo.validate_boundaries(features))
    assert found == {
        ("point", "wrong_type"),
        ("text", "parse_error"),
        ("swapped", "out_of_range"),
        ("short", "too_few_points"),
        ("dup", "duplicate_id"),
    }


def test_multipolygon_is_accepted() -> None:
    multi = {
        "type": "MultiPolygon",
        "coordinates": [square(118.28, 33.96)["coordinates"], square(118.29, 33.96)["coordinates"]],
    }
    assert geo.validate_boundaries([(1, multi)]) == []
