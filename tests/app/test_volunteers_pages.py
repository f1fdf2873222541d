"""Volunteer pages in AppTest: recording and verifying service moves the grid's coverage; a grid worker sees
only their grid's volunteers, masked; registering a volunteer validates the phone; assigning a volunteer to a
case writes the case timeline; need rules are read-only outside the service station."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
from sqlmodel import Session, select

from dashboard import clock
from dashboard.admin.auth import actor_of
from dashboard.db import get_engine
from dashboard.i18n import t
from dashboard.kernel.text import escape_markdown
from dashboard.volunteers import common, need
from models import AuditLog, Case, CaseEvent, Category, Grid, ServiceRecord, User, Volunteer, VolunteerSkill
from models.enums import OPEN_STATUSES


def _ok(at) -> None:  # type: ignore[no-untyped-def]
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _grid_coverage(at, code: str) -> float:  # type: ignore[no-untyped-def]
    """The coverage figure (percent) of a grid in the coverage page's per-grid table."""
    table = next(df.value for df in at.dataframe if df.value.columns[0] == t("vol.grid_code"))
    row = table[table.iloc[:, 0] == code]
    assert len(row) == 1, code
    return float(row.iloc[0, -1])


def _dormant_in_gap(url: str) -> tuple[int, str, int, str, str]:
    """A volunteer who counts as dormant in a grid and skill with a gap: (id, phone, grid id, grid code, skill)."""
    with Session(get_engine(url)) as s:
        manager = actor_of(s.exec(select(User).where(User.username == "volunteers")).one())
        cells = need.coverage_matrix(s, manager)
        now = clock.now()
        for cell in need.gap_list(cells).itertuples():
            if cell.dormant == 0:
                continue
            row = s.exec(
                select(Volunteer.id, Volunteer.phone)
                .join(VolunteerSkill, VolunteerSkill.volunteer_id == Volunteer.id)
                .where(
                    Volunteer.home_grid_id == cell.grid_id,
                    VolunteerSkill.skill == cell.skill,
                    Volunteer.active.is_(True),
                    ~common.active_condition(now),
                )
                .order_by(Volunteer.id)
            ).first()
            if row is not None:
                return row[0], row[1], int(cell.grid_id), cell.code, cell.skill
    raise AssertionError("the seed has no dormant volunteer in a gap")


def test_manager_records_and_verifies_service_and_coverage_rises(seeded_url: str, login) -> None:  # type: ignore[no-untyped-def]
    vid, phone, grid_id, code, skill = _dormant_in_gap(seeded_url)
    at = login(seeded_url, "volunteers", page="pages/coverage.py")
    _ok(at)
    before = _grid_coverage(at, code)

    at.switch_page("pages/service_hours.py").run()
    _ok(at)
    at.text_input(key="volhrs_who_text").input(phone).run()
    at.selectbox(key="volhrs_who_0").set_value(vid)
    at.selectbox(key="volhrs_grid_0").set_value(grid_id)
    at.selectbox(key="volhrs_skill_0").set_value(skill)
    at.date_input(key="volhrs_day_0").set_value(clock.now().date() - timedelta(days=1))
    at.text_input(key="volhrs_note_0").input("=入户陪伴")
    at.button(key="volhrs_record_submit").click().run()
    _ok(at)
    assert any(escape_markdown("2.00") in s.value for s in at.success), [s.value for s in at.success]
    with Session(get_engine(seeded_url)) as s:
        record = s.exec(
            select(ServiceRecord).where(ServiceRecord.volunteer_id == vid).order_by(ServiceRecord.id.desc())
        ).first()
        assert (record.grid_id, record.skill, record.hours, record.verified_by) == (grid_id, skill, 2.0, None)
        assert record.note == "=入户陪伴"

    # verify: narrow the list to the grid, then verify the page (our record is the newest there)
    with Session(get_engine(seeded_url)) as s:
        community_id = s.get(Grid, grid_id).community_id
    at.selectbox(key="volhrs_vcomm").set_value(community_id).run()
    at.selectbox(key="volhrs_vgrid").set_value(grid_id).run()
    _ok(at)
    at.button(key="volhrs_verify_page").click().run()
    _ok(at)
    with Session(get_engine(seeded_url)) as s:
        s.refresh(record := s.get(ServiceRecord, record.id))
        assert record.verified_by == s.exec(select(User.id).where(User.username == "volunteers")).one()
        assert s.exec(select(AuditLog).where(AuditLog.action == "verify_service")).first() is not None

    at.switch_page("pages/coverage.py").run()
    _ok(at)
    after = _grid_coverage(at, code)
    assert after > before, (code, skill, before, after)
    with Session(get_engine(seeded_url)) as s:
        manager = actor_of(s.exec(select(User).where(User.username == "volunteers")).one())
        figure = need.coverage_by_grid(s, manager).set_index("grid_id").loc[grid_id, "coverage"]
    assert round(figure * 100, 1) == round(after, 1)


def test_grid_worker_sees_only_their_grid_masked(seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    with Session(get_engine(seeded_ro_url)) as s:
        user = s.exec(select(User).where(User.username == "grid")).one()
        grid = s.get(Grid, user.grid_id)
        names = set(s.exec(select(Volunteer.name).where(Volunteer.home_grid_id == grid.id)).all())
        phones = set(s.exec(select(Volunteer.phone).where(Volunteer.home_grid_id == grid.id)).all())
        other = s.exec(select(Grid.code).where(Grid.id != grid.id).order_by(Grid.code)).first()
    at = login(seeded_ro_url, "grid", page="pages/volunteers.py")
    _ok(at)
    table: pd.DataFrame = at.dataframe[0].value
    assert len(table) == min(len(names), 50) and len(table) > 0
    assert table.iloc[:, 3].str.startswith(grid.code).all()  # the grid column
    shown_names, shown_phones = set(table.iloc[:, 1]), set(table.iloc[:, 2])
    assert shown_names.isdisjoint(names) and all("*" in n for n in shown_names)
    assert shown_phones.isdisjoint(phones) and all("****" in p for p in shown_phones)
    assert not [b for b in at.button if b.key == "volreg_show"]  # no "show personal data" for grid workers
    assert not [f for f in at.get("form")]  # no add/edit form either
    # a link to another grid does not widen the scope
    at.query_params["grid"] = other
    at.run()
    assert not at.exception
    assert any(escape_markdown(other) in w.value for w in at.warning)
    assert at.dataframe[0].value.iloc[:, 3].str.startswith(grid.code).all()


def test_manager_shows_pii_audited_and_registers_a_volunteer(seeded_url: str, login) -> None:  # type: ignore[no-untyped-def]
    with Session(get_engine(seeded_url)) as s:
        grid = s.exec(
            select(Grid).join(Volunteer, Volunteer.home_grid_id == Grid.id).order_by(Grid.code)
        ).first()
        taken = s.exec(select(Volunteer.phone).order_by(Volunteer.id)).first()
    at = login(seeded_url, "volunteers", page="pages/volunteers.py")
    at.query_params["grid"] = grid.code
    at.run()
    _ok(at)
    assert at.selectbox(key="volreg_grid").value == grid.id
    masked = at.dataframe[0].value
    at.button(key="volreg_show").click().run()
    _ok(at)
    shown = at.dataframe[0].value
    assert not shown.iloc[:, 2].str.contains(r"\*").any() and masked.iloc[:, 2].str.contains(r"\*").all()
    with Session(get_engine(seeded_url)) as s:
        log = s.exec(select(AuditLog).where(AuditLog.action == "view_pii")).all()
        assert len(log) == 1 and log[0].target.startswith("volunteers:")

    def fill(phone: str, nonce: int = 0) -> None:
        suffix = f"add_0_{nonce}"
        at.text_input(key=f"volreg_f_name_{suffix}").input("测试志愿者")
        at.text_input(key=f"volreg_f_phone_{suffix}").input(phone)
        at.selectbox(key=f"volreg_f_grid_{suffix}").set_value(grid.id)
        at.multiselect(key=f"volreg_f_skills_{suffix}").set_value(["急救", "助残"])
        at.button(key=f"volreg_save_{suffix}").click().run()

    fill("1234")
    assert any("手机号" in e.value for e in at.error)
    fill(taken)  # a duplicate phone asks for confirmation
    assert not at.exception and any("手机号" in w.value for w in at.warning)
    at.checkbox(key="volreg_f_dup_add_0_0").check()
    at.button(key="volreg_save_add_0_0").click().run()
    _ok(at)
    assert any("#" in s.value for s in at.success)
    with Session(get_engine(seeded_url)) as s:
        row = s.exec(select(Volunteer).where(Volunteer.name == "测试志愿者")).one()
        skills = set(s.exec(select(VolunteerSkill.skill).where(VolunteerSkill.volunteer_id == row.id)).all())
        assert (row.home_grid_id, row.phone, skills) == (grid.id, taken, {"急救", "助残"})
        assert s.exec(select(AuditLog).where(AuditLog.action == "volunteer_change")).one().detail == "create"


def test_operator_assigns_a_volunteer_to_a_case(seeded_url: str, login) -> None:  # type: ignore[no-untyped-def]
    with Session(get_engine(seeded_url)) as s:
        case = s.exec(
            select(Case)
            .join(Category, Category.id == Case.category_id)
            .where(Category.code == "ELD", Case.status.in_([st.value for st in OPEN_STATUSES]))
            .order_by(Case.id)
        ).first()
        assert case is not None
        number, version = case.number, case.version
    at = login(seeded_url, "operator", page="pages/matching.py")
    at.query_params["case"] = number
    at.run()
    _ok(at)
    candidates = at.dataframe[0].value
    assert len(candidates) > 0
    assert candidates.iloc[:, 1].str.contains(r"\*").all()  # masked names
    at.checkbox(key="volmatch_plan").check().run()
    at.button(key="volmatch_assign").click().run()
    _ok(at)
    assert any(escape_markdown(number) in s.value for s in at.success)
    with Session(get_engine(seeded_url)) as s:
        case = s.exec(select(Case).where(Case.number == number)).one()
        event = s.exec(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "assign_volunteer")
        ).one()
        payload = json.loads(event.payload)
        volunteer = s.get(Volunteer, payload["volunteer_id"])
        assert case.version == version + 1
        assert volunteer.name not in event.note and volunteer.name[0] in event.note
        planned = s.get(ServiceRecord, payload["service_record_id"])
        assert planned.case_id == case.id and planned.verified_by is None and planned.start > clock.now()
    # the volunteer just assigned is no longer proposed for the case
    at.run()
    assert payload["volunteer_id"] not in set(at.dataframe[0].value.iloc[:, 0])


def test_rules_are_editable_only_by_the_service_station(seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_ro_url, "leader", page="pages/coverage.py")
    _ok(at)
    assert not [b for b in at.button if b.key == "volcov_rules_save"]
    at = login(seeded_ro_url, "volunteers", page="pages/coverage.py")
    _ok(at)
    assert [b for b in at.button if b.key == "volcov_rules_save"]
    gaps = next(df.value for df in at.dataframe if df.value.columns[0] == t("vol.rank"))
    assert len(gaps) > 0 and (gaps.iloc[:, 6] > 0).all()  # the gap column


def test_manager_edits_need_rules_in_the_table(seeded_url: str, login) -> None:  # type: ignore[no-untyped-def]
    with Session(get_engine(seeded_url)) as s:
        rules = need.need_rules(s)  # the table's row order
    at = login(seeded_url, "volunteers", page="pages/coverage.py")
    _ok(at)
    first = rules.iloc[0]
    # an invalid edit: a rule for an unknown category; nothing is saved, the row is named
    at.session_state["volcov_rules_0"] = {
        "edited_rows": {},
        "deleted_rows": [],
        "added_rows": [{"skill": "义诊", "basis": "cases:NOPE", "per": 5, "minimum": 0, "window_days": 30}],
    }
    at.run()
    at.button(key="volcov_rules_save").click().run()
    assert not at.exception
    assert any("NOPE" in e.value and str(len(rules) + 1) in e.value for e in at.error), [
        e.value for e in at.error
    ]
    # a valid edit: change one rule, delete the last, add one
    at.session_state["volcov_rules_0"] = {
        "edited_rows": {0: {"minimum": 3}},
        "deleted_rows": [len(rules) - 1],
        "added_rows": [
            {
                "skill": "义诊",
                "basis": "elderly_60",
                "per": 100,
                "minimum": 0,
                "window_days": 90,
                "active": True,
            }
        ],
    }
    at.run()
    at.button(key="volcov_rules_save").click().run()
    _ok(at)
    assert any("1" in s.value for s in at.success)
    with Session(get_engine(seeded_url)) as s:
        after = need.need_rules(s).set_index("id")
        assert after.loc[first["id"], "minimum"] == 3
        assert rules.iloc[-1]["id"] not in after.index
        assert "义诊" in set(after["skill"]) and len(after) == len(rules)
        log = s.exec(select(AuditLog).where(AuditLog.action == "need_rules_change")).one()
        assert '"op": "add"' in log.detail and '"op": "delete"' in log.detail
