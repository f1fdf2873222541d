"""seed: counts, every status, event logs that replay through the state machine, side actions, duplicates,
demo users, determinism, refusal without reset, case numbers (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import DateTime, MetaData, bindparam, func, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dashboard import clock
from dashboard.admin import auth
from dashboard.cases.workflow import TRANSITIONS, next_status
from dashboard.db import dispose_engines, get_engine
from dashboard.territory import geo
from dashboard.volunteers.need import parse_basis
from models import Case, CaseEvent, Category, Community, Department, Grid, ResidentUnit, User
from models.enums import CaseStatus, Role
from seed.__main__ import main as seed_cli
from seed.generate import SeedAlreadyExists, seed_database
from tests.conftest import DEMO_PASSWORD

TINY = {"cases": 400, "volunteers": 40, "service_records": 200, "visits": 150}


@pytest.fixture(scope="module")
def engine(seeded_ro_url: str) -> Engine:
    return get_engine(seeded_ro_url)


def _scalar(engine: Engine, stmt) -> object:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(stmt).scalar_one()


def test_territory_counts(engine: Engine) -> None:
    assert _scalar(engine, select(func.count()).select_from(Grid)) == 97
    assert _scalar(engine, select(func.count()).select_from(Community)) == 11
    assert _scalar(engine, select(func.count()).select_from(ResidentUnit)) == 41
    assert _scalar(engine, select(func.count()).select_from(Category)) == 20
    assert _scalar(engine, select(func.sum(Grid.households))) == 14_401
    assert _scalar(engine, select(func.sum(Grid.residents))) == 65_454
    assert _scalar(engine, select(func.count()).select_from(Case)) == 3000
    with engine.connect() as conn:
        codes = conn.execute(select(Category.code).order_by(Category.id)).scalars().all()
        assert codes[:3] == ["ENV", "INF", "PRP"] and len(set(codes)) == 20
        ungoverned = conn.execute(
            select(func.count()).select_from(Grid).where(Grid.worker_id.is_(None))
        ).scalar()
        assert ungoverned == 0
        for table in ("grid_worker_history", "grid_population_history"):
            assert conn.exec_driver_sql(f"SELECT COUNT(DISTINCT grid_id) FROM {table}").scalar() == 97


def test_category_limits(engine: Engine) -> None:
    with engine.connect() as conn:
        rows = {r.code: r for r in conn.execute(select(Category)).all()}
    assert (rows["ENV"].sla_limit, rows["ENV"].calendar) == (3, "working_days")
    assert (rows["ENV"].response_limit, rows["ENV"].response_calendar) == (2, "working_hours")
    assert (rows["AID"].response_limit, rows["AID"].response_calendar) == (1, "working_days")
    assert (rows["EMG"].response_limit, rows["EMG"].response_calendar) == (0.25, "natural_hours")
    assert (rows["PRJ"].sla_limit, rows["PRJ"].calendar, rows["PRJ"].priority_default) == (
        30,
        "natural_days",
        "complex",
    )
    assert rows["SAF"].priority_default == "urgent" and rows["EMG"].priority_default == "emergency"
    assert rows["ADM"].sla_limit == 5 and rows["ENV"].priority_default == "general"
    assert sum(r.share for r in rows.values()) == pytest.approx(1.0, abs=0.02)  # DESIGN §6 adds up to 101 %


def test_every_status_present(engine: Engine) -> None:
    with engine.connect() as conn:
        present = set(conn.execute(select(Case.status).distinct()).scalars())
    assert present == {s.value for s in CaseStatus}


def _events_by_case(engine: Engine) -> dict[int, list]:
    out: dict[int, list] = defaultdict(list)
    with engine.connect() as conn:
        for ev in conn.execute(select(CaseEvent).order_by(CaseEvent.case_id, CaseEvent.at, CaseEvent.id)):
            out[ev.case_id].append(ev)
    return out


def test_events_replay_to_case_status_and_timestamps(engine: Engine) -> None:
    events = _events_by_case(engine)
    with engine.connect() as conn:
        cases = conn.execute(select(Case)).all()
    now = clock.now()
    for case in cases:
        evs = events[case.id]
        assert evs[0].action == "report" and evs[0].at == case.reported_at, case.number
        status: CaseStatus | None = None
        for ev in evs:
            assert ev.from_status == status, (case.number, ev.action)
            assert ev.to_status == TRANSITIONS[ev.action][1], (case.number, ev.action)
            status = next_status(ev.action, status)
            assert ev.at <= now and ev.at.microsecond == 0
        assert status == case.status, case.number

        def at(action: str, last: bool = True, evs: list = evs) -> datetime | None:
            hits = [e.at for e in evs if e.action == action]
            return (hits[-1] if last else hits[0]) if hits else None

        assert case.accepted_at == at("accept", last=False)
        assert case.dispatched_at == at("dispatch")
        assert case.resolved_at == at("resolve")
        verified, rework = at("verify"), at("rework")
        assert case.verified_at == (verified if verified and (rework is None or rework < verified) else None)
        assert case.closed_at == (at("close") or at("merge"))
        assert case.rework_count == sum(e.action == "rework" for e in evs)
        assert case.extension_count == sum(e.action == "extend_approve" for e in evs)
        assert (case.escalation_level is not None) == any(e.action == "escalate" for e in evs)
        assert case.supervised == any(e.action == "supervise" for e in evs)
        assert case.version == len(evs) and case.updated_at == evs[-1].at
        follow = [json.loads(e.payload)["satisfaction"] for e in evs if e.action == "follow_up"]
        assert case.satisfaction == (follow[-1] if follow else None)
        if case.status == CaseStatus.closed and case.duplicate_of_id is None:
            assert case.satisfaction is not None and case.solved is not None
            assert case.reporter_anonymous is False or case.satisfaction == "not_reached"
        assert case.due_at is not None and case.warn_at < case.due_at < case.black_at
        assert case.response_due_at is not None and case.response_due_at > case.reported_at


def test_side_actions_present_and_consistent(engine: Engine) -> None:
    with engine.connect() as conn:
        n = lambda cond: conn.execute(select(func.count()).select_from(Case).where(cond)).scalar()  # noqa: E731
        assert n(Case.rework_count > 0) >= 1
        assert n(Case.extension_count > 0) >= 1
        assert n(Case.escalation_level.is_not(None)) >= 1
        assert n(Case.duplicate_of_id.is_not(None)) >= 1
        assert n(Case.supervised.is_(True)) >= 1
        approved = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM case_extensions WHERE decision = 'approved'"
        ).scalar()
        assert approved == conn.execute(select(func.sum(Case.extension_count))).scalar()
        escalated = conn.exec_driver_sql("SELECT COUNT(DISTINCT case_id) FROM case_escalations").scalar()
        assert escalated == n(Case.escalation_level.is_not(None))
        early = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM case_escalations e JOIN cases c ON c.id = e.case_id "
            "WHERE e.reported_back_at IS NOT NULL AND c.resolved_at IS NOT NULL AND e.reported_back_at > c.resolved_at"
        ).scalar()
        assert early == 0  # every department reports back before the case is resolved


def test_duplicates_near_and_recent(engine: Engine) -> None:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT d.id, d.category_id, d.grid_id, d.reported_at, d.lon, d.lat, d.status, "
            "o.id, o.category_id, o.grid_id, o.reported_at, o.lon, o.lat, o.duplicate_of_id "
            "FROM cases d JOIN cases o ON o.id = d.duplicate_of_id"
        ).all()
    assert rows
    for r in rows:
        assert r[6] == "closed" and r[13] is None and r[7] < r[0]
        assert (r[1], r[2]) == (r[8], r[9])
        reported, original = r[3], r[10]
        if isinstance(reported, str):  # raw SQL on SQLite returns text
            reported, original = datetime.fromisoformat(reported), datetime.fromisoformat(original)
        assert timedelta(0) <= reported - original <= timedelta(hours=24)
        assert geo.haversine_m(r[4], r[5], r[11], r[12]) <= 50


def test_demo_users(engine: Engine) -> None:
    with engine.connect() as conn:
        users = {u.username: u for u in conn.execute(select(User)).all()}
        first_grid = conn.execute(select(Grid).where(Grid.code == "XL-01-01")).one()
        cg = conn.execute(select(Department).where(Department.code == "CG")).one()
    roles = {
        "admin": Role.admin,
        "leader": Role.leader,
        "operator": Role.operator,
        "community": Role.community,
        "grid": Role.grid_worker,
        "department": Role.department,
        "volunteers": Role.volunteer_manager,
    }
    for name, role in roles.items():
        assert users[name].role == role
        assert users[name].password_hash.startswith("$argon2")
        assert auth.verify_password(users[name].password_hash, DEMO_PASSWORD)
    assert users["community"].community_id == first_grid.community_id
    assert users["grid"].grid_id == first_grid.id and first_grid.worker_id == users["grid"].id
    assert users["grid"].community_id == first_grid.community_id
    assert users["department"].department_id == cg.id
    gw = users["gw-xl-01-02"]
    assert (
        gw.role == Role.grid_worker and gw.grid_id is not None and gw.community_id == first_grid.community_id
    )
    assert users["dept-cg"].department_id == cg.id and users["comm-xl-02"].role == Role.community
    assert "gw-xl-01-01" not in users and "comm-xl-01" not in users


def test_case_numbers(engine: Engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(select(Case.number, Case.reported_at).order_by(Case.id)).all()
    numbers = [r[0] for r in rows]
    assert len(set(numbers)) == len(numbers)
    per_day: dict[str, list[int]] = defaultdict(list)
    for number, reported in rows:
        m = re.fullmatch(r"XL(\d{8})-(\d{4})", number)
        assert m, number
        assert m.group(1) == reported.strftime("%Y%m%d")
        per_day[m.group(1)].append(int(m.group(2)))
    for seqs in per_day.values():
        assert seqs == list(range(1, len(seqs) + 1))


def test_blind_spots_and_volunteers(engine: Engine) -> None:
    now = clock.now()
    with engine.connect() as conn:
        quiet = conn.execute(
            text(
                "SELECT COUNT(*) FROM grids g WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.grid_id = g.id "
                "AND c.reported_at >= :t) AND NOT EXISTS (SELECT 1 FROM grid_visits v WHERE v.grid_id = g.id "
                "AND v.at >= :t)"
            ).bindparams(bindparam("t", type_=DateTime)),
            {"t": now - timedelta(days=30)},
        ).scalar()
        assert quiet >= 3
        assert conn.exec_driver_sql("SELECT COUNT(DISTINCT phone) FROM volunteers").scalar() == 300
        skills = conn.exec_driver_sql(
            "SELECT MIN(n), MAX(n) FROM (SELECT COUNT(*) AS n FROM volunteer_skills "
            "GROUP BY volunteer_id) AS t"
        ).one()
        assert 1 <= skills[0] and skills[1] <= 4
        orphan = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM volunteers WHERE party_kind = 'in_work' AND employer_unit_id IS NULL"
        ).scalar()
        assert orphan == 0
        bad = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM service_records r WHERE NOT EXISTS (SELECT 1 FROM volunteer_skills s "
            "WHERE s.volunteer_id = r.volunteer_id AND s.skill = r.skill) OR r.hours <= 0"
        ).scalar()
        assert bad == 0
        rules = conn.exec_driver_sql("SELECT skill, basis FROM need_rules").all()
    assert {"助老探访", "助残", "儿童关爱", "数字助老", "矛盾调解", "急救"} <= {r[0] for r in rules}
    for _, basis in rules:
        parse_basis(basis)


def _checksums(url: str) -> dict[str, str]:
    engine = get_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    out = {}
    with engine.connect() as conn:
        for name, table in sorted(meta.tables.items()):
            rows = sorted(repr(tuple(r)) for r in conn.execute(select(table)))
            out[name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return out


def test_deterministic(tmp_path: Path) -> None:
    urls = [f"sqlite:///{tmp_path / f'det{i}.db'}" for i in range(2)]
    for url in urls:
        seed_database(url, today=date(2026, 6, 30), random_seed=11, **TINY)
    first, second = (_checksums(u) for u in urls)
    dispose_engines()
    assert first == second
    assert len(first) >= 20


def test_refuses_second_seed_without_reset(db_url: str) -> None:
    report = seed_database(db_url, today=date(2026, 3, 31), random_seed=3, demo_users=False, **TINY)
    assert report.counts["cases"] == 400 and report.seconds >= 0
    with pytest.raises(SeedAlreadyExists):
        seed_database(db_url, today=date(2026, 3, 31), random_seed=3, **TINY)
    assert seed_cli(["--database-url", db_url, "--cases", "10"]) == 1
    engine = get_engine(db_url)
    with engine.connect() as conn:
        hashes = set(conn.execute(select(User.password_hash)).scalars())
        assert hashes == {"!disabled"}  # no demo accounts, nobody can log in
        assert (
            conn.execute(select(func.count()).select_from(User).where(User.username == "admin")).scalar() == 0
        )
    again = seed_database(db_url, today=date(2026, 3, 31), random_seed=3, reset=True, **TINY)
    assert again.counts["cases"] == 400
    with Session(get_engine(db_url)) as s:  # id sequences continue after the seeded ids (PostgreSQL)
        s.add(Department(name="测试部门", code="TEST"))
        s.commit()
        assert s.scalar(select(func.max(Department.id))) > 17
