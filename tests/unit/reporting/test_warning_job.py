"""The early-warning job and what the screens read of it, on both databases: a run stores the day's alerts and
the hotspot layer, a rerun keeps what users did, two runs at once compute once, the alerts are scope-filtered,
督办 / 专项 / dismiss are audited (督办 through the one change function), and the command prints JSON."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

import pytest
from sqlmodel import func, select

from dashboard import cli, clock
from dashboard.cases.errors import InvalidInput
from dashboard.db import get_engine
from dashboard.kernel.errors import Conflict, NotFound, NotPermitted
from dashboard.reporting import alert_digest
from dashboard.reporting.warning import run, schedule, store
from models import Alert, AlertRun, AuditLog, Case, CaseEvent, CaseRisk
from models.enums import AlertKind, AlertStatus, CaseStatus
from tests.factories import World
from tests.warning_data import DAY, LATTICE, NOW, case, flat_history, save

pytestmark = pytest.mark.world(LATTICE, frozen_at=NOW)


def _episode(w: World) -> list[int]:
    """Flat ENV history, an ENV spike in grid 5 (东社区) and a building with four INF cases in grid 10 (西社区)."""
    cases = flat_history(w, rate=0.4, days=65)
    midnight = datetime.combine(DAY, datetime.min.time())
    cases += [
        case(w, 5, "ENV", midnight - timedelta(hours=h), status=CaseStatus.dispatched)
        for h in range(2, 40, 4)
    ]
    cases += [
        case(w, 10, "INF", midnight - timedelta(days=d), address="和平里7号楼1单元") for d in (5, 20, 40, 60)
    ]
    return save(w, cases)


def _alerts(w: World) -> list[Alert]:
    with w.session() as s:
        return list(s.exec(select(Alert).order_by(Alert.key)).all())  # type: ignore[arg-type]


def test_run_stores_the_day_and_a_rerun_keeps_what_users_did(world: World) -> None:
    ids = _episode(world)
    engine = get_engine(world.url)
    outcome = run.run(DAY, engine=engine)
    assert outcome.ran and outcome.counts["spike"] >= 1 and outcome.counts["repeat"] == 1
    operator, community_b = world.actors["operator"], world.actors["community_b"]
    with world.session() as s:
        views = store.alerts_for(s, operator)
        theirs = store.alerts_for(s, community_b)
        last = store.last_run(s)
        assert (
            store.hotspot_layer(s, category_code="ENV") and store.hotspot_layer(s, category_code="XXX") == []
        )
    assert last is not None and last.state == "done" and last.day == DAY and last.counts == outcome.counts
    spike = next(v for v in views if v.kind == AlertKind.spike and v.scope_code == "LT-01-06")
    assert (
        spike.category_code == "ENV"
        and spike.category_name == "环境卫生"
        and spike.status == AlertStatus.open
    )
    assert set(ids[-14:-4]) <= set(spike.case_ids) and len(spike.case_numbers) == len(spike.case_ids)
    assert [v.scope_type for v in theirs] == ["building"]  # 西社区 sees its building, not 东社区's spike
    with world.session() as s:
        store.act_on(s, world.actors["community_b"], alert_id=theirs[0].id, action="project", reason="")
        s.commit()
    before = {a.key: a.id for a in _alerts(world)}
    again = run.run(DAY, engine=engine)
    after = _alerts(world)
    assert again.ran and len(after) == len(before) and {a.key for a in after} == set(before)
    building = next(a for a in after if a.scope_type == "building")
    assert building.status == AlertStatus.project and building.id == before[building.key]
    with world.session() as s:
        assert store.alerts_for(s, community_b) == []  # acted on: not open any more
        assert [v.status for v in store.alerts_for(s, community_b, status="all")] == [AlertStatus.project]
        runs = s.exec(select(func.count()).select_from(AlertRun)).one()
        audits = s.exec(select(AuditLog.action).where(AuditLog.action.like("alert_%"))).all()  # type: ignore[attr-defined]
    assert runs == 1 and sorted(audits) == ["alert_project", "alert_run", "alert_run"]


def test_next_day_carries_a_dismissal(world: World) -> None:
    _episode(world)
    engine = get_engine(world.url)
    run.run(DAY, engine=engine)
    with world.session() as s:
        (building,) = store.alerts_for(s, world.actors["operator"], kind="repeat")
        store.act_on(s, world.actors["operator"], alert_id=building.id, action="dismiss", reason="已安排维修")
        s.commit()
    with clock.frozen(NOW + timedelta(days=1)):
        run.run(DAY + timedelta(days=1), engine=engine)
        with world.session() as s:
            (carried,) = store.alerts_for(s, world.actors["operator"], kind="repeat", status="all")
    assert carried.day == DAY + timedelta(days=1) and carried.status == AlertStatus.dismissed
    assert carried.reason == "已安排维修" and carried.acted_by == "operator"


def test_a_repeat_is_one_episode_raised_once_updated_with_new_cases(world: World) -> None:
    """The building of four cases is new on its first day, ongoing (off the wall, listed as not news) the next
    day, updated with its fifth case the day after, and keeps its first day throughout."""
    _episode(world)
    engine = get_engine(world.url)
    operator = world.actors["operator"]
    states = []
    for i in range(3):
        day = DAY + timedelta(days=i)
        if i == 2:
            fifth = save(world, [case(world, 10, "INF", NOW + timedelta(days=1), address="和平里7号楼2单元")])
        with clock.frozen(NOW + timedelta(days=i)):
            run.run(day, engine=engine)
            with world.session() as s:
                (building,) = store.alerts_for(s, operator, kind="repeat")
                wall = alert_digest.wall_alerts(s, operator)
        states.append(building.episode_state)
        assert building.evidence["episode"]["first_day"] == DAY.isoformat()
        assert building.news == (building.episode_state != "ongoing")
        assert any("和平里7号楼" in line for _, _, line in wall.items) == building.news
    assert states == ["new", "ongoing", "updated"]
    assert building.evidence["episode"]["new_cases"] == fifth and building.observed == 5


def test_supervise_goes_through_the_change_function_and_is_audited(world: World) -> None:
    _episode(world)
    run.run(DAY, engine=get_engine(world.url))
    operator = world.actors["operator"]
    with world.session() as s:
        spike = next(v for v in store.alerts_for(s, operator, kind="spike") if v.scope_code == "LT-01-06")
        with pytest.raises(NotPermitted):
            store.act_on(s, world.actors["leader"], alert_id=spike.id, action="supervise")
        with pytest.raises(NotFound):
            store.act_on(s, world.actors["community_b"], alert_id=spike.id, action="supervise")
        with pytest.raises(InvalidInput):
            store.act_on(s, operator, alert_id=spike.id, action="dismiss", reason="  ")
        done = store.act_on(s, operator, alert_id=spike.id, action="supervise", reason="请城管今日处理")
        s.commit()
        with pytest.raises(Conflict):
            store.act_on(s, operator, alert_id=spike.id, action="dismiss", reason="重复")
        flagged = s.exec(select(Case.id).where(Case.id.in_(spike.case_ids), Case.supervised)).all()  # type: ignore[union-attr, arg-type]
        open_ids = s.exec(
            select(Case.id).where(Case.id.in_(spike.case_ids), Case.status == CaseStatus.dispatched.value)  # type: ignore[union-attr]
        ).all()
        events = s.exec(select(CaseEvent.note).where(CaseEvent.action == "supervise")).all()
        (trail,) = s.exec(select(AuditLog).where(AuditLog.action == "alert_supervise")).all()
    assert (
        done.status == AlertStatus.supervised
        and done.acted_by == "operator"
        and done.reason == "请城管今日处理"
    )
    assert sorted(flagged) == sorted(open_ids) and len(open_ids) == 10  # closed history is left alone
    assert events == ["请城管今日处理"] * 10 and trail.actor_name == "operator"
    assert len(json.loads(trail.detail)["cases"]) == 10


def test_two_runs_at_once_compute_once(world: World) -> None:
    _episode(world)
    engine = get_engine(world.url)
    outcomes: list[run.Outcome] = []
    barrier = threading.Barrier(2)

    def go(who: str) -> None:
        barrier.wait()
        outcomes.append(run.run(DAY, engine=engine, who=who, force=False))

    threads = [threading.Thread(target=go, args=(f"replica-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.ran for o in outcomes) == [False, True]
    assert [o.skipped for o in outcomes if not o.ran][0] in ("running", "done")
    keys = [a.key for a in _alerts(world)]
    assert keys and len(keys) == len(set(keys))
    assert run.claim(DAY, "replica-3", engine=engine) == "done"  # the schedule leaves a finished day alone


def test_a_dead_claim_is_taken_over(world: World) -> None:
    engine = get_engine(world.url)
    assert run.claim(DAY, "crashed", engine=engine) is None
    assert run.claim(DAY, "replica", engine=engine) == "running"
    with clock.frozen(NOW + run.STALE_AFTER + timedelta(minutes=1)):
        assert run.claim(DAY, "replica", engine=engine) is None
        with world.session() as s:
            assert s.exec(select(AlertRun.claimed_by)).one() == "replica"


def test_cli_lists_alerts_as_json(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    _episode(world)
    assert cli.main(["alerts", "run", "--date", DAY.isoformat(), "--database-url", world.url]) == 0
    ran = json.loads(capsys.readouterr().out)
    assert ran["day"] == DAY.isoformat() and ran["counts"]["repeat"] == 1
    assert (
        cli.main(["alerts", "list", "--kind", "spike", "--format", "json", "--database-url", world.url]) == 0
    )
    listed = json.loads(capsys.readouterr().out)
    assert listed["day"] == DAY.isoformat() and {a["kind"] for a in listed["alerts"]} == {"spike"}
    grid = next(a for a in listed["alerts"] if a["scope_code"] == "LT-01-06")
    assert grid["category_code"] == "ENV" and grid["observed"] >= 10 and grid["expected"] < grid["observed"]
    assert grid["score"] < 1e-3 and len(grid["case_numbers"]) >= 10
    assert all(n.startswith("LT") for n in grid["case_numbers"])
    assert (
        cli.main(
            ["alerts", "run", "--date", (DAY + timedelta(days=1)).isoformat(), "--database-url", world.url]
        )
        == 2
    )


def test_high_risk_filter_and_case_risks_read_the_stored_scores(world: World) -> None:
    ids = save(
        world, [case(world, 0, "ENV", NOW - timedelta(hours=2), status=CaseStatus.accepted) for _ in range(2)]
    )
    with world.session() as s:
        s.add(CaseRisk(case_id=ids[0], probability=0.81, factors='[["elapsed", 0.9, 0.3]]', computed_at=NOW))
        s.add(CaseRisk(case_id=ids[1], probability=0.2, factors="[]", computed_at=NOW))
        s.commit()
        risky = s.exec(select(Case.id).where(store.high_risk_filter())).all()
        views = store.case_risks(s, ids, lang="zh")
    assert risky == [ids[0]] and views[ids[0]].high and not views[ids[1]].high
    assert views[ids[0]].top_factors == [("已用时限 90%", 0.3)]


def test_schedule_time_and_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHBOARD_ALERTS_AT", "07:15")
    at = schedule.run_at()
    assert (at.hour, at.minute) == (7, 15)
    assert schedule.next_run(datetime(2026, 11, 25, 7, 0), at) == datetime(2026, 11, 25, 7, 15)
    assert schedule.next_run(datetime(2026, 11, 25, 8, 0), at) == datetime(2026, 11, 26, 7, 15)
    monkeypatch.setenv("DASHBOARD_ALERTS_AT", "soon")
    assert schedule.run_at() == schedule.DEFAULT_AT
    monkeypatch.setenv("DASHBOARD_ALERTS_SCHEDULE", "off")
    assert not schedule.enabled() and not schedule.start(get_engine("sqlite://"))
