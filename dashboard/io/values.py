"""Cell values of import files: null spellings, text, numbers, the date and time spellings seen in
practice (including Excel serial numbers), and coordinates from Chinese map datums to WGS-84."""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime

from dashboard.clock import TZ
from dashboard.kernel.text import clean_text
from dashboard.territory import geo

NULL_TEXTS = frozenset(
    {"", "null", "none", "nan", "nat", "n/a", "na", "nil", "undefined", "-", "--", "—", "/"}
)
"""Cell texts meaning "no value" (real feeds write ``"null"`` as a string)."""


_NEUTRALISED = tuple("'" + c for c in ("=", "+", "-", "@", "＝", "＋", "－", "＠"))
"""Text as ``privacy.neutralise_formula`` writes it into spreadsheets: an apostrophe before a formula start."""


ASCII_BLANKS = " \t\r\n\f\v"


class Verbatim(str):
    """Text from a file that holds it exactly as stored (Open311 JSON and XML). :func:`text` trims only
    ASCII white space around it (leading ideographic or no-break spaces, a Chinese paragraph indent, are
    part of the text) and keeps a leading apostrophe (such files are not spreadsheets: nothing was
    neutralised, so nothing is undone)."""

    __slots__ = ()


def is_null(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return len(value) <= 24 and value.strip().lower() in NULL_TEXTS
    return isinstance(value, float) and math.isnan(value)


def text(value: object) -> str:
    """A cell as trimmed text ('' for null); whole floats lose their '.0' (Excel stores 138… as 1.38e10).
    Text is kept as written (full-width punctuation stays; matching goes through :func:`norm_key`), except
    the apostrophe that exports put before text a spreadsheet would run as a formula (``'=1+1`` → ``=1+1``),
    and control characters and bidirectional overrides, which no field may hold
    (:func:`dashboard.kernel.text.clean_text`). :class:`Verbatim` text keeps its apostrophe and its
    non-ASCII spaces.
    """
    if value is None:
        return ""
    if isinstance(value, Verbatim):
        kept = clean_text(value).strip(ASCII_BLANKS)
        return "" if is_null(kept) or not kept.strip() else kept
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
_EPOCH_RANGE = (631152000.0, 4102444800.0)
"""Unix times in seconds accepted (1990–2100); the same range times 1000 is read as milliseconds."""

DATE_FORMATS = ("ymd", "dmy", "mdy", "excel", "epoch")
"""How a date column is read. ``ymd``: year first (ISO 8601 with or without offset, ``2026/11/8``,
``2026年11月8日 14时``, ``20261108``), ``dmy``/``mdy``: also ``8/11/26`` day first or month first,
``excel``: serial numbers, ``epoch``: Unix seconds (or milliseconds). Every format also takes year-first
text, dates with an English month name (``Nov 8 2026``, ``8-Nov-2026``, ``November 8, 2026 3:04 PM``,
``Sun, 08 Nov 2026 06:05:00 GMT``) and the date cells of a spreadsheet; a ``strptime`` pattern (``%m/%d/%Y %I:%M %p``) may be given too."""

_TIME = r"(\d{1,2})(?::(\d{1,2}))?(?::(\d{1,2})(?:\.(\d{1,6}))?)?"
_YMD_RE = re.compile(rf"^(\d{{4}})-(\d{{1,2}})-(\d{{1,2}})(?:[ T]+{_TIME})?$")
_COMPACT_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:[ T]?(\d{2})(\d{2})(\d{2})?)?$")
_NUMERIC_RE = re.compile(r"^\d+(\.\d+)?$")
_EIGHT_DIGITS_RE = re.compile(r"^\d{8}$")


def _is_number_text(raw: str) -> bool:
    """A number written as text (a serial date, a Unix time), but not a compact date like 20261108."""
    return bool(_NUMERIC_RE.match(raw)) and not _EIGHT_DIGITS_RE.match(raw)


_DMY_RE = re.compile(rf"^(\d{{1,2}})[/.-](\d{{1,2}})[/.-](\d{{4}}|\d{{2}})(?:[ T,]+{_TIME})?$")
_TZ_RE = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
_AM_RE = re.compile(r"\s*(上午|凌晨|早上|早晨|a\.?m\.?)\s*", re.IGNORECASE)
_PM_RE = re.compile(r"\s*(下午|晚上|傍晚|中午|p\.?m\.?)\s*", re.IGNORECASE)


_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        1,
    )
    for name in names
}
"""English month names and their abbreviations (case does not matter)."""
_WEEKDAY_RE = re.compile(r"^(mon|tues?|wed(nes)?|thu(rs?)?|fri|sat(ur)?|sun)(day)?\.?,?\s+", re.IGNORECASE)
_MON = r"([A-Za-z]{3,9})\.?"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_NAMED_MONTH_RES = (
    ("mdy", re.compile(rf"^{_MON}\s+{_DAY},?\s+(\d{{4}})\b,?(.*)$")),  # Nov 8 2026, November 8, 2026 3:04
    ("dmy", re.compile(rf"^{_DAY}[\s/.-]*{_MON}[\s/.,-]+(\d{{4}}|\d{{2}})\b(.*)$")),  # 8-Nov-2026, 08-NOV-26
    ("ymd", re.compile(rf"^(\d{{4}})[\s/.-]+{_MON}[\s/.-]+{_DAY}\b(.*)$")),  # 2026-Nov-08
)
"""Dates with the month written as an English word, by the order of their parts."""
_ZONE_RE = re.compile(r"\s(GMT|UTC|UT|Z|[+-]\d{4})$", re.IGNORECASE)


def _named_month(s: str) -> str:
    """A date whose month is an English word ("Nov 8 2026", "8-Nov-26", "Sunday, November 8th, 2026 3:04")
    as year-month-day text with the rest (the time) after it; other text as it is. A named month cannot
    be mistaken for a day, so such a date reads the same in every format."""
    s = _WEEKDAY_RE.sub("", s)
    for order, regex in _NAMED_MONTH_RES:
        m = regex.match(s)
        if not m:
            continue
        parts = dict(zip(order, m.groups()[:3], strict=True))
        month = _MONTHS.get(parts["m"].lower())
        if month is None:
            return s
        year = parts["y"] if len(parts["y"]) == 4 else str(2000 + int(parts["y"]))
        rest = m.group(4).strip(" ,")
        return f"{year}-{month}-{parts['d']}" + (f" {rest}" if rest else "")
    return s


def _rfc2822(raw: str) -> datetime | None:
    """A date as mail and HTTP headers write it ("Sun, 08 Nov 2026 06:05:00 GMT", "… -0500") as Beijing
    time, else None. Only text with a month name and a zone is tried (the parser takes much else)."""
    if not _ZONE_RE.search(raw) or not re.search("[A-Za-z]{3}", raw[:-3]):
        return None
    try:
        parsed = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(TZ).replace(tzinfo=None)


def _from_excel_serial(serial: float) -> datetime:
    if not _SERIAL_RANGE[0] <= serial <= _SERIAL_RANGE[1]:
        raise ValueError("not a date")
    return EXCEL_EPOCH + timedelta(seconds=round(serial * 86400))


def _from_epoch(seconds: float) -> datetime:
    low, high = _EPOCH_RANGE
    if low * 1000 <= seconds <= high * 1000:
        seconds /= 1000
    if not low <= seconds <= high:
        raise ValueError("not a date")
    return datetime.fromtimestamp(seconds, TZ).replace(tzinfo=None)


def _from_number(value: float, fmt: str) -> datetime:
    if fmt == "epoch":
        return _from_epoch(value)
    if value.is_integer() and 19000101 <= value <= 21001231:
        return _parse_text_datetime(str(int(value)), fmt)  # 20261108 typed as a number
    return _from_excel_serial(value)


def parse_datetime(value: object, fmt: str = "ymd") -> datetime | None:
    """A naive Asia/Shanghai datetime read in the column's format `fmt` (:data:`DATE_FORMATS` or a
    ``strptime`` pattern), None for null; else ValueError.

    Offsets (``Z``, ``+08:00``, ``-05:00``) are converted to Beijing time, times without one are Beijing
    wall times; 12-hour clocks (``11:44:53 PM``, ``下午 2:05``) are read in every format; two-digit years
    are 20xx. Years outside 1990–2100 are refused as typos.
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
        result = _from_number(float(value), fmt)
    else:
        raw = unicodedata.normalize("NFKC", str(value)).strip()
        result = _strptime(raw, fmt) if "%" in fmt else _parse_text_datetime(raw, fmt)
    if not 1990 <= result.year <= 2100:
        raise ValueError("year out of range")
    return result.replace(microsecond=0)


def _strptime(raw: str, pattern: str) -> datetime:
    parsed = datetime.strptime(raw, pattern)
    return parsed.astimezone(TZ).replace(tzinfo=None) if parsed.tzinfo else parsed


def _iso(raw: str) -> datetime | None:
    """An ISO 8601 text (with ``T`` or an offset) as Beijing time, else None."""
    if "T" not in raw and not _TZ_RE.search(raw):
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace(" ", "T", 1) if " " in raw and "T" not in raw else raw)
    except ValueError:
        return None
    return parsed.astimezone(TZ).replace(tzinfo=None) if parsed.tzinfo else parsed


def _meridiem(s: str) -> tuple[str, str | None]:
    """The text without its AM/PM (上午/下午) marker, and the marker ("am", "pm", "noon") or None."""
    for regex, mark in ((_AM_RE, "am"), (_PM_RE, "pm")):
        m = regex.search(s)
        if m:
            found = "noon" if m.group(1) == "中午" else mark
            return (s[: m.start()] + " " + s[m.end() :]).strip(), found
    return s, None


def _normalise_text(raw: str) -> tuple[str, str | None]:
    """Chinese date words replaced by separators, blanks squeezed, the AM/PM marker taken out."""
    s = raw.replace("年", "-").replace("月", "-").replace("日", " ").replace("号", " ")
    s = s.replace("时", ":").replace("点", ":").replace("分", ":").replace("秒", "")
    s, mark = _meridiem(s)
    s = _named_month(re.sub(r"\s+", " ", s).strip())
    s = re.sub(r"^(\d{4})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{1,2})", r"\1-\2-\3", s.strip())
    s = re.sub(r"\s+", " ", s).strip().rstrip(":").rstrip(",").strip()
    return s, mark


def date_order(value: object) -> str:
    """Which formats can read `value`: ``any`` (year first, a date cell), ``serial``, ``epoch``, ``dmy``
    or ``mdy`` (a day/month/year text only one way round fits), ``either`` (both fit: day and month ≤ 12),
    ``bad`` (none), ``null``. Used to decide a column's format from all its values."""
    if is_null(value):
        return "null"
    if isinstance(value, date):
        return "any"
    if isinstance(value, int | float) and not isinstance(value, bool):
        number_value: float | None = float(value)
    else:
        raw = unicodedata.normalize("NFKC", str(value)).strip()
        number_value = float(raw) if _is_number_text(raw) else None
        if number_value is None:
            return _text_order(raw)
    assert number_value is not None
    if _SERIAL_RANGE[0] <= number_value <= _SERIAL_RANGE[1]:
        return "serial"
    low, high = _EPOCH_RANGE
    if low <= number_value <= high or low * 1000 <= number_value <= high * 1000:
        return "epoch"
    return "any" if number_value.is_integer() and 19000101 <= number_value <= 21001231 else "bad"


def _text_order(raw: str) -> str:
    if _iso(raw) is not None or _rfc2822(raw) is not None:
        return "any"
    s, _mark = _normalise_text(raw)
    if _YMD_RE.match(s) or _COMPACT_RE.match(s):
        return "any"
    m = _DMY_RE.match(s)
    if not m:
        return "bad"
    a, b = int(m.group(1)), int(m.group(2))
    if 1 <= a <= 12 and 1 <= b <= 12:
        return "either"
    if 13 <= a <= 31 and 1 <= b <= 12:
        return "dmy"
    if 1 <= a <= 12 and 13 <= b <= 31:
        return "mdy"
    return "bad"


def _clock(hh: str | None, mark: str | None) -> int:
    """The hour of a 12-hour clock with its marker, as 0–23."""
    hour = int(hh or 0)
    if mark is None:
        return hour
    if not 1 <= hour <= 12:
        raise ValueError("not a 12-hour clock")
    if mark == "am":
        return 0 if hour == 12 else hour
    if mark == "noon":
        return hour if hour >= 11 else hour + 12
    return hour if hour == 12 else hour + 12


def _parse_text_datetime(raw: str, fmt: str = "ymd") -> datetime:
    if _is_number_text(raw):
        return _from_number(float(raw), fmt)
    iso = _iso(raw) or _rfc2822(raw)
    if iso is not None:
        return iso
    s, mark = _normalise_text(raw)
    m = _YMD_RE.match(s) or _COMPACT_RE.match(s)
    if m:
        y, mo, d = m.group(1), m.group(2), m.group(3)
        time_part = m.groups()[3:]
    else:
        m = _DMY_RE.match(s) if fmt in ("dmy", "mdy") else None
        if not m:
            raise ValueError("not a date")
        first, second, y = m.group(1), m.group(2), m.group(3)
        d, mo = (first, second) if fmt == "dmy" else (second, first)
        y = str(2000 + int(y)) if len(y) == 2 else y
        time_part = m.groups()[3:]
    hh, mm, ss = time_part[0], time_part[1], time_part[2]
    frac = time_part[3] if len(time_part) > 3 else None
    return datetime(
        int(y),
        int(mo),
        int(d),
        _clock(hh, mark),
        int(mm or 0),
        int(ss or 0),
        int((frac or "0").ljust(6, "0")),
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
