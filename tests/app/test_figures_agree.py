"""Issue 19, figures that must agree: 在办, 待核查 and 未结案 are counted once (cases/workflow.py's status groups)
and the overview, the wall, the queue and the department page show the same numbers for the same scope,
each total with its breakdown."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from dashboard import clock
from dashboard.cases import queue
from dashboard.cases.queue import QueueFilters
from dashboard.cases.workflow import AWAITING_VERIFICATION, IN_HAND, NOT_CLOSED, OpenCounts
from dashboard.db import get_engine
from dashboard.i18n import t_plain
from dashboard.kernel.scope import Actor
from dashboard.reporting import kpi, wall
from models import Community, Department, Grid, User
from models.enums import OPEN_STATUSES, CaseStatus, Role


def _actor(s: Session, username: str) -> Actor:
    u = s.exec(select(User).where(User.username == username)).one()
    return Actor(u.id, u.username, u.display_name, Role(u.role), u.community_id, u.grid_id, u.department_id)  # type: ignore[arg-type]


def _ok(at) -> None:  # type: ignore[no-untyped-def]
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_status_groups_cover_every_open_status_once() -> None:
    assert set(NOT_CLOSED) == set(OPEN_STATUSES)
    assert set(IN_HAND) | set(AWAITING_VERIFICATION) == set(NOT_CLOSED)
    assert not set(IN_HAND) & set(AWAITING_VERIFICATION)
    assert CaseStatus.resolved in AWAITING_VERIFICATION and CaseStatus.verified in AWAITING_VERIFICATION


def test_overview_wall_and_queue_count_alike_on_the_seed(seeded_ro_url: str) -> None:
    now = clock.now()
    with Session(get_engine(seeded_ro_url)) as s:
        for username in ("operator", "community", "grid"):
            me = _actor(s, username)
            groups = kpi.open_counts(s, me)
            from_queue = OpenCounts.from_statuses(queue.status_counts(s, me, QueueFilters(), now=now))
            assert groups == from_queue, username
            assert groups.in_hand == kpi.figures(s, me, kpi.last_days(30, now), now=now).open_now, username
            assert groups.not_closed == queue.status_counts(s, me, QueueFilters(), now=now)["open"]
        op = _actor(s, "operator")
        groups = kpi.open_counts(s, op)
        assert groups.in_hand > groups.awaiting_acceptance > 0 and groups.awaiting_verification > 0
        snap = wall.snapshot(s, op, now)
        assert snap.open == groups
        assert snap.today.open_now == snap.open.in_hand


def test_pages_show_the_same_breakdown(seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    with Session(get_engine(seeded_ro_url)) as s:
        groups = kpi.open_counts(s, _actor(s, "operator"))
    text = groups.breakdown("zh")
    assert text.startswith(f"未结案 {groups.not_closed:,} = 在办 {groups.in_hand:,}")

    at = login(seeded_ro_url, "operator")
    at.switch_page("pages/overview.py").run()
    _ok(at)
    tiles = {m.label: m.value for m in at.metric}
    assert tiles[t_plain("status_group.in_hand", "zh")] == f"{groups.in_hand:,}"
    assert any(text in c.value for c in at.caption), [c.value for c in at.caption]
    trend = at.get("plotly_chart")[-1].proto.spec  # the 30-day trend: today dotted, "今日截至 HH:MM"
    assert '"dash":"dot"' in trend.replace(" ", "") and "今日截至" in trend

    at.switch_page("pages/queue.py").run()
    _ok(at)
    assert any(text in c.value for c in at.caption), [c.value for c in at.caption]

    at.switch_page("pages/wall.py").run()
    _ok(at)
    body = "\n".join(h.proto.body for h in at.html)
    short = t_plain(
        "wall.open_now",
        "zh",
        in_hand=f"{groups.in_hand:,}",
        awaiting_verification=f"{groups.awaiting_verification:,}",
    )
    assert short in body


def test_department_page_lists_in_hand_cases_and_counts_the_rest(seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    with Session(get_engine(seeded_ro_url)) as s:
        me = _actor(s, "department")
        groups = kpi.open_counts(s, me, department_id=me.department_id)
    at = login(seeded_ro_url, "department", page="pages/department_queue.py")
    _ok(at)
    shown = at.dataframe(key="dq_dispatched").value if groups.in_hand else None
    if shown is not None:
        statuses = set(shown[t_plain("queue.col_status", "zh")])
        in_hand = {t_plain(f"enum.status.{s.value}", "zh") for s in IN_HAND}
        assert statuses <= in_hand, statuses
    assert any(groups.breakdown("zh") in c.value for c in at.caption), [c.value for c in at.caption]


def test_volunteer_manager_overview_shows_its_own_figures(seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_ro_url, "volunteers")
    _ok(at)
    start = {m.label: m.value for m in at.metric}  # the start page (coverage)
    assert start and any(v not in ("0", "0.0%", "—") for v in start.values()), start
    at.switch_page("pages/overview.py").run()
    _ok(at)
    tiles = {m.label: m.value for m in at.metric}
    for key in ("vol_active", "vol_hours", "vol_coverage"):
        value = tiles[t_plain(f"overview.{key}", "zh")]
        assert value not in ("0", "0.0", "0.0%", "—"), (key, value)
    assert t_plain("status_group.in_hand", "zh") not in tiles  # no case figures for a role that reads none


def test_grid_worker_overview_names_the_grid(seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    with Session(get_engine(seeded_ro_url)) as s:
        me = _actor(s, "grid")
        grid = s.get(Grid, me.grid_id)
        community = s.get(Community, me.community_id)
        assert grid is not None and community is not None
        code, name, community_name = grid.code, grid.name, community.name
    at = login(seeded_ro_url, "grid")
    at.switch_page("pages/overview.py").run()
    _ok(at)
    captions = [c.value.replace("\\", "") for c in at.caption]  # as shown, without Markdown escapes
    assert any(f"网格 {code} {name}" in c for c in captions), captions
    table = at.dataframe[0].value
    assert list(table[t_plain("overview.grid", "zh")]) == [f"{code} {name}"]
    assert community_name not in set(table.iloc[:, 0])


def test_supervision_list_and_table_say_the_same_days(seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_ro_url, "operator", page="pages/field.py")
    _ok(at)
    table = at.dataframe[0].value.set_index("code")
    listed = [m.value.replace("\\", "") for m in at.markdown if m.value.startswith("- **")]
    assert listed, "the seed has quiet grids"
    for line in listed:
        code = line.split("**")[1]
        when = table.at[code, "days_since_visit"]
        assert not re.search(r"(?<!\d)[01] 天前", line), line  # 今天 and 昨天
        assert line.endswith(t_plain("field.never", "zh")) or line.endswith(f"最近走访：{when}"), (line, when)


def test_report_trend_of_the_running_month_marks_today(seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    at = login(seeded_ro_url, "leader", page="pages/report.py")
    _ok(at)
    specs = [c.proto.spec.replace(" ", "") for c in at.get("plotly_chart")]
    assert not any("今日截至" in spec for spec in specs)  # last month, by default: every day whole
    at.selectbox(key="report_month").set_value(kpi.month_period(clock.now().date())).run()
    _ok(at)
    specs = [c.proto.spec.replace(" ", "") for c in at.get("plotly_chart")]
    assert any('"dash":"dot"' in spec and "今日截至" in spec for spec in specs)


def test_department_overview_names_the_department(seeded_ro_url: str, login) -> None:  # type: ignore[no-untyped-def]
    with Session(get_engine(seeded_ro_url)) as s:
        dept = s.get(Department, _actor(s, "department").department_id)
        assert dept is not None
        name = dept.name
    at = login(seeded_ro_url, "department")
    at.switch_page("pages/overview.py").run()
    _ok(at)
    captions = [c.value.replace("\\", "") for c in at.caption]
    assert any(f"部门 {name}" in c for c in captions), captions
    assert t_plain("app.scope_all", "zh") not in " ".join(captions)
