"""What a Chinese user reads, and what must not be in it: "None"/"nan", i18n keys, raw enum values, English.

:func:`visible_text` collects every text an AppTest run shows (titles, Markdown, captions, alerts, widget
labels, help and options, metrics, table headers and cells, tabs, expanders, Plotly titles, names and
labels); :func:`findings` lists what a Chinese interface must not show. The exports' readers
(:func:`workbook_text`, :func:`deck_text`, :func:`csv_text`) feed the same check.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterable, Iterator
from enum import StrEnum

from google.protobuf.message import Message

from dashboard.i18n import catalogue
from models import enums

ALLOWED_WORDS = frozenset(
    {
        # Product and file-format names a user knows by these names.
        "Excel",
        "PowerPoint",
        "CSV",
        "XLSX",
        "PPTX",
        "JSON",
        "GeoJSON",
        "XML",
        "PDF",
        "PNG",
        "JPG",  # the photo formats a phone offers (JPG、PNG、WebP、HEIC)
        "WebP",
        "HEIC",
        "Open311",
        "SQLite",
        "PostgreSQL",
        # Coordinate systems as surveyors write them (坐标系 WGS84 / GCJ-02 / BD-09).
        "WGS",
        "GCJ",
        # File types as the file chooser lists them.
        "csv",
        "xlsx",
        "json",
        "geojson",
        "xml",
        # Tools and protocols an administrator configures by these names.
        "cron",
        "systemd",
        "http",
        "https",
        "API",  # 系统对接 · API 客户端: the Open311 API's clients and keys
        "AUC",  # 研判预警: the overdue-risk model's quality, as statisticians write it (曲线下面积)
        # The language switch names its other language in that language.
        "English",
    }
)
"""English a Chinese user may read. Codes such as XL-01-01 or XL20261117-0002 have at most two letters in
a row; account and package names (comm-xl-02, chinese-calendar) and file paths are codes too (see clean)."""

NO_VALUE = re.compile(r"(?<![A-Za-z])(None|nan|NaN|NaT|null|undefined)(?![A-Za-z])")
KEY = re.compile(r"(?<![\w.])[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+(?![\w.])")
WORD = re.compile(r"[A-Za-z]{3,}\d*")
UNIT = re.compile(r"(?<=[\d\s])(pt|pp)(?![A-Za-z])")
"""Short English units: percentage points are 个百分点."""
_ENUM_VALUES = frozenset(
    str(member.value)
    for enum in vars(enums).values()
    if isinstance(enum, type) and issubclass(enum, StrEnum)
    for member in enum
    if re.fullmatch(r"[a-z][a-z0-9_]*", str(member.value))
)
RAW_ENUM = re.compile(
    r"(?<![A-Za-z0-9_])(" + "|".join(sorted(_ENUM_VALUES, key=len, reverse=True)) + r")(?![A-Za-z0-9_])"
)

_SKIPPED_FIELDS = frozenset(
    {
        "id",
        "form_id",
        "type",  # a button's kind (primary, secondary)
        "query_string",
        "deferred_file_id",
        "tooltip",  # a map's tooltip template; its values are read from the map's data
        "json",  # a map's deck.gl spec, read by _map_texts
        "autocomplete",
        "icon",
        "page_script_hash",
        "url_path",
        "page",
        "url",
        "config",
        "spec",
        "css_class",
        "format",
        "color",
        "background_color",
        "theme",
        "arrow_data",
        "data",
        "columns",  # a table's column configuration (JSON), read by _table_texts
    }
)
"""Proto fields that are not shown as text (identifiers, addresses, styles, data read elsewhere)."""


def _proto_strings(message: Message, name: str = "") -> Iterator[str]:
    for field, value in message.ListFields():
        if field.name in _SKIPPED_FIELDS:
            continue
        values = value if field.is_repeated else [value]
        for item in values:
            if isinstance(item, Message):
                yield from _proto_strings(item, field.name)
            elif isinstance(item, str) and item:
                yield item


_HEX_ID = re.compile(r"[0-9a-f]{32}")

_MARKDOWN_NOISE = [
    re.compile(r"<(style|script)\b.*?</\1>", re.S | re.I),
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"<[^>]+>"),  # HTML tags
    re.compile(r":material/[a-z_]+:"),
    re.compile(r":(red|orange|yellow|green|blue|violet|gray|grey|rainbow|primary)(-background|-badge)?\["),
    re.compile(r"&[a-z]+;|&#\d+;"),
    re.compile(r"%\{[^}]*\}"),  # Plotly hover placeholders
    re.compile(r"(?<![\w/])(?:/[\w.\\-]+)+/?"),  # file paths and addresses
    re.compile(r"(?<![\w-])[a-z]+(?:-[a-z0-9]+)+(?![\w-])"),  # account and package names
]


def clean(text: str) -> str:
    """`text` as the reader sees it: without link targets, tags, icon names and colour directives."""
    for pattern in _MARKDOWN_NOISE:
        text = pattern.sub(" ", text)
    return html.unescape(text)


def _table_texts(frame: object, config_json: str) -> Iterator[str]:
    """Headers as shown (a column's configured label, else its name), the visible columns' cells and the
    configured options and help; hidden columns and links shown under a fixed text are not read."""
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    config = json.loads(config_json) if config_json else {}
    if not config.get("_index", {}).get("hidden") and not isinstance(frame.index, pd.RangeIndex):
        yield from (str(i) for i in frame.index)
    for column in frame.columns:
        settings = config.get(str(column), {})
        if settings.get("hidden"):
            continue
        yield str(settings.get("label") or column)
        yield from _strings(settings.get("help"))
        type_config = settings.get("type_config", {})
        yield from _strings(type_config.get("options"))
        shown = type_config.get("display_text") if type_config.get("type") == "link" else None
        if shown and "(" not in shown:
            yield shown
            continue
        for value in frame[column].head(200):
            if shown and isinstance(value, str):  # the link shows the pattern's group
                match = re.search(shown, value)
                value = match.group(1) if match else value
            if value is None or (isinstance(value, float) and value != value):
                yield "None" if value is None else "nan"
            elif value is pd.NaT:
                yield "NaT"
            elif isinstance(value, list | tuple):
                yield from (str(v) for v in value)
            elif not isinstance(value, int | float | bool):
                yield str(value)


def _map_texts(spec: str, tooltip: str) -> Iterator[str]:
    """The texts a deck.gl map shows: its tooltip template and the data values the template names."""
    template = json.loads(tooltip) if tooltip else {}
    shown = " ".join(str(template.get(k, "")) for k in ("text", "html"))
    fields = set(re.findall(r"\{(\w+)\}", shown))
    yield re.sub(r"\{\w+\}", " ", shown)
    yield from _values_of(json.loads(spec), fields)


def _values_of(value: object, fields: set[str]) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in fields and isinstance(item, str):
                yield item
            else:
                yield from _values_of(item, fields)
    elif isinstance(value, list):
        for item in value:
            yield from _values_of(item, fields)


_AXIS_LABELS = ("text", "title", "name", "labels", "x", "y", "ids_shown", "hovertext", "hovertemplate")


def _plotly_texts(spec: str) -> Iterator[str]:
    figure = json.loads(spec)
    for trace in figure.get("data", []):
        for name in _AXIS_LABELS:
            yield from _strings(trace.get(name))
    yield from _layout_strings(figure.get("layout", {}))


def _layout_strings(layout: dict) -> Iterator[str]:
    for key, value in layout.items():
        if key in ("title", "annotations", "legend") or key.startswith(("xaxis", "yaxis", "coloraxis")):
            yield from _titles(value)


def _titles(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("text", "ticktext", "title"):
                yield from _strings(item)
            elif isinstance(item, dict | list) and key != "font":
                yield from _titles(item)
    elif isinstance(value, list):
        for item in value:
            yield from _titles(item)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        yield from _strings(value.get("text"))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, str | list):
                yield from _strings(item)


def date_axes_without_format(spec: str) -> list[str]:
    """The axes of a Plotly figure that show dates without a Chinese tick format (Plotly's own is English)."""
    figure = json.loads(spec)
    layout = figure.get("layout", {})
    dated: set[str] = set()
    for trace in figure.get("data", []):
        for axis in ("x", "y"):
            values = trace.get(axis)
            if isinstance(values, list) and values and isinstance(values[0], str) and _is_date(values[0]):
                dated.add(f"{axis}axis" + str(trace.get(f"{axis}axis", axis))[1:])
    missing = []
    for axis in sorted(dated):
        settings = layout.get(axis, {}) or {}
        if settings.get("type") == "category" or "tickvals" in settings:
            continue
        if "月" not in str(settings.get("tickformat", "")) and "年" not in str(
            settings.get("tickformat", "")
        ):
            missing.append(axis)
    return missing


def _is_date(value: str) -> bool:
    return re.fullmatch(r"\d{4}-\d{2}(-\d{2})?([ T][\d:.]+)?", value) is not None


def visible_text(node: object) -> Iterator[tuple[str, str]]:
    """(element type, text) for every text an AppTest element tree shows."""
    from streamlit.testing.v1.element_tree import Block, Dataframe

    if isinstance(node, Block):
        if isinstance(getattr(node, "proto", None), Message):
            for text in _proto_strings(node.proto):
                yield node.type, text
        for child in node.children.values():
            yield from visible_text(child)
        return
    kind = getattr(node, "type", "?")
    proto = getattr(node, "proto", None)
    if kind in ("exception", "code"):  # an exception is test_pages.py's finding; code is commands to type
        return
    if isinstance(node, Dataframe):
        yield from ((kind, text) for text in _table_texts(node.value, node.proto.columns))
        return
    if kind == "plotly_chart":
        yield from ((kind, text) for text in _plotly_texts(proto.spec))
        return
    if kind == "deck_gl_json_chart":
        yield from ((kind, text) for text in _map_texts(proto.json, proto.tooltip))
    if isinstance(proto, Message):
        for text in _proto_strings(proto):
            yield kind, text


def page_findings(tree: object, data: Iterable[str] = ()) -> list[str]:
    """What an AppTest element tree shows that a Chinese interface must not: :func:`findings` of its
    texts, and chart axes that show dates in Plotly's English format."""
    from streamlit.testing.v1.element_tree import Block

    found = findings(visible_text(tree), data)
    charts: list[object] = []
    _collect(tree, "plotly_chart", charts, Block)
    for chart in charts:
        found += [
            f"plotly_chart: dates on {axis} in English" for axis in date_axes_without_format(chart.proto.spec)
        ]  # type: ignore[attr-defined]
    return found


def _collect(node: object, kind: str, out: list[object], block: type) -> None:
    if isinstance(node, block):
        for child in node.children.values():  # type: ignore[attr-defined]
            _collect(child, kind, out, block)
    elif getattr(node, "type", None) == kind:
        out.append(node)


def findings(texts: Iterable[tuple[str, str]], data: Iterable[str] = ()) -> list[str]:
    """What a Chinese interface must not show in `texts`, one line per finding (duplicates once). `data`: values
    a page may show as they are (an account's login name on the user list, a category's code where it is
    edited)."""
    keys = catalogue("zh")
    shown_as_is = sorted({d for d in data if d}, key=len, reverse=True)
    as_is = (
        re.compile("|".join(rf"(?<![\w-]){re.escape(d)}(?![\w-])" for d in shown_as_is))
        if shown_as_is
        else None
    )
    out: dict[str, None] = {}
    for where, raw in texts:
        text = clean(as_is.sub(" ", raw) if as_is is not None else raw)
        for match in NO_VALUE.finditer(text):
            out[f"{where}: no value shown as {match.group(1)!r} in {raw[:120]!r}"] = None
        for match in KEY.finditer(text):
            if match.group(0) in keys or match.group(0).startswith("enum."):
                out[f"{where}: i18n key {match.group(0)!r} in {raw[:120]!r}"] = None
        for match in RAW_ENUM.finditer(text):
            out[f"{where}: raw value {match.group(1)!r} in {raw[:120]!r}"] = None
        for match in UNIT.finditer(text):
            out[f"{where}: English unit {match.group(1)!r} in {raw[:120]!r}"] = None
        for match in WORD.finditer(text):
            word = match.group(0)
            if word not in ALLOWED_WORDS and not NO_VALUE.fullmatch(word) and not RAW_ENUM.fullmatch(word):
                out[f"{where}: English {word!r} in {raw[:120]!r}"] = None
    return list(out)


def workbook_text(data: bytes) -> Iterator[tuple[str, str]]:
    """(sheet, text) for every sheet name and text cell of an Excel workbook."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True)
    for sheet in book.worksheets:
        yield "xlsx sheet", sheet.title
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                if isinstance(value, str):
                    yield f"xlsx {sheet.title}", value


def deck_text(data: bytes) -> Iterator[tuple[str, str]]:
    """(slide, text) for every text frame, table cell and chart label of a PowerPoint deck."""
    from pptx import Presentation

    deck = Presentation(io.BytesIO(data))
    for number, slide in enumerate(deck.slides, 1):
        for shape in slide.shapes:
            yield from ((f"pptx slide {number}", text) for text in _shape_text(shape))


def _shape_text(shape: object) -> Iterator[str]:
    if getattr(shape, "has_text_frame", False):
        yield shape.text_frame.text  # type: ignore[attr-defined]
    if getattr(shape, "has_table", False):
        for row in shape.table.rows:  # type: ignore[attr-defined]
            for cell in row.cells:
                yield cell.text
    if getattr(shape, "has_chart", False):
        chart = shape.chart  # type: ignore[attr-defined]
        if chart.has_title:
            yield chart.chart_title.text_frame.text
        for plot in chart.plots:
            yield from (str(c) for c in plot.categories)
            yield from (s.name for s in plot.series)
    for child in getattr(shape, "shapes", ()):
        yield from _shape_text(child)


def csv_text(data: bytes) -> Iterator[tuple[str, str]]:
    """("csv", text) for every cell of a CSV file (UTF-8, with or without BOM)."""
    for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))):
        for value in row:
            if value and not re.fullmatch(r"[\d.,:\- %]+", value):
                yield "csv", value
