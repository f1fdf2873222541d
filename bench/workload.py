"""A case-loop workload: intakes and random legal actions on random open cases, as desk users make them.

Used by ``bench/writers.py`` (throughput and latency of concurrent writers) and by the integrity tests
(processes killed mid-write, conflicting pairs of actions). Each step is one unit of work in a writer
transaction (:func:`dashboard.db.session_scope` with ``write=True``), exactly as a page action runs.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dashboard.admin.auth import actor_of
from dashboard.cases import commands
from dashboard.cases.change import CaseRef, allowed_actions, case_state
from dashboard.cases.intake import NewCase, create_case
from dashboard.db import run_unit, session_scope
from dashboard.kernel.scope import Actor
from models import Case, Category, Department, Grid, User
from models.enums import OPEN_STATUSES, CaseSource

Act = Callable[[Session, Actor, Case, random.Random, "World"], CaseRef]


@dataclass(frozen=True)
class World:
    """What the workload picks from: the operator, categories, grids, workers and departments."""

    operator: Actor
    categories: list[int]
    grids: list[tuple[int, float, float]]
    workers: list[int]
    departments: list[int]
    max_case_id: int


def load_world(engine: Engine, username: str = "operator") -> World:
    with session_scope(engine) as s:
        user = s.exec(select(User).where(User.username == username)).one()
        grids = [(g.id, g.centroid_lon, g.centroid_lat) for g in s.exec(select(Grid).order_by(Grid.id)).all()]
        return World(
            operator=actor_of(user),
            categories=list(s.exec(select(Category.id).where(Category.active.is_(True))).all()),
            grids=grids,  # type: ignore[arg-type]
            workers=list(
                s.exec(select(User.id).where(User.role == "grid_worker", User.active.is_(True))).all()
            ),
            departments=list(s.exec(select(Department.id).where(Department.active.is_(True))).all()),
            max_case_id=int(s.exec(select(func.max(Case.id))).one() or 0),
        )


def _note(rng: random.Random) -> str:
    return rng.choice(("已联系", "现场查看", "情况属实", "请尽快处理", "已电话回访"))


ACTS: dict[str, Act] = {
    "accept": lambda s, a, c, r, w: commands.accept(s, a, c.id, c.version),  # type: ignore[arg-type]
    "reject": lambda s, a, c, r, w: commands.reject(s, a, c.id, c.version, "不属于受理范围"),  # type: ignore[arg-type]
    "dispatch": lambda s, a, c, r, w: commands.dispatch(
        s,
        a,
        c.id,
        c.version,
        department_id=r.choice(w.departments),  # type: ignore[arg-type]
    ),
    "start": lambda s, a, c, r, w: commands.start(s, a, c.id, c.version),  # type: ignore[arg-type]
    "return": lambda s, a, c, r, w: commands.return_case(s, a, c.id, c.version, "需补充材料"),  # type: ignore[arg-type]
    "resolve": lambda s, a, c, r, w: commands.resolve(s, a, c.id, c.version, "已处置完毕"),  # type: ignore[arg-type]
    "rework": lambda s, a, c, r, w: commands.rework(s, a, c.id, c.version, "处置不到位"),  # type: ignore[arg-type]
    "verify": lambda s, a, c, r, w: commands.verify(s, a, c.id, c.version),  # type: ignore[arg-type]
    "follow_up": lambda s, a, c, r, w: commands.follow_up(
        s,
        a,
        c.id,
        c.version,
        r.choice(("satisfied", "basically_satisfied", "dissatisfied")),  # type: ignore[arg-type]
    ),
    "close": lambda s, a, c, r, w: commands.close(s, a, c.id, c.version),  # type: ignore[arg-type]
    "reopen": lambda s, a, c, r, w: commands.reopen(s, a, c.id, c.version, "群众再次反映"),  # type: ignore[arg-type]
    "supervise": lambda s, a, c, r, w: commands.supervise(s, a, c.id, c.version, "请加快办理"),  # type: ignore[arg-type]
    "comment": lambda s, a, c, r, w: commands.comment(s, a, c.id, _note(r)),  # type: ignore[arg-type]
}
"""The actions the workload takes, each with plausible arguments."""


def new_case(rng: random.Random, world: World) -> NewCase:
    grid_id, lon, lat = rng.choice(world.grids)
    return NewCase(
        category_id=rng.choice(world.categories),
        title=rng.choice(("路灯不亮", "垃圾未清运", "井盖松动", "楼道堆物", "噪音扰民")),
        source=CaseSource.hotline,
        grid_id=grid_id,
        description="居民来电反映",
        reporter_name="张先生",
        reporter_phone=f"139{rng.randrange(10**8):08d}",
    )


def pick_open_case(session: Session, rng: random.Random, world: World) -> Case | None:
    """A random open case (by a random id and the next open one after it: cheap at a million cases)."""
    start = rng.randrange(1, max(world.max_case_id, 1) + 1)
    stmt = select(Case).where(Case.id >= start, Case.status.in_([s.value for s in OPEN_STATUSES]))
    return session.exec(stmt.order_by(Case.id).limit(1)).first()


def step(engine: Engine, rng: random.Random, world: World, intake_share: float = 0.2) -> str:
    """One unit of work, as a page action runs it (:func:`dashboard.db.run_unit`: a writer transaction,
    tried again when other writers were in the way): an intake, or one random legal action on a random
    open case. Returns the action's name."""

    def unit(s: Session) -> str:
        if rng.random() < intake_share:
            create_case(s, world.operator, new_case(rng, world))
            return "report"
        case = pick_open_case(s, rng, world)
        if case is None:
            create_case(s, world.operator, new_case(rng, world))
            return "report"
        choices = [a for a in allowed_actions(world.operator, case_state(s, case)) if a in ACTS]
        if not choices:
            commands.comment(s, world.operator, case.id, _note(rng))  # type: ignore[arg-type]
            return "comment"
        action = rng.choice(choices)
        ACTS[action](s, world.operator, case, rng, world)
        return action

    return run_unit(unit, engine)


def replay_problems(session: Session) -> list[str]:
    """Cases whose events do not replay to their status and version (events in order of id: each
    event's to-status, or the status it found when it records none; the version counts the events),
    and cases without their 'report' event."""
    from models import CaseEvent

    problems: list[str] = []
    last: dict[int, tuple[str | None, int, str]] = {}
    rows = session.exec(
        select(CaseEvent.case_id, CaseEvent.action, CaseEvent.from_status, CaseEvent.to_status).order_by(
            CaseEvent.case_id, CaseEvent.id
        )
    )
    for case_id, action, from_status, to_status in rows:
        status, count, first = last.get(case_id, (None, 0, action))
        if count and from_status != status:
            problems.append(f"case {case_id}: {action} from {from_status}, but the case was {status}")
        last[case_id] = (to_status or status, count + 1, first)
    for case_id, status, version in session.exec(select(Case.id, Case.status, Case.version)):
        if case_id not in last:
            problems.append(f"case {case_id}: no events")
            continue
        replayed, count, first = last[case_id]
        if first != "report":
            problems.append(f"case {case_id}: first event is {first}, not report")
        if replayed != status or count != version:
            problems.append(
                f"case {case_id}: events give {replayed} v{count}, the case is {status} v{version}"
            )
    return problems
