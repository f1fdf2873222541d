"""Deterministic generator of the default territory: 项里街道 (Xiangli sub-district, 宿迁市宿城区).

The published figures of the real sub-district are kept exactly (37.5 km², 10 communities plus the
果树试验场 orchard farm, 97 grids, 14,401 households, 65,454 registered residents, 41 resident
units); the shapes, names and population groups are invented but plausible.

How the map is built (everything in a local plane in metres, converted to WGS-84 at the end):

1. An irregular star-shaped outline of 37.5 km² around 118.28 E, 33.96 N.
2. An old-town core near the centre, cut into 6 equal-area wedges (the urban communities); the
   ring around it cut into 4 suburban wedges and a smaller wedge for the farm.
3. Each wedge receives as many seed points as its community has grids, relaxed (Lloyd) inside it,
   so grids are small in the old town and large outside.
4. One Voronoi tessellation of all 97 seeds clipped to the outline gives the grids, so neighbouring
   grids share identical edges; stray pieces of a clipped cell go to the neighbour they touch most.
5. Coordinates are snapped to 1e-6° (≈ 0.1 m, the GeoJSON precision), a grid belongs to the
   community of its seed, and communities are made contiguous over the grid adjacency graph.
6. Communities and the sub-district outline are unions of their grids, so everything tiles exactly.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Polygon
from shapely.geometry.base import BaseGeometry

from dashboard.territory import geo
from models.enums import POPULATION_FIELDS, CommunityKind

CENTRE_LON = 118.28
CENTRE_LAT = 33.96
AREA_KM2 = 37.5
TOTAL_HOUSEHOLDS = 14_401
TOTAL_RESIDENTS = 65_454

OLD_TOWN_KM2 = 7.0
FARM_KM2 = 4.0

_M_PER_DEG_LAT = geo.EARTH_RADIUS_M * math.pi / 180.0
_M_PER_DEG_LON = _M_PER_DEG_LAT * math.cos(math.radians(CENTRE_LAT))

# (name, kind, number of grids); the order gives the community codes XL-01 … XL-11.
COMMUNITIES: tuple[tuple[str, CommunityKind, int], ...] = (
    ("项里社区", CommunityKind.urban, 10),
    ("三里社区", CommunityKind.urban, 9),
    ("古城社区", CommunityKind.urban, 10),
    ("幸福社区", CommunityKind.urban, 9),
    ("黄河社区", CommunityKind.urban, 10),
    ("西湖社区", CommunityKind.urban, 9),
    ("新庄社区", CommunityKind.suburban, 9),
    ("洋河社区", CommunityKind.suburban, 9),
    ("金陵社区", CommunityKind.suburban, 9),
    ("运河社区", CommunityKind.suburban, 9),
    ("果树试验场", CommunityKind.farm, 4),
)

RESIDENT_UNITS: tuple[tuple[str, str], ...] = (
    ("宿迁市第一实验小学", "school"),
    ("宿迁市项里小学", "school"),
    ("宿城区古城中学", "school"),
    ("宿迁市第二实验幼儿园", "school"),
    ("宿迁市运河职业技术学校", "school"),
    ("宿城区黄河初级中学", "school"),
    ("项里街道社区卫生服务中心", "hospital"),
    ("项里卫生院", "hospital"),
    ("宿迁市中医院古城分院", "hospital"),
    ("宿城区妇幼保健所", "hospital"),
    ("江苏银行宿迁分行", "bank"),
    ("中国工商银行宿迁项里支行", "bank"),
    ("中国农业银行宿城古城支行", "bank"),
    ("宿迁农村商业银行项里支行", "bank"),
    ("中国邮政储蓄银行宿迁三里营业所", "bank"),
    ("中国建设银行宿迁西湖路支行", "bank"),
    ("宿城区市场监督管理局项里分局", "government"),
    ("宿迁市公安局宿城分局项里派出所", "government"),
    ("国家税务总局宿迁市宿城区税务局第二税务分局", "government"),
    ("宿城区城市管理局项里中队", "government"),
    ("宿城区司法局项里司法所", "government"),
    ("宿城区自然资源和规划局项里自然资源所", "government"),
    ("宿城区人民法院古城人民法庭", "government"),
    ("宿城区消防救援大队项里消防站", "government"),
    ("宿城区退役军人事务局项里服务站", "government"),
    ("宿迁市图书馆古城分馆", "institution"),
    ("宿迁市自来水公司项里营业所", "institution"),
    ("国网宿迁供电公司古城供电所", "institution"),
    ("宿迁市果树研究所", "institution"),
    ("宿迁古黄河风光带管理处", "institution"),
    ("宿城区文化馆", "institution"),
    ("中国移动宿迁分公司项里营业部", "enterprise"),
    ("中国电信宿迁分公司古城营业厅", "enterprise"),
    ("宿迁市项里农贸市场有限公司", "enterprise"),
    ("宿迁运河物流有限公司", "enterprise"),
    ("宿迁市黄河建设工程有限公司", "enterprise"),
    ("宿迁金陵大酒店有限公司", "enterprise"),
    ("宿迁市西湖物业管理有限公司", "enterprise"),
    ("宿迁洋河食品有限公司", "enterprise"),
    ("宿迁三里汽车客运有限公司", "enterprise"),
    ("宿迁市古城商贸中心", "enterprise"),
)

_ESTATE_PREFIXES = tuple(
    "幸福 项王 古城 黄河 西湖 运河 楚街 马陵 三里 新庄 金陵 文昌 府前 翠园 锦绣"
    " 阳光 世纪 和平 民主 人民 工农 建设 银杏 紫薇 桂花 春晖 梧桐 兴隆 东风 富民".split()
)
_ESTATE_SUFFIXES = ("小区", "家园", "花园", "新村", "佳苑", "名居", "雅苑", "公寓", "嘉园", "华庭")


@dataclass
class BuildingSpec:
    name: str
    households: int
    lon: float
    lat: float


@dataclass
class GridSpec:
    code: str
    name: str
    polygon: str
    """GeoJSON geometry (WGS-84) of a single Polygon."""
    centroid_lon: float
    centroid_lat: float
    """A label point inside the polygon (pole of inaccessibility), not the area centroid."""
    households: int
    residents: int
    population: dict[str, int]
    """Counts per `models.enums.POPULATION_FIELDS`."""
    buildings: list[BuildingSpec]
    kind: str
    """'urban', 'suburban' or 'farm': the kind of its community."""


@dataclass
class CommunitySpec:
    code: str
    name: str
    kind: CommunityKind
    outline: str
    centroid_lon: float
    centroid_lat: float
    grids: list[GridSpec]


@dataclass
class Territory:
    name: str
    code: str
    outline: str
    centroid_lon: float
    centroid_lat: float
    area_km2: float
    communities: list[CommunitySpec]
    resident_units: list[tuple[str, str, int]]
    """(name, kind, index into `communities`); kind is one of school, hospital, bank, government,
    institution, enterprise."""


# --------------------------------------------------------------------------------------------------
# Plane ↔ WGS-84
# --------------------------------------------------------------------------------------------------


def _to_lonlat(geom: BaseGeometry) -> BaseGeometry:
    return shapely.transform(
        geom,
        lambda c: np.column_stack(
            (CENTRE_LON + c[:, 0] / _M_PER_DEG_LON, CENTRE_LAT + c[:, 1] / _M_PER_DEG_LAT)
        ),
    )


def _to_plane(geom: BaseGeometry) -> BaseGeometry:
    return shapely.transform(
        geom,
        lambda c: np.column_stack(
            ((c[:, 0] - CENTRE_LON) * _M_PER_DEG_LON, (c[:, 1] - CENTRE_LAT) * _M_PER_DEG_LAT)
        ),
    )


# --------------------------------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------------------------------


def _blob(
    rng: random.Random, cx: float, cy: float, area_m2: float, amplitude: float, vertices: int, stretch: float
) -> Polygon:
    """An irregular star-shaped polygon of exactly `area_m2`: a circle wobbled by a few harmonics."""
    harmonics = [(k, rng.uniform(0.3, 1.0) / k, rng.uniform(0, 2 * math.pi)) for k in range(2, 7)]
    norm = sum(a for _, a, _ in harmonics)
    theta = np.linspace(0.0, 2 * math.pi, vertices, endpoint=False)
    theta = theta + np.array([rng.uniform(-0.3, 0.3) for _ in range(vertices)]) * (2 * math.pi / vertices)
    r = np.ones(vertices)
    for k, a, phase in harmonics:
        r += amplitude * a / norm * np.cos(k * theta + phase)
    r *= 1.0 + np.array([rng.uniform(-0.02, 0.02) for _ in range(vertices)])
    unit = Polygon(np.column_stack((r * np.cos(theta) * stretch, r * np.sin(theta) / stretch)))
    scale = math.sqrt(area_m2 / unit.area)
    return Polygon(
        np.column_stack((cx + r * np.cos(theta) * stretch * scale, cy + r * np.sin(theta) / stretch * scale))
    )


def _wedge(cx: float, cy: float, a1: float, a2: float, radius: float = 50_000.0) -> Polygon:
    steps = max(2, int((a2 - a1) / 0.05) + 1)
    angles = np.linspace(a1, a2, steps)
    ring = [(cx, cy)] + [(cx + radius * math.cos(a), cy + radius * math.sin(a)) for a in angles]
    return Polygon(ring)


def _split_by_angle(
    region: BaseGeometry, cx: float, cy: float, start: float, fractions: list[float]
) -> list[BaseGeometry]:
    """Cut `region` into wedges around (cx, cy) from angle `start`, with areas in the given fractions."""
    total = region.area
    cuts = [start]
    acc = 0.0
    for frac in fractions[:-1]:
        acc += frac
        lo, hi = cuts[-1], start + 2 * math.pi
        for _ in range(40):  # bisection on the swept area
            mid = (lo + hi) / 2
            if region.intersection(_wedge(cx, cy, start, mid)).area < acc * total:
                lo = mid
            else:
                hi = mid
        cuts.append((lo + hi) / 2)
    cuts.append(start + 2 * math.pi)
    return [region.intersection(_wedge(cx, cy, a, b)) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


def _sample_in(gen: np.random.Generator, region: BaseGeometry, n: int) -> np.ndarray:
    """`n` uniform random points inside `region` (rejection sampling in its bounding box)."""
    minx, miny, maxx, maxy = region.bounds
    shapely.prepare(region)
    out = np.empty((0, 2))
    while len(out) < n:
        cand = np.column_stack((gen.uniform(minx, maxx, 4 * n + 16), gen.uniform(miny, maxy, 4 * n + 16)))
        out = np.vstack((out, cand[shapely.contains_xy(region, cand[:, 0], cand[:, 1])]))
    return out[:n]


def _largest_part(geom: BaseGeometry) -> Polygon:
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, Polygon)]
    return max(parts, key=lambda p: p.area)


def _relax(points: np.ndarray, region: BaseGeometry, iterations: int) -> np.ndarray:
    """Lloyd relaxation inside `region`: move each point to the centroid of its clipped Voronoi cell."""
    if len(points) < 2:
        return points
    pts = points.copy()
    shapely.prepare(region)
    for _ in range(iterations):
        cells = shapely.get_parts(shapely.voronoi_polygons(MultiPoint(pts), extend_to=region, ordered=True))
        for i, cell in enumerate(shapely.intersection(cells, region)):
            if cell.is_empty:
                continue
            c = _largest_part(cell).centroid
            if shapely.contains_xy(region, c.x, c.y):
                pts[i] = (c.x, c.y)
    return pts


def _tessellate(seeds: np.ndarray, outline: Polygon) -> list[Polygon]:
    """Voronoi cells of `seeds` clipped to `outline`, each a single Polygon, tiling the outline."""
    envelope = outline.buffer(1000.0).envelope
    cells = shapely.get_parts(shapely.voronoi_polygons(MultiPoint(seeds), extend_to=envelope, ordered=True))
    clipped = list(shapely.intersection(cells, outline))
    orphans: list[Polygon] = []
    for i, cell in enumerate(clipped):
        parts = [p for p in shapely.get_parts(cell) if isinstance(p, Polygon) and p.area > 0]
        seed = shapely.Point(seeds[i])
        keep = next((p for p in parts if p.covers(seed)), max(parts, key=lambda p: p.area))
        clipped[i] = keep
        orphans.extend(p for p in parts if p is not keep)
    while orphans:
        piece = orphans.pop()
        shared = [piece.boundary.intersection(c.boundary).length for c in clipped]
        best = int(np.argmax(shared))
        parts = sorted(
            (
                p
                for p in shapely.get_parts(shapely.union(clipped[best], piece))
                if isinstance(p, Polygon) and p.area > 0
            ),
            key=lambda p: -p.area,
        )
        clipped[best] = parts[0]
        orphans.extend(parts[1:])
    return clipped


def _snap(poly: Polygon) -> Polygon:
    """WGS-84 polygon with coordinates on the 1e-6° grid that GeoJSON output keeps."""
    snapped = shapely.set_precision(poly, 1e-6)
    if not isinstance(snapped, Polygon) or not snapped.is_valid:
        raise ValueError("grid polygon degenerated when snapped to 1e-6 degrees")
    return snapped


def _make_contiguous(owner: list[int], adjacency: dict[int, set[int]], n_groups: int) -> list[int]:
    """Give every grid cut off from the main body of its community to the neighbour it touches most."""
    owner = owner[:]
    changed = True
    while changed:
        changed = False
        for group in range(n_groups):
            members = {i for i, g in enumerate(owner) if g == group}
            components: list[set[int]] = []
            unseen = set(members)
            while unseen:
                start = min(unseen)
                comp, stack = {start}, [start]
                while stack:
                    for nb in adjacency[stack.pop()]:
                        if nb in unseen and nb not in comp:
                            comp.add(nb)
                            stack.append(nb)
                unseen -= comp
                components.append(comp)
            if len(components) <= 1:
                continue
            components.sort(key=lambda c: (-len(c), min(c)))
            for comp in components[1:]:
                outside = [
                    owner[nb] for i in sorted(comp) for nb in sorted(adjacency[i]) if owner[nb] != group
                ]
                if outside:
                    new = max(sorted(set(outside)), key=outside.count)
                    for i in comp:
                        owner[i] = new
                    changed = True
    return owner


# --------------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------------


def _apportion(weights: list[float], total: int, minimum: int = 0) -> list[int]:
    """Integers proportional to `weights` summing exactly to `total` (largest remainder), each ≥ minimum."""
    base = [minimum] * len(weights)
    rest = total - minimum * len(weights)
    if rest < 0:
        raise ValueError("total too small for the minimum")
    wsum = sum(weights)
    quotas = [w / wsum * rest for w in weights]
    counts = [int(q) for q in quotas]
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: rest - sum(counts)]:
        counts[i] += 1
    return [b + c for b, c in zip(base, counts, strict=True)]


def _population(rng: random.Random, residents: int, kind: CommunityKind, closeness: float) -> dict[str, int]:
    """Population-group counts of one grid; `closeness` is 1 at the centre and 0 at the outline."""
    urban = kind is CommunityKind.urban
    elderly = round(residents * (rng.uniform(0.21, 0.26) if urban else rng.uniform(0.18, 0.23)))
    if urban:
        floating_share = 0.10 + 0.13 * closeness + rng.uniform(-0.02, 0.02)
        left_behind = rng.uniform(0.005, 0.012)
    elif kind is CommunityKind.suburban:
        floating_share = 0.05 + 0.08 * closeness + rng.uniform(0.0, 0.03)
        left_behind = rng.uniform(0.015, 0.03)
    else:
        floating_share = rng.uniform(0.05, 0.08)
        left_behind = rng.uniform(0.01, 0.025)
    counts = {
        "elderly_60": elderly,
        "elderly_alone": round(elderly * rng.uniform(0.12, 0.20)),
        "elderly_solitary": round(elderly * rng.uniform(0.01, 0.02)),
        "disabled": round(residents * rng.uniform(0.02, 0.03)),
        "low_income": round(residents * (rng.uniform(0.01, 0.02) if urban else rng.uniform(0.015, 0.03))),
        "special_care": round(residents * rng.uniform(0.005, 0.01)),
        "left_behind_children": round(residents * left_behind),
        "floating": round(residents * min(0.25, max(0.05, floating_share))),
        "unemployed": round(residents * rng.uniform(0.01, 0.03)),
        "party_members": round(residents * rng.uniform(0.04, 0.07)),
    }
    return {name: counts[name] for name in POPULATION_FIELDS}


def _households_weight(rng: random.Random, kind: CommunityKind) -> float:
    if kind is CommunityKind.urban:
        return rng.uniform(150, 210)
    if kind is CommunityKind.suburban:
        return rng.triangular(45, 200, 55)
    return rng.uniform(55, 85)


# --------------------------------------------------------------------------------------------------
# Buildings
# --------------------------------------------------------------------------------------------------

_CN_DIGITS = "一二三四五六七八九十"


def _buildings(
    rng: random.Random,
    gen: np.random.Generator,
    cell_m: Polygon,
    cell_ll: Polygon,
    households: int,
    kind: CommunityKind,
    estates: list[str],
    first_group: int,
) -> tuple[list[BuildingSpec], int]:
    """Buildings (urban: "幸福家园3号楼") or courtyards ("3组12号院") summing to `households`.

    Points are clustered per estate / villager group and lie inside the grid even after rounding to
    6 decimals. Returns the buildings and the number of villager groups used.
    """
    urban = kind is CommunityKind.urban
    per_building = rng.uniform(10, 22) if urban else rng.uniform(2.5, 6.0)
    n = max(8, min(40, round(households / per_building), households))
    n_clusters = min(n, rng.randint(1, 3))
    sizes = _apportion([rng.uniform(0.6, 1.4) for _ in range(n_clusters)], n, minimum=1)
    counts = _apportion([rng.uniform(0.6, 1.4) for _ in range(n)], households, minimum=1)
    inner = cell_m.buffer(-5.0)
    if inner.is_empty or inner.area < cell_m.area * 0.2:
        inner = cell_m
    radius = math.sqrt(cell_m.area / n_clusters) * 0.45
    shapely.prepare(cell_ll)
    buildings: list[BuildingSpec] = []
    k = 0
    for c, size in enumerate(sizes):
        (centre,) = _sample_in(gen, inner, 1)
        area = inner.intersection(shapely.Point(centre).buffer(radius))
        if area.is_empty or area.area < 1.0:
            area = inner
        label = estates[c] if urban else f"{first_group + c}组"
        placed = 0
        while placed < size:
            (pt,) = _sample_in(gen, area, 1)
            lon = round(CENTRE_LON + float(pt[0]) / _M_PER_DEG_LON, 6)
            lat = round(CENTRE_LAT + float(pt[1]) / _M_PER_DEG_LAT, 6)
            if not shapely.contains_xy(cell_ll, lon, lat):
                continue
            placed += 1
            suffix = "号楼" if urban else "号院"
            buildings.append(BuildingSpec(f"{label}{placed}{suffix}", counts[k], lon, lat))
            k += 1
    return buildings, n_clusters


# --------------------------------------------------------------------------------------------------
# The territory
# --------------------------------------------------------------------------------------------------


def generate_territory(rng: random.Random) -> Territory:
    """Build the default territory; the same `rng` state always gives the same Territory."""
    gen = np.random.default_rng(rng.getrandbits(64))

    # 1–2. Outline, old-town core and community regions (plane, metres).
    outline_m = _blob(rng, 0.0, 0.0, AREA_KM2 * 1e6, amplitude=0.22, vertices=72, stretch=1.08)
    core_cx, core_cy = rng.uniform(-300, 300), rng.uniform(-300, 300)
    core = _blob(rng, core_cx, core_cy, OLD_TOWN_KM2 * 1e6, amplitude=0.14, vertices=40, stretch=1.0)
    core = core.intersection(outline_m.buffer(-400.0))
    urban_counts = [n for _, kind, n in COMMUNITIES if kind is CommunityKind.urban]
    outer = [(kind, n) for _, kind, n in COMMUNITIES if kind is not CommunityKind.urban]
    ring = outline_m.difference(core)
    farm_share = FARM_KM2 * 1e6 / ring.area
    outer_fracs = [
        farm_share if kind is CommunityKind.farm else (1 - farm_share) / (len(outer) - 1) for kind, _ in outer
    ]
    regions = _split_by_angle(
        core, core_cx, core_cy, rng.uniform(0, 2 * math.pi), [1 / len(urban_counts)] * len(urban_counts)
    )
    regions += _split_by_angle(ring, 0.0, 0.0, rng.uniform(0, 2 * math.pi), outer_fracs)

    # 3. Seeds per region, relaxed inside it.
    seeds, owner = [], []
    for index, ((_, _, n), region) in enumerate(zip(COMMUNITIES, regions, strict=True)):
        pts = _relax(_sample_in(gen, region, n), region, iterations=12)
        seeds.append(pts)
        owner += [index] * n
    seed_array = np.vstack(seeds)

    # 4–5. Tessellate, snap to the GeoJSON precision, make communities contiguous.
    cells_m = _tessellate(seed_array, outline_m)
    cells_ll = [_snap(_to_lonlat(c)) for c in cells_m]
    cells_m = [_to_plane(c) for c in cells_ll]
    adjacency = geo.neighbours(list(enumerate(cells_ll)))
    owner = _make_contiguous(owner, adjacency, len(COMMUNITIES))

    # Households and residents, exact totals.
    kinds = [COMMUNITIES[o][1] for o in owner]
    households = _apportion([_households_weight(rng, k) for k in kinds], TOTAL_HOUSEHOLDS, minimum=20)
    ratios = [rng.uniform(4.15, 4.85) + (0.25 if k is not CommunityKind.urban else 0.0) for k in kinds]
    residents = _apportion([h * r for h, r in zip(households, ratios, strict=True)], TOTAL_RESIDENTS)

    outline_ll = shapely.union_all(cells_ll)
    max_dist = max(math.hypot(x, y) for x, y in outline_m.exterior.coords)
    estate_names = [p + s for p in _ESTATE_PREFIXES for s in _ESTATE_SUFFIXES]
    rng.shuffle(estate_names)

    communities: list[CommunitySpec] = []
    for index, (name, kind, _) in enumerate(COMMUNITIES):
        members = [i for i, o in enumerate(owner) if o == index]
        # Number grids north-west to south-east in rows of ~600 m.
        members.sort(key=lambda i: (-round(cells_m[i].centroid.y / 600.0), cells_m[i].centroid.x))
        grids: list[GridSpec] = []
        next_group = 1
        for g, i in enumerate(members, start=1):
            lon, lat = geo.label_point(cells_ll[i])
            c = cells_m[i].centroid
            closeness = max(0.0, 1.0 - math.hypot(c.x, c.y) / max_dist)
            estates = [estate_names.pop() for _ in range(3)] if kind is CommunityKind.urban else []
            buildings, groups = _buildings(
                rng, gen, cells_m[i], cells_ll[i], households[i], kind, estates, next_group
            )
            next_group += groups
            grids.append(
                GridSpec(
                    code=f"XL-{index + 1:02d}-{g:02d}",
                    name=f"{name}第{g}网格",
                    polygon=geo.to_geojson(cells_ll[i]),
                    centroid_lon=round(lon, 6),
                    centroid_lat=round(lat, 6),
                    households=households[i],
                    residents=residents[i],
                    population=_population(rng, residents[i], kind, closeness),
                    buildings=buildings,
                    kind=kind.value,
                )
            )
        shape = shapely.union_all([cells_ll[i] for i in members])
        lon, lat = geo.label_point(shape)
        communities.append(
            CommunitySpec(
                code=f"XL-{index + 1:02d}",
                name=name,
                kind=kind,
                outline=geo.to_geojson(shape),
                centroid_lon=round(lon, 6),
                centroid_lat=round(lat, 6),
                grids=grids,
            )
        )

    # Units sit mostly in the old town; the fruit research institute belongs with the farm.
    farm = next(i for i, (_, kind, _) in enumerate(COMMUNITIES) if kind is CommunityKind.farm)
    weights = [3.0 if kind is CommunityKind.urban else 1.0 for _, kind, _ in COMMUNITIES]
    units = [
        (name, kind, farm if "果树" in name else rng.choices(range(len(COMMUNITIES)), weights)[0])
        for name, kind in RESIDENT_UNITS
    ]
    lon, lat = geo.label_point(outline_ll)
    return Territory(
        name="项里街道",
        code="XL",
        outline=geo.to_geojson(outline_ll),
        centroid_lon=round(lon, 6),
        centroid_lat=round(lat, 6),
        area_km2=round(geo.area_km2(outline_ll), 3),
        communities=communities,
        resident_units=units,
    )
