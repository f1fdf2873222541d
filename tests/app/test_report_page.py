"""The meeting report page for each scope and period kind, and its PowerPoint and Excel exports built from
the seeded test database."""

from __future__ import annotations

import io
import json

import openpyxl
import pytest
from pptx import Presentation
from pptx.oxml.ns import qn
from sqlalchemy import select, update
from sqlmodel import Session

from dashboard import clock
from dashboard.admin import auth
from dashboard.db import get_engine
from dashboard.kernel.scope import Actor
from dashboard.kernel.text import escape_markdown
from dashboard.reporting import export, kpi, reports
from dashboard.reporting.deck import build_deck
from dashboard.reporting.workbook import build_workbook
from models import AuditLog, Case, Community, User
from models.enums import ACTIVE_STATUSES, Role

LEADER = Actor(id=0, username="leader", display_name="leader", role=Role.leader)
SECTIONS = [
    "headline",
    "trend",
    "categories",
    "ranking_community",
    "ranking_grid",
    "ranking_department",
    "overdue",
    "volunteers",
    "residents",
    "outlook",
]


def _findings(at) -> list[str]:  # type: ignore[no-untyped-def]
    return [i.value for i in at.info]


def _resident_slide_cells(report: reports.Report) -> dict[str, str]:
    """The 居民随手拍 slide's table: item → this period's value, as the deck shows it."""
    prs = Presentation(io.BytesIO(build_deck(report)))
    (slide,) = [s for s in prs.slides if s.shapes.title.text_frame.text == "居民随手拍"]
    (table,) = [sh.table for sh in slide.shapes if sh.has_table]
    return {table.cell(i, 0).text: table.cell(i, 1).text for i in range(1, len(table.rows))}


def test_report_subdistrict(seeded_ro_url: str, login, seeded_report: reports.Report) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_ro_url, "leader", page="pages/report.py")
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error
    assert len(_findings(at)) == len(SECTIONS)  # one written finding per chart / section
    assert [m.label for m in at.metric][:6] == [
        "上报数",
        "结案数",
        "响应率",
        "按期结案率",
        "满意率",
        "返工率",
    ]
    assert len(at.tabs) == 3  # community, grid and department rankings
    assert {b.proto.label for b in at.download_button} == {"下载 PowerPoint", "下载 Excel 数据"}
    assert at.selectbox(key="report_scope").value is None  # the whole sub-district
    # The deck's 居民随手拍 figures are the page's (the default period is the last month, seeded_report's).
    tiles = {m.label: m.value for m in at.metric}
    cells = _resident_slide_cells(seeded_report)
    shown = ["居民反映", "附议", "居民自评满意率", "回访满意率"]
    assert [tiles[name] for name in shown] == [cells[name] for name in shown]
    assert int(tiles["居民反映"].replace(",", "")) == seeded_report.residents[0].reported > 0
    assert escape_markdown(seeded_report.findings["residents"]) in _findings(at)


def test_report_one_community_and_each_period_kind(seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    with Session(get_engine(seeded_ro_url)) as s:
        cid, name = s.exec(select(Community.id, Community.name).order_by(Community.code)).first()  # type: ignore[call-overload]
    at = login(seeded_ro_url, "leader", page="pages/report.py")
    at.selectbox(key="report_scope").select(cid).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(name in m.value for m in at.markdown)
    assert len(at.tabs) == 2  # grids and departments of that community
    for kind in ("week", "quarter", "custom", "month"):
        at.segmented_control(key="report_kind").set_value(kind).run()
        assert not at.exception, (kind, [e.value for e in at.exception])
        assert len(_findings(at)) == len(SECTIONS) - 1


def test_report_community_user_is_limited_to_own_community(seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_ro_url, "community", page="pages/report.py")
    assert not at.exception, [e.value for e in at.exception]
    with Session(get_engine(seeded_ro_url)) as s:
        own = s.exec(select(User.community_id).where(User.username == "community")).scalar_one()  # type: ignore[call-overload]
    scope = at.selectbox(key="report_scope_own")
    assert scope.disabled and scope.value == own
    assert len(at.tabs) == 2


@pytest.fixture(scope="module")
def seeded_report(seeded_ro_url: str) -> reports.Report:
    now = clock.now()
    with Session(get_engine(seeded_ro_url)) as s:
        return reports.build_report(s, LEADER, kpi.month_period(now.date()).previous(), now=now, lang="zh")


def test_deck_from_seeded_database(seeded_report: reports.Report) -> None:
    prs = Presentation(io.BytesIO(build_deck(seeded_report)))
    titles = [slide.shapes.title.text_frame.text for slide in prs.slides]
    assert titles == [
        seeded_report.title,
        "核心指标",
        "趋势",
        "案件分类",
        "社区考核排名",
        "网格考核排名",
        "部门考核排名",
        "超期最久的十件案件",
        "志愿服务与覆盖缺口",
        "居民随手拍",
        "研判预警",
        "计算口径",
    ]
    charts = {i: [sh.chart for sh in slide.shapes if sh.has_chart] for i, slide in enumerate(prs.slides)}
    for i in (
        1,
        2,
        3,
        4,
        6,
        8,
        9,
    ):  # headline, trend, categories, community/department ranking, volunteers, residents
        assert charts[i], f"slide {i} has a native chart"
    assert charts[2][0].plots[0].categories[0]  # the trend chart carries its data, editable in PowerPoint
    assert len(list(charts[2][0].plots[0].series)) == 2
    tables = [sh for slide in prs.slides for sh in slide.shapes if sh.has_table]
    assert len(tables) >= 7
    # every run names an East Asian font (Microsoft YaHei) and a Latin one
    runs = [
        r
        for slide in prs.slides
        for sh in slide.shapes
        if sh.has_text_frame
        for p in sh.text_frame.paragraphs
        for r in p.runs
    ]
    assert runs
    for run in runs:
        r_pr = run._r.find(qn("a:rPr"))
        assert r_pr.find(qn("a:ea")).get("typeface") == "Microsoft YaHei"
        assert r_pr.find(qn("a:latin")).get("typeface") == "Arial"
    # the written findings are on the slides
    text = "\n".join(sh.text_frame.text for slide in prs.slides for sh in slide.shapes if sh.has_text_frame)
    for key in SECTIONS:
        assert seeded_report.findings[key] in text


def test_workbook_from_seeded_database(seeded_report: reports.Report) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(build_workbook(seeded_report)))
    assert wb.sheetnames == [
        "工作报告",
        "核心指标",
        "趋势",
        "案件分类",
        "社区考核排名",
        "网格考核排名",
        "部门考核排名",
        "超期最久的十件案件",
        "志愿服务与覆盖缺口",
        "覆盖缺口（前十）",
        "居民随手拍",
    ]
    assert wb["网格考核排名"].max_row == len(seeded_report.rankings["grid"]) + 1
    assert wb["核心指标"]["B2"].value == seeded_report.headline.at[0, "current"]
    # 居民随手拍: the figures of the page and the deck, as numbers
    current, previous = seeded_report.residents
    sheet = {row[0].value: row for row in wb["居民随手拍"].iter_rows(min_row=2)}
    assert sheet["居民反映"][1].value == current.reported and sheet["居民反映"][2].value == previous.reported
    assert sheet["附议"][1].value == current.supporters and sheet["居民自评条数"][1].value == current.rated
    assert sheet["其中计入回访满意率"][1].value == current.counted
    assert sheet["居民自评满意率"][1].value == pytest.approx(current.self_rating_rate)
    assert sheet["居民自评满意率"][1].number_format == "0.0%"
    follow = seeded_report.headline.set_index("metric").at["satisfaction_rate", "current"]
    assert sheet["回访满意率"][1].value == pytest.approx(follow)


def test_exports_neutralise_formulas_and_are_audited(seeded_url: str) -> None:
    now = clock.now()
    with Session(get_engine(seeded_url)) as s:
        oldest = s.exec(  # type: ignore[call-overload]
            select(Case.id)
            .where(
                Case.status.in_([a.value for a in ACTIVE_STATUSES]),
                Case.due_at < now,
                Case.duplicate_of_id.is_(None),
            )
            .order_by(Case.due_at, Case.id)
            .limit(1)
        ).scalar_one()
        s.exec(update(Case).where(Case.id == oldest).values(title='=HYPERLINK("http://x","y")'))  # type: ignore[call-overload]
        s.commit()
        leader = auth.actor_of(s.exec(select(User).where(User.username == "leader")).scalar_one())  # type: ignore[call-overload]
        rep = reports.build_report(s, leader, kpi.month_period(now.date()), now=now)
        assert rep.overdue.at[0, "title"].startswith("=")
        xlsx = export.export(s, leader, rep, "xlsx")
        deck = export.export(s, leader, rep, "pptx")
        s.commit()
        rows = s.exec(select(AuditLog).where(AuditLog.action == "export")).scalars().all()  # type: ignore[call-overload]
    assert [(r.actor_name, r.target, json.loads(r.detail)["format"]) for r in rows] == [
        ("leader", "report", "xlsx"),
        ("leader", "report", "pptx"),
    ]
    assert json.loads(rows[0].detail)["filters"]["kind"] == "month"
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx))["超期最久的十件案件"]
    assert sheet["B2"].value == '\'=HYPERLINK("http://x","y")'
    assert sheet["B2"].data_type == "s"
    assert Presentation(io.BytesIO(deck)).slides
