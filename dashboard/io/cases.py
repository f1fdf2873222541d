"""Imports: cases from spreadsheets (CSV, Excel) and Open311 GeoReport v2 (JSON, XML), volunteers and service
records from spreadsheets, grid and community boundaries from GeoJSON — one code path for the admin page
and ``python -m dashboard import``.

Each ``import_*(session, actor, file, mapping, commit=False, …)`` validates every row and returns an
:class:`ImportReport` (new / updated / unchanged / error rows, every problem with its row, column, value
and reason). ``commit=False`` is the dry run; ``commit=True`` writes all or nothing (see
:mod:`dashboard.io.runs`); re-importing a file is idempotent.

Cases. Imported cases get ``source='imported'`` and ``external_id`` = the file's case number (or Open311
``service_request_id``); a later import of the same external id updates that case (or reports it
unchanged). The case keeps the file's number when it has our format (``XL20261123-0042``) and is free,
else it gets a new number of its reporting day. Each point is placed in its grid by point-in-polygon
(after a GCJ-02/BD-09 conversion on request); a point outside every grid is an error, unless the row
also names a grid, which is then used (with a warning). Due times come from the category's time limit on
its calendar (``sla.sla_times``) unless the file gives one (``expected_datetime``). A new case gets a
``report`` event and, when the file says it is further along, one event into that status (``close`` for
a closed case, at its closing time), both by the importing user with ``{"import": file name}``, so that
every case's events lead to its status (from → to chain; the move itself need not be one the workflow
allows a user, e.g. reported → closed). On re-import the file's status is applied only when it crosses
between open and closed (the dashboard owns the workflow of open cases): a ``close`` or ``reopen`` event.
Personal data that arrives masked (``138****5678``, ``幸福路3号楼***``: a masked export) is not imported:
a new case leaves it empty, an existing one keeps its own. A file exported from here and imported again
matches its cases by number; a row naming a case that was recorded in the dashboard (not imported) is
refused, since such cases are changed through their workflow, not by files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlmodel import Session, select

from dashboard.cases import commands as cases
from dashboard.cases import sla
from dashboard.io.boundaries import import_boundaries
from dashboard.io.parsing import (
    Progress,
    Source,
    TableReader,
    as_source,
    is_null,
    iter_open311,
    norm_key,
    number,
    to_wgs84,
)
from dashboard.io.people import import_service_records, import_volunteers
from dashboard.io.runs import (
    CHUNK_ROWS,
    Cells,
    ImportMapping,
    ImportReport,
    ImportRun,
    Labels,
    Territory,
    bulk_insert,
    table_rows,
)
from dashboard.kernel.scope import Actor
from models import Case, CaseEvent
from models.enums import CaseSource, CaseStatus, Priority, Satisfaction

__all__ = [
    "ImportMapping",
    "ImportReport",
    "import_boundaries",
    "import_cases",
    "import_open311",
    "import_service_records",
    "import_volunteers",
    "run_import",
]

NUMBER_RE = re.compile(rf"^{cases.NUMBER_PREFIX}(\d{{8}})-(\d{{4,5}})$")
"""Our case number format; a file number of this shape is kept when free."""

FUTURE_SLACK = timedelta(days=1)
"""How far in the future a reporting time may lie (clock differences) before it is an error."""

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

_CLOSED = frozenset({CaseStatus.closed, CaseStatus.rejected})
_DUPLICATE_NOTE = re.compile(r"(?:并入|duplicate of|重复于)\s*[:：]?\s*([A-Za-z0-9\-_]+)", re.IGNORECASE)


# ---------------------------------------------------------------- one row


@dataclass
class _CaseRecord:
    row: int
    external_id: str
    title: str
    description: str
    category_id: int
    reported_at: datetime
    status: CaseStatus
    coarse: bool
    provided: set[str]
    source_text: str = ""
    due_at: datetime | None = None
    accepted_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    lon: float | None = None
    lat: float | None = None
    grid_code: str = ""
    grid_id: int | None = None
    address: str = ""
    reporter_name: str = ""
    reporter_phone: str = ""
    department_id: int | None = None
    priority: Priority | None = None
    satisfaction: Satisfaction | None = None
    duplicate_of: str = ""
    columns: Mapping[str, str] = field(default_factory=dict)

    def column(self, *fields: str) -> str:
        """The file's name for the field(s), for problem reports."""
        return "/".join(self.columns.get(f, f) for f in fields)


def _title_from(description: str) -> tuple[str, str]:
    """(title, rest) from a description: its first line (cut to fit) and what follows."""
    first, _, rest = description.strip().partition("\n")
    first = first.strip()
    if len(first) > cases.TITLE_MAX:
        return first[: cases.TITLE_MAX - 1] + "…", description.strip()
    return first, rest.strip()


class _CaseRows:
    """Turns mapped rows into validated case records (placing them in grids a chunk at a time)."""

    def __init__(self, run: ImportRun, terr: Territory, mapping: ImportMapping, convert: str | None) -> None:
        self.run, self.terr, self.mapping, self.convert = run, terr, mapping, convert
        self.labels = Labels()

    def record(self, c: Cells, *, open311: bool = False) -> _CaseRecord | None:
        run = self.run
        if c.bad:
            return None  # a row cut short or too long: its cells cannot be trusted
        number_text = c.limited("number", 64, required=True)
        category = self.terr.category(c.values.get("category"), self.mapping.categories)
        if category is None and c.has("category_alt"):
            category = self.terr.category(c.values.get("category_alt"), self.mapping.categories)
        if category is None:
            shown = c.text("category") or c.text("category_alt")
            if shown:
                c.error("category", "io.err.unknown_category")
                counts = run.report.unknown_categories
                counts[shown] = counts.get(shown, 0) + 1
            else:
                c.error("category", "io.err.required")
        description = c.text("description")
        title = c.text("title")
        if open311:  # the format has no title: the first line of the description, else the service name
            title, description = (
                _title_from(description)
                if description
                else (c.text("category_alt") or (category.name_zh if category else ""), "")
            )
        elif not title and description:
            title = _title_from(description)[0]
        if not title:
            c.error("title", "io.err.required")
        elif len(title) > cases.TITLE_MAX:
            c.error("title", "io.err.too_long", max=cases.TITLE_MAX)
        if len(description) > cases.DESCRIPTION_MAX:
            c.error("description", "io.err.too_long", max=cases.DESCRIPTION_MAX)
        reported = c.date("reported_at", required=True)
        if reported is not None and reported > run.now + FUTURE_SLACK:
            c.error("reported_at", "io.err.future")
        status, coarse = self._status(c)
        due = c.date("due_at")
        accepted = c.date("accepted_at")
        resolved = c.date("resolved_at")
        closed = c.date("closed_at")
        updated = c.date("updated_at")
        if status == CaseStatus.closed and closed is None:
            closed = updated
            if closed is None and reported is not None:
                closed = reported
                c.warn("closed_at", "io.warn.closed_time_unknown")
        if status != CaseStatus.closed:
            closed = None
        for f, value in (
            ("due_at", due),
            ("accepted_at", accepted),
            ("resolved_at", resolved),
            ("closed_at", closed),
        ):
            if value is not None and reported is not None and value < reported:
                c.error(f, "io.err.before_reported")
        lon, lat, point_error = self._point(c)
        grid_code = c.text("grid").upper()
        if grid_code and grid_code not in self.terr.grid_by_code:
            if lon is None:
                c.error("grid", "io.err.unknown_grid")
            else:
                c.warn("grid", "io.warn.unknown_grid")
                grid_code = ""
        elif lon is None and not grid_code and not point_error:
            c.error("lon" if "lon" in c.columns else "grid", "io.err.no_location")
        address = c.limited("address", cases.ADDRESS_MAX)
        address = "" if "***" in address else address
        name = c.text("reporter_name")
        name = "" if "*" in name else name
        if len(name) > cases.NAME_MAX:
            c.error("reporter_name", "io.err.too_long", max=cases.NAME_MAX)
        phone = c.text("reporter_phone")
        if phone and "*" not in phone:
            normal = cases.normalise_phone(phone)
            if normal is None:
                c.error("reporter_phone", "io.err.bad_phone")
            phone = normal or ""
        else:
            phone = ""
        department_id = None
        if c.has("department"):
            department_id = self.terr.department_keys.get(norm_key(c.text("department")))
            if department_id is None:
                c.warn("department", "io.warn.unknown_department")
        priority = self._enum(c, "priority", self.labels.priority, Priority)
        satisfaction = self._enum(c, "satisfaction", self.labels.satisfaction, Satisfaction)
        duplicate_of = c.text("duplicate_of")
        if not duplicate_of and open311:
            m = _DUPLICATE_NOTE.search(c.text("status_notes"))
            duplicate_of = m.group(1) if m else ""
        if c.bad or category is None or reported is None:
            return None
        # Masked personal data (from a masked export) says nothing: leave the stored value alone.
        masked = {f for f, mark in (("reporter_name", "*"), ("reporter_phone", "*"), ("address", "***"))
                  if mark in c.text(f)}  # fmt: skip
        provided = {f for f in c.values if not is_null(c.values[f])} - masked
        return _CaseRecord(
            row=c.row, external_id=number_text, title=title, description=description,
            category_id=category.id,  # type: ignore[arg-type]
            reported_at=reported, status=status, coarse=coarse, provided=provided, source_text=c.text("source"),
            due_at=due, accepted_at=accepted, resolved_at=resolved, closed_at=closed, lon=lon, lat=lat,
            grid_code=grid_code, address=address, reporter_name=name, reporter_phone=phone,
            department_id=department_id, priority=priority, satisfaction=satisfaction, duplicate_of=duplicate_of,
            columns=c.columns,
        )  # fmt: skip

    def _status(self, c: Cells) -> tuple[CaseStatus, bool]:
        head = re.split(r"[;；,，(（]", c.text("status_notes"), maxsplit=1)[0]
        fine = self.labels.case_status(head) if head else None
        fine_status = fine[0] if fine is not None and not fine[1] else None
        if not c.has("status"):
            return fine_status or CaseStatus.reported, False
        parsed = self.labels.case_status(c.values["status"])
        if parsed is None:
            c.error("status", "io.err.unknown_status")
            return CaseStatus.reported, False
        status, coarse = parsed
        if coarse and fine_status is not None and (fine_status in _CLOSED) == (status in _CLOSED):
            return fine_status, False  # Open311 open/closed refined by the label in status_notes
        return status, coarse

    def _point(self, c: Cells) -> tuple[float | None, float | None, bool]:
        """(lon, lat, error recorded): WGS-84 point, or None for none (feeds write 0 or null for that)."""
        values: dict[str, float | None] = {}
        for f in ("lon", "lat"):
            try:
                values[f] = number(c.values.get(f))
            except ValueError:
                c.error(f, "io.err.bad_number")
                return None, None, True
        lon, lat = values["lon"], values["lat"]
        if lon is None or lat is None or lon == 0 or lat == 0:
            return None, None, False
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            c.error("lon", "io.err.lonlat_range")
            return None, None, True
        wlon, wlat = to_wgs84(lon, lat, self.convert)
        return wlon, wlat, False

    def _enum(self, c: Cells, f: str, table: Mapping[str, str], enum: type) -> Any:
        if not c.has(f):
            return None
        hit = table.get(norm_key(c.text(f)))
        if hit is None:
            c.warn(f, "io.warn.unknown_value")
            return None
        return enum(hit)

    def place(self, records: list[_CaseRecord]) -> list[_CaseRecord]:
        """Grid of each record by point-in-polygon (grid column as fallback); records left unplaced are
        row errors and dropped."""
        pts = [r for r in records if r.lon is not None and r.lat is not None]
        located = self.terr.locator.locate_many([r.lon for r in pts], [r.lat for r in pts]) if (
            pts and self.terr.locator) else [None] * len(pts)  # fmt: skip
        by_row = {r.row: g for r, g in zip(pts, located, strict=True)}
        out = []
        for r in records:
            named = self.terr.grid_by_code.get(r.grid_code, (None, None))[0] if r.grid_code else None
            if r.lon is not None:
                found = by_row.get(r.row)
                if found is None:
                    if named is None:
                        self.run.error(
                            r.row, r.column("lon", "lat"), f"{r.lon:.6f}, {r.lat:.6f}", "io.err.outside_grids"
                        )
                        continue
                    self.run.warn(r.row, r.column("lon", "lat"), f"{r.lon:.6f}, {r.lat:.6f}",
                                  "io.warn.outside_used_grid", grid=r.grid_code)  # fmt: skip
                    found = named
                elif named is not None and named != found:
                    self.run.warn(r.row, r.column("grid"), r.grid_code, "io.warn.grid_mismatch",
                                  grid=self.terr.grid_code[found])  # fmt: skip
                r.grid_id = found
            else:
                r.grid_id = named
            out.append(r)
        return out


# ---------------------------------------------------------------- writing cases


class _Numbers:
    """Case numbers for new imported cases: the file's when it has our format and is free, else the next
    free one of the reporting day (per day, the day's highest sequence read once, then counted here)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.top: dict[str, int] = {}
        self.used: set[str] = set()

    def taken(self, numbers: list[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(numbers), 1000):
            found.update(
                self.session.exec(select(Case.number).where(Case.number.in_(numbers[i : i + 1000]))).all()
            )
        return found

    def allocate(self, wanted: str, day: datetime, taken: set[str]) -> str:
        if NUMBER_RE.match(wanted) and wanted not in taken and wanted not in self.used:
            self.used.add(wanted)
            return wanted
        key = f"{day:%Y%m%d}"
        if key not in self.top:
            self.top[key] = int(cases.next_number(self.session, day).rsplit("-", 1)[1]) - 1
        while True:
            self.top[key] += 1
            candidate = f"{cases.NUMBER_PREFIX}{key}-{self.top[key]:04d}"
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
_EXISTING_COLUMNS = (
    Case.id, Case.source, Case.external_id, Case.number, Case.title, Case.description, Case.category_id, Case.reported_at,
    Case.address, Case.reporter_name, Case.reporter_phone, Case.lon, Case.lat, Case.grid_id, Case.status,
    Case.due_at, Case.closed_at, Case.department_id, Case.priority, Case.satisfaction, Case.version,
)  # fmt: skip


def _same_float(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 5e-7)


class _CaseWriter:
    def __init__(self, run: ImportRun, terr: Territory) -> None:
        self.run, self.terr = run, terr
        self.session = run.session
        self.numbers = _Numbers(run.session)
        self.seen: dict[str, int] = {}
        self.duplicates: dict[str, str] = {}  # external id → number it duplicates
        self.file_numbers: set[str] = set()

    def _times(self, r: _CaseRecord) -> dict[str, datetime | None]:
        category = self.terr.categories[r.category_id]
        cal = self.terr.calendar
        if r.due_at is not None:
            span = r.due_at - r.reported_at
            times = {
                "due_at": r.due_at,
                "warn_at": r.reported_at + span * 0.75,
                "black_at": r.reported_at + span * 2,
            }
        else:
            st = sla.sla_times(r.reported_at, category.sla_limit, category.calendar, cal)
            times = {"due_at": st.due_at, "warn_at": st.warn_at, "black_at": st.black_at}
        times["response_due_at"] = sla.add_limit(r.reported_at, category.response_limit, category.response_calendar,
                                                 cal)  # fmt: skip
        return times

    def chunk(self, records: list[_CaseRecord]) -> None:
        run = self.run
        fresh: list[_CaseRecord] = []
        for r in records:
            first = self.seen.get(r.external_id)
            if first is not None:
                run.error(r.row, r.column("number"), r.external_id, "io.err.duplicate_in_file", first=first)
                continue
            self.seen[r.external_id] = r.row
            self.file_numbers.add(r.external_id)
            fresh.append(r)
        existing = self._existing([r.external_id for r in fresh])
        new: list[_CaseRecord] = []
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
            run.report.updated += 1
            if run.writing:
                self._update(old, changes, event)
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
        self, r: _CaseRecord, old: Any
    ) -> tuple[dict[str, Any], tuple[str, CaseStatus, CaseStatus] | None]:
        changes: dict[str, Any] = {}
        for f in _COMPARED:
            value = getattr(r, f)
            if f in ("description", "address", "reporter_name", "reporter_phone") and f not in r.provided:
                continue
            if value != getattr(old, f):
                changes[f] = value
        point_given = r.lon is not None
        if point_given and not (_same_float(r.lon, old.lon) and _same_float(r.lat, old.lat)):
            changes.update(lon=r.lon, lat=r.lat)
            if r.grid_id != old.grid_id:
                changes["grid_id"] = r.grid_id
        elif not point_given and r.grid_code and r.grid_id != old.grid_id:
            changes["grid_id"] = r.grid_id
        if "grid_id" in changes:
            changes["community_id"] = self.terr.grid_community[changes["grid_id"]]
        if "due_at" in r.provided and r.due_at != old.due_at:
            changes["due_at"] = r.due_at
        for f in ("department_id", "priority", "satisfaction"):
            value = getattr(r, f)
            if value is not None and value != getattr(old, f):
                changes[f] = value
        if {"category_id", "reported_at", "due_at"} & set(changes):
            changes.update(self._times(r))
        event = None
        old_status = CaseStatus(old.status)
        if (old_status in _CLOSED) != (r.status in _CLOSED):
            target = r.status
            if target in _CLOSED:
                changes.update(status=target, closed_at=r.closed_at if target == CaseStatus.closed else None)
                if target == CaseStatus.closed:
                    changes["solved"] = (r.satisfaction or old.satisfaction) != Satisfaction.dissatisfied
                event = (STATUS_EVENT[target], old_status, target)
            else:
                target = CaseStatus.accepted if r.coarse else target
                changes.update(status=target, closed_at=None, solved=None)
                event = ("reopen", old_status, target)
        elif (
            r.status == CaseStatus.closed and old_status == CaseStatus.closed and r.closed_at != old.closed_at
        ):
            changes["closed_at"] = r.closed_at
        return changes, event

    def _update(
        self, old: Any, changes: dict[str, Any], event: tuple[str, CaseStatus, CaseStatus] | None
    ) -> None:
        now = self.run.now
        values = {k: (v.value if hasattr(v, "value") else v) for k, v in changes.items()}
        self.session.execute(
            update(Case).where(Case.id == old.id).values(**values, version=old.version + 1, updated_at=now)
        )
        if event is not None:
            action, frm, to = event
            at = changes.get("closed_at") or now
            bulk_insert(self.session, CaseEvent, [{
                "case_id": old.id, "at": at, "actor_id": self.run.actor.id or None, "action": action,
                "from_status": frm.value, "to_status": to.value, "note": "",
                "payload": json.dumps({"import": self.run.source.name}, ensure_ascii=False),
            }])  # fmt: skip

    def _insert(self, records: list[_CaseRecord]) -> None:
        run = self.run
        taken = self.numbers.taken([r.external_id for r in records])
        now = run.now
        rows = []
        for r in records:
            category = self.terr.categories[r.category_id]
            assert r.grid_id is not None
            rows.append({
                "number": self.numbers.allocate(r.external_id, r.reported_at, taken),
                "category_id": r.category_id, "title": r.title, "description": r.description,
                "grid_id": r.grid_id, "community_id": self.terr.grid_community[r.grid_id], "lon": r.lon, "lat": r.lat,
                "address": r.address, "source": CaseSource.imported.value, "external_id": r.external_id,
                "reporter_name": r.reporter_name, "reporter_phone": r.reporter_phone, "reporter_anonymous": False,
                "status": r.status.value, "priority": Priority(r.priority or category.priority_default).value,
                "assignee_id": None, "department_id": r.department_id, "reported_at": r.reported_at,
                "accepted_at": r.accepted_at, "dispatched_at": None, "resolved_at": r.resolved_at, "verified_at": None,
                "closed_at": r.closed_at, **self._times(r), "extension_count": 0, "rework_count": 0,
                "escalation_level": None, "supervised": False, "duplicate_of_id": None,
                "satisfaction": r.satisfaction.value if r.satisfaction else None,
                "solved": (r.satisfaction != Satisfaction.dissatisfied) if r.status == CaseStatus.closed else None,
                "version": 1, "updated_at": now,
            })  # fmt: skip
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
        events = []
        payload = {"import": run.source.name}
        for r in records:
            case_id = ids[r.external_id]
            report_payload = {**payload, "source": r.source_text} if r.source_text else payload
            events.append({"case_id": case_id, "at": r.reported_at, "actor_id": run.actor.id or None,
                           "action": "report", "from_status": None, "to_status": CaseStatus.reported.value,
                           "note": "", "payload": json.dumps(report_payload, ensure_ascii=False)})  # fmt: skip
            if r.status != CaseStatus.reported:
                at = r.closed_at or r.resolved_at or r.accepted_at or r.reported_at
                events.append({"case_id": case_id, "at": max(at, r.reported_at), "actor_id": run.actor.id or None,
                               "action": STATUS_EVENT[r.status], "from_status": CaseStatus.reported.value,
                               "to_status": r.status.value, "note": "",
                               "payload": json.dumps(payload, ensure_ascii=False)})  # fmt: skip
        bulk_insert(self.session, CaseEvent, events)

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
                .limit(1)  # fmt: skip
            ).first()
            if target_id is None:
                row = self.seen.get(ext)
                self.run.warn(row, "duplicate_of", target, "io.warn.duplicate_target")
                continue
            self.session.execute(
                update(Case)
                .where(Case.source == CaseSource.imported, Case.external_id == ext, Case.id != target_id)
                .values(duplicate_of_id=target_id)  # fmt: skip
            )


# ---------------------------------------------------------------- entry points


_OPEN311_FIELDS = {
    "number": "number", "status": "status", "status_notes": "status_notes", "service_code": "category",
    "service_name": "category_alt", "description": "description", "agency": "department",
    "reported_at": "reported_at", "updated_at": "updated_at", "due_at": "due_at", "address": "address",
    "lat": "lat", "lon": "lon",
}  # fmt: skip
_OPEN311_COLUMNS = {
    "number": "service_request_id", "status": "status", "status_notes": "status_notes", "category": "service_code",
    "category_alt": "service_name", "description": "description", "department": "agency_responsible",
    "reported_at": "requested_datetime", "updated_at": "updated_datetime", "due_at": "expected_datetime",
    "address": "address", "lat": "lat", "lon": "long", "title": "description",
}  # fmt: skip


def _open311_rows(run: ImportRun, source: Source) -> Iterator[list[Cells]]:
    chunk: list[Cells] = []
    size = max(source.size, 1)
    for raw in iter_open311(source):
        values = {_OPEN311_FIELDS[k]: v for k, v in raw.values.items() if k in _OPEN311_FIELDS}
        if "category" not in values and "category_alt" in values:
            values["category"] = values["category_alt"]
        chunk.append(Cells(run, raw, values, _OPEN311_COLUMNS))
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
            run.progress(min(0.95, run.report.rows * 400 / size), f"{run.report.rows:,}")
    if chunk:
        yield chunk


def _run_cases(run: ImportRun, rows: Iterator[list[Cells]], mapping: ImportMapping, convert: str | None,
               open311: bool) -> None:  # fmt: skip
    terr = Territory(run.session)
    validator = _CaseRows(run, terr, mapping, convert)
    writer = _CaseWriter(run, terr)
    for chunk in rows:
        run.report.rows += len(chunk)
        records = [r for c in chunk if (r := validator.record(c, open311=open311)) is not None]
        writer.chunk(validator.place(records))
    if run.writing:
        writer.link_duplicates()
    else:
        known = writer.file_numbers
        for ext, target in ((r, t) for r, t in writer.duplicates.items() if t not in known):
            run.warn(writer.seen.get(ext), "duplicate_of", target, "io.warn.duplicate_target")
    run.progress(1.0, f"{run.report.rows:,}")


def import_cases(
    session: Session,
    actor: Actor,
    file: Any,
    mapping: ImportMapping | Mapping[str, Any] | None = None,
    commit: bool = False,
    *,
    skip_bad_rows: bool = False,
    convert: str | None = None,
    progress: Progress | None = None,
    name: str | None = None,
) -> ImportReport:
    """Cases from a CSV or xlsx file (see the module docstring). `mapping` maps file headers to fields
    (default: suggested from the synonym table) and file category values to category codes."""
    source = as_source(file, name)
    run = ImportRun(
        session, actor, "cases", source, commit=commit, skip_bad_rows=skip_bad_rows, progress=progress
    )
    chosen = ImportMapping.of(mapping)

    def body(run: ImportRun) -> None:
        with TableReader(source, "cases") as reader:
            _run_cases(run, table_rows(run, reader, chosen, "cases"), chosen, convert, open311=False)

    return run.execute(body)


def import_open311(
    session: Session,
    actor: Actor,
    file: Any,
    mapping: ImportMapping | Mapping[str, Any] | None = None,
    commit: bool = False,
    *,
    skip_bad_rows: bool = False,
    convert: str | None = None,
    progress: Progress | None = None,
    name: str | None = None,
) -> ImportReport:
    """Cases from an Open311 GeoReport v2 ``requests.json`` (or XML) file. Key spellings are normalised
    (``service_request_id``/``id``, ``long``/``lon``/``lng`` …); `mapping` may map service codes or names
    the categories do not know to category codes (``{"categories": {"Pothole": "INF"}}``)."""
    source = as_source(file, name)
    run = ImportRun(session, actor, "open311", source, commit=commit, skip_bad_rows=skip_bad_rows,
                    progress=progress)  # fmt: skip
    chosen = ImportMapping.of(mapping)
    return run.execute(lambda r: _run_cases(r, _open311_rows(r, source), chosen, convert, open311=True))


def run_import(session: Session, actor: Actor, kind: str, file: Any, mapping: Any = None, commit: bool = False,
               **options: Any) -> ImportReport:  # fmt: skip
    """Dispatch to the import of `kind` (one of ``import_parsing.KINDS``)."""
    functions = {"cases": import_cases, "open311": import_open311, "volunteers": import_volunteers,
                 "service_records": import_service_records, "boundaries": import_boundaries}  # fmt: skip
    if kind not in functions:
        raise ValueError(f"unknown import kind {kind!r}")
    return functions[kind](session, actor, file, mapping, commit, **options)
