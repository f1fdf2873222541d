"""Territory: sub-district → community → grid → building, and resident units (驻区单位)."""

from datetime import date

from pydantic import NaiveDatetime
from sqlalchemy import Column, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.enums import CommunityKind


class Subdistrict(SQLModel, table=True):
    __tablename__ = "subdistricts"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    code: str = Field(max_length=16, unique=True)
    outline: str = Field(sa_column=Column(Text, nullable=False), description="GeoJSON geometry (WGS-84)")
    centroid_lon: float
    centroid_lat: float
    area_km2: float = 0.0


class Community(SQLModel, table=True):
    __tablename__ = "communities"

    id: int | None = Field(default=None, primary_key=True)
    subdistrict_id: int = Field(foreign_key="subdistricts.id", index=True)
    name: str = Field(max_length=64)
    code: str = Field(max_length=16, unique=True)
    kind: CommunityKind = Field(sa_type=String(16), default=CommunityKind.urban)
    outline: str = Field(sa_column=Column(Text, nullable=False), description="GeoJSON geometry (WGS-84)")
    centroid_lon: float
    centroid_lat: float


class Grid(SQLModel, table=True):
    __tablename__ = "grids"

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="communities.id", index=True)
    code: str = Field(max_length=16, unique=True)
    name: str = Field(max_length=64)
    polygon: str = Field(sa_column=Column(Text, nullable=False), description="GeoJSON geometry (WGS-84)")
    centroid_lon: float
    centroid_lat: float
    households: int = 0
    residents: int = 0  # registered (户籍)
    actual_residents: int = 0  # actually living there (实有人口), registered + floating + others
    elderly_60: int = 0
    elderly_alone: int = 0  # 空巢/独居
    elderly_solitary: int = 0  # 孤寡
    disabled: int = 0
    low_income: int = 0  # 低保
    special_care: int = 0  # 优抚对象
    left_behind_children: int = 0  # 留守儿童
    floating: int = 0  # 流动人口
    unemployed: int = 0
    party_members: int = 0
    # users.id of the current grid worker; no FK constraint because users.grid_id points back here.
    worker_id: int | None = Field(default=None, index=True)
    population_as_of: date | None = None


class Building(SQLModel, table=True):
    """A building or courtyard (楼栋/院落) inside a grid, the unit of a visit round."""

    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("grid_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    grid_id: int = Field(foreign_key="grids.id", index=True)
    name: str = Field(max_length=64)
    households: int = 0
    lon: float
    lat: float


class ResidentUnit(SQLModel, table=True):
    """A unit based in the sub-district (驻区单位) whose in-work Party members report to communities."""

    __tablename__ = "resident_units"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True)
    kind: str = Field(max_length=32, default="")
    community_id: int | None = Field(default=None, foreign_key="communities.id")


class GridWorkerHistory(SQLModel, table=True):
    """Who held a grid when, so figures per worker stay right after a reassignment."""

    __tablename__ = "grid_worker_history"

    id: int | None = Field(default=None, primary_key=True)
    grid_id: int = Field(foreign_key="grids.id", index=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    started_at: NaiveDatetime
    ended_at: NaiveDatetime | None = None


class GridPopulationHistory(SQLModel, table=True):
    """Population aggregates of a grid as they applied from a date (JSON of POPULATION_FIELDS + totals)."""

    __tablename__ = "grid_population_history"

    id: int | None = Field(default=None, primary_key=True)
    grid_id: int = Field(foreign_key="grids.id", index=True)
    effective_from: date
    figures: str = Field(sa_column=Column(Text, nullable=False))
    changed_by: int | None = Field(default=None, foreign_key="users.id")
    changed_at: NaiveDatetime
