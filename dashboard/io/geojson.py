"""GeoJSON boundary files: the features of a FeatureCollection (or a single Feature) with their
properties and geometry, and geometries converted to WGS-84."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import islice
from typing import IO, Any

import ijson

from dashboard.io.sources import FileProblem, Source
from dashboard.io.values import text, to_wgs84

BYTES_PER_VERTEX = 100
"""Bytes a GeoJSON file may spend on each vertex it is allowed (a compact position takes about 25, one
pretty-printed over four lines about 70): a larger file is refused by its size, before it is read."""
_BOM = b"\xef\xbb\xbf"

Feature = tuple[int, dict[str, Any], Any]
"""(1-based index, properties, geometry) of one feature."""


def read_geojson_features(source: Source, limits: tuple[int, int] | None = None) -> list[Feature]:
    """The features of a GeoJSON FeatureCollection (or a single Feature), read one feature at a time.

    The feature's ``id`` is added to its properties as ``id`` when they have none. With `limits`
    (features, vertices), a file larger than :data:`BYTES_PER_VERTEX` per vertex is refused before it is
    read, and one with more vertices as soon as the features read so far have more; one with more features
    is refused with their exact count, which is read on without keeping them. So the memory a file takes
    is bounded by the limits, never by the file (a mesh of 239,404 tiny polygons once took 1.8 GB).
    """
    if limits is None:
        return list(_stream_features(source))
    max_features, max_vertices = limits
    max_bytes = max_vertices * BYTES_PER_VERTEX
    if source.size > max_bytes:
        raise FileProblem(
            "io.boundary.too_large", size=f"{source.size / 2**20:,.1f}", max=f"{max_bytes / 2**20:,.0f}"
        )
    out: list[Feature] = []
    vertices = 0
    features = _stream_features(source)
    for feature in features:
        if len(out) == max_features:  # one too many: count the rest, keep none of them
            count = len(out) + 1 + sum(1 for _ in features)
            raise FileProblem("io.boundary.too_many_features", count=f"{count:,}", max=f"{max_features:,}")
        vertices += count_positions(feature[2])
        if vertices > max_vertices:
            raise FileProblem("io.boundary.too_many_vertices", max=f"{max_vertices:,}")
        out.append(feature)
    return out


def _stream_features(source: Source) -> Iterator[Feature]:
    """The features of the file, one at a time; a FileProblem when it is no GeoJSON feature collection or
    feature (or not JSON at all)."""
    found = False
    with source.open() as stream:
        for i, feature in enumerate(_items(stream, "features.item"), start=1):
            found = True
            yield i, *_parts(feature)
    if found:
        return
    with source.open() as stream:  # no feature in a "features" array: what is the document?
        kind = next(_items(stream, "type"), None)
    if kind == "Feature":
        with source.open() as stream:
            yield 1, *_parts(next(_items(stream, ""), None))
        return
    if kind == "FeatureCollection":
        with source.open() as stream:
            if isinstance(next(_items(stream, "features"), None), list):
                return  # an empty collection
    raise FileProblem("io.err.geojson_shape")


def _items(stream: IO[bytes], prefix: str) -> Iterator[Any]:
    """The values at `prefix` of a JSON stream (``ijson``'s items; numbers as floats, as ``json`` reads
    them), a UTF-8 byte order mark skipped; a FileProblem for text that is not UTF-8 or not JSON."""
    if stream.read(len(_BOM)) != _BOM:
        stream.seek(0)
    try:
        yield from ijson.items(stream, prefix, use_float=True)
    except UnicodeDecodeError as exc:
        raise FileProblem("io.err.encoding") from exc
    except ijson.JSONError as exc:
        if "utf" in str(exc).lower():
            raise FileProblem("io.err.encoding") from exc
        raise FileProblem("io.err.json_truncated", detail=str(exc)) from exc


def _parts(feature: Any) -> tuple[dict[str, Any], Any]:
    if not isinstance(feature, dict):
        return {}, None
    props = dict(feature.get("properties") or {})
    if "id" not in props and feature.get("id") is not None:
        props["id"] = feature["id"]
    return props, feature.get("geometry")


def convert_geometry(geometry: Mapping[str, Any], convert: str | None) -> dict[str, Any]:
    """A GeoJSON Polygon/MultiPolygon with 2-D positions, converted to WGS-84 when `convert` is given."""

    def walk(value: Any) -> Any:
        if isinstance(value, list | tuple) and value and isinstance(value[0], int | float):
            lon, lat = to_wgs84(float(value[0]), float(value[1]), convert)
            return [lon, lat]
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        raise ValueError("bad coordinates")

    return {"type": geometry.get("type"), "coordinates": walk(geometry.get("coordinates") or [])}


def count_positions(geometry: Any) -> int:
    """The number of positions (vertices) in a GeoJSON geometry's coordinates, without building it."""
    if not isinstance(geometry, Mapping):
        return 0
    n, stack = 0, [geometry.get("coordinates")]
    while stack:
        value = stack.pop()
        if isinstance(value, list | tuple) and value:
            if isinstance(value[0], int | float):
                n += 1
            else:
                stack.extend(value)
    return n


def preview_features(source: Source, n: int = 50) -> list[dict[str, str]]:
    """The first `n` features of a GeoJSON file (read no further): their properties as text and geometry
    type."""
    rows = []
    for index, props, geometry in islice(_stream_features(source), n):
        kind = geometry.get("type", "") if isinstance(geometry, Mapping) else ""
        rows.append({"#": str(index), **{str(k): text(v) for k, v in props.items()}, "geometry": str(kind)})
    return rows
