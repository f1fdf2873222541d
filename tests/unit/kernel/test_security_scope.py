"""Data scope per role on the seeded database (DESIGN §9).

For every demo account, what the services let it list, open, act on and export is compared with its scope
computed independently, in plain SQL over the seeded rows (not hand-picked cases).
"""

from __future__ import annotations

import csv
import io
import random
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from dashboard import clock
from dashboard.admin import auth
from dashboard.cases import commands as cases
from dashboard.cases import queue
from dashboard.cases import view as case_view
from dashboard.cases.queue import QueueFilters
from dashboard.db import get_engine
from dashboard.kernel import scope
from dashboard.kernel.errors import NotFound
from dashboard.kernel.scope import Actor
from dashboard.reporting import kpi
from dashboard.volunteers import registry as volunteers
from models import Case, CaseEvent, Grid, GridVisit, ServiceRecord, User, Volunteer
from models.enums import Role

DEMO = ["admin", "leader", "operator", "community", "grid", "department", "volunteers"]

# The rules of DESIGN §9, written out in SQL without the service layer.
CASE_SQL = {
    "all": "SELECT id FROM cases",
    "community": "SELECT id FROM cases WHERE community_id = :community_id",
    # a grid worker: the own grid, plus any case assigned to the worker personally
    "grid_worker": "SELECT id FROM cases WHERE grid_id = :grid_id OR assignee_id = :user_id",
    # a department: the cases it handles and the cases it was called in to (吹哨报到)
    "department": "SELECT id FROM cases WHERE department_id = :department_id OR id IN "
    "(SELECT case_id FROM case_escalations WHERE department_id = :department_id)",
    "none": "SELECT id FROM cases WHERE 1 = 0",
}
VOLUNTEER_SQL = {
    "all": "SELECT id FROM volunteers",
    "community": "SELECT id FROM volunteers WHERE community_id = :community_id",
    "grid_worker": "SELECT id FROM volunteers WHERE home_grid_id = :grid_id",
    "none": "SELECT id FROM volunteers WHERE 1 = 0",
}
VISIT_SQL = {
    "all": "SELECT id FROM grid_visits",
    "community": "SELECT v.id FROM grid_visits v JOIN grids g ON g.id = v.grid_id WHERE g.community_id = :community_id",
    "grid_worker": "SELECT id FROM grid_visits WHERE grid_id = :grid_id",
    "none": "SELECT id FROM grid_visits WHERE 1 = 0",
}
RECORD_SQL = {
    "all": "SELECT id FROM service_records",
    "community": "SELECT r.id FROM service_records r JOIN grids g ON g.id = r.grid_id "
    "WHERE g.community_id = :community_id",
    "grid_worker": "SELECT id FROM service_records WHERE grid_id = :grid_id",
    "none": "SELECT id FROM service_records WHERE 1 = 0",
}
GRID_SQL = {
    "all": "SELECT id FROM grids",
    "community": "SELECT id FROM grids WHERE community_id = :community_id",
    "grid_worker": "SELECT id FROM grids WHERE id = :grid_id",
}
SUBDISTRICT = {"admin", "leader", "operator"}


def _rule(role: str, table: dict[str, str], wide: set[str]) -> str:
    if role in wide:
        return table["all"]
    return table.get(role, table.get("none", table["all"]))


def _expected(s: Session, username: str) -> dict[str, set[int]]:
    u = s.execute(
        text("SELECT id, role, community_id, grid_id, department_id FROM users WHERE username = :u"),
        {"u": username},
    ).one()
    params = {
        "user_id": u.id,
        "community_id": u.community_id,
        "grid_id": u.grid_id,
        "department_id": u.department_id,
    }
    role = u.role

    def ids(sql: str) -> set[int]:
        used = {k: v for k, v in params.items() if f":{k}" in sql}
        return {r[0] for r in s.execute(text(sql), used)}

    return {
        "cases": ids(_rule(role, CASE_SQL, SUBDISTRICT)),
        "volunteers": ids(_rule(role, VOLUNTEER_SQL, SUBDISTRICT | {"volunteer_manager"})),
        "visits": ids(_rule(role, VISIT_SQL, SUBDISTRICT)),
        "records": ids(_rule(role, RECORD_SQL, SUBDISTRICT | {"volunteer_manager"})),
        "grids": ids(_rule(role, GRID_SQL, SUBDISTRICT | {"department", "volunteer_manager"})),
    }


def _actor(s: Session, username: str) -> Actor:
    user = s.exec(select(User).where(User.username == username)).one()
    return auth.actor_of(user)


@pytest.fixture(scope="module")
def totals(seeded_ro_url: str) -> dict[str, int]:
    with Session(get_engine(seeded_ro_url)) as s:
        return {
            t: s.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
            for t in ("cases", "volunteers", "grid_visits", "service_records", "grids")
        }


@pytest.mark.parametrize("username", DEMO)
def test_scope_filters_equal_independent_sql(
    seeded_ro_url: str, username: str, totals: dict[str, int]
) -> None:
    with Session(get_engine(seeded_ro_url)) as s:
        me = _actor(s, username)
        want = _expected(s, username)
        got = {
            "cases": set(s.exec(select(Case.id).where(scope.case_filter(me))).all()),
            "volunteers": set(s.exec(select(Volunteer.id).where(scope.volunteer_filter(me))).all()),
            "visits": set(s.exec(select(GridVisit.id).where(scope.visit_filter(me))).all()),
            "records": set(s.exec(select(ServiceRecord.id).where(scope.service_record_filter(me))).all()),
            "grids": set(s.exec(select(Grid.id).where(scope.grid_filter(me))).all()),
        }
    assert got == want
    # The seed makes the comparison mean something: partial scopes are neither empty nor everything.
    if me.role in (Role.community, Role.grid_worker, Role.department):
        assert 0 < len(want["cases"]) < totals["cases"]
    if me.role in (Role.community, Role.grid_worker):
        assert 0 < len(want["volunteers"]) < totals["volunteers"]
        assert 0 < len(want["visits"]) < totals["grid_visits"]
    if me.role in (Role.admin, Role.leader, Role.operator):
        assert len(want["cases"]) == totals["cases"]


@pytest.mark.parametrize("username", DEMO)
def test_listing_services_return_exactly_the_scope(seeded_ro_url: str, username: str) -> None:
    """The queue, the registry and the figures, as the pages call them."""
    with Session(get_engine(seeded_ro_url)) as s:
        me = _actor(s, username)
        want = _expected(s, username)
        page = queue.queue_page(s, me, QueueFilters(view="all"), 1, 100_000)
        assert set(page.rows["id"]) == want["cases"] and page.total == len(want["cases"])
        counts = queue.status_counts(s, me, QueueFilters(view="all"))
        assert counts["all"] == len(want["cases"])

        listed = volunteers.list_volunteers(s, me, volunteers.VolunteerQuery(), page=1, page_size=100_000)
        assert set(listed.rows["id"]) == want["volunteers"]

        # Figures: cases reported in the last year, duplicates excluded, counted in the same scope.
        now = clock.now()
        period = kpi.Period(now - timedelta(days=400), now + timedelta(days=1))
        figures = kpi.figures(s, me, period, now=now)
        in_period = set(
            s.exec(
                select(Case.id).where(
                    Case.duplicate_of_id.is_(None),
                    Case.reported_at >= period.start,
                    Case.reported_at < period.end,
                )
            ).all()
        )
        assert figures.reported == len(in_period & want["cases"])


@pytest.mark.parametrize("username", DEMO)
def test_open_by_number_and_id_only_in_scope(seeded_ro_url: str, username: str) -> None:
    """Deep links (?case=NUMBER) and ids: every probe outside the scope is "not found", inside it opens."""
    rng = random.Random(username)
    with Session(get_engine(seeded_ro_url)) as s:
        me = _actor(s, username)
        inside = _expected(s, username)["cases"]
        numbers = dict(s.exec(select(Case.id, Case.number)).all())
        outside = sorted(set(numbers) - inside)
        for case_id in rng.sample(outside, min(40, len(outside))):
            assert case_view.find_case_id(s, me, numbers[case_id]) is None
            assert case_view.find_case_id(s, me, numbers[case_id].lower()) is None
            assert case_view.case_detail(s, me, case_id) is None
        for case_id in rng.sample(sorted(inside), min(20, len(inside))):
            assert case_view.find_case_id(s, me, numbers[case_id]) == case_id
            detail = case_view.case_detail(s, me, case_id)
            assert detail is not None and detail.number == numbers[case_id]
        # Search cannot reach around the scope either: another scope's number finds nothing.
        for case_id in rng.sample(outside, min(5, len(outside))):
            found = queue.queue_page(s, me, QueueFilters(view="all", text=numbers[case_id]), 1, 10)
            assert found.total == 0


def test_actions_and_exports_outside_scope_are_refused(seeded_url: str) -> None:
    """Acting on another scope's case changes nothing; exports hold exactly the scope (cases and volunteers)."""
    with Session(get_engine(seeded_url)) as s:
        for username in DEMO:
            me = _actor(s, username)
            want = _expected(s, username)
            outside = s.exec(
                select(Case.id, Case.version, Case.status)
                .where(
                    Case.id.not_in(want["cases"]) if want["cases"] else Case.id.is_not(None),
                    Case.status == "reported",
                )
                .order_by(Case.id)
                .limit(3)
            ).all()
            events_before = s.exec(select(CaseEvent.id).order_by(CaseEvent.id.desc())).first()
            for case_id, version, status in outside:
                with pytest.raises(NotFound):
                    cases.accept(s, me, case_id, version)
                with pytest.raises(NotFound):
                    cases.reject(s, me, case_id, version, "不属实")
                with pytest.raises(NotFound):
                    cases.comment(s, me, case_id, "看看")
                s.rollback()
                row = s.get(Case, case_id)
                assert row is not None and (row.version, row.status) == (version, status)
            assert s.exec(select(CaseEvent.id).order_by(CaseEvent.id.desc())).first() == events_before

            data = queue.export_file(s, me, filters=QueueFilters(view="all"))
            rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))[1:]
            number_col = queue.EXPORT_COLUMNS.index("number")
            numbers = {r[number_col] for r in rows}
            expected_numbers = (
                set(s.exec(select(Case.number).where(Case.id.in_(want["cases"]))).all())
                if want["cases"]
                else set()
            )
            assert numbers == expected_numbers
            # An export by explicit ids (a selection in the table) drops the ids outside the scope.
            if outside:
                data = queue.export_file(s, me, case_ids=[c for c, _, _ in outside])
                assert len(list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))) == 1

            data = volunteers.export_volunteers(s, me, volunteers.VolunteerQuery())
            vrows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
            assert {int(r["id"]) for r in vrows} == want["volunteers"]
            if vrows:
                assert all("*" in r["phone"] for r in vrows)  # masked
            s.commit()  # the export audit rows


@pytest.mark.parametrize("hostile", ["' OR 1=1 --", "%' OR '1'='1", "'; DROP TABLE cases; --", "%", "_"])
def test_queue_search_with_sql_injection_text(seeded_ro_url: str, hostile: str) -> None:
    with Session(get_engine(seeded_ro_url)) as s:
        me = _actor(s, "admin")
        page = queue.queue_page(s, me, QueueFilters(view="all", text=hostile), 1, 50)
        assert page.total == 0 and page.rows.empty
        assert queue.status_counts(s, me, QueueFilters(view="all", text=hostile))["all"] == 0
        assert queue.queue_page(s, me, QueueFilters(view="all"), 1, 1).total > 0  # nothing broke


def test_display_link_actor_and_unknown_roles_see_nothing_personal(seeded_ro_url: str) -> None:
    """A scoped role without its scope id (misconfigured user) sees nothing rather than everything."""
    with Session(get_engine(seeded_ro_url)) as s:
        for role in (Role.community, Role.department):
            lost = Actor(999_999, "lost", "lost", role)
            assert s.exec(select(Case.id).where(scope.case_filter(lost)).limit(1)).first() is None
            assert s.exec(select(Volunteer.id).where(scope.volunteer_filter(lost)).limit(1)).first() is None
        lost_worker = Actor(999_999, "lost", "lost", Role.grid_worker)
        assert s.exec(select(Case.id).where(scope.case_filter(lost_worker)).limit(1)).first() is None
        assert s.exec(select(Grid.id).where(scope.grid_filter(lost_worker)).limit(1)).first() is None


def test_no_demo_account_is_missing(seeded_ro_url: str) -> None:
    with Session(get_engine(seeded_ro_url)) as s:
        found = set(s.exec(select(User.username).where(User.username.in_(DEMO), User.active.is_(True))).all())
    assert found == set(DEMO)
