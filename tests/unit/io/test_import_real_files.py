"""Files as other cities' systems write them (issue 20): US 311 exports with month-first dates and 12-hour
clocks, Chinese exports with 上午/下午, Excel serials, Open311 feeds with duplicated keys and garbage in
optional fields, GBK files with a long ASCII head, mappings that feed two fields from one column or one
from several, and reports whose counts are exact."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlmodel import select

from dashboard.io.cases import import_cases, import_open311, open311_date_columns
from dashboard.io.report import MAX_PROBLEMS_KEPT, ImportReport
from dashboard.io.sources import Source
from models import AuditLog, Case, CaseEvent
from models.enums import CaseStatus
from tests.factories import IMPORTS, IMPORTS_NOW, INSIDE, World, counts, csv_bytes, xlsx_bytes

pytestmark = pytest.mark.world(IMPORTS, frozen_at=IMPORTS_NOW)

US_HEAD = ["Service Request ID", "Created Date", "Closed Date", "requesttype", "Descriptor", "Status"]
US_HEAD += ["Incident Address", "Latitude", "Longitude"]


def _us(number: str, created: str, closed: str, kind: str, what: str, status: str, i: int) -> list[object]:
    lon, lat = INSIDE[i % 4]
    return [number, created, closed, kind, what, status, f"{100 + i} Main St", lat, lon]


US_ROWS = [
    _us("311-1", "1/1/26 0:05", "", "Environment", "Overflowing bin", "Open", 0),
    _us(
        "311-2",
        "02/01/2026 11:44:53 PM",
        "02/03/2026 09:15:00 AM",
        "Safety hazards",
        "Loose cable",
        "Closed",
        1,
    ),
    _us(
        "311-3", "03/14/2026 07:30:00 AM", "", "Environment", "Dumped tyres", "Started", 2
    ),  # 14: month first
    _us("311-4", "11/20/2026 12:10:00 PM", "11/21/2026 12:00:00 AM", "Safety hazards", "Dup", "Cancelled", 3),
    _us("311-5", "11/21/2026 04:00:00 PM", "", "Noise", "Loud music", "Referred Out", 0),
]


def _cases(world: World, data: bytes, name: str = "311.csv", **kw: object) -> ImportReport:
    with world.session() as s:
        report = import_cases(s, world.actors["admin"], data, name=name, **kw)  # type: ignore[arg-type]
        s.commit()
    return report


US_MAPPING = {
    "columns": {
        "Service Request ID": "number",
        "Created Date": "reported_at",
        "Closed Date": "closed_at",
        "requesttype": ["category", "title"],  # one column feeds two fields …
        "Descriptor": "title",  # … and the title is built from two columns
        "Status": "status",
        "Incident Address": "address",
        "Latitude": "lat",
        "Longitude": "lon",
    },
    "statuses": {"Cancelled": "rejected", "Referred Out": "closed", "Started": "in_progress"},
    "other_category": "ENV",
}


def test_a_us_311_export_imports_with_its_dates_statuses_and_mapping(world: World) -> None:
    data = csv_bytes([US_HEAD, *US_ROWS])
    plain = _cases(world, data, mapping={"columns": US_MAPPING["columns"]})
    # without a mapping: the dates are understood, the statuses and the category "Noise" are not
    assert plain.date_formats == {"Created Date": "mdy", "Closed Date": "mdy"}
    assert plain.unknown_statuses == {"Started": 1, "Cancelled": 1, "Referred Out": 1}
    assert plain.unknown_categories == {"Noise": 1}
    report = _cases(world, data, mapping=US_MAPPING, commit=True)
    assert report.committed and (report.new, report.error_rows) == (5, 0), report.problems_frame("en")
    assert [(w.row, w.column, w.key) for w in report.warnings] == [
        (6, "requesttype", "io.warn.category_other"),
        (6, "Closed Date", "io.warn.closed_time_unknown"),
    ]
    with world.session() as s:
        got = {
            c.external_id: (c.title, c.category_id, c.status, c.reported_at, c.closed_at)
            for c in s.exec(select(Case).where(Case.source == "imported"))
        }
        env, saf = world.category["ENV"], world.category["SAF"]
        flagged = s.exec(select(CaseEvent.payload).where(CaseEvent.action == "report")).all()
    assert got == {
        "311-1": ("Environment Overflowing bin", env, CaseStatus.reported, datetime(2026, 1, 1, 0, 5), None),
        "311-2": (
            "Safety hazards Loose cable",
            saf,
            CaseStatus.closed,
            datetime(2026, 2, 1, 23, 44, 53),
            datetime(2026, 2, 3, 9, 15),
        ),
        "311-3": (
            "Environment Dumped tyres",
            env,
            CaseStatus.in_progress,
            datetime(2026, 3, 14, 7, 30),
            None,
        ),
        "311-4": ("Safety hazards Dup", saf, CaseStatus.rejected, datetime(2026, 11, 20, 12, 10), None),
        "311-5": (
            "Noise Loud music",
            env,
            CaseStatus.closed,
            datetime(2026, 11, 21, 16),
            datetime(2026, 11, 21, 16),
        ),
    }
    assert sum("unmapped_category" in p for p in flagged) == 1
    assert any(json.loads(p).get("unmapped_category") == "Noise" for p in flagged)


def test_an_ambiguous_date_column_is_refused_until_its_format_is_given(world: World) -> None:
    rows = [US_HEAD, US_ROWS[0], US_ROWS[1]]  # 1/1/26 and 02/01/2026: both readings fit
    before = counts(world.url)
    refused = _cases(world, csv_bytes(rows), mapping=US_MAPPING, commit=True)
    assert refused.file_error is not None and refused.file_error.key == "io.err.date_ambiguous"
    assert refused.file_error.values[
        "column"
    ] == "Created Date" and "--date-format" in refused.file_error.reason("en")
    assert refused.rows == 0 and counts(world.url) == before
    one = _cases(world, csv_bytes(rows), mapping={**US_MAPPING, "dates": {"Created Date": "dmy"}})
    assert one.file_error is not None and one.file_error.values["column"] == "Closed Date"  # the next one
    both = {
        "Created Date": "dmy",
        "closed_at": "%d/%m/%Y %I:%M:%S %p",
    }  # by column or field; names or patterns
    day_first = _cases(world, csv_bytes(rows), mapping={**US_MAPPING, "dates": both})
    assert day_first.file_error is None and day_first.date_formats["Created Date"] == "dmy"
    assert day_first.new == 2
    with world.session() as s:
        assert s.exec(select(Case.id)).all() == []  # a dry run


def test_chinese_12_hour_clocks_and_excel_serials(world: World) -> None:
    head = ["事件编号", "标题", "类别", "上报时间", "结案时间", "经度", "纬度", "状态"]
    rows = [
        ["Z-1", "占道经营", "ENV", "2026/11/8 下午 2:05:00", "2026/11/9 上午 9:30:00", *INSIDE[0], "已结案"],
        ["Z-2", "井盖缺失", "SAF", "2026年11月8日 14时", "", *INSIDE[1], "处理中"],
    ]
    report = _cases(world, csv_bytes([head, *rows]), commit=True)
    assert report.committed and report.ok and report.date_formats == {"上报时间": "ymd", "结案时间": "ymd"}
    workbook = xlsx_bytes([head[:6] + ["纬度"], ["Z-3", "垃圾", "ENV", 46334.5, None, *INSIDE[2]]])
    serial = _cases(world, workbook, name="z.xlsx", commit=True)
    assert serial.committed and serial.date_formats == {"上报时间": "excel"}
    with world.session() as s:
        got = dict(s.exec(select(Case.external_id, Case.reported_at).where(Case.source == "imported")).all())
        closed = s.exec(select(Case.closed_at).where(Case.external_id == "Z-1")).one()
    assert got == {
        "Z-1": datetime(2026, 11, 8, 14, 5),
        "Z-2": datetime(2026, 11, 8, 14),
        "Z-3": datetime(2026, 11, 8, 12),
    }
    assert closed == datetime(2026, 11, 9, 9, 30)


def _request(i: int) -> str:
    lon, lat = INSIDE[i % 4]
    return (
        f'{{"service_request_id": "SR-{i}", "status": "open", "service_code": "ENV", '
        f'"description": "Request {i}", "requested_datetime": "2026-11-0{1 + i % 9}T08:00:00Z", '
        f'"updated_datetime": "2026-11-10T08:00:00Z", "updated_datetime": "true", '
        f'"expected_datetime": "soon", "lat": {lat}, "long": {lon}}}'
    )


def test_duplicated_keys_and_garbage_optional_fields_are_warnings(world: World) -> None:
    # the feed as it came: every request has updated_datetime twice, the second time as "true"
    data = ("[" + ",\n".join(_request(i) for i in range(673)) + "]").encode()
    assert set(open311_date_columns(Source("feed.json", data=data))) == {"requested_datetime"}
    report = _open311(world, data, commit=True)
    assert report.committed and (report.new, report.error_rows) == (673, 0)
    assert report.warning_count == 3 * 673
    first = [(w.row, w.column, w.key) for w in report.warnings[:3]]
    assert first == [
        (1, "updated_datetime", "io.warn.duplicate_key"),
        (1, "expected_datetime", "io.warn.bad_date"),
        (1, "updated_datetime", "io.warn.bad_date"),
    ]
    assert report.warnings[0].values == {"n": 2, "values": "2026-11-10T08:00:00Z | true"}
    with world.session() as s:
        case = s.exec(select(Case).where(Case.external_id == "SR-0")).one()
    assert (
        case.reported_at == datetime(2026, 11, 1, 16) and case.due_at is not None
    )  # from the category's SLA


def _open311(world: World, data: bytes, **kw: object) -> ImportReport:
    with world.session() as s:
        report = import_open311(s, world.actors["admin"], data, name="feed.json", **kw)  # type: ignore[arg-type]
        s.commit()
    return report


def test_unknown_open311_services_get_the_same_mapping_step(world: World) -> None:
    feed = [
        {
            "service_request_id": f"P-{i}",
            "status": status,
            "service_code": "4fd3b167e750846744000005",
            "service_name": name,
            "requested_datetime": "2026-11-03T09:00:00+08:00",
            "lat": INSIDE[0][1],
            "long": INSIDE[0][0],
        }
        for i, (name, status) in enumerate(
            [("Graffiti", "open"), ("Pothole", "open"), ("Pothole", "Started")]
        )
    ]
    data = json.dumps(feed).encode()
    dry = _open311(world, data)
    assert dry.unknown_categories == {"Graffiti": 1, "Pothole": 2} and dry.unknown_statuses == {"Started": 1}
    mapping = {
        "categories": {"Pothole": "SAF"},
        "statuses": {"Started": "in_progress"},
        "other_category": "ENV",
    }
    done = _open311(world, data, mapping=mapping, commit=True)
    assert done.committed and (done.new, done.error_rows) == (3, 0)
    assert [(w.row, w.key, w.values) for w in done.warnings] == [
        (1, "io.warn.category_other", {"category": "环境卫生"})
    ]
    with world.session() as s:
        got = dict(s.exec(select(Case.external_id, Case.status).where(Case.source == "imported")).all())
    assert got == {"P-0": CaseStatus.reported, "P-1": CaseStatus.reported, "P-2": CaseStatus.in_progress}


def test_a_gbk_file_with_a_long_ascii_head(world: World) -> None:
    head = ["事件编号", "标题", "类别", "上报时间", "经度", "纬度"]
    ascii_rows = [
        [f"A-{i}", "Street light out" + " " * 40, "ENV", "2026-11-02 09:00", *INSIDE[0]] for i in range(1200)
    ]
    data = csv_bytes(
        [head, *ascii_rows, ["G-1", "路灯不亮", "环境卫生", "2026-11-03 09:00", *INSIDE[1]]], "gbk"
    )
    assert (
        len(data.split("路灯".encode("gbk"))[0]) > 64 * 1024
    )  # the first 64 KB are ASCII but for the header
    data = data.split(b"\r\n", 1)[1]  # … and without the header row even all of them
    data = b"number,title,category,reported_at,lon,lat\r\n" + data
    report = _cases(world, data, name="gbk.csv", commit=True)
    assert report.committed and report.ok and report.new == 1201
    with world.session() as s:
        assert s.exec(select(Case.title).where(Case.external_id == "G-1")).one() == "路灯不亮"


def test_bytes_that_are_no_text_are_reported_at_their_line_and_as_the_file_s_kind(world: World) -> None:
    lines = ["number,title,category,reported_at,lon,lat"]
    lines += [
        f"B-{i},Street light out,ENV,2026-11-02 09:00,{INSIDE[0][0]},{INSIDE[0][1]}" for i in range(3000)
    ]
    lines.insert(2000, f"B-x,路灯不亮,ENV,2026-11-02 09:00,{INSIDE[0][0]},{INSIDE[0][1]}")
    data = "\r\n".join(lines).encode()
    at = data.index(b"B-2500,")
    broken = data[:at] + b"\xff\xfe" + data[at:]  # line 2503 (header, 2000 rows, the UTF-8 row, 500 more)
    report = _cases(world, broken, name="mixed.csv")
    assert report.file_error is not None and report.file_error.key == "io.err.csv_encoding"
    assert report.file_error.row == 2503 and report.file_error.values["encoding"] == "utf-8"
    noise = bytes(range(128, 256)) * 40
    json_report = _open311(world, noise)
    assert json_report.file_error is not None and json_report.file_error.key == "io.err.not_utf8"
    assert "CSV" not in json_report.file_error.reason("en") and "Open311" in json_report.file_error.reason(
        "en"
    )


def test_counts_are_exact_beyond_the_problems_kept(world: World) -> None:
    head = ["事件编号", "标题", "类别", "上报时间", "经度", "纬度", "电话", "办理期限"]
    rows = [[f"W-{i}", "垃圾", "ENV", "2026-11-02 09:00", *INSIDE[0], "12345", "later"] for i in range(3000)]
    report = _cases(world, csv_bytes([head, *rows]))
    assert (report.new, report.warning_count, report.error_count) == (3000, 6000, 0)
    assert len(report.warnings) == MAX_PROBLEMS_KEPT and "6000" in report.summary("en")
    frame = report.problems_frame("en", every=True)
    assert len(frame) == 6000 and frame["Row"].tolist()[-1] == 3001
    assert report.problems_csv("en").decode("utf-8-sig").count("\n") == 6001


def test_skipping_every_row_commits_nothing(world: World) -> None:
    head = ["事件编号", "标题", "类别", "上报时间", "经度", "纬度"]
    rows = [[f"N-{i}", "x", "NOPE", "2026-11-02", *INSIDE[0]] for i in range(3)]
    before = counts(world.url)
    report = _cases(world, csv_bytes([head, *rows]), commit=True, skip_bad_rows=True)
    assert not report.committed and report.error_rows == 3 and report.skipped == 0
    assert counts(world.url) == before
    with world.session() as s:
        assert s.exec(select(AuditLog).where(AuditLog.action == "import")).all() == []


def test_garbage_in_optional_volunteer_and_service_columns_is_left_out(world: World) -> None:
    from dashboard.io.service_records import import_service_records
    from dashboard.io.volunteers import import_volunteers
    from models import ServiceRecord, Volunteer

    head = ["志愿者编号", "姓名", "手机", "出生年份", "所属网格", "技能", "是否有效", "注册时间"]
    rows = [["V1", "李四", "13811112222", "unknown", "TS-01-01", "急救", "maybe", "last year"]]
    with world.session() as s:
        vols = import_volunteers(
            s, world.actors["admin"], csv_bytes([head, *rows]), name="v.csv", commit=True
        )
        s.commit()
    assert vols.committed and vols.new == 1 and vols.error_rows == 0
    assert [(w.column, w.key) for w in vols.warnings] == [
        ("出生年份", "io.warn.bad_date"),
        ("注册时间", "io.warn.bad_date"),
        ("是否有效", "io.warn.yes_no"),
    ]
    head = ["记录编号", "志愿者编号", "服务技能", "开始时间", "结束时间", "时长", "已核实"]
    rows = [["S1", "V1", "急救", "11/20/2026 2:00 PM", "tbd", 2, "?"]]  # US dates, no end, hours given
    with world.session() as s:
        recs = import_service_records(
            s, world.actors["admin"], csv_bytes([head, *rows]), name="s.csv", commit=True
        )
        s.commit()
        volunteer = s.exec(select(Volunteer).where(Volunteer.external_id == "V1")).one()
        record = s.exec(select(ServiceRecord)).one()
    assert recs.committed and recs.error_rows == 0 and recs.date_formats == {"开始时间": "mdy"}
    assert volunteer.birth_year is None and volunteer.active
    assert (record.start, record.end) == (datetime(2026, 11, 20, 14), datetime(2026, 11, 20, 16))


def test_english_month_names_import_without_a_date_format(world: World) -> None:
    """A named month cannot be mistaken for a day: such a column is detected, never refused as ambiguous."""
    rows = [
        _us("311-N1", "Nov 8 2026 3:04 PM", "", "Environment", "Bin", "Open", 0),
        _us("311-N2", "8-Nov-2026", "", "Environment", "Bin", "Open", 1),
        _us("311-N3", "November 9, 2026 11:15 AM", "", "Environment", "Bin", "Open", 2),
        _us("311-N4", "Sun, 08 Nov 2026 06:05:00 GMT", "", "Environment", "Bin", "Open", 3),
    ]
    report = _cases(
        world, csv_bytes([US_HEAD, *rows]), mapping={"columns": US_MAPPING["columns"]}, commit=True
    )
    assert report.committed and (report.new, report.error_rows) == (4, 0), report.problems_frame("en")
    assert report.date_formats["Created Date"] == "ymd"
    with world.session() as s:
        got = {c.external_id: c.reported_at for c in s.exec(select(Case).where(Case.source == "imported"))}
    assert got == {
        "311-N1": datetime(2026, 11, 8, 15, 4),
        "311-N2": datetime(2026, 11, 8),
        "311-N3": datetime(2026, 11, 9, 11, 15),
        "311-N4": datetime(2026, 11, 8, 14, 5),
    }
