"""Who is acting, and what they may see: the one place role scope is turned into SQL filters.

Every service query for cases, grids, volunteers, visits and figures takes an :class:`Actor` and calls
the filter functions here, so that a user can never reach another scope's record by URL, search,
export or deep link. Pages never filter by scope themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_, select, true

from models import Case, CaseEscalation, Grid, GridVisit, ServiceRecord, Volunteer
from models.enums import Role

READ_ALL_ROLES = frozenset({Role.admin, Role.leader, Role.operator})
"""Roles whose scope is the whole sub-district."""

SUPERVISOR_ROLES = frozenset({Role.admin, Role.operator, Role.community})
"""Roles that triage, dispatch, verify, close and approve extensions (网格长 / 指挥中心)."""

PII_ROLES = frozenset({Role.admin, Role.operator, Role.community})
"""Roles that may unmask personal data with an explicit, audited "show" action."""

VOLUNTEER_PII_ROLES = frozenset({Role.admin, Role.volunteer_manager})
"""Roles that may unmask volunteers' personal data (audited)."""

UNMASKED_EXPORT_ROLES = frozenset({Role.admin})
"""Roles that may export personal data unmasked (audited)."""


@dataclass(frozen=True)
class Actor:
    """The user performing an operation, as plain values (never an ORM object)."""

    id: int
    username: str
    display_name: str
    role: Role
    community_id: int | None = None
    grid_id: int | None = None
    department_id: int | None = None

    @property
    def reads_all(self) -> bool:
        return self.role in READ_ALL_ROLES

    @property
    def is_supervisor(self) -> bool:
        return self.role in SUPERVISOR_ROLES


class ScopeError(PermissionError):
    """The actor may not see or touch this record; the message is safe to show."""


def case_filter(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on `Case` limiting rows to the actor's scope."""
    match actor.role:
        case Role.admin | Role.leader | Role.operator:
            return true()
        case Role.community:
            return Case.community_id == actor.community_id if actor.community_id else false()
        case Role.grid_worker:
            if actor.grid_id is None:
                return Case.assignee_id == actor.id
            return or_(Case.grid_id == actor.grid_id, Case.assignee_id == actor.id)
        case Role.department:
            if actor.department_id is None:
                return false()
            escalated = select(CaseEscalation.case_id).where(
                CaseEscalation.department_id == actor.department_id
            )
            return or_(Case.department_id == actor.department_id, Case.id.in_(escalated))
        case _:
            return false()


def grid_filter(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on `Grid` for the grids whose figures the actor may see."""
    match actor.role:
        case Role.community:
            return Grid.community_id == actor.community_id if actor.community_id else false()
        case Role.grid_worker:
            return Grid.id == actor.grid_id if actor.grid_id else false()
        case _:
            # Sub-district roles, departments and volunteer managers see the territory and its aggregates.
            return true()


def volunteer_filter(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on `Volunteer`."""
    match actor.role:
        case Role.admin | Role.leader | Role.operator | Role.volunteer_manager:
            return true()
        case Role.community:
            return Volunteer.community_id == actor.community_id if actor.community_id else false()
        case Role.grid_worker:
            return Volunteer.home_grid_id == actor.grid_id if actor.grid_id else false()
        case _:
            return false()


def service_record_filter(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on `ServiceRecord` (by the grid served)."""
    match actor.role:
        case Role.admin | Role.leader | Role.operator | Role.volunteer_manager:
            return true()
        case Role.community:
            if not actor.community_id:
                return false()
            return ServiceRecord.grid_id.in_(select(Grid.id).where(Grid.community_id == actor.community_id))
        case Role.grid_worker:
            return ServiceRecord.grid_id == actor.grid_id if actor.grid_id else false()
        case _:
            return false()


def visit_filter(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on `GridVisit`."""
    match actor.role:
        case Role.admin | Role.leader | Role.operator:
            return true()
        case Role.community:
            if not actor.community_id:
                return false()
            return GridVisit.grid_id.in_(select(Grid.id).where(Grid.community_id == actor.community_id))
        case Role.grid_worker:
            return GridVisit.grid_id == actor.grid_id if actor.grid_id else false()
        case _:
            return false()


def community_ids_in_scope(actor: Actor) -> list[int] | None:
    """Communities the actor is limited to, or None for the whole sub-district."""
    if actor.role == Role.community:
        return [actor.community_id] if actor.community_id else []
    return None
