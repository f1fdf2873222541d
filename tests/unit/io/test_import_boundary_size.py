"""A boundary file far larger than a sub-district's is refused before its memory is spent: by its size
before it is read, and by its features and vertices while it is read (no database needed)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from dashboard.i18n import t_plain
from dashboard.io.boundaries import LIMITS
from dashboard.io.geojson import BYTES_PER_VERTEX, preview_features, read_geojson_features
from dashboard.io.sources import FileProblem, Source


def _mesh(n: int) -> bytes:
    """A FeatureCollection of `n` tiny squares (the kind of mesh that once took 1.8 GB to read)."""
    features = []
    for i in range(n):
        x, y = 118.0 + (i % 500) * 1e-5, 33.0 + (i // 500) * 1e-5
        ring = [[x, y], [x + 1e-6, y], [x + 1e-6, y + 1e-6], [x, y + 1e-6], [x, y]]
        features.append(
            {
                "type": "Feature",
                "properties": {"code": f"M-{i}"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return json.dumps(
        {"features": features, "type": "FeatureCollection"}
    ).encode()  # "type" last, as some tools write


def test_a_file_too_large_for_the_limits_is_refused_by_its_size_unread(tmp_path: Path) -> None:
    max_vertices = LIMITS["community"][1]
    path = tmp_path / "city.geojson"
    with path.open("wb") as fh:  # sparse: no byte of it is JSON, so reading any would fail otherwise
        fh.truncate(max_vertices * BYTES_PER_VERTEX + 1)
    with pytest.raises(FileProblem) as e:
        read_geojson_features(Source(path.name, path=path), LIMITS["community"])
    assert e.value.key == "io.boundary.too_large"
    message = t_plain(e.value.key, "zh", **e.value.values)
    assert f"最多 {max_vertices * BYTES_PER_VERTEX / 2**20:,.0f} MB" in message and "文件未读取" in message


def test_a_mesh_of_tiny_polygons_is_refused_with_its_exact_count_in_bounded_memory() -> None:
    n = 20_000  # ten times the grid level's feature limit
    data = _mesh(n)
    max_features = LIMITS["grid"][0]
    tracemalloc.start()
    try:
        with pytest.raises(FileProblem) as e:
            read_geojson_features(Source("mesh.geojson", data=data), LIMITS["grid"])
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert e.value.key == "io.boundary.too_many_features"
    assert e.value.values == {"count": f"{n:,}", "max": f"{max_features:,}"}
    assert "文件有 20,000 个要素" in t_plain(e.value.key, "zh", **e.value.values)
    # only the features up to the limit are kept (json.loads of the whole file takes about 35 MB here, this about 4)
    assert peak < 12 * 2**20, f"{peak / 2**20:.1f} MB"


def test_the_vertex_limit_refuses_as_soon_as_it_is_passed() -> None:
    n = 3
    ring = [[118.0 + k * 1e-6, 33.0] for k in range(40)] + [[118.0, 33.0]]
    data = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"code": f"D-{i}"},
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
                for i in range(n)
            ],
        }
    ).encode()
    assert len(read_geojson_features(Source("d.geojson", data=data), (10, 3 * 41))) == 3
    with pytest.raises(FileProblem) as e:
        read_geojson_features(Source("d.geojson", data=data), (10, 2 * 41 + 1))
    assert e.value.key == "io.boundary.too_many_vertices"


def test_the_preview_reads_only_its_first_features_and_the_shapes_are_still_told_apart() -> None:
    rows = preview_features(Source("mesh.geojson", data=_mesh(3_000)), n=5)
    assert [r["code"] for r in rows] == ["M-0", "M-1", "M-2", "M-3", "M-4"] and rows[0][
        "geometry"
    ] == "Polygon"
    single = b'\xef\xbb\xbf{"type": "Feature", "id": 7, "properties": null, "geometry": {"type": "Point", "coordinates": [1, 2]}}'
    assert read_geojson_features(Source("one.geojson", data=single)) == [
        (1, {"id": 7}, {"type": "Point", "coordinates": [1.0, 2.0]})
    ]
    assert (
        read_geojson_features(Source("empty.geojson", data=b'{"type": "FeatureCollection", "features": []}'))
        == []
    )
    for bad, key in (
        (b'{"type": "Topology", "objects": {}}', "io.err.geojson_shape"),
        (b"[1, 2]", "io.err.geojson_shape"),
        (b'{"type": "FeatureCollection", "features": [{"type": ', "io.err.json_truncated"),
        (
            '{"type": "FeatureCollection", "features": [{"properties": {"name": "项里"}}]}'.encode("gbk"),
            "io.err.encoding",
        ),
    ):
        with pytest.raises(FileProblem) as e:
            read_geojson_features(Source("bad.geojson", data=bad))
        assert e.value.key == key, bad
