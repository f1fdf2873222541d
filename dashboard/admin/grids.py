"""Communities and grids: names and codes, the grid worker who holds each grid and the history of who held
it when (which figures per worker rely on). Boundaries change only through a GeoJSON import
(:mod:`dashboard.io.boundaries`); population figures are in :mod:`dashboard.admin.population`.
Conventions of every admin change are in :mod:`dashboard.admin.changes`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from sqlalchemy import ColumnElement, exists, func, or_, update
from sqlmodel import Session, select

from dashboard import clock
from dashboard.admin.changes import field_changes, require_admin, to_json, valid_text
from dashboard.cases.change import change_case
from dashboard.kernel import audit
from dashboard.kernel.errors import Conflict, Invalid, NotFound
from dashboard.kernel.scope import Actor, case_filter
from dashboard.reporting import kpi
from models import Case, Community, Grid, GridWorkerHistory, User
from models.enums import OPEN_STATUSES, Role

COMMUNITY_CODE = re.compile(r"^[A-Z][A-Z0-9]{0,5}-[0-9A-Z]{1,4}$")
"""Community codes: sub-district prefix, a hyphen, a number (e.g. ``XL-03``)."""
GRID_SUFFIX = re.compile(r"^[0-9A-Z]{1,4}$")
"""A grid code is its community's code, a hyphen and this suffix (e.g. ``XL-03-07``)."""


def update_community(
    session: Session, actor: Actor, community_id: int, *, name: str, code: str
) -> dict[str, list[object]]:
    """Rename a community or change its code; the codes of its grids follow a new code prefix.

    Grid codes of the form ``<old code>-NN`` become ``<new code>-NN`` in the same transaction.
    """
    require_admin(actor)
    comm = session.get(Community, community_id)
    if comm is None:
        raise NotFound("admin.err_not_found")
    name = valid_text(name, "name", 64)
    code = (code or "").strip().upper()
    if session.exec(select(Community.id).where(Community.name == name, Community.id != community_id)).first():
        raise Invalid("admin.err_name_taken", name=name)
    renamed_grids: dict[str, str] = {}
    if code != comm.code:
        if not COMMUNITY_CODE.match(code):
            raise Invalid("admin.err_community_code")
        if session.exec(select(Community.id).where(Community.code == code)).first():
            raise Invalid("admin.err_code_taken", code=code)
        prefix = f"{comm.code}-"
        grids = session.exec(
            select(Grid).where(
                Grid.community_id == community_id, Grid.code.startswith(prefix, autoescape=True)
            )
        ).all()
        renamed_grids = {g.code: f"{code}-{g.code[len(prefix) :]}" for g in grids}
        taken = session.exec(
            select(Grid.code).where(
                Grid.code.in_(list(renamed_grids.values())), Grid.id.not_in([g.id for g in grids])
            )
        ).all()
        if taken:
            raise Invalid("admin.err_code_taken", code=", ".join(taken))
        too_long = [c for c in renamed_grids.values() if len(c) > 16]
        if too_long:
            raise Invalid("admin.err_too_long", field="code", maximum=16)
        for g in grids:
            g.code = renamed_grids[g.code]
            session.add(g)
    changes = field_changes({"name": comm.name, "code": comm.code}, {"name": name, "code": code})
    if not changes:
        return {}
    comm.name, comm.code = name, code
    session.add(comm)
    audit.record(
        session,
        actor,
        "community_update",
        name,
        detail=to_json(
            {"changes": changes, "grid_codes": renamed_grids} if renamed_grids else {"changes": changes}
        ),
    )
    return changes


def update_grid(
    session: Session, actor: Actor, grid_id: int, *, name: str, code: str
) -> dict[str, list[object]]:
    """Rename a grid or change its code (``<community code>-<1–4 capitals or digits>``, unique)."""
    require_admin(actor)
    grid = session.get(Grid, grid_id)
    if grid is None:
        raise NotFound("admin.err_not_found")
    name = valid_text(name, "name", 64)
    code = (code or "").strip().upper()
    if session.exec(
        select(Grid.id).where(Grid.community_id == grid.community_id, Grid.name == name, Grid.id != grid_id)
    ).first():
        raise Invalid("admin.err_name_taken", name=name)
    if code != grid.code:
        comm = session.get(Community, grid.community_id)
        assert comm is not None
        prefix = f"{comm.code}-"
        if not (code.startswith(prefix) and GRID_SUFFIX.match(code[len(prefix) :])) or len(code) > 16:
            raise Invalid("admin.err_grid_code", example=f"{prefix}07")
        if session.exec(select(Grid.id).where(Grid.code == code)).first():
            raise Invalid("admin.err_code_taken", code=code)
    changes = field_changes({"name": grid.name, "code": grid.code}, {"name": name, "code": code})
    if not changes:
        return {}
    grid.name, grid.code = name, code
    session.add(grid)
    audit.record(session, actor, "grid_update", code, detail=to_json({"changes": changes}))
    return changes


def grid_table(session: Session) -> pd.DataFrame:
    """Every grid with its community and current worker, by code (admin list; no personal data)."""
    stmt = (
        select(
            Grid.id,
            Grid.code,
            Grid.name,
            Grid.community_id,
            Community.code,
            Community.name,
            Grid.worker_id,
            User.display_name,
            User.username,
            Grid.households,
            Grid.residents,
            Grid.population_as_of,
        )
        .join(Community, Community.id == Grid.community_id)
        .outerjoin(User, User.id == Grid.worker_id)
        .order_by(Grid.code)
    )
    columns = [
        "id",
        "code",
        "name",
        "community_id",
        "community_code",
        "community",
        "worker_id",
        "worker",
        "worker_username",
        "households",
        "residents",
        "population_as_of",
    ]
    return pd.DataFrame(session.exec(stmt).all(), columns=columns)  # type: ignore[call-overload]


# ---------------------------------------------------------------- grid workers

RECORDS_BEGIN = datetime(2000, 1, 1)
"""Start given to a worker's tenure when the grid had a worker but no history row (held since records began)."""


@dataclass(frozen=True)
class Reassignment:
    grid_id: int
    old_worker_id: int | None
    new_worker_id: int | None
    moved_case_ids: list[int] = field(default_factory=list)


def worker_candidates(session: Session) -> pd.DataFrame:
    """Active grid-worker accounts and the grid each holds now (if any), by name."""
    held = select(Grid.code).where(Grid.worker_id == User.id).limit(1).scalar_subquery()
    stmt = (
        select(User.id, User.username, User.display_name, held)
        .where(User.role == Role.grid_worker.value, User.active.is_(True))
        .order_by(User.display_name, User.username)
    )
    return pd.DataFrame(session.exec(stmt).all(), columns=["id", "username", "display_name", "grid_code"])  # type: ignore[call-overload]


def _open_cases_of(grid_id: int, worker_id: int) -> list[ColumnElement[bool]]:
    return [
        Case.grid_id == grid_id,
        Case.assignee_id == worker_id,
        Case.status.in_([s.value for s in OPEN_STATUSES]),
    ]


def movable_case_count(session: Session, actor: Actor, grid_id: int) -> int:
    """Open cases of the grid assigned to its current worker (what a reassignment may move)."""
    grid = session.get(Grid, grid_id)
    if grid is None or grid.worker_id is None:
        return 0
    stmt = (
        select(func.count())
        .select_from(Case)
        .where(*_open_cases_of(grid_id, grid.worker_id), case_filter(actor))
    )
    return int(session.exec(stmt).one())


def assign_worker(
    session: Session, actor: Actor, grid_id: int, user_id: int | None, *, move_open_cases: bool = False
) -> Reassignment:
    """Give a grid a new grid worker (or none), keeping the history of who held it when.

    Closes the open `grid_worker_history` row of the grid and opens one for the new worker, so figures per
    worker (:func:`worker_figures`) keep each case with the worker who held the grid when it was reported.
    The new worker's account scope moves to the grid; the old worker's leaves it (they keep the cases
    assigned to them). Only when `move_open_cases` is set, the grid's open cases assigned to the old
    worker go to the new one, each with a ``comment`` event noting the reassignment and its version bumped.
    A worker holds one grid: one who holds another grid must be released there first.
    """
    require_admin(actor)
    grid = session.get(Grid, grid_id)
    if grid is None:
        raise NotFound("admin.err_not_found")
    old_id = grid.worker_id
    new_user = _new_worker(session, grid_id, old_id, user_id)
    if move_open_cases and (old_id is None or new_user is None):
        raise Invalid("admin.err_move_needs_workers")
    _claim_grid(session, grid, user_id)
    now = clock.now()
    _record_tenure(session, grid_id, old_id, user_id, now)
    _move_account_scopes(session, grid, old_id, new_user)
    session.flush()
    moved: list[int] = []
    if move_open_cases:
        assert old_id is not None and new_user is not None
        moved = _move_open_cases(session, actor, grid, old_id, new_user)
    audit.record(
        session,
        actor,
        "grid_worker_assign",
        grid.code,
        detail=to_json(
            {"grid": grid.code, "changes": {"worker_id": [old_id, user_id]}, "moved_cases": len(moved)}
        ),
    )
    return Reassignment(grid_id, old_id, user_id, moved)


def _new_worker(session: Session, grid_id: int, old_id: int | None, user_id: int | None) -> User | None:
    """The account that is to hold the grid (None: no worker); refused unless it changes the grid's worker
    to an active grid worker who holds no other grid."""
    if user_id == old_id:
        raise Invalid("admin.err_worker_unchanged")
    if user_id is None:
        return None
    new_user = session.get(User, user_id)
    if new_user is None or not new_user.active or new_user.role != Role.grid_worker:
        raise Invalid("admin.err_worker_invalid")
    other = session.exec(select(Grid.code).where(Grid.worker_id == user_id, Grid.id != grid_id)).first()
    if other:
        raise Conflict("admin.err_worker_busy", name=new_user.display_name, code=other)
    return new_user


def _claim_grid(session: Session, grid: Grid, user_id: int | None) -> None:
    """Set the grid's worker only if it is still the one read: if another admin changed the grid's worker
    meanwhile, nothing is written."""
    old_id = grid.worker_id
    same_worker = Grid.worker_id.is_(None) if old_id is None else Grid.worker_id == old_id
    claimed = session.exec(
        update(Grid)
        .where(Grid.id == grid.id, same_worker)
        .values(worker_id=user_id)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise Conflict("admin.err_changed_meanwhile")
    grid.worker_id = user_id


def _record_tenure(
    session: Session, grid_id: int, old_id: int | None, new_id: int | None, now: datetime
) -> None:
    """End the grid's open `grid_worker_history` rows now and open the new worker's. An old worker without
    a row (held since before the history was kept) gets one from :data:`RECORDS_BEGIN` to now."""
    open_rows = session.exec(
        select(GridWorkerHistory).where(
            GridWorkerHistory.grid_id == grid_id, GridWorkerHistory.ended_at.is_(None)
        )
    ).all()
    if old_id is not None and not any(r.user_id == old_id for r in open_rows):
        session.add(
            GridWorkerHistory(grid_id=grid_id, user_id=old_id, started_at=RECORDS_BEGIN, ended_at=now)
        )
    for row in open_rows:
        row.ended_at = now
        session.add(row)
    if new_id is not None:
        session.add(GridWorkerHistory(grid_id=grid_id, user_id=new_id, started_at=now))


def _move_account_scopes(session: Session, grid: Grid, old_id: int | None, new_user: User | None) -> None:
    """The new worker's account is scoped to the grid (and its community); the old worker's leaves it."""
    if new_user is not None:
        new_user.grid_id = grid.id
        new_user.community_id = grid.community_id
        session.add(new_user)
    old_user = session.get(User, old_id) if old_id is not None else None
    if old_user is not None and old_user.grid_id == grid.id:
        old_user.grid_id = None
        session.add(old_user)


def _move_open_cases(session: Session, actor: Actor, grid: Grid, old_id: int, new_user: User) -> list[int]:
    """Give the grid's open cases assigned to the old worker to the new one, each through the one function
    that changes a case (a ``comment`` event noting the handover); returns their ids in order."""
    assert grid.id is not None
    open_cases = session.exec(
        select(Case.id, Case.version).where(*_open_cases_of(grid.id, old_id)).order_by(Case.id)
    ).all()
    payload = {"kind": "reassign", "grid": grid.code, "from_user": old_id, "to_user": new_user.id}
    # Stored in the data language of the sub-district, like other notes; the payload carries the facts.
    old_user = session.get(User, old_id)
    previous = old_user.display_name if old_user is not None else str(old_id)
    note = f"网格员调整：网格 {grid.code} 由 {previous} 移交 {new_user.display_name}"
    new_id = new_user.id
    for case_id, version in open_cases:
        change_case(
            session,
            actor,
            case_id,
            version,
            "comment",
            note,
            lambda _c, _s, _now: ({"assignee_id": new_id}, {}),
            payload=payload,
        )
    session.flush()
    return [case_id for case_id, _ in open_cases]


def worker_history(session: Session, grid_id: int) -> pd.DataFrame:
    """Who held the grid when, newest first: user_id, display_name, username, started_at, ended_at."""
    stmt = (
        select(
            GridWorkerHistory.user_id,
            User.display_name,
            User.username,
            GridWorkerHistory.started_at,
            GridWorkerHistory.ended_at,
        )
        .join(User, User.id == GridWorkerHistory.user_id)
        .where(GridWorkerHistory.grid_id == grid_id)
        .order_by(GridWorkerHistory.started_at.desc(), GridWorkerHistory.id.desc())
    )
    return pd.DataFrame(
        session.exec(stmt).all(),  # type: ignore[call-overload]
        columns=["user_id", "display_name", "username", "started_at", "ended_at"],
    )


def worker_figures(
    session: Session, worker_user_id: int, period: kpi.Period, *, actor: Actor, now: datetime | None = None
) -> kpi.Figures:
    """The figures (DESIGN §8) of the cases reported in grids while `worker_user_id` held them.

    A case counts for the worker who held its grid at the time it was reported (``grid_worker_history``:
    ``started_at <= reported_at < ended_at``), so after a reassignment the old worker keeps their history
    and the new worker starts from theirs. Limited to `actor`'s scope like every figure.
    """
    held = exists().where(
        GridWorkerHistory.user_id == worker_user_id,
        GridWorkerHistory.grid_id == Case.grid_id,
        GridWorkerHistory.started_at <= Case.reported_at,
        or_(GridWorkerHistory.ended_at.is_(None), Case.reported_at < GridWorkerHistory.ended_at),
    )
    return kpi.figures(session, actor, period, where=[held], now=now)
