"""Overdue risk (超期风险): for every open case not yet past its deadline, the probability that it will not be
closed by its ``due_at`` (the 按期结案 rule of ``reporting.kpi``), from a model trained on the history.

**Examples.** A case whose deadline has passed has a known answer: missed if it was not closed by then. Each
such case of the last :data:`TRAIN_DAYS` becomes one example, seen at one random moment while it was still
open and not yet due, with only what was known then (features below, all rebuilt from timestamps, the
extension requests and the rework events before that moment). Examples are weighted by how long the case was
open, so that they stand for "an open case on a random day", which is what the model scores. The open cases
are scored the same way, at the moment of the run.

**Features.** category, source, department (categorical); the grid's and the department's overdue rate on
the training examples (smoothed); share of the time limit used and hours left; stage (reported, accepted,
in hand, resolved); the department's intake of the 7 days before (its load); extension requests and reworks
so far; non-working days left before the deadline; the deadline's weekday.

**Model.** ``HistGradientBoostingClassifier`` calibrated with ``CalibratedClassifierCV`` (isotonic, 3 folds).
It is trained on the examples due before the last :data:`HOLDOUT_DAYS` and judged on those due within them:
ROC AUC and a calibration table (mean predicted against observed overdue per decile of prediction). The
model that is judged is the model that scores.

**Why.** Each case's top factors compare its probability with the probability it would have with one
factor (or the two time features together) set to the typical value of the training examples (the median, or
the most common category): the difference, in probability points, is that factor's contribution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import or_
from sqlmodel import Session, select
from threadpoolctl import threadpool_limits

from dashboard.cases.sla import load_calendar
from dashboard.reporting.kpi import not_duplicate
from dashboard.reporting.warning.finding import Finding
from dashboard.reporting.warning.store import HIGH_RISK
from models import Case, CaseEvent, CaseExtension, Category
from models.enums import AlertKind, AlertScope, CaseStatus

TRAIN_DAYS = 400
HOLDOUT_DAYS = 30
MAX_EXAMPLES = 80_000
MIN_EXAMPLES = 200
RISK_ALERTS = 20
"""Open cases with the highest risk (at least HIGH_RISK) that become alerts; the queue shows all of them."""
SEED = 20261202
_HOUR = np.timedelta64(1, "h")

FEATURES = (
    "category",
    "source",
    "department",
    "grid",
    "department_rate",
    "elapsed",
    "hours_left",
    "status",
    "load",
    "extensions",
    "reworks",
    "nonworking",
    "weekday",
)
CATEGORICAL = (0, 1, 2)
GROUPS: dict[str, tuple[int, ...]] = {
    "category": (0,),
    "source": (1,),
    "department": (2, 4),
    "grid": (3,),
    "elapsed": (5, 6),
    "status": (7,),
    "load": (8,),
    "extensions": (9,),
    "reworks": (10,),
    "nonworking": (11,),
    "weekday": (12,),
}
"""The factors a case's risk is explained by, and the feature columns each one sets to its typical value."""


@dataclass
class Cases:
    """The cases the model sees, as arrays (timestamps as numpy datetimes, NaT when missing)."""

    ids: np.ndarray
    numbers: list[str]
    category: np.ndarray
    source: list[str]
    department: np.ndarray
    grid: np.ndarray
    community: np.ndarray
    reported: np.ndarray
    accepted: np.ndarray
    dispatched: np.ndarray
    resolved: np.ndarray
    closed: np.ndarray
    due: np.ndarray


def _dt(values: list[Any]) -> np.ndarray:
    return np.array([np.datetime64(v, "s") if v is not None else np.datetime64("NaT") for v in values])


def _load(session: Session, *where: Any) -> Cases:
    rows = session.exec(
        select(
            Case.id,
            Case.number,
            Case.category_id,
            Case.source,
            Case.department_id,
            Case.grid_id,
            Case.community_id,
            Case.reported_at,
            Case.accepted_at,
            Case.dispatched_at,
            Case.resolved_at,
            Case.closed_at,
            Case.due_at,
        ).where(Case.due_at.is_not(None), Case.status != CaseStatus.rejected.value, not_duplicate(), *where)  # type: ignore[union-attr]
    ).all()
    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in range(13)]
    return Cases(
        ids=np.array(cols[0], dtype=np.int64),
        numbers=list(cols[1]),
        category=np.array(cols[2], dtype=np.int64),
        source=[str(s) for s in cols[3]],
        department=np.array([d or 0 for d in cols[4]], dtype=np.int64),
        grid=np.array(cols[5], dtype=np.int64),
        community=np.array(cols[6], dtype=np.int64),
        reported=_dt(cols[7]),
        accepted=_dt(cols[8]),
        dispatched=_dt(cols[9]),
        resolved=_dt(cols[10]),
        closed=_dt(cols[11]),
        due=_dt(cols[12]),
    )


def _take(c: Cases, keep: np.ndarray) -> Cases:
    idx = np.flatnonzero(keep)
    return Cases(
        ids=c.ids[idx],
        numbers=[c.numbers[i] for i in idx],
        category=c.category[idx],
        source=[c.source[i] for i in idx],
        department=c.department[idx],
        grid=c.grid[idx],
        community=c.community[idx],
        reported=c.reported[idx],
        accepted=c.accepted[idx],
        dispatched=c.dispatched[idx],
        resolved=c.resolved[idx],
        closed=c.closed[idx],
        due=c.due[idx],
    )


@dataclass
class Context:
    """What features are computed against: the department intake times, extension and rework times per
    case, the non-working days, and the codes of the categorical features."""

    intake: dict[int, np.ndarray]
    extensions: dict[int, np.ndarray]
    reworks: dict[int, np.ndarray]
    calendar_start: date
    nonworking_cum: np.ndarray
    categories: dict[int, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)
    departments: dict[int, int] = field(default_factory=dict)
    grid_rate: dict[int, float] = field(default_factory=dict)
    department_rate: dict[int, float] = field(default_factory=dict)
    prior_rate: float = 0.0


def _times_by(rows: list[tuple[int, Any]]) -> dict[int, np.ndarray]:
    out: dict[int, list[Any]] = {}
    for key, at in rows:
        out.setdefault(int(key or 0), []).append(at)
    return {k: np.sort(_dt(v)) for k, v in out.items()}


def _context(session: Session, start: datetime, end: datetime) -> Context:
    intake = session.exec(
        select(Case.department_id, Case.reported_at).where(
            Case.reported_at >= start - timedelta(days=7), Case.reported_at < end, not_duplicate()
        )
    ).all()
    ext = session.exec(
        select(CaseExtension.case_id, CaseExtension.requested_at).where(CaseExtension.requested_at >= start)
    ).all()
    rework = session.exec(
        select(CaseEvent.case_id, CaseEvent.at).where(CaseEvent.action == "rework", CaseEvent.at >= start)
    ).all()
    cal = load_calendar(session)
    first = start.date()
    days = (end.date() - first).days + 400
    flags = np.array([not cal.is_working_day(first + timedelta(days=i)) for i in range(days)], dtype=np.int64)
    return Context(
        intake=_times_by(intake),
        extensions=_times_by(ext),
        reworks=_times_by(rework),
        calendar_start=first,
        nonworking_cum=np.concatenate([[0], np.cumsum(flags)]),
    )


def _count_before(
    times: dict[int, np.ndarray], keys: np.ndarray, at: np.ndarray, window: Any = None
) -> np.ndarray:
    """For each row, how many of its key's `times` fall before `at` (and after ``at - window`` if given)."""
    out = np.zeros(len(keys), dtype=float)
    order = np.argsort(keys, kind="stable")
    uniq, first = np.unique(keys[order], return_index=True)
    bounds = [*first.tolist(), len(keys)]
    for u, lo_row, hi_row in zip(uniq.tolist(), bounds[:-1], bounds[1:], strict=True):
        arr = times.get(int(u))
        if arr is None:
            continue
        rows = order[lo_row:hi_row]
        hi = np.searchsorted(arr, at[rows], side="right")
        lo = np.searchsorted(arr, at[rows] - window, side="left") if window is not None else 0
        out[rows] = hi - lo
    return out


def features(c: Cases, at: np.ndarray, ctx: Context) -> np.ndarray:
    """The feature matrix (:data:`FEATURES` order) of the cases `c` seen at the moments `at`."""
    n = len(c.ids)
    limit = np.maximum((c.due - c.reported) / _HOUR, 1.0)
    elapsed = np.clip(((at - c.reported) / _HOUR) / limit, 0.0, 1.0)
    hours_left = np.maximum((c.due - at) / _HOUR, 0.0)
    status = np.zeros(n)
    for value, stamp in ((1.0, c.accepted), (2.0, c.dispatched), (3.0, c.resolved)):
        status = np.where(~np.isnat(stamp) & (stamp <= at), value, status)
    day0 = np.datetime64(ctx.calendar_start, "D")
    top = len(ctx.nonworking_cum) - 1
    a = np.clip((at.astype("datetime64[D]") - day0).astype(int) + 1, 0, top)
    b = np.clip((c.due.astype("datetime64[D]") - day0).astype(int) + 1, 0, top)
    nonworking = ctx.nonworking_cum[b] - ctx.nonworking_cum[np.minimum(a, b)]
    weekday = ((c.due.astype("datetime64[D]").astype(int) + 3) % 7).astype(float)  # 1970-01-01 was a Thursday
    return np.column_stack(
        [
            [float(ctx.categories.get(int(k), 0)) for k in c.category],
            [float(ctx.sources.get(s, 0)) for s in c.source],
            [float(ctx.departments.get(int(d), 0)) for d in c.department],
            [ctx.grid_rate.get(int(g), ctx.prior_rate) for g in c.grid],
            [ctx.department_rate.get(int(d), ctx.prior_rate) for d in c.department],
            elapsed,
            hours_left,
            status,
            _count_before(ctx.intake, c.department, at, np.timedelta64(7, "D")),
            _count_before(ctx.extensions, c.ids, at),
            _count_before(ctx.reworks, c.ids, at),
            nonworking.astype(float),
            weekday,
        ]
    )


def _rates(keys: np.ndarray, y: np.ndarray, prior: float, m: float = 30.0) -> dict[int, float]:
    out = {}
    for k in np.unique(keys):
        sel = keys == k
        out[int(k)] = float((y[sel].sum() + m * prior) / (sel.sum() + m))
    return out


def _codes(values: list[Any], limit: int = 250) -> dict[Any, int]:
    """Ordinal codes 1… of the most common values (0 for the rest and for unseen ones)."""
    uniq, counts = np.unique(np.array(values, dtype=object).astype(str), return_counts=True)
    order = [u for _, u in sorted(zip(-counts, uniq, strict=True))][:limit]
    return {v: i + 1 for i, v in enumerate(order)}


@dataclass
class Examples:
    cases: Cases
    at: np.ndarray
    y: np.ndarray
    weight: np.ndarray


def examples(c: Cases, as_of: np.datetime64, rng: np.random.Generator) -> Examples:
    """One example per case whose deadline passed before `as_of`: the label (missed) and a random moment of
    its open time before the deadline."""
    missed = np.isnat(c.closed) | (c.closed > c.due)
    end = np.where(missed, c.due, np.minimum(c.closed, c.due))
    span = (end - c.reported) / _HOUR
    keep = (c.due < as_of) & (span > 0)
    c2 = _take(c, keep)
    span = span[keep]
    at = c2.reported + (rng.random(len(span)) * span * 3600).astype("timedelta64[s]")
    weight = np.clip(span, 1.0, 24.0 * 30) / 24.0
    return Examples(c2, at, missed[keep].astype(int), weight)


@dataclass
class Assessment:
    """The run's scores (case id → probability and stored factors), the model's quality and the alerts."""

    scores: dict[int, tuple[float, list[list[Any]]]] = field(default_factory=dict)
    auc: float | None = None
    rows: int = 0
    calibration: list[dict[str, float]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def calibration_table(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Mean predicted and observed overdue rate per decile of the prediction."""
    if len(p) == 0:
        return []
    order = np.argsort(p, kind="stable")
    out = []
    for i, part in enumerate(np.array_split(order, bins)):
        if len(part):
            out.append(
                {
                    "decile": i + 1,
                    "n": int(len(part)),
                    "predicted": round(float(p[part].mean()), 4),
                    "observed": round(float(y[part].mean()), 4),
                }
            )
    return out


def _model() -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier

    base = HistGradientBoostingClassifier(
        max_iter=150,
        learning_rate=0.1,
        max_leaf_nodes=31,
        categorical_features=list(CATEGORICAL),
        random_state=SEED,
    )
    return CalibratedClassifierCV(base, method="isotonic", cv=3)


def _explain(model: Any, x: np.ndarray, typical: np.ndarray) -> np.ndarray:
    """Contribution of each factor group (GROUPS order) to each row's probability."""
    base = model.predict_proba(x)[:, 1]
    out = np.zeros((len(x), len(GROUPS)))
    for gi, cols in enumerate(GROUPS.values()):
        moved = x.copy()
        moved[:, list(cols)] = typical[list(cols)]
        out[:, gi] = base - model.predict_proba(moved)[:, 1]
    return out


def assess(session: Session, as_of: datetime) -> Assessment:
    """Train on the history before `as_of`, judge on its last month, score the cases open at `as_of`."""
    result = Assessment()
    start = as_of - timedelta(days=TRAIN_DAYS)
    history = _load(session, Case.due_at >= start, Case.due_at < as_of)
    open_now = _load(
        session,
        Case.due_at >= as_of,
        Case.reported_at < as_of,
        or_(Case.closed_at.is_(None), Case.closed_at > as_of),  # type: ignore[union-attr]
    )
    rng = np.random.default_rng(SEED)
    ex = examples(history, np.datetime64(as_of, "s"), rng)
    if len(ex.y) > MAX_EXAMPLES:
        pick = np.sort(rng.choice(len(ex.y), MAX_EXAMPLES, replace=False))
        ex = Examples(
            _take(ex.cases, np.isin(np.arange(len(ex.y)), pick)), ex.at[pick], ex.y[pick], ex.weight[pick]
        )
    holdout = ex.cases.due >= np.datetime64(as_of - timedelta(days=HOLDOUT_DAYS), "s")
    train = ~holdout
    if train.sum() < MIN_EXAMPLES or len(np.unique(ex.y[train])) < 2:
        return result
    ctx = _context(session, min(start, _earliest(open_now, start)), as_of)
    ctx.categories = {int(k): v for k, v in _codes(ex.cases.category.tolist()).items()}
    ctx.sources = _codes(ex.cases.source)
    ctx.departments = {int(k): v for k, v in _codes(ex.cases.department.tolist()).items()}
    ctx.prior_rate = float(ex.y[train].mean())
    ctx.grid_rate = _rates(ex.cases.grid[train], ex.y[train], ctx.prior_rate)
    ctx.department_rate = _rates(ex.cases.department[train], ex.y[train], ctx.prior_rate)
    x = features(ex.cases, ex.at, ctx)
    model = _model()  # imports scikit-learn, which loads OpenMP: the limit below must come after it
    with threadpool_limits(1):  # on a busy server OpenMP threads spinning against the pages cost 40× the time
        model.fit(x[train], ex.y[train], sample_weight=ex.weight[train])
        result.rows = int(train.sum())
        if holdout.sum() and len(np.unique(ex.y[holdout])) == 2:
            from sklearn.metrics import roc_auc_score

            p_hold = model.predict_proba(x[holdout])[:, 1]
            result.auc = round(float(roc_auc_score(ex.y[holdout], p_hold)), 4)
            result.calibration = calibration_table(p_hold, ex.y[holdout])
        if len(open_now.ids):
            _score(session, result, model, open_now, as_of, ctx, x[train])
    return result


def _earliest(c: Cases, fallback: datetime) -> datetime:
    if not len(c.reported):
        return fallback
    return min(fallback, c.reported.min().astype(datetime))


def _typical(x: np.ndarray) -> np.ndarray:
    typical = np.median(x, axis=0)
    for col in CATEGORICAL:
        values, counts = np.unique(x[:, col], return_counts=True)
        typical[col] = values[np.argmax(counts)]
    return typical


def _score(
    session: Session,
    result: Assessment,
    model: Any,
    c: Cases,
    as_of: datetime,
    ctx: Context,
    x_train: np.ndarray,
) -> None:
    at = np.full(len(c.ids), np.datetime64(as_of, "s"))
    x = features(c, at, ctx)
    p = model.predict_proba(x)[:, 1]
    contributions = _explain(model, x, _typical(x_train))
    names = _category_names(session)
    keys = list(GROUPS)
    for i, case_id in enumerate(c.ids.tolist()):
        factors = _top_factors(keys, contributions[i], x[i], c, i, names)
        result.scores[int(case_id)] = (round(float(p[i]), 4), factors)
    risky = [i for i in np.argsort(-p, kind="stable") if p[i] >= HIGH_RISK][:RISK_ALERTS]
    for i in risky:
        case_id = int(c.ids[i])
        prob, factors = result.scores[case_id]
        reported = c.reported[i].astype(datetime)
        result.findings.append(
            Finding(
                kind=AlertKind.risk,
                scope_type=AlertScope.case,
                scope_code=c.numbers[i],
                scope_name=c.numbers[i],
                category_id=int(c.category[i]),
                category_code=None,
                observed=prob,
                expected=ctx.prior_rate,
                score=prob,
                since=reported.date(),
                grid_ids={int(c.grid[i])},
                community_ids={int(c.community[i])},
                case_ids=[case_id],
                evidence={"due_at": str(c.due[i]), "probability": prob, "factors": factors},
            )
        )


def _category_names(session: Session) -> dict[int, dict[str, str]]:
    rows = session.exec(select(Category.id, Category.name_zh, Category.name_en)).all()
    return {int(i): {"zh": zh, "en": en} for i, zh, en in rows}


def _top_factors(
    keys: list[str],
    contribution: np.ndarray,
    row: np.ndarray,
    c: Cases,
    i: int,
    names: dict[int, dict[str, str]],
) -> list[list[Any]]:
    """The (up to) three factors that raise the case's risk most, else the one that moves it most."""
    order = np.argsort(-contribution, kind="stable")
    chosen = [j for j in order[:3] if contribution[j] > 0.005] or [int(np.argmax(np.abs(contribution)))]
    values: dict[str, Any] = {
        "category": names.get(int(c.category[i]), {"zh": "", "en": ""}),
        "source": c.source[i],
        "department": row[4],
        "grid": row[3],
        "elapsed": row[5],
        "status": ("reported", "accepted", "dispatched", "resolved")[int(row[7])],
        "load": row[8],
        "extensions": row[9],
        "reworks": row[10],
        "nonworking": row[11],
        "weekday": int(row[12]),
    }
    return [[keys[j], _plain(values[keys[j]]), round(float(contribution[j]), 4)] for j in chosen]


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, np.floating) else value
