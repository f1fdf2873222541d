"""Who is acting, and what they may see: the one place role scope is turned into SQL filters.

Every service query for cases, grids, volunteers, visits and figures takes an :class:`Actor` and calls
the filter functions here, so that a user can never reach another scope's record by URL, search,
export or deep link. Pages never filter by scope themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    community_ids: frozenset[int] = frozenset()
    """A community-level actor's communities when there are several (an API client limited to more than
    one); `community_id` is then one of them. Empty: the actor's one `community_id`."""

    @property
    def communities(self) -> frozenset[int]:
        """The communities a community-level actor's scope holds (empty: none)."""
        if self.community_ids:
            return self.community_ids
        return frozenset({self.community_id}) if self.community_id else frozenset()

    @property
    def reads_all(self) -> bool:
        """Whether the actor's scope is the whole sub-district."""
        return may(self, "scope.sub_district")

    @property
    def is_supervisor(self) -> bool:
        """Whether the actor triages cases (accept, dispatch, verify, close, bulk actions)."""
        return may(self, "case.triage")


def _in_communities(column: Any, actor: Actor) -> ColumnElement[bool]:
    """`column` (a community id) within the actor's communities; nothing when it has none."""
    ids = actor.communities
    if not ids:
        return false()
    if len(ids) == 1:
        return column == next(iter(ids))
    return column.in_(sorted(ids))


def case_filter(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on `Case` limiting rows to the actor's scope."""
    if actor.reads_all:
        return true()
    match actor.role:
        case Role.community:
            return _in_communities(Case.community_id, actor)
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
            return _in_communities(Grid.community_id, actor)
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
            return _in_communities(Volunteer.community_id, actor)
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
            if not actor.communities:
                return false()
            return ServiceRecord.grid_id.in_(select(Grid.id).where(_in_communities(Grid.community_id, actor)))
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
            if not actor.communities:
                return false()
            return GridVisit.grid_id.in_(select(Grid.id).where(_in_communities(Grid.community_id, actor)))
        case Role.grid_worker:
            return GridVisit.grid_id == actor.grid_id if actor.grid_id else false()
        case _:
            return false()


def community_ids_in_scope(actor: Actor) -> list[int] | None:
    """Communities the actor is limited to, or None for the whole sub-district."""
    if actor.role == Role.community:
        return sorted(actor.communities)
    return None
