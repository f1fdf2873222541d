"""Rows of a case import (spreadsheet or Open311) checked one by one into :class:`CaseRecord`\\ s, then
placed in their grids a chunk at a time. Problems are recorded against the file's column
(:class:`~dashboard.io.runs.Cells`); a row with an error gives no record. See :mod:`dashboard.io.cases`
for what the import does with the records."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dashboard.cases.intake import ADDRESS_MAX, DESCRIPTION_MAX, NAME_MAX, TITLE_MAX
from dashboard.io.headers import norm_key
from dashboard.io.labels import Labels
from dashboard.io.open311 import CLOSED_STATUSES
from dashboard.io.runs import Cells, ImportMapping, ImportRun, Territory
from dashboard.io.values import ASCII_BLANKS, is_null, number, to_wgs84
from dashboard.kernel.text import normalise_reporter_phone, shorten
from models import Category
from models.enums import CaseStatus, Priority, Satisfaction

FUTURE_SLACK = timedelta(days=1)
"""How far in the future a reporting time may lie (clock differences) before it is an error."""

_DUPLICATE_NOTE = re.compile(r"(?:并入|duplicate of|重复于)\s*[:：]?\s*([A-Za-z0-9\-_]+)", re.IGNORECASE)

_MASK_MARKS = (("reporter_name", "*"), ("reporter_phone", "*"), ("address", "***"))
"""How a masked export marks personal data it left out."""


@dataclass
class CaseRecord:
    """One valid row of a case import, in the terms of a case."""

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
    updated_at: datetime | None = None
    """The file's last change (Open311 ``updated_datetime``), kept as a new case's ``updated_at``."""
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
    unmapped_category: str = ""
    """The file's category value when the row was put in the catch-all category (flagged on its event)."""
    columns: Mapping[str, str] = field(default_factory=dict)

    def column(self, *fields: str) -> str:
        """The file's name for the field(s), for problem reports."""
        return "/".join(self.columns.get(f, f) for f in fields)


def _title_from(description: str) -> tuple[str, str]:
    """(title, rest) from a description: its first line (cut to fit) and what follows. Only ASCII white
    space is trimmed: an indent of ideographic or no-break spaces is part of the text."""
    description = description.strip(ASCII_BLANKS)
    first, _, rest = description.partition("\n")
    first = first.strip(ASCII_BLANKS)
    if len(first) > TITLE_MAX:
        return shorten(first, TITLE_MAX), description
    return first, rest.strip(ASCII_BLANKS)


def _duplicate_of(c: Cells, open311: bool) -> str:
    """The case this one duplicates: its own column, else (Open311) the number in the status notes."""
    duplicate_of = c.text("duplicate_of")
    if not duplicate_of and open311:
        m = _DUPLICATE_NOTE.search(c.text("status_notes"))
        duplicate_of = m.group(1) if m else ""
    return duplicate_of


def _provided(c: Cells) -> set[str]:
    """The fields the row gives a value for. Masked personal data (from a masked export) says nothing:
    leave the stored value alone."""
    masked = {f for f, mark in _MASK_MARKS if mark in c.text(f)}
    return {f for f in c.values if not is_null(c.values[f])} - masked


class CaseRows:
    """Turns mapped rows into validated case records (placing them in grids a chunk at a time)."""

    def __init__(self, run: ImportRun, terr: Territory, mapping: ImportMapping, convert: str | None) -> None:
        self.run, self.terr, self.mapping, self.convert = run, terr, mapping, convert
        self.labels = Labels()
        self.statuses = {norm_key(k): v for k, v in mapping.statuses.items()}

    def record(self, c: Cells, *, open311: bool = False) -> CaseRecord | None:
        """The row's record, or None when it has an error (each problem recorded, in column order)."""
        if c.bad:
            return None  # a row cut short or too long: its cells cannot be trusted
        number_text = c.limited("number", 64, required=True)
        category, unmapped = self._category(c)
        title, description = self._title(c, category, open311)
        reported = c.date("reported_at", required=True)
        if reported is not None and reported > self.run.now + FUTURE_SLACK:
            c.error("reported_at", "io.err.future")
        status, coarse = self._status(c)
        milestones = self._milestones(c, status, reported)
        lon, lat, grid_code = self._location(c)
        address, name, phone = self._reporter(c)
        department_id = self._department(c)
        priority = self._enum(c, "priority", self.labels.priority, Priority)
        satisfaction = self._enum(c, "satisfaction", self.labels.satisfaction, Satisfaction)
        duplicate_of = _duplicate_of(c, open311)
        if c.bad or category is None or reported is None:
            return None
        return CaseRecord(
            row=c.row,
            external_id=number_text,
            title=title,
            description=description,
            category_id=category.id,  # type: ignore[arg-type]
            reported_at=reported,
            status=status,
            coarse=coarse,
            provided=_provided(c),
            source_text=c.text("source"),
            due_at=milestones["due_at"],
            accepted_at=milestones["accepted_at"],
            resolved_at=milestones["resolved_at"],
            closed_at=milestones["closed_at"],
            updated_at=milestones["updated_at"],
            lon=lon,
            lat=lat,
            grid_code=grid_code,
            address=address,
            reporter_name=name,
            reporter_phone=phone,
            department_id=department_id,
            priority=priority,
            satisfaction=satisfaction,
            duplicate_of=duplicate_of,
            unmapped_category=unmapped,
            columns=c.columns,
        )

    def _category(self, c: Cells) -> tuple[Category | None, str]:
        """(category, the file's value when it went to the catch-all category): by code or name (service
        code, else service name) or the user's mapping. Unknown values are counted for the mapping step;
        with a catch-all category chosen they go there, with a warning."""
        category = self.terr.category(c.values.get("category"), self.mapping.categories)
        if category is None and c.has("category_alt"):
            category = self.terr.category(c.values.get("category_alt"), self.mapping.categories)
        if category is not None:
            return category, ""
        shown = c.text("category_alt") or c.text("category")  # Open311: the service name says more
        if not shown:
            c.error("category", "io.err.required")
            return None, ""
        counts = self.run.report.unknown_categories
        counts[shown] = counts.get(shown, 0) + 1
        fallback = (
            self.terr.category(self.mapping.other_category, {}) if self.mapping.other_category else None
        )
        if fallback is None:
            c.error("category", "io.err.unknown_category")
            return None, ""
        c.warn("category", "io.warn.category_other", category=fallback.name_zh)
        return fallback, shown

    def _title(self, c: Cells, category: Category | None, open311: bool) -> tuple[str, str]:
        """(title, description); a missing title is the description's first line."""
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
        elif len(title) > TITLE_MAX:
            c.error("title", "io.err.too_long", max=TITLE_MAX)
        if len(description) > DESCRIPTION_MAX:
            c.error("description", "io.err.too_long", max=DESCRIPTION_MAX)
        return title, description

    def _status(self, c: Cells) -> tuple[CaseStatus, bool]:
        head = re.split(r"[;；,，(（]", c.text("status_notes"), maxsplit=1)[0]
        fine = self.labels.case_status(head) if head else None
        fine_status = fine[0] if fine is not None and not fine[1] else None
        if not c.has("status"):
            return fine_status or CaseStatus.reported, False
        chosen = self._mapped_status(c.text("status"))
        if chosen is not None:
            return chosen, False
        parsed = self.labels.case_status(c.values["status"])
        if parsed is None:
            c.error("status", "io.err.unknown_status")
            counts = self.run.report.unknown_statuses
            counts[c.text("status")] = counts.get(c.text("status"), 0) + 1
            return CaseStatus.reported, False
        status, coarse = parsed
        if (
            coarse
            and fine_status is not None
            and (fine_status in CLOSED_STATUSES) == (status in CLOSED_STATUSES)
        ):
            return fine_status, False  # Open311 open/closed refined by the label in status_notes
        return status, coarse

    def _mapped_status(self, value: str) -> CaseStatus | None:
        """The status the user mapped this file value to (``Cancelled`` → rejected), if any."""
        hit = self.statuses.get(norm_key(value))
        return CaseStatus(hit) if hit else None

    def _milestones(
        self, c: Cells, status: CaseStatus, reported: datetime | None
    ) -> dict[str, datetime | None]:
        """Due, accepted, resolved, closed and last updated times; a closed case without a closing time
        is taken as closed when last updated, else when reported (with a warning)."""
        times = {f: c.date(f) for f in ("due_at", "accepted_at", "resolved_at", "closed_at")}
        for f, value in times.items():
            if value is not None and reported is not None and value < reported:
                c.drop(f, "io.warn.before_reported")
                times[f] = None
        due, accepted, resolved, closed = times.values()
        updated = c.date("updated_at")
        if updated is not None and reported is not None and updated < reported:
            c.drop("updated_at", "io.warn.before_reported")
            updated = None
        if status == CaseStatus.closed and closed is None:
            closed = updated
            if closed is None and reported is not None:
                closed = reported
                c.warn("closed_at", "io.warn.closed_time_unknown")
        if status != CaseStatus.closed:
            closed = None
        return {
            "due_at": due,
            "accepted_at": accepted,
            "resolved_at": resolved,
            "closed_at": closed,
            "updated_at": updated,
        }

    def _location(self, c: Cells) -> tuple[float | None, float | None, str]:
        """(lon, lat, grid code): a grid the territory does not know is an error without a point and
        dropped (with a warning) beside one."""
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
        return lon, lat, grid_code

    def _point(self, c: Cells) -> tuple[float | None, float | None, bool]:
        """(lon, lat, error recorded): WGS-84 point, or None for none (feeds write 0 or null for that)."""
        values: dict[str, float | None] = {}
        for f in ("lon", "lat"):
            try:
                values[f] = number(c.values.get(f))
            except ValueError:
                if c.has("grid"):  # the grid places the row: the point is optional
                    c.drop(f, "io.warn.bad_number")
                    c.values["lon"] = c.values["lat"] = None
                    return None, None, False
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

    def _reporter(self, c: Cells) -> tuple[str, str, str]:
        """(address, reporter name, reporter phone); masked values (a masked export) become ''."""
        address = c.limited("address", ADDRESS_MAX)
        address = "" if "***" in address else address
        name = c.text("reporter_name")
        name = "" if "*" in name else name
        if len(name) > NAME_MAX:
            c.drop("reporter_name", "io.warn.too_long", max=NAME_MAX)
            name = ""
        phone = c.text("reporter_phone")
        if phone and "*" not in phone:
            normal = normalise_reporter_phone(phone)
            if normal is None:
                c.drop("reporter_phone", "io.warn.bad_phone")
            phone = normal or ""
        else:
            phone = ""
        return address, name, phone

    def _department(self, c: Cells) -> int | None:
        if not c.has("department"):
            return None
        department_id = self.terr.department_keys.get(norm_key(c.text("department")))
        if department_id is None:
            c.warn("department", "io.warn.unknown_department")
        return department_id

    def _enum(self, c: Cells, f: str, table: Mapping[str, str], enum: type) -> Any:
        if not c.has(f):
            return None
        hit = table.get(norm_key(c.text(f)))
        if hit is None:
            c.warn(f, "io.warn.unknown_value")
            return None
        return enum(hit)

    def place(self, records: list[CaseRecord]) -> list[CaseRecord]:
        """Grid of each record by point-in-polygon (grid column as fallback); records left unplaced are
        row errors and dropped."""
        pts = [r for r in records if r.lon is not None and r.lat is not None]
        if pts and self.terr.locator:
            located = self.terr.locator.locate_many([r.lon for r in pts], [r.lat for r in pts])
        else:
            located = [None] * len(pts)
        by_row = {r.row: g for r, g in zip(pts, located, strict=True)}
        out = []
        for r in records:
            named = self.terr.grid_by_code.get(r.grid_code, (None, None))[0] if r.grid_code else None
            r.grid_id = self._grid_of_point(r, by_row.get(r.row), named) if r.lon is not None else named
            if r.lon is None or r.grid_id is not None:
                out.append(r)
        return out

    def _grid_of_point(self, r: CaseRecord, found: int | None, named: int | None) -> int | None:
        """The grid of a record with a point: the one it lies in, else the one it names (warned); None
        (an error) when it lies outside every grid and names none."""
        where = f"{r.lon:.6f}, {r.lat:.6f}"
        if found is None:
            if named is None:
                self.run.error(r.row, r.column("lon", "lat"), where, "io.err.outside_grids")
                return None
            self.run.warn(r.row, r.column("lon", "lat"), where, "io.warn.outside_used_grid", grid=r.grid_code)
            return named
        if named is not None and named != found:
            self.run.warn(
                r.row, r.column("grid"), r.grid_code, "io.warn.grid_mismatch", grid=self.terr.grid_code[found]
            )
        return found
