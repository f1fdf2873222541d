"""The one function that changes a case, and the rules it applies.

Every operation goes through :func:`change_case`, which

1. loads the case *inside the actor's scope* (a case outside it is "not found", never "forbidden", so
   a URL cannot reveal that a number exists),
2. compares the caller's `version` with the stored one (optimistic locking: the user acted on what
   they saw; if someone changed the case since, :class:`StaleCase` names who and when),
3. checks the actor's role and relation to the case (:func:`_refusal`), the move against the
   transition table of :mod:`dashboard.cases.workflow`, and the action's own preconditions,
4. writes the change with ``UPDATE … WHERE id = :id AND version = :version`` (so a concurrent
   writer that slipped in between loses cleanly) and appends one ``case_events`` row, all in the
   caller's transaction.

Errors carry an i18n key and values (:class:`~dashboard.kernel.errors.DomainError`); pages translate them.
Nothing here commits: the caller's session scope does, or rolls everything back on an error."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, update
from sqlmodel import Session, select

from dashboard import clock
from dashboard.api.callbacks import enqueue_status_change
from dashboard.cases import workflow
from dashboard.cases.errors import InvalidInput, StaleCase
from dashboard.kernel.errors import Conflict, DomainError, NotFound, NotPermitted
from dashboard.kernel.policy import CASE_ACTIONS, POLICY, RECORDED_BY, may
from dashboard.kernel.scope import Actor, case_filter
from dashboard.kernel.text import NOTE_MAX, clean_text
from dashboard.media.rules import expect_after_photo
from models import Case, CaseEscalation, CaseEvent, CaseExtension, User
from models.enums import (
    CaseStatus,
    Role,
    Satisfaction,
)

R = Role

ACTIONS: tuple[str, ...] = tuple(CASE_ACTIONS)
"""Every action a user can take on an existing case, in the order the detail page offers them (who may:
the role policy; scope is checked separately: the case must be in the actor's scope)."""

_HANDLER_ONLY_ACTIONS = frozenset({"start", "return", "resolve", "extend_request"})
"""Actions a department may take only on cases dispatched to it (an escalation lets it report back)."""


# ---------------------------------------------------------------- plain results


@dataclass(frozen=True)
class CaseRef:
    """What a caller needs after an operation: the case and its new version (for the next action)."""

    id: int
    number: str
    version: int
    status: CaseStatus
    event_id: int | None = None


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


# ---------------------------------------------------------------- rules


def _refusal(actor: Actor, state: CaseState, action: str) -> DomainError | None:
    """Why `actor` may not do `action` on a case in `state` now (None when allowed). Scope is checked by
    the caller (the case was loaded through ``case_filter``)."""
    permission = RECORDED_BY.get(action, action)
    if permission not in POLICY or not may(actor, permission):
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
        return Conflict("errors.illegal_move", action=action, status=state.status.value)
    match action:
        case "resolve" if state.pending_escalations:
            return Conflict("errors.open_escalations", count=len(state.pending_escalations))
        case "close" if state.satisfaction is None and not state.reporter_anonymous:
            return Conflict("errors.follow_up_first")
        case "extend_request" if state.pending_extension:
            return Conflict("errors.extension_pending")
        case "extend_approve" | "extend_refuse" if not state.pending_extension:
            return Conflict("errors.no_extension_pending")
        case "report_back":
            mine = actor.department_id if actor.role == R.department else None
            if not state.pending_escalations or (mine is not None and mine not in state.pending_escalations):
                return Conflict("errors.no_escalation_pending")
        case "merge" if state.duplicate_of_id is not None:
            return Conflict("errors.already_merged")
    return None


def allowed_actions(actor: Actor, state: CaseState) -> list[str]:
    """The actions `actor` can take on a case in `state` (in scope), in display order."""
    return [a for a in ACTIONS if _refusal(actor, state, a) is None]


def case_state(session: Session, case: Case) -> CaseState:
    """The facts about `case` that decide which actions are possible now."""
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
        raise NotFound()
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
"""Computes (column changes, event payload) for an action; may raise InvalidInput/Conflict and may add
rows of its own (escalations, extensions) to the session."""


def change_case(
    session: Session,
    actor: Actor,
    case_id: int,
    version: int,
    action: str,
    note: str = "",
    change: Change | None = None,
    *,
    to_status: CaseStatus | None = None,
    payload: dict[str, Any] | None = None,
) -> CaseRef:
    """The one function that changes a case: scope, version, rules, the update and its event row.

    `change` computes the column changes and the event payload. `to_status` is given only by an import
    that sets a status the source system reached by its own path (then the action need not follow the
    transition table, and the role must be one that may import); otherwise the status follows from the
    action by :mod:`dashboard.cases.workflow`.
    """
    note = note_text(note)
    case = _load(session, actor, case_id)
    if case.version != version:
        raise _stale(session, case.id)  # type: ignore[arg-type]
    state = case_state(session, case)
    before = state.status
    if to_status is None:
        refusal = _refusal(actor, state, action)
        if refusal is not None:
            raise refusal
        after = workflow.next_status(action, before)
    else:
        if not may(actor, "data.import"):
            raise NotPermitted(action=action)
        after = to_status
    assert after is not None
    now = clock.now()
    values, extra = change(case, state, now) if change else ({}, {})
    values.update(version=version + 1, updated_at=now)
    if after != before:
        values["status"] = after
    stmt = update(Case).where(Case.id == case.id, Case.version == version).values(**values)
    result = session.exec(stmt.execution_options(synchronize_session=False))  # type: ignore[call-overload]
    if result.rowcount != 1:
        raise _stale(session, case.id)  # type: ignore[arg-type]
    # Side actions record no to-status (the status stays), as the seed does.
    recorded_to = after if to_status is not None else workflow.TRANSITIONS[action][1]
    event_id = append_event(
        session,
        case_id=case.id,  # type: ignore[arg-type]
        actor=actor,
        action=action,
        from_status=before,
        to_status=recorded_to,
        note=note,
        payload={**(payload or {}), **extra},
        at=values.get("closed_at") if to_status is not None and values.get("closed_at") else now,
    )
    if action == "resolve" and to_status is None:  # 处置后 photo, where the category needs one: at commit
        expect_after_photo(session, case.id)  # type: ignore[arg-type]
    if after != before:  # a case from another system: its status change goes back to it (a row insert)
        enqueue_status_change(session, case.id)  # type: ignore[arg-type]
    session.expire(case)
    return CaseRef(case.id, case.number, version + 1, after, event_id)  # type: ignore[arg-type]


def event_row(
    *,
    case_id: int,
    actor: Actor | None,
    action: str,
    from_status: CaseStatus | str | None,
    to_status: CaseStatus | str | None,
    at: datetime,
    note: str = "",
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``case_events`` row as a mapping (for :func:`append_events`)."""
    return {
        "case_id": case_id,
        "at": at,
        "actor_id": (actor.id or None) if actor is not None else None,
        "action": action,
        "from_status": getattr(from_status, "value", from_status),
        "to_status": getattr(to_status, "value", to_status),
        "note": (note or "").strip(),
        "payload": _payload(payload),
    }


def append_events(session: Session, rows: list[dict[str, Any]], *, returning: bool = False) -> list[int]:
    """Append rows to the case timeline: the only place that writes ``case_events`` (append-only).

    Many rows go in as one batched INSERT (imports); with `returning`, the new ids in the order given.
    """
    if not rows:
        return []
    table = CaseEvent.__table__  # type: ignore[attr-defined]
    stmt = insert(table)
    if not returning:
        session.connection().execute(stmt, rows)
        return []
    result = session.connection().execute(stmt.returning(table.c.id, sort_by_parameter_order=True), rows)
    return list(result.scalars().all())


def append_event(session: Session, *, at: datetime | None = None, **fields: Any) -> int:
    """Append one event (see :func:`event_row`) and return its id."""
    return append_events(session, [event_row(at=at or clock.now(), **fields)], returning=True)[0]


def note_text(text: str | None, name: str = "note", *, required: bool = False) -> str:
    """A note, reason or result as stored: cleaned (:func:`dashboard.kernel.text.clean_text`), trimmed,
    at most :data:`~dashboard.kernel.text.NOTE_MAX` characters, and present when `required`."""
    text = clean_text(text).strip()
    if required and not text:
        raise InvalidInput({name: "errors.required"})
    if len(text) > NOTE_MAX:
        raise InvalidInput({name: "errors.too_long"})
    return text


def required_text(text: str, name: str = "note") -> str:
    """:func:`note_text` that must not be empty."""
    return note_text(text, name, required=True)
