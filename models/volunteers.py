"""Volunteers, their skills, service records, and the need rules that drive coverage (DESIGN §7)."""

from pydantic import NaiveDatetime
from sqlalchemy import Column, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.enums import PartyMemberKind, PoliticalStatus


class Volunteer(SQLModel, table=True):
    __tablename__ = "volunteers"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    phone: str = Field(max_length=32, index=True)
    gender: str = Field(default="", max_length=4)
    birth_year: int | None = None
    home_grid_id: int = Field(foreign_key="grids.id", index=True)
    community_id: int = Field(foreign_key="communities.id", index=True)
    political_status: PoliticalStatus = Field(sa_type=String(16), default=PoliticalStatus.masses)
    party_kind: PartyMemberKind = Field(sa_type=String(16), default=PartyMemberKind.none)
    employer_unit_id: int | None = Field(default=None, foreign_key="resident_units.id", index=True)
    registered_at: NaiveDatetime
    active: bool = True
    external_id: str | None = Field(default=None, max_length=64, unique=True)


class VolunteerSkill(SQLModel, table=True):
    __tablename__ = "volunteer_skills"
    __table_args__ = (Index("ix_volunteer_skills_skill", "skill", "volunteer_id"),)

    volunteer_id: int = Field(foreign_key="volunteers.id", primary_key=True)
    skill: str = Field(max_length=16, primary_key=True)


class ServiceRecord(SQLModel, table=True):
    __tablename__ = "service_records"
    __table_args__ = (
        Index("ix_service_records_volunteer_start", "volunteer_id", "start"),
        Index("ix_service_records_grid_start", "grid_id", "start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    volunteer_id: int = Field(foreign_key="volunteers.id")
    grid_id: int = Field(foreign_key="grids.id")
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    skill: str = Field(max_length=16)
    start: NaiveDatetime
    end: NaiveDatetime
    hours: float
    note: str = Field(default="", max_length=200)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    verified_by: int | None = Field(default=None, foreign_key="users.id")
    verified_at: NaiveDatetime | None = None
    external_id: str | None = Field(default=None, max_length=64, unique=True)


class NeedRule(SQLModel, table=True):
    """One rule of the need model: need = ceil(basis / per), at least `minimum`.

    `basis` is a population field of `grids` (e.g. ``elderly_alone``), a sum of them joined with ``+``,
    or ``cases:CODE`` for the number of cases of a category in the last `window_days` days.
    """

    __tablename__ = "need_rules"
    __table_args__ = (UniqueConstraint("skill", "basis"),)

    id: int | None = Field(default=None, primary_key=True)
    skill: str = Field(max_length=16)
    basis: str = Field(max_length=64)
    per: float = Field(description="one volunteer per this many of basis; 0 = only the minimum")
    minimum: int = 0
    window_days: int = 90
    active: bool = True
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    updated_at: NaiveDatetime | None = None
    updated_by: int | None = Field(default=None, foreign_key="users.id")
