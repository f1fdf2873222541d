"""The admin pages in AppTest: an admin edits a category, a grid, its worker, the calendar and the settings;
other roles cannot open the admin pages, neither from the navigation nor by URL."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlmodel import Session, func, select
from streamlit.util import calc_hash

from dashboard.admin import settings
from dashboard.db import get_engine
from dashboard.i18n import t
from dashboard.ui.common import plain
from dashboard.ui.nav import PAGES, pages_for, spec
from models import (
    AuditLog,
    CalendarOverride,
    Case,
    CaseEvent,
    Category,
    Grid,
    GridWorkerHistory,
    Setting,
    User,
)
from models.enums import OPEN_STATUSES, Role

ADMIN_PAGES = [p.path for p in PAGES if p.roles == {Role.admin}]
"""The pages only an admin may open, from the page registry."""


def _ok(at) -> None:  # type: ignore[no-untyped-def]
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _id(url: str, model: type, **where: object) -> int:
    with Session(get_engine(url)) as s:
        stmt = select(model.id)  # type: ignore[attr-defined]
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        return s.exec(stmt).one()


def test_admin_edits_category(seeded_url: str, login) -> None:  # type: ignore[no-untyped-def]
    cat_id = _id(seeded_url, Category, code="ENV")
    at = login(seeded_url, "admin", "pages/admin_categories.py")
    _ok(at)
    assert at.title[0].value == t("admin.categories", "zh")
    at.selectbox(key="cat_pick").set_value(cat_id).run()
    _ok(at)
    at.number_input(key=f"cat_{cat_id}_limit").set_value(4.0)
    at.text_input(key=f"cat_{cat_id}_en").input("Environment and sanitation")
    at.button(key=f"cat_{cat_id}_save").click().run()
    _ok(at)
    assert at.success and "ENV" in at.success[0].value
    with Session(get_engine(seeded_url)) as s:
        cat = s.get(Category, cat_id)
        assert cat is not None and (cat.sla_limit, cat.name_en) == (4.0, "Environment and sanitation")
        row = s.exec(select(AuditLog).where(AuditLog.action == "category_update")).one()
        assert row.actor_name == "admin"
        assert json.loads(row.detail)["changes"]["sla_limit"] == [3.0, 4.0]

    # a bad value shows a clear message and saves nothing
    at.selectbox(key="cat_pick").set_value(cat_id).run()
    at.number_input(key=f"cat_{cat_id}_limit").set_value(0.0)
    at.button(key=f"cat_{cat_id}_save").click().run()
    assert at.error and "处置时限" in at.error[0].value
    with Session(get_engine(seeded_url)) as s:
        assert s.get(Category, cat_id).sla_limit == 4.0  # type: ignore[union-attr]


def test_admin_edits_grid_and_reassigns_worker(seeded_url: str, login) -> None:  # type: ignore[no-untyped-def]
    with Session(get_engine(seeded_url)) as s:
        # grid A: the grid with the most open cases in its own worker's hands; grid B: a neighbour
        busiest = s.exec(
            select(Grid.id)
            .join(Case, (Case.grid_id == Grid.id) & (Case.assignee_id == Grid.worker_id))
            .where(Case.status.in_(OPEN_STATUSES))
            .group_by(Grid.id)
            .order_by(func.count().desc(), Grid.id)
        ).first()
        grid_a = s.get(Grid, busiest)
        assert grid_a is not None
        grid_b = s.exec(
            select(Grid)
            .where(Grid.community_id == grid_a.community_id, Grid.id != grid_a.id)
            .order_by(Grid.code)
        ).first()
        assert grid_b is not None
        old_worker, new_worker = grid_a.worker_id, grid_b.worker_id
        open_ids = set(
            s.exec(
                select(Case.id).where(
                    Case.grid_id == grid_a.id, Case.assignee_id == old_worker, Case.status.in_(OPEN_STATUSES)
                )
            ).all()
        )
    assert old_worker and new_worker and open_ids

    at = login(seeded_url, "admin", "pages/admin_grids.py")
    _ok(at)
    at.selectbox(key="grid_comm").set_value(grid_a.community_id).run()
    at.selectbox(key="grid_pick").set_value(grid_a.id).run()
    _ok(at)
    at.text_input(key=f"grid_{grid_a.id}_name").input("老城东片网格")
    at.button(key=f"grid_{grid_a.id}_save").click().run()
    _ok(at)
    assert at.success

    # free grid B's worker, then give them grid A and hand over A's open cases
    at.selectbox(key="grid_pick").set_value(grid_b.id).run()
    at.selectbox(key=f"worker_{grid_b.id}_pick").set_value(0)  # (none)
    at.button(key=f"worker_{grid_b.id}_save").click().run()
    _ok(at)
    at.selectbox(key="grid_pick").set_value(grid_a.id).run()
    assert f" {len(open_ids)} " in at.checkbox(key=f"worker_{grid_a.id}_move").label
    at.selectbox(key=f"worker_{grid_a.id}_pick").set_value(new_worker)
    at.checkbox(key=f"worker_{grid_a.id}_move").check()
    at.button(key=f"worker_{grid_a.id}_save").click().run()
    _ok(at)
    assert at.success

    with Session(get_engine(seeded_url)) as s:
        grid = s.get(Grid, grid_a.id)
        assert grid is not None and (grid.name, grid.worker_id) == ("老城东片网格", new_worker)
        assert s.get(User, new_worker).grid_id == grid_a.id  # type: ignore[union-attr]
        assert s.get(User, old_worker).grid_id is None  # type: ignore[union-attr]
        moved = set(
            s.exec(select(Case.id).where(Case.id.in_(open_ids), Case.assignee_id == new_worker)).all()
        )
        assert moved == open_ids
        notes = s.exec(
            select(CaseEvent.case_id).where(
                CaseEvent.case_id.in_(open_ids),
                CaseEvent.action == "comment",
                CaseEvent.payload.contains("reassign"),
            )
        ).all()
        assert set(notes) == open_ids
        open_rows = s.exec(
            select(GridWorkerHistory.user_id).where(
                GridWorkerHistory.grid_id == grid_a.id, GridWorkerHistory.ended_at.is_(None)
            )
        ).all()
        assert open_rows == [new_worker]
    history = at.dataframe[-1].value if at.dataframe else None
    assert history is not None


def test_admin_adds_calendar_override(seeded_url: str, login) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_url, "admin", "pages/admin_calendar.py")
    _ok(at)
    at.date_input(key="cal_add_day").set_value(date(2026, 12, 1))
    at.text_input(key="cal_add_note").input("区域停电")
    at.button(key="cal_add_save").click().run()
    _ok(at)
    with Session(get_engine(seeded_url)) as s:
        row = s.get(CalendarOverride, date(2026, 12, 1))
        assert row is not None and (row.kind, row.note) == ("closure", "区域停电")
    # the same day again: a clear message, nothing added
    at.date_input(key="cal_add_day").set_value(date(2026, 12, 1))
    at.button(key="cal_add_save").click().run()
    assert at.error and at.error[0].value == t("admin.err_override_exists", "zh", day=plain("2026-12-01"))


def test_admin_changes_settings_and_creates_display_link(seeded_url: str, login) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_url, "admin", "pages/admin_settings.py")
    _ok(at)
    at.number_input(key="set_wall_refresh_seconds").set_value(120)
    at.number_input(key="set_blind_spot_days").set_value(0)  # invalid: nothing of the form may be saved
    at.button(key="set_save").click().run()
    assert at.error
    with Session(get_engine(seeded_url)) as s:
        assert s.exec(select(Setting)).all() == []
    at.number_input(key="set_blind_spot_days").set_value(14)
    at.button(key="set_save").click().run()
    _ok(at)
    settings.clear_cache()
    assert settings.cached_setting("wall_refresh_seconds", seeded_url) == 120
    assert settings.cached_setting("blind_spot_days", seeded_url) == 14

    at.text_input(key="display_name").input("指挥中心主屏")
    at.button(key="display_create").click().run()
    _ok(at)
    assert at.code and "/?display=" in at.code[0].value
    token = at.code[0].value.split("display=", 1)[1]
    from dashboard.reporting import display_links as display

    with Session(get_engine(seeded_url)) as s:
        viewer = display.resolve(s, token)
        assert viewer is not None and viewer.display_name == "指挥中心主屏"
    at.run()  # shown once: gone on the next run
    assert not at.code


@pytest.mark.parametrize("username", ["operator", "grid", "leader", "department"])
def test_non_admin_cannot_open_admin_pages(seeded_ro_url: str, login, username: str) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_ro_url, username)
    _ok(at)
    titles = {t(spec(p).title_key, "zh") for p in ADMIN_PAGES}
    role = {
        "operator": Role.operator,
        "grid": Role.grid_worker,
        "leader": Role.leader,
        "department": Role.department,
    }[username]
    assert not {p.path for p in pages_for(role)} & set(ADMIN_PAGES)
    for page in ADMIN_PAGES:
        # by navigation: the page is not registered for this user, AppTest refuses to switch to it
        with pytest.raises(ValueError, match="navigation page"):
            at.switch_page(page)
        # by URL (/categories …): Streamlit does not find the page and runs the user's default page instead
        at._page_hash = calc_hash(spec(page).url_path)
        at.run()
        assert not at.exception
        shown = {e.value for e in at.title}
        assert not shown & titles, (page, shown)
        assert not any(
            b.key
            and b.key.startswith(("cat_", "dept_", "grid_", "worker_", "pop_", "cal_", "set_", "display_"))
            for b in at.button
        )


def test_admin_pages_render_in_english(seeded_ro_url: str, login, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # English as the configured language: AppTest calls format_func outside the script run, where the
    # session's language switch is not visible
    monkeypatch.setenv("DASHBOARD_LANG", "en")
    at = login(seeded_ro_url, "admin")
    for page in ADMIN_PAGES:
        at.switch_page(page).run()
        _ok(at)
        assert at.title[0].value == t(spec(page).title_key, "en")
