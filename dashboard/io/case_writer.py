"""The writing side of a case import: records (:mod:`dashboard.io.case_rows`) become new cases with
their ``report`` event (and one into their status), or change the cases imported before, matched by
external id or by number. Numbers of new cases are the file's when free, else the next of their day.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, update
from sqlmodel import Session, select

from dashboard.cases import intake as case_intake
from dashboard.cases import sla
from dashboard.cases.ageing import BLACK_FACTOR, WARN_SHARE
from dashboard.cases.change import append_events, change_case
from dashboard.cases.errors import StaleCase
from dashboard.cases.intake import NUMBER_PREFIX
from dashboard.io.case_rows import CaseRecord
from dashboard.io.open311 import CLOSED_STATUSES
from dashboard.io.runs import (
    ImportRun,
    Territory,
    bulk_insert,
)
from models import Case
from models.enums import CaseSource, CaseStatus, Priority, Satisfaction

NUMBER_RE = re.compile(rf"^{NUMBER_PREFIX}(\d{{8}})-(\d{{4,5}})$")
"""Our case number format; a file number of this shape is kept when free."""

STATUS_EVENT: dict[CaseStatus, str] = {
    CaseStatus.accepted: "accept",
    CaseStatus.rejected: "reject",
    CaseStatus.dispatched: "dispatch",
    CaseStatus.in_progress: "start",
    CaseStatus.resolved: "resolve",
    CaseStatus.verified: "verify",
    CaseStatus.closed: "close",
}
"""The event that brings an imported case from 'reported' into its status (workflow action names)."""


class _Numbers:
    """Case numbers for new imported cases: the file's when it has our format and is free, else the next
    free one of the reporting day, reserved from the day's counter :attr:`BLOCK` at a time."""

    BLOCK = 100

    def __init__(self, session: Session) -> None:
        self.session = session
        self.block: dict[str, tuple[int, int]] = {}
        """Per day (yyyymmdd): the next reserved sequence and the end of the reserved block."""
        self.used: set[str] = set()

    def taken(self, numbers: list[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(numbers), 1000):
            found.update(
                self.session.exec(select(Case.number).where(Case.number.in_(numbers[i : i + 1000]))).all()
            )
        return found

    def allocate(self, wanted: str, day: datetime, taken: set[str]) -> str:
        """The row's own number when it is one of ours and free, else the next number of its day, taken
        from the day's counter in blocks (so concurrent intakes never get the same numbers)."""
        if NUMBER_RE.match(wanted) and wanted not in taken and wanted not in self.used:
            self.used.add(wanted)
            return wanted
        key = f"{day:%Y%m%d}"
        while True:
            nxt, end = self.block.get(key, (0, 0))
            if nxt >= end:
                nxt = case_intake.reserve_numbers(self.session, day, self.BLOCK)
                end = nxt + self.BLOCK
            self.block[key] = (nxt + 1, end)
            candidate = case_intake.number_of(day, nxt)
            if candidate not in self.used and candidate not in taken:
                self.used.add(candidate)
                return candidate


_COMPARED = (
    "title",
    "description",
    "category_id",
    "reported_at",
    "address",
    "reporter_name",
    "reporter_phone",
)
_OPTIONAL_TEXT = ("description", "address", "reporter_name", "reporter_phone")
"""Compared fields a row may leave empty (or masked) without clearing the stored value."""
_EXISTING_COLUMNS = (
    Case.id,
    Case.source,
    Case.external_id,
    Case.number,
    Case.title,
    Case.description,
    Case.category_id,
    Case.reported_at,
    Case.address,
    Case.reporter_name,
    Case.reporter_phone,
    Case.lon,
    Case.lat,
    Case.grid_id,
    Case.status,
    Case.due_at,
    Case.closed_at,
    Case.department_id,
    Case.priority,
    Case.satisfaction,
    Case.version,
)


def _same_float(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 5e-7)


def _compared_changes(r: CaseRecord, old: Any) -> dict[str, Any]:
    """The compared fields that differ from the stored case; optional text only where the row gives it."""
    return {
        f: getattr(r, f)
        for f in _COMPARED
        if (f in r.provided or f not in _OPTIONAL_TEXT) and getattr(r, f) != getattr(old, f)
    }


def _place_changes(r: CaseRecord, old: Any) -> dict[str, Any]:
    """A point that moved (and the grid it is now in); without a point, the grid the row names."""
    if r.lon is not None:
        if _same_float(r.lon, old.lon) and _same_float(r.lat, old.lat):
            return {}
        changes: dict[str, Any] = {"lon": r.lon, "lat": r.lat}
        if r.grid_id != old.grid_id:
            changes["grid_id"] = r.grid_id
        return changes
    if r.grid_code and r.grid_id != old.grid_id:
        return {"grid_id": r.grid_id}
    return {}


def _handling_changes(r: CaseRecord, old: Any) -> dict[str, Any]:
    """Due time (when the row gives one), department, priority and satisfaction (when known)."""
    changes: dict[str, Any] = {}
    if "due_at" in r.provided and r.due_at != old.due_at:
        changes["due_at"] = r.due_at
    for f in ("department_id", "priority", "satisfaction"):
        value = getattr(r, f)
        if value is not None and value != getattr(old, f):
            changes[f] = value
    return changes


def _status_change(
    r: CaseRecord, old: Any
) -> tuple[dict[str, Any], tuple[str, CaseStatus, CaseStatus] | None]:
    """The file's status, applied only when it crosses between open and closed (the dashboard owns the
    workflow of open cases): a ``close``-like or ``reopen`` event; else only a changed closing time."""
    old_status = CaseStatus(old.status)
    if (old_status in CLOSED_STATUSES) == (r.status in CLOSED_STATUSES):
        if r.status == CaseStatus.closed and old_status == CaseStatus.closed and r.closed_at != old.closed_at:
            return {"closed_at": r.closed_at}, None
        return {}, None
    target = r.status
    if target in CLOSED_STATUSES:
        changes: dict[str, Any] = {
            "status": target,
            "closed_at": r.closed_at if target == CaseStatus.closed else None,
        }
        if target == CaseStatus.closed:
            changes["solved"] = (r.satisfaction or old.satisfaction) != Satisfaction.dissatisfied
        return changes, (STATUS_EVENT[target], old_status, target)
    target = CaseStatus.accepted if r.coarse else target
    return {"status": target, "closed_at": None, "solved": None}, ("reopen", old_status, target)


class CaseWriter:
    """Writes the records of a case import chunk by chunk: new cases with their events, changes to the
    cases imported before; counts new / updated / unchanged rows (dry run: counts only)."""

    def __init__(self, run: ImportRun, terr: Territory) -> None:
        self.run, self.terr = run, terr
        self.session = run.session
        self.numbers = _Numbers(run.session)
        self.seen: dict[str, int] = {}
        self.duplicates: dict[str, str] = {}  # external id → number it duplicates
        self.file_numbers: set[str] = set()

    def _times(self, r: CaseRecord) -> dict[str, datetime | None]:
        category = self.terr.categories[r.category_id]
        cal = self.terr.calendar
        if r.due_at is not None:
            span = r.due_at - r.reported_at
            times = {
                "due_at": r.due_at,
                "warn_at": r.reported_at + span * WARN_SHARE,
                "black_at": r.reported_at + span * BLACK_FACTOR,
            }
        else:
            st = sla.sla_times(r.reported_at, category.sla_limit, category.calendar, cal)
            times = {"due_at": st.due_at, "warn_at": st.warn_at, "black_at": st.black_at}
        times["response_due_at"] = sla.add_limit(
            r.reported_at, category.response_limit, category.response_calendar, cal
        )
        return times

    def chunk(self, records: list[CaseRecord]) -> None:
        run = self.run
        fresh: list[CaseRecord] = []
        for r in records:
            first = self.seen.get(r.external_id)
            if first is not None:
                run.error(r.row, r.column("number"), r.external_id, "io.err.duplicate_in_file", first=first)
                continue
            self.seen[r.external_id] = r.row
            self.file_numbers.add(r.external_id)
            fresh.append(r)
        existing = self._existing([r.external_id for r in fresh])
        new: list[CaseRecord] = []
        for r in fresh:
            old = existing.get(r.external_id)
            if old is not None and old.source != CaseSource.imported and old.external_id != r.external_id:
                run.error(r.row, r.column("number"), r.external_id, "io.err.native_case")
                continue
            if old is None:
                run.report.new += 1
                new.append(r)
                if r.duplicate_of:
                    self.duplicates[r.external_id] = r.duplicate_of
                continue
            changes, event = self._changes(r, old)
            if not changes:
                run.report.unchanged += 1
                continue
            if run.writing and not self._update(r, old, changes, event):
                continue
            run.report.updated += 1
        if new and run.writing:
            self._insert(new)

    def _existing(self, ids: list[str]) -> dict[str, Any]:
        """Stored cases the file's ids refer to: imported cases by external id, else any case whose number
        is the id (a file exported from here and imported again)."""
        found: dict[str, Any] = {}
        by_number: dict[str, Any] = {}
        for i in range(0, len(ids), 1000):
            part = ids[i : i + 1000]
            ours = [n for n in part if NUMBER_RE.match(n)]
            cond = and_(Case.source == CaseSource.imported, Case.external_id.in_(part))
            for row in self.session.exec(
                select(*_EXISTING_COLUMNS).where(or_(cond, Case.number.in_(ours)) if ours else cond)
            ).all():
                if row.source == CaseSource.imported and row.external_id in part:
                    found[row.external_id] = row
                if row.number in ours:
                    by_number[row.number] = row
        return {i: found.get(i) or by_number[i] for i in ids if i in found or i in by_number}

    def _changes(
        self, r: CaseRecord, old: Any
    ) -> tuple[dict[str, Any], tuple[str, CaseStatus, CaseStatus] | None]:
        """What the row changes in the stored case `old`, and the status event that goes with it."""
        changes = {**_compared_changes(r, old), **_place_changes(r, old)}
        if "grid_id" in changes:
            changes["community_id"] = self.terr.grid_community[changes["grid_id"]]
        changes.update(_handling_changes(r, old))
        if {"category_id", "reported_at", "due_at"} & set(changes):
            changes.update(self._times(r))
        status_changes, event = _status_change(r, old)
        changes.update(status_changes)
        return changes, event

    def _update(
        self,
        r: CaseRecord,
        old: Any,
        changes: dict[str, Any],
        event: tuple[str, CaseStatus, CaseStatus] | None,
    ) -> bool:
        """Apply the row through the cases' one change function; False (and a row error) when someone
        changed the case after the file was read: concurrent work is reported, never overwritten."""
        action, status = (event[0], event[2]) if event is not None else ("import_update", old.status)
        try:
            change_case(
                self.session,
                self.run.actor,
                old.id,
                old.version,
                action,
                change=lambda _c, _s, _now: (dict(changes), {}),
                to_status=CaseStatus(status),
                payload={"import": self.run.source.name},
            )
        except StaleCase as stale:
            self.run.error(
                r.row, r.column("number"), r.external_id, "io.err.changed_meanwhile", **stale.values
            )
            return False
        return True

    def _insert(self, records: list[CaseRecord]) -> None:
        taken = self.numbers.taken([r.external_id for r in records])
        rows = [
            self._new_case(r, self.numbers.allocate(r.external_id, r.reported_at, taken)) for r in records
        ]
        bulk_insert(self.session, Case, rows)
        # New ids by external id (unique among imported cases: checked above), one indexed query per thousand;
        # cheaper than RETURNING, which SQLite can only keep in order one row per statement.
        ids: dict[str, int] = {}
        for i in range(0, len(records), 1000):
            part = [r.external_id for r in records[i : i + 1000]]
            ids.update(
                (ext, cid)
                for cid, ext in self.session.exec(
                    select(Case.id, Case.external_id).where(
                        Case.source == CaseSource.imported, Case.external_id.in_(part)
                    )
                )
            )
        events = [event for r in records for event in self._new_events(r, ids[r.external_id])]
        append_events(self.session, events)

    def _new_case(self, r: CaseRecord, number: str) -> dict[str, Any]:
        """The ``cases`` row of a new imported case."""
        category = self.terr.categories[r.category_id]
        assert r.grid_id is not None
        return {
            "number": number,
            "category_id": r.category_id,
            "title": r.title,
            "description": r.description,
            "grid_id": r.grid_id,
            "community_id": self.terr.grid_community[r.grid_id],
            "lon": r.lon,
            "lat": r.lat,
            "address": r.address,
            "source": CaseSource.imported.value,
            "external_id": r.external_id,
            "reporter_name": r.reporter_name,
            "reporter_phone": r.reporter_phone,
            "reporter_anonymous": False,
            "status": r.status.value,
            "priority": Priority(r.priority or category.priority_default).value,
            "assignee_id": None,
            "department_id": r.department_id,
            "reported_at": r.reported_at,
            "accepted_at": r.accepted_at,
            "dispatched_at": None,
            "resolved_at": r.resolved_at,
            "verified_at": None,
            "closed_at": r.closed_at,
            **self._times(r),
            "extension_count": 0,
            "rework_count": 0,
            "escalation_level": None,
            "supervised": False,
            "duplicate_of_id": None,
            "satisfaction": r.satisfaction.value if r.satisfaction else None,
            "solved": (r.satisfaction != Satisfaction.dissatisfied)
            if r.status == CaseStatus.closed
            else None,
            "version": 1 if r.status == CaseStatus.reported else 2,  # one per event (_new_events)
            "updated_at": r.updated_at or self.run.now,  # the file's last change, so a round trip keeps it
        }

    def _new_events(self, r: CaseRecord, case_id: int) -> list[dict[str, Any]]:
        """The ``report`` event of a new imported case and, when it is further along, the one into its
        status (at the latest time the file gives for it)."""
        payload = {"import": self.run.source.name}
        report_payload = {**payload, "source": r.source_text} if r.source_text else payload
        if r.unmapped_category:  # put in the catch-all category: flagged for a later look
            report_payload = {**report_payload, "unmapped_category": r.unmapped_category}
        events = [self._event(case_id, r.reported_at, "report", None, CaseStatus.reported, report_payload)]
        if r.status != CaseStatus.reported:
            at = r.closed_at or r.resolved_at or r.accepted_at or r.reported_at
            events.append(
                self._event(
                    case_id,
                    max(at, r.reported_at),
                    STATUS_EVENT[r.status],
                    CaseStatus.reported,
                    r.status,
                    payload,
                )
            )
        return events

    def _event(
        self,
        case_id: int,
        at: datetime,
        action: str,
        from_status: CaseStatus | None,
        to_status: CaseStatus,
        payload: dict[str, str],
    ) -> dict[str, Any]:
        return {
            "case_id": case_id,
            "at": at,
            "actor_id": self.run.actor.id or None,
            "action": action,
            "from_status": from_status.value if from_status is not None else None,
            "to_status": to_status.value,
            "note": "",
            "payload": json.dumps(payload, ensure_ascii=False),
        }

    def link_duplicates(self) -> None:
        """Point merged duplicates at the case they were merged into (by its number or external id)."""
        if not self.duplicates:
            return
        for ext, target in self.duplicates.items():
            target_id = self.session.exec(
                select(Case.id)
                .where(
                    or_(
                        Case.number == target,
                        (Case.source == CaseSource.imported) & (Case.external_id == target),
                    )
                )
                .order_by(Case.id)
                .limit(1)
            ).first()
            if target_id is None:
                row = self.seen.get(ext)
                self.run.warn(row, "duplicate_of", target, "io.warn.duplicate_target")
                continue
            self.session.execute(
                update(Case)
                .where(Case.source == CaseSource.imported, Case.external_id == ext, Case.id != target_id)
                .values(duplicate_of_id=target_id)
            )
