"""The early-warning job: claim the day, compute every detector, store the day's alerts in one transaction.

**Claim.** A run first takes the day's ``alert_runs`` row (one per day, unique): it inserts it, or takes it
over when the last run of the day finished (``force``), failed, or has been "running" for longer than
:data:`STALE_AFTER` (a replica that died). Taking over is one conditional UPDATE, so of two replicas starting
at once exactly one computes and the other returns without writing; the morning schedule and a manual
``python -m dashboard alerts run`` meet the same way.

**Store.** In one writer transaction: the day's open alerts are replaced by the new findings; an alert that
somebody already acted on (督办, 专项, dismissed) keeps its row and its status, and a finding met again within
:data:`CARRY_DAYS` of being acted on (same key) carries that status over instead of coming back as new. A
repeat finding is followed as an episode (:mod:`episode`: new, updated with new cases, or ongoing) against
the key's last alert, and keeps its episode's first day. The
overdue risk of open cases (``case_risks``) is replaced as a whole. The run row gets its duration, counts, the
model's AUC and calibration table and the hotspot map layer; an audit row records the run.

The run reads complete days: the alerts of day D are about the days before D (the morning's reading of
yesterday, the last three days, the week), and the risks are those of the cases open at the moment of the run
(for a past day, at its midnight).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time as timer
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from dashboard import clock
from dashboard.db import get_engine, run_unit, session_scope
from dashboard.kernel import audit
from dashboard.kernel.errors import Invalid
from dashboard.reporting.warning import episode, history, hotspots, repeats, risk, spikes
from dashboard.reporting.warning.finding import Finding
from dashboard.reporting.warning.store import ids_text
from models import Alert, AlertRun, CaseRisk
from models.enums import AlertKind, AlertStatus

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=30)
"""A run "running" for longer than this is taken for dead and may be taken over."""
CARRY_DAYS = 14
"""How long what a user did about an alert holds for the same finding on later days."""
HISTORY_DAYS = max(spikes.HISTORY_DAYS, hotspots.HISTORY_DAYS)


@dataclass
class Outcome:
    """What a call of :func:`run` did: ``ran`` (and its figures: alerts per kind in `counts`), or why not
    (``skipped``: another process holds the day, or it is done and not forced)."""

    day: date
    ran: bool
    skipped: str = ""
    duration_s: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    auc: float | None = None
    scored: int = 0
    """Open cases given an overdue risk."""
    timings: dict[str, float] = field(default_factory=dict)


def _who() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def _insert_run(session: Session, day: date, who: str, now: datetime) -> bool:
    values = {
        "day": day,
        "state": "running",
        "claimed_by": who,
        "started_at": now,
        "counts": "{}",
        "calibration": "[]",
        "hotspots": "{}",
        "error": "",
    }
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    stmt = (
        insert(AlertRun)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["day"])
        .returning(AlertRun.id)
    )
    return session.execute(stmt).first() is not None  # rowcount is not reliable here (psycopg: -1)


def claim(day: date, who: str, *, force: bool = False, engine: Engine | None = None) -> str | None:
    """Take the day's run for `who`; None when taken, else why not ("running" elsewhere, "done")."""

    def unit(session: Session) -> str | None:
        now = clock.now()
        if _insert_run(session, day, who, now):
            return None
        row = session.exec(select(AlertRun).where(AlertRun.day == day)).one()
        stale = row.started_at < now - STALE_AFTER
        if row.state == "running" and not stale:
            return "running"
        if row.state == "done" and not force:
            return "done"
        taken = session.execute(
            update(AlertRun)
            .where(AlertRun.id == row.id, AlertRun.state == row.state, AlertRun.started_at == row.started_at)  # type: ignore[arg-type]
            .values(state="running", claimed_by=who, started_at=now, finished_at=None, error="")
            .returning(AlertRun.id)
        ).first()
        return None if taken is not None else "running"

    return run_unit(unit, engine)


def as_of_moment(day: date) -> datetime:
    """The moment a run of `day` sees: now for today, midnight for a past day."""
    now = clock.now()
    if day > now.date():
        raise Invalid(problems={"date": "errors.invalid"})
    return now if day == now.date() else datetime.combine(day, time())


@dataclass
class Computed:
    findings: list[Finding]
    assessment: risk.Assessment
    layer: dict[str, list[list[float]]]
    timings: dict[str, float]


def compute(session: Session, day: date) -> Computed:
    """Every detector for `day` (reads only)."""
    timings: dict[str, float] = {}
    t0 = timer.perf_counter()
    territory = history.load_territory(session)
    daily = history.daily_counts(session, territory, end=day, days=HISTORY_DAYS)
    timings["counts"] = timer.perf_counter() - t0
    t0 = timer.perf_counter()
    found = spikes.detect(session, territory, daily, day)
    timings["spikes"] = timer.perf_counter() - t0
    t0 = timer.perf_counter()
    found += repeats.detect(session, territory, day)
    timings["repeats"] = timer.perf_counter() - t0
    t0 = timer.perf_counter()
    spots, layer = hotspots.detect(session, territory, daily, day)
    found += spots
    timings["hotspots"] = timer.perf_counter() - t0
    t0 = timer.perf_counter()
    assessment = risk.assess(session, as_of_moment(day))
    found += assessment.findings
    timings["risk"] = timer.perf_counter() - t0
    return Computed(found, assessment, layer, timings)


def run(
    day: date | None = None, *, force: bool = True, engine: Engine | None = None, who: str | None = None
) -> Outcome:
    """Claim `day` (default today), compute and store it. `force` reruns a day already done (the command
    does; the schedule does not)."""
    engine = engine or get_engine()
    day = day or clock.now().date()
    who = who or _who()
    as_of_moment(day)
    refused = claim(day, who, force=force, engine=engine)
    if refused:
        return Outcome(day, ran=False, skipped=refused)
    started = timer.perf_counter()
    try:
        with session_scope(engine) as session:
            computed = compute(session, day)
        t0 = timer.perf_counter()
        counts = run_unit(lambda s: _store(s, day, who, computed, started), engine)
        computed.timings["store"] = timer.perf_counter() - t0
    except Exception as exc:
        log.exception("alerts run of %s failed", day)
        _fail(engine, day, who, exc)
        raise
    return Outcome(
        day,
        ran=True,
        duration_s=round(timer.perf_counter() - started, 2),
        counts=counts,
        auc=computed.assessment.auc,
        scored=len(computed.assessment.scores),
        timings={k: round(v, 2) for k, v in computed.timings.items()},
    )


def _fail(engine: Engine, day: date, who: str, exc: BaseException) -> None:
    def unit(session: Session) -> None:
        session.execute(
            update(AlertRun)
            .where(AlertRun.day == day, AlertRun.claimed_by == who)  # type: ignore[arg-type]
            .values(state="failed", finished_at=clock.now(), error=f"{type(exc).__name__}: {exc}"[:2000])
        )

    run_unit(unit, engine)


def _carried(session: Session, day: date, keys: set[str]) -> dict[str, Alert]:
    """The latest acted-on alert of each key within CARRY_DAYS before `day`."""
    rows = session.exec(
        select(Alert)
        .where(
            Alert.day < day,
            Alert.day >= day - timedelta(days=CARRY_DAYS),
            Alert.status != AlertStatus.open.value,
        )
        .order_by(Alert.day)  # type: ignore[arg-type]
    ).all()
    return {a.key: a for a in rows if a.key in keys}


def _episodes(session: Session, day: date) -> dict[str, episode.Seen]:
    """The last repeat alert of each key within :data:`episode.END_DAYS` before `day`."""
    rows = session.exec(
        select(Alert.key, Alert.day, Alert.evidence, Alert.case_ids)
        .where(
            Alert.kind == AlertKind.repeat.value,
            Alert.day < day,
            Alert.day >= day - timedelta(days=episode.END_DAYS),
        )
        .order_by(Alert.day)  # type: ignore[arg-type]
    ).all()
    out = {}
    for key, at, evidence, case_ids in rows:
        first = json.loads(evidence).get("episode", {}).get("first_day")
        out[key] = episode.seen_from(at, date.fromisoformat(first) if first else None, json.loads(case_ids))
    return out


def follow_repeats(findings: list[Finding], seen: dict[str, episode.Seen], day: date) -> None:
    """Give each repeat finding its episode (``evidence["episode"]``)."""
    for f in findings:
        if f.kind == AlertKind.repeat:
            f.evidence["episode"] = episode.follow(f, seen.get(f.key), day).evidence()


def _store(session: Session, day: date, who: str, computed: Computed, started: float) -> dict[str, int]:
    run_row = session.exec(select(AlertRun).where(AlertRun.day == day)).one()
    if run_row.claimed_by != who or run_row.state != "running":
        raise RuntimeError("the day's run was taken over by another process")
    now = clock.now()
    kept = {a.key: a for a in session.exec(select(Alert).where(Alert.day == day)).all()}
    session.execute(delete(Alert).where(Alert.day == day, Alert.status == AlertStatus.open.value))  # type: ignore[arg-type]
    unique = {f.key: f for f in computed.findings}
    follow_repeats(list(unique.values()), _episodes(session, day), day)
    carried = _carried(session, day, set(unique))
    for key, f in unique.items():
        acted = kept.get(key)
        if acted is not None and acted.status != AlertStatus.open:
            _fill(acted, f, now)
            session.add(acted)
            continue
        row = Alert(
            day=day,
            key=key,
            computed_at=now,
            since=f.since,
            kind=f.kind,
            scope_type=f.scope_type,
            scope_code="",
        )
        _fill(row, f, now)
        before = carried.get(key)
        if before is not None:
            row.status, row.acted_by, row.acted_at, row.reason = (
                before.status,
                before.acted_by,
                before.acted_at,
                before.reason,
            )
        session.add(row)
    session.execute(delete(CaseRisk))
    session.add_all(
        CaseRisk(
            case_id=case_id, probability=p, factors=json.dumps(factors, ensure_ascii=False), computed_at=now
        )
        for case_id, (p, factors) in computed.assessment.scores.items()
    )
    counts = dict(Counter(str(f.kind) for f in unique.values()))
    run_row.state = "done"
    run_row.finished_at = now
    run_row.duration_s = round(timer.perf_counter() - started, 2)
    run_row.counts = json.dumps(counts)
    run_row.model_auc = computed.assessment.auc
    run_row.model_rows = computed.assessment.rows or None
    run_row.calibration = json.dumps(computed.assessment.calibration)
    run_row.hotspots = json.dumps(computed.layer)
    session.add(run_row)
    audit.record(
        session, None, "alert_run", target=day.isoformat(), detail=json.dumps(counts), actor_name="system"
    )
    return counts


def _fill(row: Alert, f: Finding, now: datetime) -> None:
    row.kind = f.kind
    row.scope_type = f.scope_type
    row.scope_code = f.scope_code[:64]
    row.scope_name = f.scope_name[:200]
    row.category_id = f.category_id
    row.grid_ids = ids_text(f.grid_ids)
    row.community_ids = ids_text(f.community_ids)
    row.observed = float(f.observed)
    row.expected = float(f.expected)
    row.score = float(f.score)
    row.since = f.since
    row.case_ids = json.dumps(f.case_ids)
    row.evidence = json.dumps(f.evidence, ensure_ascii=False, default=str)
    row.computed_at = now
