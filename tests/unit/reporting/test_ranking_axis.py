"""Ranking scores of 88–95 must not look identical: the axis starts near the data, on the page (a dot plot
with the score beside each dot) and in the PowerPoint deck (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from datetime import timedelta

from pptx import Presentation
from sqlmodel import Session

from dashboard import clock
from dashboard.db import get_engine
from dashboard.kernel.scope import Actor
from dashboard.reporting import kpi, ranking, reports
from dashboard.reporting.deck import build_deck
from dashboard.ui.ranking_chart import score_dots
from models.enums import Role

LEADER = Actor(id=0, username="leader", display_name="leader", role=Role.leader)


def test_score_axis_starts_near_the_data() -> None:
    assert ranking.score_axis([88.4, 95.2, 91.0]) == (86.0, 98.0)
    assert ranking.score_axis([99.5]) == (97.0, 100.0)  # never beyond 100
    assert ranking.score_axis([1.0, 40.0]) == (0.0, 42.0)  # never below 0
    assert ranking.score_axis([]) == (0.0, 100.0)


def test_page_draws_dots_with_the_score_beside_them() -> None:
    fig = score_dots(["社区甲", "社区乙", "社区丙"], [88.4, 95.2, 91.0], "得分")
    dots = fig.data[0]
    assert dots.mode == "markers+text"
    assert list(dots.text) == ["88.4", "95.2", "91.0"]
    assert tuple(fig.layout.xaxis.range) == (86.0, 98.0)
    assert list(dots.y) == ["社区甲", "社区乙", "社区丙"]


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
