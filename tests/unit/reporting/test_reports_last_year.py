"""Issue 19: where the same period last year holds no case, 去年同期 and 同比 are absent (None), shown "无数据",
and the PowerPoint chart leaves that series out; with data a year ago they are numbers as before."""

from __future__ import annotations

import io
from datetime import date, datetime

import openpyxl
import pytest
from pptx import Presentation
from sqlmodel import Session

from dashboard.db import get_engine
from dashboard.i18n import t
from dashboard.reporting import kpi, reports, tables
from dashboard.reporting.deck import build_deck
from dashboard.reporting.workbook import build_workbook
from models.enums import CaseStatus
from tests.factories import add_case, build_world

NOW = datetime(2026, 11, 2)
OCTOBER = kpi.month_period(date(2026, 10, 1))


@pytest.fixture
def world_db(db_url: str):  # type: ignore[no-untyped-def]
    with Session(get_engine(db_url)) as s:
        world = build_world(s)
        s.commit()
        yield s, world


def _headline_chart_series(deck: bytes) -> list[str]:
    prs = Presentation(io.BytesIO(deck))
    slide = prs.slides[1]
    chart = next(sh.chart for sh in slide.shapes if sh.has_chart)
    return [s.name for s in chart.plots[0].series]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_cases_a_year_ago_is_no_data(world_db, lang: str) -> None:  # type: ignore[no-untyped-def]
    s, world = world_db
    add_case(s, world, 0, datetime(2026, 10, 5, 9), CaseStatus.closed, closed_at=datetime(2026, 10, 6, 9))
    add_case(s, world, 0, datetime(2026, 9, 5, 9), CaseStatus.reported)
    s.commit()
    rep = reports.build_report(s, world.actors["leader"], OCTOBER, now=NOW, lang=lang)
    assert not rep.has_last_year
    head = rep.headline.set_index("metric")
    assert head["last_year"].isna().all() and head["yoy"].isna().all()
    no_data = t("report.no_data_short", lang)
    table = tables.headline_table(rep).set_index("metric")
    assert (table.loc[list(reports.COUNT_METRICS), "last_year_text"] == no_data).all()
    assert (table.loc[list(reports.RATE_METRICS), "yoy_text"] == no_data).all()
    assert table.at["reported", "previous_text"] == "1"  # 环比 has data: a number
    assert no_data in rep.findings["headline"]

    names = _headline_chart_series(build_deck(rep))
    assert names == [t("report.col.current", lang), t("report.col.previous", lang)]

    wb = openpyxl.load_workbook(io.BytesIO(build_workbook(rep)))
    sheet = wb[wb.sheetnames[1]]
    assert sheet.cell(row=2, column=4).value == no_data
    assert sheet.cell(row=2, column=6).value == no_data


def test_cases_a_year_ago_are_compared(world_db) -> None:  # type: ignore[no-untyped-def]
    s, world = world_db
    add_case(s, world, 0, datetime(2026, 10, 5, 9), CaseStatus.reported)
    add_case(s, world, 0, datetime(2025, 10, 5, 9), CaseStatus.reported)
    s.commit()
    rep = reports.build_report(s, world.actors["leader"], OCTOBER, now=NOW)
    assert rep.has_last_year
    assert rep.headline.set_index("metric").at["reported", "last_year"] == 1
    assert tables.headline_table(rep).set_index("metric").at["reported", "last_year_text"] == "1"
    assert len(_headline_chart_series(build_deck(rep))) == 3
