"""Checking an uploaded file before anything reads it: type by name and by content, and size.

Streamlit already refuses files over ``server.maxUploadSize`` (50 MB in .streamlit/config.toml); each import
sets its own, usually smaller, limit here. Works on anything with ``name`` and ``getvalue()`` (Streamlit's
UploadedFile, or an ``io.BytesIO`` with a ``name``).
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Protocol

from dashboard.kernel.errors import Invalid

_ZIP_MAGIC = b"PK\x03\x04"
_TEXT_SUFFIXES = frozenset({".csv", ".txt", ".json", ".geojson", ".tsv"})
_ZIP_SUFFIXES = frozenset({".xlsx", ".zip", ".pptx", ".docx"})
_SNIFF_BYTES = 64 * 1024


class Upload(Protocol):
    name: str

    def getvalue(self) -> bytes: ...


def _size(upload: Upload) -> int:
    size = getattr(upload, "size", None)
    return int(size) if isinstance(size, int) else len(upload.getvalue())


def check_upload(
    uploaded_file: Upload | None, allowed_suffixes: tuple[str, ...] | list[str] | set[str], max_mb: float
) -> None:
    """Raise :class:`Invalid` (with the i18n key of the reason) unless the file is present, not empty, at most
    `max_mb` MB, has one of the `allowed_suffixes` (".csv", ".xlsx", ".geojson" …, case-insensitive) and
    content of that type: a ZIP container for Office files, text without NUL bytes for text formats."""
    if uploaded_file is None:
        raise Invalid("upload.missing")
    allowed = {s.lower() if s.startswith(".") else f".{s.lower()}" for s in allowed_suffixes}
    name = PurePath(uploaded_file.name or "").name
    suffix = PurePath(name).suffix.lower()
    if suffix not in allowed:
        raise Invalid("upload.bad_type", allowed=", ".join(sorted(allowed)))
    size = _size(uploaded_file)
    if size == 0:
        raise Invalid("upload.empty")
    if size > max_mb * 1024 * 1024:
        raise Invalid("upload.too_large", max=f"{max_mb:g}")
    head = uploaded_file.getvalue()[:_SNIFF_BYTES]
    if suffix in _ZIP_SUFFIXES and not head.startswith(_ZIP_MAGIC):
        raise Invalid("upload.bad_content", allowed=suffix)
    if suffix in _TEXT_SUFFIXES and b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Invalid("upload.bad_content", allowed=suffix)
