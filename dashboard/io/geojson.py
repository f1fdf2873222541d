"""GeoJSON boundary files: the features of a FeatureCollection (or a single Feature) with their
properties and geometry, and geometries converted to WGS-84."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dashboard.io.sources import FileProblem, Source
from dashboard.io.values import text, to_wgs84


def read_geojson_features(source: Source) -> list[tuple[int, dict[str, Any], Any]]:
    """(1-based index, properties, geometry) of each feature of a GeoJSON FeatureCollection (or Feature).

    The feature's ``id`` is added to its properties as ``id`` when they have none.
    """
    with source.open() as stream:
        raw = stream.read()
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise FileProblem("io.err.encoding") from exc
    except json.JSONDecodeError as exc:
        raise FileProblem("io.err.json_truncated", detail=str(exc)) from exc
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        features = doc.get("features")
    elif isinstance(doc, dict) and doc.get("type") == "Feature":
        features = [doc]
    else:
        raise FileProblem("io.err.geojson_shape")
    if not isinstance(features, list):
        raise FileProblem("io.err.geojson_shape")
    out = []
    for i, feat in enumerate(features, start=1):
        if not isinstance(feat, dict):
            out.append((i, {}, None))
            continue
        props = dict(feat.get("properties") or {})
        if "id" not in props and feat.get("id") is not None:
            props["id"] = feat["id"]
        out.append((i, props, feat.get("geometry")))
    return out


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
    """The first `n` features of a GeoJSON file: their properties as text and geometry type."""
    rows = []
    for index, props, geometry in read_geojson_features(source)[:n]:
        kind = geometry.get("type", "") if isinstance(geometry, Mapping) else ""
        rows.append({"#": str(index), **{str(k): text(v) for k, v in props.items()}, "geometry": str(kind)})
    return rows
