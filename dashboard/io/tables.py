"""Spreadsheets (CSV, Excel) read as rows after their header line, streamed.

CSV goes through the ``csv`` module over an incrementally decoded byte stream (UTF-8, UTF-16 with a BOM,
else GB18030), Excel through openpyxl's read-only mode. A file the reader cannot finish (a CSV cut inside a
quoted field, a truncated xlsx zip) raises :class:`FileProblem`; a CSV row cut short is a row with too few
cells, which the import reports as a row error.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any
from xml.etree import ElementTree

from dashboard.io.dates import DATE_FIELDS, DateColumn, scan
from dashboard.io.headers import header_score, suggest_mapping
from dashboard.io.sources import FileProblem, RawRow, Source
from dashboard.io.values import date_order, is_null, text

HEADER_SCAN_ROWS = 10
"""Rows searched for the header line (spreadsheets often have a title row or two above it)."""


ENCODING_WINDOW = 64 * 1024
"""Bytes from the first non-ASCII byte on that decide between UTF-8 and GBK."""
UTF8_EVIDENCE = 4
"""Non-ASCII characters that must decode as UTF-8 before a bad byte for a file to count as UTF-8."""


def _detect_encoding(stream: IO[bytes]) -> str:
    """UTF-8 or UTF-16 by their BOM; else UTF-8 when the text from its first non-ASCII byte on (however
    far into the file) decodes as UTF-8, else GB18030. A file whose head is ASCII says nothing, so the
    file is read as far as its first other byte."""
    head = stream.read(ENCODING_WINDOW)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    chunk = head
    while chunk and chunk.isascii():
        chunk = stream.read(1 << 20)
    if not chunk:
        return "utf-8"  # all ASCII
    first = next(i for i, b in enumerate(chunk) if b > 127)
    window = chunk[first : first + ENCODING_WINDOW]
    if len(window) < ENCODING_WINDOW:
        window += stream.read(ENCODING_WINDOW - len(window))
    try:
        codecs.getincrementaldecoder("utf-8")().decode(window, final=False)
        return "utf-8"
    except UnicodeDecodeError as exc:
        # Some UTF-8 text first, then a stray byte: a UTF-8 file with a flaw (reported at its line). A GBK
        # pair can pass for one UTF-8 character, hardly for several in a row.
        if sum(ord(ch) > 127 for ch in window[: exc.start].decode("utf-8")) >= UTF8_EVIDENCE:
            return "utf-8"
        return "gb18030"  # Excel on Chinese Windows saves CSV in GBK, of which GB18030 is a superset


def _undecodable_line(source: Source, encoding: str) -> int:
    """The line (1-based) of the first bytes that do not decode in `encoding`."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    with source.open() as stream:
        while data := stream.read(1 << 20):
            try:
                decoder.decode(data)
            except UnicodeDecodeError as exc:
                return line + data[: max(exc.start, 0)].count(b"\n")
            line += data.count(b"\n")
    return line


class TableReader:
    """Rows of a CSV or xlsx file after its header line; use as a context manager.

    The header is the row, among the first :data:`HEADER_SCAN_ROWS`, with the most recognised column names
    (else the first non-empty row). Blank rows are skipped; duplicate or blank headers get a suffix
    (``备注``, ``备注_2``, ``column_5``). ``fraction()`` tells how far the reading has come.
    """

    def __init__(self, source: Source, kind: str) -> None:
        self.source = source
        self.kind = kind
        self._stream: IO[bytes] | None = None
        self._workbook: Any = None
        self._rows: Iterator[tuple[int, list[Any]]]
        self._total_rows: int | None = None
        self._last_row = 0
        self.headers: list[str] = []
        self.header_row = 0

    def __enter__(self) -> TableReader:
        suffix = self.source.suffix
        if suffix == ".xlsx":
            self._rows = self._open_xlsx()
        elif suffix in (".csv", ".txt", ".tsv"):
            self._rows = self._open_csv()
        else:
            raise FileProblem("io.err.file_type", suffix=suffix)
        self._find_header()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._workbook is not None:
            self._workbook.close()
        if self._stream is not None:
            self._stream.close()

    # -- CSV
    def _open_csv(self) -> Iterator[tuple[int, list[Any]]]:
        self._stream = self.source.open()
        encoding = _detect_encoding(self._stream)
        self._stream.seek(0)
        head = self._stream.read(ENCODING_WINDOW)
        self._stream.seek(0)
        sample = head.decode(encoding if encoding != "utf-8-sig" else "utf-8", errors="ignore")[:16384]
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;|")
            delimiter = dialect.delimiter
        except csv.Error:
            delimiter = ","
        textio = io.TextIOWrapper(self._stream, encoding=encoding, errors="strict", newline="")
        return self._csv_rows(textio, delimiter, encoding)

    def _csv_rows(
        self, textio: io.TextIOWrapper, delimiter: str, encoding: str
    ) -> Iterator[tuple[int, list[Any]]]:
        reader = csv.reader(textio, delimiter=delimiter, strict=True)
        n = 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise FileProblem("io.err.csv_broken", row=n + 1, detail=str(exc)) from exc
            except UnicodeDecodeError as exc:  # the decoder reads ahead: find the line itself
                line = _undecodable_line(self.source, encoding)
                raise FileProblem("io.err.csv_encoding", row=line, encoding=encoding, line=line) from exc
            n += 1
            yield n, list(cells)

    # -- xlsx
    def _open_xlsx(self) -> Iterator[tuple[int, list[Any]]]:
        import openpyxl

        self._stream = self.source.open()
        try:
            self._workbook = openpyxl.load_workbook(self._stream, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError) as exc:
            raise FileProblem("io.err.xlsx_broken", detail=str(exc)[:200]) from exc
        sheet = self._workbook.worksheets[0]
        try:
            self._total_rows = sheet.max_row
        except (ValueError, TypeError):
            self._total_rows = None
        return self._xlsx_rows(sheet)

    def _xlsx_rows(self, sheet: Any) -> Iterator[tuple[int, list[Any]]]:
        n = 0
        try:
            for cells in sheet.iter_rows(values_only=True):
                n += 1
                yield n, list(cells)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError, ElementTree.ParseError) as exc:
            raise FileProblem("io.err.xlsx_broken", row=n + 1, detail=str(exc)[:200]) from exc

    # -- common
    def _find_header(self) -> None:
        buffered: list[tuple[int, list[Any]]] = []
        for item in self._rows:
            buffered.append(item)
            if len(buffered) >= HEADER_SCAN_ROWS:
                break
        candidates = [(n, cells) for n, cells in buffered if any(not is_null(c) for c in cells)]
        if not candidates:
            raise FileProblem("io.err.no_header")
        scored = [(header_score(self.kind, cells), -i) for i, (_n, cells) in enumerate(candidates)]
        best = max(range(len(candidates)), key=lambda i: scored[i]) if max(s for s, _ in scored) > 0 else 0
        self.header_row, cells = candidates[best]
        while cells and is_null(cells[-1]):
            cells = cells[:-1]
        seen: dict[str, int] = {}
        headers = []
        for i, c in enumerate(cells):
            name = text(c) or f"column_{i + 1}"
            count = seen.get(name, 0) + 1
            seen[name] = count
            headers.append(name if count == 1 else f"{name}_{count}")
        self.headers = headers
        rest = [item for item in buffered if item[0] > self.header_row]
        upstream = self._rows

        def chained() -> Iterator[tuple[int, list[Any]]]:
            yield from rest
            yield from upstream

        self._rows = chained()

    def fraction(self) -> float | None:
        if self._total_rows:
            return min(1.0, self._last_row / self._total_rows)
        if self._stream is not None and self.source.size:
            try:
                return min(1.0, self._stream.tell() / self.source.size)
            except (OSError, ValueError):
                return None
        return None

    def rows(self) -> Iterator[RawRow]:
        width = len(self.headers)
        for n, cells in self._rows:
            self._last_row = n
            if not any(not is_null(c) for c in cells):
                continue
            problem = None
            values: dict[str, Any] = {}
            if len(cells) > width and any(not is_null(c) for c in cells[width:]):
                problem = "io.err.too_many_cells"
            elif len(cells) < width and self.source.suffix != ".xlsx":
                problem = "io.err.too_few_cells"  # a CSV row cut short (truncated file, stray line break)
            for i, header in enumerate(self.headers):
                values[header] = cells[i] if i < len(cells) else None
            yield RawRow(n, values, problem, {"expected": width, "found": len(cells)} if problem else {})

    def chunks(self, size: int = 2000) -> Iterator[list[RawRow]]:
        chunk: list[RawRow] = []
        for raw in self.rows():
            chunk.append(raw)
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


@dataclass
class Preview:
    """What the mapping step shows: the header row, the first rows as text, the suggested mapping, and
    what the whole file says about the format of each column that holds dates."""

    headers: list[str]
    header_row: int
    rows: list[dict[str, str]]
    suggested: dict[str, str]
    dates: dict[str, DateColumn]


def preview_table(source: Source, kind: str, n: int = 20) -> Preview:
    """Header, first `n` rows (as text), suggested mapping of a CSV or xlsx file, and the date format of
    each column with a date among its first rows (from a pass over the whole file)."""
    with TableReader(source, kind) as reader:
        raws: list[RawRow] = []
        for raw in reader.rows():
            raws.append(raw)
            if len(raws) >= n:
                break
        headers = reader.headers
    suggested = suggest_mapping(kind, headers)
    date_fields = DATE_FIELDS.get(kind, ())
    dated = [
        h
        for h in headers
        if suggested.get(h) in date_fields
        or any(date_order(r.values.get(h)) not in ("bad", "null") for r in raws)
    ]
    with TableReader(source, kind) as reader:
        dates = scan((raw.values for raw in reader.rows() if not raw.problem), dated)
    rows = [{h: text(raw.values.get(h)) for h in headers} for raw in raws]
    return Preview(headers, reader.header_row, rows, suggested, dates)
