"""A streaming writer of one-sheet Excel workbooks (``.xlsx``) for exports of any size.

openpyxl's write-only mode streams too, but builds and binds a cell object per value: 50,000 cases took
37 s. This writer puts each row's XML straight into the zip member as it comes (text as inline strings,
numbers as numbers, datetimes as Excel serial numbers with a date format), so memory holds one page and a
row costs a string join. Text is always a string cell, never a formula, and loses the control
characters XML cannot hold. The package parts are the minimal set Excel, LibreOffice and openpyxl read.
"""

from __future__ import annotations

import math
import numbers
import re
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import IO, Any
from xml.sax.saxutils import escape

_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_EPOCH = datetime(1899, 12, 30)
_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"

_STATIC = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" Target="xl/workbook.xml" '
        f'Type="{_REL}/officeDocument"/></Relationships>'
    ),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{_PKG}">'
        f'<Relationship Id="rId1" Target="worksheets/sheet1.xml" Type="{_REL}/worksheet"/>'
        f'<Relationship Id="rId2" Target="styles.xml" Type="{_REL}/styles"/></Relationships>'
    ),
    "xl/styles.xml": (
        f'<styleSheet xmlns="{_NS}">'
        '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>'
        '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    ),
}
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def column_letter(index: int) -> str:
    """``A`` for 0, ``Z`` for 25, ``AA`` for 26 …"""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _text(ref: str, value: str) -> str:
    text = escape(_ILLEGAL.sub("", value))
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def _cell(ref: str, value: Any) -> str:
    """The cell's XML; the common kinds tested by exact type first (this runs once per cell)."""
    kind = type(value)
    if kind is str:
        return _text(ref, value) if value else ""  # an empty text is an empty cell
    if value is None or (kind is float and not math.isfinite(value)):
        return ""
    if kind is int or kind is float:
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    if isinstance(value, datetime | date):
        moment = value if isinstance(value, datetime) else datetime.combine(value, datetime.min.time())
        serial = (moment.replace(tzinfo=None) - _EPOCH).total_seconds() / 86400
        return f'<c r="{ref}" s="1"><v>{serial!r}</v></c>'
    if kind is bool:
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, numbers.Real):  # numpy's (str: "1.5", where repr says "np.float64(1.5)")
        return "" if math.isnan(value) else f'<c r="{ref}"><v>{value}</v></c>'
    return _text(ref, str(value))


class XlsxStream:
    """``with XlsxStream(out, "cases") as sheet: sheet.append_rows(rows)`` writes a workbook of one sheet to
    the binary stream `out` (which need not be seekable)."""

    def __init__(self, out: IO[bytes], sheet_name: str = "data") -> None:
        self._zip = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
        self._sheet_name = escape(sheet_name[:31])
        self._sheet: IO[bytes] = self._zip.open("xl/worksheets/sheet1.xml", "w", force_zip64=True)
        self._sheet.write(f'{_HEAD}<worksheet xmlns="{_NS}"><sheetData>'.encode())
        self._letters: list[str] = []
        self.rows = 0

    def append_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        """Append rows (values: text, numbers, booleans, datetimes, None for an empty cell)."""
        parts = []
        for values in rows:
            self.rows += 1
            n = self.rows
            while len(self._letters) < len(values):
                self._letters.append(column_letter(len(self._letters)))
            cells = "".join(_cell(f"{c}{n}", v) for c, v in zip(self._letters, values, strict=False))
            parts.append(f'<row r="{n}">{cells}</row>')
        self._sheet.write("".join(parts).encode("utf-8"))

    def close(self) -> None:
        self._sheet.write(b"</sheetData></worksheet>")
        self._sheet.close()
        workbook = (
            f'<workbook xmlns="{_NS}" xmlns:r="{_REL}"><sheets>'
            f'<sheet name="{self._sheet_name}" sheetId="1" r:id="rId1"/></sheets></workbook>'
        )
        for name, xml in {**_STATIC, "xl/workbook.xml": workbook}.items():
            self._zip.writestr(name, _HEAD + xml)
        self._zip.close()

    def __enter__(self) -> XlsxStream:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is None:
            self.close()
        else:
            self._sheet.close()
            self._zip.close()
