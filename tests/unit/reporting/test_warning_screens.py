"""What the early-warning screens build from stored alerts (tests/alerts_data.py), on both databases: the
meeting report's 研判 section and its slide, the wall's panel, the queue's risk count, view and columns, the
cases behind an alert in the reader's scope; and, without a database, the hotspot layer's colours and words."""

from __future__ import annotations

import io
import math
from datetime import date, timedelta

import pytest
from pptx import Presentation

from dashboard.cases import queue
from dashboard.cases.queue import QueueFilters
from dashboard.reporting import alert_digest, kpi, reports
from dashboard.reporting.deck import build_deck
from dashboard.reporting.warning import store
from dashboard.reporting.warning.store import AlertView
from dashboard.territory import hotspot_map
from models.enums import AlertKind, AlertScope, AlertStatus
from tests.alerts_data import plant
from tests.conftest import SQLITE_ONLY
from tests.factories import CASE_LOOP, CASE_LOOP_NOW, World

pytestmark = pytest.mark.world(CASE_LOOP, frozen_at=CASE_LOOP_NOW)


def _slide_texts(data: bytes) -> list[str]:
    deck = Presentation(io.BytesIO(data))
    out = []
    for slide in deck.slides:
        parts = []
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
            if shape.has_table:
                parts.extend(c.text for row in shape.table.rows for c in row.cells)
        out.append("\n".join(parts))
    return out


@SQLITE_ONLY  # the whole report is built on both databases elsewhere; the section's reads run on both below
def test_report_has_the_outlook_section_and_slide(world: World) -> None:
    plant(world)
    with world.session() as s:
        rep = reports.build_report(
            s, world.actors["operator"], kpi.month_period(CASE_LOOP_NOW.date()), now=CASE_LOOP_NOW
        )
        ours = alert_digest.outlook(s, reports.report_actor(world.actors["leader"], world.community_ids[0]))
    assert rep.findings["outlook"].startswith("截至 2026-03-09 06:00，待处理预警 4 条")
    assert "异常增长 1 条" in rep.findings["outlook"] and "超期风险 1 条" in rep.findings["outlook"]
    assert list(rep.outlook.table["kind"]) == ["异常增长", "重复诉求", "热点", "超期风险"]
    assert ours.open_by_kind == {"spike": 1, "repeat": 1, "hotspot": 0, "risk": 0}  # 幸福社区 only
    (slide,) = [text for text in _slide_texts(build_deck(rep)) if "研判预警" in text.splitlines()]
    assert "网格 第1网格" in slide and "偶然出现的概率 p < 0.001" in slide and "超期概率 82%" in slide


def test_outlook_without_a_run_says_so(world: World) -> None:
    with world.session() as s:
        found = alert_digest.outlook(s, world.actors["leader"])
    assert found.table.empty and found.at is None and found.finding == "截至 —，没有待处理的预警。"


def test_wall_panel_takes_each_kind_in_turn(world: World) -> None:
    plant(world)
    with world.session() as s:
        panel = alert_digest.wall_alerts(s, world.actors["leader"], limit=3)
        theirs = alert_digest.wall_alerts(s, world.actors["community"])
    assert [kind for kind, _, _ in panel.items] == ["spike", "repeat", "hotspot"] and panel.more == 1
    assert panel.items[0][2] == "网格 第1网格 · 环境卫生 · 实际 12 件，预期 2.4 件"
    assert [kind for kind, _, _ in theirs.items] == ["spike", "repeat"] and theirs.more == 0


def test_queue_counts_and_shows_the_risk(world: World) -> None:
    planted = plant(world)
    operator = world.actors["operator"]
    with world.session() as s:
        counts = queue.status_counts(s, operator, QueueFilters(), now=CASE_LOOP_NOW)
        risky = queue.queue_page(s, operator, QueueFilters(view="high_risk"), now=CASE_LOOP_NOW)
        todo = queue.queue_page(s, operator, QueueFilters(), now=CASE_LOOP_NOW)
        none_for_them = queue.status_counts(s, world.actors["community"], QueueFilters(), now=CASE_LOOP_NOW)
    assert counts["high_risk"] == 1 and none_for_them["high_risk"] == 0  # the risky case is 和平社区's
    assert list(risky.rows["id"]) == [planted.risky_case]
    assert risky.rows["risk"].iloc[0] == pytest.approx(0.82)
    assert [name for name, _ in risky.rows["risk_factors"].iloc[0]] == ["已用时限 80%"]
    by_id = dict(zip(todo.rows["id"], todo.rows["risk"], strict=True))
    assert by_id[planted.spike_cases[0]] == pytest.approx(0.2) and math.isnan(by_id[planted.spike_cases[1]])


def test_alert_cases_stay_in_scope(world: World) -> None:
    planted = plant(world)
    ids = [*planted.spike_cases, planted.risky_case]
    with world.session() as s:
        everyone = alert_digest.alert_cases(s, world.actors["operator"], ids)
        theirs = alert_digest.alert_cases(s, world.actors["community"], ids)
    assert set(everyone["id"]) == set(ids)
    assert set(theirs["id"]) == set(planted.spike_cases)
    assert all("301" not in a for a in everyone["address"])  # masked to the building
    assert everyone["reported_at"].notna().all()  # when each came in: the episode's timeline


def _view(kind: AlertKind, score: float, ident: int) -> AlertView:
    day = date(2026, 3, 9)
    return AlertView(
        ident, day, kind, AlertScope.grid, "G", "甲", "ENV", "环境卫生", 3.0, 1.0, score,
        day - timedelta(days=1), [], [], {}, AlertStatus.open, None, None, "",
    )  # fmt: skip


def test_strongest_interleaves_kinds() -> None:
    views = [_view(AlertKind.spike, 0.001, 1), _view(AlertKind.spike, 0.01, 2), _view(AlertKind.risk, 0.9, 3)]
    views += [_view(AlertKind.risk, 0.8, 4), _view(AlertKind.risk, 0.7, 5)]
    assert [v.id for v in alert_digest.strongest(views, 4)] == [1, 3, 2, 4]


def test_hotspot_colours_follow_class_and_confidence() -> None:
    assert hotspot_map.colour("hot", 0.004) == hotspot_map.HOT["99%"]
    assert hotspot_map.colour("cold", 0.03) == hotspot_map.COLD["95%"]
    assert hotspot_map.colour("hot", 0.08) == hotspot_map.NOT_SIGNIFICANT  # beyond the last band
    assert hotspot_map.CONFIDENCE[-1][0] == store.HOTSPOT_P  # the bands end where the store's class does
    assert hotspot_map.colour("none", 0.001) == hotspot_map.NOT_SIGNIFICANT
    assert (hotspot_map.p_text(0.0004), hotspot_map.p_text(0.0312), hotspot_map.z_text(2.5)) == (
        "< 0.001",
        "0.031",
        "+2.50",
    )
