"""Hand-built test data: the World (a small territory, its categories, departments and users, built by one
builder from a Layout: TINY, IMPORTS, CASE_LOOP, VOLUNTEERS) and plain helpers that add cases, volunteers and
service records to it or write files for the import tests. The ``world`` fixture is in tests/conftest.py."""

from __future__ import annotations

import csv
import io
import itertools
import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, select

from dashboard.cases import sla
from dashboard.db import get_engine
from dashboard.kernel.scope import Actor
from models import (
    Case,
    CaseEvent,
    Category,
    Community,
    Department,
    Grid,
    ResidentUnit,
    ServiceRecord,
    Subdistrict,
    User,
    Volunteer,
    VolunteerSkill,
)
from models.enums import (
    CalendarKind,
    CaseSource,
    CaseStatus,
    PartyMemberKind,
    PoliticalStatus,
    Priority,
    Role,
)

DEMO_PASSWORD = "demo1234"
"""Password of the seeded demo users and of the CASE_LOOP users."""

_seq = itertools.count(1)


def square(lon: float, lat: float, size: float = 0.01) -> str:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


# ---------------------------------------------------------------- the world: one builder, several layouts


@dataclass(frozen=True)
class GridSpec:
    code: str
    name: str
    community: int  # index into Layout.communities
    polygon: str
    centroid: tuple[float, float]
    fields: dict[str, int] = field(default_factory=dict)  # households, residents, elderly_60 …
    worker: str | None = None  # key of the user who works this grid


@dataclass(frozen=True)
class UserSpec:
    key: str  # the key in World.actors
    username: str
    display_name: str
    role: Role
    community: int | None = None  # index into Layout.communities
    grid: str | None = None  # grid code
    department: str | None = None  # department code


@dataclass(frozen=True)
class Layout:
    """What :func:`build_world` inserts. Categories name their department by ``"department": code`` and
    resident units their community by ``"community": index``."""

    subdistrict: dict[str, object]
    communities: tuple[dict[str, object], ...]
    grids: tuple[GridSpec, ...]
    departments: tuple[tuple[str, str], ...]  # (name, code)
    categories: tuple[dict[str, object], ...]
    users: tuple[UserSpec, ...]
    created_at: datetime  # of the users
    units: tuple[dict[str, object], ...] = ()
    demo_password: bool = False  # users can log in with DEMO_PASSWORD (AppTest); else a dummy hash


@dataclass
class World:
    """A hand-built territory in a migrated database: ids in layout order and by code, an Actor per user."""

    url: str
    subdistrict_id: int
    community_ids: list[int]
    grid_ids: list[int]
    grid: dict[str, int]  # grid id by code
    category: dict[str, int]  # category id by code
    department: dict[str, int]  # department id by code
    unit_ids: list[int]
    actors: dict[str, Actor]

    def session(self) -> Session:
        return Session(get_engine(self.url), expire_on_commit=False)


_ENV = {
    "code": "ENV",
    "name_zh": "环境卫生",
    "name_en": "Environment",
    "sla_limit": 3,
    "calendar": CalendarKind.working_days,
    "response_limit": 2,
    "response_calendar": CalendarKind.working_hours,
    "department": "CG",
}

TINY = Layout(
    subdistrict={
        "name": "测试街道",
        "code": "TS",
        "outline": square(118.0, 33.0, 0.02),
        "centroid_lon": 118.01,
        "centroid_lat": 33.01,
    },
    communities=tuple(
        {
            "name": f"测试{ci + 1}社区",
            "code": f"TS-0{ci + 1}",
            "outline": square(118.0 + ci * 0.01, 33.0, 0.01),
            "centroid_lon": 118.005 + ci * 0.01,
            "centroid_lat": 33.01,
        }
        for ci in range(2)
    ),
    grids=tuple(
        GridSpec(
            code=f"TS-0{ci + 1}-0{gi + 1}",
            name=f"测试{ci + 1}社区第{gi + 1}网格",
            community=ci,
            polygon=square(118.0 + ci * 0.01, 33.0 + gi * 0.005, 0.005),
            centroid=(118.0025 + ci * 0.01, 33.0025 + gi * 0.005),
            fields={
                "households": 100 * (gi + 1),
                "residents": 450 * (gi + 1),
                "elderly_60": 90,
                "elderly_alone": 15,
            },
        )
        for ci in range(2)
        for gi in range(2)
    ),
    departments=(("城管", "CG"),),
    categories=(_ENV,),
    users=tuple(
        UserSpec(str(role), f"t-{role}", f"测试{role}", role, **scope)  # type: ignore[arg-type]
        for role, scope in [
            (Role.admin, {}),
            (Role.leader, {}),
            (Role.operator, {}),
            (Role.community, {"community": 0}),
            (Role.grid_worker, {"community": 0, "grid": "TS-01-01"}),
            (Role.department, {"department": "CG"}),
            (Role.volunteer_manager, {}),
        ]
    ),
    created_at=datetime(2026, 11, 1),
)
"""Two communities of two square grids each (TS-01-01, TS-01-02 | TS-02-01, TS-02-02), one category (ENV,
3 working days), one department (CG) and one user per role, keyed by role."""

IMPORTS_NOW = datetime(2026, 11, 25, 10, 0)
"""Frozen "now" of the import tests (a Wednesday)."""

IMPORTS = replace(
    TINY,
    categories=(
        _ENV,
        {
            "code": "SAF",
            "name_zh": "安全隐患",
            "name_en": "Safety hazards",
            "sla_limit": 24,
            "calendar": CalendarKind.natural_hours,
            "response_limit": 1,
            "response_calendar": CalendarKind.natural_hours,
            "priority_default": Priority.urgent,
        },
    ),
    units=({"name": "项里小学", "kind": "school"},),
)
"""TINY, a second category (SAF, no department) and a school, for the import tests."""

INSIDE = [(118.0025, 33.0025), (118.0025, 33.0075), (118.0125, 33.0025), (118.0125, 33.0075)]
"""A point inside each of the four TINY grids TS-01-01, TS-01-02, TS-02-01, TS-02-02."""

CASE_LOOP_NOW = datetime(2026, 3, 9, 10, 0)
"""A Monday, a working day: "now" of the case-loop tests."""

_LON0, _LAT0, _SIZE = 118.28, 33.96, 0.01  # CASE_LOOP grid squares of about 0.9 km × 1.1 km


def _cell(col: int) -> str:
    return square(_LON0 + col * _SIZE, _LAT0, _SIZE)


def centre(col: int) -> tuple[float, float]:
    """The centre of CASE_LOOP grid `col`."""
    return _LON0 + col * _SIZE + _SIZE / 2, _LAT0 + _SIZE / 2


CASE_LOOP = Layout(
    subdistrict={
        "name": "项里街道",
        "code": "XL",
        "outline": _cell(0),
        "centroid_lon": _LON0,
        "centroid_lat": _LAT0,
    },
    communities=tuple(
        {"name": name, "code": code, "outline": _cell(i), "centroid_lon": _LON0, "centroid_lat": _LAT0}
        for i, (name, code) in enumerate([("幸福社区", "XL-01"), ("和平社区", "XL-02")])
    ),
    grids=tuple(
        GridSpec(
            code=code,
            name=f"第{i + 1}网格",
            community=comm,
            polygon=_cell(i),
            centroid=centre(i),
            fields={"households": 300, "residents": 900},
            worker=worker,
        )
        for i, (comm, code, worker) in enumerate(
            [(0, "XL-01-01", "grid"), (0, "XL-01-02", "grid2"), (1, "XL-02-01", "grid3")]
        )
    ),
    departments=(("城管", "CG"), ("住建", "ZJ")),
    categories=(
        _ENV,
        {
            "code": "SAF",
            "name_zh": "安全隐患",
            "name_en": "Safety",
            "sla_limit": 24,
            "calendar": CalendarKind.natural_hours,
            "response_limit": 1,
            "response_calendar": CalendarKind.natural_hours,
            "priority_default": Priority.urgent,
            "department": "ZJ",
        },
        {
            "code": "ADM",
            "name_zh": "上级交办",
            "name_en": "Assigned",
            "sla_limit": 5,
            "calendar": CalendarKind.working_days,
            "response_limit": 4,
            "response_calendar": CalendarKind.working_hours,
        },
    ),
    users=tuple(
        UserSpec(username, username, name, role, **scope)  # type: ignore[arg-type]
        for username, name, role, scope in [
            ("admin", "管理员", Role.admin, {}),
            ("operator", "指挥中心王芳", Role.operator, {}),
            ("leader", "李书记", Role.leader, {}),
            ("community", "社区张强", Role.community, {"community": 0}),
            ("grid", "网格员刘洋", Role.grid_worker, {"grid": "XL-01-01", "community": 0}),
            ("grid2", "网格员陈静", Role.grid_worker, {"grid": "XL-01-02", "community": 0}),
            ("grid3", "网格员赵磊", Role.grid_worker, {"grid": "XL-02-01", "community": 1}),
            ("department", "城管周勇", Role.department, {"department": "CG"}),
            ("department2", "住建吴敏", Role.department, {"department": "ZJ"}),
            ("volunteers", "志愿站孙丽", Role.volunteer_manager, {}),
        ]
    ),
    created_at=CASE_LOOP_NOW,
    demo_password=True,
)
"""The case loop's world: three grids (XL-01-01, XL-01-02 in 幸福社区, XL-02-01 in 和平社区), each with its
grid worker; three categories (ENV working days, SAF natural hours, ADM upper-level assignment without a
department); two departments (CG, ZJ); one user per role keyed by username, password DEMO_PASSWORD."""

VOLUNTEERS_NOW = datetime(2026, 3, 10, 12, 0)
""""Now" of the volunteer tests."""


def _unit(i: int) -> str:
    return square(118.0 + 0.01 * i, 33.9, 0.01)


VOLUNTEERS = Layout(
    subdistrict={
        "name": "测试街道",
        "code": "TS",
        "outline": _unit(0),
        "centroid_lon": 118.0,
        "centroid_lat": 33.9,
    },
    communities=(
        {"name": "甲社区", "code": "TS-01", "outline": _unit(0), "centroid_lon": 118.0, "centroid_lat": 33.9},
        {
            "name": "乙社区",
            "code": "TS-02",
            "outline": _unit(3),
            "centroid_lon": 118.03,
            "centroid_lat": 33.9,
        },
    ),
    grids=tuple(
        GridSpec(
            code=code,
            name=f"{code}网格",
            community=comm,
            polygon=_unit(i),
            centroid=(118.005 + 0.01 * i, 33.905),
        )
        for code, (comm, i) in {"G1": (0, 0), "G2": (0, 1), "G3": (0, 2), "G4": (1, 3), "G5": (1, 6)}.items()
    ),
    departments=(),
    categories=tuple(
        {
            "code": code,
            "name_zh": code,
            "name_en": code,
            "sla_limit": 5,
            "calendar": CalendarKind.working_days,
            "response_limit": 1,
            "response_calendar": CalendarKind.working_days,
        }
        for code in ("DIS", "ELD")
    ),
    units=({"name": "某局", "kind": "机关", "community": 0},),
    users=tuple(
        UserSpec(username, username, username, role, **scope)  # type: ignore[arg-type]
        for username, role, scope in [
            ("admin", Role.admin, {}),
            ("manager", Role.volunteer_manager, {}),
            ("leader", Role.leader, {}),
            ("operator", Role.operator, {}),
            ("community", Role.community, {"community": 0}),
            ("community_b", Role.community, {"community": 1}),
            ("grid", Role.grid_worker, {"community": 0, "grid": "G1"}),
        ]
    ),
    created_at=VOLUNTEERS_NOW,
)
"""The volunteer tests' world: community 甲 (index 0): G1 | G2 | G3 (unit squares in a row, G1–G2 and G2–G3
share an edge); community 乙 (index 1): G4 (touches G3) and G5 (far away). Two categories (DIS, ELD), a
resident unit (某局, an employer in 甲) and users keyed by username (admin, manager, leader, operator,
community, community_b, grid)."""

_HASH: dict[str, str] = {}


def _password_hash(layout: Layout) -> str:
    if not layout.demo_password:
        return "x"
    if "demo" not in _HASH:
        from dashboard.admin.auth import hash_password

        _HASH["demo"] = hash_password(DEMO_PASSWORD)
    return _HASH["demo"]


def build_world(
    where: Session | str, layout: Layout = TINY, *, population: dict[str, dict[str, int]] | None = None
) -> World:
    """Insert `layout` into an empty migrated database. Given a URL, commit; given a session, only flush
    (the caller commits). `population` adds Grid columns by grid code, e.g. ``{"G1": {"disabled": 8}}``."""
    if isinstance(where, str):
        with Session(get_engine(where), expire_on_commit=False) as s:
            world = build_world(s, layout, population=population)
            s.commit()
            return replace(world, url=where)
    s = where
    population = population or {}
    sd = Subdistrict(**layout.subdistrict)
    s.add(sd)
    s.flush()
    communities = [Community(subdistrict_id=sd.id, **spec) for spec in layout.communities]
    s.add_all(communities)
    s.flush()
    grids = [
        Grid(
            community_id=communities[g.community].id,
            code=g.code,
            name=g.name,
            polygon=g.polygon,
            centroid_lon=g.centroid[0],
            centroid_lat=g.centroid[1],
            **{**g.fields, **population.get(g.code, {})},
        )
        for g in layout.grids
    ]
    s.add_all(grids)
    departments = [Department(name=name, code=code) for name, code in layout.departments]
    s.add_all(departments)
    s.flush()
    grid_by_code = {g.code: g for g in grids}
    dept_by_code = {d.code: d for d in departments}
    categories = []
    for spec in layout.categories:
        values = dict(spec)
        dept = values.pop("department", None)
        categories.append(Category(**values, department_id=dept_by_code[dept].id if dept else None))
    s.add_all(categories)
    s.flush()
    units = []
    for spec in layout.units:
        values = dict(spec)
        comm = values.pop("community", None)
        units.append(ResidentUnit(**values, community_id=communities[comm].id if comm is not None else None))
    s.add_all(units)
    password_hash = _password_hash(layout)
    users = {
        u.key: User(
            username=u.username,
            display_name=u.display_name,
            role=u.role,
            password_hash=password_hash,
            created_at=layout.created_at,
            community_id=communities[u.community].id if u.community is not None else None,
            grid_id=grid_by_code[u.grid].id if u.grid else None,
            department_id=dept_by_code[u.department].id if u.department else None,
        )
        for u in layout.users
    }
    s.add_all(users.values())
    s.flush()
    for g, spec in zip(grids, layout.grids, strict=True):
        if spec.worker:
            g.worker_id = users[spec.worker].id
            s.add(g)
    s.flush()
    return World(
        url=s.get_bind().url.render_as_string(hide_password=False),
        subdistrict_id=sd.id,  # type: ignore[arg-type]
        community_ids=[c.id for c in communities],  # type: ignore[misc]
        grid_ids=[g.id for g in grids],  # type: ignore[misc]
        grid={g.code: g.id for g in grids},  # type: ignore[misc]
        category={c.code: c.id for c in categories},  # type: ignore[misc]
        department={d.code: d.id for d in departments},  # type: ignore[misc]
        unit_ids=[u.id for u in units],  # type: ignore[misc]
        actors={
            key: Actor(u.id, u.username, u.display_name, u.role, u.community_id, u.grid_id, u.department_id)  # type: ignore[arg-type]
            for key, u in users.items()
        },
    )


def add_case(
    session: Session,
    world: World,
    grid_index: int = 0,
    reported_at: datetime = datetime(2026, 11, 2, 9),
    status: CaseStatus = CaseStatus.reported,
    **fields: object,
) -> Case:
    """Insert a case in a TINY world with sensible defaults; pass any Case column to override."""
    grid_id = world.grid_ids[grid_index]
    community_id = world.community_ids[grid_index // 2]
    n = next(_seq)
    values: dict[str, object] = {
        "number": f"TS{reported_at:%Y%m%d}-{n:04d}",
        "category_id": world.category["ENV"],
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
    """Insert a case in a CASE_LOOP world directly in `status` (timestamps and SLA consistent), with its
    'report' event, and commit."""
    at = reported_at or CASE_LOOP_NOW - timedelta(hours=1)
    cat = s.get(Category, category or w.category["ENV"])
    assert cat is not None
    times = sla.sla_times(at, cat.sla_limit, cat.calendar)
    lon, lat = lonlat or centre(grid)
    case = Case(
        number=number or f"T{uuid.uuid4().hex[:10].upper()}",
        category_id=cat.id,  # type: ignore[arg-type]
        title="楼道堆放杂物",
        description="三楼楼道堆满纸箱",
        grid_id=w.grid_ids[grid],
        community_id=w.community_ids[0 if grid < 2 else 1],
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


_phone_counter = itertools.count()


def add_volunteer(
    w: World,
    grid: str,
    skills: list[str],
    *,
    registered_days_ago: float = 400,
    active: bool = True,
    name: str = "张小明",
    phone: str | None = None,
    party_kind: PartyMemberKind = PartyMemberKind.none,
    employer: bool = False,
) -> int:
    """A volunteer living in grid `grid` (a code) of a VOLUNTEERS world; `employer`: works at its unit."""
    with w.session() as s:
        g = s.get(Grid, w.grid[grid])
        assert g is not None
        v = Volunteer(
            name=name,
            phone=phone or f"139{next(_phone_counter):08d}",
            home_grid_id=g.id,
            community_id=g.community_id,
            registered_at=VOLUNTEERS_NOW - timedelta(days=registered_days_ago),
            active=active,
            party_kind=party_kind,
            political_status=PoliticalStatus.party_member
            if party_kind != PartyMemberKind.none
            else PoliticalStatus.masses,
            employer_unit_id=w.unit_ids[0] if employer else None,
        )
        s.add(v)
        s.flush()
        for skill in skills:
            s.add(VolunteerSkill(volunteer_id=v.id, skill=skill))
        s.commit()
        return v.id  # type: ignore[return-value]


def add_record(
    w: World,
    volunteer_id: int,
    grid: str,
    *,
    days_ago: float,
    hours: float = 2.0,
    skill: str = "助老探访",
    verified: bool = True,
) -> int:
    """A service record in grid `grid` (a code) of a VOLUNTEERS world, verified by its manager."""
    with w.session() as s:
        start = VOLUNTEERS_NOW - timedelta(days=days_ago)
        r = ServiceRecord(
            volunteer_id=volunteer_id,
            grid_id=w.grid[grid],
            skill=skill,
            start=start,
            end=start + timedelta(hours=hours),
            hours=hours,
            verified_by=w.actors["manager"].id if verified else None,
            verified_at=start + timedelta(days=1) if verified else None,
        )
        s.add(r)
        s.commit()
        return r.id  # type: ignore[return-value]


def add_recent_case(
    w: World,
    grid: str,
    category: str,
    *,
    days_ago: float,
    status: CaseStatus = CaseStatus.accepted,
    number: str | None = None,
    duplicate_of: int | None = None,
) -> int:
    """A case reported `days_ago` days before VOLUNTEERS_NOW in grid `grid`, of category `category` (codes)."""
    with w.session() as s:
        g = s.get(Grid, w.grid[grid])
        assert g is not None
        n = s.exec(select(Case)).all()
        c = Case(
            number=number or f"TS{len(n) + 1:06d}",
            category_id=w.category[category],
            title="t",
            grid_id=g.id,  # type: ignore[arg-type]
            community_id=g.community_id,
            source=CaseSource.walk_in,
            status=status,
            reported_at=VOLUNTEERS_NOW - timedelta(days=days_ago),
            duplicate_of_id=duplicate_of,
        )
        s.add(c)
        s.commit()
        return c.id  # type: ignore[return-value]


# ---------------------------------------------------------------- files and counts (import tests)


def counts(url: str) -> dict[str, int]:
    """Rows of every table."""
    with Session(get_engine(url)) as s:
        return {
            name: s.execute(sa_select(func.count()).select_from(table)).scalar_one()
            for name, table in SQLModel.metadata.tables.items()
        }


def csv_bytes(rows: list[list[object]], encoding: str = "utf-8-sig") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[object]], title_row: str | None = None) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    if title_row:
        ws.append([title_row])
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write(path: Path, data: bytes | str | object) -> Path:
    if isinstance(data, bytes):
        path.write_bytes(data)
    elif isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path
