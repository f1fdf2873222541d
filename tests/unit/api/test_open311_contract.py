"""The Open311 endpoints against the GeoReport v2 specification: every answer (JSON) valid against the
vendored schemas, the XML the same data, the staff intake behind POST, what the public and each key see."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlmodel import select

from models import AuditLog, Building, Case, CaseEvent, Category, Community, Grid
from models.api_client import ApiRequest
from models.enums import CaseSource, CaseStatus
from tests.factories import CASE_LOOP, CASE_LOOP_NOW, World, centre, put_case, square
from tests.unit.api.open311_helpers import (
    Answer,
    app,
    as_texts,
    call,
    new_client,
    problems,
    reset_rate_counts,
    use_database,
    xml_items,
)

pytestmark = pytest.mark.world(CASE_LOOP, frozen_at=CASE_LOOP_NOW)
API = app()
V2 = "/open311/v2"


@pytest.fixture(autouse=True)
def _routes_on_the_world(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    use_database(monkeypatch, world.url)
    reset_rate_counts()
    yield
    reset_rate_counts()


def _post(form: dict[str, str], key: str | None, fmt: str = "json"):  # type: ignore[no-untyped-def]
    return call(API, "POST", f"{V2}/requests.{fmt}", form={**form, **({"api_key": key} if key else {})})


def _audit(w: World, action: str) -> list[AuditLog]:
    with w.session() as s:
        return list(s.exec(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).all())


# ---------------------------------------------------------------- services and discovery


def test_services_are_the_categories_in_chinese_json_and_xml_alike(world: World) -> None:
    answer = call(API, "GET", f"{V2}/services.json")
    assert answer.status == 200
    items = answer.json()
    assert problems("services", items) == []
    by_code = {s["service_code"]: s for s in items}
    assert set(by_code) == {"ENV", "SAF", "ADM"}
    assert by_code["ENV"]["service_name"] == "环境卫生" and by_code["ENV"]["metadata"] is False
    assert by_code["SAF"]["metadata"] is True and by_code["SAF"]["group"] == "住建"
    assert by_code["SAF"]["description"] == "安全隐患：办理时限 24 自然时，承办部门：住建"
    xml = xml_items(call(API, "GET", f"{V2}/services.xml").xml(), "service")
    assert xml == as_texts(items)
    english = call(API, "GET", f"{V2}/services", {"format": "json", "lang": "en"}).json()
    assert {s["service_name"] for s in english} == {"Environment", "Safety", "Assigned"}


def test_a_retired_category_is_no_service(world: World) -> None:
    with world.session() as s:
        category = s.get(Category, world.category["ADM"])
        category.active = False  # type: ignore[union-attr]
        s.add(category)
        s.commit()
    assert "ADM" not in {s["service_code"] for s in call(API, "GET", f"{V2}/services.json").json()}
    answer = call(API, "GET", f"{V2}/services/ADM.json")
    assert answer.status == 404 and problems("errors", answer.json()) == []


def test_service_definitions_list_the_attributes_a_category_needs(world: World) -> None:
    saf = call(API, "GET", f"{V2}/services/SAF.json").json()
    assert problems("service_definition", saf) == []
    hazard, priority = saf["attributes"]
    assert (hazard["code"], hazard["required"], hazard["order"]) == ("hazard", True, 1)
    assert {v["key"]: v["name"] for v in hazard["values"]}["gas"] == "燃气"
    assert [v["name"] for v in priority["values"]] == ["特急", "紧急", "一般"]
    env = call(API, "GET", f"{V2}/services/ENV.json").json()
    assert env == {"service_code": "ENV", "attributes": []}
    root = call(API, "GET", f"{V2}/services/SAF.xml").xml()
    assert root.tag == "service_definition"
    assert [a.findtext("code") for a in root.iterfind("attributes/attribute")] == ["hazard", "priority"]
    assert [v.findtext("key") for v in root.iterfind("attributes/attribute/values/value")][:2] == [
        "gas",
        "electric",
    ]
    missing = call(API, "GET", f"{V2}/services/NOPE.xml")
    assert missing.status == 404 and missing.xml().findtext("error/code") == "404"


def test_discovery_names_the_endpoint_and_its_formats(world: World) -> None:
    doc = call(API, "GET", f"{V2}/discovery.json").json()
    assert problems("discovery", doc) == []
    (endpoint,) = doc["endpoints"]
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert doc["contact"] == "项里街道网格治理指挥中心"
    root = call(API, "GET", f"{V2}/discovery.xml").xml()
    assert [f.text for f in root.iterfind("endpoints/endpoint/formats/format")] == [
        "text/xml",
        "application/json",
    ]


# ---------------------------------------------------------------- POST requests


def test_a_post_is_a_case_from_the_staff_intake(world: World) -> None:
    issued = new_client(world, "区12345平台", can_write=True, sees_personal_data=True)
    lon, lat = centre(0)
    form = {
        "service_code": "SAF",
        "lat": str(lat),
        "long": str(lon),
        "address_string": "幸福路8号3号楼2单元301",
        "description": "楼道电线老化冒火花\n三楼东户门口",
        "attribute[hazard]": "electric",
        "attribute[priority]": "emergency",
        "first_name": "小明",
        "last_name": "王",
        "phone": "138 1234 5678",
        "email": "wang@example.com",
        "media_url": "https://img.example.com/a.jpg",
    }
    answer = _post(form, issued.key)
    assert answer.status == 200, answer.text
    (created,) = answer.json()
    assert problems("post_response", [created]) == []
    number = created["service_request_id"]
    assert re.fullmatch(r"XL20260309-\d{4}", number)
    assert number in created["service_notice"] and "24 自然时" in created["service_notice"]
    with world.session() as s:
        case = s.exec(select(Case).where(Case.number == number)).one()
        event = s.exec(select(CaseEvent).where(CaseEvent.case_id == case.id)).one()
        link = s.get(ApiRequest, case.id)
    assert case.source == CaseSource.api and case.status == CaseStatus.reported
    assert (case.title, case.priority, case.grid_id) == ("楼道电线老化冒火花", "emergency", world.grid_ids[0])
    assert case.description.splitlines() == [
        "楼道电线老化冒火花",
        "三楼东户门口",
        "【隐患类型】电气线路",
        "【附件链接】https://img.example.com/a.jpg",
    ]
    assert (case.reporter_name, case.reporter_phone, case.reporter_anonymous) == (
        "王小明",
        "13812345678",
        False,
    )
    assert case.due_at == CASE_LOOP_NOW + timedelta(hours=24)
    assert event.action == "report" and link is not None and link.token == created["token"]
    assert [a.target for a in _audit(world, "api_write")] == [number]
    token = call(API, "GET", f"{V2}/tokens/{created['token']}.json")
    assert token.status == 200 and token.json() == [{"service_request_id": number, "token": created["token"]}]
    assert problems("token_response", token.json()) == []


def test_a_post_near_an_open_case_of_the_same_kind_says_so_and_is_kept(world: World) -> None:
    issued = new_client(world, "区城运中心", can_write=True)
    with world.session() as s:
        existing = put_case(s, world, CaseStatus.accepted, reported_at=CASE_LOOP_NOW - timedelta(hours=2))
    lon, lat = centre(0)
    answer = _post(
        {"service_code": "ENV", "lat": str(lat), "long": str(lon), "description": "垃圾堆放"}, issued.key
    )
    assert answer.status == 200
    (created,) = answer.json()
    assert existing.number in created["service_notice"] and created["service_request_id"] != existing.number
    with world.session() as s:
        case = s.exec(select(Case).where(Case.number == created["service_request_id"])).one()
    assert case.reporter_anonymous and case.reporter_name == "" and case.title == "垃圾堆放"


def test_a_post_placed_by_a_building_named_in_the_address(world: World) -> None:
    issued = new_client(world, "区12345平台", can_write=True)
    lon, lat = centre(1)
    with world.session() as s:
        s.add(Building(grid_id=world.grid_ids[1], name="和美小区5栋", lon=lon, lat=lat))
        s.commit()
    form = {"service_code": "ENV", "address_string": "幸福路和美小区5栋1单元", "description": "路灯不亮"}
    answer = _post(form, issued.key, "xml")
    assert answer.status == 200, answer.text
    number = answer.xml().findtext("request/service_request_id")
    with world.session() as s:
        case = s.exec(select(Case).where(Case.number == number)).one()
    assert (case.grid_id, case.address, case.lon, case.lat) == (
        world.grid_ids[1],
        "和美小区5栋1单元",
        lon,
        lat,
    )


REFUSED: list[tuple[dict[str, str], int, list[str]]] = [
    ({"description": "x"}, 400, ["service_code"]),
    ({"service_code": "NOPE", "lat": "33.965", "long": "118.285"}, 404, []),
    ({"service_code": "SAF", "lat": "33.965", "long": "118.285"}, 400, ["attribute[hazard]"]),
    (
        {
            "service_code": "SAF",
            "lat": "33.965",
            "long": "118.285",
            "attribute[hazard]": "x",
            "attribute[y]": "1",
        },
        400,
        ["attribute[y]", "attribute[hazard]"],
    ),
    (
        {"service_code": "ENV", "lat": "north", "long": "118.285", "media_url": "javascript:x"},
        400,
        ["lat", "media_url"],
    ),
    ({"service_code": "ENV", "lat": "10", "long": "10"}, 400, ["lat/long"]),
    ({"service_code": "ENV", "address_string": "不知道在哪"}, 400, ["lat/long"]),
    ({"service_code": "ENV", "lat": "33.965", "long": "118.285", "phone": "12"}, 400, ["phone"]),
    (
        {"service_code": "ENV", "lat": "33.965", "long": "118.285", "description": "长" * 4001},
        400,
        ["description"],
    ),
]
"""POSTs the intake refuses: the form, the HTTP status, the parameters the errors must name."""


def test_a_refused_post_answers_the_error_list_and_is_audited(world: World) -> None:
    issued = new_client(world, "区12345平台", can_write=True)
    for n, (form, status, names) in enumerate(REFUSED, 1):
        answer = _post(form, issued.key)
        assert answer.status == status, (form, answer.text)
        errors = answer.json()
        assert problems("errors", errors) == []
        assert {e["code"] for e in errors} == {status}
        for name in names:
            assert any(
                e["description"].startswith(name) or f" {name} " in e["description"] for e in errors
            ), errors
        refused = _audit(world, "api_refused")
        assert len(refused) == n and refused[-1].outcome == "denied"
        assert refused[-1].target == f"{V2}/requests.json"
    with world.session() as s:
        assert s.exec(select(Case)).all() == []


def test_without_a_key_that_may_write_nothing_is_created(world: World) -> None:
    reader = new_client(world, "只读系统", can_read=True, can_write=False)
    form = {"service_code": "ENV", "lat": "33.965", "long": "118.285", "description": "x"}
    for key in [None, "g311_deadbeef_" + "x" * 43, reader.key]:
        answer = _post(form, key)
        assert answer.status == 403 and problems("errors", answer.json()) == []
        assert answer.json()[0]["code"] == 403
    assert [a.detail.rsplit("reason=", 1)[1] for a in _audit(world, "api_refused")] == [
        "no_key",
        "bad_key",
        "read_only",
    ]
    with world.session() as s:
        assert s.exec(select(Case)).all() == []


def test_a_community_key_cannot_post_outside_its_community(world: World) -> None:
    issued = new_client(world, "幸福社区系统", can_write=True, community_ids=(world.community_ids[0],))
    lon, lat = centre(2)  # 和平社区
    answer = _post({"service_code": "ENV", "lat": str(lat), "long": str(lon)}, issued.key)
    assert answer.status == 400 and answer.json()[0]["description"].startswith("lat/long")
    lon, lat = centre(0)
    assert _post({"service_code": "ENV", "lat": str(lat), "long": str(lon)}, issued.key).status == 200


def _third_community(w: World) -> tuple[int, int]:
    """A third community (安康社区) with one grid east of the others: its (community id, grid id)."""
    with w.session() as s:
        community = Community(
            subdistrict_id=w.subdistrict_id,
            name="安康社区",
            code="XL-03",
            outline=square(118.31, 33.96),
            centroid_lon=118.315,
            centroid_lat=33.965,
        )
        s.add(community)
        s.flush()
        grid = Grid(
            community_id=community.id,  # type: ignore[arg-type]
            code="XL-03-01",
            name="第4网格",
            polygon=square(118.31, 33.96),
            centroid_lon=centre(3)[0],
            centroid_lat=centre(3)[1],
        )
        s.add(grid)
        s.commit()
        return community.id, grid.id  # type: ignore[return-value]


def test_a_key_for_two_communities_reads_and_posts_in_both_and_nowhere_else(world: World) -> None:
    happy, peace = world.community_ids  # 幸福社区 (grids 0, 1), 和平社区 (grid 2)
    health, health_grid = _third_community(world)
    issued = new_client(world, "两社区联合平台", can_write=True, community_ids=(happy, health))
    with world.session() as s:
        in_happy = put_case(s, world, CaseStatus.accepted, grid=0)
        in_peace = put_case(s, world, CaseStatus.accepted, grid=2)
        in_health = put_case(
            s, world, CaseStatus.accepted, grid=0, grid_id=health_grid, community_id=health, lonlat=centre(3)
        )
    seen = call(API, "GET", f"{V2}/requests.json", {"api_key": issued.key}).json()
    assert problems("requests", seen) == []
    assert {i["service_request_id"] for i in seen} == {in_happy.number, in_health.number}
    for case, status in ((in_happy, 200), (in_health, 200), (in_peace, 404)):
        one = call(API, "GET", f"{V2}/requests/{case.number}.json", {"api_key": issued.key})
        assert one.status == status, case.number
    listed = call(
        API, "GET", f"{V2}/requests.json", {"api_key": issued.key, "service_request_id": in_peace.number}
    )
    assert listed.json() == []

    def post(col: int) -> Answer:
        lon, lat = centre(col)
        return _post(
            {"service_code": "ENV", "lat": str(lat), "long": str(lon), "description": "路灯不亮"}, issued.key
        )

    outside = post(2)  # 和平社区: the spec's error list, 400, naming the place
    assert outside.status == 400 and problems("errors", outside.json()) == []
    assert [e["description"].split(":")[0] for e in outside.json()] == ["lat/long"]
    assert [post(col).status for col in (0, 3)] == [200, 200]
    with world.session() as s:
        posted = s.exec(select(Case.community_id).where(Case.source == CaseSource.api)).all()
    assert sorted(posted) == sorted([happy, health])
    assert [a.detail.rsplit("reason=", 1)[1] for a in _audit(world, "api_refused")] == ["invalid"]


def test_too_many_calls_are_refused_with_429_and_audited(world: World) -> None:
    issued = new_client(world, "限流系统", rate_limit="2/minute")
    codes = [call(API, "GET", f"{V2}/requests.json", {"api_key": issued.key}).status for _ in range(3)]
    assert codes == [200, 200, 429]
    answer = call(API, "GET", f"{V2}/requests.xml", headers={"X-API-Key": issued.key})
    assert answer.status == 429 and answer.xml().findtext("error/code") == "429"
    assert [a.detail.rsplit("reason=", 1)[1] for a in _audit(world, "api_refused")] == ["rate_limited"] * 2


# ---------------------------------------------------------------- GET requests: what each reader sees


def _cases(w: World) -> tuple[Case, Case, Case]:
    """An open case in each community and a closed one, an hour apart, with a reporter and a full address."""
    with w.session() as s:
        first = put_case(s, w, CaseStatus.accepted, grid=0, reported_at=CASE_LOOP_NOW - timedelta(hours=3))
        second = put_case(
            s, w, CaseStatus.in_progress, grid=2, reported_at=CASE_LOOP_NOW - timedelta(hours=2)
        )
        third = put_case(s, w, CaseStatus.closed, grid=1, reported_at=CASE_LOOP_NOW - timedelta(hours=1))
        s.add(
            CaseEvent(
                case_id=third.id,
                at=CASE_LOOP_NOW,
                action="close",
                from_status="verified",
                to_status="closed",
                note="已清运完毕",
            )
        )  # type: ignore[arg-type]
        s.commit()
    return first, second, third


def test_the_public_sees_every_case_and_no_personal_data(world: World) -> None:
    first, second, third = _cases(world)
    answer = call(API, "GET", f"{V2}/requests.json")
    items = answer.json()
    assert problems("requests", items) == []
    assert [i["service_request_id"] for i in items] == [third.number, second.number, first.number]
    assert {i["address"] for i in items} == {"幸福路8号***"}
    assert items[0]["status"] == "closed" and items[0]["status_notes"] == "已结案"
    xml = call(API, "GET", f"{V2}/requests.xml")
    for body in (answer.text, xml.text):
        assert "王小明" not in body and "13812345678" not in body and "2单元301" not in body
        assert "已清运完毕" not in body
    assert xml_items(xml.xml(), "request") == as_texts(items)


def test_a_key_sees_its_scope_and_personal_data_only_if_allowed(world: World) -> None:
    first, second, third = _cases(world)
    district = new_client(world, "区12345平台", sees_personal_data=True)
    community = new_client(world, "幸福社区系统", community_ids=(world.community_ids[0],))
    full = call(API, "GET", f"{V2}/requests.json", {"api_key": district.key}).json()
    assert problems("requests", full) == []
    assert {i["address"] for i in full} == {"幸福路8号3号楼2单元301"}
    assert full[0]["status_notes"] == "已结案；已清运完毕"
    mine = call(API, "GET", f"{V2}/requests.json", headers={"X-API-Key": community.key}).json()
    assert [i["service_request_id"] for i in mine] == [third.number, first.number]
    assert {i["address"] for i in mine} == {"幸福路8号***"}
    other = call(API, "GET", f"{V2}/requests/{second.number}.json", {"api_key": community.key})
    assert other.status == 404 and problems("errors", other.json()) == []
    public = call(API, "GET", f"{V2}/requests/{second.number}.json")
    assert public.status == 200 and problems("requests", public.json()) == []
    bad = call(API, "GET", f"{V2}/requests.json", {"api_key": "g311_00000000_nope"})
    assert bad.status == 403 and problems("errors", bad.json()) == []


def test_filters_paging_and_the_ninety_days(world: World) -> None:
    first, second, third = _cases(world)
    with world.session() as s:
        old = put_case(s, world, CaseStatus.reported, reported_at=CASE_LOOP_NOW - timedelta(days=120))

    def numbers(**query: str) -> list[str]:
        answer = call(API, "GET", f"{V2}/requests.json", query)
        assert answer.status == 200, answer.text
        assert problems("requests", answer.json()) == []
        return [i["service_request_id"] for i in answer.json()]

    assert numbers() == [third.number, second.number, first.number]
    assert numbers(status="closed") == [third.number]
    assert numbers(status="open,closed") == numbers(status="") == numbers()
    assert numbers(status="open", page_size="1", page="2") == [first.number]
    assert numbers(service_code="SAF,ADM") == []
    assert numbers(start_date="2025-11-01T00:00:00Z", end_date="2025-12-01T00:00:00+08:00") == [old.number]
    assert numbers(end_date=(CASE_LOOP_NOW - timedelta(hours=2)).isoformat()) == [second.number, first.number]
    assert numbers(service_request_id=f"{old.number}, {first.number},XL0") == [first.number, old.number]
    for bad in (
        {"page_size": "1001"},
        {"page": "0"},
        {"status": "pending"},
        {"start_date": "yesterday"},
        {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-04-02T00:00:00Z"},
        {"service_request_id": ",".join(f"N{i}" for i in range(1001))},
        {"lang": "fr"},
    ):
        answer = call(API, "GET", f"{V2}/requests.json", bad)
        assert answer.status == 400 and problems("errors", answer.json()) == [], bad


def test_unknown_paths_formats_and_tokens_answer_in_the_error_form(world: World) -> None:
    for path, status in [
        (f"{V2}/nothing.json", 404),
        (f"{V2}/services.yaml", 400),
        (f"{V2}/tokens/unknown.json", 404),
        (f"{V2}/requests/XL19990101-0001.json", 404),
    ]:
        answer = call(API, "GET", path)
        assert answer.status == status and problems("errors", answer.json()) == [], path
    assert call(API, "GET", f"{V2}/requests/XL1.xml").xml().findtext("error/code") == "404"
    nul = call(
        API, "GET", f"{V2}/services/%00ENV.json"
    )  # a NUL never reaches the database (PostgreSQL refuses it)
    assert nul.status == 200 and nul.json()["service_code"] == "ENV"
