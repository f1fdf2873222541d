"""Import of volunteers from spreadsheets (CSV, Excel), upserted by ``external_id`` (the file's own id
column, required): a row whose id is already stored updates that volunteer, or is counted unchanged. Rows
go through the registry's own field checks (``registry.validate_volunteer``), and a phone number may
belong to one volunteer only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import select

from dashboard.io.headers import norm_key
from dashboard.io.labels import Labels
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
from dashboard.io.values import number, parse_datetime
from dashboard.kernel.scope import Actor
from dashboard.kernel.text import mobile_digits
from dashboard.volunteers import registry as vol
from models import ResidentUnit, Volunteer, VolunteerSkill
from models.enums import PartyMemberKind, PoliticalStatus

_SKILL_SPLIT = r"[、,，;；/|\s]+"
_GENDERS = {
    norm_key(k): v
    for k, v in {"男": "男", "女": "女", "m": "男", "f": "女", "male": "男", "female": "女"}.items()
}
_PROBLEM_FIELD = {
    "vol.err.name_required": "name",
    "vol.err.name_long": "name",
    "vol.err.phone": "phone",
    "vol.err.grid_required": "grid",
    "vol.err.skill": "skills",
    "vol.err.skills_required": "skills",
    "vol.err.political": "political_status",
    "vol.err.party_kind": "party_kind",
    "vol.err.party_kind_status": "party_kind",
    "vol.err.birth_year": "birth_year",
}
"""Which column a registry validation problem belongs to."""


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
            c.drop("birth_year", "io.warn.bad_date", format="ymd")  # optional: left out
            return None
        return parsed.year if parsed else None

    def record(self, c: Cells) -> _VolunteerRecord | None:
        """The row's record, or None when it has an error (checked by the registry's own rules)."""
        external_id = c.limited("external_id", 64, required=True)
        name = c.text("name")
        phone = mobile_digits(c.text("phone"))
        gender = self._gender(c)
        birth_year = self._birth_year(c) if c.has("birth_year") else None
        grid = self.terr.grid_by_code.get(c.text("grid").upper())
        if c.has("grid") and grid is None:
            c.error("grid", "io.err.unknown_grid")
        skills = [s for s in re.split(_SKILL_SPLIT, c.text("skills")) if s]
        political, party_kind = self._party(c)
        employer_id = self._employer(c)
        registered = c.date("registered_at") or self.run.now
        active = c.flag("active")
        data = vol.VolunteerInput(
            name=name,
            phone=phone,
            home_grid_id=grid[0] if grid else None,
            skills=skills,
            gender=gender,
            birth_year=birth_year,
            political_status=political,
            party_kind=party_kind,
            employer_unit_id=employer_id,
            active=active,
        )
        self._validate(c, data, external_id)
        if c.bad or grid is None:
            return None
        values = {
            "name": name.strip(),
            "phone": phone,
            "gender": gender,
            "birth_year": birth_year,
            "home_grid_id": grid[0],
            "community_id": grid[1],
            "political_status": political,
            "party_kind": party_kind,
            "employer_unit_id": employer_id,
            "registered_at": registered,
            "active": active,
        }
        provided = {f for f in c.values if c.has(f)}
        return _VolunteerRecord(c.row, external_id, values, frozenset(skills), provided)

    def _gender(self, c: Cells) -> str:
        if not c.has("gender"):
            return ""
        gender = _GENDERS.get(norm_key(c.text("gender")), "")
        if not gender:
            c.warn("gender", "io.warn.unknown_value")
        return gender

    def _party(self, c: Cells) -> tuple[str, str]:
        """(political status, party member kind) by value or label; unknown spellings are left for the
        registry's check to report."""
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
        return political, party_kind

    def _employer(self, c: Cells) -> int | None:
        if not c.has("employer"):
            return None
        employer_id = self.units.get(norm_key(c.text("employer")))
        if employer_id is None:
            c.warn("employer", "io.warn.unknown_unit")
        return employer_id

    def _validate(self, c: Cells, data: vol.VolunteerInput, external_id: str) -> None:
        """The registry's problems, each against its column; a phone number may appear once in the file."""
        for problem in vol.validate_volunteer(data, today_year=self.run.now.year):
            f = _PROBLEM_FIELD.get(problem.key, "name")
            if f == "grid" and c.has("grid"):
                continue  # already reported as an unknown grid
            c.error(f, problem.key, **problem.values)
        if data.phone and not c.bad:
            first = self.phones.setdefault(data.phone, (c.row, external_id))
            if first[1] != external_id:
                c.error("phone", "io.err.phone_twice", first=first[0])

    def chunk(self, records: list[_VolunteerRecord]) -> None:
        """Count (and, while writing, store) a chunk of records: new, updated or unchanged."""
        run = self.run
        fresh = self._first_occurrences(records)
        existing, owners, skills_of = self._stored(fresh)
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
                k: v
                for k, v in r.values.items()
                if getattr(old, k) != v and (k in _ALWAYS_COMPARED or _provided_field(k) in r.provided)
            }
            skills_changed = set(r.skills) != skills_of.get(old.id, set())  # type: ignore[arg-type]
            if not changes and not skills_changed:
                run.report.unchanged += 1
                continue
            run.report.updated += 1
            if run.writing:
                self._update(old, r, changes, skills_changed)
        if new and run.writing:
            self._insert(new)

    def _first_occurrences(self, records: list[_VolunteerRecord]) -> list[_VolunteerRecord]:
        """The records whose external id the file has not given before (a repeat is a row error)."""
        fresh = []
        for r in records:
            first = self.seen.get(r.external_id)
            if first is not None and first != r.row:
                self.run.error(r.row, "external_id", r.external_id, "io.err.duplicate_in_file", first=first)
                continue
            self.seen[r.external_id] = r.row
            fresh.append(r)
        return fresh

    def _stored(
        self, fresh: list[_VolunteerRecord]
    ) -> tuple[dict[str, Volunteer], dict[str, str | None], dict[int, set[str]]]:
        """(stored volunteers by external id, owner's external id by phone, stored skills by volunteer id)."""
        existing: dict[str, Volunteer] = {}
        for part in batches([r.external_id for r in fresh]):
            existing.update(
                {
                    v.external_id: v
                    for v in self.session.exec(select(Volunteer).where(Volunteer.external_id.in_(part))).all()
                }
            )  # type: ignore[misc]
        owners: dict[str, str | None] = {}
        for part in batches([r.values["phone"] for r in fresh]):
            owners.update(
                dict(
                    self.session.exec(
                        select(Volunteer.phone, Volunteer.external_id).where(Volunteer.phone.in_(part))
                    ).all()
                )
            )  # type: ignore[arg-type]
        skills_of: dict[int, set[str]] = {}
        ids = [v.id for v in existing.values()]
        for part in batches(ids):
            for vid, skill in self.session.exec(
                select(VolunteerSkill.volunteer_id, VolunteerSkill.skill).where(
                    VolunteerSkill.volunteer_id.in_(part)
                )
            ):
                skills_of.setdefault(vid, set()).add(skill)
        return existing, owners, skills_of

    def _update(
        self, old: Volunteer, r: _VolunteerRecord, changes: dict[str, Any], skills_changed: bool
    ) -> None:
        if changes:
            self.session.execute(update(Volunteer).where(Volunteer.id == old.id).values(**changes))
        if skills_changed:
            self.session.execute(delete(VolunteerSkill).where(VolunteerSkill.volunteer_id == old.id))
            bulk_insert(
                self.session, VolunteerSkill, [{"volunteer_id": old.id, "skill": s} for s in r.skills]
            )

    def _insert(self, new: list[_VolunteerRecord]) -> None:
        rows = [{**r.values, "external_id": r.external_id} for r in new]
        ids = bulk_insert(self.session, Volunteer, rows, returning="id")
        skills = [
            {"volunteer_id": vid, "skill": s}
            for vid, r in zip(ids, new, strict=True)
            for s in sorted(r.skills)
        ]
        bulk_insert(self.session, VolunteerSkill, skills)


_ALWAYS_COMPARED = frozenset({"name", "phone", "home_grid_id", "community_id"})
"""Volunteer columns a row always sets (required); the others change only where the row gives a value."""

_COLUMN_FIELD = {"home_grid_id": "grid", "community_id": "grid", "employer_unit_id": "employer"}
"""The import field of a volunteers column, where the names differ."""


def _provided_field(column: str) -> str:
    return _COLUMN_FIELD.get(column, column)


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
    run = ImportRun(
        session, actor, "volunteers", source, commit=commit, skip_bad_rows=skip_bad_rows, progress=progress
    )
    chosen = ImportMapping.of(mapping)

    def body(run: ImportRun) -> None:
        work = _Volunteers(run)
        with TableReader(source, "volunteers") as reader:
            for chunk in table_rows(run, reader, chosen, "volunteers"):
                run.report.rows += len(chunk)
                work.chunk([r for c in chunk if (r := work.record(c)) is not None])
        run.progress(1.0, f"{run.report.rows:,}")

    return run.execute(body)
