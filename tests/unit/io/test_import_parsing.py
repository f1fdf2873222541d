"""Reading import files without a database: dates, header synonyms, CSV/xlsx/JSON/XML readers and their
behaviour on broken files."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from dashboard.io.headers import SYNONYMS, missing_fields, suggest_mapping, template_headers
from dashboard.io.open311_reader import iter_open311, normalise_open311
from dashboard.io.sources import FileProblem, Source
from dashboard.io.tables import TableReader, preview_table
from dashboard.io.values import parse_datetime
from tests.factories import csv_bytes, xlsx_bytes


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-23 08:30", datetime(2026, 11, 23, 8, 30)),
        ("2026/11/23", datetime(2026, 11, 23)),
        ("2026/1/3 8:05:09", datetime(2026, 1, 3, 8, 5, 9)),
        ("2026年11月23日", datetime(2026, 11, 23)),
        ("2026年11月23日 8时30分", datetime(2026, 11, 23, 8, 30)),
        ("２０２６－１１－２３", datetime(2026, 11, 23)),  # full-width digits from a Chinese input method
        ("2026.11.23", datetime(2026, 11, 23)),
        ("20261123", datetime(2026, 11, 23)),
        ("2026-11-23T08:30:00+08:00", datetime(2026, 11, 23, 8, 30)),
        ("2026-11-23T00:30:00Z", datetime(2026, 11, 23, 8, 30)),  # UTC → Beijing
        ("2026-11-23T08:30:00-05:00", datetime(2026, 11, 23, 21, 30)),
        (46349.5, datetime(2026, 11, 23, 12, 0)),  # Excel serial date
        ("46349.35416667", datetime(2026, 11, 23, 8, 30)),
        (datetime(2026, 11, 23, 8, 30), datetime(2026, 11, 23, 8, 30)),
        ("null", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_datetime_accepts_common_spellings(value: object, expected: datetime | None) -> None:
    assert parse_datetime(value) == expected


@pytest.mark.parametrize(
    "value", ["2026-13-01", "2026-02-30", "yesterday", "11/23/2026", "1899-01-01", 12, "2026-11"]
)
def test_parse_datetime_refuses_nonsense(value: object) -> None:
    with pytest.raises(ValueError):
        parse_datetime(value)


def test_suggest_mapping_chinese_and_english_headers() -> None:
    zh = [
        "事件编号",
        "标题",
        "分类",
        "上报时间",
        "所属网格",
        "经度",
        "纬度",
        "地址",
        "来源",
        "状态",
        "报告人",
        "联系电话",
        "备注",
    ]
    m = suggest_mapping("cases", zh)
    assert m == {
        "事件编号": "number",
        "标题": "title",
        "分类": "category",
        "上报时间": "reported_at",
        "所属网格": "grid",
        "经度": "lon",
        "纬度": "lat",
        "地址": "address",
        "来源": "source",
        "状态": "status",
        "报告人": "reporter_name",
        "联系电话": "reporter_phone",
    }
    en = ["Case No", "TITLE", "Category_Code", "Reported-At", "Longitude", "LAT", "*Address (required)"]
    assert suggest_mapping("cases", en) == {
        "Case No": "number",
        "TITLE": "title",
        "Category_Code": "category",
        "Reported-At": "reported_at",
        "Longitude": "lon",
        "LAT": "lat",
        "*Address (required)": "address",
    }


def test_suggest_mapping_takes_each_field_once_best_spelling_first() -> None:
    m = suggest_mapping("cases", ["类别名称", "类别", "编号", "事件编号"])
    assert m == {"类别": "category", "事件编号": "number"}
    assert missing_fields("cases", m) == ["title", "reported_at", "grid"]
    assert missing_fields("cases", {"a": "lon"}) == ["number", "title", "category", "reported_at", "lat"]


def test_csv_in_gbk_with_title_row_and_short_last_row() -> None:
    data = csv_bytes(
        [
            ["项里街道 2026 年 11 月事件台账"],
            ["事件编号", "标题", "类别"],
            ["A1", "路灯不亮", "INF"],
            ["A2", "垃圾"],
        ],
        encoding="gb18030",
    )
    source = Source("t.csv", data=data)
    with TableReader(source, "cases") as reader:
        assert reader.headers == ["事件编号", "标题", "类别"] and reader.header_row == 2
        rows = list(reader.rows())
    assert [(r.row, r.values["标题"], r.problem) for r in rows] == [
        (3, "路灯不亮", None),
        (4, "垃圾", "io.err.too_few_cells"),
    ]


def test_csv_cut_inside_a_quoted_field_is_a_file_problem() -> None:
    data = csv_bytes([["事件编号", "标题"], ["A1", "ok"]]) + b'A2,"unterminated'
    with pytest.raises(FileProblem) as e, TableReader(Source("t.csv", data=data), "cases") as reader:
        list(reader.rows())
    assert e.value.key == "io.err.csv_broken"


def test_xlsx_header_below_a_title_and_typed_cells() -> None:
    data = xlsx_bytes(
        [["编号", "标题", "上报时间", "电话"], ["A1", "井盖", datetime(2026, 11, 2, 9, 0), 13812345678]],
        title_row="2026 年台账",
    )
    preview = preview_table(Source("t.xlsx", data=data), "cases")
    assert preview.header_row == 2
    assert preview.rows == [
        {"编号": "A1", "标题": "井盖", "上报时间": "2026-11-02 09:00:00", "电话": "13812345678"}
    ]
    assert preview.suggested["上报时间"] == "reported_at"


def test_truncated_xlsx_is_a_file_problem() -> None:
    data = xlsx_bytes([["编号", "标题"]] + [[f"A{i}", "x" * 50] for i in range(2000)])
    with (
        pytest.raises(FileProblem) as e,
        TableReader(Source("t.xlsx", data=data[: len(data) // 2]), "cases") as r,
    ):
        list(r.rows())
    assert e.value.key == "io.err.xlsx_broken"


def test_open311_keys_normalised_best_spelling_wins() -> None:
    item = {
        "Service-Request-ID": "R1",
        "id": "other",
        "LONG": "118.1",
        "Lat": 33.9,
        "Service_Code": "ENV",
        "requested_datetime": "2026-11-01T08:00:00Z",
        "extra_field": 1,
    }
    assert normalise_open311(item) == {
        "number": "R1",
        "lon": "118.1",
        "lat": 33.9,
        "service_code": "ENV",
        "reported_at": "2026-11-01T08:00:00Z",
    }
    assert normalise_open311({"id": 7, "lng": 1})["number"] == 7


def test_json_array_streams_and_wrapped_objects_are_unwrapped() -> None:
    items = [{"service_request_id": str(i)} for i in range(3)]
    rows = list(iter_open311(Source("r.json", data=json.dumps(items).encode())))
    assert [r.values["number"] for r in rows] == ["0", "1", "2"] and [r.row for r in rows] == [1, 2, 3]
    wrapped = json.dumps({"service_requests": items}).encode()
    assert len(list(iter_open311(Source("r.json", data=wrapped)))) == 3
    assert list(iter_open311(Source("r.json", data=b"[1]")))[0].problem == "io.err.not_an_object"


@pytest.mark.parametrize("cut", [1, 40, -2, -1])
def test_truncated_json_is_a_file_problem(cut: int) -> None:
    data = json.dumps([{"service_request_id": "A", "description": "x"}, {"service_request_id": "B"}]).encode()
    with pytest.raises(FileProblem) as e:
        list(iter_open311(Source("r.json", data=data[:cut])))
    assert e.value.key == "io.err.json_truncated"


def test_xml_requests_are_read_and_dtds_refused() -> None:
    xml = (
        "<?xml version='1.0' encoding='utf-8'?><service_requests><request><service_request_id>R1</service_request_id>"
        "<long>118.2</long><lat>33.9</lat></request><request><service_request_id>R2</service_request_id></request>"
        "</service_requests>"
    )
    rows = list(iter_open311(Source("r.xml", data=xml.encode())))
    assert [r.values for r in rows] == [{"number": "R1", "lon": "118.2", "lat": "33.9"}, {"number": "R2"}]
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        "<service_requests><request><description>&lol2;</description></request></service_requests>"
    )
    with pytest.raises(FileProblem) as e:
        list(iter_open311(Source("r.xml", data=bomb.encode())))
    assert e.value.key == "io.err.xml_dtd"
    with pytest.raises(FileProblem) as e:
        list(iter_open311(Source("r.xml", data=xml.encode()[:-30])))
    assert e.value.key == "io.err.xml_broken"


def test_template_headers_import_back() -> None:
    for kind in ("cases", "volunteers", "service_records"):
        headers = template_headers(kind)
        assert set(suggest_mapping(kind, headers).values()) == set(SYNONYMS[kind])
