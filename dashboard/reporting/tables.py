"""The tables of a meeting report as the deck, the workbook and the page show them.

A :class:`Column` names a field of a :class:`~dashboard.reporting.reports.Report` table, its header and
how its values read: as text on a slide or the page (:meth:`Column.text`, formats of
:mod:`dashboard.kernel.formatting`) and as a typed, formula-safe cell in Excel (:meth:`Column.excel`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from dashboard.i18n import label, t, t_plain
from dashboard.kernel.formatting import as_number, change, count, pct, points
from dashboard.kernel.privacy import neutralise_formula
from dashboard.reporting import kpi
from dashboard.reporting.reports import Report


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


@dataclass(frozen=True)
class Column:
    """One column of a report table: source field, header key (report.col.*) and value format."""

    field: str
    header: str
    fmt: str = "text"  # text | int | float1 | pct | points | change | datetime | date | status | flag

    def text(self, value: object, lang: str) -> str:
        """The value as display text: '—' for a missing number, an empty string for missing text."""
        if _missing(value):
            return "—" if self.fmt not in ("text", "flag") else ""
        match self.fmt:
            case "int":
                return count(value)
            case "float1":
                return f"{float(value):,.1f}"  # type: ignore[arg-type]
            case "pct":
                return pct(value)
            case "points":
                return points(value, t_plain("report.points", lang))
            case "change":
                return change(value)
            case "datetime":
                return f"{value:%Y-%m-%d %H:%M}"
            case "date":
                return f"{value:%Y-%m-%d}"
            case "status":
                return label("status", value, lang)
            case "flag":
                return "✓" if bool(value) else ""
        return str(value)

    def excel(self, value: object, lang: str) -> object:
        """The cell value for Excel: numbers stay numbers (formatted by the cell), text is neutralised."""
        if _missing(value):
            return None
        if self.fmt in ("int",):
            return int(value)  # type: ignore[call-overload]
        if self.fmt == "points":  # in points, shown with the unit (points_format)
            return float(value) * 100  # type: ignore[arg-type]
        if self.fmt in ("float1", "pct", "change"):
            return float(value)  # type: ignore[arg-type]
        if self.fmt in ("datetime", "date"):
            return value
        return neutralise_formula(self.text(value, lang))

    def number_format(self, lang: str) -> str | None:
        if self.fmt == "points":
            return points_format(lang)
        return {
            "int": "#,##0",
            "float1": "#,##0.0",
            "pct": "0.0%",
            "change": "+0%;-0%;0%",
            "datetime": "yyyy-mm-dd hh:mm",
            "date": "yyyy-mm-dd",
        }.get(self.fmt)


def points_format(lang: str) -> str:
    """Excel's number format for a change in percentage points (the cell holds points: 2.1): +2.1个百分点."""
    unit = t_plain("report.points", lang).replace('"', "")
    return f'+0.0"{unit}";-0.0"{unit}";0.0"{unit}"'


HEADLINE = [
    Column("metric_name", "metric"),
    Column("current_text", "current"),
    Column("previous_text", "previous"),
    Column("last_year_text", "last_year"),
    Column("mom_text", "mom"),
    Column("yoy_text", "yoy"),
]
TREND = [
    Column("day", "day", "date"),
    Column("reported", "reported", "int"),
    Column("closed", "closed", "int"),
]
CATEGORIES = [
    Column("name", "category"),
    Column("reported", "current", "int"),
    Column("previous", "previous", "int"),
    Column("change", "change", "change"),
    Column("on_time_rate", "metric.on_time_rate", "pct"),
    Column("satisfaction_rate", "metric.satisfaction_rate", "pct"),
    Column("overdue_now", "overdue_now", "int"),
]
RANKING = [
    Column("rank", "rank", "int"),
    Column("name", "name"),
    Column("cases", "cases", "int"),
    Column("on_time_rate", "metric.on_time_rate", "pct"),
    Column("satisfaction_rate", "metric.satisfaction_rate", "pct"),
    Column("rework_rate", "metric.rework_rate", "pct"),
    Column("response_rate", "metric.response_rate", "pct"),
    Column("score", "score", "float1"),
    Column("few_cases", "few_cases", "flag"),
]
OVERDUE = [
    Column("number", "number"),
    Column("title", "case_title"),
    Column("category", "category"),
    Column("grid", "grid"),
    Column("department", "department"),
    Column("status", "status", "status"),
    Column("due_at", "due_at", "datetime"),
    Column("days_overdue", "days_overdue", "float1"),
    Column("reporter", "reporter"),
    Column("address", "address"),
]
OVERDUE_SLIDE = [c for c in OVERDUE if c.field not in ("status", "address")]
HOURS = [
    Column("name", "name"),
    Column("hours", "hours", "float1"),
    Column("volunteers", "volunteers", "int"),
    Column("records", "records", "int"),
]
GAPS = [
    Column("community", "community"),
    Column("name", "grid"),
    Column("skill", "skill"),
    Column("need", "need", "int"),
    Column("supply", "supply", "int"),
    Column("gap", "gap", "int"),
]

OUTLOOK = [
    Column("kind", "alert_kind"),
    Column("where", "alert_where"),
    Column("category", "category"),
    Column("observed", "alert_observed", "float1"),
    Column("expected", "alert_expected", "float1"),
    Column("score", "alert_score"),
    Column("since", "alert_since", "date"),
    Column("status", "alert_status"),
    Column("cases", "alert_cases", "int"),
]
"""The 研判预警 section's table (:class:`~dashboard.reporting.alert_digest.Outlook`)."""


RESIDENT_COUNTS = ("reported", "supporters", "rated", "counted")
RESIDENT_RATES = ("self_rate", "follow_rate")
RESIDENTS = [
    Column("name", "item"),
    Column("current_text", "current"),
    Column("previous_text", "previous"),
    Column("change_text", "change"),
]
"""The 居民随手拍 section's table on the slide (display text; the workbook holds the values)."""


def column_header(col: Column, lang: str) -> str:
    key = col.header if col.header.startswith("metric.") else f"col.{col.header}"
    return t(f"report.{key}", lang)


def headline_table(report: Report) -> pd.DataFrame:
    """The headline figures as display text (rates in %, changes in points or %), plus overdue now."""
    lang = report.lang
    no_data = t("report.no_data_short", lang)
    unit = t_plain("report.points", lang)
    rows = []
    for r in report.headline.itertuples():
        value, delta = (pct, lambda v: points(v, unit)) if r.kind == "rate" else (count, change)
        rows.append(
            {
                "metric": r.metric,
                "metric_name": t(f"report.metric.{r.metric}", lang),
                "current_text": value(r.current),
                "previous_text": value(r.previous),
                "last_year_text": value(r.last_year) if report.has_last_year else no_data,
                "mom_text": delta(r.mom),
                "yoy_text": delta(r.yoy) if report.has_last_year else no_data,
            }
        )
    rows.append(
        {
            "metric": "overdue_now",
            "metric_name": t("report.metric.overdue_now", lang),
            "current_text": f"{report.overdue_now:,}",
            "previous_text": "",
            "last_year_text": "",
            "mom_text": "",
            "yoy_text": "",
        }
    )
    return pd.DataFrame(rows)


def _hours(value: float | None) -> str:
    return f"{value or 0:,.1f}"


def _whole(value: float | None) -> str:
    return f"{int(value or 0):,}"


VOLUNTEER_TOTALS: dict[str, Callable[[float | None], str]] = {
    "hours": _hours,
    "previous_hours": _hours,
    "change": change,
    "volunteers": _whole,
    "records": _whole,
    "coverage": pct,
    "gap": _whole,
}
"""The rows of the volunteer totals table, each with its format."""


def volunteer_totals_table(report: Report) -> pd.DataFrame:
    """The volunteer totals as (item, value) rows of display text."""
    tot = report.volunteer_totals
    return pd.DataFrame(
        [
            {"item": t(f"report.total.{k}", report.lang), "value": fmt(tot.get(k))}
            for k, fmt in VOLUNTEER_TOTALS.items()
        ]
    )


def section_title(key: str, lang: str) -> str:
    """The title of a report section (a slide, a sheet): report.section.<key>."""
    return t(f"report.section.{key}", lang)


def resident_rows(report: Report) -> pd.DataFrame:
    """The 居民随手拍 figures of the period and the previous one, the page's tiles' numbers: resident reports,
    附议, 居民自评 (ratings, and how many became the 回访 result) from
    :mod:`~dashboard.reporting.resident_kpi`, 居民自评满意率, and beside it 回访满意率 (the headline's
    满意率). Columns item, name, kind (count | rate), current, previous, change (relative for counts, in
    points for rates)."""
    lang = report.lang
    cur, prev = report.residents
    sat = report.headline.set_index("metric").loc["satisfaction_rate"]
    rates = {
        "self_rate": (cur.self_rating_rate, prev.self_rating_rate),
        "follow_rate": (as_number(sat["current"]), as_number(sat["previous"])),
    }
    rows = [
        {
            "item": item,
            "kind": "count",
            "current": float(getattr(cur, item)),
            "previous": float(getattr(prev, item)),
            "change": kpi.count_change(getattr(cur, item), getattr(prev, item)),
        }
        for item in RESIDENT_COUNTS
    ]
    rows += [
        {"item": item, "kind": "rate", "current": c, "previous": p, "change": kpi.rate_change(c, p)}
        for item, (c, p) in rates.items()
    ]
    df = pd.DataFrame(rows)
    df.insert(1, "name", [t(f"resfig.{item}", lang) for item in df["item"]])
    for c in ("current", "previous", "change"):
        df[c] = df[c].astype("float64")
    return df


def resident_table(report: Report) -> pd.DataFrame:
    """:func:`resident_rows` as display text: counts as integers, rates in %, changes in % or points."""
    unit = t_plain("report.points", report.lang)
    rows = resident_rows(report)
    rate = rows["kind"] == "rate"
    value = [pct(v) if r else count(v) for v, r in zip(rows["current"], rate, strict=True)]
    before = [pct(v) if r else count(v) for v, r in zip(rows["previous"], rate, strict=True)]
    delta = [points(v, unit) if r else change(v) for v, r in zip(rows["change"], rate, strict=True)]
    return rows.assign(current_text=value, previous_text=before, change_text=delta)
