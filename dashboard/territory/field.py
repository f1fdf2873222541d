"""The grid worker's day (网格员): the to-do list, visits (走访), the grid at a glance, and the field overview
that shows a community secretary or the command centre which grids nobody has walked lately.

Every query is limited to the actor's scope (``case_filter``, ``grid_filter``, ``visit_filter``) and counts in
SQL; the only rows read whole are the few cases of one worker's to-do list and one grid's buildings.
Figures come from :mod:`dashboard.reporting.kpi` (blind spots, on-time and satisfaction rates) and
:mod:`dashboard.volunteers.registry` (need and supply of volunteers), so the field pages say what the map,
the wall and the reports say.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, and_, case, func, or_
from sqlmodel import Session, select

from dashboard import clock
from dashboard.admin import catalogue as admin
from dashboard.admin import settings
from dashboard.cases.commands import CaseState, NewCase
from dashboard.cases.queue import ageing_expr
from dashboard.kernel.scope import Actor, case_filter, grid_filter, visit_filter
from dashboard.reporting import kpi
from dashboard.volunteers import registry as volunteers
from models import Building, Case, CaseEscalation, CaseExtension, Category, Community, Grid, GridVisit, User
from models.enums import ACTIVE_STATUSES, POPULATION_FIELDS, CaseSource, CaseStatus, Role, Satisfaction

S = CaseStatus

BLIND_DAYS_SETTING = "blind_spot_days"
"""The admin's blind-spot window (DESIGN §8, default 30 days): no case and no visit in this many days makes a
grid a blind spot, and it is the window of building coverage here too."""
QUIET_COVERAGE = 0.3
"""A grid whose worker reached fewer than this share of its buildings in the window is "quiet"."""
QUIET_VISITS_PER_WEEK = 1.5
"""…or one with fewer visits than this per week."""
TODO_LIMIT = 50
"""Most cases one to-do section lists (the rest are counted and reachable through the queue)."""

VISIT_ROLES = frozenset({Role.grid_worker, Role.community, Role.admin})
"""Who may record a visit: the grid worker, and the community's cadres (两委) walking a grid."""
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


def blind_days(session: Session) -> int:
    """The blind-spot window in days, as the map and the wall use it (system setting)."""
    return int(settings.get_setting(session, BLIND_DAYS_SETTING))


class FieldError(Exception):
    """A refused field operation. `key` is an i18n key, `values` fill its placeholders."""

    key = "field.err_generic"

    def __init__(self, key: str | None = None, **values: Any) -> None:
        self.key = key or type(self).key
        self.values = values
        super().__init__(self.key)


class InvalidVisit(FieldError):
    """Input to correct: `problems` maps a field name to the i18n key of what is wrong."""

    key = "field.err_invalid"

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__()


# ---------------------------------------------------------------- the to-do list


@dataclass(frozen=True)
class TodoItem:
    """One case on the worker's list, as plain values (address and reporter unmasked: the page masks)."""

    id: int
    number: str
    version: int
    title: str
    status: CaseStatus
    category_code: str
    category_zh: str
    category_en: str
    reported_at: datetime
    due_at: datetime | None
    verified_at: datetime | None
    ageing: str | None
    address: str
    reporter_name: str
    reporter_phone: str
    reporter_anonymous: bool
    satisfaction: Satisfaction | None
    grid_id: int
    community_id: int
    assignee_id: int | None
    department_id: int | None
    duplicate_of_id: int | None
    supervised: bool
    pending_escalations: frozenset[int] = frozenset()
    pending_extension: bool = False

    @property
    def state(self) -> CaseState:
        """The facts :func:`dashboard.cases.commands.allowed_actions` decides on."""
        return CaseState(
            status=self.status,
            grid_id=self.grid_id,
            community_id=self.community_id,
            assignee_id=self.assignee_id,
            department_id=self.department_id,
            reporter_anonymous=self.reporter_anonymous,
            satisfaction=self.satisfaction,
            duplicate_of_id=self.duplicate_of_id,
            pending_escalations=self.pending_escalations,
            pending_extension=self.pending_extension,
        )

    def overdue(self, now: datetime) -> bool:
        return self.status in ACTIVE_STATUSES and self.due_at is not None and self.due_at <= now


@dataclass(frozen=True)
class Todo:
    """The worker's day: cases to handle (most urgent first) and cases awaiting a follow-up call."""

    handle: list[TodoItem]
    follow_up: list[TodoItem]
    handle_total: int
    follow_up_total: int
    overdue: int


def _handle_condition(actor: Actor) -> ColumnElement[bool]:
    """Cases the worker has to handle: dispatched to them (or taken on by them), or accepted in their grid
    with nobody assigned yet (the grid handles it itself: accepted → in progress)."""
    mine = and_(
        Case.assignee_id == actor.id,
        Case.status.in_([S.accepted.value, S.dispatched.value, S.in_progress.value]),
    )
    if actor.grid_id is None:
        return mine
    unassigned = and_(
        Case.grid_id == actor.grid_id,
        Case.status == S.accepted.value,
        Case.assignee_id.is_(None),
        Case.department_id.is_(None),
    )
    return or_(mine, unassigned)


def _follow_up_condition(actor: Actor) -> ColumnElement[bool]:
    """Verified cases still without a follow-up result whose reporter can be called back."""
    where = [Case.assignee_id == actor.id]
    if actor.grid_id is not None:
        where.append(Case.grid_id == actor.grid_id)
    return and_(
        Case.status == S.verified.value,
        Case.satisfaction.is_(None),
        Case.reporter_anonymous.is_(False),
        or_(*where),
    )


_TODO_COLUMNS = (
    Case.id,
    Case.number,
    Case.version,
    Case.title,
    Case.status,
    Category.code,
    Category.name_zh,
    Category.name_en,
    Case.reported_at,
    Case.due_at,
    Case.verified_at,
    Case.address,
    Case.reporter_name,
    Case.reporter_phone,
    Case.reporter_anonymous,
    Case.satisfaction,
    Case.grid_id,
    Case.community_id,
    Case.assignee_id,
    Case.department_id,
    Case.duplicate_of_id,
    Case.supervised,
)


def _items(session: Session, rows: Sequence[Any]) -> list[TodoItem]:
    ids = [r[0] for r in rows]
    if not ids:
        return []
    pending: dict[int, set[int]] = {}
    for case_id, dept in session.exec(
        select(CaseEscalation.case_id, CaseEscalation.department_id).where(
            CaseEscalation.case_id.in_(ids), CaseEscalation.reported_back_at.is_(None)
        )
    ).all():
        pending.setdefault(case_id, set()).add(dept)
    extending = set(
        session.exec(
            select(CaseExtension.case_id).where(
                CaseExtension.case_id.in_(ids), CaseExtension.decision == "pending"
            )
        ).all()
    )
    out = []
    for row in rows:
        (
            cid,
            number,
            version,
            title,
            status,
            code,
            zh,
            en,
            reported,
            due,
            verified,
            address,
            name,
            phone,
            anonymous,
            satisfaction,
            grid_id,
            community_id,
            assignee,
            dept,
            dup,
            supervised,
            ageing,
        ) = row
        out.append(
            TodoItem(
                id=cid,
                number=number,
                version=version,
                title=title,
                status=CaseStatus(status),
                category_code=code,
                category_zh=zh,
                category_en=en,
                reported_at=reported,
                due_at=due,
                verified_at=verified,
                ageing=ageing,
                address=address or "",
                reporter_name=name or "",
                reporter_phone=phone or "",
                reporter_anonymous=bool(anonymous),
                satisfaction=Satisfaction(satisfaction) if satisfaction else None,
                grid_id=grid_id,
                community_id=community_id,
                assignee_id=assignee,
                department_id=dept,
                duplicate_of_id=dup,
                supervised=bool(supervised),
                pending_escalations=frozenset(pending.get(cid, ())),
                pending_extension=cid in extending,
            )
        )
    return out


def todo(session: Session, actor: Actor, now: datetime | None = None, limit: int = TODO_LIMIT) -> Todo:
    """The worker's to-do list: cases to handle ordered by due time (overdue first, as they fall due
    earliest) and cases awaiting a follow-up call (回访), longest waiting first; each list at most `limit`
    long, with the full counts."""
    now = now or clock.now()
    base = [case_filter(actor), kpi.not_duplicate()]
    handle = _handle_condition(actor)
    follow = _follow_up_condition(actor)
    columns = (*_TODO_COLUMNS, ageing_expr(now).label("ageing"))
    handle_rows = session.exec(
        select(*columns)
        .join(Category, Category.id == Case.category_id)
        .where(*base, handle)
        .order_by(case((Case.due_at.is_(None), 1), else_=0), Case.due_at, Case.id)
        .limit(limit)
    ).all()
    follow_rows = session.exec(
        select(*columns)
        .join(Category, Category.id == Case.category_id)
        .where(*base, follow)
        .order_by(Case.verified_at, Case.id)
        .limit(limit)
    ).all()
    overdue = and_(Case.due_at.is_not(None), Case.due_at <= now)
    handle_total, overdue_total = session.exec(
        select(func.count(), func.coalesce(func.sum(case((overdue, 1), else_=0)), 0)).where(*base, handle)
    ).one()
    follow_total = session.exec(select(func.count()).where(*base, follow)).one()
    return Todo(
        handle=_items(session, handle_rows),
        follow_up=_items(session, follow_rows),
        handle_total=int(handle_total),
        follow_up_total=int(follow_total),
        overdue=int(overdue_total),
    )


def next_action(item: TodoItem, allowed: Sequence[str]) -> str | None:
    """The step the worker takes next on this case from the list (start, resolve or follow-up), if allowed."""
    wanted = {
        S.accepted: "start",
        S.dispatched: "start",
        S.in_progress: "resolve",
        S.verified: "follow_up" if item.satisfaction is None else None,
    }.get(item.status)
    return wanted if wanted in allowed else None


# ---------------------------------------------------------------- the grid at a glance


@dataclass(frozen=True)
class GridProfile:
    """One grid's population aggregates and activity (DESIGN §3: population is kept as aggregates)."""

    grid_id: int
    code: str
    name: str
    community_id: int
    community: str
    lon: float
    lat: float
    households: int
    residents: int
    actual_residents: int
    population: dict[str, int]
    buildings: int
    blind_days: int
    visits_7d: int
    visits_window: int
    households_visited_window: int
    last_visit_at: datetime | None
    last_case_at: datetime | None
    days_since_activity: float | None
    blind: bool


def _grid_in_scope(session: Session, actor: Actor, grid_id: int | None) -> Grid:
    grid_id = grid_id if grid_id is not None else actor.grid_id
    if grid_id is None:
        raise FieldError("field.err_no_grid")
    grid = session.exec(select(Grid).where(Grid.id == grid_id, grid_filter(actor))).first()
    if grid is None:
        raise FieldError("field.err_no_grid")
    return grid


def grid_profile(
    session: Session, actor: Actor, grid_id: int | None = None, now: datetime | None = None
) -> GridProfile:
    """The grid (the worker's own by default) with its population, buildings, recent visits and whether it
    counts as a blind spot now (the same test as the map: :func:`kpi.blind_spots`)."""
    now = now or clock.now()
    grid = _grid_in_scope(session, actor, grid_id)
    community = session.get(Community, grid.community_id)
    buildings = session.exec(select(func.count()).where(Building.grid_id == grid.id)).one()
    days = blind_days(session)
    week = now - timedelta(days=7)
    recent = GridVisit.at >= now - timedelta(days=days)
    v7, vn, hhn = session.exec(
        select(
            func.sum(case((GridVisit.at >= week, 1), else_=0)),
            func.count(),
            func.sum(GridVisit.households_visited),
        ).where(GridVisit.grid_id == grid.id, recent, GridVisit.at <= now, visit_filter(actor))
    ).one()
    blind = kpi.blind_spots(session, actor, days, now)
    row = blind[blind["grid_id"] == grid.id]
    last_visit = last_case = None
    days_since: float | None = None
    is_blind = True
    if not row.empty:
        r = row.iloc[0]
        last_visit = None if pd.isna(r["last_visit_at"]) else r["last_visit_at"].to_pydatetime()
        last_case = None if pd.isna(r["last_case_at"]) else r["last_case_at"].to_pydatetime()
        days_since = None if pd.isna(r["days_since"]) else float(r["days_since"])
        is_blind = bool(r["blind"])
    return GridProfile(
        grid_id=grid.id,  # type: ignore[arg-type]
        code=grid.code,
        name=grid.name,
        community_id=grid.community_id,
        community=community.name if community else "",
        lon=grid.centroid_lon,
        lat=grid.centroid_lat,
        households=grid.households,
        residents=grid.residents,
        actual_residents=grid.actual_residents,
        population={f: int(getattr(grid, f) or 0) for f in POPULATION_FIELDS},
        buildings=int(buildings),
        blind_days=days,
        visits_7d=int(v7 or 0),
        visits_window=int(vn or 0),
        households_visited_window=int(hhn or 0),
        last_visit_at=last_visit,
        last_case_at=last_case,
        days_since_activity=days_since,
        blind=is_blind,
    )


def building_recency(
    session: Session,
    actor: Actor,
    grid_id: int | None = None,
    now: datetime | None = None,
    days: int | None = None,
) -> pd.DataFrame:
    """The grid's buildings with when each was last visited, longest unvisited (never first) on top.

    Columns: building_id, name, households, lon, lat, last_visit_at, days_since (None: never), visits
    (in the last `days` days, by default the blind-spot window), due (not visited in those days).
    """
    now = now or clock.now()
    days = days or blind_days(session)
    grid = _grid_in_scope(session, actor, grid_id)
    window = now - timedelta(days=days)
    stmt = (
        select(
            Building.id,
            Building.name,
            Building.households,
            Building.lon,
            Building.lat,
            func.max(GridVisit.at),
            func.coalesce(func.sum(case((GridVisit.at >= window, 1), else_=0)), 0),
        )
        .outerjoin(
            GridVisit,
            and_(GridVisit.building_id == Building.id, GridVisit.at <= now, visit_filter(actor)),
        )
        .where(Building.grid_id == grid.id)
        .group_by(Building.id, Building.name, Building.households, Building.lon, Building.lat)
    )
    cols = ["building_id", "name", "households", "lon", "lat", "last_visit_at", "visits"]
    df = pd.DataFrame(session.exec(stmt).all(), columns=cols)
    df["last_visit_at"] = pd.to_datetime(df["last_visit_at"])
    df["days_since"] = ((pd.Timestamp(now) - df["last_visit_at"]).dt.total_seconds() / 86400).round(1)
    df["visits"] = df["visits"].astype("int64")
    df["due"] = df["last_visit_at"].isna() | (df["last_visit_at"] < pd.Timestamp(window))
    df["_never"] = df["last_visit_at"].isna()
    df = df.sort_values(["_never", "days_since", "name"], ascending=[False, False, True], na_position="first")
    return df.drop(columns="_never").reset_index(drop=True)


def volunteers_vs_need(
    session: Session, actor: Actor, grid_id: int | None = None, now: datetime | None = None
) -> pd.DataFrame:
    """Volunteers living in the grid by skill against the need the rule table sets (DESIGN §7), biggest gap
    first. Columns: skill, need, supply, gap, coverage."""
    grid = _grid_in_scope(session, actor, grid_id)
    cells = volunteers.coverage_matrix(session, actor, now)
    mine = cells[cells["grid_id"] == grid.id]
    out = mine[["skill", "need", "supply", "gap", "coverage"]].copy()
    out = out.sort_values(["gap", "need"], ascending=[False, False], kind="stable")
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class RateComparison:
    """The worker's on-time and satisfaction rates in a period against their community's."""

    on_time: float | None
    due: int
    satisfaction: float | None
    followed_up: int
    community_on_time: float | None
    community_satisfaction: float | None


def _community_view(actor: Actor, community_id: int) -> Actor:
    """The actor with a community's scope, for community-wide *aggregate* rates only (never rows): a grid
    worker may compare themselves with their community's average without seeing its cases."""
    return replace(actor, role=Role.community, community_id=community_id, grid_id=None, department_id=None)


def rates_vs_community(
    session: Session, actor: Actor, period: kpi.Period, now: datetime | None = None
) -> RateComparison:
    """按期结案率 and 满意率 of the cases reported in the grids the worker held (``admin.worker_figures``)
    against the whole community's, over `period` (kpi formulas)."""
    now = now or clock.now()
    grid = _grid_in_scope(session, actor, None)
    mine = admin.worker_figures(session, actor.id, period, actor=actor, now=now)
    view = _community_view(actor, grid.community_id)
    theirs = kpi.figures(session, view, period, community_id=grid.community_id, now=now)
    return RateComparison(
        on_time=mine.on_time_rate,
        due=mine.due,
        satisfaction=mine.satisfaction_rate,
        followed_up=mine.followed_up,
        community_on_time=theirs.on_time_rate,
        community_satisfaction=theirs.satisfaction_rate,
    )


# ---------------------------------------------------------------- visits (走访)


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
    """The cleaned visit or :class:`InvalidVisit`; a role that may not record visits gets a FieldError."""
    if actor.role not in VISIT_ROLES:
        raise FieldError("field.err_not_permitted")
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
        raise FieldError("field.err_not_found")
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


# ---------------------------------------------------------------- quick intake (代录)

QUICK_CATEGORIES: tuple[str, ...] = ("ENV", "INF", "PRP", "SAF", "DIS", "ELD", "AID", "SEC")
"""Category codes offered as big buttons on quick intake (what grid workers record most); the rest are a
list away."""
QUICK_SOURCES: tuple[CaseSource, ...] = (CaseSource.proxy, CaseSource.grid_visit)
"""代录 on a resident's behalf (the resident is called back), or found by the worker on the round."""
QUICK_TITLE_MAX = 30


def quick_title(description: str) -> str:
    """The case title from the first line of what the worker typed (at most 30 characters)."""
    first = next((line.strip() for line in (description or "").splitlines() if line.strip()), "")
    return first if len(first) <= QUICK_TITLE_MAX else first[: QUICK_TITLE_MAX - 1] + "…"


def quick_case(
    session: Session,
    actor: Actor,
    *,
    category_id: int | None,
    description: str,
    source: CaseSource | str = CaseSource.proxy,
    building_id: int | None = None,
    place: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    anonymous: bool = False,
) -> NewCase:
    """The :class:`NewCase` of a quick intake in the worker's own grid, for the same validation and service
    as the full intake (``cases.validate_new_case`` / ``create_case``).

    The location is the grid; a building (of the grid) adds its point and name, so the map shows the case
    there and duplicates within 50 m are found. `place` adds detail (unit, door) to the address.
    """
    grid = _grid_in_scope(session, actor, None)
    lon = lat = None
    address = (place or "").strip()
    if building_id is not None:
        b = session.exec(
            select(Building).where(Building.id == building_id, Building.grid_id == grid.id)
        ).first()
        if b is None:
            raise FieldError("field.err_building")
        lon, lat = b.lon, b.lat
        address = f"{b.name} {address}".strip() if not address.startswith(b.name) else address
    return NewCase(
        category_id=category_id,
        title=quick_title(description),
        source=source,
        description=(description or "").strip(),
        grid_id=grid.id,
        lon=lon,
        lat=lat,
        address=address,
        reporter_name=reporter_name,
        reporter_phone=reporter_phone,
        anonymous=anonymous,
    )


# ---------------------------------------------------------------- the field overview (supervisors)

OVERVIEW_COLUMNS = [
    "grid_id",
    "code",
    "name",
    "community_id",
    "community",
    "worker_id",
    "worker",
    "households",
    "buildings",
    "visits",
    "visits_per_week",
    "weekly",
    "households_visited",
    "buildings_visited",
    "coverage",
    "last_visit_at",
    "days_since_visit",
    "blind",
    "open_load",
    "overdue",
    "due",
    "on_time_rate",
    "quiet",
]


def field_overview(
    session: Session,
    actor: Actor,
    *,
    weeks: int = 4,
    window_days: int | None = None,
    community_id: int | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Per grid in scope (one worker each): visits per week over the last `weeks` weeks (and each week's
    count, oldest first), coverage (share of the grid's buildings visited in the last `window_days` days, by
    default the blind-spot window),
    the worker's open load (active cases assigned to them) and overdue ones, the grid's on-time rate over
    the same weeks (kpi formula), whether it is a blind spot, and ``quiet``: blind, or under
    :data:`QUIET_COVERAGE`, or under :data:`QUIET_VISITS_PER_WEEK`. Quietest first.

    A handful of GROUP BY queries whatever the number of visits and cases.
    """
    now = now or clock.now()
    window_days = window_days or blind_days(session)
    weeks = max(1, int(weeks))
    start = now - timedelta(days=7 * weeks)
    grid_where: list[ColumnElement[bool]] = [grid_filter(actor)]
    if community_id is not None:
        grid_where.append(Grid.community_id == community_id)
    building_counts = select(Building.grid_id, func.count().label("n")).group_by(Building.grid_id).subquery()
    grids = pd.DataFrame(
        session.exec(
            select(
                Grid.id,
                Grid.code,
                Grid.name,
                Grid.community_id,
                Community.name,
                Grid.worker_id,
                User.display_name,
                Grid.households,
                func.coalesce(building_counts.c.n, 0),
            )
            .join(Community, Community.id == Grid.community_id)
            .outerjoin(User, User.id == Grid.worker_id)
            .outerjoin(building_counts, building_counts.c.grid_id == Grid.id)
            .where(*grid_where)
            .order_by(Grid.code)
        ).all(),
        columns=[
            "grid_id",
            "code",
            "name",
            "community_id",
            "community",
            "worker_id",
            "worker",
            "households",
            "buildings",
        ],
    )
    if grids.empty:
        return pd.DataFrame(columns=OVERVIEW_COLUMNS)
    ids = [int(g) for g in grids["grid_id"]]

    # visits per grid and week (week 0 = the oldest), households visited
    bounds = [start + timedelta(days=7 * i) for i in range(weeks + 1)]
    per_week = [
        func.sum(case((and_(GridVisit.at >= bounds[i], GridVisit.at < bounds[i + 1]), 1), else_=0))
        for i in range(weeks)
    ]
    visit_rows = session.exec(
        select(GridVisit.grid_id, func.count(), func.sum(GridVisit.households_visited), *per_week)
        .where(GridVisit.at >= start, GridVisit.at < now + timedelta(seconds=1), visit_filter(actor))
        .where(GridVisit.grid_id.in_(ids))
        .group_by(GridVisit.grid_id)
    ).all()
    visits = {int(r[0]): (int(r[1]), int(r[2] or 0), [int(x or 0) for x in r[3:]]) for r in visit_rows}

    # buildings reached in the blind-spot window
    reached = dict(
        session.exec(
            select(GridVisit.grid_id, func.count(func.distinct(GridVisit.building_id)))
            .where(
                GridVisit.at >= now - timedelta(days=window_days),
                GridVisit.at <= now,
                GridVisit.building_id.is_not(None),
                GridVisit.grid_id.in_(ids),
                visit_filter(actor),
            )
            .group_by(GridVisit.grid_id)
        ).all()
    )

    # open load of each worker: active cases assigned to them (in the actor's scope)
    workers = [int(w) for w in grids["worker_id"].dropna()]
    load: dict[int, tuple[int, int]] = {}
    if workers:
        load = {
            int(uid): (int(n), int(late or 0))
            for uid, n, late in session.exec(
                select(
                    Case.assignee_id,
                    func.count(),
                    func.sum(case((and_(Case.due_at.is_not(None), Case.due_at <= now), 1), else_=0)),
                )
                .where(
                    Case.assignee_id.in_(workers),
                    kpi.is_active(),
                    case_filter(actor),
                    kpi.not_duplicate(),
                )
                .group_by(Case.assignee_id)
            ).all()
        }

    rates = kpi.figures_by(session, actor, kpi.Period(start, now), "grid", now=now).set_index("key")
    blind = kpi.blind_spots(session, actor, window_days, now).set_index("grid_id")

    df = grids.copy()
    df["visits"] = [visits.get(g, (0, 0, []))[0] for g in ids]
    df["households_visited"] = [visits.get(g, (0, 0, []))[1] for g in ids]
    df["weekly"] = [visits.get(g, (0, 0, [0] * weeks))[2] or [0] * weeks for g in ids]
    df["visits_per_week"] = df["visits"] / weeks
    df["buildings_visited"] = [int(reached.get(g, 0)) for g in ids]
    df["coverage"] = (df["buildings_visited"] / df["buildings"].where(df["buildings"] > 0)).astype("float64")
    df["last_visit_at"] = [blind["last_visit_at"].get(g) if g in blind.index else None for g in ids]
    df["last_visit_at"] = pd.to_datetime(df["last_visit_at"])
    df["days_since_visit"] = ((pd.Timestamp(now) - df["last_visit_at"]).dt.total_seconds() / 86400).round(1)
    df["blind"] = [bool(blind["blind"].get(g, True)) if g in blind.index else True for g in ids]
    df["open_load"] = [load.get(int(w), (0, 0))[0] if pd.notna(w) else 0 for w in df["worker_id"]]
    df["overdue"] = [load.get(int(w), (0, 0))[1] if pd.notna(w) else 0 for w in df["worker_id"]]
    df["due"] = [int(rates["due"].get(g, 0)) if g in rates.index else 0 for g in ids]
    df["on_time_rate"] = [
        float(rates["on_time_rate"].get(g)) if g in rates.index else float("nan") for g in ids
    ]
    df["worker"] = df["worker"].fillna("")
    df["quiet"] = (
        df["blind"]
        | (df["coverage"].fillna(0) < QUIET_COVERAGE)
        | (df["visits_per_week"] < QUIET_VISITS_PER_WEEK)
    )
    df["_cov"] = df["coverage"].fillna(0)
    df = df.sort_values(
        ["quiet", "blind", "_cov", "visits_per_week", "code"], ascending=[False, False, True, True, True]
    )
    return df[OVERVIEW_COLUMNS].reset_index(drop=True)
