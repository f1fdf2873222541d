"""Who is acting, and what they may see: the one place role scope is turned into SQL filters.

Every service query for cases, grids, volunteers, visits and figures takes an :class:`Actor` and calls
the filter functions here, so that a user can never reach another scope's record by URL, search,
export or deep link. Pages never filter by scope themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_, select, true

from dashboard.kernel.policy import may
from models import Case, CaseEscalation, Grid, GridVisit, ServiceRecord, Volunteer
from models.enums import Role


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
        """Whether the actor's scope is the whole sub-district."""
        return may(self, "scope.sub_district")

    @property
    def is_supervisor(self) -> bool:
        """Whether the actor triages cases (accept, dispatch, verify, close, bulk actions)."""
        return may(self, "case.triage")


def case_filter(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on `Case` limiting rows to the actor's scope."""
    if actor.reads_all:
        return true()
    match actor.role:
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
    if actor.reads_all or actor.role == Role.volunteer_manager:
        return true()
    match actor.role:
        case Role.community:
            return Volunteer.community_id == actor.community_id if actor.community_id else false()
        case Role.grid_worker:
            return Volunteer.home_grid_id == actor.grid_id if actor.grid_id else false()
        case _:
            return false()


def service_record_filter(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on `ServiceRecord` (by the grid served)."""
    if actor.reads_all or actor.role == Role.volunteer_manager:
        return true()
    match actor.role:
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
    if actor.reads_all:
        return true()
    match actor.role:
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
