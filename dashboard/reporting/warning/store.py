"""What the screens read of the early warning, and the actions on an alert.

Everything here reads stored rows (``alerts``, ``case_risks``, ``alert_runs``) written by the daily job
(:mod:`dashboard.reporting.warning.run`); no page recomputes a detector. The functions are scope-filtered by
the actor: a community sees the alerts that touch its community, a grid worker those of its grid, and only
the case numbers it may open.

The actions (督办, 专项, dismiss with a reason) change the alert and write an audit row in the caller's
transaction; 督办 also supervises the alert's open cases through the one change function.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, false, func, true
from sqlmodel import Session, select

from dashboard import clock
from dashboard.i18n import current_lang, t_plain
from dashboard.kernel import audit
from dashboard.kernel.errors import Conflict, Invalid, NotFound, NotPermitted
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor, case_filter
from models import Alert, AlertRun, Case, CaseRisk, Category, Grid, User
from models.enums import OPEN_STATUSES, AlertKind, AlertScope, AlertStatus, Role

HIGH_RISK = 0.5
"""Probability of missing the deadline from which an open case counts as 高风险 (the queue's view, the risk
alerts). The one home of this threshold."""

KIND_ORDER: tuple[AlertKind, ...] = (AlertKind.spike, AlertKind.repeat, AlertKind.hotspot, AlertKind.risk)
Action = Literal["supervise", "project", "dismiss"]
HotspotClass = Literal["hot", "cold", "none"]
HOTSPOT_P = 0.05
"""Significance of a grid's Gi* (permutation pseudo p-value) from which the map calls it a hot or cold spot."""


@dataclass(frozen=True)
class AlertView:
    """One alert as the screens show it. `score` is a p-value (spike, hotspot: smaller is stronger) or a
    probability (risk, repeat's share: larger is stronger); `evidence` is the detector's own figures:

    - spike: ``{"level": "grid"|"community", "window_days": n, "daily": [{"day", "observed", "expected"}],
      "baseline_days": n, "dispersion": k}``
    - repeat: ``{"rule": "building"|"phone"|"reworked", "window_days": n, "threshold": n,
      "addresses": [masked …], "episode": {"state": "new"|"updated"|"ongoing", "first_day": iso,
      "new_cases": [case id …]}}``
    - hotspot: ``{"window_days": 30, "permutations": n, "grids": [{"grid_id", "code", "name", "count", "z",
      "p"}]}``
    - risk: ``{"due_at": iso, "probability": p, "factors": [[label, contribution], …]}`` (labels in the
      language asked for).
    """

    id: int
    day: date
    kind: AlertKind
    scope_type: AlertScope
    scope_code: str
    scope_name: str
    category_code: str | None
    category_name: str | None
    observed: float
    expected: float
    score: float
    since: date
    case_ids: list[int]
    case_numbers: list[str]
    evidence: dict[str, Any]
    status: AlertStatus
    acted_by: str | None
    acted_at: datetime | None
    reason: str
    grid_ids: list[int] = field(default_factory=list)
    community_ids: list[int] = field(default_factory=list)

    @property
    def episode_state(self) -> str | None:
        """A repeat's place in its episode (:mod:`episode`): "new", "updated", "ongoing"; None for the others."""
        return (self.evidence.get("episode") or {}).get("state")

    @property
    def news(self) -> bool:
        """Whether the alert says something new today (all but an ongoing repeat without new cases)."""
        return self.episode_state != "ongoing"


@dataclass(frozen=True)
class RiskView:
    """An open case's overdue risk: the calibrated probability, and the factors that moved it most as
    (label, contribution in probability points, positive = raises the risk)."""

    probability: float
    top_factors: list[tuple[str, float]]
    computed_at: datetime

    @property
    def high(self) -> bool:
        return self.probability >= HIGH_RISK


@dataclass(frozen=True)
class HotspotCell:
    """One grid of the hotspot map layer for a category."""

    grid_id: int
    grid_code: str
    z: float
    p: float
    cls: HotspotClass


@dataclass(frozen=True)
class RunView:
    """The last run of the job: when, how long, what it found, how good the risk model was."""

    day: date
    state: str
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    counts: dict[str, int]
    model_auc: float | None
    model_rows: int | None
    calibration: list[dict[str, float]]
    error: str


def ids_text(ids: list[int] | set[int]) -> str:
    """``|3|17|``: the stored form of the grids or communities an alert touches."""
    return "|" + "|".join(str(i) for i in sorted(ids)) + "|" if ids else ""


def _ids(text: str) -> list[int]:
    return [int(x) for x in text.strip("|").split("|") if x]


def alert_filter(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on `Alert` limiting rows to the actor's territory."""
    if actor.reads_all:
        return true()
    match actor.role:
        case Role.community:
            return Alert.community_ids.contains(f"|{actor.community_id}|") if actor.community_id else false()
        case Role.grid_worker:
            return Alert.grid_ids.contains(f"|{actor.grid_id}|") if actor.grid_id else false()
        case _:
            return false()


def latest_day(session: Session) -> date | None:
    """The day of the newest finished run (None before the first one)."""
    return session.exec(select(func.max(AlertRun.day)).where(AlertRun.state == "done")).one()


def _rank(view: AlertView) -> tuple[int, float, float, str]:
    """Kind, then strongest first: smallest p-value, highest probability, most cases."""
    strongest = -view.score if view.kind == AlertKind.risk else view.score
    return KIND_ORDER.index(view.kind), strongest, -view.observed, view.scope_code


def alerts_for(
    session: Session,
    actor: Actor,
    *,
    day: date | None = None,
    kind: AlertKind | str | None = None,
    status: Literal["open", "all"] = "open",
    lang: str | None = None,
) -> list[AlertView]:
    """The alerts of `day` (default: the newest run's) in the actor's scope, by kind (spike, repeat, hotspot,
    risk) and strength. ``status="open"`` leaves out those already acted on."""
    if not may(actor, "alert.read"):
        raise NotPermitted()
    day = day or latest_day(session)
    if day is None:
        return []
    lang = lang or current_lang()
    cat_name = Category.name_zh if lang == "zh" else Category.name_en
    query = (
        select(Alert, Category.code, cat_name, User.display_name)
        .outerjoin(Category, Category.id == Alert.category_id)  # type: ignore[arg-type]
        .outerjoin(User, User.id == Alert.acted_by)  # type: ignore[arg-type]
        .where(Alert.day == day, alert_filter(actor))
    )
    if kind is not None:
        query = query.where(Alert.kind == AlertKind(kind).value)
    if status == "open":
        query = query.where(Alert.status == AlertStatus.open.value)
    rows = session.exec(query).all()
    wanted = {cid for alert, *_ in rows for cid in json.loads(alert.case_ids)}
    numbers = _numbers_in_scope(session, actor, wanted)
    views = [_view(alert, code, name, actor_name, numbers, lang) for alert, code, name, actor_name in rows]
    return sorted(views, key=_rank)


def _numbers_in_scope(session: Session, actor: Actor, case_ids: set[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    ordered = sorted(case_ids)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        rows = session.exec(select(Case.id, Case.number).where(Case.id.in_(chunk), case_filter(actor)))  # type: ignore[union-attr]
        out.update({int(i): n for i, n in rows})
    return out


def _view(
    alert: Alert,
    code: str | None,
    name: str | None,
    actor_name: str | None,
    numbers: dict[int, str],
    lang: str,
) -> AlertView:
    case_ids = [c for c in json.loads(alert.case_ids) if c in numbers]
    evidence = json.loads(alert.evidence)
    if alert.kind == AlertKind.risk and "factors" in evidence:
        evidence["factors"] = factor_labels(evidence["factors"], lang)
    return AlertView(
        id=int(alert.id or 0),
        day=alert.day,
        kind=AlertKind(alert.kind),
        scope_type=AlertScope(alert.scope_type),
        scope_code=alert.scope_code,
        scope_name=alert.scope_name,
        category_code=code,
        category_name=name,
        observed=alert.observed,
        expected=alert.expected,
        score=alert.score,
        since=alert.since,
        case_ids=case_ids,
        case_numbers=[numbers[c] for c in case_ids],
        evidence=evidence,
        status=AlertStatus(alert.status),
        acted_by=actor_name,
        acted_at=alert.acted_at,
        reason=alert.reason,
        grid_ids=_ids(alert.grid_ids),
        community_ids=_ids(alert.community_ids),
    )


def factor_labels(factors: list[list[Any]], lang: str | None = None) -> list[tuple[str, float]]:
    """Stored risk factors ``[feature, value, contribution]`` as (label, contribution): "类别：环境卫生",
    "已用时限 80%"… The feature names are the keys of ``warning_factor.*`` in i18n."""
    return [(factor_label(str(f), v, lang), float(c)) for f, v, c in factors]


_PERCENT = frozenset({"elapsed", "grid", "department"})


def factor_label(feature: str, value: Any, lang: str | None = None) -> str:
    """One factor in words: codes through their labels, shares as percentages, counts as whole numbers."""
    lang = lang or current_lang()
    if feature in _PERCENT:
        shown = f"{float(value):.0%}"
    elif feature == "status":
        shown = t_plain(f"enum.status.{value}", lang)
    elif feature == "source":
        shown = t_plain(f"enum.source.{value}", lang)
    elif feature == "category":
        shown = value.get(lang) or value.get("zh", "") if isinstance(value, dict) else str(value)
    elif feature == "weekday":
        shown = t_plain(f"warning_factor.day_{int(value)}", lang)
    else:
        shown = f"{round(float(value)):,}"
    return t_plain(f"warning_factor.{feature}", lang, value=shown)


def case_risks(
    session: Session, case_ids: list[int] | set[int], *, lang: str | None = None
) -> dict[int, RiskView]:
    """The stored overdue risk of these cases (those the last run scored: open and not yet overdue)."""
    out: dict[int, RiskView] = {}
    ordered = sorted(set(case_ids))
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        for row in session.exec(select(CaseRisk).where(CaseRisk.case_id.in_(chunk))):  # type: ignore[attr-defined]
            out[row.case_id] = RiskView(
                probability=row.probability,
                top_factors=factor_labels(json.loads(row.factors), lang),
                computed_at=row.computed_at,
            )
    return out


def high_risk_filter() -> ColumnElement[bool]:
    """SQL condition on `Case` for the queue's 高风险 view: scored at or above :data:`HIGH_RISK`."""
    risky = select(CaseRisk.case_id).where(CaseRisk.probability >= HIGH_RISK)
    return Case.id.in_(risky)  # type: ignore[union-attr]


def hotspot_layer(session: Session, *, category_code: str, day: date | None = None) -> list[HotspotCell]:
    """Every grid's Gi* for a category over the 30 days before `day`'s run (default: the newest run), as the
    map shows it: hot (z > 0) or cold (z < 0) where p < :data:`HOTSPOT_P`, else none."""
    day = day or latest_day(session)
    if day is None:
        return []
    stored = session.exec(select(AlertRun.hotspots).where(AlertRun.day == day)).first()
    if stored is None:
        return []
    layer = json.loads(stored).get(category_code, [])
    codes = dict(session.exec(select(Grid.id, Grid.code)).all())
    cells = []
    for grid_id, z, p in layer:
        significant = p < HOTSPOT_P
        cls: HotspotClass = ("hot" if z > 0 else "cold") if significant else "none"
        cells.append(HotspotCell(int(grid_id), codes.get(int(grid_id), ""), float(z), float(p), cls))
    return cells


def last_run(session: Session) -> RunView | None:
    """The newest run (finished or not)."""
    run = session.exec(select(AlertRun).order_by(AlertRun.day.desc())).first()  # type: ignore[attr-defined]
    if run is None:
        return None
    return RunView(
        day=run.day,
        state=run.state,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_s=run.duration_s,
        counts=json.loads(run.counts),
        model_auc=run.model_auc,
        model_rows=run.model_rows,
        calibration=json.loads(run.calibration),
        error=run.error,
    )


def act_on(
    session: Session, actor: Actor, *, alert_id: int, action: Action | str, reason: str | None = None
) -> AlertView:
    """督办 (supervise the alert's open cases in scope), 专项 (mark it a special-project candidate) or dismiss it
    (a reason is required), in the caller's transaction, with an audit row. Only open alerts are acted on."""
    from dashboard.cases import commands
    from dashboard.cases.change import note_text

    if not may(actor, "alert.act"):
        raise NotPermitted()
    alert = session.exec(select(Alert).where(Alert.id == alert_id, alert_filter(actor))).first()
    if alert is None:
        raise NotFound()
    if alert.status != AlertStatus.open:
        raise Conflict("warning_job.err_already_acted")
    text = note_text(reason, "reason", required=action == "dismiss")
    target = f"alert:{alert.id} {alert.kind}/{alert.scope_code}"
    detail = json.dumps({"day": alert.day.isoformat(), "reason": text}, ensure_ascii=False)
    match action:
        case "supervise":
            supervised = _supervise_cases(
                session, actor, json.loads(alert.case_ids), text, commands.supervise
            )
            alert.status = AlertStatus.supervised
            detail = json.dumps(
                {"day": alert.day.isoformat(), "reason": text, "cases": supervised}, ensure_ascii=False
            )
            audit.record(session, actor, "alert_supervise", target, detail=detail)
        case "project":
            alert.status = AlertStatus.project
            audit.record(session, actor, "alert_project", target, detail=detail)
        case "dismiss":
            alert.status = AlertStatus.dismissed
            audit.record(session, actor, "alert_dismiss", target, detail=detail)
        case _:
            raise Invalid(problems={"action": "errors.invalid"})
    alert.acted_by = actor.id
    alert.acted_at = clock.now()
    alert.reason = text
    session.add(alert)
    session.flush()
    views = alerts_for(session, actor, day=alert.day, kind=alert.kind, status="all")
    return next(v for v in views if v.id == alert.id)


def _supervise_cases(
    session: Session, actor: Actor, case_ids: list[int], reason: str, supervise: Any
) -> list[str]:
    """督办 each open, not yet supervised case of the alert the actor may reach; returns their numbers."""
    if not case_ids:
        return []
    rows = session.exec(
        select(Case.id, Case.version, Case.number).where(
            Case.id.in_(case_ids),  # type: ignore[union-attr]
            Case.status.in_([s.value for s in OPEN_STATUSES]),  # type: ignore[attr-defined]
            Case.supervised.is_(False),  # type: ignore[attr-defined]
            case_filter(actor),
        )
    ).all()
    note = reason or t_plain("warning_job.supervise_note")
    done = []
    for case_id, version, number in rows:
        supervise(session, actor, int(case_id), int(version), note)
        done.append(number)
    return done
