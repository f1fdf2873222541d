"""The admin import page: upload a small CSV, see the preview and the mapping, dry run, then commit."""

from __future__ import annotations

import csv
import io

from sqlmodel import Session, select

from dashboard.db import dispose_engines, get_engine
from dashboard.kernel.text import escape_markdown
from models import AuditLog, Case, Grid

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
    assert dict(zip(editor["header"], editor["field"], strict=True)) == {
        "案件编号": "number",
        "标题": "title",
        "分类": "category",
        "上报时间": "reported_at",
        "经度": "lon",
        "纬度": "lat",
        "联系电话": "reporter_phone",
    }
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
        "edited_rows": {0: {"category": "ENV"}},
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
