"""What every import shares: the report with its row-level errors, the column/category mapping, the
label tables for statuses and other enums, territory lookups, and the run that makes an import all or
nothing.

An import always validates every row. With ``commit=False`` (the dry run) it writes nothing and reports
what a commit would do: rows new / updated / unchanged, and every error. With ``commit=True`` its writes
go into one SAVEPOINT of the caller's transaction, which is released only when the file was read to the
end without errors, or with errors that the user chose to skip (``skip_bad_rows``, bad rows are then
left out); otherwise it is rolled back and the database is exactly as before. A committed import writes
one ``import`` row to the audit log; dry runs and failed imports write nothing at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import insert
from sqlmodel import Session, SQLModel, select

from dashboard import clock
from dashboard.cases import sla
from dashboard.i18n import LANGS, current_lang, label, t, t_plain
from dashboard.io import exports
from dashboard.io.headers import missing_fields, norm_key, suggest_mapping
from dashboard.io.sources import FileProblem, Progress, RawRow, Source
from dashboard.io.tables import TableReader
from dashboard.io.values import is_null, number, parse_datetime, text
from dashboard.kernel import audit
from dashboard.kernel.errors import NotPermitted
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor
from dashboard.territory.geo import GridLocator
from models import Category, Department, Grid
from models.enums import (
    CaseStatus,
    PartyMemberKind,
    PoliticalStatus,
    Priority,
    Satisfaction,
)

MAX_PROBLEMS_KEPT = 5000
"""Row problems kept for the report (all are counted; a file this bad needs fixing at its source)."""

CHUNK_ROWS = 2000
"""Rows validated and written per batch."""


# ---------------------------------------------------------------- report


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
    """The outcome of an import or of its dry run."""

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
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    file_error: RowError | None = None
    unknown_categories: dict[str, int] = field(default_factory=dict)
    relocated: int = 0
    mapping: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Read to the end without a single error."""
        return self.file_error is None and self.error_rows == 0

    def can_commit(self, skip_bad_rows: bool = False) -> bool:
        """Whether a commit with these options would write (a file error always blocks)."""
        return self.file_error is None and (self.error_rows == 0 or skip_bad_rows)

    def problems(self) -> list[tuple[str, RowError]]:
        out = [("error", self.file_error)] if self.file_error else []
        return out + [("error", e) for e in self.errors] + [("warning", w) for w in self.warnings]

    def problems_frame(self, lang: str | None = None) -> pd.DataFrame:
        """Row, level, column, value and reason of every kept problem, in file order (for the page and
        the downloadable error report)."""
        lang = lang or current_lang()
        rows = [
            {
                t("io.col.row", lang): p.row,
                t("io.col.level", lang): t(f"io.level.{level}", lang),
                t("io.col.column", lang): p.column,
                t("io.col.value", lang): p.value,
                t("io.col.reason", lang): p.reason(lang),
            }
            for level, p in sorted(self.problems(), key=lambda lp: (lp[1].row or 0, lp[0]))
        ]
        cols = [t(f"io.col.{c}", lang) for c in ("row", "level", "column", "value", "reason")]
        return pd.DataFrame(rows, columns=cols)

    def problems_csv(self, lang: str | None = None) -> bytes:
        """The error report as CSV (UTF-8 with BOM, formula injection neutralised)."""
        return exports.to_csv_bytes(self.problems_frame(lang))

    def summary(self, lang: str | None = None) -> str:
        return t_plain(
            "io.summary",
            lang,
            rows=self.rows,
            new=self.new,
            updated=self.updated,
            unchanged=self.unchanged,
            errors=self.error_rows,
            warnings=len(self.warnings),
        )


# ---------------------------------------------------------------- mapping


@dataclass(frozen=True)
class ImportMapping:
    """The user's choices for a file: file header → field (``""`` ignores a column) and file category
    value → category code (for categories the file spells its own way)."""

    columns: dict[str, str] | None = None
    categories: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def of(value: ImportMapping | Mapping[str, Any] | None) -> ImportMapping:
        """From ``{"columns": {...}, "categories": {...}}``, a plain ``{header: field}`` dict, or None."""
        if value is None:
            return ImportMapping()
        if isinstance(value, ImportMapping):
            return value
        if "columns" in value or "categories" in value:
            cols = value.get("columns")
            return ImportMapping(
                {str(k): str(v or "") for k, v in cols.items()} if cols is not None else None,
                {str(k): str(v) for k, v in (value.get("categories") or {}).items()},
            )
        return ImportMapping({str(k): str(v or "") for k, v in value.items()})


# ---------------------------------------------------------------- enum labels

_STATUS_WORDS: dict[str, tuple[CaseStatus, bool]] = {
    "open": (CaseStatus.reported, True),
    "opened": (CaseStatus.reported, True),
    "closed": (CaseStatus.closed, True),
}
"""Open311's two statuses: coarse (the fine status is unknown)."""

_Value = TypeVar("_Value", bound=StrEnum)

_STATUS_SPELLINGS: dict[CaseStatus, tuple[str, ...]] = {
    CaseStatus.reported: (
        "new",
        "submitted",
        "pending",
        "待处理",
        "未处理",
        "待办",
        "已上报",
        "上报",
        "新建",
        "未受理",
    ),
    CaseStatus.accepted: ("acknowledged", "受理", "已受理"),
    CaseStatus.rejected: ("驳回", "已驳回", "declined", "invalid"),
    CaseStatus.dispatched: ("已派单", "派遣", "已交办", "assigned"),
    CaseStatus.in_progress: ("处理中", "办理中", "在办", "进行中", "inprogress", "processing"),
    CaseStatus.resolved: ("已处理", "已办结", "办结", "fixed"),
    CaseStatus.verified: ("已核实",),
    CaseStatus.closed: ("结案", "已关闭", "关闭", "已完成", "完成", "done", "completed", "archived"),
}
"""Spellings of case statuses seen in files, besides the values and their zh/en labels."""

_PRIORITY_SPELLINGS: dict[Priority, tuple[str, ...]] = {
    Priority.urgent: ("加急", "急", "high"),
    Priority.general: ("普通", "normal", "low"),
}
_SATISFACTION_SPELLINGS: dict[Satisfaction, tuple[str, ...]] = {
    Satisfaction.satisfied: ("非常满意",),
    Satisfaction.basically: ("比较满意",),
    Satisfaction.dissatisfied: ("很不满意",),
    Satisfaction.not_reached: ("未回访", "无法联系"),
}
_POLITICAL_SPELLINGS: dict[PoliticalStatus, tuple[str, ...]] = {
    PoliticalStatus.party_member: ("党员", "中共党员"),
    PoliticalStatus.probationary: ("预备党员",),
    PoliticalStatus.league_member: ("团员", "共青团员"),
    PoliticalStatus.masses: ("群众",),
}
_PARTY_KIND_SPELLINGS: dict[PartyMemberKind, tuple[str, ...]] = {
    PartyMemberKind.in_work: ("在职",),
    PartyMemberKind.retired: ("离退休", "退休"),
    PartyMemberKind.floating: ("流动",),
    PartyMemberKind.none: ("无", "非党员"),
}


def _label_table(
    kind: str, values: Iterable[str], spellings: Mapping[_Value, tuple[str, ...]]
) -> dict[str, str]:
    """norm_key(spelling) → enum value, for the values, their zh/en labels and the other spellings."""
    out: dict[str, str] = {}
    for v in values:
        out[norm_key(v)] = v
        for lang in LANGS:
            out[norm_key(label(kind, v, lang))] = v
    out.update({norm_key(k): str(v) for v, names in spellings.items() for k in names})
    return out


class Labels:
    """Enum values from the spellings files use (values, zh/en labels, common synonyms)."""

    def __init__(self) -> None:
        self.status = _label_table("status", [s.value for s in CaseStatus], _STATUS_SPELLINGS)
        self.priority = _label_table("priority", [p.value for p in Priority], _PRIORITY_SPELLINGS)
        self.satisfaction = _label_table(
            "satisfaction", [s.value for s in Satisfaction], _SATISFACTION_SPELLINGS
        )
        self.political = _label_table("political", [p.value for p in PoliticalStatus], _POLITICAL_SPELLINGS)
        self.party_kind = _label_table(
            "party_kind", [p.value for p in PartyMemberKind], _PARTY_KIND_SPELLINGS
        )

    def case_status(self, value: object) -> tuple[CaseStatus, bool] | None:
        """(status, coarse) — coarse for Open311's open/closed, where the fine status is unknown."""
        key = norm_key(value)
        if key in _STATUS_WORDS:
            return _STATUS_WORDS[key]
        hit = self.status.get(key)
        return (CaseStatus(hit), False) if hit else None


YES = frozenset(
    norm_key(v) for v in ("是", "有效", "在册", "正常", "已核实", "y", "yes", "true", "1", "active", "√")
)
NO = frozenset(
    norm_key(v)
    for v in ("否", "无效", "停用", "离开", "注销", "未核实", "n", "no", "false", "0", "inactive", "×")
)


def yes_no(value: object) -> bool | None:
    """True/False from 是/否, yes/no, 1/0 …; None when the text means neither."""
    key = norm_key(text(value))
    return True if key in YES else False if key in NO else None


# ---------------------------------------------------------------- territory


class Territory:
    """Grids, categories and departments as lookups, read once per import."""

    def __init__(self, session: Session) -> None:
        grids = session.exec(select(Grid.id, Grid.code, Grid.community_id, Grid.polygon)).all()
        self.grid_by_code = {code.upper(): (gid, cid) for gid, code, cid, _p in grids}
        self.grid_community = {gid: cid for gid, _c, cid, _p in grids}
        self.grid_code = {gid: code for gid, code, _cid, _p in grids}
        self.locator = GridLocator([(gid, poly) for gid, _c, _cid, poly in grids]) if grids else None
        self.categories: dict[int, Category] = {c.id: c for c in session.exec(select(Category)).all()}  # type: ignore[misc]
        self._category_keys: dict[str, int] = {}
        for c in self.categories.values():
            for key in (c.name_en, c.name_zh, c.code):
                self._category_keys[norm_key(key)] = c.id  # type: ignore[assignment]
        depts = session.exec(select(Department.id, Department.code, Department.name)).all()
        self.department_keys = {norm_key(k): did for did, code, name in depts for k in (code, name)}
        self.calendar = sla.load_calendar(session)

    def category(self, value: object, mapped: Mapping[str, str]) -> Category | None:
        """The category named by code, Chinese or English name (case-insensitive), or by the user's mapping
        of this value to a code."""
        raw = text(value)
        if raw in mapped:
            raw = mapped[raw]
        cid = self._category_keys.get(norm_key(raw))
        return self.categories.get(cid) if cid is not None else None


class Cells:
    """The mapped values of one row, with typed getters that record problems against the file's column."""

    def __init__(
        self, run: ImportRun, raw: RawRow, values: dict[str, Any], columns: Mapping[str, str]
    ) -> None:
        self.run, self.row, self.values, self.columns = run, raw.row, values, columns
        self.bad = False
        if raw.problem:
            self.bad = True
            run.error(raw.row, "", "", raw.problem, **raw.problem_values)

    def has(self, f: str) -> bool:
        return f in self.values and not is_null(self.values[f])

    def text(self, f: str) -> str:
        return text(self.values.get(f))

    def error(self, f: str, key: str, **values: Any) -> None:
        self.bad = True
        self.run.error(self.row, self.columns.get(f, f), self.values.get(f), key, **values)

    def warn(self, f: str, key: str, **values: Any) -> None:
        self.run.warn(self.row, self.columns.get(f, f), self.values.get(f), key, **values)

    def date(self, f: str, required: bool = False) -> datetime | None:
        try:
            value = parse_datetime(self.values.get(f))
        except (ValueError, OverflowError):
            self.error(f, "io.err.bad_date")
            return None
        if value is None and required:
            self.error(f, "io.err.required")
        return value

    def num(self, f: str) -> float | None:
        try:
            return number(self.values.get(f))
        except ValueError:
            self.error(f, "io.err.bad_number")
            return None

    def limited(self, f: str, max_length: int, required: bool = False) -> str:
        value = self.text(f)
        if required and not value:
            self.error(f, "io.err.required")
        elif len(value) > max_length:
            self.error(f, "io.err.too_long", max=max_length)
        return value

    def flag(self, f: str) -> bool:
        """A yes/no column: True when absent, and True (with an error) when its text means neither."""
        if not self.has(f):
            return True
        value = yes_no(self.values[f])
        if value is None:
            self.error(f, "io.err.yes_no")
        return value is not False


# ---------------------------------------------------------------- writing


def batches(values: list[Any], size: int = 1000) -> Iterator[list[Any]]:
    """`values` in lists of `size`, e.g. to keep ``IN (…)`` lists of a query within the databases' limits."""
    for i in range(0, len(values), size):
        yield values[i : i + size]


def bulk_insert(
    session: Session, model: type[SQLModel], rows: list[dict[str, Any]], returning: str | None = None
) -> list[Any]:
    """Insert many rows with Core (batched multi-row INSERTs, no ORM bookkeeping); with `returning`, that
    column of each new row in the order of `rows`."""
    if not rows:
        return []
    table = model.__table__  # type: ignore[attr-defined]
    stmt = insert(table)
    if returning is None:
        session.connection().execute(stmt, rows)
        return []
    result = session.connection().execute(
        stmt.returning(table.c[returning], sort_by_parameter_order=True), rows
    )
    return list(result.scalars().all())


# ---------------------------------------------------------------- the run


def _noop(_fraction: float, _message: str) -> None:
    return None


class ImportRun:
    """One import in progress: collects problems, knows whether rows may still be written, and wraps the
    writes in a savepoint that is kept only when the import succeeds as a whole."""

    def __init__(
        self,
        session: Session,
        actor: Actor,
        kind: str,
        source: Source,
        *,
        commit: bool,
        skip_bad_rows: bool,
        progress: Progress | None,
    ) -> None:
        if not may(actor, "data.import"):
            raise NotPermitted("io.forbidden")
        self.session = session
        self.actor = actor
        self.source = source
        self.commit = commit
        self.skip_bad_rows = skip_bad_rows
        self.progress = progress or _noop
        self.report = ImportReport(kind, source.name, commit=commit)
        self.now = clock.now()
        self._bad_rows: set[int] = set()

    def _keep(self, bucket: list[RowError], problem: RowError) -> None:
        if len(self.report.errors) + len(self.report.warnings) < MAX_PROBLEMS_KEPT:
            bucket.append(problem)

    def error(self, row: int | None, column: str, value: object, key: str, **values: Any) -> None:
        """Record a row error (the row will not be written)."""
        if row is not None and row not in self._bad_rows:
            self._bad_rows.add(row)
            self.report.error_rows += 1
        self._keep(self.report.errors, RowError(row, column, text(value)[:200], key, values))

    def warn(self, row: int | None, column: str, value: object, key: str, **values: Any) -> None:
        self._keep(self.report.warnings, RowError(row, column, text(value)[:200], key, values))

    def is_bad(self, row: int) -> bool:
        return row in self._bad_rows

    @property
    def writing(self) -> bool:
        """Whether rows are written now: committing, and no error yet unless bad rows are skipped."""
        return self.commit and (self.skip_bad_rows or self.report.error_rows == 0)

    def execute(self, body: Callable[[ImportRun], None]) -> ImportReport:
        """Run `body` (which validates, counts and, while :attr:`writing`, writes), then keep or undo."""
        savepoint = self.session.begin_nested() if self.commit else None
        try:
            body(self)
        except FileProblem as exc:
            self.report.file_error = RowError(exc.row, "", "", exc.key, dict(exc.values))
        except BaseException:
            if savepoint is not None and savepoint.is_active:
                savepoint.rollback()
            raise
        report = self.report
        for bucket in (report.errors, report.warnings):
            bucket.sort(key=lambda p: p.row or 0)
        if savepoint is None:
            return report
        if report.can_commit(self.skip_bad_rows):
            savepoint.commit()
            report.committed = True
            report.skipped = report.error_rows
            detail = {
                "rows": report.rows,
                "new": report.new,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "skipped": report.skipped,
                "relocated": report.relocated,
            }
            audit.record(
                self.session,
                self.actor,
                "import",
                f"{report.kind}:{report.file_name}",
                detail=json.dumps(detail, ensure_ascii=False),
            )
        else:
            savepoint.rollback()
        return report


def table_rows(
    run: ImportRun, reader: TableReader, mapping: ImportMapping, kind: str
) -> Iterator[list[Cells]]:
    """The rows of a spreadsheet as :class:`Cells` in chunks, through the user's column mapping (default:
    the suggested one); a mapping that lacks a required field fails the whole file."""
    columns = mapping.columns if mapping.columns is not None else suggest_mapping(kind, reader.headers)
    columns = {h: f for h, f in columns.items() if f and h in reader.headers}
    run.report.mapping = dict(columns)
    missing = missing_fields(kind, columns)
    if missing:
        raise FileProblem("io.err.missing_columns", columns=", ".join(missing))
    by_field = {f: h for h, f in columns.items()}
    for chunk in reader.chunks(CHUNK_ROWS):
        cells = [
            Cells(run, raw, {f: raw.values.get(h) for f, h in by_field.items()}, by_field) for raw in chunk
        ]
        yield cells
        fraction = reader.fraction()
        run.progress(fraction if fraction is not None else 0.5, f"{run.report.rows:,}")
