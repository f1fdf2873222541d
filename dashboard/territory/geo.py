"""Geometry helpers: Chinese map datums, distances, point-in-grid lookup, adjacency and boundary checks.

All geometries are GeoJSON in WGS-84 (EPSG:4326, ``[lon, lat]``). Metric work (areas, overlaps, shared
edge lengths) projects to a local equirectangular plane around the data, which is accurate to well
under 1 % over the few kilometres of a sub-district.

GCJ-02 ("Mars coordinates", used by AMap/Tencent) and BD-09 (Baidu) use the published obfuscation
formulas; outside mainland China they equal WGS-84.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import polylabel

GeometryLike = str | Mapping[str, Any] | BaseGeometry
"""A GeoJSON geometry (string or dict, a Feature is accepted too) or a shapely geometry."""

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius (IUGG), used for haversine distances and the local projection."""

_M_PER_DEG = EARTH_RADIUS_M * math.pi / 180.0

# Krasovsky 1940 ellipsoid parameters of the GCJ-02 formulas.
_GCJ_A = 6_378_245.0
_GCJ_EE = 0.00669342162296594323
_BD_X_PI = math.pi * 3000.0 / 180.0


# --------------------------------------------------------------------------------------------------
# Datums
# --------------------------------------------------------------------------------------------------


def _outside_china(lon: float, lat: float) -> bool:
    """The rough bounding box in which the GCJ-02 offset is applied (the published convention)."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 → GCJ-02 (the published forward formula)."""
    if _outside_china(lon, lat):
        return lon, lat
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1.0 - _GCJ_EE * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrtmagic * math.cos(radlat) * math.pi)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 → WGS-84 by fixed-point inversion of the forward formula (error far below 0.5 m).

    The offset varies slowly (a few hundred metres over hundreds of kilometres), so subtracting the
    residual converges by about three orders of magnitude per step.
    """
    if _outside_china(lon, lat):
        return lon, lat
    wlon, wlat = lon, lat
    for _ in range(30):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        dlon, dlat = glon - lon, glat - lat
        wlon -= dlon
        wlat -= dlat
        if abs(dlon) < 1e-10 and abs(dlat) < 1e-10:
            break
    return wlon, wlat


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 → BD-09 (Baidu's published formula)."""
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * _BD_X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _BD_X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 → GCJ-02, inverting :func:`gcj02_to_bd09` by fixed-point iteration (sub-millimetre).

    The usual one-step inverse formula is off by up to ~1 m; iterating from it removes that error.
    """
    x, y = lon - 0.0065, lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _BD_X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _BD_X_PI)
    glon, glat = z * math.cos(theta), z * math.sin(theta)
    for _ in range(10):
        blon, blat = gcj02_to_bd09(glon, glat)
        dlon, dlat = blon - lon, blat - lat
        glon -= dlon
        glat -= dlat
        if abs(dlon) < 1e-11 and abs(dlat) < 1e-11:
            break
    return glon, glat


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 → BD-09 (via GCJ-02, as Baidu does)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 → WGS-84 (via GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres on a sphere of the mean Earth radius."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2.0 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


# --------------------------------------------------------------------------------------------------
# GeoJSON in and out
# --------------------------------------------------------------------------------------------------


def _as_mapping(geometry: str | Mapping[str, Any]) -> Mapping[str, Any]:
    data = json.loads(geometry) if isinstance(geometry, str) else geometry
    if not isinstance(data, Mapping):
        raise ValueError("GeoJSON geometry must be an object")
    if data.get("type") == "Feature":
        data = data.get("geometry")
        if not isinstance(data, Mapping):
            raise ValueError("GeoJSON Feature has no geometry")
    return data


def from_geojson(geometry: GeometryLike) -> BaseGeometry:
    """Parse a GeoJSON geometry (string or dict; a Feature's geometry is taken) into shapely."""
    if isinstance(geometry, BaseGeometry):
        return geometry
    return shape(_as_mapping(geometry))


def _round_coords(value: Any, ndigits: int) -> Any:
    if isinstance(value, float | int):
        rounded = round(float(value), ndigits)
        return 0.0 if rounded == 0 else rounded  # never emit -0.0
    return [_round_coords(v, ndigits) for v in value]


def to_geojson(geom: GeometryLike, ndigits: int = 6) -> str:
    """Compact GeoJSON geometry text, coordinates rounded to `ndigits` decimals (6 ≈ 0.1 m)."""
    data = mapping(from_geojson(geom))
    out: dict[str, Any] = {"type": data["type"]}
    if data["type"] == "GeometryCollection":
        out["geometries"] = [json.loads(to_geojson(g, ndigits)) for g in from_geojson(geom).geoms]
    else:
        out["coordinates"] = _round_coords(data["coordinates"], ndigits)
    return json.dumps(out, separators=(",", ":"))


def centroid(geom: GeometryLike) -> tuple[float, float]:
    """Area centroid (lon, lat); may fall outside a concave polygon, see :func:`label_point`."""
    c = from_geojson(geom).centroid
    return c.x, c.y


def label_point(geom: GeometryLike) -> tuple[float, float]:
    """A point well inside the polygon for map labels (pole of inaccessibility of the largest part)."""
    g = from_geojson(geom)
    if isinstance(g, shapely.MultiPolygon):
        g = max(g.geoms, key=lambda p: p.area)
    if isinstance(g, Polygon) and not g.is_empty and g.is_valid:
        span = max(g.bounds[2] - g.bounds[0], g.bounds[3] - g.bounds[1])
        p = polylabel(g, tolerance=max(span / 200.0, 1e-7))
    else:
        p = g.representative_point()
    return p.x, p.y


# --------------------------------------------------------------------------------------------------
# Local metric projection
# --------------------------------------------------------------------------------------------------


class _LocalPlane:
    """Equirectangular plane in metres centred on the bounding box of some geometries."""

    def __init__(self, geoms: Sequence[BaseGeometry]) -> None:
        b = shapely.total_bounds([g for g in geoms if not g.is_empty])
        self.lon0 = float((b[0] + b[2]) / 2.0) if np.isfinite(b).all() else 0.0
        self.lat0 = float((b[1] + b[3]) / 2.0) if np.isfinite(b).all() else 0.0
        self.kx = _M_PER_DEG * math.cos(math.radians(self.lat0))

    def _forward(self, coords: np.ndarray) -> np.ndarray:
        return np.column_stack(
            ((coords[:, 0] - self.lon0) * self.kx, (coords[:, 1] - self.lat0) * _M_PER_DEG)
        )

    def project(self, geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, self._forward)

    def lonlat(self, x: float, y: float) -> tuple[float, float]:
        return self.lon0 + x / self.kx, self.lat0 + y / _M_PER_DEG


def area_km2(geom: GeometryLike) -> float:
    """Approximate area of a WGS-84 polygon in km² (local equirectangular projection)."""
    g = from_geojson(geom)
    return _LocalPlane([g]).project(g).area / 1e6


# --------------------------------------------------------------------------------------------------
# Point location and adjacency
# --------------------------------------------------------------------------------------------------


class GridLocator:
    """Finds the grid containing a point (boundary points count; ties go to the lowest grid id)."""

    def __init__(self, grids: Iterable[tuple[int, GeometryLike]]) -> None:
        pairs = sorted(((int(gid), from_geojson(g)) for gid, g in grids), key=lambda p: p[0])
        self._ids = np.array([gid for gid, _ in pairs], dtype=np.int64)
        self._geoms = np.array([g for _, g in pairs], dtype=object)
        shapely.prepare(self._geoms)
        self._tree = shapely.STRtree(self._geoms)

    def __len__(self) -> int:
        return len(self._ids)

    def locate(self, lon: float, lat: float) -> int | None:
        """Grid id at (lon, lat) or None when the point lies in no grid."""
        hits = self._tree.query(shapely.Point(lon, lat), predicate="intersects")
        if len(hits) == 0:
            return None
        return int(self._ids[hits.min()])  # ids are sorted, so the lowest index is the lowest id

    def locate_many(
        self, lons: Sequence[float] | np.ndarray, lats: Sequence[float] | np.ndarray
    ) -> list[int | None]:
        """Vectorised :meth:`locate` over equally long coordinate arrays."""
        xs = np.asarray(lons, dtype=float)
        ys = np.asarray(lats, dtype=float)
        if xs.shape != ys.shape:
            raise ValueError("lons and lats must have the same length")
        result: list[int | None] = [None] * len(xs)
        if len(xs) == 0:
            return result
        point_idx, tree_idx = self._tree.query(shapely.points(xs, ys), predicate="intersects")
        order = np.lexsort((tree_idx, point_idx))
        point_idx, tree_idx = point_idx[order], tree_idx[order]
        first = np.ones(len(point_idx), dtype=bool)
        first[1:] = point_idx[1:] != point_idx[:-1]
        for p, t in zip(point_idx[first].tolist(), tree_idx[first].tolist(), strict=True):
            result[p] = int(self._ids[t])
        return result


def neighbours(grids: Sequence[tuple[int, GeometryLike]], *, tolerance_m: float = 0.0) -> dict[int, set[int]]:
    """Adjacency of grids that share an edge (touching only at a corner does not count).

    With ``tolerance_m > 0`` (imported boundaries with slivers), boundaries closer than the tolerance
    count as shared when that stretch is longer than four times the tolerance, so near-corner contacts
    still do not count. Overlapping grids are neighbours too.
    """
    ids = [int(gid) for gid, _ in grids]
    result: dict[int, set[int]] = {gid: set() for gid in ids}
    if not ids:
        return result
    valid = [shapely.make_valid(from_geojson(g)) for _, g in grids]
    plane = _LocalPlane(valid)
    geoms = [plane.project(g) for g in valid]
    tree = shapely.STRtree(geoms)
    probe = [g.buffer(tolerance_m) for g in geoms] if tolerance_m > 0 else geoms
    left, right = tree.query(probe, predicate="intersects")
    boundaries = [g.boundary for g in geoms]
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        if tolerance_m > 0:
            shared = boundaries[i].intersection(probe[j]).length
            touching = shared > 4.0 * tolerance_m
        else:
            touching = boundaries[i].intersection(boundaries[j]).length > 0.0
        if touching or geoms[i].intersection(geoms[j]).area > 0.0:
            result[ids[i]].add(ids[j])
            result[ids[j]].add(ids[i])
    return result


# --------------------------------------------------------------------------------------------------
# Boundary validation (used by the GeoJSON boundary import)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoundaryProblem:
    """One problem found in imported boundaries.

    `feature` is the id/code of the offending feature (None for a gap, which belongs to no feature),
    `kind` one of: parse_error, wrong_type, empty, duplicate_id, unclosed_ring, too_few_points,
    out_of_range, invalid, overlap, gap, outside_outline. For overlaps `other` is the second feature;
    `area_m2` is the size of an overlap, gap or part outside the outline.
    """

    feature: Any
    kind: str
    detail: str
    other: Any = None
    area_m2: float = 0.0


def _rings(data: Mapping[str, Any]) -> list[Any]:
    if data.get("type") == "Polygon":
        return list(data.get("coordinates") or [])
    return [ring for poly in data.get("coordinates") or [] for ring in poly]


def _check_raw(fid: Any, data: Mapping[str, Any]) -> list[BoundaryProblem]:
    """Checks that need the raw coordinates, before shapely silently closes rings."""
    problems: list[BoundaryProblem] = []
    out_of_range = 0
    for n, ring in enumerate(_rings(data)):
        positions = [tuple(float(v) for v in pos[:2]) for pos in ring]
        if len(positions) >= 2 and positions[0] != positions[-1]:
            problems.append(
                BoundaryProblem(fid, "unclosed_ring", f"ring {n}: first and last positions differ")
            )
            positions.append(positions[0])
        if len(positions) < 4:
            problems.append(
                BoundaryProblem(fid, "too_few_points", f"ring {n}: {len(positions)} positions, need 4")
            )
        out_of_range += sum(1 for lon, lat in positions if not (-180 <= lon <= 180 and -90 <= lat <= 90))
    if out_of_range:
        problems.append(
            BoundaryProblem(
                fid,
                "out_of_range",
                f"{out_of_range} positions outside WGS-84 lon/lat range (projected, or lat/lon swapped?)",
            )
        )
    return problems


_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, shapely.errors.ShapelyError)


def _feature_geometry(fid: Any, raw: GeometryLike) -> tuple[BaseGeometry | None, list[BoundaryProblem]]:
    """One feature's polygon (made valid when it was not) and its problems; None when it is unusable."""
    problems: list[BoundaryProblem] = []
    try:
        if isinstance(raw, BaseGeometry):
            geom = raw
        else:
            data = _as_mapping(raw)
            if data.get("type") not in ("Polygon", "MultiPolygon"):
                return None, [BoundaryProblem(fid, "wrong_type", f"type {data.get('type')!r}, need Polygon")]
            problems = _check_raw(fid, data)
            if any(p.kind == "too_few_points" for p in problems):
                return None, problems
            geom = shape(data)
    except _PARSE_ERRORS as exc:
        return None, [*problems, BoundaryProblem(fid, "parse_error", str(exc))]
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        return None, [*problems, BoundaryProblem(fid, "wrong_type", f"type {geom.geom_type!r}, need Polygon")]
    if geom.is_empty:
        return None, [*problems, BoundaryProblem(fid, "empty", "geometry has no area")]
    if not geom.is_valid:
        problems.append(BoundaryProblem(fid, "invalid", shapely.is_valid_reason(geom)))
        geom = shapely.make_valid(geom)
    return geom, problems


def _overlaps(ids: list[Any], geoms: list[BaseGeometry], min_area_m2: float) -> list[BoundaryProblem]:
    """Pairs of (projected) features overlapping by more than `min_area_m2`."""
    problems: list[BoundaryProblem] = []
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        area = shapely.intersection(geoms[i], geoms[j]).area
        if area > min_area_m2:
            problems.append(
                BoundaryProblem(
                    ids[i], "overlap", f"overlaps {ids[j]} by {area:.1f} m²", other=ids[j], area_m2=area
                )
            )
    return problems


def _outside(
    ids: list[Any], geoms: list[BaseGeometry], outline: BaseGeometry, min_area_m2: float
) -> list[BoundaryProblem]:
    """Features sticking out of the (projected) outline by more than `min_area_m2`."""
    problems: list[BoundaryProblem] = []
    for fid, g in zip(ids, geoms, strict=True):
        outside = g.difference(outline).area
        if outside > min_area_m2:
            problems.append(
                BoundaryProblem(
                    fid, "outside_outline", f"{outside:.1f} m² outside the outline", area_m2=outside
                )
            )
    return problems


def _closed(union: BaseGeometry, gap_width_m: float) -> BaseGeometry:
    """What the features would cover without holes and slivers narrower than `gap_width_m`.

    Closing (grow, fill holes, shrink; mitred so corners come back exactly) also fills slivers, which may
    open to the outside and so are not holes.
    """
    half = gap_width_m / 2.0
    grown = union.buffer(half, join_style="mitre") if half > 0 else union
    shells = shapely.union_all(
        [Polygon(p.exterior) for p in shapely.get_parts(grown) if isinstance(p, Polygon)]
    )
    return shells.buffer(-half, join_style="mitre") if half > 0 else shells


def _gaps(
    covered: BaseGeometry, union: BaseGeometry, plane: _LocalPlane, min_area_m2: float
) -> list[BoundaryProblem]:
    """Parts of `covered` larger than `min_area_m2` that no feature covers, located in lon/lat."""
    problems: list[BoundaryProblem] = []
    for gap in shapely.get_parts(covered.difference(union)):
        if isinstance(gap, Polygon) and gap.area > min_area_m2:
            rp = gap.representative_point()
            where = plane.lonlat(rp.x, rp.y)
            problems.append(
                BoundaryProblem(
                    None,
                    "gap",
                    f"uncovered area of {gap.area:.1f} m² near {where[0]:.6f}, {where[1]:.6f}",
                    area_m2=gap.area,
                )
            )
    return problems


def validate_boundaries(
    features: Sequence[tuple[Any, GeometryLike]],
    *,
    outline: GeometryLike | None = None,
    min_area_m2: float = 1.0,
    gap_width_m: float = 1.0,
) -> list[BoundaryProblem]:
    """Check polygons meant to tile an area: each one well formed, and together no overlaps or gaps.

    Per feature: parseable, Polygon/MultiPolygon, rings closed with ≥ 4 positions, WGS-84 range, valid
    (no self-intersection, per GEOS explain_validity). Across features: overlaps larger than
    `min_area_m2`, and gaps larger than `min_area_m2`: holes enclosed by the union of the features and
    slivers narrower than `gap_width_m` between them (which may open to the outside, so they are not
    holes), or, with an `outline`, any part of the outline not covered (plus features sticking out of it).
    """
    problems: list[BoundaryProblem] = []
    seen: set[Any] = set()
    usable: list[tuple[Any, BaseGeometry]] = []
    for fid, raw in features:
        if fid in seen:
            problems.append(BoundaryProblem(fid, "duplicate_id", "id/code used by more than one feature"))
        seen.add(fid)
        geom, found = _feature_geometry(fid, raw)
        problems.extend(found)
        if geom is not None:
            usable.append((fid, geom))
    if not usable:
        return problems

    outline_geom = shapely.make_valid(from_geojson(outline)) if outline is not None else None
    plane = _LocalPlane([g for _, g in usable] + ([outline_geom] if outline_geom is not None else []))
    geoms = [plane.project(g) for _, g in usable]
    ids = [fid for fid, _ in usable]
    problems.extend(_overlaps(ids, geoms, min_area_m2))
    union = shapely.union_all(geoms)
    if outline_geom is not None:
        covered = plane.project(outline_geom)
        problems.extend(_outside(ids, geoms, covered, min_area_m2))
    else:
        covered = _closed(union, gap_width_m)
    problems.extend(_gaps(covered, union, plane, min_area_m2))
    return problems
