"""Field activity and system records: grid visits (走访), the audit log, settings, display links, sessions,
failed login attempts, local calendar overrides and the statutory schedules an administrator entered."""

from datetime import date

from pydantic import NaiveDatetime
from sqlalchemy import Column, Index, String, Text
from sqlmodel import Field, SQLModel

from models.enums import CalendarOverrideKind


class GridVisit(SQLModel, table=True):
    __tablename__ = "grid_visits"
    __table_args__ = (Index("ix_grid_visits_grid_at", "grid_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    worker_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    grid_id: int = Field(foreign_key="grids.id")
    building_id: int | None = Field(default=None, foreign_key="buildings.id", index=True)
    households_visited: int = 1
    at: NaiveDatetime = Field(index=True)
    met: str = Field(default="", max_length=64)
    groups: str = Field(default="[]", max_length=400, description="JSON list of population fields concerned")
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    case_id: int | None = Field(default=None, foreign_key="cases.id")


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_action_at", "action", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    actor_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    actor_name: str = Field(default="", max_length=64)
    at: NaiveDatetime = Field(index=True)
    action: str = Field(max_length=32)
    target: str = Field(default="", max_length=200)
    outcome: str = Field(default="ok", max_length=16)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class Setting(SQLModel, table=True):
    """System settings changeable at run time; defaults come from configuration."""

    __tablename__ = "settings"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: NaiveDatetime | None = None
    updated_by: int | None = Field(default=None, foreign_key="users.id")


class DisplayLink(SQLModel, table=True):
    """A revocable read-only link for a wall screen; only the token's hash is stored."""

    __tablename__ = "display_links"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    token_hash: str = Field(max_length=128, unique=True)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: NaiveDatetime
    revoked_at: NaiveDatetime | None = None
    last_seen_at: NaiveDatetime | None = None


class UserSession(SQLModel, table=True):
    """A login session; the browser keeps a signed cookie naming it, so a reload stays logged in."""

    __tablename__ = "user_sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=128, unique=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    created_at: NaiveDatetime
    last_seen_at: NaiveDatetime
    revoked_at: NaiveDatetime | None = None


class LoginAttempt(SQLModel, table=True):
    """Failed password logins counted per (username, source address), and per source address alone
    (``username == ""``): how many, since when, and until when further attempts are refused."""

    __tablename__ = "login_attempts"

    username: str = Field(primary_key=True, max_length=64, description="normalised; '' = the address")
    source: str = Field(primary_key=True, max_length=64)
    failures: int = 0
    window_started_at: NaiveDatetime
    last_failure_at: NaiveDatetime = Field(index=True)
    blocked_until: NaiveDatetime | None = None


class CalendarOverride(SQLModel, table=True):
    """A local closure (non-working day) or extra working day that the SLA engine respects."""

    __tablename__ = "calendar_overrides"

    day: date = Field(primary_key=True)
    kind: CalendarOverrideKind = Field(sa_type=String(16))
    note: str = Field(default="", max_length=200)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: NaiveDatetime | None = None


class StatutoryDay(SQLModel, table=True):
    """A day of a year's statutory schedule (国务院办公厅 notice) entered by an administrator: a day off
    (放假) or a make-up working day (调休上班). A notice year with any row here is held: its other days follow
    the weekends, and these rows win over the calendar package."""

    __tablename__ = "calendar_statutory_days"

    day: date = Field(primary_key=True)
    year: int = Field(index=True, description="the notice's year (its 元旦 may start in December before)")
    working: bool
    name: str = Field(default="", max_length=40)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: NaiveDatetime | None = None
