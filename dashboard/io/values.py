"""Cell values of import files: null spellings, text, numbers, the date and time spellings seen in
practice (including Excel serial numbers), and coordinates from Chinese map datums to WGS-84."""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime, time, timedelta

from dashboard.clock import TZ
from dashboard.kernel.text import clean_text
from dashboard.territory import geo

NULL_TEXTS = frozenset(
    {"", "null", "none", "nan", "nat", "n/a", "na", "nil", "undefined", "-", "--", "—", "/"}
)
"""Cell texts meaning "no value" (real feeds write ``"null"`` as a string)."""


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
    the apostrophe that exports put before text a spreadsheet would run as a formula (``'=1+1`` → ``=1+1``),
    and control characters and bidirectional overrides, which no field may hold
    (:func:`dashboard.kernel.text.clean_text`).
    """
    if value is None:
        return ""
    if type(value) is str:
        stripped = clean_text(value).strip()
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
