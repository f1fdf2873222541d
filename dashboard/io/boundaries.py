"""Grid and community boundaries from GeoJSON.

Each feature names its grid (or community) by code in its properties (``code``, ``grid_code``,
``网格编号``, DataV GeoAtlas's ``adcode`` …, or the feature id) and by name (``name``, ``名称`` …); a
mapping ``{property: field}`` (fields ``code``, ``name``, ``community``, ``kind``) names other properties.
A file in which no feature has a code is refused with the properties that could be one (unique in every
feature), to map. A file of more features or vertices than a sub-district's boundaries have
(:data:`LIMITS`) is refused while it is read, before any geometry is built (a file too large for them is
refused by its size alone: :mod:`dashboard.io.geojson`). A known code gets the new polygon and a recomputed label point
(``centroid_lon/lat``, the pole of inaccessibility, as the seed has it); an unknown code adds a grid (its
``community`` property naming the community by code) or a community. A merge or split of grids is an
import of the new boundaries; a grid's record, cases and history stay. Coordinates in GCJ-02 or BD-09
are converted to WGS-84 on request.

The resulting set of boundaries (stored ones not in the file, plus the file's) is checked with
``geo.validate_boundaries`` against the sub-district outline: a feature that is not a valid polygon
(unclosed ring, self-intersection, too few points, out of range, duplicate code) is a row error;
overlaps, gaps and parts outside the outline are warnings. Cases keep their grid unless the import is
asked to re-locate them (``relocate_cases``): then every case with coordinates within the bounding box of
the file's features (and of the replaced polygons) is placed again by point-in-polygon, counted as
``relocated`` when its grid changes — so a boundary file imported earlier without re-location can be
imported again with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import shapely
from sqlalchemy import and_, update
from sqlmodel import select

from dashboard.cases.export import paged
from dashboard.io.geojson import convert_geometry, read_geojson_features
from dashboard.io.headers import norm_key
from dashboard.io.runs import ImportMapping, ImportReport, ImportRun, bulk_insert
from dashboard.io.sources import FileProblem, Progress, as_source
from dashboard.io.values import text
from dashboard.kernel.scope import Actor
from dashboard.territory import geo
from models import Case, Community, Grid, Subdistrict
from models.enums import CommunityKind

LEVELS = ("grid", "community")
LIMITS: dict[str, tuple[int, int]] = {"grid": (2_000, 500_000), "community": (500, 250_000)}
"""(features, vertices) a boundary file of each level may hold (and so its size in bytes,
:data:`dashboard.io.geojson.BYTES_PER_VERTEX` per vertex). A sub-district has tens of communities
and a few hundred grids, a few hundred vertices each; a larger file is the wrong file (a city's
buildings, a mesh of tiny polygons), which would take minutes to check and make the map unusable."""

_KEYS: dict[str, tuple[str, ...]] = {
    "code": (
        "code",
        "grid_code",
        "community_code",
        "网格编号",
        "网格编码",
        "社区编码",
        "编码",
        "编号",
        "代码",
        "adcode",
        "id",
    ),
    "name": ("name", "grid_name", "community_name", "名称", "网格名称", "社区名称"),
    "community": ("community", "community_code", "所属社区", "社区", "社区代码"),
    "kind": ("kind", "type", "类型", "社区类型"),
}
"""Property spellings per field, best first (matched after ``norm_key``)."""

_FEATURE_PROBLEMS = frozenset(
    {
        "parse_error",
        "wrong_type",
        "empty",
        "duplicate_id",
        "unclosed_ring",
        "too_few_points",
        "out_of_range",
        "invalid",
    }
)
"""Problems of ``geo.validate_boundaries`` that make a feature unusable (the others are warnings)."""

_KINDS = {norm_key(v): v.value for v in CommunityKind} | {"城区": "urban", "城郊": "suburban", "农场": "farm"}


def _prop(props: Mapping[str, Any], fld: str, mapped: Mapping[str, str]) -> str:
    """The field's value: the mapped property's, else the first recognised spelling's that has one."""
    keys = {norm_key(k): v for k, v in props.items()}
    names = (mapped[fld],) if fld in mapped else _KEYS[fld]
    for name in names:
        if norm_key(name) in keys and text(keys[norm_key(name)]):
            return text(keys[norm_key(name)])
    return ""


def _mapped_properties(mapping: Mapping[str, Any] | ImportMapping | None) -> dict[str, str]:
    """Field → the property the user mapped to it (``{"columns": {property: field}}`` or
    ``{property: field}``); ValueError for a field boundaries do not have."""
    out: dict[str, str] = {}
    for prop, fields in (ImportMapping.of(mapping).columns or {}).items():
        for fld in fields:
            if fld not in _KEYS:
                raise ValueError(f"unknown field {fld!r} for boundaries: use one of {', '.join(_KEYS)}")
            out[fld] = prop
    return out


def _code_candidates(raw: list[tuple[int, dict[str, Any], Any]]) -> list[str]:
    """Properties (in file order) with a value in every feature, different in each: what could be a code."""
    names: dict[str, None] = {}
    for _row, props, _geometry in raw:
        names.update(dict.fromkeys(props))
    out = []
    for name in names:
        values = [text(props.get(name)) for _row, props, _g in raw]
        if all(values) and len(set(values)) == len(values):
            out.append(name)
    return out


@dataclass
class _Feature:
    row: int
    code: str
    name: str
    community: str
    kind: str
    geometry: dict[str, Any] | None


def _features(run: ImportRun, level: str, convert: str | None, mapped: Mapping[str, str]) -> list[_Feature]:
    raw = read_geojson_features(run.source, LIMITS[level])
    if raw and not any(_prop(props, "code", mapped) for _row, props, _g in raw):
        candidates = _code_candidates(raw)
        shown = candidates or list(dict.fromkeys(k for _r, props, _g in raw for k in props))
        raise FileProblem("io.boundary.no_code", candidates=", ".join(shown))
    out = []
    for row, props, geometry in raw:
        code = _prop(props, "code", mapped).upper()
        f = _Feature(
            row,
            code,
            _prop(props, "name", mapped),
            _prop(props, "community", mapped).upper(),
            _prop(props, "kind", mapped),
            None,
        )
        if not code:
            run.error(row, "code", "", "io.err.required")
        elif len(code) > 16:
            run.error(row, "code", code, "io.err.too_long", max=16)
        if len(f.name) > 64:
            run.error(row, "name", f.name, "io.err.too_long", max=64)
        if not isinstance(geometry, Mapping):
            run.error(row, "geometry", "", "io.boundary.empty", detail="")
        else:
            try:
                f.geometry = convert_geometry(geometry, convert)
            except (ValueError, TypeError, IndexError) as exc:
                run.error(row, "geometry", "", "io.boundary.parse_error", detail=str(exc))
        out.append(f)
    return out


def _changed_box(before: list[str], after: list[dict[str, Any]]) -> tuple[float, float, float, float] | None:
    geoms = [geo.from_geojson(g) for g in before] + [geo.from_geojson(g) for g in after]
    if not geoms:
        return None
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    return float(x0), float(y0), float(x1), float(y1)


def _first_of_each_code(run: ImportRun, features: list[_Feature]) -> dict[str, _Feature]:
    """The readable features by code; a code the file repeats is a row error."""
    seen: dict[str, int] = {}
    usable: dict[str, _Feature] = {}
    for f in features:
        if not f.code or f.geometry is None or run.is_bad(f.row):
            continue
        if f.code in seen:
            run.error(f.row, "code", f.code, "io.err.duplicate_in_file", first=seen[f.code])
            continue
        seen[f.code] = f.row
        usable[f.code] = f
    return usable


class _Boundaries:
    """The stored boundaries of one level and what the file's features do to them."""

    def __init__(self, run: ImportRun, level: str) -> None:
        session = run.session
        self.run, self.level = run, level
        self.model: type[Grid] | type[Community] = Grid if level == "grid" else Community
        self.shape_col = "polygon" if level == "grid" else "outline"
        self.stored = {row.code.upper(): row for row in session.exec(select(self.model)).all()}
        self.communities = {c.code.upper(): c.id for c in session.exec(select(Community)).all()}
        self.subdistricts = session.exec(select(Subdistrict)).all()
        self.changed_before: list[str] = []
        """Stored shapes the file replaces."""
        self.changed_after: list[dict[str, Any]] = []
        """The file's new and replacing shapes."""

    def check(self, usable: dict[str, _Feature]) -> None:
        """Check the boundaries as they would be after the import (stored ones not in the file, plus the
        file's): unusable features are row errors, overlaps, gaps and parts outside the sub-district
        outline warnings (those of stored boundaries only where a feature of the file is involved)."""
        run = self.run
        outline = self.subdistricts[0].outline if len(self.subdistricts) == 1 else None
        combined: list[tuple[str, Any]] = [
            (code, getattr(row, self.shape_col)) for code, row in self.stored.items() if code not in usable
        ]
        combined += [(code, f.geometry) for code, f in usable.items()]
        for p in geo.validate_boundaries(combined, outline=outline):
            mine = p.feature in usable
            if p.kind in _FEATURE_PROBLEMS and mine:
                run.error(
                    usable[p.feature].row, "geometry", p.feature, f"io.boundary.{p.kind}", detail=p.detail
                )
            elif p.feature is None or mine or p.other in usable:
                row = usable[p.feature].row if mine else (usable[p.other].row if p.other in usable else None)
                run.warn(
                    row,
                    "geometry",
                    p.feature or "",
                    f"io.boundary.{p.kind}",
                    detail=p.detail,
                    other=p.other or "",
                    area=f"{p.area_m2:,.0f}",
                )

    def write(self, usable: dict[str, _Feature]) -> None:
        """Count (and, while writing, store) each good feature as a new, updated or unchanged boundary."""
        run = self.run
        new_rows: list[dict[str, Any]] = []
        for code, f in usable.items():
            if run.is_bad(f.row):
                continue
            assert f.geometry is not None
            polygon = geo.to_geojson(f.geometry)
            label = geo.label_point(polygon)
            old = self.stored.get(code)
            if old is not None:
                self._update(old, f, polygon, label)
                continue
            values = self._new(code, f, polygon, label)
            if values is not None:
                run.report.new += 1
                new_rows.append(values)
                self.changed_after.append(f.geometry)
        if new_rows and run.writing:
            bulk_insert(run.session, self.model, new_rows)

    def _new(self, code: str, f: _Feature, polygon: str, label: tuple[float, float]) -> dict[str, Any] | None:
        """The row of a new grid (in the community it names) or community; None (a row error) when the
        grid names no known community, or there is no sub-district for a community."""
        lon, lat = label
        values: dict[str, Any] = {
            "code": code,
            "name": f.name or code,
            self.shape_col: polygon,
            "centroid_lon": lon,
            "centroid_lat": lat,
        }
        if self.level == "grid":
            community_id = self.communities.get(f.community)
            if community_id is None:
                key = "io.err.unknown_community" if f.community else "io.err.community_required"
                self.run.error(f.row, "community", f.community, key)
                return None
            values["community_id"] = community_id
            return values
        if not self.subdistricts:
            self.run.error(f.row, "code", code, "io.err.no_subdistrict")
            return None
        values.update(subdistrict_id=self.subdistricts[0].id, kind=_KINDS.get(norm_key(f.kind), "urban"))
        return values

    def _update(self, old: Any, f: _Feature, polygon: str, label: tuple[float, float]) -> None:
        """A new shape (and label point) or name for a stored boundary; a grid keeps its community."""
        run = self.run
        if self.level == "grid" and f.community and self.communities.get(f.community) != old.community_id:
            run.warn(f.row, "community", f.community, "io.warn.community_kept")
        changes: dict[str, Any] = {}
        if geo.to_geojson(getattr(old, self.shape_col)) != polygon:
            assert f.geometry is not None
            lon, lat = label
            changes.update({self.shape_col: polygon, "centroid_lon": lon, "centroid_lat": lat})
            self.changed_before.append(getattr(old, self.shape_col))
            self.changed_after.append(f.geometry)
        if f.name and f.name != old.name:
            changes["name"] = f.name
        if not changes:
            run.report.unchanged += 1
            return
        run.report.updated += 1
        if run.writing:
            run.session.execute(update(self.model).where(self.model.id == old.id).values(**changes))


def _run(
    run: ImportRun, level: str, convert: str | None, relocate_cases: bool, mapped: Mapping[str, str]
) -> None:
    report = run.report
    features = _features(run, level, convert, mapped)
    report.rows = len(features)
    work = _Boundaries(run, level)
    usable = _first_of_each_code(run, features)
    work.check(usable)
    work.write(usable)
    run.progress(0.8, f"{report.rows:,}")
    if level == "grid" and relocate_cases and report.can_commit(run.skip_bad_rows):
        features_now = [
            f.geometry for f in usable.values() if f.geometry is not None and not run.is_bad(f.row)
        ]
        _relocate(run, usable, work.stored, _changed_box(work.changed_before, features_now))
    run.progress(1.0, f"{report.rows:,}")


def _relocate(
    run: ImportRun,
    usable: dict[str, _Feature],
    stored: dict[str, Any],
    box: tuple[float, float, float, float] | None,
) -> None:
    """Place again the cases with coordinates inside `box` (counted; moved when committing). New grids get
    ids only on commit, so a dry run locates against codes."""
    if box is None:
        return
    session = run.session
    if run.writing:
        session.flush()
        grids = session.exec(select(Grid.id, Grid.code, Grid.community_id, Grid.polygon)).all()
        by_code = {code.upper(): gid for gid, code, _c, _p in grids}
        community_of = {gid: cid for gid, _code, cid, _p in grids}
        shapes = [(gid, poly) for gid, _code, _cid, poly in grids]
    else:
        by_code = {code: row.id for code, row in stored.items()}
        community_of = {row.id: row.community_id for row in stored.values()}
        shapes = [(row.id, row.polygon) for code, row in stored.items() if code not in usable]
        temp = -1
        for code, f in usable.items():
            if run.is_bad(f.row) or f.geometry is None:
                continue
            gid = by_code.get(code)
            if gid is None:
                gid, temp = temp, temp - 1
            shapes.append((gid, f.geometry))
    locator = geo.GridLocator(shapes)
    x0, y0, x1, y1 = box
    stmt = select(Case.id, Case.lon, Case.lat, Case.grid_id, Case.version).where(
        and_(Case.lon.is_not(None), Case.lat.is_not(None), Case.lon.between(x0, x1), Case.lat.between(y0, y1))
    )
    for rows in paged(session, stmt):
        found = locator.locate_many([r[1] for r in rows], [r[2] for r in rows])
        for (case_id, _lon, _lat, grid_id, version), new_grid in zip(rows, found, strict=True):
            if new_grid is None or new_grid == grid_id:
                continue
            run.report.relocated += 1
            if run.writing:
                session.execute(
                    update(Case)
                    .where(Case.id == case_id)
                    .values(
                        grid_id=new_grid,
                        community_id=community_of[new_grid],
                        version=version + 1,
                        updated_at=run.now,
                    )
                )


def import_boundaries(
    session: Any,
    actor: Actor,
    file: Any,
    mapping: Mapping[str, Any] | None = None,
    commit: bool = False,
    *,
    level: str = "grid",
    convert: str | None = None,
    relocate_cases: bool = False,
    skip_bad_rows: bool = False,
    progress: Progress | None = None,
    name: str | None = None,
) -> ImportReport:
    """Grid (``level="grid"``) or community boundaries from a GeoJSON FeatureCollection; `mapping` names
    the properties holding the code, name, community or kind (``{"columns": {"GRID_NO": "code"}}``) where
    the recognised spellings do not find them."""
    if level not in LEVELS:
        raise ValueError(f"unknown boundary level {level!r}")
    mapped = _mapped_properties(mapping)
    source = as_source(file, name)
    run = ImportRun(
        session, actor, "boundaries", source, commit=commit, skip_bad_rows=skip_bad_rows, progress=progress
    )
    run.report.mapping = (
        {"level": level}
        | ({"convert": convert} if convert else {})
        | ({"columns": {prop: fld for fld, prop in mapped.items()}} if mapped else {})
    )
    return run.execute(lambda r: _run(r, level, convert, relocate_cases, mapped))
