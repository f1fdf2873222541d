"""Open311 GeoReport v2: tolerant import of real-world feeds (JSON and XML), and the requests.json export."""

from __future__ import annotations

import io
import json
from datetime import datetime

import pytest
from sqlmodel import select

from dashboard.cases import queue
from dashboard.io import open311
from dashboard.io.cases import import_open311
from dashboard.io.runs import ImportReport
from dashboard.kernel.errors import NotPermitted
from models import AuditLog, Case, CaseEvent
from models.enums import CaseStatus
from tests.factories import IMPORTS, IMPORTS_NOW, INSIDE, World, counts

pytestmark = pytest.mark.world(IMPORTS, frozen_at=IMPORTS_NOW)

FEED = [
    {  # 1: a clean closed request, UTC times, extra fields
        "service_request_id": "638344",
        "status": "closed",
        "status_notes": "Duplicate request.",
        "service_name": "Environment",
        "service_code": "ENV",
        "description": "路灯不亮\n小区东门口两盏路灯",
        "agency_responsible": "城管",
        "service_notice": "",
        "requested_datetime": "2026-11-01T00:30:00Z",
        "updated_datetime": "2026-11-02T02:00:00Z",
        "expected_datetime": "2026-11-05T08:00:00+08:00",
        "address": "幸福路 8 号",
        "address_id": "545483",
        "zipcode": "223800",
        "lat": INSIDE[0][1],
        "long": INSIDE[0][0],
        "media_url": "http://example.org/x.jpg",
        "extended_attributes": {"x": 1},
    },
    {  # 2: odd spellings, "null" strings, zero coordinates but a useless address — no location at all
        "ID": 2,
        "Status": "open",
        "SERVICE-CODE": "null",
        "Service_Name": "Safety hazards",
        "Requested-Datetime": "2026-11-03 09:15",
        "Lat": 0,
        "lng": 0,
        "description": "null",
    },
    {  # 3: lon/lat spelled lon and latitude, strings; service known by Chinese name only
        "service_request_id": "R-3",
        "status": "open",
        "service_name": "环境卫生",
        "lon": str(INSIDE[2][0]),
        "latitude": str(INSIDE[2][1]),
        "requested_datetime": "2026-11-04T08:00:00+08:00",
        "description": "垃圾",
    },
    {  # 4: unknown service
        "service_request_id": "R-4",
        "status": "open",
        "service_code": "pothole",
        "service_name": "Pothole",
        "long": INSIDE[1][0],
        "lat": INSIDE[1][1],
        "requested_datetime": "2026-11-04T09:00:00+08:00",
    },
    {  # 5: an unknown status
        "service_request_id": "R-5",
        "status": "teleported",
        "service_code": "ENV",
        "long": INSIDE[1][0],
        "lat": INSIDE[1][1],
        "requested_datetime": "2026-11-04T09:00:00+08:00",
    },
]


def _import(w: World, data: bytes, name: str = "requests.json", **kw: object) -> ImportReport:
    with w.session() as s:
        report = import_open311(s, w.actors["admin"], data, name=name, **kw)  # type: ignore[arg-type]
        s.commit()
    return report


def test_messy_feed_is_read_tolerantly(world: World) -> None:
    data = json.dumps(FEED, ensure_ascii=False).encode()
    report = _import(world, data)
    assert report.rows == 5 and (report.new, report.error_rows) == (2, 3)
    assert [(e.row, e.column, e.key) for e in report.errors] == [
        (2, "long", "io.err.no_location"),
        (4, "service_code", "io.err.unknown_category"),
        (5, "status", "io.err.unknown_status"),
    ]
    assert report.unknown_categories == {"Pothole": 1}  # by service name: codes are often opaque
    mapped = _import(world, data, mapping={"categories": {"Pothole": "ENV"}}, commit=True, skip_bad_rows=True)
    assert mapped.committed and mapped.new == 3
    with world.session() as s:
        c1 = s.exec(select(Case).where(Case.external_id == "638344")).one()
        assert (c1.title, c1.description) == ("路灯不亮", "小区东门口两盏路灯")
        assert c1.reported_at == datetime(2026, 11, 1, 8, 30)  # UTC → Beijing
        assert c1.closed_at == datetime(2026, 11, 2, 10) and c1.status == CaseStatus.closed
        assert c1.due_at == datetime(2026, 11, 5, 8)  # expected_datetime wins over the category's limit
        assert c1.department_id == world.department["CG"] and c1.address == "幸福路 8 号"
        r3 = s.exec(select(Case).where(Case.external_id == "R-3")).one()
        assert r3.grid_id == world.grid_ids[2] and r3.title == "垃圾"
        actions = s.exec(
            select(CaseEvent.action).where(CaseEvent.case_id == c1.id).order_by(CaseEvent.id)
        ).all()
        assert actions == ["report", "close"]


def test_xml_feed_and_status_notes_refine_the_status(world: World) -> None:
    xml = f"""<?xml version="1.0" encoding="utf-8"?>
<service_requests>
  <request><service_request_id>X-1</service_request_id><status>open</status><status_notes>处置中</status_notes>
    <service_code>ENV</service_code><description>污水外溢</description>
    <requested_datetime>2026-11-04T08:00:00+08:00</requested_datetime>
    <lat>{INSIDE[3][1]}</lat><long>{INSIDE[3][0]}</long></request>
  <request><service_request_id>X-2</service_request_id><status>closed</status><status_notes>不予受理</status_notes>
    <service_code>ENV</service_code><requested_datetime>2026-11-04T09:00:00+08:00</requested_datetime>
    <updated_datetime>2026-11-04T10:00:00+08:00</updated_datetime>
    <lat>{INSIDE[3][1]}</lat><long>{INSIDE[3][0]}</long></request>
</service_requests>"""
    report = _import(world, xml.encode(), name="requests.xml", commit=True)
    assert report.committed and report.new == 2
    with world.session() as s:
        got = dict(s.exec(select(Case.external_id, Case.status)).all())
    assert got == {"X-1": "in_progress", "X-2": "rejected"}


@pytest.mark.parametrize("cut", [0.5, 0.97])
def test_truncated_json_writes_nothing(world: World, cut: float) -> None:
    items = [{**FEED[0], "service_request_id": f"T-{i}"} for i in range(50)]
    data = json.dumps(items).encode()
    before = counts(world.url)
    report = _import(world, data[: int(len(data) * cut)], commit=True, skip_bad_rows=True)
    assert report.file_error is not None and report.file_error.key == "io.err.json_truncated"
    assert not report.committed and counts(world.url) == before


def test_xml_with_entities_is_refused(world: World) -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
        "<service_requests><request><description>&b;</description></request></service_requests>"
    )
    report = _import(world, bomb.encode(), name="r.xml", commit=True)
    assert (
        report.file_error is not None and report.file_error.key == "io.err.xml_dtd" and not report.committed
    )


def test_export_shape_paging_masking_and_audit(world: World) -> None:
    rows = [
        {
            **FEED[0],
            "service_request_id": f"E-{i}",
            "address": "幸福路3号楼2单元301",
            "long": INSIDE[3][0],
            "lat": INSIDE[3][1],
        }
        for i in range(5)
    ]  # in community 1: out of the grid worker's scope
    rows[0]["status"] = "open"
    _import(world, json.dumps(rows).encode(), commit=True)
    with world.session() as s:
        number = dict(s.exec(select(Case.external_id, Case.number)).all())
        chunks = list(open311.cases_to_open311(s, world.actors["admin"], page_size=2, lang="en"))
        assert [len(c) for c in chunks] == [2, 2, 1]
        first = chunks[0][0]
        assert list(first) == [k for k in open311.FIELDS if k != "media_url"]  # no media: left out
        assert first["status"] == "open" and first["status_notes"] == "Reported"
        assert chunks[0][1]["status"] == "closed" and chunks[0][1]["status_notes"] == "Closed"
        assert first["requested_datetime"] == "2026-11-01T08:30:00+08:00"
        assert first["expected_datetime"] == "2026-11-05T08:00:00+08:00"
        assert first["service_code"] == "ENV" and first["service_name"] == "Environment"
        assert (
            first["description"] == "路灯不亮\n小区东门口两盏路灯" and first["agency_responsible"] == "城管"
        )
        assert (first["lat"], first["long"]) == (INSIDE[3][1], INSIDE[3][0])
        assert first["address"] == "幸福路3号楼***"  # masked unless exported unmasked
        operator = world.actors["operator"]
        with pytest.raises(NotPermitted):
            next(open311.cases_to_open311(s, operator, unmasked=True))
        buf = io.BytesIO()
        n = open311.write_open311(
            s,
            operator,
            buf,
            queue.conditions(operator, queue.QueueFilters(view="open"), datetime(2026, 11, 25)),
        )
        s.commit()
        assert n == 1 and [r["service_request_id"] for r in json.loads(buf.getvalue())] == [number["E-0"]]
        picked = json.loads(
            open311.open311_bytes(
                s, world.actors["admin"], numbers=[number["E-3"], number["E-1"], "nope"], unmasked=True
            )
        )
        s.commit()
        assert [r["service_request_id"] for r in picked] == [number["E-1"], number["E-3"]]
        assert picked[0]["address"] == "幸福路3号楼2单元301"
        audits = s.exec(select(AuditLog.outcome, AuditLog.detail).where(AuditLog.action == "export")).all()
        assert [(o, json.loads(d)["format"], json.loads(d)["rows"]) for o, d in audits] == [
            ("ok", "open311", 1),
            ("unmasked", "open311", 2),
        ]
        assert json.loads(open311.open311_bytes(s, world.actors["community"])) == []


def test_services_list(world: World) -> None:
    with world.session() as s:
        services = open311.services(s, "zh")
    assert [(x["service_code"], x["service_name"], x["description"]) for x in services] == [
        ("ENV", "环境卫生", "3 工作日"),
        ("SAF", "安全隐患", "24 自然时"),
    ]
