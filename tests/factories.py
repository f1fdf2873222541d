"""Tiny hand-built data for unit tests: a sub-district with two communities of two square grids each."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session

from dashboard.kernel.scope import Actor
from models import Case, Category, Community, Department, Grid, Subdistrict, User
from models.enums import CalendarKind, CaseSource, CaseStatus, Role

_seq = itertools.count(1)


def square(lon: float, lat: float, size: float = 0.01) -> str:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


@dataclass
class World:
    subdistrict_id: int
    community_ids: list[int]
    grid_ids: list[int]  # grids 0,1 in community 0; grids 2,3 in community 1
    category_id: int
    department_id: int
    users: dict[str, Actor] = field(default_factory=dict)


def build_world(session: Session) -> World:
    """Insert the small territory, one category (ENV, 3 working days), one department and one user per role."""
    sd = Subdistrict(
        name="测试街道", code="TS", outline=square(118.0, 33.0, 0.02), centroid_lon=118.01, centroid_lat=33.01
    )
    session.add(sd)
    session.flush()
    communities, grids = [], []
    for ci in range(2):
        c = Community(
            subdistrict_id=sd.id,
            name=f"测试{ci + 1}社区",
            code=f"TS-0{ci + 1}",
            outline=square(118.0 + ci * 0.01, 33.0, 0.01),
            centroid_lon=118.005 + ci * 0.01,
            centroid_lat=33.01,
        )
        session.add(c)
        session.flush()
        communities.append(c.id)
        for gi in range(2):
            g = Grid(
                community_id=c.id,
                code=f"TS-0{ci + 1}-0{gi + 1}",
                name=f"测试{ci + 1}社区第{gi + 1}网格",
                polygon=square(118.0 + ci * 0.01, 33.0 + gi * 0.005, 0.005),
                centroid_lon=118.0025 + ci * 0.01,
                centroid_lat=33.0025 + gi * 0.005,
                households=100 * (gi + 1),
                residents=450 * (gi + 1),
                elderly_60=90,
                elderly_alone=15,
            )
            session.add(g)
            session.flush()
            grids.append(g.id)
    dept = Department(name="城管", code="CG")
    session.add(dept)
    session.flush()
    cat = Category(
        code="ENV",
        name_zh="环境卫生",
        name_en="Environment",
        sla_limit=3,
        calendar=CalendarKind.working_days,
        response_limit=2,
        response_calendar=CalendarKind.working_hours,
        department_id=dept.id,
    )
    session.add(cat)
    session.flush()
    world = World(sd.id, communities, grids, cat.id, dept.id)
    now = datetime(2026, 11, 1)
    for role, scope in [
        (Role.admin, {}),
        (Role.leader, {}),
        (Role.operator, {}),
        (Role.community, {"community_id": communities[0]}),
        (Role.grid_worker, {"community_id": communities[0], "grid_id": grids[0]}),
        (Role.department, {"department_id": dept.id}),
        (Role.volunteer_manager, {}),
    ]:
        u = User(
            username=f"t-{role}",
            display_name=f"测试{role}",
            role=role,
            password_hash="x",
            created_at=now,
            **scope,
        )
        session.add(u)
        session.flush()
        world.users[str(role)] = Actor(
            u.id, u.username, u.display_name, role, u.community_id, u.grid_id, u.department_id
        )
    return world


def add_case(
    session: Session,
    world: World,
    grid_index: int = 0,
    reported_at: datetime = datetime(2026, 11, 2, 9),
    status: CaseStatus = CaseStatus.reported,
    **fields: object,
) -> Case:
    """Insert a case with sensible defaults; pass any Case column to override."""
    grid_id = world.grid_ids[grid_index]
    community_id = world.community_ids[grid_index // 2]
    n = next(_seq)
    values: dict[str, object] = {
        "number": f"TS{reported_at:%Y%m%d}-{n:04d}",
        "category_id": world.category_id,
        "title": f"测试案件{n}",
        "grid_id": grid_id,
        "community_id": community_id,
        "source": CaseSource.grid_visit,
        "status": status,
        "reported_at": reported_at,
        "due_at": reported_at + timedelta(days=3),
        "response_due_at": reported_at + timedelta(hours=2),
        "warn_at": reported_at + timedelta(days=2),
        "black_at": reported_at + timedelta(days=6),
    }
    values.update(fields)
    case = Case(**values)  # type: ignore[arg-type]
    session.add(case)
    session.flush()
    return case
