"""Two processes act on the same case at the same moment: exactly one wins, the other is told who
changed it, nothing is lost and no merge makes a cycle — on SQLite and PostgreSQL.

Each pair runs several times between two long-lived worker processes that meet at a barrier right
before acting; every action runs as a page action does (:func:`dashboard.db.run_unit`).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bench.workload import replay_problems
from dashboard.admin.auth import actor_of
from dashboard.cases import commands
from dashboard.cases.intake import NewCase, create_case
from dashboard.db import get_engine, run_unit, session_scope
from models import Case, Category, Department, Grid, User
from models.enums import CaseSource, CaseStatus

TRIALS = 6


def _act(session: Any, actor: Any, spec: tuple[str, int, dict[str, Any]]) -> None:
    action, case_id, kw = spec
    version = kw["version"]  # a retried unit of work acts on the same version again
    if action == "import":
        from dashboard.io.imports import run_import

        report = run_import(session, actor, "cases", kw["file"], commit=True)
        assert report.committed or report.errors, report
        if report.errors:
            raise _lost(report.errors[0].key, report.errors[0].values)
        return
    call = {
        "dispatch": lambda: commands.dispatch(
            session, actor, case_id, version, department_id=kw["department"]
        ),
        "close": lambda: commands.close(session, actor, case_id, version),
        "rework": lambda: commands.rework(session, actor, case_id, version, "处置不到位"),
        "resolve": lambda: commands.resolve(session, actor, case_id, version, "已处置"),
        "return": lambda: commands.return_case(session, actor, case_id, version, "非本部门"),
        "escalate": lambda: commands.escalate(
            session, actor, case_id, version, "daily", [kw["department"]], "吹哨"
        ),
        "merge": lambda: commands.merge(session, actor, case_id, version, kw["into"]),
    }[action]
    call()


class _lost(Exception):
    def __init__(self, key: str, values: dict[str, Any]) -> None:
        self.key, self.values = key, values


def _worker(url: str, username: str, barrier: Any, inbox: Any, outbox: Any) -> None:
    from dashboard.kernel.errors import DomainError

    engine = get_engine(url)
    with session_scope(engine) as s:
        actor = actor_of(s.exec(select(User).where(User.username == username)).one())
    while (spec := inbox.get()) is not None:
        barrier.wait(timeout=60)
        try:
            run_unit(lambda s: _act(s, actor, spec), engine)
            outbox.put((spec[0], "ok", {}))
        except (DomainError, _lost) as exc:
            outbox.put((spec[0], exc.key, dict(exc.values)))
        except Exception as exc:
            outbox.put((spec[0], f"raw {type(exc).__name__}: {exc}", {}))


@dataclass
class Pair:
    url: str
    inboxes: list[Any]
    outbox: Any

    def run(self, a: tuple[str, int, dict[str, Any]], b: tuple[str, int, dict[str, Any]]) -> list[tuple]:
        self.inboxes[0].put(a)
        self.inboxes[1].put(b)
        return sorted((self.outbox.get(timeout=120) for _ in range(2)), key=lambda r: r[1] != "ok")


@pytest.fixture
def pair(seeded_url: str) -> Iterator[Pair]:
    ctx = multiprocessing.get_context("spawn")
    barrier, outbox = ctx.Barrier(2), ctx.Queue()
    inboxes = [ctx.Queue(), ctx.Queue()]
    workers = [
        ctx.Process(target=_worker, args=(seeded_url, "admin", barrier, q, outbox), daemon=True)
        for q in inboxes
    ]
    for w in workers:
        w.start()
    yield Pair(seeded_url, inboxes, outbox)
    for q in inboxes:
        q.put(None)
    for w in workers:
        w.join(30)


def _fresh_case(url: str, status: CaseStatus) -> tuple[int, int]:
    """A new case brought to `status` through the services; (id, version)."""
    with session_scope(get_engine(url), write=True) as s:
        actor = actor_of(s.exec(select(User).where(User.username == "admin")).one())
        category = s.exec(select(Category.id).where(Category.active.is_(True)).order_by(Category.id)).first()
        grid = s.exec(select(Grid.id).order_by(Grid.id)).first()
        data = NewCase(
            category_id=category,
            title="并发测试",
            source=CaseSource.hotline,
            grid_id=grid,
            reporter_name="李四",
            reporter_phone="13900000000",
        )
        ref = create_case(s, actor, data)
        steps = {
            CaseStatus.accepted: ("accept",),
            CaseStatus.in_progress: ("accept", "start"),
            CaseStatus.verified: ("accept", "start", "resolve", "verify", "follow_up"),
        }[status]
        for step in steps:
            extra = {"resolve": ("已处置",), "follow_up": ("satisfied",)}.get(step, ())
            ref = getattr(commands, step)(s, actor, ref.id, ref.version, *extra)
        return ref.id, ref.version


def _department(url: str) -> int:
    with session_scope(get_engine(url)) as s:
        return s.exec(
            select(Department.id).where(Department.active.is_(True)).order_by(Department.id)
        ).first()


def _check_one_wins(results: list[tuple]) -> None:
    (_, first, _), (_, second, values) = results
    assert first == "ok", results
    assert second == "errors.stale" and values.get("by") not in (None, "", "?"), results


PAIRS = {
    "dispatch/dispatch": (CaseStatus.accepted, "dispatch", "dispatch"),
    "close/rework": (CaseStatus.verified, "close", "rework"),
    "resolve/return": (CaseStatus.in_progress, "resolve", "return"),
    "escalate/escalate": (CaseStatus.accepted, "escalate", "escalate"),
}


@pytest.mark.parametrize("name", list(PAIRS))
def test_conflicting_actions_one_wins(pair: Pair, name: str) -> None:
    status, a, b = PAIRS[name]
    dept = _department(pair.url)
    for _ in range(TRIALS):
        case_id, version = _fresh_case(pair.url, status)
        kw = {"version": version, "department": dept}
        _check_one_wins(pair.run((a, case_id, dict(kw)), (b, case_id, dict(kw))))
    with session_scope(get_engine(pair.url)) as s:
        assert replay_problems(s) == []


def test_opposite_merges_never_make_a_cycle(pair: Pair) -> None:
    for _ in range(TRIALS):
        (x, vx), (y, vy) = (
            _fresh_case(pair.url, CaseStatus.accepted),
            _fresh_case(pair.url, CaseStatus.accepted),
        )
        results = pair.run(("merge", x, {"version": vx, "into": y}), ("merge", y, {"version": vy, "into": x}))
        _check_one_wins(results)
        with session_scope(get_engine(pair.url)) as s:
            dup = {c.id: c.duplicate_of_id for c in s.exec(select(Case).where(Case.id.in_([x, y])))}
        assert set(dup.values()) in ({None, x}, {None, y}), dup  # one merged into the other, no cycle
    with session_scope(get_engine(pair.url)) as s:
        assert replay_problems(s) == []


def test_an_import_update_never_overwrites_a_concurrent_dispatch(pair: Pair, tmp_path: Path) -> None:
    """The import either applies its row to the case as it finds it (after the dispatch: two events, in
    order) or is told the case changed meanwhile; no dispatch is lost, no version told twice."""
    from dashboard.io.imports import run_import

    dept = _department(pair.url)
    with session_scope(get_engine(pair.url)) as s:
        grid = s.exec(select(Grid).order_by(Grid.id)).first()
        code = s.exec(select(Category.code).where(Category.active.is_(True)).order_by(Category.id)).first()
        admin = actor_of(s.exec(select(User).where(User.username == "admin")).one())
    head = "事件编号,标题,类别,上报时间,经度,纬度,状态,结案时间\n"
    for i in range(TRIALS):
        row = f"IMP-{i},路灯不亮,{code},2026-11-02 09:00,{grid.centroid_lon},{grid.centroid_lat}"
        first, second = tmp_path / f"new-{i}.csv", tmp_path / f"closed-{i}.csv"
        first.write_text(head + row + ",已受理,\n", encoding="utf-8")
        second.write_text(head + row + ",已结案,2026-11-03 10:00\n", encoding="utf-8")
        with session_scope(get_engine(pair.url), write=True) as s:
            assert run_import(s, admin, "cases", str(first), commit=True).committed
        with session_scope(get_engine(pair.url)) as s:
            case = s.exec(select(Case).where(Case.external_id == f"IMP-{i}")).one()
        results = pair.run(
            ("import", case.id, {"version": case.version, "file": str(second)}),
            ("dispatch", case.id, {"version": case.version, "department": dept}),
        )
        outcomes = {action: outcome for action, outcome, _ in results}
        assert outcomes["dispatch"] in ("ok", "errors.stale"), results
        assert outcomes["import"] in ("ok", "io.err.changed_meanwhile"), results
        assert "ok" in outcomes.values(), results
    with session_scope(get_engine(pair.url)) as s:
        assert replay_problems(s) == []
