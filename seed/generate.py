"""Deterministic seed of a whole sub-district: territory, organisation, users, cases, volunteers, visits.

:func:`seed_database` migrates the database, refuses to touch one that already holds data (unless
``reset``), then writes everything with bulk inserts and pre-assigned ids. One ``random.Random`` (and one
numpy generator for the day counts) seeded with `random_seed` drives every choice, so the same seed and
the same `today` give identical rows. Timestamps are naive Asia/Shanghai wall time to the second; nothing
is later than "now" (the current time when `today` is today, else 18:00 of `today`).
"""

from __future__ import annotations

import hashlib
import json
import random
import time as timer
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np
import shapely
from argon2 import PasswordHasher, low_level
from sqlalchemy.engine import Connection, Engine

from dashboard import clock
from dashboard.cases import sla
from dashboard.db import get_engine, is_seeded, normalise_url, upgrade
from dashboard.territory import geo
from models.enums import POPULATION_FIELDS, Role
from seed import activity, episodes, names
from seed.bulk import analyze, bulk_load, drop_everything, fix_sequences, insert_rows
from seed.cases import (
    CASE_COLUMNS,
    ESCALATION_COLUMNS,
    EVENT_COLUMNS,
    EXTENSION_COLUMNS,
    CaseGenerator,
    history_days,
)
from seed.photos import write_photos
from seed.reference import CATEGORIES, DEPARTMENTS, NEED_RULES
from seed.residents import write_public_reports
from seed.territory import GridSpec, Territory, generate_territory
from seed.world import BuildingInfo, CategoryInfo, CommunityInfo, GridInfo, World

Progress = Callable[[float, str], None]

_SATISFACTION_TARGETS = (0.962, 0.84, 0.932, 0.925, 0.918, 0.912, 0.905, 0.9, 0.893, 0.885, 0.875)
"""Satisfaction level of the 11 communities (assigned in a shuffled order): one clearly best, one worst."""
_DEPARTMENT_ADJ = {
    "ZJ": -0.04,
    "CG": 0.01,
    "PCS": 0.02,
    "SF": -0.01,
    "YJ": 0.02,
    "JGW": -0.03,
    "RS": -0.02,
    "DZB": 0.01,
}
"""Departments' on-time tendency (added to the probability of closing on time)."""
BULK_TABLES = (
    "cases",
    "case_events",
    "case_extensions",
    "case_escalations",
    "service_records",
    "grid_visits",
)
"""Tables loaded with their secondary indexes dropped and rebuilt at the end (seed.bulk.bulk_load)."""
ACTUAL_RESIDENTS = 100_000
"""About this many people actually live in the sub-district (DESIGN §3), registered or not."""
_UNUSABLE_HASH = "!disabled"
"""A password hash no password verifies against (not a valid argon2 string)."""


class SeedAlreadyExists(RuntimeError):
    """The database already holds data; seed again only with ``reset``."""


@dataclass
class SeedReport:
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    today: date | None = None
    now: datetime | None = None

    def summary(self) -> str:
        lines = [f"seeded up to {self.now:%Y-%m-%d %H:%M:%S} in {self.seconds:.1f} s"]
        lines += [f"  {name:<24}{count:>10,}" for name, count in self.counts.items()]
        return "\n".join(lines)


def _noop(_fraction: float, _message: str) -> None:
    return None


def _has_data(engine: Engine) -> bool:
    if is_seeded(engine):
        return True
    with engine.connect() as conn:
        return any(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar_one() for t in ("users", "cases"))  # noqa: S608


def seed_database(
    url: str,
    *,
    cases: int | None = None,
    random_seed: int = 20261123,
    demo_users: bool = True,
    demo_password: str = "demo1234",
    reset: bool = False,
    today: date | None = None,
    volunteers: int = 1500,
    service_records: int = 60000,
    visits: int = 20000,
    progress: Progress | None = None,
    photos: bool = True,
) -> SeedReport:
    """Fill the database at `url` (migrated to head first); see the module docstring.

    `cases=None` gives about 100 cases a day for a year; more cases spread over more days (100 a day) up to
    10 years, beyond which the daily rate grows. Raises :class:`SeedAlreadyExists` when the database holds
    data and `reset` is false; `reset` drops every table (alembic_version included) and migrates again.
    `photos` false leaves out the case photos and typical cases (:mod:`seed.photos`).
    """
    started = timer.perf_counter()
    report = progress or _noop
    url = normalise_url(url)
    report(0.0, "migrating")
    upgrade(url)
    engine = get_engine(url)
    if _has_data(engine):
        if not reset:
            raise SeedAlreadyExists("the database already holds data; use --reset to replace it")
        report(0.01, "dropping")
        drop_everything(engine)
        upgrade(url)

    wall = clock.now()
    today = today or wall.date()
    now = wall if today == wall.date() else datetime.combine(today, time(18, 0))
    total, days = history_days(cases)
    first_day = today - timedelta(days=days - 1)
    rng = random.Random(random_seed)
    np_rng = np.random.default_rng(random_seed)
    counts: dict[str, int] = {}

    report(0.02, "territory")
    territory = generate_territory(rng)
    builder = _Builder(rng, territory, now, first_day, demo_users, demo_password)
    with engine.begin() as conn:
        builder.write_reference(conn, counts)

    report(0.06, "volunteers")
    units = [(i + 1, kind) for i, (_, kind, _) in enumerate(territory.resident_units)]
    vol_rows, skill_rows = activity.make_volunteers(builder.world, rng, volunteers, units)
    with engine.begin() as conn:
        insert_rows(conn, "volunteers", activity.VOLUNTEER_COLUMNS, vol_rows)
        insert_rows(conn, "volunteer_skills", activity.SKILL_COLUMNS, skill_rows)
    counts["volunteers"], counts["volunteer_skills"] = len(vol_rows), len(skill_rows)

    def flush(case_rows: list[tuple], events: list[tuple], exts: list[tuple], escs: list[tuple]) -> None:
        with engine.begin() as conn:
            insert_rows(conn, "cases", CASE_COLUMNS, case_rows)
            insert_rows(conn, "case_events", EVENT_COLUMNS, events)
            insert_rows(conn, "case_extensions", EXTENSION_COLUMNS, exts)
            insert_rows(conn, "case_escalations", ESCALATION_COLUMNS, escs)

    report(0.08, "cases")
    generator = CaseGenerator(builder.world, rng, np_rng, sla.DEFAULT_CALENDAR)
    with bulk_load(engine, BULK_TABLES):
        stats = generator.run(
            total, days, flush, chunk=5000, progress=lambda f: report(0.08 + 0.8 * f, "cases")
        )
        counts.update(
            cases=stats.cases,
            case_events=stats.events,
            case_extensions=stats.extensions,
            case_escalations=stats.escalations,
        )

        report(0.9, "service_records")
        service_rows = activity.make_service_records(builder.world, rng, service_records, stats.service_links)
        report(0.92, "visits")
        visit_rows = activity.make_visits(builder.world, rng, visits, stats.visit_links)
        with engine.begin() as conn:
            insert_rows(conn, "service_records", activity.SERVICE_COLUMNS, service_rows)
            insert_rows(conn, "grid_visits", activity.VISIT_COLUMNS, visit_rows)
        counts["service_records"], counts["grid_visits"] = len(service_rows), len(visit_rows)
        report(0.94, "indexes")

    report(0.95, "residents")
    counts.update(write_public_reports(engine, now))  # 随手拍: lookup rows, 附议, residents' ratings
    if photos:  # case photos in the media store, the after-photo rule, typical cases (seed.photos)
        report(0.96, "photos")
        counts.update(write_photos(engine))
    counts.update(
        episodes.plant(engine, builder.world, random.Random(random_seed + 25))
    )  # 研判预警: seed/episodes.py
    report(0.97, "statistics")
    with engine.begin() as conn:
        fix_sequences(conn)
        analyze(conn)
    report(1.0, "done")
    return SeedReport(counts=counts, seconds=round(timer.perf_counter() - started, 1), today=today, now=now)


class _Builder:
    """Writes the territory, departments, categories, users and need rules, and builds the :class:`World`."""

    def __init__(
        self,
        rng: random.Random,
        territory: Territory,
        now: datetime,
        first_day: date,
        demo_users: bool,
        demo_password: str,
    ) -> None:
        self.rng = rng
        self.t = territory
        self.now = now
        self.first_day = first_day
        self.history_start = datetime.combine(first_day, time(0, 0))
        self.year_ago = now - timedelta(days=365)
        self.demo_users = demo_users
        self.demo_password = demo_password
        self.world: World

    def write_reference(self, conn: Connection, counts: dict[str, int]) -> None:
        rng, t = self.rng, self.t
        grids = [(ci, g) for ci, c in enumerate(t.communities) for g in c.grids]
        grid_ids = {g.code: i + 1 for i, (_, g) in enumerate(grids)}
        dept_ids = {code: i + 1 for i, (code, _, _) in enumerate(DEPARTMENTS)}
        users, worker_of_grid, community_users, dept_handlers, operators, manager = self._users(
            grids, grid_ids, dept_ids
        )
        population_day = (self.now - timedelta(days=365)).date()

        insert_rows(
            conn,
            "subdistricts",
            ("id", "name", "code", "outline", "centroid_lon", "centroid_lat", "area_km2"),
            [(1, t.name, t.code, t.outline, t.centroid_lon, t.centroid_lat, t.area_km2)],
        )
        insert_rows(
            conn,
            "communities",
            ("id", "subdistrict_id", "name", "code", "kind", "outline", "centroid_lon", "centroid_lat"),
            [
                (i + 1, 1, c.name, c.code, c.kind.value, c.outline, c.centroid_lon, c.centroid_lat)
                for i, c in enumerate(t.communities)
            ],
        )
        grid_rows, building_rows = [], []
        actual = _actual_residents([g for _, g in grids])
        for gid, (ci, g) in enumerate(grids, start=1):
            grid_rows.append(
                (
                    gid,
                    ci + 1,
                    g.code,
                    g.name,
                    g.polygon,
                    float(g.centroid_lon),
                    float(g.centroid_lat),
                    g.households,
                    g.residents,
                    actual[gid - 1],
                    *(g.population[f] for f in POPULATION_FIELDS),
                    worker_of_grid[g.code],
                    population_day,
                )
            )
        grid_cols = (
            "id",
            "community_id",
            "code",
            "name",
            "polygon",
            "centroid_lon",
            "centroid_lat",
            "households",
            "residents",
            "actual_residents",
            *POPULATION_FIELDS,
            "worker_id",
            "population_as_of",
        )
        insert_rows(conn, "grids", grid_cols, grid_rows)
        buildings: dict[str, list[BuildingInfo]] = {}
        for _, g in grids:
            for b in g.buildings:
                info = BuildingInfo(len(building_rows) + 1, b.name, b.households, float(b.lon), float(b.lat))
                building_rows.append((info.id, grid_ids[g.code], b.name, b.households, info.lon, info.lat))
                buildings.setdefault(g.code, []).append(info)
        insert_rows(conn, "buildings", ("id", "grid_id", "name", "households", "lon", "lat"), building_rows)
        unit_rows = [(i + 1, name, kind, ci + 1) for i, (name, kind, ci) in enumerate(t.resident_units)]
        insert_rows(conn, "resident_units", ("id", "name", "kind", "community_id"), unit_rows)
        dept_rows = [
            (dept_ids[code], name, code, kind.value, names.person_name(rng), names.landline(rng), True)
            for code, name, kind in DEPARTMENTS
        ]
        insert_rows(
            conn,
            "departments",
            ("id", "name", "code", "kind", "contact_name", "contact_phone", "active"),
            dept_rows,
        )
        cat_rows = [
            (
                i + 1,
                c.code,
                c.name_zh,
                c.name_en,
                float(c.sla_limit),
                c.calendar.value,
                float(c.response_limit),
                c.response_calendar.value,
                c.priority.value,
                dept_ids[c.department],
                c.share,
                True,
            )
            for i, c in enumerate(CATEGORIES)
        ]
        insert_rows(
            conn,
            "categories",
            (
                "id",
                "code",
                "name_zh",
                "name_en",
                "sla_limit",
                "calendar",
                "response_limit",
                "response_calendar",
                "priority_default",
                "department_id",
                "share",
                "active",
            ),
            cat_rows,
        )
        user_cols = (
            "id",
            "username",
            "display_name",
            "role",
            "community_id",
            "grid_id",
            "department_id",
            "phone",
            "password_hash",
            "active",
            "created_at",
        )
        insert_rows(conn, "users", user_cols, users)
        history = [
            (i + 1, grid_ids[g.code], worker_of_grid[g.code], self.history_start, None)
            for i, (_, g) in enumerate(grids)
        ]
        insert_rows(
            conn, "grid_worker_history", ("id", "grid_id", "user_id", "started_at", "ended_at"), history
        )
        admin = users[0][0] if self.demo_users else None
        figures = []
        for i, (_, g) in enumerate(grids):
            values = {"households": g.households, "residents": g.residents, **g.population}
            figures.append(
                (
                    i + 1,
                    grid_ids[g.code],
                    population_day,
                    json.dumps(values, sort_keys=True),
                    admin,
                    datetime.combine(population_day, time(9, 0)),
                )
            )
        insert_rows(
            conn,
            "grid_population_history",
            ("id", "grid_id", "effective_from", "figures", "changed_by", "changed_at"),
            figures,
        )
        rules = [
            (i + 1, skill, basis, float(per), minimum, window, True, note)
            for i, (skill, basis, per, minimum, window, note) in enumerate(NEED_RULES)
        ]
        insert_rows(
            conn,
            "need_rules",
            ("id", "skill", "basis", "per", "minimum", "window_days", "active", "note"),
            rules,
        )
        counts.update(
            subdistricts=1,
            communities=len(t.communities),
            grids=len(grid_rows),
            buildings=len(building_rows),
            resident_units=len(unit_rows),
            departments=len(dept_rows),
            categories=len(cat_rows),
            users=len(users),
            need_rules=len(rules),
        )
        self.world = self._world(
            grids,
            grid_ids,
            buildings,
            worker_of_grid,
            community_users,
            dept_ids,
            dept_handlers,
            operators,
            manager,
            users,
        )

    # -------------------------------------------------------------- users

    def _password_hash(self, salt_base: bytes, username: str) -> str:
        """An argon2 hash of the demo password for one demo account (PasswordHasher's parameters, 0.1–0.4 s),
        with a salt of its own: from `salt_base` (one draw of the seed's generator) and the username, so the
        same seed gives identical rows and the generator's later draws do not shift."""
        ph = PasswordHasher()
        salt = hashlib.blake2b(salt_base + username.encode(), digest_size=16).digest()
        return low_level.hash_secret(
            self.demo_password.encode(),
            salt,
            time_cost=ph.time_cost,
            memory_cost=ph.memory_cost,
            parallelism=ph.parallelism,
            hash_len=ph.hash_len,
            type=ph.type,
        ).decode()

    def _users(self, grids: list, grid_ids: dict[str, int], dept_ids: dict[str, int]):  # type: ignore[no-untyped-def]
        rng = self.rng
        salt_base = rng.randbytes(16)
        created = datetime.combine(self.first_day - timedelta(days=30), time(9, 0))
        first_comm = self.t.communities[0]
        first_grid = first_comm.grids[0]
        rows: list[tuple] = []

        def add(
            username: str,
            display: str,
            role: Role,
            community: int | None = None,
            grid: int | None = None,
            dept: int | None = None,
            demo: bool = False,
        ) -> int:
            """One account: a demo account gets the demo password, any other account no usable password."""
            uid = len(rows) + 1
            pw = self._password_hash(salt_base, username) if demo else _UNUSABLE_HASH
            rows.append(
                (
                    uid,
                    username,
                    display,
                    role.value,
                    community,
                    grid,
                    dept,
                    names.mobile(rng),
                    pw,
                    True,
                    created,
                )
            )
            return uid

        worker_of_grid: dict[str, int] = {}
        community_users: dict[int, list[int]] = {}
        dept_handlers: dict[int, list[int]] = {}
        manager = None
        operators: list[int] = []
        if self.demo_users:
            add("admin", "系统管理员", Role.admin, demo=True)
            add("leader", "街道领导", Role.leader, demo=True)
            operators.append(add("operator", "指挥中心值班员", Role.operator, demo=True))
            community_users[0] = [
                add("community", f"{first_comm.name}书记", Role.community, community=1, demo=True)
            ]
            worker_of_grid[first_grid.code] = add(
                "grid",
                names.person_name(rng),
                Role.grid_worker,
                community=1,
                grid=grid_ids[first_grid.code],
                demo=True,
            )
            dept_handlers[dept_ids["CG"]] = [
                add("department", "城管处置员", Role.department, dept=dept_ids["CG"], demo=True)
            ]
            manager = add("volunteers", "志愿服务站管理员", Role.volunteer_manager, demo=True)
        for k in range(1, 4):
            operators.append(add(f"cc-{k:02d}", names.person_name(rng), Role.operator))
        for ci, c in enumerate(self.t.communities):
            if ci not in community_users:
                community_users[ci] = [
                    add(f"comm-{c.code.lower()}", names.person_name(rng), Role.community, community=ci + 1)
                ]
        for ci, g in grids:
            if g.code not in worker_of_grid:
                worker_of_grid[g.code] = add(
                    f"gw-{g.code.lower()}",
                    names.person_name(rng),
                    Role.grid_worker,
                    community=ci + 1,
                    grid=grid_ids[g.code],
                )
        for code, _, _ in DEPARTMENTS:
            dept_handlers.setdefault(dept_ids[code], []).append(
                add(f"dept-{code.lower()}", names.person_name(rng), Role.department, dept=dept_ids[code])
            )
        return rows, worker_of_grid, community_users, dept_handlers, operators, manager

    # -------------------------------------------------------------- world

    def _world(
        self,
        grids: list,
        grid_ids: dict[str, int],
        buildings: dict[str, list[BuildingInfo]],  # type: ignore[no-untyped-def]
        worker_of_grid: dict[str, int],
        community_users: dict[int, list[int]],
        dept_ids: dict[str, int],
        dept_handlers: dict[int, list[int]],
        operators: list[int],
        manager: int | None,
        users: list[tuple],
    ):
        rng, now = self.rng, self.now
        targets = list(_SATISFACTION_TARGETS)
        rng.shuffle(targets)
        communities = [
            CommunityInfo(
                ci,
                ci + 1,
                c.code,
                c.name,
                c.kind.value,
                community_users[ci],
                targets[ci],
                (targets[ci] - 0.905) * 0.6,
            )
            for ci, c in enumerate(self.t.communities)
        ]
        shapes = [geo.from_geojson(g.polygon) for _, g in grids]
        adjacency = geo.neighbours(list(enumerate(shapes)))
        infos: list[GridInfo] = []
        for index, (ci, g) in enumerate(grids):
            shapely.prepare(shapes[index])
            blds = buildings[g.code]
            kind_factor = {"urban": 1.15, "suburban": 1.0, "farm": 0.8}.get(g.kind, 1.0)
            infos.append(
                GridInfo(
                    index=index,
                    id=grid_ids[g.code],
                    code=g.code,
                    name=g.name,
                    community_index=ci,
                    community_id=ci + 1,
                    kind=g.kind,
                    households=g.households,
                    population=dict(g.population),
                    buildings=blds,
                    building_cum=_cumulative([b.households for b in blds]),
                    polygon=shapes[index],
                    worker_id=worker_of_grid[g.code],
                    neighbours=sorted(adjacency[index]),
                    case_weight=g.households**0.9 * kind_factor * rng.lognormvariate(0.0, 0.25),
                )
            )
        # Blind spots: one old-town grid and three outer ones went quiet 5–10 weeks ago.
        urban = [g for g in infos[1:] if g.kind == "urban"]
        outer = [g for g in infos if g.kind != "urban"]
        for g in rng.sample(urban, 1) + rng.sample(outer, 3):
            g.quiet_from = (now - timedelta(days=rng.uniform(33, 75))).replace(microsecond=0)
        categories = [
            CategoryInfo(i, i + 1, c, dept_ids[c.department], [dept_ids[d] for d in c.co_departments])
            for i, c in enumerate(CATEGORIES)
        ]
        return World(
            now=now,
            year_ago=self.year_ago,
            grids=infos,
            communities=communities,
            categories=categories,
            department_handlers=dept_handlers,
            department_adj={dept_ids[k]: v for k, v in _DEPARTMENT_ADJ.items()},
            operators=operators,
            volunteer_manager_id=manager,
            user_names={row[0]: row[2] for row in users},
            department_names={dept_ids[code]: name for code, name, _ in DEPARTMENTS},
        )


def _actual_residents(grids: list[GridSpec]) -> list[int]:
    """People actually living in each grid (实有人口): the territory's figure, else registered residents plus
    the floating population and others, scaled to the sub-district's ≈ 100,000 (largest remainder)."""
    given = [getattr(g, "actual_residents", None) for g in grids]
    if all(isinstance(v, int) for v in given):
        return given  # type: ignore[return-value]
    weights = [g.residents + 1.8 * g.population.get("floating", 0) for g in grids]
    quotas = [w / sum(weights) * ACTUAL_RESIDENTS for w in weights]
    out = [int(q) for q in quotas]
    for i in sorted(range(len(out)), key=lambda i: (-(quotas[i] - out[i]), i))[: ACTUAL_RESIDENTS - sum(out)]:
        out[i] += 1
    return [max(v, g.residents) for v, g in zip(out, grids, strict=True)]


def _cumulative(weights: list[int]) -> list[float]:
    out, acc = [], 0.0
    for w in weights:
        acc += w
        out.append(acc)
    return out
