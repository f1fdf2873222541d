"""Ranking scores of 88–95 must not look identical: the axis starts near the data, on the page (a dot plot
with the score beside each dot) and in the PowerPoint deck (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from datetime import timedelta
from types import SimpleNamespace

import pandas as pd
from pptx import Presentation
from sqlmodel import Session

from dashboard import clock
from dashboard.db import get_engine
from dashboard.kernel.scope import Actor
from dashboard.reporting import kpi, ranking, reports
from dashboard.reporting.deck import build_deck, ranking_slide
from dashboard.ui.ranking_chart import score_dots
from models.enums import Role

LEADER = Actor(id=0, username="leader", display_name="leader", role=Role.leader)


def test_score_axis_starts_near_the_data() -> None:
    assert ranking.score_axis([88.4, 95.2, 91.0]) == (86.0, 98.0)
    assert ranking.score_axis([99.5]) == (97.0, 100.0)  # never beyond 100
    assert ranking.score_axis([1.0, 40.0]) == (0.0, 42.0)  # never below 0
    assert ranking.score_axis([]) == (0.0, 100.0)


def test_page_draws_dots_with_the_score_beside_them() -> None:
    fig = score_dots(["社区甲", "社区乙", "社区丙"], [88.4, 95.2, 91.0], "得分", "无数据")
    dots = fig.data[0]
    assert dots.mode == "markers+text"
    assert list(dots.text) == ["88.4", "95.2", "91.0"]
    assert tuple(fig.layout.xaxis.range) == (86.0, 98.0)
    assert list(dots.y) == ["社区甲", "社区乙", "社区丙"]


def test_page_keeps_a_unit_without_a_score_with_no_data_beside_its_name() -> None:
    fig = score_dots(["社区甲", "社区乙", "社区丙"], [91.0, float("nan"), 88.0], "得分", "无数据")
    assert list(fig.data[0].y) == ["社区甲", "社区丙"]
    assert list(fig.data[1].y) == ["社区乙"] and list(fig.data[1].text) == ["无数据"]
    assert list(fig.layout.yaxis.categoryarray) == ["社区甲", "社区乙", "社区丙"]  # the order of the table
    assert tuple(fig.layout.xaxis.range) == (86.0, 93.0)  # the axis is the scores', not 0–100


def test_deck_names_a_unit_without_a_score() -> None:
    units = pd.DataFrame({"key": [1, 2, 3], "name": ["社区甲", "社区乙", "社区丙"]})
    rates = {"on_time_rate": [0.95, 0.9], "satisfaction_rate": [0.9, 0.85]}
    rates |= {"rework_rate": [0.05, 0.1], "response_rate": [1.0, 0.95]}
    figures = pd.DataFrame(
        {"key": [1, 2], "reported": [40, 30], "due": [40, 30], "overdue_now": [0, 1], **rates}
    )
    ranked = ranking.rank(figures, units)  # 社区丙 reported nothing: no score
    report = SimpleNamespace(lang="zh", rankings={"community": ranked}, findings={"ranking_community": "—"})
    prs = Presentation()
    ranking_slide(prs, report, "community")  # type: ignore[arg-type]
    chart = next(sh.chart for sh in prs.slides[0].shapes if sh.has_chart)
    assert list(chart.plots[0].categories) == ["社区丙（无数据）", "社区乙", "社区甲"]


def test_deck_ranking_axis_starts_near_the_scores(seeded_ro_url: str) -> None:
    now = clock.now()
    period = kpi.Period(now - timedelta(days=90), now, "custom")
    with Session(get_engine(seeded_ro_url)) as s:
        rep = reports.build_report(s, LEADER, period, now=now)
    scores = rep.rankings["community"]["score"].dropna()
    assert len(scores) >= 3
    prs = Presentation(io.BytesIO(build_deck(rep)))
    charts = [
        sh.chart
        for slide in prs.slides
        if slide.shapes.title is not None and slide.shapes.title.text_frame.text == "社区考核排名"
        for sh in slide.shapes
        if sh.has_chart
    ]
    assert len(charts) == 1
    axis = charts[0].value_axis
    assert axis.minimum_scale == ranking.score_axis(scores.head(12))[0] > 0
