"""PowerPoint and Excel builders on hand-built data: empty periods, English, fonts of charts, file names."""

from __future__ import annotations

import io
from datetime import date, datetime

import openpyxl
import pytest
from pptx import Presentation
from pptx.oxml.ns import qn
from sqlmodel import Session

from dashboard.db import get_engine
from dashboard.i18n import t, t_plain
from dashboard.kernel import formatting
from dashboard.reporting import export, kpi, reports, slide_kit
from dashboard.reporting.deck import build_deck
from dashboard.reporting.tables import Column
from dashboard.reporting.workbook import build_workbook
from models.enums import CaseStatus
from tests.factories import add_case, build_world


@pytest.fixture
def world_db(db_url: str):  # type: ignore[no-untyped-def]
    with Session(get_engine(db_url)) as s:
        world = build_world(s)
        s.commit()
        yield s, world


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_empty_period_still_makes_a_deck_and_a_workbook(world_db, lang: str) -> None:  # type: ignore[no-untyped-def]
    s, world = world_db
    rep = reports.build_report(
        s, world.actors["leader"], kpi.month_period(date(2026, 10, 1)), now=datetime(2026, 11, 2), lang=lang
    )
    assert rep.findings["trend"] == t("report.finding.trend_none", lang)
    assert rep.findings["overdue"] == t("report.finding.overdue_none", lang)
    assert rep.findings["residents"] == t_plain("report.finding.residents_none", lang, follow_rate="—")
    prs = Presentation(io.BytesIO(build_deck(rep)))
    assert len(prs.slides) == 12  # with the 研判预警 and 居民随手拍 slides, which say when there is nothing
    assert prs.slide_width == slide_kit.SLIDE_W  # 16:9
    wb = openpyxl.load_workbook(io.BytesIO(build_workbook(rep)))
    assert len(wb.sheetnames) == 11
    residents = wb[t("report.section.residents", lang)]
    assert [c.value for c in residents["B"]][1:] == [0, 0, 0, 0, None, None]  # no rate without ratings
    assert export.file_stem(rep) == "report_all_20261001_month"


def test_chart_text_has_east_asian_font(world_db) -> None:  # type: ignore[no-untyped-def]
    s, world = world_db
    add_case(s, world, 0, datetime(2026, 10, 5, 9), CaseStatus.reported)
    s.commit()
    rep = reports.build_report(
        s, world.actors["community"], kpi.month_period(date(2026, 10, 1)), now=datetime(2026, 11, 2)
    )
    assert rep.community_id == world.community_ids[0]
    prs = Presentation(io.BytesIO(build_deck(rep)))
    charts = [sh.chart for slide in prs.slides for sh in slide.shapes if sh.has_chart]
    assert charts
    for chart in charts:
        ea = chart._chartSpace.find(".//" + qn("a:defRPr") + "/" + qn("a:ea"))
        assert ea is not None and ea.get("typeface") == "Microsoft YaHei"
    # a community's deck ranks grids and departments only
    titles = [slide.shapes.title.text_frame.text for slide in prs.slides]
    assert "社区考核排名" not in titles and "网格考核排名" in titles
    assert export.file_stem(rep) == f"report_c{world.community_ids[0]}_20261001_month"


def test_set_fonts_keeps_schema_order() -> None:
    """a:latin must precede a:ea, which must precede a:cs/a:sym/hyperlinks (PowerPoint rejects other orders)."""
    from lxml import etree

    r_pr = etree.fromstring(
        '<a:rPr xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><a:solidFill/>'
        '<a:cs typeface="X"/><a:hlinkClick/></a:rPr>'
    )
    slide_kit.set_fonts(r_pr)
    assert [etree.QName(c).localname for c in r_pr] == ["solidFill", "latin", "ea", "cs", "hlinkClick"]
    slide_kit.set_fonts(r_pr)  # idempotent
    assert [etree.QName(c).localname for c in r_pr] == ["solidFill", "latin", "ea", "cs", "hlinkClick"]


def test_formats() -> None:
    assert formatting.pct(0.9123) == "91.2%"
    assert formatting.pct(None) == "—"
    assert formatting.points(-0.021, "个百分点") == "-2.1个百分点"
    assert Column("x", "rate", "points").text(-0.021, "zh") == "-2.1个百分点"
    # Excel agrees with the page: the cell holds points and shows the unit, not a percentage
    assert Column("x", "rate", "points").excel(-0.021, "zh") == pytest.approx(-2.1)
    assert Column("x", "rate", "points").number_format("zh") == '+0.0"个百分点";-0.0"个百分点";0.0"个百分点"'
    assert formatting.change(0.18) == "+18%"
    assert formatting.change(float("nan")) == "—"
    col = Column("x", "cases", "int")
    assert col.text(1234, "zh") == "1,234"
    assert col.excel(None, "zh") is None
    assert Column("t", "case_title").excel("@SUM(A1)", "zh") == "'@SUM(A1)"
