"""The case loop's transitions and side actions (DESIGN §5), each a call of :func:`dashboard.cases.change.change_case`."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from dashboard.cases import sla
from dashboard.cases.change import (
    CaseRef,
    CaseState,
    change_case,
    required_text,
)
from dashboard.cases.errors import InvalidInput
from dashboard.kernel.errors import NotFound
from dashboard.kernel.scope import Actor, case_filter
from models import Case, CaseEscalation, CaseExtension, Category, Department, Grid, User
from models.enums import (
    OPEN_STATUSES,
    CalendarKind,
    EscalationLevel,
    Role,
    Satisfaction,
)

R = Role


ESCALATION_LIMITS: dict[EscalationLevel, tuple[float, CalendarKind]] = {
    EscalationLevel.daily: (1, CalendarKind.working_days),  # 日常哨
    EscalationLevel.tough: (3, CalendarKind.working_days),  # 攻坚哨: joint work on a hard problem
    EscalationLevel.emergency: (2, CalendarKind.natural_hours),  # 应急哨: on site and reported within 2 h
}
"""How long a called-in department has to report back (报到), per whistle level."""

_LEVEL_RANK = {EscalationLevel.daily: 1, EscalationLevel.tough: 2, EscalationLevel.emergency: 3}


# ---------------------------------------------------------------- transitions


def accept(session: Session, actor: Actor, case_id: int, version: int, note: str = "") -> CaseRef:
    """受理: take the case in (starts nothing new: the SLA clock runs from the report)."""
    return change_case(
        session, actor, case_id, version, "accept", note, lambda c, s, now: ({"accepted_at": now}, {})
    )


def reject(session: Session, actor: Actor, case_id: int, version: int, reason: str) -> CaseRef:
    """不予受理, with the reason the reporter will be told."""
    return change_case(session, actor, case_id, version, "reject", required_text(reason))


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

    return change_case(session, actor, case_id, version, "dispatch", note, change)


def start(session: Session, actor: Actor, case_id: int, version: int, note: str = "") -> CaseRef:
    """开始处置 (by the dispatched handler, or the grid itself from 'accepted')."""

    def change(case: Case, state: CaseState, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        if case.assignee_id is None and case.department_id is None and actor.role == R.grid_worker:
            return {"assignee_id": actor.id}, {"assignee": actor.display_name}
        return {}, {}

    return change_case(session, actor, case_id, version, "start", note, change)


def return_case(session: Session, actor: Actor, case_id: int, version: int, reason: str) -> CaseRef:
    """退回 to the dispatcher (wrong grid, wrong department …): the case goes back to 'accepted', unassigned."""

    def change(case: Case, state: CaseState, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"assignee_id": None, "department_id": None}, {
            "assignee_id": case.assignee_id,
            "department_id": case.department_id,
        }

    return change_case(session, actor, case_id, version, "return", required_text(reason), change)


def resolve(session: Session, actor: Actor, case_id: int, version: int, result: str) -> CaseRef:
    """处置完毕, with what was done. Every department called in must have reported back first."""
    return change_case(
        session,
        actor,
        case_id,
        version,
        "resolve",
        required_text(result),
        lambda c, s, now: ({"resolved_at": now}, {}),
    )


def rework(session: Session, actor: Actor, case_id: int, version: int, reason: str) -> CaseRef:
    """返工: the check found the problem not solved; back to the handler (counted)."""

    def change(case: Case, state: CaseState, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"rework_count": Case.rework_count + 1, "verified_at": None}, {}

    return change_case(session, actor, case_id, version, "rework", required_text(reason), change)


def verify(session: Session, actor: Actor, case_id: int, version: int, note: str = "") -> CaseRef:
    """核查: a supervisor confirms the handler's result."""
    return change_case(
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
    return change_case(
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

    return change_case(session, actor, case_id, version, "close", note, change)


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

    return change_case(session, actor, case_id, version, "reopen", required_text(reason), change)


def merge(
    session: Session, actor: Actor, case_id: int, version: int, into_id: int, note: str = ""
) -> CaseRef:
    """Close the case as a duplicate of `into_id` (kept open); the kept case's timeline notes the merge
    (and its version moves on, which is what makes concurrent opposite merges exclusive)."""

    def change(case: Case, state: CaseState, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        if into_id == case.id:
            raise InvalidInput({"into": "errors.merge_self"})
        kept = session.exec(select(Case).where(Case.id == into_id, case_filter(actor))).first()
        if kept is None:
            raise InvalidInput({"into": "errors.not_found"})
        if kept.status not in OPEN_STATUSES or kept.duplicate_of_id is not None:
            raise InvalidInput({"into": "errors.merge_target_closed"})
        # Through the one change function: the kept case's version is compared and bumped in the same
        # transaction, so two opposite merges (A into B, B into A) cannot both succeed: the second finds
        # its case or its target changed and is refused, never a cycle.
        change_case(
            session,
            actor,
            kept.id,  # type: ignore[arg-type]
            kept.version,
            "comment",
            note,
            payload={"merged": case.number},
        )
        return {"duplicate_of_id": kept.id, "closed_at": now}, {
            "duplicate_of": kept.number,
            "duplicate_of_id": kept.id,
        }

    return change_case(session, actor, case_id, version, "merge", note, change)


# ---------------------------------------------------------------- side actions


def request_extension(
    session: Session, actor: Actor, case_id: int, version: int, amount: float, reason: str
) -> CaseRef:
    """申请延期: `amount` more units of the category's calendar; a supervisor approves or refuses it."""
    reason = required_text(reason, "reason")
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

    return change_case(session, actor, case_id, version, "extend_request", reason, change)


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
    return change_case(session, actor, case_id, version, action, note, change)


def supervise(session: Session, actor: Actor, case_id: int, version: int, note: str) -> CaseRef:
    """督办: flag the case (and so its handler) for attention, with what is expected."""
    return change_case(
        session,
        actor,
        case_id,
        version,
        "supervise",
        required_text(note),
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
    note = required_text(note)
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

    return change_case(session, actor, case_id, version, "escalate", note, change)


def report_back(
    session: Session, actor: Actor, case_id: int, version: int, report: str, department_id: int | None = None
) -> CaseRef:
    """报到: a called-in department reports what it did. A supervisor may record it for a department."""
    report = required_text(report, "report")
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

    return change_case(session, actor, case_id, version, "report_back", report, change)


def comment(session: Session, actor: Actor, case_id: int, note: str) -> CaseRef:
    """备注: append a note to the timeline. It needs no version from the user (a note conflicts with
    nothing), but it moves the case's version on like every event, so that a case's version is always
    the number of its events."""
    current = session.exec(select(Case.version).where(Case.id == case_id, case_filter(actor))).first()
    if current is None:
        raise NotFound()
    return change_case(session, actor, case_id, current, "comment", required_text(note))
