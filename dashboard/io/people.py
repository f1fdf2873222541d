"""Imports of volunteers and their service records from spreadsheets (CSV, Excel).

Both upsert by ``external_id`` (the file's own id column, required): a row whose id is already stored
updates that record, or is counted unchanged. Volunteers go through the registry's own field checks
(``volunteers.validate_volunteer``) and a phone number may belong to one volunteer only. Service records
name their volunteer by the volunteer's external id or phone (import the volunteers first), the grid
served (default: the volunteer's home grid) and optionally a case; they must not overlap another record
of the same volunteer, nor lie in the future. Records from a spreadsheet of the volunteer station count
as verified by the importing user unless a ``verified`` column says otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, update
from sqlmodel import select

from dashboard.io.parsing import (
    Progress,
    TableReader,
    as_source,
    norm_key,
    number,
    parse_datetime,
)
from dashboard.io.runs import (
    Cells,
    ImportMapping,
    ImportReport,
    ImportRun,
    Labels,
    Territory,
    bulk_insert,
    table_rows,
    yes_no,
)
from dashboard.kernel.scope import Actor
from dashboard.volunteers import registry as vol
from models import Case, ResidentUnit, ServiceRecord, Volunteer, VolunteerSkill
from models.enums import SKILLS, CaseSource, PartyMemberKind, PoliticalStatus

_SKILL_SPLIT = r"[、,，;；/|\s]+"
_GENDERS = {
    norm_key(k): v
    for k, v in {"男": "男", "女": "女", "m": "男", "f": "女", "male": "男", "female": "女"}.items()
}
_PROBLEM_FIELD = {
    "vol.err.name_required": "name", "vol.err.name_long": "name", "vol.err.phone": "phone",
    "vol.err.grid_required": "grid", "vol.err.skill": "skills", "vol.err.skills_required": "skills",
    "vol.err.political": "political_status", "vol.err.party_kind": "party_kind",
    "vol.err.party_kind_status": "party_kind", "vol.err.birth_year": "birth_year",
}  # fmt: skip
"""Which column a registry validation problem belongs to."""


def _chunks(values: list[Any], size: int = 1000) -> Iterator[list[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


# ---------------------------------------------------------------- volunteers


@dataclass
class _VolunteerRecord:
    row: int
    external_id: str
    values: dict[str, Any]  # volunteers columns
    skills: frozenset[str]
    provided: set[str]


class _Volunteers:
    def __init__(self, run: ImportRun) -> None:
        self.run = run
        self.session = run.session
        self.terr = Territory(run.session)
        self.labels = Labels()
        self.units = {
            norm_key(name): uid for uid, name in self.session.exec(select(ResidentUnit.id, ResidentUnit.name))
        }
        self.seen: dict[str, int] = {}
        self.phones: dict[str, tuple[int, str]] = {}

    def _birth_year(self, c: Cells) -> int | None:
        raw = c.values.get("birth_year")
        try:
            value = number(raw)
            if value is not None and 1900 <= value <= 2100:
                return int(value)
        except ValueError:
            pass
        try:
            parsed = parse_datetime(raw)
        except ValueError:
            c.error("birth_year", "io.err.bad_date")
            return None
        return parsed.year if parsed else None

    def record(self, c: Cells) -> _VolunteerRecord | None:
        external_id = c.limited("external_id", 64, required=True)
        name = c.text("name")
        phone = vol.normalise_phone(c.text("phone"))
        gender = ""
        if c.has("gender"):
            gender = _GENDERS.get(norm_key(c.text("gender")), "")
            if not gender:
                c.warn("gender", "io.warn.unknown_value")
        birth_year = self._birth_year(c) if c.has("birth_year") else None
        grid = self.terr.grid_by_code.get(c.text("grid").upper())
        if c.has("grid") and grid is None:
            c.error("grid", "io.err.unknown_grid")
        skills = [s for s in re.split(_SKILL_SPLIT, c.text("skills")) if s]
        political = (
            self.labels.political.get(norm_key(c.text("political_status")), c.text("political_status"))
            if c.has("political_status")
            else PoliticalStatus.masses.value
        )
        party_kind = (
            self.labels.party_kind.get(norm_key(c.text("party_kind")), c.text("party_kind"))
            if c.has("party_kind")
            else PartyMemberKind.none.value
        )
        employer_id = None
        if c.has("employer"):
            employer_id = self.units.get(norm_key(c.text("employer")))
            if employer_id is None:
                c.warn("employer", "io.warn.unknown_unit")
        registered = c.date("registered_at") or self.run.now
        active = True
        if c.has("active"):
            flag = yes_no(c.values["active"])
            if flag is None:
                c.error("active", "io.err.yes_no")
            active = flag is not False
        data = vol.VolunteerInput(name=name, phone=phone, home_grid_id=grid[0] if grid else None, skills=skills,
                                  gender=gender, birth_year=birth_year, political_status=political,
                                  party_kind=party_kind, employer_unit_id=employer_id, active=active)  # fmt: skip
        for problem in vol.validate_volunteer(data, today_year=self.run.now.year):
            f = _PROBLEM_FIELD.get(problem.key, "name")
            if f == "grid" and c.has("grid"):
                continue  # already reported as an unknown grid
            c.error(f, problem.key, **problem.values)
        if phone and not c.bad:
            first = self.phones.setdefault(phone, (c.row, external_id))
            if first[1] != external_id:
                c.error("phone", "io.err.phone_twice", first=first[0])
        if c.bad or grid is None:
            return None
        values = {
            "name": name.strip(), "phone": phone, "gender": gender, "birth_year": birth_year,
            "home_grid_id": grid[0], "community_id": grid[1], "political_status": political, "party_kind": party_kind,
            "employer_unit_id": employer_id, "registered_at": registered, "active": active,
        }  # fmt: skip
        provided = {f for f in c.values if c.has(f)}
        return _VolunteerRecord(c.row, external_id, values, frozenset(skills), provided)

    def chunk(self, records: list[_VolunteerRecord]) -> None:
        run = self.run
        fresh = []
        for r in records:
            first = self.seen.get(r.external_id)
            if first is not None and first != r.row:
                run.error(r.row, "external_id", r.external_id, "io.err.duplicate_in_file", first=first)
                continue
            self.seen[r.external_id] = r.row
            fresh.append(r)
        existing: dict[str, Volunteer] = {}
        for part in _chunks([r.external_id for r in fresh]):
            existing.update(
                {
                    v.external_id: v
                    for v in self.session.exec(select(Volunteer).where(Volunteer.external_id.in_(part))).all()
                }
            )  # type: ignore[misc]
        owners: dict[str, str | None] = {}
        for part in _chunks([r.values["phone"] for r in fresh]):
            owners.update(
                dict(
                    self.session.exec(
                        select(Volunteer.phone, Volunteer.external_id).where(Volunteer.phone.in_(part))
                    ).all()
                )
            )  # type: ignore[arg-type]
        skills_of: dict[int, set[str]] = {}
        ids = [v.id for v in existing.values()]
        for part in _chunks(ids):
            for vid, skill in self.session.exec(
                select(VolunteerSkill.volunteer_id, VolunteerSkill.skill).where(
                    VolunteerSkill.volunteer_id.in_(part)
                )
            ):
                skills_of.setdefault(vid, set()).add(skill)
        new: list[_VolunteerRecord] = []
        for r in fresh:
            phone = r.values["phone"]
            if phone in owners and owners[phone] != r.external_id:
                run.error(r.row, "phone", phone, "io.err.phone_taken")
                continue
            old = existing.get(r.external_id)
            if old is None:
                run.report.new += 1
                new.append(r)
                continue
            changes = {
                k: v for k, v in r.values.items()
                if getattr(old, k) != v and (k in ("name", "phone", "home_grid_id", "community_id")
                                             or _provided_field(k) in r.provided)
            }  # fmt: skip
            skills_changed = set(r.skills) != skills_of.get(old.id, set())  # type: ignore[arg-type]
            if not changes and not skills_changed:
                run.report.unchanged += 1
                continue
            run.report.updated += 1
            if run.writing:
                if changes:
                    self.session.execute(update(Volunteer).where(Volunteer.id == old.id).values(**changes))
                if skills_changed:
                    self.session.execute(delete(VolunteerSkill).where(VolunteerSkill.volunteer_id == old.id))
                    bulk_insert(
                        self.session, VolunteerSkill, [{"volunteer_id": old.id, "skill": s} for s in r.skills]
                    )
        if new and run.writing:
            rows = [{**r.values, "external_id": r.external_id} for r in new]
            ids = bulk_insert(self.session, Volunteer, rows, returning="id")
            skills = [
                {"volunteer_id": vid, "skill": s}
                for vid, r in zip(ids, new, strict=True)
                for s in sorted(r.skills)
            ]
            bulk_insert(self.session, VolunteerSkill, skills)


def _provided_field(column: str) -> str:
    return {"home_grid_id": "grid", "community_id": "grid", "political_status": "political_status",
            "employer_unit_id": "employer", "registered_at": "registered_at"}.get(column, column)  # fmt: skip


def import_volunteers(
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
    """Volunteers from a CSV or xlsx file, upserted by external id (`convert` is accepted and unused:
    volunteers carry no coordinates)."""
    source = as_source(file, name)
    run = ImportRun(session, actor, "volunteers", source, commit=commit, skip_bad_rows=skip_bad_rows,
                    progress=progress)  # fmt: skip
    chosen = ImportMapping.of(mapping)

    def body(run: ImportRun) -> None:
        work = _Volunteers(run)
        with TableReader(source, "volunteers") as reader:
            for chunk in table_rows(run, reader, chosen, "volunteers"):
                run.report.rows += len(chunk)
                work.chunk([r for c in chunk if (r := work.record(c)) is not None])
        run.progress(1.0, f"{run.report.rows:,}")

    return run.execute(body)


# ---------------------------------------------------------------- service records


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
        external_id = c.limited("external_id", 64, required=True)
        ref = c.text("volunteer")
        by_phone = not ref
        if by_phone:
            ref = vol.normalise_phone(c.text("volunteer_phone"))
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
        start = c.date("start", required=True)
        end = c.date("end")
        if end is None and start is not None and not c.bad:
            hours = c.num("hours")
            if hours is None:
                c.error("end", "io.err.required")
            else:
                end = start + timedelta(hours=hours)
        if start is not None and end is not None:
            if end <= start:
                c.error("end", "io.err.end_before_start")
            elif (end - start) > timedelta(hours=vol.MAX_RECORD_HOURS):
                c.error("end", "io.err.too_long_service", hours=vol.MAX_RECORD_HOURS)
            elif end > self.run.now + timedelta(minutes=5):
                c.error("end", "io.err.future")
        note = c.limited("note", 200)
        verified = True
        if c.has("verified"):
            flag = yes_no(c.values["verified"])
            if flag is None:
                c.error("verified", "io.err.yes_no")
            verified = flag is not False
        if c.bad or start is None or end is None:
            return None
        return _ServiceRecord(c.row, external_id, ref, by_phone, grid_code, c.text("case"), skill, start, end, note,
                              verified, {f for f in c.values if c.has(f)})  # fmt: skip

    def _resolve(self, records: list[_ServiceRecord]) -> list[_ServiceRecord]:
        run = self.run
        by_ext: dict[str, tuple[int, int]] = {}
        by_phone: dict[str, tuple[int, int]] = {}
        ext_refs = sorted({r.volunteer_ref for r in records if not r.by_phone})
        phone_refs = sorted({r.volunteer_ref for r in records if r.by_phone})
        for part in _chunks(ext_refs):
            by_ext.update({e: (i, g) for i, e, g in self.session.exec(
                select(Volunteer.id, Volunteer.external_id, Volunteer.home_grid_id)
                .where(Volunteer.external_id.in_(part)))})  # fmt: skip
        for part in _chunks(phone_refs):
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
        for part in _chunks(case_refs):
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
                run.error(r.row, "volunteer_phone" if r.by_phone else "volunteer", r.volunteer_ref,
                          "io.err.unknown_volunteer")  # fmt: skip
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
            for part in _chunks(vids):
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
            clash = next((row for s, e, row in self.intervals.get(r.volunteer_id, []) if s < r.end and e > r.start),
                         None)  # fmt: skip
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
        for part in _chunks([r.external_id for r in fresh]):
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
                "volunteer_id": r.volunteer_id, "grid_id": r.grid_id, "skill": r.skill, "start": r.start, "end": r.end,
                "hours": round((r.end - r.start).total_seconds() / 3600, 2),
            }  # fmt: skip
            if "case" in r.provided:
                values["case_id"] = r.case_id
            if "note" in r.provided:
                values["note"] = r.note
            old = existing.get(r.external_id)
            if old is None:
                run.report.new += 1
                new.append({**values, "case_id": r.case_id, "note": r.note, "external_id": r.external_id,
                            "created_by": run.actor.id or None,
                            "verified_by": (run.actor.id or None) if r.verified else None,
                            "verified_at": run.now if r.verified else None})  # fmt: skip
                continue
            changes = {k: v for k, v in values.items() if getattr(old, k) != v}
            if "verified" in r.provided and (old.verified_by is not None) != r.verified:
                changes.update(verified_by=(run.actor.id or None) if r.verified else None,
                               verified_at=run.now if r.verified else None)  # fmt: skip
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
    run = ImportRun(session, actor, "service_records", source, commit=commit, skip_bad_rows=skip_bad_rows,
                    progress=progress)  # fmt: skip
    chosen = ImportMapping.of(mapping)

    def body(run: ImportRun) -> None:
        work = _ServiceRecords(run)
        with TableReader(source, "service_records") as reader:
            for chunk in table_rows(run, reader, chosen, "service_records"):
                run.report.rows += len(chunk)
                work.chunk([r for c in chunk if (r := work.record(c)) is not None])
        run.progress(1.0, f"{run.report.rows:,}")

    return run.execute(body)
