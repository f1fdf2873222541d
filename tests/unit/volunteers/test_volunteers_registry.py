"""Registry (scope, masking, audited unmasking, search, add/edit/deactivate, export) and service hours
(recording, bulk verification, totals, 在职党员双向报到)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from dashboard.kernel.errors import Invalid, NotFound, NotPermitted
from dashboard.kernel.privacy import mask_name
from dashboard.reporting.kpi import Period, quarter_period
from dashboard.volunteers import hours, registry, report_in
from models import AuditLog, ServiceRecord, Volunteer
from models.enums import PartyMemberKind
from tests.factories import VOLUNTEERS, World, add_record, add_volunteer
from tests.factories import VOLUNTEERS_NOW as NOW

pytestmark = pytest.mark.world(VOLUNTEERS)


@pytest.fixture
def world(world: World) -> World:
    """The VOLUNTEERS world with four volunteers: w.v1 … w.v4."""
    w = world
    w.v1 = add_volunteer(
        w,
        "G1",
        ["助老探访", "急救"],
        name="张小明",
        phone="13812345678",
        party_kind=PartyMemberKind.in_work,
        employer=True,
    )
    w.v2 = add_volunteer(w, "G2", ["助残"], name="李四", phone="13987654321", registered_days_ago=10)
    w.v3 = add_volunteer(
        w, "G4", ["助老探访"], name="=HYPERLINK(1)", phone="15011112222", party_kind=PartyMemberKind.in_work
    )
    w.v4 = add_volunteer(w, "G1", ["急救"], name="赵六", phone="13700001111", active=False)
    return w


def _audits(w: World, action: str) -> list[AuditLog]:
    with w.session() as s:
        return list(s.exec(select(AuditLog).where(AuditLog.action == action)).all())


# ---------------------------------------------------------------- registry


def test_registry_scope_and_masking(world: World) -> None:
    w = world
    with w.session() as s:
        grid = registry.list_volunteers(s, w.actors["grid"], registry.VolunteerQuery(), now=NOW)
        comm = registry.list_volunteers(s, w.actors["community"], registry.VolunteerQuery(), now=NOW)
        everyone = registry.list_volunteers(s, w.actors["manager"], registry.VolunteerQuery(), now=NOW)
    assert set(grid.rows["id"]) == {w.v1, w.v4}  # the grid worker's own grid only
    assert set(comm.rows["id"]) == {w.v1, w.v2, w.v4}
    assert everyone.total == 4
    row = grid.rows.set_index("id").loc[w.v1]
    assert row["name"] == "张*明" and row["phone"] == "138****5678"
    assert row["skills"] == ["急救", "助老探访"]  # in the order of SKILLS
    assert row["employer_unit"] == "某局" and row["grid_code"] == "G1"
    assert not _audits(w, "view_pii")


def test_unmasking_is_for_pii_roles_and_audited(world: World) -> None:
    w = world
    with w.session() as s:
        page = registry.list_volunteers(
            s, w.actors["manager"], registry.VolunteerQuery(grid_id=w.grid["G1"]), unmask=True, now=NOW
        )
        s.commit()
        assert "张小明" in set(page.rows["name"]) and "13812345678" in set(page.rows["phone"])
        for who in ("grid", "community", "leader", "operator"):
            with pytest.raises(NotPermitted):
                registry.list_volunteers(s, w.actors[who], registry.VolunteerQuery(), unmask=True, now=NOW)
    logs = _audits(w, "view_pii")
    assert len(logs) == 1 and logs[0].actor_id == w.actors["manager"].id and str(w.v1) in logs[0].target


def test_registry_filters_and_pagination(world: World) -> None:
    w = world
    add_record(w, w.v1, "G1", days_ago=10)

    def ids(who: str = "manager", **q: object) -> set[int]:
        with w.session() as s:
            return set(
                registry.list_volunteers(s, w.actors[who], registry.VolunteerQuery(**q), now=NOW).rows["id"]
            )

    assert ids(skill="助老探访") == {w.v1, w.v3}
    assert ids(community_id=w.community_ids[1]) == {w.v3}
    assert ids(party_kind="in_work") == {w.v1, w.v3}
    assert ids(employer_unit_id=w.unit_ids[0]) == {w.v1}
    assert ids(status="active") == {w.v1, w.v2}  # served recently / registered recently
    assert ids(status="dormant") == {w.v3}
    assert ids(status="inactive") == {w.v4}
    assert ids(text="小明") == {w.v1}
    assert ids(text="1234") == {w.v1}  # a PII role may search inside phone numbers
    assert ids("community", text="1234") == set()  # others only by the whole number
    assert ids("community", text="138 1234 5678") == {w.v1}
    assert ids(text="%") == set()  # LIKE wildcards are literal
    with w.session() as s:
        p1 = registry.list_volunteers(
            s, w.actors["manager"], registry.VolunteerQuery(), page=1, page_size=3, now=NOW
        )
        p2 = registry.list_volunteers(
            s, w.actors["manager"], registry.VolunteerQuery(), page=2, page_size=3, now=NOW
        )
        p9 = registry.list_volunteers(
            s, w.actors["manager"], registry.VolunteerQuery(), page=9, page_size=3, now=NOW
        )
    assert (p1.total, p1.pages, len(p1.rows), len(p2.rows)) == (4, 2, 3, 1)
    assert set(p1.rows["id"]).isdisjoint(p2.rows["id"])
    assert p9.page == 2  # clamped to the last page
    assert p1.rows.set_index("id").loc[w.v1, "hours_90d"] == 2.0


def test_add_edit_validate_and_deactivate(world: World) -> None:
    w = world
    manager = w.actors["manager"]
    data = registry.VolunteerInput(
        name=" 孙悟空 ",
        phone="+86 139-0000-1234",
        home_grid_id=w.grid["G3"],
        skills=["应急救援"],
        birth_year=1990,
    )
    with w.session() as s:
        vid = registry.save_volunteer(s, manager, data, now=NOW)
        s.commit()
        row = s.get(Volunteer, vid)
        assert (row.name, row.phone, row.community_id, row.registered_at) == (
            "孙悟空",
            "13900001234",
            w.community_ids[0],
            NOW,
        )
        # bad fields
        bad = registry.VolunteerInput(
            name="",
            phone="12345678901",
            home_grid_id=None,
            skills=["飞行"],
            party_kind="in_work",
            birth_year=1800,
        )
        with pytest.raises(Invalid) as err:
            registry.save_volunteer(s, manager, bad, now=NOW)
        keys = {p.key for p in err.value.details}
        assert {
            "vol.err.name_required",
            "vol.err.phone",
            "vol.err.grid_required",
            "vol.err.skill",
            "vol.err.party_kind_status",
            "vol.err.birth_year",
        } <= keys
        # duplicate phone warns; confirmed, it saves
        dup = registry.VolunteerInput(
            name="孙二", phone="13812345678", home_grid_id=w.grid["G3"], skills=["其他"]
        )
        with pytest.raises(Invalid, match="phone_taken"):
            registry.save_volunteer(s, manager, dup, now=NOW)
        second = registry.save_volunteer(s, manager, dup, allow_duplicate_phone=True, now=NOW)
        assert second != vid
        # edit: move grid and change skills; the community follows the grid
        edit = registry.volunteer_for_edit(s, manager, vid)
        assert edit.phone == "13900001234"
        edit.home_grid_id = w.grid["G4"]
        edit.skills = ["急救", "其他"]
        assert registry.save_volunteer(s, manager, edit, vid, now=NOW) == vid
        registry.set_volunteer_active(s, manager, vid, False)
        s.commit()
        row = s.get(Volunteer, vid)
        s.refresh(row)
        assert (row.home_grid_id, row.community_id, row.active) == (w.grid["G4"], w.community_ids[1], False)
        assert registry.volunteer_for_edit(s, manager, vid).skills == ["急救", "其他"]
        s.commit()
        # other roles may not add, edit or deactivate
        for who in ("community", "grid", "leader"):
            with pytest.raises(NotPermitted):
                registry.save_volunteer(s, w.actors[who], data, now=NOW)
            with pytest.raises(NotPermitted):
                registry.set_volunteer_active(s, w.actors[who], w.v1, False)
    assert [a.detail for a in _audits(w, "volunteer_change")] == ["create", "create", "update", "deactivate"]
    assert len(_audits(w, "view_pii")) == 2  # opening the edit form shows personal data


def test_export_is_masked_neutralised_and_audited(world: World) -> None:
    w = world
    with w.session() as s:
        data = registry.export_volunteers(s, w.actors["manager"], registry.VolunteerQuery(), now=NOW)
        with pytest.raises(NotPermitted):  # unmasked export is for admins only
            registry.export_volunteers(
                s, w.actors["manager"], registry.VolunteerQuery(), unmasked=True, now=NOW
            )
        full = registry.export_volunteers(
            s, w.actors["admin"], registry.VolunteerQuery(), unmasked=True, now=NOW
        )
        s.commit()
    assert data.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) == 4
    names = {r["name"] for r in rows}
    assert "张*明" in names and "张小明" not in names
    assert "'" + mask_name("=HYPERLINK(1)") in names  # masked, and still neutralised
    full_rows = list(csv.DictReader(io.StringIO(full.decode("utf-8-sig"))))
    assert "'=HYPERLINK(1)" in {r["name"] for r in full_rows}
    assert "13812345678" in {r["phone"] for r in full_rows}
    assert len(_audits(w, "export")) == 2


# ---------------------------------------------------------------- service records


def test_record_service_validation_and_scope(world: World) -> None:
    w = world
    manager = w.actors["manager"]
    start = NOW - timedelta(hours=5)

    def rec(who: str = "manager", **kw: object) -> int:
        args = {
            "volunteer_id": w.v1,
            "grid_id": w.grid["G1"],
            "skill": "助老探访",
            "start": start,
            "end": start + timedelta(hours=2),
            "now": NOW,
            **kw,
        }
        with w.session() as s:
            rid = hours.record_service(s, w.actors[who], **args)
            s.commit()
            return rid

    rid = rec()
    with w.session() as s:
        r = s.get(ServiceRecord, rid)
        assert (r.hours, r.created_by, r.verified_by) == (2.0, manager.id, None)
    with pytest.raises(Invalid, match="overlap"):
        rec(start=start + timedelta(hours=1), end=start + timedelta(hours=3))
    with pytest.raises(Invalid, match="end_before_start"):
        rec(start=start, end=start)
    with pytest.raises(Invalid, match="future"):
        rec(start=NOW - timedelta(minutes=30), end=NOW + timedelta(hours=1))
    with pytest.raises(Invalid, match="too_long"):
        rec(start=NOW - timedelta(hours=30), end=NOW - timedelta(hours=1))
    with pytest.raises(Invalid, match="case_not_found"):
        rec(start=start - timedelta(days=1), end=start - timedelta(days=1, hours=-1), case_number="NOPE")
    with pytest.raises(Invalid, match="volunteer_inactive"):
        rec(volunteer_id=w.v4)
    with pytest.raises(NotPermitted):  # community A records only in its own grids …
        rec(
            "community",
            grid_id=w.grid["G4"],
            start=start - timedelta(days=2),
            end=start - timedelta(days=2, hours=-1),
        )
    with pytest.raises(NotFound):  # … and for its own volunteers
        rec(
            "community",
            volunteer_id=w.v3,
            start=start - timedelta(days=2),
            end=start - timedelta(days=2, hours=-1),
        )
    with pytest.raises(NotPermitted):
        rec("leader", start=start - timedelta(days=3), end=start - timedelta(days=3, hours=-1))
    assert rec("community", volunteer_id=w.v2, grid_id=w.grid["G3"])


def test_bulk_verify_skips_verified_future_and_out_of_scope(world: World) -> None:
    w = world
    a = add_record(w, w.v1, "G1", days_ago=2, verified=False)
    b = add_record(w, w.v2, "G2", days_ago=3, verified=False)
    done = add_record(w, w.v2, "G2", days_ago=4, verified=True)
    planned = add_record(w, w.v1, "G1", days_ago=-1, verified=False)
    with w.session() as s:
        page = hours.list_service_records(
            s, w.actors["manager"], hours.RecordQuery(verified="unverified"), now=NOW
        )
        assert set(page.rows["id"]) == {a, b, planned}
        assert page.rows.set_index("id").loc[planned, "planned"]
        assert page.rows.set_index("id").loc[a, "volunteer"] == "张*明"
        with pytest.raises(NotPermitted):
            hours.verify_records(s, w.actors["community"], [a], now=NOW)
        n = hours.verify_records(s, w.actors["manager"], [a, b, done, planned, 999], now=NOW)
        s.commit()
        assert n == 2
        assert s.get(ServiceRecord, a).verified_by == w.actors["manager"].id
        assert s.get(ServiceRecord, planned).verified_by is None
        left = hours.list_service_records(
            s, w.actors["manager"], hours.RecordQuery(verified="unverified"), now=NOW
        )
        assert set(left.rows["id"]) == {planned}
    assert len(_audits(w, "verify_service")) == 1


def test_totals_by_volunteer_grid_community_employer_month(world: World) -> None:
    w = world
    add_record(w, w.v1, "G1", days_ago=2, hours=3)
    add_record(w, w.v1, "G2", days_ago=40, hours=1.5)
    add_record(w, w.v2, "G2", days_ago=3, hours=2)
    add_record(w, w.v3, "G4", days_ago=5, hours=4)
    add_record(w, w.v3, "G4", days_ago=6, hours=10, verified=False)  # unverified: not in the totals
    add_record(w, w.v3, "G4", days_ago=400, hours=10)  # outside the period
    period = Period(datetime(2025, 12, 1), datetime(2026, 4, 1))
    manager = w.actors["manager"]
    with w.session() as s:
        by_vol = hours.service_totals(s, manager, "volunteer", period)
        assert by_vol["label"].tolist() == ["张*明 · G1", f"{mask_name('=HYPERLINK(1)')} · G4", "李* · G2"]
        assert by_vol["hours"].tolist() == [4.5, 4.0, 2.0]
        assert hours.service_totals(s, manager, "volunteer", period, limit=1)["key"].tolist() == [w.v1]
        by_grid = hours.service_totals(s, manager, "grid", period).set_index("label")["hours"].to_dict()
        assert by_grid == {"G4 G4网格": 4.0, "G2 G2网格": 3.5, "G1 G1网格": 3.0}
        by_comm = hours.service_totals(s, manager, "community", period).set_index("label")
        assert by_comm.loc["甲社区", "hours"] == 6.5 and by_comm.loc["甲社区", "volunteers"] == 2
        by_emp = hours.service_totals(s, manager, "employer", period).set_index("label")["hours"].to_dict()
        assert by_emp == {"": 6.0, "某局": 4.5}
        by_month = hours.service_totals(s, manager, "month", period)
        assert by_month["key"].tolist() == ["2026-01", "2026-03"]
        assert by_month["hours"].tolist() == [1.5, 9.0]
        with_unverified = hours.service_totals(s, manager, "month", period, verified_only=False)
        assert with_unverified["hours"].tolist() == [1.5, 19.0]
        # a community sees the service done in its grids only
        own = hours.service_totals(s, w.actors["community_b"], "grid", period)
        assert own["label"].tolist() == ["G4 G4网格"]
        data = hours.export_totals(s, manager, "volunteer", period)
        s.commit()
    assert data.decode("utf-8-sig").splitlines()[2].startswith("'=")
    assert len(_audits(w, "export")) == 1


def test_report_in_of_in_work_party_members(world: World) -> None:
    w = world
    quarter = quarter_period(NOW.date())  # 2026-01-01 .. 2026-04-01
    add_record(w, w.v1, "G2", days_ago=20)  # home community A: served
    add_record(w, w.v3, "G1", days_ago=20)  # v3 lives in B but served in A: not at home
    add_record(w, w.v3, "G5", days_ago=100)  # at home, but last quarter
    with w.session() as s:
        summary = report_in.report_in_summary(s, w.actors["manager"], quarter, now=NOW).set_index("community")
        assert (summary.loc["甲社区", "registered"], summary.loc["甲社区", "served"]) == (1, 1)
        assert (summary.loc["乙社区", "registered"], summary.loc["乙社区", "not_served"]) == (1, 1)
        assert summary.loc["甲社区", "rate"] == 1.0
        not_served = report_in.report_in_members(s, w.actors["manager"], quarter, served=False, now=NOW)
        assert not_served.rows["id"].tolist() == [w.v3]
        served = report_in.report_in_members(s, w.actors["manager"], quarter, served=True, now=NOW).rows
        assert served["id"].tolist() == [w.v1] and served.iloc[0]["name"] == "张*明"
        assert served.iloc[0]["employer_unit"] == "某局" and served.iloc[0]["hours"] == 2.0
        mine = report_in.report_in_members(s, w.actors["community_b"], quarter, now=NOW)
        assert mine.rows["id"].tolist() == [w.v3]
