"""Exports to CSV and Excel: personal data masked unless the role may export it unmasked, formula
injection neutralised, and every export written to `audit_log`.

A page builds its (already scope-filtered, SQL-paginated or aggregated) frame, then either in one call::

    def _csv() -> bytes:  # st.download_button(data=_csv) runs it when the user clicks
        with db_session() as s:
            return exports.export_bytes(s, me, "cases", load(s), "csv", {"reporter_phone": "phone"}, unmasked)

or step by step: `export_frame` (mask + neutralise), `to_csv_bytes` / `to_xlsx_bytes`, `record_export`.
"""

from __future__ import annotations

import io
import json

import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlmodel import Session

from dashboard.kernel import audit
from dashboard.kernel.errors import NotPermitted
from dashboard.kernel.policy import may
from dashboard.kernel.privacy import MASKERS, neutralise_formula
from dashboard.kernel.scope import Actor

CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def may_export_unmasked(actor: Actor) -> bool:
    """Whether to offer the actor an unmasked export (audited as such)."""
    return may(actor, "export.unmasked")


def _neutralise_column(series: pd.Series) -> pd.Series:
    if (
        pd.api.types.is_numeric_dtype(series)
        or pd.api.types.is_datetime64_any_dtype(series)
        or pd.api.types.is_bool_dtype(series)
    ):
        return series
    return series.map(_safe_cell).astype(object)


def _safe_cell(value: object) -> object:
    """Text without the control characters a spreadsheet cannot hold (one makes the whole XLSX fail)
    that cannot run as a formula; other values as they are."""
    return neutralise_formula(ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value)


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells and headers cannot run as spreadsheet formulas and hold no control
    characters (rows stored before text was cleaned on the way in may still have them)."""
    out = df.copy()
    for col in out.columns:
        out[col] = _neutralise_column(out[col])
    out.columns = [neutralise_formula(c) if isinstance(c, str) else c for c in out.columns]
    return out


def export_frame(
    df: pd.DataFrame, actor: Actor, pii_columns: dict[str, str], unmasked: bool = False
) -> pd.DataFrame:
    """The frame to export: `pii_columns` ({column: kind}, kinds of privacy.MASKERS) masked unless
    `unmasked` (allowed only by the policy's "export.unmasked": NotPermitted otherwise), then neutralised."""
    if unmasked and not may_export_unmasked(actor):
        raise NotPermitted("privacy.unmasked_forbidden")
    unknown = set(pii_columns.values()) - set(MASKERS)
    if unknown:
        raise ValueError(f"unknown personal-data kinds {sorted(unknown)}")
    out = df.copy()
    if not unmasked:
        for col, kind in pii_columns.items():
            if col in out.columns:
                out[col] = (
                    out[col].map(lambda v, k=kind: MASKERS[k](None if pd.isna(v) else str(v))).astype(object)
                )
    return neutralise_frame(out)


CSV_LINE_END = "\r\n"
"""The one line end of every CSV file (header and all rows, however many pages write them): CRLF, so
that a cell holding a bare carriage return is quoted: unquoted, a spreadsheet would start a new row
there, and the text after it (``\r=1+1``) would become a cell of its own, run as a formula."""


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV in UTF-8 with a byte-order mark (so Excel on Chinese Windows reads it), formulas neutralised,
    lines ending in :data:`CSV_LINE_END`."""
    return neutralise_frame(df).to_csv(index=False, lineterminator=CSV_LINE_END).encode("utf-8-sig")


def csv_rows(df: pd.DataFrame) -> bytes:
    """The rows of an already neutralised frame as CSV without header or byte-order mark, to append to
    :func:`to_csv_bytes`'s output page by page (same line end)."""
    return df.to_csv(index=False, header=False, lineterminator=CSV_LINE_END).encode("utf-8")


def to_xlsx_bytes(df: pd.DataFrame, sheet_name: str = "data") -> bytes:
    """An Excel workbook of one sheet; text cells are written as text, never as formulas."""
    safe = neutralise_frame(df)
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        safe.to_excel(writer, index=False, sheet_name=sheet_name[:31])
        sheet = writer.sheets[sheet_name[:31]]
        for row in sheet.iter_rows():
            for cell in row:
                # openpyxl turns any string starting with "=" into a formula; ours are neutralised, but make sure.
                if cell.data_type == "f":
                    cell.data_type = "s"
    return buffer.getvalue()


def record_export(
    session: Session,
    actor: Actor,
    what: str,
    rows: int,
    fmt: str,
    unmasked: bool = False,
    filters: dict[str, object] | None = None,
) -> None:
    """Write the audit row of an export ("export"; an unmasked one says so in its outcome)."""
    detail = {"rows": rows, "format": fmt, "unmasked": unmasked, "filters": filters or {}}
    audit.record(
        session,
        actor,
        "export",
        what,
        "unmasked" if unmasked else "ok",
        json.dumps(detail, ensure_ascii=False, default=str),
    )


def export_bytes(
    session: Session,
    actor: Actor,
    what: str,
    df: pd.DataFrame,
    fmt: str = "csv",
    pii_columns: dict[str, str] | None = None,
    unmasked: bool = False,
    filters: dict[str, object] | None = None,
) -> bytes:
    """Mask, neutralise, encode (``fmt`` "csv" or "xlsx") and audit one export in a single call.

    Meant for the deferred ``data=`` callable of ``st.download_button``, which runs when the user clicks,
    so the audit row is written for the download itself.
    """
    frame = export_frame(df, actor, pii_columns or {}, unmasked)
    data = to_xlsx_bytes(frame) if fmt == "xlsx" else to_csv_bytes(frame)
    record_export(session, actor, what, len(frame), fmt, unmasked, filters)
    return data
