"""The outcome of an import or of its dry run: counts, and every problem with its row, column, value and
reason.

Every problem is counted. The first :data:`MAX_PROBLEMS_KEPT` are kept in memory (the page shows them);
the rest go to a temporary file, so that the downloadable report and ``--errors-out`` hold every one of
them without a file of a million bad rows filling the memory.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import pandas as pd

from dashboard.i18n import current_lang, t, t_plain
from dashboard.io import exports

MAX_PROBLEMS_KEPT = 5000
"""Problems kept in memory for the page; the others are spilled to a temporary file."""


@dataclass(frozen=True)
class RowError:
    """One problem: the row as the user sees it (spreadsheet row number, JSON/XML element, GeoJSON feature;
    None for the file as a whole), the column (file header or field), the value, and the reason as an
    i18n key with its values."""

    row: int | None
    column: str
    value: str
    key: str
    values: dict[str, Any] = field(default_factory=dict)

    def reason(self, lang: str | None = None) -> str:
        return t_plain(self.key, lang, **self.values)


@dataclass
class ImportReport:
    """The outcome of an import or of its dry run. `error_count` and `warning_count` count every problem;
    `errors` and `warnings` hold the first :data:`MAX_PROBLEMS_KEPT` of them (:meth:`all_problems` all)."""

    kind: str
    file_name: str
    commit: bool = False
    committed: bool = False
    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    error_rows: int = 0
    error_count: int = 0
    warning_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    file_error: RowError | None = None
    unknown_categories: dict[str, int] = field(default_factory=dict)
    unknown_statuses: dict[str, int] = field(default_factory=dict)
    date_formats: dict[str, str] = field(default_factory=dict)
    relocated: int = 0
    mapping: dict[str, str] = field(default_factory=dict)
    _spill: IO[str] | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """Read to the end without a single error."""
        return self.file_error is None and self.error_rows == 0

    @property
    def good(self) -> int:
        """Rows without errors (new, updated or unchanged) and cases placed again: what a commit keeps."""
        return self.new + self.updated + self.unchanged + self.relocated

    @property
    def problem_count(self) -> int:
        """Every problem, the file's own included."""
        return self.error_count + self.warning_count + (self.file_error is not None)

    def can_commit(self, skip_bad_rows: bool = False) -> bool:
        """Whether a commit with these options would write (a file error always blocks)."""
        return self.file_error is None and (self.error_rows == 0 or skip_bad_rows)

    def add(self, level: str, problem: RowError) -> None:
        """Count a problem ("error" or "warning") and keep it (in memory while there is room)."""
        if level == "error":
            self.error_count += 1
        else:
            self.warning_count += 1
        if len(self.errors) + len(self.warnings) < MAX_PROBLEMS_KEPT:
            (self.errors if level == "error" else self.warnings).append(problem)
            return
        if self._spill is None:  # removed by the OS when the report is dropped
            self._spill = tempfile.TemporaryFile("w+", encoding="utf-8")
        item = [level, problem.row, problem.column, problem.value, problem.key, problem.values]
        self._spill.write(json.dumps(item, ensure_ascii=False, default=str) + "\n")

    def problems(self) -> list[tuple[str, RowError]]:
        """The kept problems (level, problem), the file's own first."""
        out = [("error", self.file_error)] if self.file_error else []
        return out + [("error", e) for e in self.errors] + [("warning", w) for w in self.warnings]

    def _spilled(self) -> Iterator[tuple[str, RowError]]:
        if self._spill is None:
            return
        self._spill.flush()
        self._spill.seek(0)
        for line in self._spill:
            level, row, column, value, key, values = json.loads(line)
            yield level, RowError(row, column, value, key, values)
        self._spill.seek(0, 2)

    def all_problems(self) -> list[tuple[str, RowError]]:
        """Every problem, kept or spilled, in file order."""
        found = self.problems() + list(self._spilled())
        return sorted(found, key=lambda lp: (lp[1].row or 0, lp[0]))

    def problems_frame(self, lang: str | None = None, *, every: bool = False) -> pd.DataFrame:
        """Row, level, column, value and reason of the kept problems (`every`: of all), in file order,
        for the page and the downloadable report. Problems of the file as a whole have no row."""
        lang = lang or current_lang()
        found = (
            self.all_problems() if every else sorted(self.problems(), key=lambda lp: (lp[1].row or 0, lp[0]))
        )
        cols = [t(f"io.col.{c}", lang) for c in ("row", "level", "column", "value", "reason")]
        frame = pd.DataFrame(
            [[p.row, t(f"io.level.{level}", lang), p.column, p.value, p.reason(lang)] for level, p in found],
            columns=cols,
        )
        frame[cols[0]] = frame[cols[0]].astype("Int64")  # whole numbers, blank for the file as a whole
        return frame

    def problems_csv(self, lang: str | None = None) -> bytes:
        """Every problem as CSV (UTF-8 with BOM, formula injection neutralised)."""
        return exports.to_csv_bytes(self.problems_frame(lang, every=True))

    def summary(self, lang: str | None = None) -> str:
        return t_plain(
            "io.summary",
            lang,
            rows=self.rows,
            new=self.new,
            updated=self.updated,
            unchanged=self.unchanged,
            errors=self.error_rows,
            warnings=self.warning_count,
        )
