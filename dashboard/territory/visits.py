"""Visits (走访): recording one from the phone form (validated in the actor's scope), linking it to the case it
found, and the worker's latest visits. A visit ends a blind spot at once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, select

from dashboard import clock
from dashboard.kernel.errors import Invalid, NotFound, NotPermitted
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor, case_filter, grid_filter, visit_filter
from models import Building, Case, Grid, GridVisit

MET_OPTIONS: tuple[str, ...] = ("户主", "老人", "家属", "租户", "子女", "邻居", "无人在家")
"""Whom the worker met, stored as these labels (as the seed and imported visit logs do); i18n shows them."""
NOBODY_HOME = "无人在家"
VISIT_GROUPS: tuple[str, ...] = (
    "elderly_alone",
    "elderly_solitary",
    "disabled",
    "left_behind_children",
    "low_income",
    "special_care",
    "floating",
    "unemployed",
    "elderly_60",
    "party_members",
)
"""Population groups a visit may concern, most often ticked first (see POPULATION_FIELDS)."""
NOTE_MAX = 2000
HOUSEHOLDS_MAX = 200
"""Most households one visit record may claim (a building round; more is a typing error)."""


class InvalidVisit(Invalid):
    """Input to correct: `problems` maps a field of the visit form to the i18n key of what is wrong."""

    key = "field.err_invalid"
    field_prefix = "field.f_"

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(problems=problems)


# ---------------------------------------------------------------- recording


@dataclass
class VisitInput:
    """A visit as entered on the phone. `grid_id` None: the worker's own grid."""

    building_id: int | None = None
    households_visited: int = 1
    met: str = MET_OPTIONS[0]
    groups: Sequence[str] = field(default_factory=tuple)
    note: str = ""
    grid_id: int | None = None


def validate_visit(session: Session, actor: Actor, data: VisitInput) -> VisitInput:
    """The cleaned visit or :class:`InvalidVisit`; a role that may not record visits gets NotPermitted."""
    if not may(actor, "visit.record"):
        raise NotPermitted("field.err_not_permitted")
    problems: dict[str, str] = {}
    grid_id = data.grid_id if data.grid_id is not None else actor.grid_id
    grid = None
    if grid_id is not None:
        grid = session.exec(select(Grid.id).where(Grid.id == grid_id, grid_filter(actor))).first()
    if grid is None:
        problems["grid"] = "field.err_grid"
    building_id = data.building_id
    if building_id is not None and grid is not None:
        ok = session.exec(
            select(Building.id).where(Building.id == building_id, Building.grid_id == grid_id)
        ).first()
        if ok is None:
            problems["building"] = "field.err_building"
    met = (data.met or "").strip()
    if met not in MET_OPTIONS:
        problems["met"] = "field.err_met"
    households = data.households_visited
    if (
        not isinstance(households, int)
        or isinstance(households, bool)
        or not 0 <= households <= HOUSEHOLDS_MAX
    ):
        problems["households"] = "field.err_households"
    elif met != NOBODY_HOME and households == 0:
        problems["households"] = "field.err_households"
    groups = list(dict.fromkeys(data.groups or ()))
    if any(g not in VISIT_GROUPS for g in groups):
        problems["groups"] = "field.err_groups"
    note = (data.note or "").strip()
    if len(note) > NOTE_MAX:
        problems["note"] = "field.err_too_long"
    if problems:
        raise InvalidVisit(problems)
    return VisitInput(
        building_id=building_id,
        households_visited=households,
        met=met,
        groups=tuple(g for g in VISIT_GROUPS if g in groups),
        note=note,
        grid_id=grid_id,
    )


def record_visit(session: Session, actor: Actor, data: VisitInput) -> int:
    """Record a visit now by the actor (the grid_visits row that ends a blind spot); returns its id.

    A visit where nobody was home (households visited 0) still counts as a visit to the grid and building.
    """
    clean = validate_visit(session, actor, data)
    visit = GridVisit(
        worker_id=actor.id or None,
        grid_id=clean.grid_id,  # type: ignore[arg-type]
        building_id=clean.building_id,
        households_visited=clean.households_visited,
        at=clock.now(),
        met=clean.met,
        groups=json.dumps(list(clean.groups), ensure_ascii=False),
        note=clean.note,
    )
    session.add(visit)
    session.flush()
    return visit.id  # type: ignore[return-value]


def link_visit_case(session: Session, actor: Actor, visit_id: int, case_id: int) -> None:
    """Note on the actor's own visit that it found the case (recorded through quick intake)."""
    visit = session.exec(
        select(GridVisit).where(
            GridVisit.id == visit_id, GridVisit.worker_id == actor.id, visit_filter(actor)
        )
    ).first()
    in_scope = session.exec(select(Case.id).where(Case.id == case_id, case_filter(actor))).first()
    if visit is None or in_scope is None:
        raise NotFound("field.err_not_found")
    visit.case_id = case_id
    session.add(visit)
    session.flush()


@dataclass(frozen=True)
class VisitView:
    id: int
    at: datetime
    building: str
    households_visited: int
    met: str
    groups: tuple[str, ...]
    note: str
    case_number: str


def recent_visits(session: Session, actor: Actor, limit: int = 5) -> list[VisitView]:
    """The actor's own latest visits, newest first."""
    rows = session.exec(
        select(
            GridVisit.id,
            GridVisit.at,
            Building.name,
            GridVisit.households_visited,
            GridVisit.met,
            GridVisit.groups,
            GridVisit.note,
            Case.number,
        )
        .outerjoin(Building, Building.id == GridVisit.building_id)
        .outerjoin(Case, Case.id == GridVisit.case_id)
        .where(GridVisit.worker_id == actor.id, visit_filter(actor))
        .order_by(GridVisit.at.desc(), GridVisit.id.desc())
        .limit(limit)
    ).all()
    out = []
    for vid, at, building, households, met, groups, note, number in rows:
        try:
            parsed = json.loads(groups or "[]")
        except ValueError:
            parsed = []
        out.append(
            VisitView(
                id=vid,
                at=at,
                building=building or "",
                households_visited=households,
                met=met or "",
                groups=tuple(g for g in parsed if isinstance(g, str)),
                note=note or "",
                case_number=number or "",
            )
        )
    return out
