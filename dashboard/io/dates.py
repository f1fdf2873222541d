"""The date format of each date column, decided from the column as a whole before any row is imported.

A value like ``02/01/2023`` is 2 January in one country and 1 February in another; guessing row by row
would import a file with both readings mixed. So every value of a date column is classified first
(:func:`dashboard.io.values.date_order`): one day-first-only value (``13/01/2023``) makes the column
day-first, one month-first-only value makes it month-first; a column whose values all fit both readings
is refused (:class:`FileProblem` ``io.err.date_ambiguous``) unless the user names its format (the page's
choice per column, ``--date-format COLUMN=FORMAT``). A column holding both kinds takes the reading most of
its values fit; the others are reported row by row. Columns of numbers are Excel serial days or Unix
times by their size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dashboard.io.sources import FileProblem
from dashboard.io.values import DATE_FORMATS, date_order, text

DATE_FIELDS: dict[str, tuple[str, ...]] = {
    "cases": ("reported_at", "accepted_at", "resolved_at", "closed_at", "due_at", "updated_at"),
    "volunteers": ("registered_at",),
    "service_records": ("start", "end"),
}
"""The fields of each kind read as dates and times (Open311 requests are cases)."""


@dataclass
class DateColumn:
    """What the values of one column say about its format: how many fit each reading, and an example
    value of each kind (for the preview and the messages)."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def add(self, value: object) -> None:
        kind = date_order(value)
        self.counts[kind] += 1
        if kind not in self.examples:
            self.examples[kind] = text(value)[:40]

    @property
    def dated(self) -> int:
        """Values that some format reads."""
        return sum(n for k, n in self.counts.items() if k not in ("bad", "null"))

    @property
    def ambiguous(self) -> bool:
        """Every day/month/year value fits both readings: day first and month first cannot be told apart."""
        return self.counts["either"] > 0 and not (self.counts["dmy"] or self.counts["mdy"])

    @property
    def format(self) -> str | None:
        """The detected format (one of :data:`DATE_FORMATS`), None when the column is ambiguous."""
        if self.ambiguous:
            return None
        if self.counts["dmy"] or self.counts["mdy"]:
            return "dmy" if self.counts["dmy"] >= self.counts["mdy"] else "mdy"
        if self.counts["epoch"] > self.counts["serial"]:
            return "epoch"
        if self.counts["serial"] and self.counts["serial"] >= self.counts["any"]:
            return "excel"
        return "ymd"


def scan(rows: Iterable[Mapping[str, Any]], columns: Iterable[str]) -> dict[str, DateColumn]:
    """Classify every value of `columns` in `rows` (one pass over the file)."""
    found = {c: DateColumn() for c in columns}
    if not found:
        return found
    for values in rows:
        for c, column in found.items():
            column.add(values.get(c))
    return found


def check_format(fmt: str, column: str) -> str:
    """`fmt` when it is one of :data:`DATE_FORMATS` or a ``strptime`` pattern; else a FileProblem."""
    if fmt in DATE_FORMATS or "%" in fmt:
        return fmt
    raise FileProblem(
        "io.err.date_format_unknown", format=fmt, column=column, formats=", ".join(DATE_FORMATS)
    )


def resolve(
    found: Mapping[str, DateColumn], names: Mapping[str, str], chosen: Mapping[str, str]
) -> dict[str, str]:
    """Field → format: the user's choice (keyed by the file's column name or by the field), else the
    detected one. An ambiguous column without a choice is a FileProblem naming the column."""
    formats: dict[str, str] = {}
    for f, column in found.items():
        name = names.get(f, f)
        wanted = chosen.get(name) or chosen.get(f)
        if wanted:
            formats[f] = check_format(wanted, name)
            continue
        if not column.dated:
            continue  # no date in the column: nothing to decide
        detected = column.format
        if detected is None:
            raise FileProblem("io.err.date_ambiguous", column=name, example=column.examples.get("either", ""))
        formats[f] = detected
    return formats
