"""Reading import files: spreadsheets (CSV, Excel), Open311 GeoReport v2 (JSON, XML) and GeoJSON, as
streams of raw rows, plus the header synonym table, value parsers (dates, numbers, enums) and coordinate
datums. No database here: :mod:`dashboard.io.cases` validates the rows against the territory.

Everything streams: CSV through the ``csv`` module over an incrementally decoded byte stream, Excel through
openpyxl's read-only mode, JSON arrays one element at a time (``JSONDecoder.raw_decode`` over a growing
buffer), XML with ``XMLPullParser``. A file the reader cannot finish (a CSV cut inside a quoted field, a
truncated xlsx zip or JSON document) raises :class:`FileProblem`; a CSV row cut short is a row with too few
cells, which the import reports as a row error.

XML safety: the standard library's expat never fetches external entities or DTDs; to rule out entity
expansion attacks as well, any document declaring a DOCTYPE or ENTITY is refused before parsing (Open311
feeds have none), and files are size-limited by the caller (``uploads.check_upload`` or the CLI).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree

from dashboard.clock import TZ
from dashboard.territory import geo

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

HEADER_SCAN_ROWS = 10
"""Rows searched for the header line (spreadsheets often have a title row or two above it)."""

NULL_TEXTS = frozenset(
    {"", "null", "none", "nan", "nat", "n/a", "na", "nil", "undefined", "-", "--", "—", "/"}
)
"""Cell texts meaning "no value" (real feeds write ``"null"`` as a string)."""


class FileProblem(ValueError):
    """The file as a whole cannot be read; `key` is an i18n key, `row` the row (or element) where it broke."""

    def __init__(self, key: str, row: int | None = None, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.row = row
        self.values = values


# ---------------------------------------------------------------- sources


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


# ---------------------------------------------------------------- header synonyms


@lru_cache(maxsize=8192)
def _norm_key(value: str) -> str:
    value = unicodedata.normalize("NFKC", value).strip().lower()
    value = re.sub(r"[(\[【].*?[)\]】]", "", value)
    return re.sub(r"[\s_\-.:*#/]+", "", value)


def norm_key(text: object) -> str:
    """A header or key reduced for matching: NFKC (full-width → ASCII), lower case, without bracketed
    remarks, required-markers, blanks, underscores, hyphens and dots (``Service-Request_ID`` → ``servicerequestid``)."""
    return _norm_key(str(text or "")[:200])


SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "cases": {
        "number": (
            "事件编号",
            "案件编号",
            "编号",
            "工单编号",
            "工单号",
            "事件号",
            "案件号",
            "number",
            "case_number",
            "case_no",
            "caseno",
            "case_id",
            "service_request_id",
            "request_id",
            "id",
            "序号",
        ),
        "title": (
            "标题",
            "事件标题",
            "案件标题",
            "诉求标题",
            "事项",
            "事件名称",
            "title",
            "subject",
            "summary",
        ),
        "description": (
            "描述",
            "事件描述",
            "问题描述",
            "诉求内容",
            "内容",
            "详情",
            "情况描述",
            "description",
            "details",
            "detail",
        ),
        "category": (
            "类别",
            "分类",
            "事件类别",
            "案件类别",
            "事件分类",
            "案件分类",
            "类别编码",
            "分类编码",
            "问题类型",
            "事件类型",
            "类型",
            "category",
            "category_code",
            "service_code",
            "type",
            "类别名称",
            "分类名称",
            "category_name",
            "service_name",
        ),
        "reported_at": (
            "上报时间",
            "报告时间",
            "反映时间",
            "登记时间",
            "来电时间",
            "发现时间",
            "发生时间",
            "上报日期",
            "reported_at",
            "reported",
            "report_time",
            "requested_datetime",
            "created_at",
            "created",
            "date",
            "日期",
            "时间",
        ),
        "accepted_at": ("受理时间", "accepted_at"),
        "resolved_at": ("处置时间", "处置完成时间", "办结时间", "resolved_at"),
        "closed_at": ("结案时间", "关闭时间", "closed_at", "closed"),
        "due_at": (
            "办理期限",
            "处置期限",
            "期限",
            "截止时间",
            "到期时间",
            "due_at",
            "deadline",
            "expected_datetime",
        ),
        "updated_at": ("更新时间", "updated_at", "updated_datetime"),
        "grid": ("网格", "网格编号", "网格编码", "所属网格", "网格代码", "grid", "grid_code"),
        "lon": ("经度", "lon", "lng", "long", "longitude", "x"),
        "lat": ("纬度", "lat", "latitude", "y"),
        "address": ("地址", "事发地址", "事发地点", "详细地址", "地点", "位置", "address", "location"),
        "source": ("来源", "事件来源", "案件来源", "渠道", "来源渠道", "source", "channel"),
        "status": ("状态", "案件状态", "事件状态", "办理状态", "处理状态", "status"),
        "status_notes": ("状态说明", "status_notes"),
        "reporter_name": (
            "报告人",
            "上报人",
            "反映人",
            "诉求人",
            "报告人姓名",
            "联系人",
            "reporter_name",
            "reporter",
            "contact_name",
            "name",
        ),
        "reporter_phone": (
            "电话",
            "联系电话",
            "报告人电话",
            "手机",
            "手机号",
            "手机号码",
            "reporter_phone",
            "phone",
            "telephone",
            "tel",
            "mobile",
        ),
        "department": (
            "责任部门",
            "承办部门",
            "处置部门",
            "主办部门",
            "部门",
            "department",
            "agency_responsible",
            "agency",
        ),
        "priority": ("紧急程度", "优先级", "priority"),
        "satisfaction": ("满意度", "回访结果", "回访满意度", "satisfaction"),
        "duplicate_of": ("重复案件", "并入案件", "重复于", "duplicate_of"),
    },
    "volunteers": {
        "external_id": ("志愿者编号", "编号", "external_id", "volunteer_id", "id", "序号"),
        "name": ("姓名", "志愿者姓名", "name"),
        "phone": ("手机", "手机号", "手机号码", "电话", "联系电话", "phone", "mobile", "tel"),
        "gender": ("性别", "gender", "sex"),
        "birth_year": ("出生年份", "出生年", "出生日期", "birth_year", "birthday", "birth_date"),
        "grid": ("网格", "所属网格", "居住网格", "网格编号", "网格编码", "home_grid", "grid", "grid_code"),
        "skills": ("技能", "特长", "服务技能", "志愿服务技能", "skills", "skill"),
        "political_status": ("政治面貌", "political_status", "political"),
        "party_kind": ("党员类型", "党员类别", "party_kind", "party_member_kind"),
        "employer": ("工作单位", "驻区单位", "所在单位", "employer", "employer_unit", "unit"),
        "registered_at": ("注册时间", "登记时间", "注册日期", "报到时间", "registered_at", "registered"),
        "active": ("是否有效", "在册", "状态", "active", "status"),
    },
    "service_records": {
        "external_id": ("记录编号", "服务记录编号", "编号", "external_id", "record_id", "id", "序号"),
        "volunteer": ("志愿者编号", "volunteer_id", "volunteer"),
        "volunteer_phone": ("志愿者手机", "志愿者电话", "手机", "手机号", "电话", "volunteer_phone", "phone"),
        "grid": ("服务网格", "网格", "网格编号", "网格编码", "grid", "grid_code"),
        "case": ("案件编号", "关联案件", "事件编号", "case", "case_number"),
        "skill": ("服务技能", "技能", "服务类型", "服务内容", "skill", "activity"),
        "start": ("开始时间", "服务开始时间", "start", "start_time", "started_at"),
        "end": ("结束时间", "服务结束时间", "end", "end_time", "ended_at"),
        "hours": ("时长", "服务时长", "小时", "hours", "duration"),
        "note": ("备注", "说明", "note", "notes", "remark"),
        "verified": ("已核实", "是否核实", "核实", "verified"),
    },
}
"""Per kind: field → header spellings, best first. Matching is exact after :func:`norm_key`."""

REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "cases": (("number",), ("title", "description"), ("category",), ("reported_at",), ("grid", "lon")),
    "volunteers": (("external_id",), ("name",), ("phone",), ("grid",), ("skills",)),
    "service_records": (
        ("external_id",),
        ("volunteer", "volunteer_phone"),
        ("skill",),
        ("start",),
        ("end", "hours"),
    ),
}
"""Columns a mapping must provide: each tuple needs at least one of its fields (lat comes with lon)."""

_LOOKUP: dict[str, dict[str, tuple[str, int]]] = {}
for _kind, _fields in SYNONYMS.items():
    table: dict[str, tuple[str, int]] = {}
    for _field, _names in _fields.items():
        for _rank, _name in enumerate(_names):
            key = norm_key(_name)
            if key not in table or _rank < table[key][1]:
                table[key] = (_field, _rank)
    _LOOKUP[_kind] = table


def suggest_mapping(kind: str, headers: Sequence[str]) -> dict[str, str]:
    """Header → field for the headers recognised by the synonym table; each field taken once, by the header
    whose spelling ranks best (so ``类别`` wins over ``类别名称`` when a file has both)."""
    table = _LOOKUP[kind]
    best: dict[str, tuple[int, int, str]] = {}
    for pos, header in enumerate(headers):
        hit = table.get(norm_key(header))
        if hit is None:
            continue
        fld, rank = hit
        if fld not in best or (rank, pos) < best[fld][:2]:
            best[fld] = (rank, pos, header)
    return {header: fld for fld, (_r, _p, header) in best.items()}


def missing_fields(kind: str, mapping: Mapping[str, str]) -> list[str]:
    """The required fields (first alternative of each group) that `mapping` does not provide."""
    mapped = {f for f in mapping.values() if f}
    missing = [group[0] for group in REQUIRED.get(kind, ()) if not mapped.intersection(group)]
    if "lon" in mapped and "lat" not in mapped:
        missing.append("lat")
    if "lat" in mapped and "lon" not in mapped:
        missing.append("lon")
    return missing


# ---------------------------------------------------------------- values


_NEUTRALISED = tuple("'" + c for c in ("=", "+", "-", "@", "＝", "＋", "－", "＠"))
"""Text as ``privacy.neutralise_formula`` writes it into spreadsheets: an apostrophe before a formula start."""


def is_null(value: object) -> bool:
    if value is None:
        return True
    if type(value) is str:
        return len(value) <= 24 and value.strip().lower() in NULL_TEXTS
    return isinstance(value, float) and math.isnan(value)


def text(value: object) -> str:
    """A cell as trimmed text ('' for null); whole floats lose their '.0' (Excel stores 138… as 1.38e10).
    Text is kept as written (full-width punctuation stays; matching goes through :func:`norm_key`), except
    the apostrophe that exports put before text a spreadsheet would run as a formula (``'=1+1`` → ``=1+1``).
    """
    if value is None:
        return ""
    if type(value) is str:
        stripped = value.strip()
        if len(stripped) <= 24 and stripped.lower() in NULL_TEXTS:
            return ""
        if stripped.startswith(_NEUTRALISED):
            return stripped[1:]  # our exports' formula neutralisation, undone so a round trip is exact
        return stripped
    if is_null(value):
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value).strip()


def number(value: object) -> float | None:
    """A finite float or None for null; ValueError for text that is not a number."""
    if is_null(value):
        return None
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, int | float):
        result = float(value)
    else:
        result = float(unicodedata.normalize("NFKC", str(value)).strip().replace(",", ""))
    if not math.isfinite(result):
        raise ValueError("not a number")
    return result


EXCEL_EPOCH = datetime(1899, 12, 30)
_SERIAL_RANGE = (20000.0, 80000.0)
"""Excel serial dates accepted (1954–2119): plain numbers outside are not taken for dates."""

_DATE_RE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]+(\d{1,2})(?::(\d{1,2}))?(?::(\d{1,2})(?:\.(\d{1,6}))?)?)?$"
)
_COMPACT_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:[ T]?(\d{2})(\d{2})(\d{2})?)?$")
_TZ_RE = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")


def _from_excel_serial(serial: float) -> datetime:
    if not _SERIAL_RANGE[0] <= serial <= _SERIAL_RANGE[1]:
        raise ValueError("not a date")
    return EXCEL_EPOCH + timedelta(seconds=round(serial * 86400))


def parse_datetime(value: object) -> datetime | None:
    """A naive Asia/Shanghai datetime from the spellings seen in practice, None for null; else ValueError.

    ``2026-11-23 08:30``, ``2026/11/23``, ``2026.11.23``, ``2026年11月23日 8时30分``, ``20261123``,
    ISO 8601 with an offset or ``Z`` (converted to Beijing time), Excel serial numbers (46349.35) and the
    date/datetime cells openpyxl returns. Years outside 1990–2100 are refused as typos.
    """
    if is_null(value):
        return None
    if isinstance(value, datetime):
        result = value
        if result.tzinfo is not None:
            result = result.astimezone(TZ).replace(tzinfo=None)
    elif isinstance(value, date):
        result = datetime.combine(value, time())
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result = _from_excel_serial(float(value))
    else:
        raw = unicodedata.normalize("NFKC", str(value)).strip()
        result = _parse_text_datetime(raw)
    if not 1990 <= result.year <= 2100:
        raise ValueError("year out of range")
    return result.replace(microsecond=0)


def _parse_text_datetime(raw: str) -> datetime:
    if re.fullmatch(r"\d{5}(\.\d+)?", raw):
        return _from_excel_serial(float(raw))
    if "T" in raw or _TZ_RE.search(raw):
        try:
            parsed = datetime.fromisoformat(
                raw.replace(" ", "T", 1) if " " in raw and "T" not in raw else raw
            )
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed.astimezone(TZ).replace(tzinfo=None) if parsed.tzinfo else parsed
    s = raw.replace("年", "-").replace("月", "-").replace("日", " ").replace("号", " ")
    s = s.replace("时", ":").replace("点", ":").replace("分", ":").replace("秒", "")
    s = re.sub(r"^(\d{4})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{1,2})", r"\1-\2-\3", s.strip())
    s = re.sub(r"\s+", " ", s).strip().rstrip(":")
    m = _DATE_RE.match(s) or _COMPACT_RE.match(s)
    if not m:
        raise ValueError("not a date")
    y, mo, d, hh, mm, ss = m.groups()[:6]
    frac = m.groups()[6] if len(m.groups()) > 6 else None
    return datetime(
        int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0), int((frac or "0").ljust(6, "0"))
    )


def to_wgs84(lon: float, lat: float, convert: str | None) -> tuple[float, float]:
    """Convert a point from GCJ-02 or BD-09 to WGS-84 (no change when `convert` is None)."""
    if convert is None:
        return lon, lat
    if convert == "gcj02":
        return geo.gcj02_to_wgs84(lon, lat)
    if convert == "bd09":
        return geo.bd09_to_wgs84(lon, lat)
    raise ValueError(f"unknown coordinate system {convert!r}")


# ---------------------------------------------------------------- spreadsheets


@dataclass
class RawRow:
    """One data row of a file: its row number as the user sees it (spreadsheet row, JSON/XML element
    index), and its values by header (spreadsheets) or by canonical key (Open311)."""

    row: int
    values: dict[str, Any]
    problem: str | None = None  # i18n key of a structural problem (e.g. a row cut short)
    problem_values: dict[str, Any] = field(default_factory=dict)


def _detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"  # Excel on Chinese Windows saves CSV in GBK, of which GB18030 is a superset


def _score_header(kind: str, cells: Sequence[Any]) -> int:
    table = _LOOKUP.get(kind, {})
    return sum(1 for c in cells if isinstance(c, str) and norm_key(c) in table)


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
        head = self._stream.read(64 * 1024)
        self._stream.seek(0)
        encoding = _detect_encoding(head)
        sample = head.decode(encoding if encoding != "utf-8-sig" else "utf-8", errors="ignore")[:16384]
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;|")
            delimiter = dialect.delimiter
        except csv.Error:
            delimiter = ","
        textio = io.TextIOWrapper(self._stream, encoding=encoding, errors="strict", newline="")
        return self._csv_rows(textio, delimiter)

    def _csv_rows(self, textio: io.TextIOWrapper, delimiter: str) -> Iterator[tuple[int, list[Any]]]:
        reader = csv.reader(textio, delimiter=delimiter, strict=True)
        n = 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise FileProblem("io.err.csv_broken", row=n + 1, detail=str(exc)) from exc
            except UnicodeDecodeError as exc:
                raise FileProblem("io.err.encoding", row=n + 1) from exc
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
        scored = [(_score_header(self.kind, cells), -i) for i, (_n, cells) in enumerate(candidates)]
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
    """What the mapping step shows: the header row, the first rows as text and the suggested mapping."""

    headers: list[str]
    header_row: int
    rows: list[dict[str, str]]
    suggested: dict[str, str]


def preview_table(source: Source, kind: str, n: int = 20) -> Preview:
    """Header, first `n` rows (as text) and suggested mapping of a CSV or xlsx file."""
    with TableReader(source, kind) as reader:
        rows: list[dict[str, str]] = []
        for raw in reader.rows():
            rows.append({h: text(raw.values.get(h)) for h in reader.headers})
            if len(rows) >= n:
                break
        return Preview(reader.headers, reader.header_row, rows, suggest_mapping(kind, reader.headers))


# ---------------------------------------------------------------- Open311 GeoReport v2

OPEN311_KEYS: dict[str, tuple[str, ...]] = {
    "number": ("service_request_id", "servicerequestid", "request_id", "requestid", "id"),
    "status": ("status",),
    "status_notes": ("status_notes", "statusnote", "status_note"),
    "service_code": ("service_code",),
    "service_name": ("service_name",),
    "description": ("description", "descr"),
    "agency": ("agency_responsible", "agency"),
    "service_notice": ("service_notice",),
    "reported_at": ("requested_datetime", "requesteddate", "requested_date", "requested_at", "requested"),
    "updated_at": ("updated_datetime", "updateddate", "updated_date", "updated_at", "updated"),
    "due_at": ("expected_datetime", "expecteddate", "expected_date", "expected_at", "expected"),
    "address": ("address", "address_string"),
    "address_id": ("address_id",),
    "zipcode": ("zipcode", "zip_code", "zip", "postcode", "postal_code"),
    "lat": ("lat", "latitude"),
    "lon": ("long", "lon", "lng", "longitude"),
    "media_url": ("media_url",),
}
"""Canonical key → spellings seen in Open311 feeds (matched after :func:`norm_key`), best first."""

_OPEN311_LOOKUP: dict[str, tuple[str, int]] = {
    norm_key(name): (canon, rank) for canon, names in OPEN311_KEYS.items() for rank, name in enumerate(names)
}


def normalise_open311(item: Mapping[str, Any]) -> dict[str, Any]:
    """An Open311 request with its keys in canonical spelling; unknown keys dropped, the best-ranked
    spelling kept when a feed has two (``service_request_id`` over ``id``)."""
    out: dict[str, Any] = {}
    ranks: dict[str, int] = {}
    for key, value in item.items():
        hit = _OPEN311_LOOKUP.get(norm_key(key))
        if hit is None:
            continue
        canon, rank = hit
        if canon not in ranks or rank < ranks[canon]:
            out[canon], ranks[canon] = value, rank
    return out


def _read_text_chunks(stream: IO[bytes], size: int = 1 << 20) -> Iterator[str]:
    head = stream.read(4)
    encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8[:3]) else "utf-8"
    decoder = codecs.getincrementaldecoder(encoding)()
    data = head
    while True:
        try:
            piece = decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise FileProblem("io.err.encoding") from exc
        if piece:
            yield piece
        if not data:
            return
        data = stream.read(size)


def iter_json_items(stream: IO[bytes]) -> Iterator[tuple[int, Any]]:
    """(1-based index, element) of a JSON array read incrementally; an object holding the array under
    ``service_requests``/``requests``/``data`` (or a single request object) is read whole.

    A document that ends early raises :class:`FileProblem` ``io.err.json_truncated`` naming the element.
    """
    decoder = json.JSONDecoder()
    chunks = _read_text_chunks(stream)
    buf, pos, eof = "", 0, False

    def more() -> bool:
        nonlocal buf, pos, eof
        if eof:
            return False
        try:
            piece = next(chunks)
        except StopIteration:
            eof = True
            return False
        buf = buf[pos:] + piece
        pos = 0
        return True

    def skip_ws() -> bool:
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n":
                pos += 1
            if pos < len(buf):
                return True
            if not more():
                return False

    if not skip_ws():
        raise FileProblem("io.err.json_empty")
    if buf[pos] != "[":
        while more():
            pass
        try:
            whole = json.loads(buf[pos:])
        except json.JSONDecodeError as exc:
            raise FileProblem("io.err.json_truncated", row=1, detail=str(exc)) from exc
        items = _unwrap(whole)
        yield from enumerate(items, start=1)
        return
    pos += 1
    index = 0
    while True:
        if not skip_ws():
            raise FileProblem("io.err.json_truncated", row=index + 1, detail="missing ]")
        if buf[pos] == "]":
            return
        if index > 0:
            if buf[pos] != ",":
                raise FileProblem("io.err.json_truncated", row=index + 1, detail=f"unexpected {buf[pos]!r}")
            pos += 1
            if not skip_ws():
                raise FileProblem("io.err.json_truncated", row=index + 1, detail="missing ]")
        while True:
            try:
                value, end = decoder.raw_decode(buf, pos)
                break
            except json.JSONDecodeError as exc:
                if not more():
                    raise FileProblem("io.err.json_truncated", row=index + 1, detail=str(exc)) from exc
        index += 1
        pos = end
        yield index, value


def _unwrap(whole: Any) -> list[Any]:
    if isinstance(whole, list):
        return whole
    if isinstance(whole, dict):
        for key in ("service_requests", "servicerequests", "requests", "request", "data", "items", "results"):
            for k, v in whole.items():
                if norm_key(k) == norm_key(key):
                    return v if isinstance(v, list) else [v]
        return [whole]
    raise FileProblem("io.err.json_shape")


_FORBIDDEN_XML = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def iter_xml_items(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(1-based index, {tag: text}) of each ``<request>`` element of an Open311 XML document, streamed.

    Documents with a DOCTYPE or ENTITY declaration are refused (``io.err.xml_dtd``).
    """
    parser = ElementTree.XMLPullParser(events=("end",))
    index = 0
    tail = b""
    while True:
        data = stream.read(1 << 20)
        if _FORBIDDEN_XML.search(tail + data):
            raise FileProblem("io.err.xml_dtd")
        tail = data[-16:]
        try:
            if data:
                parser.feed(data)
            else:
                parser.close()
        except ElementTree.ParseError as exc:
            raise FileProblem("io.err.xml_broken", row=index + 1, detail=str(exc)) from exc
        for _event, elem in parser.read_events():
            tag = elem.tag.rsplit("}", 1)[-1].lower()
            if tag == "request":
                index += 1
                yield index, {child.tag.rsplit("}", 1)[-1]: (child.text or "").strip() for child in elem}
                elem.clear()
        if not data:
            return


def iter_open311(source: Source) -> Iterator[RawRow]:
    """The requests of an Open311 GeoReport v2 file (JSON or XML), keys normalised (:func:`normalise_open311`)."""
    with source.open() as stream:
        items = iter_xml_items(stream) if source.suffix == ".xml" else iter_json_items(stream)
        for index, item in items:
            if not isinstance(item, Mapping):
                yield RawRow(index, {}, "io.err.not_an_object")
                continue
            yield RawRow(index, normalise_open311(item))


# ---------------------------------------------------------------- GeoJSON


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


# ---------------------------------------------------------------- previews and templates


def template_headers(kind: str, lang: str = "zh") -> list[str]:
    """Column headers of an empty template for `kind`: the first Chinese spelling of each field (zh),
    else the field names (which the import recognises as well)."""
    fields = SYNONYMS[kind]
    if lang != "zh":
        return list(fields)
    return [next((n for n in names if not n.isascii()), f) for f, names in fields.items()]


def preview_open311(source: Source, n: int = 20) -> list[dict[str, str]]:
    """The first `n` requests of an Open311 file as text, keys normalised."""
    rows: list[dict[str, str]] = []
    for raw in iter_open311(source):
        rows.append({k: text(v) for k, v in raw.values.items()})
        if len(rows) >= n:
            break
    return rows


def preview_features(source: Source, n: int = 50) -> list[dict[str, str]]:
    """The first `n` features of a GeoJSON file: their properties as text and geometry type."""
    rows = []
    for index, props, geometry in read_geojson_features(source)[:n]:
        kind = geometry.get("type", "") if isinstance(geometry, Mapping) else ""
        rows.append({"#": str(index), **{str(k): text(v) for k, v in props.items()}, "geometry": str(kind)})
    return rows
