"""Reading one case: its detail, timeline and the grid workers it can go to."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from dashboard.cases.change import CaseState
from dashboard.i18n import t_plain
from dashboard.kernel.scope import Actor, case_filter, grid_filter
from models import Case, CaseEscalation, CaseEvent, CaseExtension, Category, Community, Department, Grid, User
from models.enums import (
    CalendarKind,
    CaseSource,
    CaseStatus,
    EscalationLevel,
    Priority,
    Role,
    Satisfaction,
)

R = Role


@dataclass(frozen=True)
class EscalationView:
    id: int
    department_id: int
    department: str
    level: EscalationLevel
    escalated_at: datetime
    escalated_by: str
    due_at: datetime | None
    reported_back_at: datetime | None
    reported_back_by: str
    report: str


@dataclass(frozen=True)
class ExtensionView:
    id: int
    requested_by: str
    requested_at: datetime
    amount: float
    reason: str
    decision: str
    decided_by: str
    decided_at: datetime | None
    old_due_at: datetime | None
    new_due_at: datetime | None


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    actor: str
    action: str
    from_status: CaseStatus | None
    to_status: CaseStatus | None
    note: str
    payload: dict[str, Any]
    event_id: int | None = None  # its case_events row (photos name the event they came with)


@dataclass(frozen=True)
class CaseDetail:
    """Everything the case page shows, as plain values (personal data unmasked: the page masks)."""

    id: int
    number: str
    version: int
    status: CaseStatus
    title: str
    description: str
    category_id: int
    category_code: str
    category_zh: str
    category_en: str
    calendar: CalendarKind
    sla_limit: float
    default_department_id: int | None
    priority: Priority
    source: CaseSource
    external_id: str | None
    grid_id: int
    grid_code: str
    grid_name: str
    grid_polygon: str
    grid_lon: float
    grid_lat: float
    community_id: int
    community: str
    lon: float | None
    lat: float | None
    address: str
    reporter_name: str
    reporter_phone: str
    reporter_anonymous: bool
    assignee_id: int | None
    assignee: str
    department_id: int | None
    department: str
    reported_at: datetime
    accepted_at: datetime | None
    dispatched_at: datetime | None
    resolved_at: datetime | None
    verified_at: datetime | None
    closed_at: datetime | None
    due_at: datetime | None
    response_due_at: datetime | None
    warn_at: datetime | None
    black_at: datetime | None
    extension_count: int
    rework_count: int
    escalation_level: EscalationLevel | None
    supervised: bool
    duplicate_of_id: int | None
    duplicate_of: str
    satisfaction: Satisfaction | None
    solved: bool | None
    escalations: list[EscalationView] = field(default_factory=list)
    extensions: list[ExtensionView] = field(default_factory=list)

    @property
    def state(self) -> CaseState:
        return CaseState(
            status=self.status,
            grid_id=self.grid_id,
            community_id=self.community_id,
            assignee_id=self.assignee_id,
            department_id=self.department_id,
            reporter_anonymous=self.reporter_anonymous,
            satisfaction=self.satisfaction,
            duplicate_of_id=self.duplicate_of_id,
            pending_escalations=frozenset(
                e.department_id for e in self.escalations if e.reported_back_at is None
            ),
            pending_extension=any(x.decision == "pending" for x in self.extensions),
        )


# ---------------------------------------------------------------- reading one case


def find_case_id(session: Session, actor: Actor, number: str) -> int | None:
    """The id of the case with this public number, if it is in the actor's scope."""
    number = (number or "").strip().upper()
    if not number:
        return None
    return session.exec(select(Case.id).where(Case.number == number, case_filter(actor))).first()


def _names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return dict(session.exec(select(User.id, User.display_name).where(User.id.in_(wanted))).all())  # type: ignore[arg-type]


def case_detail(session: Session, actor: Actor, case_id: int) -> CaseDetail | None:
    """The case with its lookups, escalations and extensions; None when not found or not in scope."""
    case = session.exec(select(Case).where(Case.id == case_id, case_filter(actor))).first()
    if case is None:
        return None
    category = session.get(Category, case.category_id)
    grid = session.get(Grid, case.grid_id)
    community = session.get(Community, case.community_id)
    dept = session.get(Department, case.department_id) if case.department_id else None
    dup = session.get(Case, case.duplicate_of_id) if case.duplicate_of_id else None
    assert category is not None and grid is not None and community is not None
    esc_rows = session.exec(
        select(CaseEscalation, Department.name)
        .join(Department, Department.id == CaseEscalation.department_id)
        .where(CaseEscalation.case_id == case.id)
        .order_by(CaseEscalation.escalated_at, CaseEscalation.id)
    ).all()
    ext_rows = session.exec(
        select(CaseExtension).where(CaseExtension.case_id == case.id).order_by(CaseExtension.requested_at)
    ).all()
    names = _names(
        session,
        [case.assignee_id]
        + [e.escalated_by for e, _ in esc_rows]
        + [e.reported_back_by for e, _ in esc_rows]
        + [x.requested_by for x in ext_rows]
        + [x.decided_by for x in ext_rows],
    )
    escalations = [
        EscalationView(
            id=e.id,  # type: ignore[arg-type]
            department_id=e.department_id,
            department=name,
            level=EscalationLevel(e.level),
            escalated_at=e.escalated_at,
            escalated_by=names.get(e.escalated_by or 0, ""),
            due_at=e.due_at,
            reported_back_at=e.reported_back_at,
            reported_back_by=names.get(e.reported_back_by or 0, ""),
            report=e.report,
        )
        for e, name in esc_rows
    ]
    extensions = [
        ExtensionView(
            id=x.id,  # type: ignore[arg-type]
            requested_by=names.get(x.requested_by or 0, ""),
            requested_at=x.requested_at,
            amount=x.amount,
            reason=x.reason,
            decision=x.decision,
            decided_by=names.get(x.decided_by or 0, ""),
            decided_at=x.decided_at,
            old_due_at=x.old_due_at,
            new_due_at=x.new_due_at,
        )
        for x in ext_rows
    ]
    return CaseDetail(
        id=case.id,  # type: ignore[arg-type]
        number=case.number,
        version=case.version,
        status=CaseStatus(case.status),
        title=case.title,
        description=case.description,
        category_id=category.id,  # type: ignore[arg-type]
        category_code=category.code,
        category_zh=category.name_zh,
        category_en=category.name_en,
        calendar=CalendarKind(category.calendar),
        sla_limit=category.sla_limit,
        default_department_id=category.department_id,
        priority=Priority(case.priority),
        source=CaseSource(case.source),
        external_id=case.external_id,
        grid_id=grid.id,  # type: ignore[arg-type]
        grid_code=grid.code,
        grid_name=grid.name,
        grid_polygon=grid.polygon,
        grid_lon=grid.centroid_lon,
        grid_lat=grid.centroid_lat,
        community_id=community.id,  # type: ignore[arg-type]
        community=community.name,
        lon=case.lon,
        lat=case.lat,
        address=case.address,
        reporter_name=case.reporter_name,
        reporter_phone=case.reporter_phone,
        reporter_anonymous=case.reporter_anonymous,
        assignee_id=case.assignee_id,
        assignee=names.get(case.assignee_id or 0, ""),
        department_id=case.department_id,
        department=dept.name if dept else "",
        reported_at=case.reported_at,
        accepted_at=case.accepted_at,
        dispatched_at=case.dispatched_at,
        resolved_at=case.resolved_at,
        verified_at=case.verified_at,
        closed_at=case.closed_at,
        due_at=case.due_at,
        response_due_at=case.response_due_at,
        warn_at=case.warn_at,
        black_at=case.black_at,
        extension_count=case.extension_count,
        rework_count=case.rework_count,
        escalation_level=EscalationLevel(case.escalation_level) if case.escalation_level else None,
        supervised=case.supervised,
        duplicate_of_id=case.duplicate_of_id,
        duplicate_of=dup.number if dup else "",
        satisfaction=Satisfaction(case.satisfaction) if case.satisfaction else None,
        solved=case.solved,
        escalations=escalations,
        extensions=extensions,
    )


def timeline(session: Session, actor: Actor, case_id: int) -> list[TimelineEntry]:
    """The case's events, oldest first, with the actors' names (empty when not in scope)."""
    if session.exec(select(Case.id).where(Case.id == case_id, case_filter(actor))).first() is None:
        return []
    rows = session.exec(
        select(CaseEvent, User.display_name)
        .outerjoin(User, User.id == CaseEvent.actor_id)
        .where(CaseEvent.case_id == case_id)
        .order_by(CaseEvent.at, CaseEvent.id)
    ).all()
    out = []
    for event, name in rows:
        try:
            payload = json.loads(event.payload or "{}")
        except ValueError:
            payload = {}
        out.append(
            TimelineEntry(
                at=event.at,
                actor=name or "",
                action=event.action,
                from_status=CaseStatus(event.from_status) if event.from_status else None,
                to_status=CaseStatus(event.to_status) if event.to_status else None,
                note=event.note,
                payload=payload if isinstance(payload, dict) else {},
                event_id=event.id,
            )
        )
    return out


def grid_workers(session: Session, actor: Actor) -> list[tuple[int, str, str]]:
    """(user id, display name, grid code) of active grid workers the actor may dispatch to."""
    stmt = (
        select(User.id, User.display_name, Grid.code)
        .join(Grid, Grid.id == User.grid_id)
        .where(User.role == R.grid_worker, User.active.is_(True), grid_filter(actor))
        .order_by(Grid.code, User.display_name)
    )
    return [(uid, name, code) for uid, name, code in session.exec(stmt).all()]  # type: ignore[misc]


def event_summary(action: str, payload: dict[str, Any], lang: str | None = None) -> str:
    """A short plain description of an event's payload (assignee, departments, satisfaction …)."""
    parts = []
    for key in ("assignee", "department", "duplicate_of", "merged"):
        if payload.get(key):
            parts.append(f"{t_plain(f'timeline.{key}', lang)}: {payload[key]}")
    if payload.get("departments"):
        parts.append(
            f"{t_plain('timeline.departments', lang)}: {'、'.join(map(str, payload['departments']))}"
        )
    for kind in ("escalation", "satisfaction"):
        value = payload.get("level" if kind == "escalation" else kind)
        if value:
            parts.append(t_plain(f"enum.{kind}.{value}", lang))
    if "amount" in payload and action.startswith("extend"):
        parts.append(t_plain("timeline.amount", lang, amount=payload["amount"]))
    if payload.get("new_due_at"):
        parts.append(f"{t_plain('timeline.new_due', lang)}: {str(payload['new_due_at'])[:16]}")
    if action == "close" and "solved" in payload:
        parts.append(t_plain("timeline.solved" if payload["solved"] else "timeline.unsolved", lang))
    if action == "support" and payload.get("supporters"):
        parts.append(t_plain("timeline.supporters", lang, n=payload["supporters"]))
    return " · ".join(parts)
