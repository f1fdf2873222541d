"""Import files as such: what can be imported and in which file types, the file itself (a :class:`Source`
that can be opened again for the commit after a dry run), the raw row every reader yields, and the
:class:`FileProblem` raised when a file as a whole cannot be read.

The readers: spreadsheets in :mod:`dashboard.io.tables`, Open311 JSON/XML in
:mod:`dashboard.io.open311_reader`, GeoJSON in :mod:`dashboard.io.geojson`; header matching in
:mod:`dashboard.io.headers`, cell values in :mod:`dashboard.io.values`. None of them touches the database.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

Progress = Callable[[float, str], None]
"""``progress(fraction 0..1, message)``, called now and then while a file is read."""

KINDS = ("cases", "open311", "volunteers", "service_records", "boundaries")
"""What can be imported (the ``KIND`` of ``python -m dashboard import``)."""

SUFFIXES: dict[str, tuple[str, ...]] = {
    "cases": (".csv", ".xlsx"),
    "open311": (".json", ".xml"),
    "volunteers": (".csv", ".xlsx"),
    "service_records": (".csv", ".xlsx"),
    "boundaries": (".geojson", ".json"),
}
"""File types each kind accepts."""

CONVERSIONS = ("gcj02", "bd09")
"""Coordinate systems converted to WGS-84 on request (Chinese map providers)."""


class FileProblem(ValueError):
    """The file as a whole cannot be read; `key` is an i18n key, `row` the row (or element) where it broke."""

    def __init__(self, key: str, row: int | None = None, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.row = row
        self.values = values


@dataclass(frozen=True)
class Source:
    """An import file that can be opened more than once (a dry run, then the commit)."""

    name: str
    data: bytes | None = None
    path: Path | None = None

    def open(self) -> IO[bytes]:
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.path is not None
        return self.path.open("rb")

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        assert self.path is not None
        return self.path.stat().st_size

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix.lower()


def as_source(file: Any, name: str | None = None) -> Source:
    """A :class:`Source` from a path, bytes (with `name`), or an upload (anything with ``name`` and
    ``getvalue()``, e.g. Streamlit's UploadedFile or a named ``io.BytesIO``)."""
    if isinstance(file, Source):
        return file
    if isinstance(file, str | Path):
        path = Path(file)
        return Source(name or path.name, path=path)
    if isinstance(file, bytes | bytearray):
        return Source(name or "upload", data=bytes(file))
    if hasattr(file, "getvalue"):
        return Source(name or Path(getattr(file, "name", "") or "upload").name, data=file.getvalue())
    raise TypeError(f"cannot read an import from {type(file).__name__}")


@dataclass
class RawRow:
    """One data row of a file: its row number as the user sees it (spreadsheet row, JSON/XML element
    index), and its values by header (spreadsheets) or by canonical key (Open311)."""

    row: int
    values: dict[str, Any]
    problem: str | None = None  # i18n key of a structural problem (e.g. a row cut short)
    problem_values: dict[str, Any] = field(default_factory=dict)
    warnings: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    """What the reader noticed without refusing the row: (column, value, i18n key, its values), e.g. a
    key a JSON request has twice."""
