"""Early warning (研判预警): the alerts of each morning's run, the overdue risk of every open case, and the runs
themselves (which replica claimed a day, how long it took, what it found, how good the risk model was).

Alerts are computed by ``dashboard.reporting.warning.run`` and only read by the screens, so replicas agree and
no page recomputes them.
"""

from datetime import date

from pydantic import NaiveDatetime
from sqlalchemy import Column, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.enums import AlertKind, AlertScope, AlertStatus


class Alert(SQLModel, table=True):
    """One finding of one day's run: where (`scope_type`, `scope_code`), what (`category_id`), how unusual
    (`observed` against `expected`, `score` a p-value or a probability), since when, and the cases.

    `key` names the finding independently of the day (kind, scope, category), so a rerun replaces the same
    day's alert in place and what a user did about it (`status`, `acted_by`, `reason`) survives. `grid_ids` and
    `community_ids` are the territory it touches as ``|3|17|`` (a cluster of grids may cross communities):
    the scope filter matches ``|id|`` inside them."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("day", "key", name="uq_alerts_day_key"),
        Index("ix_alerts_day_kind", "day", "kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    day: date
    key: str = Field(max_length=160)
    kind: AlertKind = Field(sa_type=String(16))
    scope_type: AlertScope = Field(sa_type=String(16))
    scope_code: str = Field(max_length=64)
    scope_name: str = Field(default="", max_length=200)
    category_id: int | None = Field(default=None, foreign_key="categories.id")
    grid_ids: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    community_ids: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    observed: float = 0.0
    expected: float = 0.0
    score: float = Field(default=1.0, description="p-value (spike, hotspot) or probability (risk)")
    since: date
    case_ids: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    evidence: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    status: AlertStatus = Field(sa_type=String(16), default=AlertStatus.open)
    acted_by: int | None = Field(default=None, foreign_key="users.id")
    acted_at: NaiveDatetime | None = None
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    computed_at: NaiveDatetime


class CaseRisk(SQLModel, table=True):
    """The overdue risk of an open case as of the last run: the calibrated probability of missing its deadline
    and the factors that moved it most (JSON list of ``[factor, value, contribution]``)."""

    __tablename__ = "case_risks"

    case_id: int = Field(foreign_key="cases.id", primary_key=True)
    probability: float = Field(index=True)
    factors: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    computed_at: NaiveDatetime


class AlertRun(SQLModel, table=True):
    """One day's run, and its claim: the replica that inserts (or takes over) the row for a day computes it,
    the others wait for the stored result. `counts` is JSON per kind; `calibration` the risk model's table of
    predicted against observed overdue by decile on the held-back month; `hotspots` every grid's Gi* per
    category, for the map layer."""

    __tablename__ = "alert_runs"

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(unique=True)
    state: str = Field(default="running", max_length=16, description="running / done / failed")
    claimed_by: str = Field(default="", max_length=64)
    started_at: NaiveDatetime
    finished_at: NaiveDatetime | None = None
    duration_s: float | None = None
    counts: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    model_auc: float | None = None
    model_rows: int | None = None
    calibration: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    hotspots: str = Field(
        default="{}",
        sa_column=Column(Text, nullable=False, default="{}"),
        description="the map layer: JSON {category code: [[grid id, z, p], …]} of every grid's Gi*",
    )
    error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
