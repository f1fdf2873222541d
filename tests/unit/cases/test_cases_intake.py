"""Intake: validation, SLA clocks on a new case, case numbers, grid lookup and duplicate suggestions."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from dashboard import clock
from dashboard.cases import intake as case_intake
from dashboard.cases.errors import InvalidInput
from dashboard.cases.intake import NewCase
from dashboard.kernel.errors import NotPermitted
from dashboard.kernel.text import normalise_reporter_phone
from dashboard.territory import lookups
from dashboard.territory.geo import EARTH_RADIUS_M, haversine_m
from models import Building, Case, CaseEvent, Grid
from models.enums import CaseSource, CaseStatus
from tests.factories import CASE_LOOP, World, centre, put_case
from tests.factories import CASE_LOOP_NOW as NOW

pytestmark = pytest.mark.world(CASE_LOOP)

M_PER_DEG = EARTH_RADIUS_M * 3.141592653589793 / 180


def _new(w: World, **kw: object) -> NewCase:
    base: dict[str, object] = {
        "category_id": w.category["ENV"],
        "title": "小区门口垃圾未清运",
        "source": CaseSource.hotline,
        "grid_id": w.grid_ids[0],
        "address": "幸福路8号",
        "reporter_name": "王小明",
        "reporter_phone": "138 1234 5678",
    }
    base.update(kw)
    return NewCase(**base)  # type: ignore[arg-type]


def test_sla_clock_on_intake_working_days(world: World) -> None:
    with world.session() as s, clock.frozen(NOW):  # Monday 10:00
        ref = case_intake.create_case(s, world.actors["operator"], _new(world))
        s.commit()
        c = s.get(Case, ref.id)
        assert c is not None
        assert c.reported_at == NOW
        assert c.due_at == datetime(2026, 3, 12, 10, 0)  # 3 working days
        assert c.response_due_at == datetime(2026, 3, 9, 12, 0)  # 2 working hours
        assert c.warn_at == datetime(2026, 3, 11, 12, 0)  # 25 % of 24 working hours left
        assert c.black_at == datetime(2026, 3, 17, 10, 0)  # overdue by the limit again
        assert c.status == CaseStatus.reported and c.version == 1 and c.priority == "general"
        assert c.reporter_phone == "13812345678"  # normalised
        assert c.community_id == world.community_ids[0]
        event = s.exec(select(CaseEvent).where(CaseEvent.case_id == c.id)).one()
        assert (event.action, event.from_status, event.to_status, event.actor_id) == (
            "report",
            None,
            "reported",
            world.actors["operator"].id,
        )


def test_sla_clock_on_intake_natural_hours_and_assigned_limit(world: World) -> None:
    friday_evening = datetime(2026, 3, 13, 19, 0)
    with world.session() as s, clock.frozen(friday_evening):
        saf = case_intake.create_case(
            s, world.actors["operator"], _new(world, category_id=world.category["SAF"])
        )
        adm = case_intake.create_case(
            s,
            world.actors["operator"],
            _new(world, category_id=world.category["ADM"], source=CaseSource.assigned, limit=2),
        )
        adm_default = case_intake.create_case(
            s, world.actors["operator"], _new(world, category_id=world.category["ADM"], limit=2)
        )
        s.commit()
        c = s.get(Case, saf.id)
        assert c.due_at == friday_evening + timedelta(hours=24)  # type: ignore[union-attr]
        assert c.response_due_at == friday_evening + timedelta(hours=1)  # type: ignore[union-attr]
        assert c.priority == "urgent"  # type: ignore[union-attr]
        # 2 working days from Friday evening: Monday and Tuesday → Tuesday 18:00
        assert s.get(Case, adm.id).due_at == datetime(2026, 3, 17, 18, 0)  # type: ignore[union-attr]
        # the upper level's limit only counts for 上级交办 cases: 5 working days otherwise
        assert s.get(Case, adm_default.id).due_at == datetime(2026, 3, 20, 18, 0)  # type: ignore[union-attr]


def test_case_numbers_are_sequential_per_day(world: World) -> None:
    w = world
    with w.session() as s:
        with clock.frozen(datetime(2026, 3, 9, 23, 59)):
            a = case_intake.create_case(s, w.actors["operator"], _new(w))
            b = case_intake.create_case(s, w.actors["grid"], _new(w, source=CaseSource.grid_visit))
        with clock.frozen(datetime(2026, 3, 10, 0, 1)):
            c = case_intake.create_case(s, w.actors["operator"], _new(w))
        s.commit()
    assert (a.number, b.number, c.number) == ("XL20260309-0001", "XL20260309-0002", "XL20260310-0001")


def test_next_number_beyond_9999(world: World) -> None:
    w = world
    with w.session() as s:
        put_case(s, w, number="XL20260309-9999")
        assert case_intake.next_number(s, datetime(2026, 3, 9)) == "XL20260309-10000"
        put_case(s, w, number="XL20260309-10000")
        assert case_intake.next_number(s, datetime(2026, 3, 9)) == "XL20260309-10001"
        assert case_intake.next_number(s, datetime(2026, 3, 8)) == "XL20260308-0001"


def test_number_collision_retries(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another intake took the number between our SELECT max and our INSERT: the unique constraint refuses
    ours, the savepoint rolls back only that insert, and the next attempt gets a fresh number."""
    w = world
    with w.session() as s, clock.frozen(NOW):
        first = case_intake.create_case(s, w.actors["operator"], _new(w))
        s.commit()
        real = case_intake.next_number
        calls: list[str] = []

        def racing(session, day):  # type: ignore[no-untyped-def]
            calls.append("x")
            return first.number if len(calls) == 1 else real(session, day)

        monkeypatch.setattr(case_intake, "next_number", racing)
        second = case_intake.create_case(s, w.actors["operator"], _new(w, title="第二件"))
        s.commit()
        assert len(calls) == 2 and second.number == "XL20260309-0002"
        assert s.exec(select(Case.title).where(Case.number == first.number)).one() == "小区门口垃圾未清运"


@pytest.mark.parametrize(
    ("changes", "problems"),
    [
        ({"title": "  "}, {"title": "errors.required"}),
        ({"title": "x" * 201}, {"title": "errors.too_long"}),
        ({"category_id": None}, {"category": "errors.required"}),
        ({"reporter_phone": "12345"}, {"reporter_phone": "errors.phone_format"}),
        ({"reporter_phone": "1381234567"}, {"reporter_phone": "errors.phone_format"}),
        (
            {"source": CaseSource.proxy, "reporter_name": "", "reporter_phone": ""},
            {"reporter_name": "errors.proxy_contact", "reporter_phone": "errors.proxy_contact"},
        ),
        ({"grid_id": None}, {"grid": "errors.grid_or_point"}),
        ({"grid_id": None, "lon": 118.0, "lat": None}, {"location": "errors.lonlat_pair"}),
        ({"grid_id": None, "lon": 100.0, "lat": 20.0}, {"location": "errors.point_outside"}),
        ({"grid_id": None, "lon": 500.0, "lat": 20.0}, {"location": "errors.lonlat_range"}),
        ({"source": "nonsense"}, {"source": "errors.required"}),
    ],
)
def test_validation_problems(world: World, changes: dict, problems: dict) -> None:
    with world.session() as s:
        with pytest.raises(InvalidInput) as err:
            case_intake.create_case(s, world.actors["operator"], _new(world, **changes))
        assert err.value.problems == problems


@pytest.mark.parametrize(
    "phone", ["13812345678", "+86 138-1234-5678", "0527-84361234", "052784361234", "84361234"]
)
def test_phone_formats_accepted(phone: str) -> None:
    assert normalise_reporter_phone(phone) is not None


def test_anonymous_drops_contact(world: World) -> None:
    with world.session() as s:
        ref = case_intake.create_case(
            s, world.actors["operator"], _new(world, anonymous=True, reporter_phone="bad")
        )
        c = s.get(Case, ref.id)
        assert (c.reporter_name, c.reporter_phone, c.reporter_anonymous) == ("", "", True)  # type: ignore[union-attr]


def test_grid_found_from_the_point(world: World) -> None:
    lon, lat = centre(1)
    with world.session() as s:
        assert case_intake.locate_grid(s, lon, lat) == world.grid_ids[1]
        ref = case_intake.create_case(
            s, world.actors["operator"], _new(world, grid_id=None, lon=lon, lat=lat)
        )
        assert s.get(Case, ref.id).grid_id == world.grid_ids[1]  # type: ignore[union-attr]


def test_the_grids_are_parsed_again_only_when_they_changed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every point placed reads the polygons (an administrator may have edited one), but parses them into
    a locator only when they differ from the last ones read."""
    built: list[int] = []

    class Counted(case_intake.GridLocator):
        def __init__(self, grids) -> None:  # type: ignore[no-untyped-def]
            grids = list(grids)
            built.append(len(grids))
            super().__init__(grids)

    monkeypatch.setattr(case_intake, "GridLocator", Counted)
    monkeypatch.setattr(case_intake, "_last_locator", None)
    with world.session() as s:
        assert [case_intake.locate_grid(s, *centre(i)) for i in (0, 1, 2)] == world.grid_ids
        assert built == [3], "one locator for three points"
        grid = s.get(Grid, world.grid_ids[0])
        grid.polygon = s.get(Grid, world.grid_ids[1]).polygon  # type: ignore[union-attr]
        s.add(grid)
        s.flush()
        assert case_intake.locate_grid(s, *centre(0)) is None, "the edited polygon is read"
        assert case_intake.locate_grid(s, *centre(1)) == world.grid_ids[0], "ties go to the lowest id"
    assert built == [3, 3]


def test_grid_worker_records_only_in_own_grid(world: World) -> None:
    me = world.actors["grid"]
    with world.session() as s:
        with pytest.raises(InvalidInput) as err:
            case_intake.create_case(s, me, _new(world, grid_id=world.grid_ids[1]))
        assert err.value.problems == {"grid": "errors.grid_scope"}
        lon, lat = centre(2)  # a point in another community's grid
        with pytest.raises(InvalidInput):
            case_intake.create_case(s, me, _new(world, grid_id=None, lon=lon, lat=lat))
        ref = case_intake.create_case(s, me, _new(world, source=CaseSource.proxy))
        assert ref.status == CaseStatus.reported


@pytest.mark.parametrize("who", ["leader", "department", "volunteers"])
def test_roles_that_may_not_record(world: World, who: str) -> None:
    with world.session() as s, pytest.raises(NotPermitted):
        case_intake.create_case(s, world.actors[who], _new(world))


# ---------------------------------------------------------------- duplicates


def _north(lon: float, lat: float, metres: float) -> tuple[float, float]:
    return lon, lat + metres / M_PER_DEG


@pytest.mark.parametrize(
    ("metres", "hours", "found"),
    [(49, 1, True), (51, 1, False), (10, 23, True), (10, 25, False), (49, 23.9, True), (0, 24, True)],
)
def test_duplicate_window(world: World, metres: float, hours: float, found: bool) -> None:
    w = world
    lon, lat = centre(0)
    other = _north(lon, lat, metres)
    assert abs(haversine_m(lon, lat, *other) - metres) < 0.01
    with w.session() as s:
        c = put_case(s, w, CaseStatus.accepted, lonlat=other, reported_at=NOW - timedelta(hours=hours))
        hits = case_intake.find_duplicates(s, w.actors["operator"], w.category["ENV"], lon, lat, NOW)
        assert [h.id for h in hits] == ([c.id] if found else [])
        if found:
            assert hits[0].distance_m == pytest.approx(metres, abs=0.1)


def test_duplicates_only_open_same_category_in_scope(world: World) -> None:
    w = world
    lon, lat = centre(0)
    near = _north(lon, lat, 20)
    with w.session() as s:
        put_case(s, w, CaseStatus.closed, lonlat=near)
        put_case(s, w, CaseStatus.rejected, lonlat=near)
        put_case(s, w, CaseStatus.accepted, lonlat=near, category=w.category["SAF"])
        keep = put_case(s, w, CaseStatus.in_progress, lonlat=near)
        merged = put_case(s, w, CaseStatus.accepted, lonlat=near, duplicate_of_id=keep.id)
        assert merged.id
        hits = case_intake.find_duplicates(s, w.actors["operator"], w.category["ENV"], lon, lat, NOW)
        assert [h.id for h in hits] == [keep.id]
        assert (
            case_intake.find_duplicates(
                s, w.actors["operator"], w.category["ENV"], lon, lat, NOW, exclude_id=keep.id
            )
            == []
        )
        assert (
            case_intake.find_duplicates(s, w.actors["grid3"], w.category["ENV"], lon, lat, NOW) == []
        )  # other grid's case
        assert case_intake.find_duplicates(s, w.actors["operator"], w.category["ENV"], None, None, NOW) == []


def _building(w: World, grid: int, name: str) -> tuple[int, float, float]:
    lon, lat = centre(grid)
    with w.session() as s:
        b = Building(grid_id=w.grid_ids[grid], name=name, households=40, lon=lon + 0.001, lat=lat - 0.001)
        s.add(b)
        s.commit()
        return b.id, b.lon, b.lat  # type: ignore[return-value]


def test_a_building_sets_grid_coordinates_and_address(world: World) -> None:
    w = world
    bid, lon, lat = _building(w, 2, "和平小区3号楼")
    with w.session() as s, clock.frozen(NOW):
        ref = case_intake.create_case(
            s, w.actors["operator"], _new(w, grid_id=None, building_id=bid, address="2单元301")
        )
        s.commit()
        c = s.get(Case, ref.id)
        assert c is not None
        assert (c.grid_id, c.lon, c.lat) == (w.grid_ids[2], lon, lat)
        assert c.community_id == w.community_ids[1]
        assert c.address == "和平小区3号楼2单元301"
        ref = case_intake.create_case(
            s, w.actors["operator"], _new(w, grid_id=None, building_id=bid, address="")
        )
        assert s.get(Case, ref.id).address == "和平小区3号楼"  # type: ignore[union-attr]


def test_a_building_must_be_in_scope_and_in_the_chosen_grid(world: World) -> None:
    w = world
    bid, _, _ = _building(w, 2, "和平小区3号楼")
    with w.session() as s:
        with pytest.raises(InvalidInput) as other_grid:
            case_intake.validate_new_case(
                s, w.actors["operator"], _new(w, grid_id=w.grid_ids[0], building_id=bid)
            )
        assert other_grid.value.problems == {"building": "errors.building_grid"}
        with pytest.raises(InvalidInput) as out_of_scope:
            case_intake.validate_new_case(s, w.actors["community"], _new(w, grid_id=None, building_id=bid))
        assert out_of_scope.value.problems == {"building": "errors.building_scope"}
        rows = lookups.buildings(s, w.actors["community"])
        assert bid not in set(rows["id"])
        every = lookups.buildings(s, w.actors["operator"])
        assert list(every[every["id"] == bid][["name", "grid_code"]].iloc[0]) == ["和平小区3号楼", "XL-02-01"]
