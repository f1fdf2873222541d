"""Date formats of import files without a database: the spellings other cities' systems write (US
month-first, 12-hour clocks, 上午/下午, Excel serials, Unix times), and each column's format decided from
the column as a whole."""

from __future__ import annotations

from datetime import datetime

import pytest

from dashboard.io.dates import DateColumn, resolve, scan
from dashboard.io.open311_reader import iter_open311
from dashboard.io.sources import FileProblem, Source
from dashboard.io.tables import preview_table
from dashboard.io.values import parse_datetime
from tests.factories import csv_bytes, xlsx_bytes


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        ("1/1/20 0:05", "mdy", datetime(2020, 1, 1, 0, 5)),
        ("02/01/2023 11:44:53 PM", "mdy", datetime(2023, 2, 1, 23, 44, 53)),
        ("02/01/2023 11:44:53 PM", "dmy", datetime(2023, 1, 2, 23, 44, 53)),
        ("12/31/2025 12:00:00 AM", "mdy", datetime(2025, 12, 31, 0, 0)),
        ("12/31/2025 12:15 PM", "mdy", datetime(2025, 12, 31, 12, 15)),
        ("31.12.2025 07:30", "dmy", datetime(2025, 12, 31, 7, 30)),
        ("2026/11/8 下午 2:05:00", "ymd", datetime(2026, 11, 8, 14, 5)),
        ("2026/11/8 上午 12:30", "ymd", datetime(2026, 11, 8, 0, 30)),
        ("2026年11月8日 下午3时20分", "ymd", datetime(2026, 11, 8, 15, 20)),
        ("2026年11月8日 中午12点", "ymd", datetime(2026, 11, 8, 12, 0)),
        ("2026年11月8日 14时", "ymd", datetime(2026, 11, 8, 14, 0)),
        ("2026-11-08T06:05:00Z", "mdy", datetime(2026, 11, 8, 14, 5)),  # year first in any format
        ("2026-11-08T01:05:00-05:00", "ymd", datetime(2026, 11, 8, 14, 5)),
        ("2026-11-08 14:05", "dmy", datetime(2026, 11, 8, 14, 5)),
        (46334.5, "excel", datetime(2026, 11, 8, 12, 0)),
        ("46334.25", "mdy", datetime(2026, 11, 8, 6, 0)),
        (1794117900, "epoch", datetime(2026, 11, 8, 14, 5)),
        ("1794117900000", "epoch", datetime(2026, 11, 8, 14, 5)),  # milliseconds
        ("11/08/2026 02:05 PM", "%m/%d/%Y %I:%M %p", datetime(2026, 11, 8, 14, 5)),
    ],
)
def test_each_format_reads_its_spellings(value: object, fmt: str, expected: datetime) -> None:
    assert parse_datetime(value, fmt) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Nov 8 2026", datetime(2026, 11, 8)),
        ("8-Nov-2026", datetime(2026, 11, 8)),
        ("08-NOV-26", datetime(2026, 11, 8)),
        ("November 8, 2026 3:04 PM", datetime(2026, 11, 8, 15, 4)),
        ("Sept. 30, 2026 11:15 AM", datetime(2026, 9, 30, 11, 15)),
        ("8 November 2026 14:05", datetime(2026, 11, 8, 14, 5)),
        ("Sunday, November 8th, 2026", datetime(2026, 11, 8)),
        ("2026-Nov-08 14:05:09", datetime(2026, 11, 8, 14, 5, 9)),
        # RFC 2822, as mail and HTTP write it
        ("Sun, 08 Nov 2026 06:05:00 GMT", datetime(2026, 11, 8, 14, 5)),
        ("Sun, 08 Nov 2026 01:05:00 -0500", datetime(2026, 11, 8, 14, 5)),
    ],
)
def test_english_month_names_are_read_in_every_format(value: str, expected: datetime) -> None:
    """The month is named, so day and month cannot be mixed up: every format reads it the same way."""
    for fmt in ("ymd", "dmy", "mdy"):
        assert parse_datetime(value, fmt) == expected, fmt


def test_a_column_of_english_month_names_is_detected_not_refused() -> None:
    column = _column("Nov 8 2026", "8-Nov-2026", "November 8, 2026 3:04 PM", "Dec 1 2026 12:00 AM")
    assert not column.ambiguous and column.format == "ymd" and column.dated == 4
    # a named month next to day/month numbers that fit both ways still leaves the column ambiguous
    assert _column("Nov 8 2026", "02/01/2023").ambiguous


def test_the_preview_detects_english_month_names_in_a_file() -> None:
    rows = [["Service Request ID", "Created Date", "Status"]]
    rows += [[f"R{i}", f"Nov {1 + i % 28} 2026 {1 + i % 12}:05 PM", "Open"] for i in range(30)]
    preview = preview_table(Source("311.csv", data=csv_bytes(rows)), "cases")
    assert preview.dates["Created Date"].format == "ymd"
    assert preview.dates["Created Date"].counts["any"] == 30


@pytest.mark.parametrize(
    ("value", "fmt"),
    [
        ("1/13/2026", "dmy"),  # month 13
        ("13/1/2026", "mdy"),
        ("1/2/2026", "ymd"),  # a day/month text needs dmy or mdy
        ("13:30 PM 1/2/2026", "mdy"),
        ("1/2/2026 13:30 PM", "mdy"),  # a 12-hour clock has no 13
        (1794117900, "ymd"),  # a Unix time is not an Excel serial
        (46334.5, "epoch"),
        ("Nob 8 2026", "ymd"),  # no month of that name
        ("Nov 31 2026", "mdy"),  # no such day
        ("November 2026", "ymd"),  # no day
    ],
)
def test_values_that_do_not_fit_the_format_are_refused(value: object, fmt: str) -> None:
    with pytest.raises(ValueError):
        parse_datetime(value, fmt)


def _column(*values: object) -> DateColumn:
    return scan(({"d": v} for v in values), ["d"])["d"]


def test_a_column_is_decided_as_a_whole_never_row_by_row() -> None:
    # one value with a day above 12 makes the whole column day-first, wherever it is
    assert _column("02/01/2023 11:44 PM", "05/03/2023 1:00 AM", "", "13/03/2023 9:00 AM").format == "dmy"
    assert _column("02/01/2023", "03/13/2023", None).format == "mdy"
    assert _column(46334.5, "46335.25").format == "excel"
    assert _column(1794117900, "1794117960").format == "epoch"
    assert _column("2026-11-08T06:05:00Z", datetime(2026, 11, 9), "2026年11月8日 14时").format == "ymd"
    # all days ≤ 12: both readings fit, and the column is refused, naming it
    both = _column("02/01/2023", "1/1/20 0:05", "12/11/2022 3:00 PM")
    assert both.ambiguous and both.format is None
    with pytest.raises(FileProblem) as e:
        resolve({"reported_at": both}, {"reported_at": "Created Date"}, {})
    assert e.value.key == "io.err.date_ambiguous" and e.value.values["column"] == "Created Date"
    # … unless the user says: by the file's column name or by the field
    assert resolve({"reported_at": both}, {"reported_at": "Created Date"}, {"Created Date": "mdy"}) == {
        "reported_at": "mdy"
    }
    assert resolve({"reported_at": both}, {}, {"reported_at": "dmy"}) == {"reported_at": "dmy"}
    with pytest.raises(FileProblem) as e:
        resolve({"reported_at": both}, {}, {"reported_at": "american"})
    assert e.value.key == "io.err.date_format_unknown"


def test_a_column_with_both_readings_takes_the_one_most_values_fit() -> None:
    mixed = _column("13/01/2023", "14/01/2023", "01/15/2023")
    assert mixed.format == "dmy" and mixed.counts["mdy"] == 1


def test_the_preview_shows_each_date_column_s_format_from_the_whole_file() -> None:
    rows = [["Service Request ID", "Created Date", "Closed Date", "Status"]]
    rows += [[f"R{i}", f"0{1 + i % 9}/0{1 + i % 7}/2026 {1 + i % 12}:05 PM", "", "Open"] for i in range(40)]
    rows.append(["R40", "11/25/2026 10:00 AM", "11/25/2026 11:30 AM", "Closed"])  # past the preview rows
    preview = preview_table(Source("311.csv", data=csv_bytes(rows)), "cases")
    assert len(preview.rows) == 20 and set(preview.dates) == {"Created Date", "Closed Date"}
    assert preview.dates["Created Date"].format == "mdy"  # decided by the last row
    assert preview.dates["Closed Date"].format == "mdy"


def test_excel_serials_and_date_cells_in_a_workbook() -> None:
    data = xlsx_bytes(
        [["编号", "上报时间", "结案时间"], ["A1", 46334.5, datetime(2026, 11, 9, 8)], ["A2", 46335, None]]
    )
    preview = preview_table(Source("t.xlsx", data=data), "cases")
    assert preview.dates["上报时间"].format == "excel" and preview.dates["结案时间"].format == "ymd"


def test_keys_a_request_has_twice_are_reported_in_json_and_xml() -> None:
    json_feed = b'[{"service_request_id": "1", "updated_datetime": "2026-11-10T08:00:00Z", "updated_datetime": "true"}]'
    xml_feed = (
        b"<service_requests><request><service_request_id>1</service_request_id>"
        b"<updated_datetime>2026-11-10T08:00:00Z</updated_datetime><updated_datetime>true</updated_datetime>"
        b"</request></service_requests>"
    )
    for name, data in (("r.json", json_feed), ("r.xml", xml_feed)):
        (row,) = iter_open311(Source(name, data=data))
        assert str(row.values["updated_at"]).lower() == "true"  # the last value, as JSON readers do
        assert row.warnings == [
            (
                "updated_datetime",
                "true",
                "io.warn.duplicate_key",
                {"n": 2, "values": "2026-11-10T08:00:00Z | true"},
            )
        ]
