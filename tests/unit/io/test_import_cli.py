"""``python -m dashboard import`` / ``export`` end to end (in process): exit codes, files, filters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from dashboard.cli import main
from tests.factories import IMPORTS, IMPORTS_NOW, INSIDE, World, counts, csv_bytes, write

pytestmark = pytest.mark.world(IMPORTS, frozen_at=IMPORTS_NOW)

HEAD = ["事件编号", "标题", "类别", "上报时间", "经度", "纬度", "状态", "结案时间"]
ROWS = [
    ["C-1", "垃圾", "ENV", "2026-11-02 09:00", *INSIDE[0], "待受理", ""],
    ["C-2", "井盖", "SAF", "2026-11-03 09:00", *INSIDE[3], "已结案", "2026-11-03 12:00"],
    ["C-3", '=HYPERLINK("http://x")', "ENV", "2026-11-04 09:00", *INSIDE[1], "已结案", "2026-11-05 09:00"],
]


def test_import_dry_run_commit_and_rerun(world: World, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    base = ["--database-url", world.url, "--user", "t-admin"]
    bad = write(
        tmp_path / "bad.csv", csv_bytes([HEAD, *ROWS, ["C-4", "x", "ENV", "not a date", *INSIDE[0], "", ""]])
    )
    before = counts(world.url)
    errors = tmp_path / "errors.csv"
    assert main(["import", "cases", str(bad), *base, "--errors-out", str(errors), "--lang", "en"]) == 1
    assert main(["import", "cases", str(bad), *base, "--commit"]) == 1
    assert counts(world.url) == before
    out = capsys.readouterr().out
    assert "3 new" in out and "not a date" in out and "nothing written" in out
    assert errors.read_bytes().startswith(b"\xef\xbb\xbf") and "Not a date" in errors.read_text("utf-8-sig")
    assert main(["import", "cases", str(bad), *base, "--commit", "--skip-bad-rows"]) == 0
    assert main(["import", "cases", str(bad), *base, "--lang", "en"]) == 1  # still the bad row …
    assert "0 new, 0 updated, 3 unchanged" in capsys.readouterr().out  # … and the rest unchanged
    truncated = write(tmp_path / "r.json", b'[{"service_request_id": "A", "status": "op')
    assert main(["import", "open311", str(truncated), *base, "--commit"]) == 2
    assert main(["import", "cases", str(tmp_path / "missing.csv"), *base]) == 2
    assert main(["import", "cases", str(truncated), *base]) == 2  # wrong type for the kind
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"categories": {"垃圾分类": "ENV"}}), encoding="utf-8")
    odd = write(
        tmp_path / "odd.csv", csv_bytes([HEAD, ["D-1", "x", "垃圾分类", "2026-11-02", *INSIDE[0], "", ""]])
    )
    assert main(["import", "cases", str(odd), *base, "--mapping", str(mapping), "--commit"]) == 0
    assert main(["import", "cases", str(odd), "--database-url", world.url, "--user", "t-operator"]) == 1


def test_export_formats_and_filters(world: World, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    base = ["--database-url", world.url, "--user", "t-admin"]
    assert (
        main(["import", "cases", str(write(tmp_path / "c.csv", csv_bytes([HEAD, *ROWS]))), *base, "--commit"])
        == 0
    )
    out = tmp_path / "requests.json"
    assert main(["export", "cases", "--format", "open311", "--out", str(out), *base]) == 0
    requests = json.loads(out.read_text("utf-8"))
    assert [r["status"] for r in requests] == ["open", "closed", "closed"]
    assert (
        main(
            [
                "export",
                "cases",
                "--format",
                "open311",
                "--out",
                str(out),
                *base,
                "--status",
                "closed",
                "--since",
                "2026-11-04",
                "--community",
                "TS-01",
            ]
        )
        == 0
    )
    assert [r["description"] for r in json.loads(out.read_text("utf-8"))] == ['=HYPERLINK("http://x")']
    csv_out = tmp_path / "cases.csv"
    assert (
        main(["export", "cases", "--format", "csv", "--out", str(csv_out), *base, "--service-code", "SAF"])
        == 0
    )
    text = csv_out.read_bytes()
    assert text.startswith(b"\xef\xbb\xbf") and text.decode("utf-8-sig").count("\n") == 2
    xlsx_out = tmp_path / "cases.xlsx"
    assert main(["export", "cases", "--format", "xlsx", "--out", str(xlsx_out), *base, "--lang", "en"]) == 0
    sheet = load_workbook(xlsx_out).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("Number", "Status", "Ageing", "Category") and len(rows) == 4
    titles = [r[rows[0].index("Title")] for r in rows[1:]]
    assert '\'=HYPERLINK("http://x")' in titles  # formula injection neutralised in spreadsheets
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    services = tmp_path / "services.json"
    assert main(["export", "services", "--out", str(services), *base]) == 0
    assert [s["service_code"] for s in json.loads(services.read_text("utf-8"))] == ["ENV", "SAF"]
    assert (
        main(
            [
                "export",
                "cases",
                "--out",
                str(out),
                "--database-url",
                world.url,
                "--user",
                "t-operator",
                "--unmasked",
            ]
        )
        == 1
    )
    assert main(["export", "cases", "--out", str(out), *base, "--community", "NOPE"]) == 2
    # the round trip through the CLI: the exported Excel file imports back unchanged
    capsys.readouterr()
    assert main(["import", "cases", str(xlsx_out), *base, "--lang", "en"]) == 0
    assert "0 new, 0 updated, 3 unchanged, 0 with errors" in capsys.readouterr().out


US_HEAD = ["Service Request ID", "Created Date", "requesttype", "Status", "Latitude", "Longitude"]
COLUMNS = {
    "Service Request ID": "number",
    "Created Date": "reported_at",
    "Latitude": "lat",
    "Longitude": "lon",
    "电话": "reporter_phone",
}


def test_date_formats_mappings_and_exact_reports(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    base = ["--database-url", world.url, "--user", "t-admin", "--lang", "en"]
    rows = [
        [
            f"U-{i}",
            f"{1 + i % 11}/{1 + i % 11}/26 {i % 12 + 1}:05 PM",
            "Environment",
            "Open",
            *INSIDE[0][::-1],
        ]
        for i in range(6000)
    ]
    us = write(tmp_path / "us.csv", csv_bytes([US_HEAD, *rows]))
    mapping = write(
        tmp_path / "m.json",
        {"columns": {**COLUMNS, "requesttype": ["category", "title"], "Status": "status"}},
    )
    # every value fits day first and month first: refused, naming the column and the way out
    assert main(["import", "cases", str(us), *base, "--mapping", str(mapping)]) == 2
    out = capsys.readouterr().out
    assert "Created Date" in out and "--date-format" in out and "nan" not in out.lower()
    errors = tmp_path / "errors.csv"
    args = ["--mapping", str(mapping), "--date-format", "Created Date=mdy", "--errors-out", str(errors)]
    assert main(["import", "cases", str(us), *base, *args]) == 0
    out = capsys.readouterr().out
    assert "6000 new" in out and "date formats: Created Date=mdy" in out
    # 6,000 rows with two problems each: the summary and --errors-out hold every one
    before = counts(world.url)
    bad = write(
        tmp_path / "bad.csv",
        csv_bytes([[*US_HEAD, "电话"], *[[*r[:2], "NOPE", "Open", *r[4:], "123"] for r in rows]]),
    )
    assert main(["import", "cases", str(bad), *base, *args, "--commit", "--skip-bad-rows"]) == 1
    out = capsys.readouterr().out
    assert "6000 with errors, 6000 warnings" in out and "nothing written: no row without errors" in out
    assert "… 11980 more" in out and "12000 problems written" in out
    assert errors.read_text("utf-8-sig").count("\n") == 12001
    assert counts(world.url) == before  # not even an audit row
    bad_format = ["--date-format", "Created Date"]
    assert main(["import", "cases", str(us), *base, "--mapping", str(mapping), *bad_format]) == 2


def test_problems_of_the_file_as_a_whole_have_no_row_number(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    base = ["--database-url", world.url, "--user", "t-admin", "--lang", "en"]
    noise = write(tmp_path / "r.json", bytes(range(128, 256)) * 10)
    errors = tmp_path / "e.csv"
    assert main(["import", "open311", str(noise), *base, "--errors-out", str(errors)]) == 2
    out = capsys.readouterr().out
    assert "not UTF-8 text" in out and "CSV" not in out
    missing = write(tmp_path / "m.csv", csv_bytes([["x", "y"], ["1", "2"]]))
    assert main(["import", "cases", str(missing), *base, "--errors-out", str(errors)]) == 2
    out = capsys.readouterr().out
    assert "1.0" not in out and "NaN" not in out and "<NA>" not in out and "missing: number" in out
    assert errors.read_text("utf-8-sig").splitlines()[1].startswith(",error,")
