"""Defaults that put today's work first (issue 19), through the pages: the operator's queue opens on the new
reports, the overdue cases have their own view."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pandas as pd
import pytest
from sqlmodel import select

from dashboard.i18n import t, t_plain
from dashboard.kernel.text import escape_markdown
from models import Building, Case, CaseEscalation
from models.enums import CaseStatus
from tests.factories import CASE_LOOP, CASE_LOOP_NOW, World, put_case

pytestmark = pytest.mark.world(CASE_LOOP, frozen_at=CASE_LOOP_NOW)

S = CaseStatus


def _table(at, column: str) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    for frame in at.dataframe:
        if column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no table with column {column}")


def _numbers(at) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.removeprefix("case?case=") for n in _table(at, t("queue.col_title"))[t("queue.col_number")]]


def _backlog(w: World) -> None:
    with w.session() as s:
        put_case(s, w, S.accepted, number="XL20260101-0001", reported_at=CASE_LOOP_NOW - timedelta(days=60))
        put_case(s, w, S.in_progress, number="XL20260306-0001", reported_at=CASE_LOOP_NOW - timedelta(days=2))
        put_case(s, w, S.reported, number="XL20260309-0001", reported_at=CASE_LOOP_NOW - timedelta(hours=3))
        put_case(s, w, S.reported, number="XL20260309-0002", reported_at=CASE_LOOP_NOW - timedelta(hours=1))


def test_operator_queue_opens_on_new_reports(world: World, login: Callable) -> None:
    _backlog(world)
    at = login(world.url, "operator", "pages/queue.py")
    assert not at.exception, [e.value for e in at.exception]
    assert at.segmented_control(key="qf_view").value == "todo"
    assert _numbers(at) == ["XL20260309-0002", "XL20260309-0001", "XL20260306-0001"]
    at.segmented_control(key="qf_view").set_value("overdue").run()
    assert _numbers(at) == ["XL20260101-0001"]
    assert at.query_params["view"] in ("overdue", ["overdue"])
    # an overdue case searched for in 待办 is not there, and the page says where it is
    at.segmented_control(key="qf_view").set_value("todo").run()
    at.text_input(key="qf_q").input("XL20260101-0001").run()
    assert [i.value for i in at.info] == [t("queue.empty_filtered"), t("queue.found_elsewhere", count=1)]


def test_dispatch_dialog_preselects_the_category_default_department(world: World, login: Callable) -> None:
    w = world
    with w.session() as s:
        c = put_case(s, w, S.accepted, number="XL20260309-0005")
    at = login(w.url, "operator", "pages/case_detail.py")
    at.query_params["case"] = c.number
    at.run()
    at.button(key="act_dispatch").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key=f"dlg_dispatch_{c.id}_dept").value == w.department["CG"]


def test_case_page_without_a_number_offers_recent_and_urgent_cases(world: World, login: Callable) -> None:
    _backlog(world)
    at = login(world.url, "operator", "pages/case_detail.py")
    assert not at.exception, [e.value for e in at.exception]
    keys = [b.key for b in at.button if b.key and b.key.startswith("case_pick_")]
    with world.session() as s:
        ids = {n: c.id for n, c in ((c.number, c) for c in s.exec(select(Case)).all())}
    assert f"case_pick_urgent_{ids['XL20260309-0002']}" == keys[len(keys) - 3]  # the newest report first
    assert {f"case_pick_recent_{i}" for i in ids.values()} >= set(keys[: len(keys) - 3])
    at.button(key=f"case_pick_urgent_{ids['XL20260309-0002']}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.query_params["case"] in ("XL20260309-0002", ["XL20260309-0002"])
    assert at.text_input(key="case_no").value == "XL20260309-0002"
    assert any("XL20260309-0002" in h.value for h in at.subheader)


def test_matching_refuses_a_closed_case_and_offers_open_ones(world: World, login: Callable) -> None:
    w = world
    with w.session() as s:
        closed = put_case(
            s, w, S.closed, number="XL20260305-0001", reported_at=CASE_LOOP_NOW - timedelta(days=4)
        )
        live = put_case(s, w, S.accepted, number="XL20260309-0006")
    at = login(w.url, "operator", "pages/matching.py")
    assert not at.exception, [e.value for e in at.exception]
    keys = {b.key for b in at.button if b.key and b.key.startswith("volmatch_pick_")}
    assert f"volmatch_pick_recent_{live.id}" in keys
    assert not [k for k in keys if k.endswith(f"_{closed.id}")]  # the recent list is open cases only
    at.text_input(key="volmatch_case").input(closed.number).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [w.value for w in at.warning] == [
        t("vol.case_not_assignable", number=closed.number, status=t_plain("enum.status.closed"))
    ]
    assert not at.dataframe and not [b for b in at.button if b.key == "volmatch_assign"]


def test_department_page_newest_first_searchable_overdue_apart(world: World, login: Callable) -> None:
    w = world
    with w.session() as s:
        old = put_case(
            s, w, S.in_progress, number="XL20250715-0001", reported_at=CASE_LOOP_NOW - timedelta(days=240)
        )
        new = put_case(s, w, S.in_progress, number="XL20260309-0001", title="井盖缺失")
        for c, days in ((old, 240), (new, 0)):
            c.department_id = w.department["CG"]
            c.dispatched_at = CASE_LOOP_NOW - timedelta(days=days, minutes=30)
            s.add(c)
            s.add(
                CaseEscalation(
                    case_id=c.id,
                    department_id=w.department["CG"],
                    level="daily",
                    escalated_at=CASE_LOOP_NOW - timedelta(days=days, minutes=20),
                    due_at=CASE_LOOP_NOW - timedelta(days=days - 1),
                )
            )
        s.commit()
    at = login(w.url, "department", "pages/department_queue.py")
    assert not at.exception, [e.value for e in at.exception]
    level, dispatched = t("dept.col_level"), t("case.dispatched_at")
    assert list(_table(at, level)[t("queue.col_number")]) == [new.number, old.number]
    assert list(_table(at, dispatched)[t("queue.col_number")]) == [new.number, old.number]
    at.segmented_control(key="dq_view").set_value("overdue").run()
    assert list(_table(at, level)[t("queue.col_number")]) == [old.number]
    assert list(_table(at, dispatched)[t("queue.col_number")]) == [old.number]
    at.segmented_control(key="dq_view").set_value("new").run()
    at.text_input(key="dq_q").input("井盖").run()
    assert not at.exception, [e.value for e in at.exception]
    assert list(_table(at, level)[t("queue.col_number")]) == [new.number]
    assert list(_table(at, dispatched)[t("queue.col_number")]) == [new.number]


def test_desk_intake_places_the_case_by_building(world: World, login: Callable) -> None:
    w = world
    with w.session() as s:
        b = Building(grid_id=w.grid_ids[2], name="和平小区3号楼", households=40, lon=118.3052, lat=33.9641)
        s.add(b)
        s.commit()
        bid = b.id
    at = login(w.url, "operator", "pages/intake.py")
    k = "intake0_"
    picker = at.selectbox(key=k + "building")
    assert picker.options[1:] == ["和平小区3号楼 · XL-02-01 和平社区"]
    picker.select(bid)
    at.selectbox(key=k + "category").select(w.category["ENV"])
    at.selectbox(key=k + "source").select("hotline")
    at.text_input(key=k + "title").input("楼道堆放杂物")
    at.text_input(key=k + "address").input("2单元301")
    at.button(key=k + "submit").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.success, [m.value for m in at.markdown]
    with w.session() as s:
        new = s.exec(select(Case).where(Case.title == "楼道堆放杂物")).one()
        assert (new.grid_id, new.lon, new.lat) == (w.grid_ids[2], 118.3052, 33.9641)
        assert new.address == "和平小区3号楼2单元301" and new.community_id == w.community_ids[1]


def test_picker_shows_titles_literally(world: World, login: Callable) -> None:
    w = world
    with w.session() as s:
        c = put_case(s, w, S.reported, number="XL20260309-0009", title="**粗体** [链接](http://x.test)")
    at = login(w.url, "operator", "pages/case_detail.py")
    button = at.button(key=f"case_pick_urgent_{c.id}")
    assert escape_markdown(c.title) in button.label and "**粗体**" not in button.label.replace("\\*", "")
