"""Organisation: departments (条), case categories with their time limits, users."""

from pydantic import NaiveDatetime
from sqlalchemy import String
from sqlmodel import Field, SQLModel

from models.enums import CalendarKind, DepartmentKind, Priority, Role


class Department(SQLModel, table=True):
    __tablename__ = "departments"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    code: str = Field(max_length=16, unique=True)
    kind: DepartmentKind = Field(sa_type=String(24), default=DepartmentKind.other)
    contact_name: str = Field(default="", max_length=32)
    contact_phone: str = Field(default="", max_length=32)
    active: bool = True


class Category(SQLModel, table=True):
    __tablename__ = "categories"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=8, unique=True)
    name_zh: str = Field(max_length=32)
    name_en: str = Field(max_length=64)
    sla_limit: float = Field(description="time limit, in units of the calendar")
    calendar: CalendarKind = Field(sa_type=String(16))
    response_limit: float = Field(description="response limit, in units of response_calendar")
    response_calendar: CalendarKind = Field(sa_type=String(16))
    priority_default: Priority = Field(sa_type=String(16), default=Priority.general)
    department_id: int | None = Field(default=None, foreign_key="departments.id")
    share: float = Field(default=0.0, description="rough share of a year's cases, for the seed")
    after_photo_required: bool = Field(default=False, description="resolve needs a 处置后 photo")
    active: bool = True
    updated_at: NaiveDatetime | None = None
    updated_by: int | None = Field(default=None, foreign_key="users.id")


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=64)
    role: Role = Field(sa_type=String(24), index=True)
    community_id: int | None = Field(default=None, foreign_key="communities.id")
    grid_id: int | None = Field(default=None, foreign_key="grids.id")
    department_id: int | None = Field(default=None, foreign_key="departments.id")
    phone: str = Field(default="", max_length=32)
    password_hash: str = Field(max_length=256)
    active: bool = True
    last_login_at: NaiveDatetime | None = None
    created_at: NaiveDatetime
    sso_subject: str | None = Field(default=None, max_length=256, unique=True)
