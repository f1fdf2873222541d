"""A small hand-built world for the case-loop tests (no seed needed), and a module-scoped database.

Three grids in two communities, three categories (working days, natural hours, upper-level assignment),
two departments, one user per role plus a grid worker per grid (password ``demo1234``), and a helper
that puts a case straight into any status. Tests import the fixtures from here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from dashboard.admin.auth import hash_password
from dashboard.cases import sla
from dashboard.db import dispose_engines, get_engine, upgrade
from dashboard.kernel.scope import Actor
from models import Case, CaseEvent, Category, Community, Department, Grid, Subdistrict, User
from models.enums import CalendarKind, CaseSource, CaseStatus, Priority, Role

LON0, LAT0 = 118.28, 33.96
SIZE = 0.01  # grid squares of about 0.9 km × 1.1 km
NOW = datetime(2026, 3, 9, 10, 0)  # a Monday, a working day
_HASH: dict[str, str] = {}


def square(col: int, row: int = 0) -> str:
    x0, y0 = LON0 + col * SIZE, LAT0 + row * SIZE
    ring = [[x0, y0], [x0 + SIZE, y0], [x0 + SIZE, y0 + SIZE], [x0, y0 + SIZE], [x0, y0]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def centre(col: int) -> tuple[float, float]:
    return LON0 + col * SIZE + SIZE / 2, LAT0 + SIZE / 2


@dataclass
class World:
    url: str
    grids: list[int]  # grid ids: grid 0 and 1 in community 0, grid 2 in community 1
    communities: list[int]
    env: int  # category ids
    saf: int
    adm: int
    cg: int  # department ids
    zj: int
    actors: dict[str, Actor]

    def session(self) -> Session:
        return Session(get_engine(self.url), expire_on_commit=False)


def _password() -> str:
    if "h" not in _HASH:
        _HASH["h"] = hash_password("demo1234")
    return _HASH["h"]


def build_world(url: str) -> World:
    """Fill an empty migrated database with the world; returns its ids and actors."""
    with Session(get_engine(url), expire_on_commit=False) as s:
        sub = Subdistrict(name="项里街道", code="XL", outline=square(0), centroid_lon=LON0, centroid_lat=LAT0)
        s.add(sub)
        s.flush()
        comms = [
            Community(
                subdistrict_id=sub.id,
                name=name,
                code=code,
                outline=square(i),
                centroid_lon=LON0,
                centroid_lat=LAT0,
            )
            for i, (name, code) in enumerate([("幸福社区", "XL-01"), ("和平社区", "XL-02")])
        ]
        s.add_all(comms)
        s.flush()
        grids = []
        for i, (comm, code) in enumerate(
            [(comms[0], "XL-01-01"), (comms[0], "XL-01-02"), (comms[1], "XL-02-01")]
        ):
            lon, lat = centre(i)
            grids.append(
                Grid(
                    community_id=comm.id,
                    code=code,
                    name=f"第{i + 1}网格",
                    polygon=square(i),
                    centroid_lon=lon,
                    centroid_lat=lat,
                    households=300,
                    residents=900,
                )
            )
        s.add_all(grids)
        depts = [Department(name="城管", code="CG"), Department(name="住建", code="ZJ")]
        s.add_all(depts)
        s.flush()
        cats = [
            Category(
                code="ENV",
                name_zh="环境卫生",
                name_en="Environment",
                sla_limit=3,
                calendar=CalendarKind.working_days,
                response_limit=2,
                response_calendar=CalendarKind.working_hours,
                department_id=depts[0].id,
            ),
            Category(
                code="SAF",
                name_zh="安全隐患",
                name_en="Safety",
                sla_limit=24,
                calendar=CalendarKind.natural_hours,
                response_limit=1,
                response_calendar=CalendarKind.natural_hours,
                priority_default=Priority.urgent,
                department_id=depts[1].id,
            ),
            Category(
                code="ADM",
                name_zh="上级交办",
                name_en="Assigned",
                sla_limit=5,
                calendar=CalendarKind.working_days,
                response_limit=4,
                response_calendar=CalendarKind.working_hours,
            ),
        ]
        s.add_all(cats)
        s.flush()
        pw = _password()
        specs = [
            ("admin", "管理员", Role.admin, {}),
            ("operator", "指挥中心王芳", Role.operator, {}),
            ("leader", "李书记", Role.leader, {}),
            ("community", "社区张强", Role.community, {"community_id": comms[0].id}),
            ("grid", "网格员刘洋", Role.grid_worker, {"grid_id": grids[0].id, "community_id": comms[0].id}),
            ("grid2", "网格员陈静", Role.grid_worker, {"grid_id": grids[1].id, "community_id": comms[0].id}),
            ("grid3", "网格员赵磊", Role.grid_worker, {"grid_id": grids[2].id, "community_id": comms[1].id}),
            ("department", "城管周勇", Role.department, {"department_id": depts[0].id}),
            ("department2", "住建吴敏", Role.department, {"department_id": depts[1].id}),
            ("volunteers", "志愿站孙丽", Role.volunteer_manager, {}),
        ]
        users = {}
        for username, name, role, extra in specs:
            u = User(
                username=username, display_name=name, role=role, password_hash=pw, created_at=NOW, **extra
            )
            s.add(u)
            users[username] = u
        s.flush()
        for g, worker in zip(grids, ["grid", "grid2", "grid3"], strict=True):
            g.worker_id = users[worker].id
            s.add(g)
        s.commit()
        actors = {
            name: Actor(
                id=u.id,
                username=u.username,
                display_name=u.display_name,
                role=u.role,  # type: ignore[arg-type]
                community_id=u.community_id,
                grid_id=u.grid_id,
                department_id=u.department_id,
            )
            for name, u in users.items()
        }
        return World(
            url,
            [g.id for g in grids],
            [c.id for c in comms],
            cats[0].id,
            cats[1].id,
            cats[2].id,  # type: ignore[misc]
            depts[0].id,
            depts[1].id,
            actors,
        )  # type: ignore[arg-type]


_TIMESTAMPS = {
    CaseStatus.reported: [],
    CaseStatus.rejected: [],
    CaseStatus.accepted: ["accepted_at"],
    CaseStatus.dispatched: ["accepted_at", "dispatched_at"],
    CaseStatus.in_progress: ["accepted_at", "dispatched_at"],
    CaseStatus.resolved: ["accepted_at", "dispatched_at", "resolved_at"],
    CaseStatus.verified: ["accepted_at", "dispatched_at", "resolved_at", "verified_at"],
    CaseStatus.closed: ["accepted_at", "dispatched_at", "resolved_at", "verified_at", "closed_at"],
}


def put_case(
    s: Session,
    w: World,
    status: CaseStatus = CaseStatus.reported,
    *,
    grid: int = 0,
    category: int | None = None,
    reported_at: datetime | None = None,
    lonlat: tuple[float, float] | None = None,
    number: str | None = None,
    **extra: object,
) -> Case:
    """Insert a case directly in `status` (timestamps and SLA consistent), with its 'report' event."""
    at = reported_at or NOW - timedelta(hours=1)
    cat = s.get(Category, category or w.env)
    assert cat is not None
    times = sla.sla_times(at, cat.sla_limit, cat.calendar)
    lon, lat = lonlat or centre(grid)
    case = Case(
        number=number or f"T{uuid.uuid4().hex[:10].upper()}",
        category_id=cat.id,  # type: ignore[arg-type]
        title="楼道堆放杂物",
        description="三楼楼道堆满纸箱",
        grid_id=w.grids[grid],
        community_id=w.communities[0 if grid < 2 else 1],
        lon=lon,
        lat=lat,
        address="幸福路8号3号楼2单元301",
        source=CaseSource.hotline,
        reporter_name="王小明",
        reporter_phone="13812345678",
        status=status,
        reported_at=at,
        due_at=times.due_at,
        warn_at=times.warn_at,
        black_at=times.black_at,
        response_due_at=at + timedelta(hours=2),
        **{col: at + timedelta(minutes=10 * (i + 1)) for i, col in enumerate(_TIMESTAMPS[status])},
    )
    if status in (
        CaseStatus.dispatched,
        CaseStatus.in_progress,
        CaseStatus.resolved,
        CaseStatus.verified,
        CaseStatus.closed,
    ):
        case.assignee_id = w.actors[["grid", "grid2", "grid3"][grid]].id
    if status == CaseStatus.closed:
        case.satisfaction = "satisfied"
        case.solved = True
    for key, value in extra.items():
        setattr(case, key, value)
    s.add(case)
    s.flush()
    s.add(
        CaseEvent(
            case_id=case.id,
            at=at,
            actor_id=w.actors["operator"].id,
            action="report",  # type: ignore[arg-type]
            from_status=None,
            to_status=CaseStatus.reported,
        )
    )
    s.commit()
    return case


def new_database(backend: str, request: pytest.FixtureRequest, folder: Path) -> str:
    """A fresh migrated database on `backend` (SQLite file or a database on the test PostgreSQL server)."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / f'cases-{uuid.uuid4().hex[:8]}.db'}"
    else:
        server = request.getfixturevalue("pg_server")
        name = f"c_{uuid.uuid4().hex[:12]}"
        server.execute_autocommit(f'CREATE DATABASE "{name}"')
        url = server.url(name)
    upgrade(url)
    return url


@pytest.fixture(scope="module")
def world(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One world per test module and backend; tests add their own cases to it."""
    url = new_database(backend, request, tmp_path_factory.mktemp("cases"))
    yield build_world(url)
    dispose_engines()


@pytest.fixture
def fresh_world(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """A world of its own, for tests that count or list every case."""
    url = new_database(backend, request, tmp_path)
    yield build_world(url)
    dispose_engines()
