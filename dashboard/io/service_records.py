"""Import of volunteers' service records from spreadsheets (CSV, Excel), upserted by ``external_id`` (the
file's own id column, required). A record names its volunteer by the volunteer's external id or phone
(import the volunteers first), the grid served (default: the volunteer's home grid) and optionally a
case; it must not overlap another record of the same volunteer, nor lie in the future. Records from a
spreadsheet of the volunteer station count as verified by the importing user unless a ``verified``
column says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlmodel import select

from dashboard.io.runs import (
    Cells,
    ImportMapping,
    ImportReport,
    ImportRun,
    Territory,
    batches,
    bulk_insert,
    table_rows,
)
from dashboard.io.sources import Progress, as_source
from dashboard.io.tables import TableReader
from dashboard.kernel.scope import Actor
from dashboard.kernel.text import mobile_digits
from dashboard.volunteers.hours import MAX_RECORD_HOURS
from models import Case, ServiceRecord, Volunteer
from models.enums import SKILLS, CaseSource


@dataclass
class _ServiceRecord:
    row: int
    external_id: str
    volunteer_ref: str
    by_phone: bool
    grid_code: str
    case_ref: str
    skill: str
    start: datetime
    end: datetime
    note: str
    verified: bool
    provided: set[str]
    volunteer_id: int | None = None
    grid_id: int | None = None
    case_id: int | None = None


class _ServiceRecords:
    def __init__(self, run: ImportRun) -> None:
        self.run = run
        self.session = run.session
        self.terr = Territory(run.session)
        self.seen: dict[str, int] = {}
        self.intervals: dict[int, list[tuple[datetime, datetime, int]]] = {}

    def record(self, c: Cells) -> _ServiceRecord | None:
        """The row's record, or None when it has an error."""
        external_id = c.limited("external_id", 64, required=True)
        ref = c.text("volunteer")
        by_phone = not ref
        if by_phone:
            ref = mobile_digits(c.text("volunteer_phone"))
            if not ref:
                c.error("volunteer", "io.err.required")
        grid_code = c.text("grid").upper()
        if grid_code and grid_code not in self.terr.grid_by_code:
            c.error("grid", "io.err.unknown_grid")
        skill = c.text("skill")
        if not skill:
            c.error("skill", "io.err.required")
        elif skill not in SKILLS:
            c.error("skill", "io.err.unknown_skill")
        start, end = self._period(c)
        note = c.limited("note", 200)
        verified = c.flag("verified")
        if c.bad or start is None or end is None:
            return None
        provided = {f for f in c.values if c.has(f)}
        return _ServiceRecord(
            c.row,
            external_id,
            ref,
            by_phone,
            grid_code,
            c.text("case"),
            skill,
            start,
            end,
            note,
            verified,
            provided,
        )

    def _period(self, c: Cells) -> tuple[datetime | None, datetime | None]:
        """(start, end) of the service; the end may be given as hours from the start."""
        start = c.date("start", required=True)
        end = c.date("end")
        if end is None and start is not None and not c.bad:
            hours = c.num("hours", required=True)
            if hours is None:
                c.error("end", "io.err.required")
            else:
                end = start + timedelta(hours=hours)
        if start is not None and end is not None:
            if end <= start:
                c.error("end", "io.err.end_before_start")
            elif (end - start) > timedelta(hours=MAX_RECORD_HOURS):
                c.error("end", "io.err.too_long_service", hours=MAX_RECORD_HOURS)
            elif end > self.run.now + timedelta(minutes=5):
                c.error("end", "io.err.future")
        return start, end

    def _resolve(self, records: list[_ServiceRecord]) -> list[_ServiceRecord]:
        run = self.run
        by_ext: dict[str, tuple[int, int]] = {}
        by_phone: dict[str, tuple[int, int]] = {}
        ext_refs = sorted({r.volunteer_ref for r in records if not r.by_phone})
        phone_refs = sorted({r.volunteer_ref for r in records if r.by_phone})
        for part in batches(ext_refs):
            by_ext.update(
                {
                    e: (i, g)
                    for i, e, g in self.session.exec(
                        select(Volunteer.id, Volunteer.external_id, Volunteer.home_grid_id).where(
                            Volunteer.external_id.in_(part)
                        )
                    )
                }
            )
        for part in batches(phone_refs):
            by_phone.update(
                {
                    p: (i, g)
                    for i, p, g in self.session.exec(
                        select(Volunteer.id, Volunteer.phone, Volunteer.home_grid_id).where(
                            Volunteer.phone.in_(part)
                        )
                    )
                }
            )
        case_refs = sorted({r.case_ref for r in records if r.case_ref})
        cases: dict[str, int] = {}
        for part in batches(case_refs):
            for cid, num, ext, src in self.session.exec(
                select(Case.id, Case.number, Case.external_id, Case.source).where(
                    or_(
                        Case.number.in_(part),
                        (Case.source == CaseSource.imported) & Case.external_id.in_(part),
                    )
                )
            ):
                cases.setdefault(num, cid)
                if src == CaseSource.imported and ext:
                    cases.setdefault(ext, cid)
        out = []
        for r in records:
            found = (by_phone if r.by_phone else by_ext).get(r.volunteer_ref)
            if found is None:
                run.error(
                    r.row,
                    "volunteer_phone" if r.by_phone else "volunteer",
                    r.volunteer_ref,
                    "io.err.unknown_volunteer",
                )
                continue
            r.volunteer_id = found[0]
            r.grid_id = self.terr.grid_by_code[r.grid_code][0] if r.grid_code else found[1]
            if r.case_ref:
                r.case_id = cases.get(r.case_ref)
                if r.case_id is None:
                    run.warn(r.row, "case", r.case_ref, "io.warn.unknown_case")
            out.append(r)
        return out

    def _overlaps(self, records: list[_ServiceRecord]) -> list[_ServiceRecord]:
        """Drop (as errors) records overlapping another of the same volunteer, in the file or stored."""
        run = self.run
        vids = sorted({r.volunteer_id for r in records if r.volunteer_id is not None})
        lo = min((r.start for r in records), default=None)
        hi = max((r.end for r in records), default=None)
        stored: dict[int, list[tuple[datetime, datetime, str | None]]] = {}
        if lo is not None and hi is not None:
            for part in batches(vids):
                for vid, s, e, ext in self.session.exec(
                    select(
                        ServiceRecord.volunteer_id,
                        ServiceRecord.start,
                        ServiceRecord.end,
                        ServiceRecord.external_id,
                    ).where(
                        ServiceRecord.volunteer_id.in_(part), ServiceRecord.start < hi, ServiceRecord.end > lo
                    )
                ):
                    stored.setdefault(vid, []).append((s, e, ext))
        out = []
        for r in records:
            assert r.volunteer_id is not None
            clash = next(
                (row for s, e, row in self.intervals.get(r.volunteer_id, []) if s < r.end and e > r.start),
                None,
            )
            if clash is not None:
                run.error(r.row, "start", f"{r.start:%Y-%m-%d %H:%M}", "io.err.overlap_in_file", first=clash)
                continue
            if any(
                s < r.end and e > r.start and ext != r.external_id
                for s, e, ext in stored.get(r.volunteer_id, [])
            ):
                run.error(r.row, "start", f"{r.start:%Y-%m-%d %H:%M}", "io.err.overlap_stored")
                continue
            self.intervals.setdefault(r.volunteer_id, []).append((r.start, r.end, r.row))
            out.append(r)
        return out

    def chunk(self, records: list[_ServiceRecord]) -> None:
        run = self.run
        fresh = []
        for r in records:
            first = self.seen.get(r.external_id)
            if first is not None:
                run.error(r.row, "external_id", r.external_id, "io.err.duplicate_in_file", first=first)
                continue
            self.seen[r.external_id] = r.row
            fresh.append(r)
        fresh = self._overlaps(self._resolve(fresh))
        existing: dict[str, ServiceRecord] = {}
        for part in batches([r.external_id for r in fresh]):
            existing.update(
                {
                    s.external_id: s
                    for s in self.session.exec(
                        select(ServiceRecord).where(ServiceRecord.external_id.in_(part))
                    ).all()
                }
            )  # type: ignore[misc]
        new = []
        for r in fresh:
            values = {
                "volunteer_id": r.volunteer_id,
                "grid_id": r.grid_id,
                "skill": r.skill,
                "start": r.start,
                "end": r.end,
                "hours": round((r.end - r.start).total_seconds() / 3600, 2),
            }
            if "case" in r.provided:
                values["case_id"] = r.case_id
            if "note" in r.provided:
                values["note"] = r.note
            old = existing.get(r.external_id)
            if old is None:
                run.report.new += 1
                new.append(
                    {
                        **values,
                        "case_id": r.case_id,
                        "note": r.note,
                        "external_id": r.external_id,
                        "created_by": run.actor.id or None,
                        "verified_by": (run.actor.id or None) if r.verified else None,
                        "verified_at": run.now if r.verified else None,
                    }
                )
                continue
            changes = {k: v for k, v in values.items() if getattr(old, k) != v}
            if "verified" in r.provided and (old.verified_by is not None) != r.verified:
                changes.update(
                    verified_by=(run.actor.id or None) if r.verified else None,
                    verified_at=run.now if r.verified else None,
                )
            if not changes:
                run.report.unchanged += 1
                continue
            run.report.updated += 1
            if run.writing:
                self.session.execute(
                    update(ServiceRecord).where(ServiceRecord.id == old.id).values(**changes)
                )
        if new and run.writing:
            bulk_insert(self.session, ServiceRecord, new)


def import_service_records(
    session: Any,
    actor: Actor,
    file: Any,
    mapping: ImportMapping | Mapping[str, Any] | None = None,
    commit: bool = False,
    *,
    skip_bad_rows: bool = False,
    progress: Progress | None = None,
    name: str | None = None,
    convert: str | None = None,
) -> ImportReport:
    """Volunteer service records from a CSV or xlsx file, upserted by external id (`convert` is unused)."""
    source = as_source(file, name)
    run = ImportRun(
        session,
        actor,
        "service_records",
        source,
        commit=commit,
        skip_bad_rows=skip_bad_rows,
        progress=progress,
    )
    chosen = ImportMapping.of(mapping)

    def body(run: ImportRun) -> None:
        work = _ServiceRecords(run)
        with TableReader(source, "service_records") as reader:
            for chunk in table_rows(run, reader, chosen, "service_records"):
                run.report.rows += len(chunk)
                work.chunk([r for c in chunk if (r := work.record(c)) is not None])
        run.progress(1.0, f"{run.report.rows:,}")

    return run.execute(body)
