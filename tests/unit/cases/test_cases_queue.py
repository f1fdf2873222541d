"""The triage queue in SQL: filters, ageing, counts per status, pagination (only one page is fetched),
scope, the department queue and the CSV export (masked, formula-safe, audited)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import event
from sqlmodel import select

from dashboard.cases import department, queue
from dashboard.cases.queue import QueueFilters
from dashboard.db import get_engine
from dashboard.i18n import t
from dashboard.kernel.errors import NotPermitted
from models import AuditLog, CaseEscalation
from models.enums import CaseSource, CaseStatus
from tests.factories import CASE_LOOP, World, build_world, put_case
from tests.factories import CASE_LOOP_NOW as NOW

S = CaseStatus
STATUSES = [S.reported, S.accepted, S.dispatched, S.in_progress, S.resolved, S.verified, S.closed, S.rejected]


@pytest.fixture(scope="module")
def qworld(module_db_url: str) -> Iterator[World]:
    """The CASE_LOOP world with 131 cases, shared by the module's tests (they only read): statuses round
    robin, reported an hour apart going back, over all three grids; and one escalated case."""
    world = build_world(module_db_url, CASE_LOOP)
    with world.session() as s:
        for i in range(130):
            put_case(
                s,
                world,
                STATUSES[i % 8],
                grid=i % 3,
                reported_at=NOW - timedelta(hours=i),
                number=f"XL20260309-{i + 1:04d}",
                title=f"问题{i}",
                source=CaseSource.proxy if i % 5 == 0 else CaseSource.hotline,
            )
        c = put_case(
            s,
            world,
            S.accepted,
            grid=0,
            reported_at=NOW - timedelta(days=30),
            number="XL20260207-0001",
            title="100%_特殊",
            address='=HYPERLINK("http://x")',
        )
        s.add(
            CaseEscalation(
                case_id=c.id,
                department_id=world.department["CG"],
                level="daily",
                escalated_at=NOW,
                due_at=NOW - timedelta(hours=1),
            )
        )
        s.commit()
    yield world


def _page(
    w: World, who: str = "operator", page: int = 1, page_size: int = queue.PAGE_SIZE, **filters: object
) -> queue.QueuePage:
    with w.session() as s:
        return queue.queue_page(
            s,
            w.actors[who],
            QueueFilters(**filters),  # type: ignore[arg-type]
            page=page,
            page_size=page_size,
            now=NOW,
        )


def test_first_page_is_fetched_with_a_limit(qworld: World) -> None:
    statements: list[tuple[str, object]] = []

    def spy(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append((statement, parameters))

    engine = get_engine(qworld.url)
    event.listen(engine, "before_cursor_execute", spy)
    try:
        page = _page(qworld, view="all")
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    assert page.total == 131 and page.pages == 3 and len(page.rows) == 50
    selects = [(sql, p) for sql, p in statements if "FROM cases" in sql]
    assert len(selects) == 2  # one COUNT, one page
    count_sql, (page_sql, params) = selects[0][0], selects[1]
    assert "count(*)" in count_sql.lower() and "LIMIT" not in count_sql
    assert "LIMIT" in page_sql and "OFFSET" in page_sql
    values = list(params.values()) if isinstance(params, dict) else list(params)  # type: ignore[union-attr]
    assert 50 in values and 0 in values


def test_queue_sql_compiles_with_limit_offset_and_due_order(qworld: World) -> None:
    sql = str(
        queue.queue_sql(qworld.actors["operator"], QueueFilters(view="all"), now=NOW, page=3).compile(
            compile_kwargs={"literal_binds": True}
        )
    )
    assert "LIMIT 50 OFFSET 100" in sql
    assert "ORDER BY cases.due_at ASC, cases.id ASC" in sql


def test_open_view_by_due_time(qworld: World) -> None:
    page = _page(qworld, view="open", sort="due")
    assert set(page.rows["status"]) <= {s.value for s in S if s not in (S.closed, S.rejected)}
    dues = list(page.rows["due_at"])
    assert dues == sorted(dues)
    assert page.total == 99  # 98 open of the 130 + the old one


def _running(status: str) -> bool:
    return status in ("reported", "accepted", "dispatched", "in_progress")


def test_default_view_puts_new_reports_first_then_least_time_left(qworld: World) -> None:
    """To do now: 待受理 newest first, then the running clocks not yet overdue by time left; the overdue
    ones (the 30-day-old case among them) are left to their own view."""
    rows = _page(qworld, page_size=200).rows
    statuses = list(rows["status"])
    new = statuses.count("reported")
    assert new == 17 and statuses[:new] == ["reported"] * new
    reported = list(rows["reported_at"][:new])
    assert reported == sorted(reported, reverse=True)
    rest = rows.iloc[new:]
    running = rest[rest["status"].map(_running)]
    assert len(running) and (running["due_at"] > NOW).all()
    assert list(running["due_at"]) == sorted(running["due_at"])
    assert list(rest["status"].map(_running)) == sorted(rest["status"].map(_running), reverse=True)
    assert "XL20260207-0001" not in set(rows["number"])
    with qworld.session() as s:
        counts = queue.status_counts(s, qworld.actors["operator"], QueueFilters(), now=NOW)
    assert counts["todo"] == len(rows)


def test_overdue_view_most_overdue_first(qworld: World) -> None:
    rows = _page(qworld, view="overdue", page_size=200).rows
    assert len(rows) and rows.iloc[0]["number"] == "XL20260207-0001"
    assert rows["status"].map(_running).all() and (rows["due_at"] < NOW).all()
    assert list(rows["due_at"]) == sorted(rows["due_at"])
    with qworld.session() as s:
        counts = queue.status_counts(s, qworld.actors["operator"], QueueFilters(), now=NOW)
    assert counts["overdue"] == len(rows)
    todo = set(_page(qworld, page_size=200).rows["id"])
    late = set(rows["id"])
    open_ = set(_page(qworld, view="open", page_size=200).rows["id"])
    # every open case is in one of the two views; only a late new report is in both
    assert todo | late == open_
    assert set(_page(qworld, view="reported", page_size=200).rows["id"]) >= todo & late


def test_pagination(qworld: World) -> None:
    last = _page(qworld, view="all", page=3)
    assert (last.page, len(last.rows)) == (3, 31)
    beyond = _page(qworld, view="all", page=99)
    assert beyond.page == 3
    seen = set()
    for p in (1, 2, 3):
        seen |= set(_page(qworld, view="all", page=p).rows["id"])
    assert len(seen) == 131


def test_status_counts_one_group_by(qworld: World) -> None:
    with qworld.session() as s:
        counts = queue.status_counts(s, qworld.actors["operator"], QueueFilters(view="closed"), now=NOW)
    assert counts["all"] == 131 and counts["closed"] == 16 and counts["reported"] == 17
    assert counts["accepted"] == 18  # 17 + the old one
    assert counts["open"] == 131 - 16 - 16


def test_ageing_colours_in_sql(qworld: World) -> None:
    page = _page(qworld, view="all")
    by_status = dict(zip(page.rows["number"], page.rows["ageing"], strict=True))
    assert by_status["XL20260207-0001"] == "black"  # 30 days old, 3 working days limit
    rows = _page(qworld, view="all", ageing=("green",)).rows
    assert len(rows) and set(rows["ageing"]) == {"green"}
    assert set(rows["status"]) <= {"reported", "accepted", "dispatched", "in_progress"}
    for colour in ("yellow", "red", "black"):
        rows = _page(qworld, view="all", ageing=(colour,)).rows
        assert set(rows["ageing"]) <= {colour}
    both = _page(qworld, view="all", ageing=("red", "black"))
    assert (
        both.total
        == _page(qworld, view="all", ageing=("red",)).total
        + _page(qworld, view="all", ageing=("black",)).total
    )


def test_filters(qworld: World) -> None:
    w = qworld
    assert set(_page(w, view="all", grid_id=w.grid_ids[1]).rows["grid_id"]) == {w.grid_ids[1]}
    assert set(_page(w, view="all", community_id=w.community_ids[1]).rows["grid_id"]) == {w.grid_ids[2]}
    assert set(_page(w, view="all", sources=("proxy",)).rows["source"]) == {"proxy"}
    assert _page(w, view="all", sources=("proxy",)).total == 26
    assert _page(w, view="all", categories=(w.category["SAF"],)).total == 0
    assert _page(w, view="dispatched").total == 16
    # reported on 2026-03-08: hours 10..33 back from Monday 10:00
    day = _page(w, view="all", date_from=date(2026, 3, 8), date_to=date(2026, 3, 8))
    assert day.total == 24
    assert _page(w, view="all", date_from=date(2026, 3, 9)).total == 11
    # the escalated case counts for the department
    assert list(_page(w, view="all", department_id=w.department["CG"]).rows["number"]) == ["XL20260207-0001"]


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("xl20260207", ["XL20260207-0001"]),
        ("100%", ["XL20260207-0001"]),  # LIKE wildcards are escaped
        ("%", ["XL20260207-0001"]),
        ("hyperlink", ["XL20260207-0001"]),  # address, case-insensitive
        ("问题129", ["XL20260309-0130"]),
    ],
)
def test_text_search(qworld: World, text: str, numbers: list[str]) -> None:
    assert list(_page(qworld, view="all", text=text).rows["number"]) == numbers


def test_sort_newest(qworld: World) -> None:
    rows = _page(qworld, view="all", sort="newest").rows
    assert list(rows["reported_at"]) == sorted(rows["reported_at"], reverse=True)
    assert rows.iloc[0]["number"] == "XL20260309-0001"


def test_scope_of_the_queue(qworld: World) -> None:
    w = qworld
    mine = _page(w, "grid", view="all")
    assert set(mine.rows["grid_id"]) == {w.grid_ids[0]}
    community = _page(w, "community", view="all")
    assert set(community.rows["community_id"]) == {w.community_ids[0]}
    assert _page(w, "volunteers", view="all").total == 0
    with w.session() as s:
        assert queue.status_counts(s, w.actors["grid3"], QueueFilters(), now=NOW)["all"] == 43


def test_addresses_are_masked_in_the_queue(qworld: World) -> None:
    rows = _page(qworld, view="all", grid_id=qworld.grid_ids[0]).rows
    assert len(rows) and all(a.endswith("***") and "301" not in a for a in rows["address"])


def _csv(data: bytes) -> pd.DataFrame:
    assert data.startswith(b"\xef\xbb\xbf")  # BOM for Excel
    return pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str, keep_default_na=False)


def test_export_masks_neutralises_and_audits(qworld: World) -> None:
    w = qworld
    col = {c: t(f"case_export.{c}", "en") for c in queue.EXPORT_COLUMNS}
    with w.session() as s:
        data = queue.export_file(
            s, w.actors["operator"], filters=QueueFilters(view="all", text="特殊"), lang="en", now=NOW
        )
        s.commit()
        df = _csv(data)
        assert list(df.columns) == list(col.values()) and len(df) == 1
        row = df.iloc[0]
        assert row[col["reporter_name"]] == "王*明" and row[col["reporter_phone"]] == "138****5678"
        assert row[col["address"]].startswith("'=")  # formula neutralised (after masking)
        assert row[col["title"]] == "100%_特殊"
        assert row[col["status"]] == "Accepted" or row[col["status"]] == t("enum.status.accepted", "en")
        log = s.exec(select(AuditLog).where(AuditLog.action == "export")).all()
        assert log and log[-1].actor_name == "operator" and '"rows": 1' in log[-1].detail
        assert log[-1].target == "cases" and log[-1].outcome == "ok"
        with pytest.raises(NotPermitted):
            queue.export_file(s, w.actors["operator"], case_ids=[1], unmasked=True)
        s.rollback()
        ids = list(_page(w, view="all").rows["id"][:3])
        full = _csv(queue.export_file(s, w.actors["admin"], case_ids=ids, unmasked=True, now=NOW))
        s.commit()
        assert len(full) == 3 and set(full[t("case_export.reporter_phone")]) == {"13812345678"}
        assert s.exec(select(AuditLog.outcome).where(AuditLog.action == "export")).all()[-1] == "unmasked"
        # a grid worker exporting other grids' ids gets only their own
        theirs = _csv(queue.export_file(s, w.actors["grid"], case_ids=ids, lang="en", now=NOW))
        assert 0 < len(theirs) < 3 and set(theirs[col["grid"]]) == {"XL-01-01"}


def test_department_escalations(qworld: World) -> None:
    w = qworld
    with w.session() as s:
        page = department.department_escalations(s, w.actors["department"], None, now=NOW)
        assert page.total == 1 and bool(page.rows.iloc[0]["overdue"]) is True
        assert page.rows.iloc[0]["number"] == "XL20260207-0001"
        # a department user sees only its own department whatever it asks for
        assert (
            department.department_escalations(s, w.actors["department2"], w.department["CG"], now=NOW).total
            == 0
        )
        assert (
            department.department_escalations(s, w.actors["operator"], w.department["CG"], now=NOW).total == 1
        )
        assert department.department_escalations(s, w.actors["grid"], w.department["CG"], now=NOW).total == 0
        assert (
            department.department_escalations(
                s, w.actors["operator"], w.department["CG"], view="all", now=NOW
            ).total
            == 1
        )


def test_queue_sql_on_postgresql_dialect() -> None:
    """The first page compiles to LIMIT/OFFSET with bound parameters on PostgreSQL too."""
    from sqlalchemy.dialects import postgresql

    from dashboard.kernel.scope import Actor
    from models.enums import Role

    me = Actor(1, "operator", "op", Role.operator)
    stmt = queue.queue_sql(me, QueueFilters(), now=datetime(2026, 3, 9, 10))
    sql = str(stmt.compile(dialect=postgresql.dialect()))
    assert re.search(r"LIMIT %\(param_\d+\)s::INTEGER OFFSET %\(param_\d+\)s::INTEGER$", sql)


def test_escalation_figures_per_department(qworld: World) -> None:
    from dashboard.reporting import kpi

    w = qworld
    period = kpi.Period(NOW - timedelta(days=1), NOW + timedelta(days=1))
    with w.session() as s:
        df = kpi.escalation_figures(s, w.actors["operator"], period, now=NOW)
        row = df[df["department_id"] == w.department["CG"]].iloc[0]
        assert (row["escalated"], row["reported_back"], row["pending"], row["overdue_now"], row["due"]) == (
            1,
            0,
            1,
            1,
            1,
        )
        assert row["on_time_rate"] == 0.0
        assert kpi.escalation_figures(s, w.actors["grid3"], period, now=NOW).empty  # not in that grid's scope
