"""The 研判预警 screens on stored alerts (tests/alerts_data.py): the page for the operator (evidence, 督办 and a
dismissal with its reason, both audited), the leader (reads, cannot act), a community (its own alerts only),
in English, and its empty state; the queue's 风险 column and 高风险 view; the wall's panel; the map's layer."""

from __future__ import annotations

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from models import Alert, AuditLog, Case
from models.enums import AlertStatus
from tests.alerts_data import Planted, plant
from tests.conftest import SQLITE_ONLY
from tests.factories import CASE_LOOP, CASE_LOOP_NOW, World

pytestmark = [pytest.mark.world(CASE_LOOP, frozen_at=CASE_LOOP_NOW), SQLITE_ONLY]
PAGE = "pages/warning.py"


def _text(at: AppTest) -> str:
    parts = [
        *(m.value for m in at.markdown),
        *(c.value for c in at.caption),
        *(i.value for i in at.info),
        *(s.value for s in at.success),
        *(e.value for e in at.error),
        *(h.proto.body for h in at.html),
    ]
    return "\n".join(str(p) for p in parts).replace("\\", "")  # as read: without Markdown's escapes


def _alert_buttons(at: AppTest) -> list[str]:
    return [b.key for b in at.button if b.key and b.key.startswith("alert_")]


def _audit(w: World, action: str) -> list[AuditLog]:
    with w.session() as s:
        return list(s.exec(select(AuditLog).where(AuditLog.action == action)))


def test_operator_supervises_and_dismisses_with_a_reason(world: World, login) -> None:  # type: ignore[no-untyped-def]
    planted = plant(world)
    at = login(world.url, "operator", page=PAGE)
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["warning_kind"] == "spike"  # the first kind with alerts
    text = _text(at)
    assert "研判预警" in at.title[0].value
    assert "网格 第1网格" in text and "近 2 天：实际 12 件，预期 2.4 件" in text
    assert "偶然出现的概率 p < 0.001" in text and "p = <" not in text
    assert "AUC 0.81" in text  # the model's quality, discreetly
    chart = at.get("plotly_chart")
    assert len(chart) == 1 and "2026-03-09" in chart[0].proto.spec  # observed vs expected per day
    cases = at.dataframe[0].value
    assert set(cases.iloc[:, 0]) == {f"case?case={planted.numbers[c]}" for c in planted.spike_cases}

    spike = planted.alerts["spike"]
    at.button(key=f"alert_supervise_{spike}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "已督办" in _text(at)
    with world.session() as s:
        assert s.get(Alert, spike).status == AlertStatus.supervised  # type: ignore[union-attr]
        assert all(s.get(Case, c).supervised for c in planted.spike_cases)  # type: ignore[union-attr]
    assert len(_audit(world, "alert_supervise")) == 1
    assert f"alert_supervise_{spike}" not in _alert_buttons(at)  # handled: gone from the open list

    repeat = planted.alerts["repeat"]
    at.session_state["warning_kind"] = "repeat"
    at.run()
    assert "幸福路8号3号楼" in _text(at) and "90 天内 4 件（3 件即预警）" in _text(at)
    at.button(key=f"alert_dismiss_{repeat}").click().run()
    at.button(key=f"alert_dismiss_ok_{repeat}").click().run()  # no reason given
    assert "请填写忽略的原因" in _text(at)
    with world.session() as s:
        assert s.get(Alert, repeat).status == AlertStatus.open  # type: ignore[union-attr]
    at.text_area(key=f"alert_reason_{repeat}").input("物业已安排集中整治")
    at.button(key=f"alert_dismiss_ok_{repeat}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with world.session() as s:
        alert = s.get(Alert, repeat)
        assert (
            alert is not None
            and alert.status == AlertStatus.dismissed
            and alert.reason == "物业已安排集中整治"
        )
    (row,) = _audit(world, "alert_dismiss")
    assert "物业已安排集中整治" in (row.detail or "")
    at.toggle(key="warning_open").set_value(False).run()  # every alert, with what was done
    assert "已忽略" in _text(at) and "原因：物业已安排集中整治" in _text(at)


def test_leader_reads_and_community_sees_its_own(world: World, login) -> None:  # type: ignore[no-untyped-def]
    plant(world)
    at = login(world.url, "leader", page=PAGE)
    assert not at.exception and "第1网格" in _text(at)
    assert not _alert_buttons(at)  # the leader reads; supervisors act
    assert not [b for b in at.button if b.key == "warning_run"]  # and administrators run the job
    at.switch_page("pages/wall.py").run()  # the wall's panel: the strongest of each kind
    panel = next(h.proto.body for h in at.html if "wall-alerts" in h.proto.body)
    assert "【异常增长】" in panel and "第1网格" in panel and "【超期风险】" in panel
    at = login(world.url, "community", page=PAGE)  # 幸福社区: the spike and the repeat, not 和平社区's
    assert not at.exception
    for kind in ("hotspot", "risk"):
        at.session_state["warning_kind"] = kind
        at.run()
        assert "第3网格" not in _text(at) and "XL20260309-0013" not in _text(at)
        assert "该类型暂无预警" in _text(at)
    at.session_state["warning_kind"] = "repeat"
    at.run()
    assert "幸福路8号3号楼" in _text(at) and _alert_buttons(at)


def test_english_and_the_empty_state(world: World, login) -> None:  # type: ignore[no-untyped-def]
    at = login(world.url, "admin", page=PAGE)
    assert "今日无预警" in _text(at) and "预警尚未计算过" in _text(at)
    assert at.button(key="warning_run")  # administrators may run the job now
    plant(world)
    at.session_state["lang"] = "en"
    at.run()
    assert not at.exception
    assert at.title[0].value == "Early warning"
    assert "last 2 days: 12 cases observed, 2.4 expected" in _text(at) and "p = <" not in _text(at)


def test_queue_risk_column_high_risk_view_and_map_layer(world: World, login) -> None:  # type: ignore[no-untyped-def]
    planted: Planted = plant(world)
    at = login(world.url, "operator", page="pages/queue.py")
    table = at.dataframe[0].value
    assert "风险" in table.columns and "主要因素" not in table.columns  # the default view stays as it was
    risks = dict(zip(table["编号"], table["风险"], strict=True))
    assert risks[f"case?case={planted.numbers[planted.spike_cases[0]]}"] == "20%"
    at.session_state["qf_view"] = "high_risk"
    at.run()
    table = at.dataframe[0].value
    assert list(table["编号"]) == [f"case?case={planted.numbers[planted.risky_case]}"]
    assert list(table["风险"]) == ["82%"] and list(table["主要因素"]) == ["已用时限 80%"]

    at.switch_page("pages/map.py").run()
    at.session_state["map_layer"] = "hotspots"
    at.session_state["map_hot_category"] = "SAF"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("hotspot-legend" in h.proto.body for h in at.html)
    assert at.get("deck_gl_json_chart")
    found = at.dataframe[0].value
    assert list(found.iloc[:, 0]) == ["XL-02-01 第3网格", "XL-01-02 第2网格"]
    assert list(found.iloc[:, 1]) == ["热点 99%", "冷点 95%"]
