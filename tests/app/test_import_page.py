"""The admin import page: upload a small CSV, see the preview and the mapping, dry run, then commit."""

from __future__ import annotations

import csv
import io

from sqlmodel import Session, select

from dashboard.db import dispose_engines, get_engine
from dashboard.kernel.text import escape_markdown
from models import AuditLog, Case, Category, Grid

PAGE = "pages/import_data.py"


def _csv(rows: list[list[object]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


def _points(url: str) -> list[tuple[float, float]]:
    """Centres of two grids of the seed (label points lie inside their polygons)."""
    with Session(get_engine(url)) as s:
        rows = s.exec(select(Grid.centroid_lon, Grid.centroid_lat).order_by(Grid.code).limit(2)).all()
    dispose_engines()
    return [(float(x), float(y)) for x, y in rows]


def test_upload_preview_dry_run_and_commit(seeded_url: str, login) -> None:  # type: ignore[no-untyped-def]
    (x1, y1), (x2, y2) = _points(seeded_url)
    data = _csv(
        [
            ["案件编号", "标题", "分类", "上报时间", "经度", "纬度", "联系电话"],
            ["APP-1", "楼道堆物", "ENV", "2026/11/20 09:30", x1, y1, "13812345678"],
            ["APP-2", "路灯不亮", "老旧小区与公共设施", "2026年11月21日", x2, y2, ""],
        ]
    )
    at = login(seeded_url, "admin", page=PAGE)
    assert not at.exception and at.info, "the page asks for a file"
    at.file_uploader[0].set_value(("cases.csv", data, "text/csv"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    editor = at.data_editor[0].value
    assert {h: list(f) for h, f in zip(editor["header"], editor["fields"], strict=True)} == {
        "案件编号": ["number"],
        "标题": ["title"],
        "分类": ["category"],
        "上报时间": ["reported_at"],
        "经度": ["lon"],
        "纬度": ["lat"],
        "联系电话": ["reporter_phone"],
    }
    date_choice = at.selectbox(key=f"io_date_{at.file_uploader[0].value.file_id}_上报时间")
    assert date_choice.value == "" and "年-月-日" in date_choice.format_func("")  # detected, shown
    assert at.button(key="io_commit").disabled, "no commit before a dry run"
    at.button(key="io_dry_run").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["新增"] == "2" and metrics["错误行"] == "0"
    assert at.success and not at.button(key="io_commit").disabled
    at.button(key="io_commit").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(escape_markdown("cases.csv") in s.value for s in at.success)  # a file name is text
    with Session(get_engine(seeded_url)) as s:
        got = dict(s.exec(select(Case.external_id, Case.title).where(Case.source == "imported")).all())
        audit = s.exec(select(AuditLog.target).where(AuditLog.action == "import")).all()
    assert got == {"APP-1": "楼道堆物", "APP-2": "路灯不亮"} and audit == ["cases:cases.csv"]


def test_messy_upload_shows_row_errors_and_blocks_commit(seeded_url: str, login) -> None:  # type: ignore[no-untyped-def]
    (x1, y1), _ = _points(seeded_url)
    data = _csv(
        [
            ["事件编号", "标题", "类别", "上报时间", "经度", "纬度"],
            ["M-1", "好的", "ENV", "2026-11-20 09:30", x1, y1],
            ["M-2", "坏日期", "ENV", "2026-02-30", x1, y1],
            ["M-3", "未知类别", "路面坑洼", "2026-11-20", x1, y1],
            ["M-4", "界外", "ENV", "2026-11-20", 120.0, 30.0],
        ]
    )
    at = login(seeded_url, "admin", page=PAGE)
    at.file_uploader[0].set_value(("messy.csv", data, "text/csv"))
    at.run()
    at.button(key="io_dry_run").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["新增"] == "1" and metrics["错误行"] == "3"
    assert at.warning and at.button(key="io_commit").disabled
    problems = at.dataframe[-1].value
    assert problems["行号"].tolist() == [3, 4, 5]
    assert at.get("download_button"), "the problem list can be downloaded"
    # map the unknown category, check again: one error fewer
    assert at.data_editor(key="io_category_editor").value["value"].tolist() == ["路面坑洼"]
    at.session_state["io_category_editor"] = {
        "edited_rows": {0: {"choice": "ENV"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.button(key="io_apply_categories").click()
    at.run()
    at.button(key="io_dry_run").click()
    at.run()
    assert {m.label: m.value for m in at.metric}["错误行"] == "2"
    # skipping the bad rows allows the commit of the good ones
    at.checkbox(key="io_skip").check()
    at.run()
    at.button(key="io_dry_run").click()
    at.run()
    assert not at.button(key="io_commit").disabled
    at.button(key="io_commit").click()
    at.run()
    with Session(get_engine(seeded_url)) as s:
        got = sorted(s.exec(select(Case.external_id).where(Case.source == "imported")).all())
    assert got == ["M-1", "M-3"]


def test_us_dates_unknown_statuses_and_a_catch_all_category(seeded_url: str, login) -> None:  # type: ignore[no-untyped-def]
    (x1, y1), (x2, y2) = _points(seeded_url)
    data = _csv(
        [
            ["案件编号", "标题", "分类", "Created Date", "经度", "纬度", "Status"],
            ["US-1", "Loud music", "Noise", "02/01/2026 11:44:53 PM", x1, y1, "Started"],
            ["US-2", "Overflowing bin", "ENV", "1/1/26 0:05", x2, y2, "Open"],
        ]
    )
    at = login(seeded_url, "admin", page=PAGE)
    at.file_uploader[0].set_value(("us.csv", data, "text/csv"))
    at.run()
    key = f"io_date_{at.file_uploader[0].value.file_id}_Created Date"
    assert at.selectbox(key=key).format_func("") == "无法判断：日/月/年 还是 月/日/年？"
    at.button(key="io_dry_run").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Created Date" in e.value and escape_markdown("--date-format") in e.value for e in at.error)
    at.selectbox(key=key).set_value("mdy")
    at.run()
    at.button(key="io_dry_run").click()
    at.run()
    assert {m.label: m.value for m in at.metric}["错误行"] == "1"  # US-1: Noise and Started unknown
    assert at.data_editor(key="io_status_editor").value["value"].tolist() == ["Started"]
    at.session_state["io_status_editor"] = {
        "edited_rows": {0: {"choice": "in_progress"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.button(key="io_apply_statuses").click()
    at.run()
    at.button(key="io_dry_run").click()
    at.run()
    at.selectbox(key="io_other_editor").set_value("ENV")
    at.button(key="io_apply_categories").click()
    at.run()
    at.button(key="io_dry_run").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert {m.label: m.value for m in at.metric}["错误行"] == "0" and not at.button(key="io_commit").disabled
    at.button(key="io_commit").click()
    at.run()
    with Session(get_engine(seeded_url)) as s:
        got = {
            c.external_id: (c.status, c.reported_at.isoformat(), c.category_id)
            for c in s.exec(select(Case).where(Case.source == "imported"))
        }
        env = s.exec(select(Category.id).where(Category.code == "ENV")).one()
    assert got == {
        "US-1": ("in_progress", "2026-02-01T23:44:53", env),
        "US-2": ("reported", "2026-01-01T00:05:00", env),
    }
