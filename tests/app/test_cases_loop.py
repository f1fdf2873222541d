"""AppTest of the case loop: the operator filters the queue and dispatches, the grid worker starts and
resolves, the operator verifies, follows up and closes; the timeline shows every step with actor and time.
Also: scope by URL, intake, the department's report back, URL-bound filters and the audited PII view."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pandas as pd
import pytest
from sqlmodel import select

from dashboard import clock
from dashboard.i18n import t
from dashboard.kernel import policy
from dashboard.ui.cases import ACTION_FIELDS
from models import AuditLog, Case, CaseEscalation, CaseEvent
from models.enums import CaseStatus
from tests.factories import CASE_LOOP, World, put_case

pytestmark = pytest.mark.world(CASE_LOOP)

S = CaseStatus
DETAIL = "pages/case_detail.py"


def _open(login: Callable, w: World, user: str, number: str) -> object:
    at = login(w.url, user, DETAIL)
    at.query_params["case"] = number
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _act(at, action: str, case_id: int, fill: Callable | None = None) -> None:  # type: ignore[no-untyped-def]
    at.button(key=f"act_{action}").click().run()
    if fill:
        fill(at)
    at.button(key=f"dlg_{action}_{case_id}_ok").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert any(t(f"actions_done.{action}") in s.value for s in at.success), [s.value for s in at.success]


def _table(at, column: str) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    for frame in at.dataframe:
        if column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no table with column {column}")


def test_operator_and_grid_worker_close_the_loop(world: World, login: Callable) -> None:
    w = world
    with w.session() as s:
        c = put_case(s, w, S.accepted, grid=0, number="XL20260309-0007", title="小区门口垃圾满溢")
        put_case(s, w, S.accepted, grid=1, number="XL20260309-0008", title="路灯不亮")
    at = login(w.url, "operator", "pages/queue.py")
    assert not at.exception
    at.segmented_control(key="qf_view").set_value("open").run()  # reported in March: overdue by now
    assert len(_table(at, t("queue.col_title"))) == 2
    at.text_input(key="qf_q").input("垃圾").run()
    table = _table(at, t("queue.col_title"))
    assert list(table[t("queue.col_title")]) == ["小区门口垃圾满溢"]
    assert at.query_params["q"] in ("垃圾", ["垃圾"])

    at = _open(login, w, "operator", c.number)
    with clock.frozen(datetime(2026, 3, 9, 10, 5)):
        _act(
            at,
            "dispatch",
            c.id,
            lambda a: a.selectbox(key=f"dlg_dispatch_{c.id}_assignee").select(w.actors["grid"].id).run(),
        )

    gw = _open(login, w, "grid", c.number)
    with clock.frozen(datetime(2026, 3, 9, 10, 20)):
        _act(gw, "start", c.id)
    with clock.frozen(datetime(2026, 3, 9, 11, 0)):
        _act(
            gw,
            "resolve",
            c.id,
            lambda a: a.text_area(key=f"dlg_resolve_{c.id}_note").input("已清运完毕").run(),
        )

    at.run()
    with clock.frozen(datetime(2026, 3, 9, 14, 0)):
        _act(at, "verify", c.id)
    with clock.frozen(datetime(2026, 3, 9, 15, 0)):
        _act(
            at,
            "follow_up",
            c.id,
            lambda a: a.radio(key=f"dlg_follow_up_{c.id}_sat").set_value("satisfied").run(),
        )
    with clock.frozen(datetime(2026, 3, 9, 15, 1)):
        _act(at, "close", c.id)

    with w.session() as s:
        case = s.get(Case, c.id)
        assert case is not None and case.status == S.closed and case.satisfaction == "satisfied"
        assert case.closed_at == datetime(2026, 3, 9, 15, 1)
    timeline = _table(at, t("timeline.actor"))
    steps = list(
        zip(
            timeline[t("timeline.at")],
            timeline[t("timeline.actor")],
            timeline[t("timeline.action")],
            strict=True,
        )
    )
    assert steps[1:] == [
        ("2026-03-09 10:05", "指挥中心王芳", t("actions.dispatch")),
        ("2026-03-09 10:20", "网格员刘洋", t("actions.start")),
        ("2026-03-09 11:00", "网格员刘洋", t("actions.resolve")),
        ("2026-03-09 14:00", "指挥中心王芳", t("actions.verify")),
        ("2026-03-09 15:00", "指挥中心王芳", t("actions.follow_up")),
        ("2026-03-09 15:01", "指挥中心王芳", t("actions.close")),
    ]
    assert "已清运完毕" in list(timeline[t("timeline.note")])
    assert {b.key for b in at.button if b.key and b.key.startswith("act_")} == {"act_reopen", "act_comment"}


def test_grid_worker_cannot_see_or_act_on_another_grids_case(world: World, login: Callable) -> None:
    w = world
    with w.session() as s:
        other = put_case(s, w, S.accepted, grid=1, number="XL20260309-0009", title="别的网格的秘密问题")
    gw = _open(login, w, "grid", other.number)
    assert [x.value for x in gw.warning] == [t("case.not_found")]
    assert not [b for b in gw.button if b.key and b.key.startswith("act_")]
    shown = " ".join(m.value for m in gw.markdown) + " ".join(x.value for x in gw.text)
    assert "秘密" not in shown and "王" not in shown
    assert not any(f.value is not None and len(f.value) for f in gw.dataframe)
    queue_at = login(w.url, "grid", "pages/queue.py")
    queue_at.text_input(key="qf_q").input(other.number).run()
    assert not queue_at.exception and queue_at.info  # the empty state, not the case
    with w.session() as s:
        assert s.get(Case, other.id).version == 1  # type: ignore[union-attr]
    # the other grid's worker does see it
    mine = _open(login, w, "grid2", other.number)
    assert not mine.warning and mine.button(key="act_start")


def test_stale_dialog_says_who_changed_the_case(world: World, login: Callable) -> None:
    w = world
    with w.session() as s:
        c = put_case(s, w, S.reported, number="XL20260309-0010")
    at = _open(login, w, "operator", c.number)
    at.button(key="act_accept").click().run()
    with w.session() as s:  # someone else accepts it meanwhile
        from dashboard.cases import commands as cases

        cases.accept(s, w.actors["community"], c.id, 1)
        s.commit()
    at.button(key=f"dlg_accept_{c.id}_ok").click().run()
    assert any("社区张强" in e.value for e in at.error), [e.value for e in at.error]
    with w.session() as s:
        assert len(s.exec(select(CaseEvent).where(CaseEvent.case_id == c.id)).all()) == 2


def test_intake_validation_duplicates_and_number(world: World, login: Callable) -> None:
    w = world
    lon, lat = 118.285, 33.965  # the middle of grid XL-01-01
    with clock.frozen(datetime(2026, 3, 9, 9, 0)), w.session() as s:
        put_case(
            s,
            w,
            S.accepted,
            lonlat=(lon, lat + 0.0001),
            reported_at=datetime(2026, 3, 9, 8, 0),
            number="XL20260309-0001",
        )
    at = login(w.url, "operator", "pages/intake.py")
    k = "intake0_"
    at.selectbox(key=k + "category").select(w.category["ENV"])
    at.selectbox(key=k + "source").select("proxy")
    at.text_input(key=k + "title").input("楼道堆放杂物")
    at.selectbox(key=k + "grid").select(None)
    at.number_input(key=k + "lon").set_value(lon)
    at.number_input(key=k + "lat").set_value(lat)
    at.text_input(key=k + "name").input("王小明")
    at.text_input(key=k + "phone").input("138123")
    with clock.frozen(datetime(2026, 3, 9, 10, 0)):
        at.button(key=k + "submit").click().run()
    assert not at.exception
    problems = " ".join(m.value for m in at.markdown)
    assert t("errors.phone_format") in problems
    assert at.text_input(key=k + "title").value == "楼道堆放杂物"  # what was typed stays
    at.text_input(key=k + "phone").input("13812345678")
    with clock.frozen(datetime(2026, 3, 9, 10, 0)):
        at.button(key=k + "submit").click().run()
    assert at.warning and "XL20260309-0001" in " ".join(m.value for m in at.markdown)
    with clock.frozen(datetime(2026, 3, 9, 10, 0)):
        at.button(key="intake_confirm").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == [t("intake.saved", number="XL20260309-0002")]
    assert at.text_input(key="intake1_title").value == ""  # a fresh form
    with w.session() as s:
        new = s.exec(select(Case).where(Case.number == "XL20260309-0002")).one()
        assert new.grid_id == w.grid_ids[0] and new.source == "proxy" and new.reporter_phone == "13812345678"
        assert new.due_at == datetime(2026, 3, 12, 10, 0)


def test_department_reports_back(world: World, login: Callable) -> None:
    w = world
    with w.session() as s:
        c = put_case(s, w, S.in_progress, number="XL20260309-0011", title="占道经营")
        s.add(
            CaseEscalation(
                case_id=c.id,
                department_id=w.department["CG"],
                level="daily",
                escalated_at=datetime(2026, 3, 9, 9),
                due_at=datetime(2026, 3, 10, 9),
            )
        )
        s.commit()
    at = login(w.url, "department", "pages/department_queue.py")
    assert not at.exception
    table = _table(at, t("dept.col_level"))
    assert list(table[t("queue.col_number")]) == [c.number]
    # the department opens the case and reports back there
    at = _open(login, w, "department", c.number)
    assert at.button(key="act_report_back")
    assert not [b for b in at.button if b.key in ("act_resolve", "act_start")]
    _act(
        at,
        "report_back",
        c.id,
        lambda a: a.text_area(key=f"dlg_report_back_{c.id}_note").input("城管已到场劝离").run(),
    )
    with w.session() as s:
        esc = s.exec(select(CaseEscalation).where(CaseEscalation.case_id == c.id)).one()
        assert esc.reported_back_at is not None and esc.report == "城管已到场劝离"


def test_queue_filters_come_from_the_url(world: World, login: Callable) -> None:
    w = world
    with w.session() as s:
        put_case(s, w, S.reported, grid=0, number="XL20260309-0001")
        put_case(s, w, S.accepted, grid=1, number="XL20260309-0002")
        put_case(s, w, S.accepted, grid=2, number="XL20260309-0003", category=w.category["SAF"])
        put_case(s, w, S.closed, grid=2, number="XL20260309-0004")
    at = login(w.url, "operator")  # a shared link opened: the queue starts from the URL
    at.switch_page("pages/queue.py")
    at.query_params["view"] = "accepted"
    at.query_params["cat"] = "SAF"
    at.run()
    table = _table(at, t("queue.col_title"))
    assert len(table) == 1 and table[t("queue.col_number")].iloc[0].endswith("XL20260309-0003")
    at.session_state["qf_cat"] = []
    at.run()
    assert len(_table(at, t("queue.col_title"))) == 2
    assert "cat" not in at.query_params and at.query_params["view"] in ("accepted", ["accepted"])


def test_show_personal_data_is_audited(world: World, login: Callable) -> None:
    w = world
    with w.session() as s:
        c = put_case(s, w, S.accepted, number="XL20260309-0012")
    at = _open(login, w, "operator", c.number)
    text = " ".join(m.value for m in at.markdown)
    assert "13812345678" not in text and "138\\*\\*\\*\\*5678" in text
    at.button(key="show_pii").click().run()
    assert "13812345678" in " ".join(m.value for m in at.markdown)
    with w.session() as s:
        log = s.exec(select(AuditLog).where(AuditLog.action == "view_pii")).all()
        assert [(r.actor_name, r.target) for r in log] == [("operator", c.number)]
    gw = _open(login, w, "grid", c.number)
    assert not [b for b in gw.button if b.key == "show_pii"]


def test_every_case_action_has_a_dialog() -> None:
    assert set(ACTION_FIELDS) == set(policy.CASE_ACTIONS)
