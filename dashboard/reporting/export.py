"""The meeting report's files: the deck or the workbook, named after the report, with an audit row."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from sqlmodel import Session

from dashboard.io import exports
from dashboard.kernel.scope import Actor
from dashboard.media import attachments
from dashboard.reporting.deck import build_deck
from dashboard.reporting.reports import Report, report_actor
from dashboard.reporting.tables import resident_rows
from dashboard.reporting.typical_slide import TypicalCase
from dashboard.reporting.workbook import build_workbook
from dashboard.territory import lookups as territory

PPTX_MIME = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TYPICAL_MAX = 4
"""Typical cases in the deck (two slides), newest report first."""


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
        + len(resident_rows(report))
    )


def typical_for_deck(session: Session, actor: Actor, report: Report) -> list[TypicalCase]:
    """The 典型案例 of the report's scope with their large before and after photos, for the deck."""
    refs = attachments.typical_cases(session, report_actor(actor, report.community_id), limit=TYPICAL_MAX)
    if not refs:
        return []
    cats = territory.categories(session, include_retired=True)
    names = dict(zip(cats["id"], cats["name_zh" if report.lang == "zh" else "name_en"], strict=True))

    def photo(attachment_id: int | None) -> bytes | None:
        found = attachments.stored_bytes(session, attachment_id, "large") if attachment_id else None
        return found[0] if found else None

    return [
        TypicalCase(
            r.number,
            r.title,
            str(names.get(r.category_id, "")),
            r.grid,
            r.result,
            photo(r.before_id),
            photo(r.after_id),
        )
        for r in refs
    ]


def export(session: Session, actor: Actor, report: Report, fmt: Literal["pptx", "xlsx"]) -> bytes:
    """Build the deck or the workbook and write the "export" row of the audit log (same transaction)."""
    if fmt == "pptx":
        data = build_deck(report, typical_for_deck(session, actor, report))
    else:
        data = build_workbook(report)
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
