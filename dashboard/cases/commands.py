"""The case loop (DESIGN §5): intake, every transition and side action, duplicates, and the case view.

Every operation goes through :func:`_run`, which

1. loads the case *inside the actor's scope* (a case outside it is "not found", never "forbidden", so
   a URL cannot reveal that a number exists),
2. compares the caller's `version` with the stored one (optimistic locking: the user acted on what
   they saw; if someone changed the case since, :class:`StaleCase` names who and when),
3. checks the actor's role and relation to the case (:func:`_refusal`), the move against the
   transition table of :mod:`dashboard.cases.workflow`, and the action's own preconditions,
4. writes the change with ``UPDATE … WHERE id = :id AND version = :version`` (so a concurrent
   writer that slipped in between loses cleanly) and appends one ``case_events`` row, all in the
   caller's transaction.

Errors carry an i18n key and values (:class:`CaseError`); pages translate them. Nothing here commits:
the caller's session scope does, or rolls everything back on an error.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, cast, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from dashboard import clock
from dashboard.cases import sla, workflow
from dashboard.kernel.scope import SUPERVISOR_ROLES, Actor, case_filter, grid_filter
from dashboard.reporting.kpi import not_duplicate
from dashboard.territory.geo import GridLocator, haversine_m
from models import Case, CaseEscalation, CaseEvent, CaseExtension, Category, Community, Department, Grid, User
from models.enums import (
    OPEN_STATUSES,
    CalendarKind,
    CaseSource,
    CaseStatus,
    EscalationLevel,
    Priority,
    Role,
    Satisfaction,
)

S = CaseStatus
R = Role

NUMBER_PREFIX = "XL"
"""Case numbers are ``XL{yyyymmdd}-{seq:04d}`` (项里), unique per day of intake."""

DUPLICATE_RADIUS_M = 50.0
DUPLICATE_WINDOW = timedelta(hours=24)

ESCALATION_LIMITS: dict[EscalationLevel, tuple[float, CalendarKind]] = {
    EscalationLevel.daily: (1, CalendarKind.working_days),  # 日常哨
    EscalationLevel.tough: (3, CalendarKind.working_days),  # 攻坚哨: joint work on a hard problem
    EscalationLevel.emergency: (2, CalendarKind.natural_hours),  # 应急哨: on site and reported within 2 h
}
"""How long a called-in department has to report back (报到), per whistle level."""

_LEVEL_RANK = {EscalationLevel.daily: 1, EscalationLevel.tough: 2, EscalationLevel.emergency: 3}

HANDLER_ROLES = frozenset({R.grid_worker, R.department})
INTAKE_ROLES = frozenset({R.admin, R.operator, R.community, R.grid_worker})

ACTION_ROLES: dict[str, frozenset[Role]] = {
    "accept": SUPERVISOR_ROLES,
    "reject": SUPERVISOR_ROLES,
    "dispatch": SUPERVISOR_ROLES,
    "start": SUPERVISOR_ROLES | HANDLER_ROLES,
    "return": SUPERVISOR_ROLES | HANDLER_ROLES,
    "resolve": SUPERVISOR_ROLES | HANDLER_ROLES,
    "rework": SUPERVISOR_ROLES,
    "verify": SUPERVISOR_ROLES,
    "follow_up": SUPERVISOR_ROLES | frozenset({R.grid_worker}),  # 回访 by phone or at the door, in own grid
    "close": SUPERVISOR_ROLES,
    "reopen": SUPERVISOR_ROLES,
    "merge": SUPERVISOR_ROLES,
    "extend_request": SUPERVISOR_ROLES | HANDLER_ROLES,
    "extend_approve": SUPERVISOR_ROLES,
    "extend_refuse": SUPERVISOR_ROLES,
    "supervise": SUPERVISOR_ROLES,
    "escalate": SUPERVISOR_ROLES | frozenset({R.grid_worker}),
    "report_back": SUPERVISOR_ROLES | frozenset({R.department}),
    "comment": SUPERVISOR_ROLES | HANDLER_ROLES,
}
"""Who may do what (scope is checked separately: the case must be in the actor's scope)."""

ACTIONS: tuple[str, ...] = tuple(ACTION_ROLES)
"""Every action a user can take on an existing case, in the order the detail page offers them."""

_HANDLER_ONLY_ACTIONS = frozenset({"start", "return", "resolve", "extend_request"})
"""Actions a department may take only on cases dispatched to it (an escalation lets it report back)."""


# ---------------------------------------------------------------- errors


class CaseError(Exception):
    """A refused case operation. `key` is an i18n key; `values` fill its placeholders.

    Values named ``status`` (a CaseStatus value) and ``action`` (an action name) are raw identifiers that
    the page shows through their labels.
    """

    key = "errors.generic"

    def __init__(self, key: str | None = None, **values: Any) -> None:
        self.key = key or type(self).key
        self.values = values
        super().__init__(f"{self.key} {values}" if values else self.key)


class CaseNotFound(CaseError):
    """No such case in the actor's scope (deliberately the same for both)."""

    key = "errors.not_found"


class NotPermitted(CaseError):
    """The actor's role or relation to the case does not allow the action."""

    key = "errors.not_permitted"


class IllegalMove(CaseError):
    """The action is not allowed from the case's current status, or a precondition is not met."""

    key = "errors.illegal_move"


class StaleCase(CaseError):
    """The case changed since the user loaded it (optimistic lock); values: by, at."""

    key = "errors.stale"


class InvalidInput(CaseError):
    """Input the user must correct; `problems` maps a field name to the i18n key of what is wrong."""

    key = "errors.invalid"

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__(fields=", ".join(problems))


# ---------------------------------------------------------------- plain results


@dataclass(frozen=True)
class CaseRef:
    """What a caller needs after an operation: the case and its new version (for the next action)."""

    id: int
    number: str
    version: int
    status: CaseStatus


@dataclass(frozen=True)
class CaseState:
    """The facts about a case that decide which actions are possible (see :func:`allowed_actions`)."""

    status: CaseStatus
    grid_id: int
    community_id: int
    assignee_id: int | None
    department_id: int | None
    reporter_anonymous: bool
    satisfaction: Satisfaction | None
    duplicate_of_id: int | None
    pending_escalations: frozenset[int] = frozenset()
    pending_extension: bool = False


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


@dataclass(frozen=True)
class DuplicateHint:
    id: int
    number: str
    title: str
    status: CaseStatus
    reported_at: datetime
    distance_m: float


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


# ---------------------------------------------------------------- rules


def _refusal(actor: Actor, state: CaseState, action: str) -> CaseError | None:
    """Why `actor` may not do `action` on a case in `state` now (None when allowed). Scope is checked by
    the caller (the case was loaded through ``case_filter``)."""
    if actor.role not in ACTION_ROLES.get(action, frozenset()):
        return NotPermitted(action=action)
    if (
        actor.role == R.department
        and action in _HANDLER_ONLY_ACTIONS
        and state.department_id != actor.department_id
    ):
        return NotPermitted(action=action)
    try:
        workflow.next_status(action, state.status)
    except ValueError:
        return IllegalMove(action=action, status=state.status.value)
    match action:
        case "resolve" if state.pending_escalations:
            return IllegalMove("errors.open_escalations", count=len(state.pending_escalations))
        case "close" if state.satisfaction is None and not state.reporter_anonymous:
            return IllegalMove("errors.follow_up_first")
        case "extend_request" if state.pending_extension:
            return IllegalMove("errors.extension_pending")
        case "extend_approve" | "extend_refuse" if not state.pending_extension:
            return IllegalMove("errors.no_extension_pending")
        case "report_back":
            mine = actor.department_id if actor.role == R.department else None
            if not state.pending_escalations or (mine is not None and mine not in state.pending_escalations):
                return IllegalMove("errors.no_escalation_pending")
        case "merge" if state.duplicate_of_id is not None:
            return IllegalMove("errors.already_merged")
    return None


def allowed_actions(actor: Actor, state: CaseState) -> list[str]:
    """The actions `actor` can take on a case in `state` (in scope), in display order."""
    return [a for a in ACTIONS if _refusal(actor, state, a) is None]


def _state(session: Session, case: Case) -> CaseState:
    pending_esc = session.exec(
        select(CaseEscalation.department_id).where(
            CaseEscalation.case_id == case.id, CaseEscalation.reported_back_at.is_(None)
        )
    ).all()
    pending_ext = session.exec(
        select(func.count()).where(CaseExtension.case_id == case.id, CaseExtension.decision == "pending")
    ).one()
    return CaseState(
        status=CaseStatus(case.status),
        grid_id=case.grid_id,
        community_id=case.community_id,
        assignee_id=case.assignee_id,
        department_id=case.department_id,
        reporter_anonymous=case.reporter_anonymous,
        satisfaction=Satisfaction(case.satisfaction) if case.satisfaction else None,
        duplicate_of_id=case.duplicate_of_id,
        pending_escalations=frozenset(pending_esc),
        pending_extension=pending_ext > 0,
    )


# ---------------------------------------------------------------- the one path every action takes


def _load(session: Session, actor: Actor, case_id: int) -> Case:
    stmt = (
        select(Case).where(Case.id == case_id, case_filter(actor)).execution_options(populate_existing=True)
    )
    case = session.exec(stmt).first()
    if case is None:
        raise CaseNotFound()
    return case


def _stale(session: Session, case_id: int) -> StaleCase:
    """The error naming the last change to the case (who and when)."""
    row = session.exec(
        select(CaseEvent.at, User.display_name)
        .outerjoin(User, User.id == CaseEvent.actor_id)
        .where(CaseEvent.case_id == case_id)
        .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return StaleCase(by="?", at="?")
    at, name = row
    return StaleCase(by=name or "?", at=f"{at:%Y-%m-%d %H:%M:%S}")


def _payload(values: dict[str, Any] | None) -> str:
    return json.dumps(values or {}, ensure_ascii=False, default=str, sort_keys=True)


Change = Callable[[Case, CaseState, datetime], tuple[dict[str, Any], dict[str, Any]]]
"""Computes (column changes, event payload) for an action; may raise InvalidInput/IllegalMove and may add
rows of its own (escalations, extensions) to the session."""


def _run(
    session: Session,
    actor: Actor,
    case_id: int,
    version: int,
    action: str,
    note: str = "",
    change: Change | None = None,
) -> CaseRef:
    case = _load(session, actor, case_id)
    if case.version != version:
        raise _stale(session, case.id)  # type: ignore[arg-type]
    state = _state(session, case)
    refusal = _refusal(actor, state, action)
    if refusal is not None:
        raise refusal
    now = clock.now()
    before = state.status
    after = workflow.next_status(action, before)
    assert after is not None
    values, payload = change(case, state, now) if change else ({}, {})
    values.update(version=version + 1, updated_at=now)
    if after != before:
        values["status"] = after
    stmt = update(Case).where(Case.id == case.id, Case.version == version).values(**values)
    result = session.exec(stmt.execution_options(synchronize_session=False))  # type: ignore[call-overload]
    if result.rowcount != 1:
        raise _stale(session, case.id)  # type: ignore[arg-type]
    session.add(
        CaseEvent(
            case_id=case.id,  # type: ignore[arg-type]
            at=now,
            actor_id=actor.id or None,
            action=action,
            from_status=before,
            to_status=workflow.TRANSITIONS[action][
                1
            ],  # None for side actions (the status stays), as the seed
            note=note.strip(),
            payload=_payload(payload),
        )
    )
    session.flush()
    session.expire(case)
    return CaseRef(case.id, case.number, version + 1, after)  # type: ignore[arg-type]


def _required(text: str, name: str = "note") -> str:
    text = (text or "").strip()
    if not text:
        raise InvalidInput({name: "errors.required"})
    return text


# ---------------------------------------------------------------- transitions


def accept(session: Session, actor: Actor, case_id: int, version: int, note: str = "") -> CaseRef:
    """受理: take the case in (starts nothing new: the SLA clock runs from the report)."""
    return _run(
        session, actor, case_id, version, "accept", note, lambda c, s, now: ({"accepted_at": now}, {})
    )


def reject(session: Session, actor: Actor, case_id: int, version: int, reason: str) -> CaseRef:
    """不予受理, with the reason the reporter will be told."""
    return _run(session, actor, case_id, version, "reject", _required(reason))


def dispatch(
    session: Session,
    actor: Actor,
    case_id: int,
    version: int,
    *,
    assignee_id: int | None = None,
    department_id: int | None = None,
    note: str = "",
) -> CaseRef:
    """派遣 to a grid worker and/or a department."""

    def change(case: Case, state: CaseState, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        problems: dict[str, str] = {}
        if assignee_id is None and department_id is None:
            problems["assignee"] = "errors.dispatch_target"
        payload: dict[str, Any] = {}
        if assignee_id is not None:
            worker = session.get(User, assignee_id)
            ok = worker is not None and worker.active and worker.role == R.grid_worker
            if ok and actor.role == R.community and worker is not None:
                grid = session.get(Grid, worker.grid_id) if worker.grid_id else None
                ok = grid is not None and grid.community_id == actor.community_id
            if not ok:
                problems["assignee"] = "errors.bad_assignee"
            else:
                payload["assignee"] = worker.display_name  # type: ignore[union-attr]
        if department_id is not None:
            dept = session.get(Department, department_id)
            if dept is None or not dept.active:
                problems["department"] = "errors.bad_department"
            else:
                payload["department"] = dept.name
        if problems:
            raise InvalidInput(problems)
        return {"assignee_id": assignee_id, "department_id": department_id, "dispatched_at": now}, payload

    return _run(session, actor, case_id, version, "dispatch", note, change)


def start(session: Session, actor: Actor, case_id: int, version: int, note: str = "") -> CaseRef:
    """开始处置 (by the dispatched handler, or the grid itself from 'accepted')."""

    def change(case: Case, state: CaseState, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        if case.assignee_id is None and case.department_id is None and actor.role == R.grid_worker:
            return {"assignee_id": actor.id}, {"assignee": actor.display_name}
        return {}, {}

    return _run(session, actor, case_id, version, "start", note, change)


def return_case(session: Session, actor: Actor, case_id: int, version: int, reason: str) -> CaseRef:
    """退回 to the dispatcher (wrong grid, wrong department …): the case goes back to 'accepted', unassigned."""

    def change(case: Case, state: CaseState, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"assignee_id": None, "department_id": None}, {
            "assignee_id": case.assignee_id,
            "department_id": case.department_id,
        }

    return _run(session, actor, case_id, version, "return", _required(reason), change)


def resolve(session: Session, actor: Actor, case_id: int, version: int, result: str) -> CaseRef:
    """处置完毕, with what was done. Every department called in must have reported back first."""
    return _run(
        session,
        actor,
        case_id,
        version,
        "resolve",
        _required(result),
        lambda c, s, now: ({"resolved_at": now}, {}),
    )


def rework(session: Session, actor: Actor, case_id: int, version: int, reason: str) -> CaseRef:
    """返工: the check found the problem not solved; back to the handler (counted)."""

    def change(case: Case, state: CaseState, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"rework_count": Case.rework_count + 1, "verified_at": None}, {}

    return _run(session, actor, case_id, version, "rework", _required(reason), change)


def verify(session: Session, actor: Actor, case_id: int, version: int, note: str = "") -> CaseRef:
    """核查: a supervisor confirms the handler's result."""
    return _run(
        session, actor, case_id, version, "verify", note, lambda c, s, now: ({"verified_at": now}, {})
    )


def follow_up(
    session: Session,
    actor: Actor,
    case_id: int,
    version: int,
    satisfaction: Satisfaction | str,
    note: str = "",
) -> CaseRef:
    """回访: record the reporter's satisfaction (or ``not_reached`` when unreachable)."""
    try:
        value = Satisfaction(satisfaction)
    except ValueError:
        raise InvalidInput({"satisfaction": "errors.required"}) from None
    return _run(
        session,
        actor,
        case_id,
        version,
        "follow_up",
        note,
        lambda c, s, now: ({"satisfaction": value}, {"satisfaction": value.value}),
    )


def close(
    session: Session, actor: Actor, case_id: int, version: int, *, solved: bool = True, note: str = ""
) -> CaseRef:
    """结案. Needs a follow-up result unless the reporter is anonymous (then recorded as not reached)."""

    def change(case: Case, state: CaseState, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        values: dict[str, Any] = {"closed_at": now, "solved": solved}
        if state.satisfaction is None:
            values["satisfaction"] = Satisfaction.not_reached
        return values, {"solved": solved}

    return _run(session, actor, case_id, version, "close", note, change)


def reopen(session: Session, actor: Actor, case_id: int, version: int, reason: str) -> CaseRef:
    """重新打开 a closed or rejected case (a merged duplicate becomes a case of its own again)."""

    def change(case: Case, state: CaseState, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        values: dict[str, Any] = {
            "closed_at": None,
            "verified_at": None,
            "satisfaction": None,
            "solved": None,
            "duplicate_of_id": None,
        }
        if case.accepted_at is None:
            values["accepted_at"] = now
        return values, {"duplicate_of_id": case.duplicate_of_id} if case.duplicate_of_id else {}

    return _run(session, actor, case_id, version, "reopen", _required(reason), change)


def merge(
    session: Session, actor: Actor, case_id: int, version: int, into_id: int, note: str = ""
) -> CaseRef:
    """Close the case as a duplicate of `into_id` (kept open); the kept case's timeline notes the merge."""

    def change(case: Case, state: CaseState, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        if into_id == case.id:
            raise InvalidInput({"into": "errors.merge_self"})
        kept = session.exec(select(Case).where(Case.id == into_id, case_filter(actor))).first()
        if kept is None:
            raise InvalidInput({"into": "errors.not_found"})
        if kept.status not in OPEN_STATUSES or kept.duplicate_of_id is not None:
            raise InvalidInput({"into": "errors.merge_target_closed"})
        session.add(
            CaseEvent(
                case_id=kept.id,  # type: ignore[arg-type]
                at=now,
                actor_id=actor.id or None,
                action="comment",
                from_status=kept.status,
                to_status=None,
                note=note.strip(),
                payload=_payload({"merged": case.number}),
            )
        )
        return {"duplicate_of_id": kept.id, "closed_at": now}, {
            "duplicate_of": kept.number,
            "duplicate_of_id": kept.id,
        }

    return _run(session, actor, case_id, version, "merge", note, change)


# ---------------------------------------------------------------- side actions


def request_extension(
    session: Session, actor: Actor, case_id: int, version: int, amount: float, reason: str
) -> CaseRef:
    """申请延期: `amount` more units of the category's calendar; a supervisor approves or refuses it."""
    reason = _required(reason, "reason")
    if not (isinstance(amount, int | float) and math.isfinite(amount) and 0 < amount <= 365):
        raise InvalidInput({"amount": "errors.extension_amount"})

    def change(case: Case, state: CaseState, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        session.add(
            CaseExtension(
                case_id=case.id,  # type: ignore[arg-type]
                requested_by=actor.id or None,
                requested_at=now,
                amount=float(amount),
                reason=reason,
                old_due_at=case.due_at,
            )
        )
        return {}, {"amount": float(amount)}

    return _run(session, actor, case_id, version, "extend_request", reason, change)


def decide_extension(
    session: Session, actor: Actor, case_id: int, version: int, approve: bool, note: str = ""
) -> CaseRef:
    """Approve (the due date moves by the amount in the category's calendar; counted) or refuse."""

    def change(case: Case, state: CaseState, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        ext = session.exec(
            select(CaseExtension).where(CaseExtension.case_id == case.id, CaseExtension.decision == "pending")
        ).first()
        assert ext is not None  # _refusal checked that one is pending
        ext.decision = "approved" if approve else "refused"
        ext.decided_by = actor.id or None
        ext.decided_at = now
        session.add(ext)
        if not approve:
            return {}, {"amount": ext.amount}
        category = session.get(Category, case.category_id)
        assert category is not None
        cal = sla.load_calendar(session)
        kind = CalendarKind(category.calendar)
        moved = {
            col: sla.extend(value, ext.amount, kind, cal)
            for col, value in (
                ("due_at", case.due_at),
                ("warn_at", case.warn_at),
                ("black_at", case.black_at),
            )
            if value is not None
        }
        ext.old_due_at = case.due_at
        ext.new_due_at = moved.get("due_at")
        return {**moved, "extension_count": Case.extension_count + 1}, {
            "amount": ext.amount,
            "old_due_at": case.due_at,
            "new_due_at": ext.new_due_at,
        }

    action = "extend_approve" if approve else "extend_refuse"
    return _run(session, actor, case_id, version, action, note, change)


def supervise(session: Session, actor: Actor, case_id: int, version: int, note: str) -> CaseRef:
    """督办: flag the case (and so its handler) for attention, with what is expected."""
    return _run(
        session,
        actor,
        case_id,
        version,
        "supervise",
        _required(note),
        lambda c, s, now: ({"supervised": True}, {}),
    )


def escalate(
    session: Session,
    actor: Actor,
    case_id: int,
    version: int,
    level: EscalationLevel | str,
    department_ids: Iterable[int],
    note: str,
) -> CaseRef:
    """吹哨: call one or more departments in; each must report back (报到) before the case can be resolved."""
    note = _required(note)
    try:
        lvl = EscalationLevel(level)
    except ValueError:
        raise InvalidInput({"level": "errors.required"}) from None
    wanted = sorted(set(department_ids))
    if not wanted:
        raise InvalidInput({"departments": "errors.required"})

    def change(case: Case, state: CaseState, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        depts = session.exec(
            select(Department.id, Department.name).where(
                Department.id.in_(wanted), Department.active.is_(True)
            )
        ).all()
        if len(depts) != len(wanted):
            raise InvalidInput({"departments": "errors.bad_department"})
        new = [(d, n) for d, n in depts if d not in state.pending_escalations]
        if not new:
            raise InvalidInput({"departments": "errors.already_escalated"})
        amount, kind = ESCALATION_LIMITS[lvl]
        due = sla.add_limit(now, amount, kind, sla.load_calendar(session))
        for dept_id, _ in new:
            session.add(
                CaseEscalation(
                    case_id=case.id,  # type: ignore[arg-type]
                    department_id=dept_id,
                    level=lvl,
                    escalated_at=now,
                    escalated_by=actor.id or None,
                    due_at=due,
                )
            )
        current = EscalationLevel(case.escalation_level) if case.escalation_level else None
        top = lvl if current is None or _LEVEL_RANK[lvl] > _LEVEL_RANK[current] else current
        return {"escalation_level": top}, {
            "level": lvl.value,
            "departments": [n for _, n in new],
            "due_at": due,
        }

    return _run(session, actor, case_id, version, "escalate", note, change)


def report_back(
    session: Session, actor: Actor, case_id: int, version: int, report: str, department_id: int | None = None
) -> CaseRef:
    """报到: a called-in department reports what it did. A supervisor may record it for a department."""
    report = _required(report, "report")
    dept = actor.department_id if actor.role == R.department else department_id

    def change(case: Case, state: CaseState, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        if dept is None:
            raise InvalidInput({"department": "errors.required"})
        if dept not in state.pending_escalations:
            raise InvalidInput({"department": "errors.no_escalation_pending"})
        rows = session.exec(
            select(CaseEscalation).where(
                CaseEscalation.case_id == case.id,
                CaseEscalation.department_id == dept,
                CaseEscalation.reported_back_at.is_(None),
            )
        ).all()
        for row in rows:
            row.reported_back_at = now
            row.reported_back_by = actor.id or None
            row.report = report
            session.add(row)
        name = session.get(Department, dept)
        return {}, {"department": name.name if name else dept}

    return _run(session, actor, case_id, version, "report_back", report, change)


def comment(session: Session, actor: Actor, case_id: int, note: str) -> None:
    """备注: append a note to the timeline. Changes nothing on the case, so it needs no version."""
    note = _required(note)
    case = _load(session, actor, case_id)
    refusal = _refusal(actor, _state(session, case), "comment")
    if refusal is not None:
        raise refusal
    session.add(
        CaseEvent(
            case_id=case_id,
            at=clock.now(),
            actor_id=actor.id or None,
            action="comment",
            from_status=case.status,
            to_status=None,
            note=note,
        )
    )
    session.flush()


# ---------------------------------------------------------------- intake

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
_LOCAL = re.compile(r"^\d{7,8}$")
TITLE_MAX = 200
DESCRIPTION_MAX = 4000
ADDRESS_MAX = 200
NAME_MAX = 64


def normalise_phone(phone: str) -> str | None:
    """A mainland mobile (13812345678), landline (0527-84361234) or local (84361234) number, else None.

    Spaces, dashes in mobiles and a +86/0086 country prefix are removed.
    """
    value = re.sub(r"[\s()（）]", "", phone or "")
    value = re.sub(r"^(\+86|0086)-?", "", value)
    if _MOBILE.match(value.replace("-", "")):
        return value.replace("-", "")
    if _LANDLINE.match(value) or _LOCAL.match(value):
        return value
    return None


@dataclass
class NewCase:
    """A case as entered on the intake form (or the grid worker's quick intake), before validation.

    `grid_id` may be left None when `lon`/`lat` are given: the grid is then found by point-in-polygon.
    `limit` is a time limit set by the upper level for 上级交办 cases, in the category's calendar units.
    """

    category_id: int | None
    title: str
    source: CaseSource | str
    description: str = ""
    grid_id: int | None = None
    lon: float | None = None
    lat: float | None = None
    address: str = ""
    reporter_name: str = ""
    reporter_phone: str = ""
    anonymous: bool = False
    priority: Priority | str | None = None
    external_id: str | None = None
    limit: float | None = None


def locate_grid(session: Session, lon: float, lat: float) -> int | None:
    """The grid containing (lon, lat), or None (polygons read fresh: admins may edit them)."""
    rows = session.exec(select(Grid.id, Grid.polygon)).all()
    return GridLocator(rows).locate(lon, lat) if rows else None


def validate_new_case(session: Session, actor: Actor, data: NewCase) -> NewCase:
    """The cleaned case (trimmed text, normalised phone, grid resolved) or :class:`InvalidInput`.

    Also refuses roles that may not record cases (:class:`NotPermitted`) and grids outside the actor's
    scope (reported as a problem with the grid, never revealing other grids).
    """
    if actor.role not in INTAKE_ROLES:
        raise NotPermitted(action="report")
    problems: dict[str, str] = {}
    title = (data.title or "").strip()
    description = (data.description or "").strip()
    address = (data.address or "").strip()
    name = (data.reporter_name or "").strip()
    phone = (data.reporter_phone or "").strip()
    if not title:
        problems["title"] = "errors.required"
    elif len(title) > TITLE_MAX:
        problems["title"] = "errors.too_long"
    if len(description) > DESCRIPTION_MAX:
        problems["description"] = "errors.too_long"
    if len(address) > ADDRESS_MAX:
        problems["address"] = "errors.too_long"
    category = session.get(Category, data.category_id) if data.category_id is not None else None
    if category is None or not category.active:
        problems["category"] = "errors.required"
    try:
        source = CaseSource(data.source)
    except ValueError:
        problems["source"] = "errors.required"
        source = CaseSource.walk_in
    priority: Priority | None = None
    if data.priority:
        try:
            priority = Priority(data.priority)
        except ValueError:
            problems["priority"] = "errors.required"
    lon, lat = data.lon, data.lat
    if (lon is None) != (lat is None):
        problems["location"] = "errors.lonlat_pair"
    elif lon is not None and lat is not None and not (-180 <= lon <= 180 and -90 <= lat <= 90):
        problems["location"] = "errors.lonlat_range"
    grid_id = data.grid_id
    if grid_id is None and "location" not in problems:
        if lon is None or lat is None:
            problems["grid"] = "errors.grid_or_point"
        else:
            grid_id = locate_grid(session, lon, lat)
            if grid_id is None:
                problems["location"] = "errors.point_outside"
    if grid_id is not None:
        in_scope = session.exec(select(Grid.id).where(Grid.id == grid_id, grid_filter(actor))).first()
        if in_scope is None:
            problems["grid"] = "errors.grid_scope"
    if data.anonymous:
        name, phone = "", ""
    else:
        if len(name) > NAME_MAX:
            problems["reporter_name"] = "errors.too_long"
        if phone:
            normal = normalise_phone(phone)
            if normal is None:
                problems["reporter_phone"] = "errors.phone_format"
            else:
                phone = normal
        if source == CaseSource.proxy:
            # 代录: recorded on a resident's behalf, who must be reachable for the follow-up.
            if not name:
                problems["reporter_name"] = "errors.proxy_contact"
            if not phone and "reporter_phone" not in problems:
                problems["reporter_phone"] = "errors.proxy_contact"
    limit = data.limit
    if limit is not None and not (math.isfinite(limit) and 0 < limit <= 365):
        problems["limit"] = "errors.extension_amount"
    if problems:
        raise InvalidInput(problems)
    return replace(
        data,
        title=title,
        description=description,
        address=address,
        reporter_name=name,
        reporter_phone=phone,
        source=source,
        priority=priority,
        grid_id=grid_id,
        external_id=(data.external_id or "").strip() or None,
    )


def next_number(session: Session, day: datetime) -> str:
    """The next free case number of `day`: one more than the day's highest sequence, computed in SQL.

    The range condition on ``number`` uses its unique index (a LIKE would not on both backends).
    """
    prefix = f"{NUMBER_PREFIX}{day:%Y%m%d}-"
    seq = cast(func.substr(Case.number, len(prefix) + 1), Integer)
    top = session.exec(
        select(func.max(seq)).where(Case.number >= prefix + "0", Case.number <= prefix + "99999")
    ).one()
    return f"{prefix}{(top or 0) + 1:04d}"


NUMBER_ATTEMPTS = 8


def create_case(session: Session, actor: Actor, data: NewCase) -> CaseRef:
    """Validate and record a new case (status 'reported') with its SLA clock and its 'report' event.

    Due date, warning and black times come from the category's limit and calendar (or the upper level's
    limit for 上级交办), the response due time from the category's response limit. Two intakes racing for
    the same number: the unique constraint refuses the second, which retries with the next number.
    """
    clean = validate_new_case(session, actor, data)
    category = session.get(Category, clean.category_id)
    grid = session.get(Grid, clean.grid_id)
    assert category is not None and grid is not None
    now = clock.now()
    cal = sla.load_calendar(session)
    limit = (
        clean.limit if clean.limit is not None and clean.source == CaseSource.assigned else category.sla_limit
    )
    times = sla.sla_times(now, limit, category.calendar, cal)
    response_due = sla.add_limit(now, category.response_limit, category.response_calendar, cal)
    for _ in range(NUMBER_ATTEMPTS):
        case = Case(
            number=next_number(session, now),
            category_id=category.id,  # type: ignore[arg-type]
            title=clean.title,
            description=clean.description,
            grid_id=grid.id,  # type: ignore[arg-type]
            community_id=grid.community_id,
            lon=clean.lon,
            lat=clean.lat,
            address=clean.address,
            source=CaseSource(clean.source),
            external_id=clean.external_id,
            reporter_name=clean.reporter_name,
            reporter_phone=clean.reporter_phone,
            reporter_anonymous=clean.anonymous,
            status=S.reported,
            priority=Priority(clean.priority or category.priority_default),
            reported_at=now,
            due_at=times.due_at,
            warn_at=times.warn_at,
            black_at=times.black_at,
            response_due_at=response_due,
            version=1,
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(case)
                session.flush()
        except IntegrityError:
            continue
        session.add(
            CaseEvent(
                case_id=case.id,  # type: ignore[arg-type]
                at=now,
                actor_id=actor.id or None,
                action="report",
                from_status=None,
                to_status=S.reported,
                payload=_payload({"source": case.source, "limit": limit}),
            )
        )
        session.flush()
        return CaseRef(case.id, case.number, 1, S.reported)  # type: ignore[arg-type]
    raise CaseError("errors.number_busy")


# ---------------------------------------------------------------- duplicates


def _near(lon: float, lat: float, radius_m: float) -> list[ColumnElement[bool]]:
    """A bounding box around the point (cheap SQL prefilter; the exact distance is checked after)."""
    dlat = radius_m / 111_000 * 1.01
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    return [Case.lat.between(lat - dlat, lat + dlat), Case.lon.between(lon - dlon, lon + dlon)]


def find_duplicates(
    session: Session,
    actor: Actor,
    category_id: int,
    lon: float | None,
    lat: float | None,
    at: datetime,
    exclude_id: int | None = None,
    limit: int = 10,
) -> list[DuplicateHint]:
    """Open cases in scope of the same category within 50 m and 24 h of `at` (either side), nearest first.

    Without a location nothing can be matched, so the list is empty.
    """
    if lon is None or lat is None:
        return []
    stmt = (
        select(Case.id, Case.number, Case.title, Case.status, Case.reported_at, Case.lon, Case.lat)
        .where(
            Case.category_id == category_id,
            Case.reported_at >= at - DUPLICATE_WINDOW,
            Case.reported_at <= at + DUPLICATE_WINDOW,
            Case.status.in_([s.value for s in OPEN_STATUSES]),
            not_duplicate(),
            case_filter(actor),
            *_near(lon, lat, DUPLICATE_RADIUS_M),
        )
        .limit(200)
    )
    if exclude_id is not None:
        stmt = stmt.where(Case.id != exclude_id)
    hits = []
    for cid, number, title, status, reported_at, clon, clat in session.exec(stmt).all():
        distance = haversine_m(lon, lat, clon, clat)
        if distance <= DUPLICATE_RADIUS_M:
            hits.append(
                DuplicateHint(cid, number, title, CaseStatus(status), reported_at, round(distance, 1))
            )
    hits.sort(key=lambda h: (h.distance_m, h.reported_at))
    return hits[:limit]


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
