"""seed.territory: the generated 项里街道 matches the published figures and tiles its outline exactly."""

from __future__ import annotations

import random
import re
from dataclasses import asdict

import pytest
import shapely

from dashboard.territory import geo
from models.enums import POPULATION_FIELDS, CommunityKind
from seed import territory as territory_module
from seed.territory import GridSpec, Territory, generate_territory

SEED = 20240601


@pytest.fixture(scope="module")
def terr() -> Territory:
    """The generated territory (how long generating takes is measured by bench/seed_time.py)."""
    return generate_territory(random.Random(SEED))


@pytest.fixture(scope="module")
def grids(terr: Territory) -> list[GridSpec]:
    return [g for c in terr.communities for g in c.grids]


def test_published_counts(terr: Territory, grids: list[GridSpec]) -> None:
    assert terr.name == "项里街道"
    assert len(terr.communities) == 11
    assert len(grids) == 97
    assert sum(g.households for g in grids) == 14_401
    assert sum(g.residents for g in grids) == 65_454
    assert len(terr.resident_units) == 41
    assert terr.area_km2 == pytest.approx(37.5, rel=0.1)
    assert geo.area_km2(terr.outline) == pytest.approx(37.5, rel=0.1)
    lon, lat = geo.centroid(terr.outline)
    assert abs(lon - 118.28) < 0.02 and abs(lat - 33.96) < 0.02


def test_communities(terr: Territory) -> None:
    assert [c.code for c in terr.communities] == [f"XL-{i:02d}" for i in range(1, 12)]
    farms = [c for c in terr.communities if c.kind is CommunityKind.farm]
    assert [c.name for c in farms] == ["果树试验场"]
    assert 3 <= len(farms[0].grids) <= 5
    assert sum(c.kind is CommunityKind.urban for c in terr.communities) == 6
    assert sum(c.kind is CommunityKind.suburban for c in terr.communities) == 4
    assert len({c.name for c in terr.communities}) == 11


def test_grids_tile_the_outline(terr: Territory, grids: list[GridSpec]) -> None:
    outline = geo.from_geojson(terr.outline)
    polys = [geo.from_geojson(g.polygon) for g in grids]
    assert outline.geom_type == "Polygon" and outline.is_valid
    union = shapely.union_all(polys)
    assert union.area == pytest.approx(outline.area, rel=1e-9)
    assert sum(p.area for p in polys) == pytest.approx(outline.area, rel=1e-9)  # so no overlaps
    assert outline.symmetric_difference(union).area <= outline.area * 1e-9
    tree = shapely.STRtree(polys)
    left, right = tree.query(polys, predicate="intersects")
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i < j:
            assert shapely.intersection(polys[i], polys[j]).area < 1e-12, (grids[i].code, grids[j].code)
    assert geo.validate_boundaries([(g.code, g.polygon) for g in grids], outline=terr.outline) == []


def test_each_grid_is_a_valid_polygon_with_its_label_inside(grids: list[GridSpec]) -> None:
    for g in grids:
        poly = geo.from_geojson(g.polygon)
        assert poly.geom_type == "Polygon" and poly.is_valid and not poly.interiors, g.code
        assert poly.contains(shapely.Point(g.centroid_lon, g.centroid_lat)), g.code
        assert geo.area_km2(poly) > 0.03, g.code


def test_old_town_grids_are_smaller(grids: list[GridSpec]) -> None:
    def mean_area(kind: str) -> float:
        areas = [geo.area_km2(g.polygon) for g in grids if g.kind == kind]
        return sum(areas) / len(areas)

    assert mean_area("urban") * 3 < mean_area("suburban")
    assert mean_area("urban") * 3 < mean_area("farm")


def test_communities_are_contiguous_unions_of_their_grids(terr: Territory, grids: list[GridSpec]) -> None:
    index = {g.code: i for i, g in enumerate(grids)}
    adjacency = geo.neighbours([(i, g.polygon) for i, g in enumerate(grids)])
    for c in terr.communities:
        outline = geo.from_geojson(c.outline)
        assert outline.geom_type == "Polygon" and outline.is_valid, c.code
        union = shapely.union_all([geo.from_geojson(g.polygon) for g in c.grids])
        assert outline.symmetric_difference(union).area <= outline.area * 1e-9, c.code
        assert outline.contains(shapely.Point(c.centroid_lon, c.centroid_lat)), c.code
        members = {index[g.code] for g in c.grids}
        seen, stack = {min(members)}, [min(members)]
        while stack:
            for nb in adjacency[stack.pop()] & members:
                if nb not in seen:
                    seen.add(nb)
                    stack.append(nb)
        assert seen == members, c.code
        for g in c.grids:
            assert g.kind == c.kind.value


def test_grid_codes_and_names(terr: Territory) -> None:
    codes = [g.code for c in terr.communities for g in c.grids]
    assert len(set(codes)) == 97
    for c in terr.communities:
        for n, g in enumerate(c.grids, start=1):
            assert g.code == f"{c.code}-{n:02d}"
            assert g.name == f"{c.name}第{n}网格"
            assert re.fullmatch(r"XL-\d\d-\d\d", g.code)


def test_population_groups_are_plausible(grids: list[GridSpec]) -> None:
    for g in grids:
        p = g.population
        assert tuple(p) == POPULATION_FIELDS
        r = g.residents
        assert 3.8 <= r / g.households <= 5.4, g.code
        assert 0.17 * r <= p["elderly_60"] <= 0.27 * r, g.code
        assert p["elderly_solitary"] <= p["elderly_alone"] <= 0.21 * p["elderly_60"] + 1, g.code
        assert p["disabled"] <= 0.031 * r + 1 and p["low_income"] <= 0.031 * r + 1, g.code
        assert p["special_care"] <= 0.011 * r + 1 and p["unemployed"] <= 0.031 * r + 1, g.code
        assert 0.039 * r - 1 <= p["party_members"] <= 0.071 * r + 1, g.code
        assert 0.049 * r - 1 <= p["floating"] <= 0.251 * r + 1, g.code
        assert 0 < p["left_behind_children"] <= 0.031 * r + 1, g.code
    urban = [g for g in grids if g.kind == "urban"]
    assert all(140 <= g.households <= 260 for g in urban)

    def share(kind: str, field: str) -> float:
        chosen = [g for g in grids if g.kind == kind]
        return sum(g.population[field] for g in chosen) / sum(g.residents for g in chosen)

    assert share("urban", "elderly_60") > share("suburban", "elderly_60")
    assert share("urban", "floating") > share("suburban", "floating")
    assert share("suburban", "left_behind_children") > share("urban", "left_behind_children")


def test_buildings(grids: list[GridSpec]) -> None:
    for g in grids:
        poly = geo.from_geojson(g.polygon)
        assert 8 <= len(g.buildings) <= 40, g.code
        assert sum(b.households for b in g.buildings) == g.households, g.code
        assert all(b.households >= 1 for b in g.buildings)
        assert len({b.name for b in g.buildings}) == len(g.buildings), g.code
        assert all(poly.contains(shapely.Point(b.lon, b.lat)) for b in g.buildings), g.code
        pattern = r".+\d+号楼" if g.kind == "urban" else r"\d+组\d+号院"
        assert all(re.fullmatch(pattern, b.name) for b in g.buildings), g.code


def test_resident_units(terr: Territory) -> None:
    names = [name for name, _, _ in terr.resident_units]
    assert len(set(names)) == 41
    assert {kind for _, kind, _ in terr.resident_units} <= {
        "school",
        "hospital",
        "bank",
        "government",
        "institution",
        "enterprise",
    }
    assert all(0 <= index < 11 for _, _, index in terr.resident_units)


def test_deterministic(terr: Territory) -> None:
    again = generate_territory(random.Random(SEED))
    assert asdict(again) == asdict(terr)
    other = generate_territory(random.Random(SEED + 1))
    assert other.outline != terr.outline
    assert sum(g.households for c in other.communities for g in c.grids) == 14_401


def test_apportion_is_exact() -> None:
    assert territory_module._apportion([1.0, 1.0, 1.0], 10) == [4, 3, 3]
    assert territory_module._apportion([5.0, 1.0], 10, minimum=3) == [6, 4]
    with pytest.raises(ValueError):
        territory_module._apportion([1.0, 1.0], 1, minimum=1)


def test_make_contiguous_moves_cut_off_grids() -> None:
    # A path 0-1-2-3-4; community 0 holds 0, 1 and 4, so grid 4 is cut off and goes to community 1.
    adjacency = {0: {1}, 1: {0, 2}, 2: {1, 3}, 3: {2, 4}, 4: {3}}
    assert territory_module._make_contiguous([0, 0, 1, 1, 0], adjacency, 2) == [0, 0, 1, 1, 1]
