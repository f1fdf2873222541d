"""Cases (事件/案件), their append-only event log, escalations to departments and extension requests."""

from pydantic import NaiveDatetime
from sqlalchemy import Column, Index, String, Text, text
from sqlmodel import Field, SQLModel

from models.enums import (
    ACTIVE_STATUSES,
    OPEN_STATUSES,
    CaseSource,
    CaseStatus,
    EscalationLevel,
    Priority,
    Satisfaction,
)


def _status_in(statuses: tuple[CaseStatus, ...]) -> str:
    return "status IN ({})".format(", ".join(f"'{s.value}'" for s in statuses))


_ACTIVE_WHERE = _status_in(ACTIVE_STATUSES)
_OPEN_WHERE = _status_in(OPEN_STATUSES)
"""Partial indexes of the running and of the open cases (a fraction of a percent of all at a million): queries
use them through kpi.is_active() and kpi.is_open(), which repeat these terms verbatim."""


class Case(SQLModel, table=True):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status_due", "status", "due_at"),
        Index(
            "ix_cases_active",
            "status",
            "due_at",
            sqlite_where=text(_ACTIVE_WHERE),
            postgresql_where=text(_ACTIVE_WHERE),
        ),
        Index(
            "ix_cases_open",
            "status",
            "due_at",
            sqlite_where=text(_OPEN_WHERE),
            postgresql_where=text(_OPEN_WHERE),
        ),
        Index("ix_cases_grid_status", "grid_id", "status"),
        Index("ix_cases_grid_reported", "grid_id", "reported_at"),
        Index("ix_cases_community_status", "community_id", "status"),
        Index("ix_cases_category_reported", "category_id", "reported_at"),
        Index("ix_cases_closed_at", "closed_at"),
        Index("ix_cases_accepted_at", "accepted_at"),
        Index("ix_cases_resolved_at", "resolved_at"),
        Index("ix_cases_source_external", "source", "external_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=24, unique=True)
    category_id: int = Field(foreign_key="categories.id")  # indexed by ix_cases_category_reported
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    grid_id: int = Field(foreign_key="grids.id")  # indexed by ix_cases_grid_reported
    community_id: int = Field(foreign_key="communities.id", description="denormalised from grid")
    lon: float | None = None
    lat: float | None = None
    address: str = Field(default="", max_length=200)
    source: CaseSource = Field(sa_type=String(16))  # indexed by ix_cases_source_external
    external_id: str | None = Field(default=None, max_length=64)
    reporter_name: str = Field(default="", max_length=64)
    reporter_phone: str = Field(default="", max_length=32)
    reporter_anonymous: bool = False
    status: CaseStatus = Field(sa_type=String(16))  # indexed by ix_cases_status_due
    priority: Priority = Field(sa_type=String(16), default=Priority.general)
    assignee_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    department_id: int | None = Field(default=None, foreign_key="departments.id", index=True)
    reported_at: NaiveDatetime = Field(index=True)
    accepted_at: NaiveDatetime | None = None
    dispatched_at: NaiveDatetime | None = None
    resolved_at: NaiveDatetime | None = None
    verified_at: NaiveDatetime | None = None
    closed_at: NaiveDatetime | None = None
    due_at: NaiveDatetime | None = Field(default=None, index=True)
    response_due_at: NaiveDatetime | None = None
    # Ageing thresholds precomputed by the SLA engine so that queues filter ageing colour in SQL:
    # green before warn_at (25 % of the limit left), yellow until due_at, red until black_at, then black.
    warn_at: NaiveDatetime | None = None
    black_at: NaiveDatetime | None = None
    extension_count: int = 0
    rework_count: int = 0
    escalation_level: EscalationLevel | None = Field(default=None, sa_type=String(16))
    supervised: bool = False
    duplicate_of_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    satisfaction: Satisfaction | None = Field(default=None, sa_type=String(16))
    solved: bool | None = Field(default=None, description="closed as solved (解决率)")
    typical: bool = Field(default=False, description="典型案例, marked by the command centre (report, wall)")
    version: int = 1
    updated_at: NaiveDatetime | None = None


class CaseEvent(SQLModel, table=True):
    """Append-only audit trail of a case: one row per transition or side action."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case_at", "case_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id")
    at: NaiveDatetime = Field(index=True)
    actor_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    action: str = Field(max_length=32, index=True)
    from_status: CaseStatus | None = Field(default=None, sa_type=String(16))
    to_status: CaseStatus | None = Field(default=None, sa_type=String(16))
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    payload: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))


class CaseNumberCounter(SQLModel, table=True):
    """The last case number given out per day of intake: intakes take the next one with a single
    ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` (no search for a free number, no retries under load)."""

    __tablename__ = "case_number_counters"

    day: str = Field(primary_key=True, max_length=8, description="yyyymmdd")
    last: int = 0


class CaseEscalation(SQLModel, table=True):
    """One department called in by a whistle (吹哨报到); it must report back (报到) before resolution."""

    __tablename__ = "case_escalations"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    department_id: int = Field(foreign_key="departments.id", index=True)
    level: EscalationLevel = Field(sa_type=String(16))
    escalated_at: NaiveDatetime
    escalated_by: int | None = Field(default=None, foreign_key="users.id")
    due_at: NaiveDatetime | None = None
    reported_back_at: NaiveDatetime | None = None
    reported_back_by: int | None = Field(default=None, foreign_key="users.id")
    report: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class CaseExtension(SQLModel, table=True):
    """A request to extend a case's deadline (延期); approved or refused by a supervisor."""

    __tablename__ = "case_extensions"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    requested_by: int | None = Field(default=None, foreign_key="users.id")
    requested_at: NaiveDatetime
    amount: float = Field(description="extra time, in units of the category's calendar")
    reason: str = Field(sa_column=Column(Text, nullable=False))
    decision: str = Field(default="pending", max_length=16)  # pending / approved / refused
    decided_by: int | None = Field(default=None, foreign_key="users.id")
    decided_at: NaiveDatetime | None = None
    old_due_at: NaiveDatetime | None = None
    new_due_at: NaiveDatetime | None = None
