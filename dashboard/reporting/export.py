"""The meeting report's files: the deck or the workbook, named after the report, with an audit row."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from sqlmodel import Session

from dashboard.io import exports
from dashboard.kernel.scope import Actor
from dashboard.reporting.deck import build_deck
from dashboard.reporting.reports import Report
from dashboard.reporting.workbook import build_workbook

PPTX_MIME = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def file_stem(report: Report) -> str:
    """A file name (without extension) for the exports: report_<scope>_<period start>_<kind>."""
    start: date | datetime = report.comparison.requested.start
    kind = report.comparison.requested.kind
    scope = "all" if report.community_id is None else f"c{report.community_id}"
    return f"report_{scope}_{start:%Y%m%d}_{kind}"


def _rows(report: Report) -> int:
    """The number of table rows the files hold (for the audit log)."""
    return (
        len(report.headline)
        + len(report.trend)
        + len(report.categories)
        + len(report.overdue)
        + sum(len(df) for df in report.rankings.values())
        + len(report.volunteer_hours)
        + len(report.gaps)
    )


def export(session: Session, actor: Actor, report: Report, fmt: Literal["pptx", "xlsx"]) -> bytes:
    """Build the deck or the workbook and write the "export" row of the audit log (same transaction)."""
    data = build_deck(report) if fmt == "pptx" else build_workbook(report)
    req = report.comparison.requested
    exports.record_export(
        session,
        actor,
        "report",
        _rows(report),
        fmt,
        filters={
            "period": f"{req.start:%Y-%m-%d}/{req.end:%Y-%m-%d}",
            "kind": req.kind,
            "community_id": report.community_id,
            "lang": report.lang,
        },
    )
    return data
