"""AppTest of the grid worker's day with the `grid` demo account: record a visit that needs a case, record the
case on a resident's behalf (代录) from it, start and resolve a case dispatched to them and record the
follow-up call (回访) — all from the phone pages — and the database holds each with the right actor, grid
and source. Also: the field supervision page shows a community only its own grid workers."""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlmodel import Session, select

from dashboard.cases import commands as cases
from dashboard.cases import intake as case_intake
from dashboard.cases.intake import NewCase
from dashboard.db import dispose_engines, get_engine
from dashboard.i18n import t
from dashboard.kernel.scope import Actor
from dashboard.ui.nav import pages_for
from models import Building, Case, CaseEvent, Category, Grid, GridVisit, User
from models.enums import CaseSource, CaseStatus, Role

S = CaseStatus
MY_GRID = "pages/my_grid.py"


def _actor(s: Session, username: str) -> Actor:
    u = s.exec(select(User).where(User.username == username)).one()
    return Actor(u.id, u.username, u.display_name, Role(u.role), u.community_id, u.grid_id, u.department_id)  # type: ignore[arg-type]


def _ok(at) -> None:  # type: ignore[no-untyped-def]
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _dispatched_case(url: str) -> tuple[int, Actor, Actor]:
    """A fresh case in the `grid` worker's grid, accepted and dispatched to them by the operator."""
    with Session(get_engine(url)) as s:
        op, gw = _actor(s, "operator"), _actor(s, "grid")
        category = s.exec(select(Category.id).where(Category.code == "ENV")).one()
        ref = case_intake.create_case(
            s,
            op,
            NewCase(
                category_id=category,
                title="2号楼门口垃圾满溢",
                source=CaseSource.hotline,
                grid_id=gw.grid_id,
                reporter_name="赵大爷",
                reporter_phone="13912345678",
            ),
        )
        ref = cases.accept(s, op, ref.id, ref.version)
        cases.dispatch(s, op, ref.id, ref.version, assignee_id=gw.id)
        s.commit()
    return ref.id, op, gw


def test_grid_worker_visit_proxy_case_resolve_and_follow_up(seeded_url: str, login: Callable) -> None:
    url = seeded_url
    with Session(get_engine(url)) as s:
        gw = _actor(s, "grid")
        building = s.exec(
            select(Building).where(Building.grid_id == gw.grid_id).order_by(Building.id)
        ).first()
        assert building is not None
        building_id, building_name = building.id, building.name
        cases_before = s.exec(select(Case.id).order_by(Case.id.desc())).first()

    # ---- a visit that found a problem
    at = login(url, "grid")
    _ok(at)
    assert at.title[0].value == t("field.my_grid")  # the grid worker's start page
    at.switch_page("pages/visit.py").run()
    _ok(at)
    # a form: the values travel with the tap on "save"
    at.selectbox(key="visit0_building").select(building_id)
    at.number_input(key="visit0_households").set_value(2)
    at.pills(key="visit0_met").set_value("老人")
    at.pills(key="visit0_groups").set_value(["elderly_alone", "disabled"])
    at.text_area(key="visit0_note").input("楼道堆满纸箱，老人出行不便")
    at.toggle(key="visit0_needs_case").set_value(True)
    at.button(key="visit0_submit").click().run()
    _ok(at)
    # on to quick intake, prefilled from the visit
    assert at.title[0].value == t("field.quick_intake")
    assert at.text_area(key="quick0_description").value == "楼道堆满纸箱，老人出行不便"
    assert at.selectbox(key="quick0_building").value == building_id
    with Session(get_engine(url)) as s:
        visit = s.exec(select(GridVisit).order_by(GridVisit.id.desc())).first()
        assert visit is not None
        assert (visit.worker_id, visit.grid_id, visit.building_id) == (gw.id, gw.grid_id, building_id)
        assert (visit.households_visited, visit.met, json.loads(visit.groups)) == (
            2,
            "老人",
            ["elderly_alone", "disabled"],
        )
        assert visit.case_id is None

    # ---- the case on the resident's behalf (代录); AppTest keeps asking for the page it was last switched to
    at.switch_page("pages/quick_intake.py")
    at.pills(key="quick0_pick").set_value(_category_id(url, "ENV")).run()
    at.text_input(key="quick0_name").input("王小明").run()
    at.text_input(key="quick0_phone").input("138 1234 5678").run()
    at.button(key="quick0_submit").click().run()
    _ok(at)
    if _has_button(at, "quick_confirm"):  # a seeded case nearby may look like a duplicate
        at.button(key="quick_confirm").click().run()
        _ok(at)
    assert any(t("field.case_saved", number="") in m.value for m in at.success), [m.value for m in at.success]
    with Session(get_engine(url)) as s:
        case = s.exec(select(Case).order_by(Case.id.desc())).first()
        assert case is not None and case.id != cases_before
        assert (case.source, case.grid_id, case.status) == (CaseSource.proxy, gw.grid_id, S.reported)
        assert (case.title, case.reporter_name, case.reporter_phone) == (
            "楼道堆满纸箱，老人出行不便",
            "王小明",
            "13812345678",
        )
        assert case.address == building_name and case.lon is not None
        report = s.exec(select(CaseEvent).where(CaseEvent.case_id == case.id)).one()
        assert (report.action, report.actor_id) == ("report", gw.id)
        assert s.get(GridVisit, visit.id).case_id == case.id  # type: ignore[union-attr]

    # ---- a case dispatched to me: start and resolve it from My grid
    case_id, op, _ = _dispatched_case(url)
    at = login(url, "grid", MY_GRID)
    _ok(at)
    at.button(key=f"todo_start_{case_id}").click().run()
    at.button(key=f"dlg_start_{case_id}_ok").click().run()
    _ok(at)
    at.button(key=f"todo_resolve_{case_id}").click().run()
    at.text_area(key=f"dlg_resolve_{case_id}_note").input("已联系物业清运完毕").run()
    at.button(key=f"dlg_resolve_{case_id}_ok").click().run()
    _ok(at)
    assert any(t("actions.resolve") in m.value for m in at.success), [m.value for m in at.success]

    # ---- the command centre verifies; the worker makes the follow-up call
    with Session(get_engine(url)) as s:
        version = s.get(Case, case_id).version  # type: ignore[union-attr]
        cases.verify(s, op, case_id, version)
        s.commit()
    at.run()
    _ok(at)
    at.button(key=f"todo_follow_up_{case_id}").click().run()
    at.radio(key=f"dlg_follow_up_{case_id}_sat").set_value("satisfied").run()
    at.text_area(key=f"dlg_follow_up_{case_id}_note").input("电话回访，居民满意").run()
    at.button(key=f"dlg_follow_up_{case_id}_ok").click().run()
    _ok(at)
    assert not [b for b in at.button if b.key == f"todo_follow_up_{case_id}"]

    with Session(get_engine(url)) as s:
        case = s.get(Case, case_id)
        assert case is not None
        assert (case.status, case.satisfaction, case.assignee_id, case.grid_id) == (
            S.verified,
            "satisfied",
            gw.id,
            gw.grid_id,
        )
        events = s.exec(
            select(CaseEvent.action, CaseEvent.actor_id, CaseEvent.note)
            .where(CaseEvent.case_id == case_id)
            .order_by(CaseEvent.id)
        ).all()
        assert [(a, who) for a, who, _ in events] == [
            ("report", op.id),
            ("accept", op.id),
            ("dispatch", op.id),
            ("start", gw.id),
            ("resolve", gw.id),
            ("verify", op.id),
            ("follow_up", gw.id),
        ]
        assert events[4][2] == "已联系物业清运完毕"
    dispose_engines()


def _category_id(url: str, code: str) -> int:
    with Session(get_engine(url)) as s:
        return s.exec(select(Category.id).where(Category.code == code)).one()


def _has_button(at, key: str) -> bool:  # type: ignore[no-untyped-def]
    return any(b.key == key for b in at.button)


def test_field_supervision_shows_a_community_only_its_workers(seeded_ro_url: str, login: Callable) -> None:
    with Session(get_engine(seeded_ro_url)) as s:
        me = _actor(s, "community")
        own = {
            code: name
            for code, name in s.exec(
                select(Grid.code, User.display_name)
                .join(User, User.id == Grid.worker_id)
                .where(Grid.community_id == me.community_id)
            ).all()
        }
        total = len(s.exec(select(Grid.id)).all())
    at = login(seeded_ro_url, "community", "pages/field.py")
    _ok(at)
    frame = at.dataframe[0].value
    codes = list(frame["code"])
    assert sorted(codes) == sorted(own) and len(codes) < total
    assert dict(zip(frame["code"], frame["worker"], strict=True)) == own
    assert "community" not in frame.columns
    # the quiet grids come first
    flags = [bool(f) for f in frame["quiet"]]
    assert flags == sorted(flags, reverse=True)

    everyone = login(seeded_ro_url, "operator", "pages/field.py")
    _ok(everyone)
    frame = everyone.dataframe[0].value
    assert len(frame) == total
    dispose_engines()


def test_field_pages_in_english(seeded_ro_url: str, login: Callable) -> None:
    at = login(seeded_ro_url, "grid", MY_GRID)
    at.segmented_control(key="lang_switch").set_value("en").run()
    english = {
        "field.my_grid": "My grid",
        "field.visit": "Record a visit",
        "field.quick_intake": "Report for a resident",
    }
    field_pages = [p for p in pages_for(Role.grid_worker) if p.group == "nav.field"]  # from the page registry
    assert {p.title_key for p in field_pages} == set(english)
    for page in field_pages:
        at.switch_page(page.path).run()
        _ok(at)
        assert at.title[0].value == english[page.title_key]
        shown = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
        assert "field." not in shown, shown
    boss = login(seeded_ro_url, "community", "pages/field.py")
    boss.session_state["lang"] = "en"
    boss.run()
    _ok(boss)
    assert boss.title[0].value == "Field supervision"
    dispose_engines()
