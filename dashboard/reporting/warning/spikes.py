"""Spikes (异常增长): a grid's or a community's count of one category over the last 1, 2 or 7 days (yesterday, the
last two days, the week) against the count expected from its own history, flagged when seeing at least that
many by chance is very unlikely.

**The test.** A cell's share of its category over the 8 weeks before the last week is its norm. Given how
many cases of the category the whole sub-district reported in a window (N), the cell's count is binomial
with that share if nothing local happened; the share itself is only estimated (from the cell's n of the
history's H cases), so the count's distribution is the beta-binomial posterior predictive
``X | N ~ BetaBinomial(N, n + ½, H − n + …)``. Conditioning on the sub-district's count carries weekday,
season, holidays, weather and trend without modelling them (a wave everywhere is no local spike); the
displayed expectation is ``share / (1 − share) × (the category's cases elsewhere)``, so a spike does not
raise its own. A cell that holds half of its category or more (a small district) has no "elsewhere" to lean
on and is tested against its own daily rate (the gamma–Poisson predictive: a negative binomial).

**Variance.** Counts are Poisson-like when reports arrive independently; where the history says otherwise
(the weekly counts vary around their norm more than binomially, Pearson χ² significant at 1 %), the excess
is a random relative variation δ² of the cell's rate, estimated per category and level and added to the
share's own uncertainty. A constant factor φ·μ learnt on weekly counts would overstate the variance of
a two-day window (a drifting rate adds δ²μ², not φμ); data without excess get no inflation at all.

**Multiple testing.** Every cell × category × window is a test each day. The false alarms allowed (about one
per community and month on quiet history) are spent where the power is: community cells, whose counts are
large enough for a thinly spread rise to show, get :data:`P_COMMUNITY`; the many tiny grid cells get the
much smaller :data:`P_GRID` (a rise concentrated in one grid has a tiny p anyway). A cell is flagged when
P(X ≥ observed) is below its level's threshold and the excess is at least :data:`MIN_EXCESS` cases; of its
windows the most significant one is reported (its first day is the alert's "since"). ``bench/detectors.py``
measures recall and the false alarms per community and month on quiet history that the defaults give.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
from scipy import stats
from sqlmodel import Session, select

from dashboard.reporting.kpi import not_duplicate
from dashboard.reporting.warning.finding import Finding
from dashboard.reporting.warning.history import DailyCounts, Territory, by_community
from models import Case
from models.enums import AlertKind, AlertScope

WINDOWS: tuple[int, ...] = (1, 2, 7)
"""Lengths in days of the windows ending the day before the run (yesterday, the last two days, the week)."""
BASELINE_DAYS = 56
"""History the share is learnt from: 8 weeks, ending where the longest window starts."""
HISTORY_DAYS = BASELINE_DAYS + max(WINDOWS)
"""Days of counts a spike run needs before its day."""
P_COMMUNITY = 3e-3
P_GRID = 1e-4
"""Tail probabilities below which a community's or a grid's window is a spike (tuned with
bench/detectors.py for at most about one false alarm per community per month on quiet history, the
community level taking most of that budget)."""
DISPERSION_ALPHA = 0.01
"""Significance of the Pearson χ² from which a category's history counts as over-dispersed."""
MIN_EXCESS = 3.0
"""Cases above the expected count a spike needs at least (a rare category's 0 → 2 is no spike)."""
MAX_CASES = 200
"""Case ids kept with one alert."""


@dataclass(frozen=True)
class _Level:
    scope: AlertScope
    ids: np.ndarray
    codes: list[str]
    names: list[str]
    counts: np.ndarray  # [cells, categories, days]


def excess_variance(counts: np.ndarray) -> np.ndarray:
    """δ² per category: the relative variance of a cell's rate beyond Poisson noise, from the history's weekly
    counts. The weeks × cells table of a category is tested for homogeneity (Pearson χ², expected = the
    cell's share of the 8 weeks × the week's total, cells expecting ≥ 1 case a week, df = (cells − 1) ×
    (weeks − 1)); where that is not significant at :data:`DISPERSION_ALPHA` δ² is 0, else its moment
    estimate ``Σ[(O − E)²·n/df − E] / ΣE²`` (the fitted margins corrected for), at most 1."""
    weeks = BASELINE_DAYS // 7
    cells, categories = counts.shape[:2]
    observed = counts[:, :, : weeks * 7].reshape(cells, categories, weeks, 7).sum(-1).astype(float)
    totals = observed.sum(axis=0)  # [K, weeks]
    share = observed.sum(axis=2) / np.maximum(totals.sum(axis=1), 1.0)[None, :]  # [cells, K]
    expected = share[:, :, None] * totals[None, :, :]
    used = np.broadcast_to((expected >= 1.0).all(axis=2, keepdims=True), expected.shape)
    squares = np.where(used, (observed - expected) ** 2, 0.0)
    chi2 = (squares / np.maximum(expected, 1e-9)).sum(axis=(0, 2))
    rows = used[:, :, 0].sum(axis=0)
    df = np.maximum(rows - 1, 0) * (weeks - 1)
    significant = (df > 0) & (stats.chi2.sf(chi2, np.maximum(df, 1)) < DISPERSION_ALPHA)
    n = rows * weeks
    excess = (squares * (n / np.maximum(df, 1))[None, :, None] - np.where(used, expected, 0.0)).sum(
        axis=(0, 2)
    )
    moments = excess / np.maximum(np.where(used, expected**2, 0.0).sum(axis=(0, 2)), 1e-9)
    return np.where(significant, np.clip(moments, 0.0, 1.0), 0.0)


def _tail(
    observed: np.ndarray,
    window_total: np.ndarray,
    share: np.ndarray,
    history_total: np.ndarray,
    own: np.ndarray,
    own_mean: np.ndarray,
    delta2: np.ndarray,
) -> np.ndarray:
    """P(X ≥ observed): beta-binomial on the window's total where `share` < ½ (its Beta's relative variance
    the estimate's plus δ²), else the negative binomial of the cell's own rate (gamma of `own` + ½ cases)."""
    s = np.clip(share, 1e-9, 0.99)
    relative = (1.0 - s) / (s * (history_total + 1.0)) + delta2
    concentration = np.maximum((1.0 - s) / (s * relative) - 1.0, 1e-3)
    p_share = stats.betabinom.sf(observed - 1, window_total, s * concentration, (1.0 - s) * concentration)
    size = 1.0 / (1.0 / (own + 0.5) + delta2)
    p_own = stats.nbinom.sf(observed - 1, size, size / (size + own_mean))
    return np.where(share < 0.5, p_share, p_own)


@dataclass(frozen=True)
class CellTest:
    """For each cell × category: the best window's observed, expected, p, length, and the daily expectations;
    δ² per category."""

    observed: np.ndarray
    expected: np.ndarray
    p: np.ndarray
    window: np.ndarray
    daily_expected: np.ndarray
    delta2: np.ndarray


def score_cells(counts: np.ndarray) -> CellTest:
    """Test every cell × category of `counts` (``[cells, categories, HISTORY_DAYS]``, the last day the day
    before the run) over every window."""
    n_cells, _, days = counts.shape
    total = counts.sum(axis=0)  # [K, D]
    hist = slice(0, BASELINE_DAYS)
    n_hist = counts[:, :, hist].sum(-1).astype(float)
    history_total = total[:, hist].sum(-1)[None, :] + 0.5 * n_cells
    share = (n_hist + 0.5) / history_total
    conditional = share < 0.5
    ratio = share / (1.0 - np.minimum(share, 0.99))
    elsewhere = total[None, :, :] - counts
    own_daily = np.maximum(n_hist, 0.5) / BASELINE_DAYS
    daily_expected = np.where(conditional[:, :, None], ratio[:, :, None] * elsewhere, own_daily[:, :, None])
    daily_expected = np.maximum(daily_expected, 0.5 / BASELINE_DAYS)
    delta2 = excess_variance(counts)
    best_p = np.ones(counts.shape[:2])
    best = {
        "observed": np.zeros(counts.shape[:2]),
        "expected": np.zeros(counts.shape[:2]),
        "window": np.zeros(counts.shape[:2], dtype=np.int64),
    }
    for w in WINDOWS:
        recent = slice(days - w, days)
        obs = counts[:, :, recent].sum(-1).astype(float)
        exp = daily_expected[:, :, recent].sum(-1)
        window_total = np.broadcast_to(total[None, :, recent].sum(-1), obs.shape)
        own_mean = (n_hist + 0.5) / BASELINE_DAYS * w
        p = _tail(obs, window_total, share, history_total, n_hist, own_mean, delta2[None, :])
        p = np.where(obs - exp >= MIN_EXCESS, p, 1.0)
        better = p < best_p
        best_p = np.where(better, p, best_p)
        best["observed"] = np.where(better, obs, best["observed"])
        best["expected"] = np.where(better, exp, best["expected"])
        best["window"] = np.where(better, w, best["window"])
    return CellTest(best["observed"], best["expected"], best_p, best["window"], daily_expected, delta2)


THRESHOLDS: dict[AlertScope, float] = {AlertScope.grid: P_GRID, AlertScope.community: P_COMMUNITY}


def detect(
    session: Session,
    territory: Territory,
    daily: DailyCounts,
    day: date,
    *,
    thresholds: dict[AlertScope, float] | None = None,
) -> list[Finding]:
    """Spikes of the windows ending the day before `day`, per grid × category and community × category
    (`thresholds` per level, default :data:`THRESHOLDS`). `daily` must cover at least the
    :data:`HISTORY_DAYS` before `day`."""
    thresholds = thresholds or THRESHOLDS
    counts = daily.counts[:, :, -HISTORY_DAYS:]
    first = daily.day(daily.days - HISTORY_DAYS)
    levels = [
        _Level(AlertScope.grid, territory.grid_ids, territory.grid_codes, territory.grid_names, counts),
        _Level(
            AlertScope.community,
            territory.community_ids,
            territory.community_codes,
            territory.community_names,
            by_community(territory, counts),
        ),
    ]
    community_of = dict(zip(territory.grid_ids.tolist(), territory.grid_community.tolist(), strict=True))
    findings: list[Finding] = []
    for level in levels:
        result = score_cells(level.counts)
        for c, k in zip(*np.nonzero(result.p < thresholds[level.scope]), strict=True):
            findings.append(_finding(level, result, int(c), int(k), territory, first, day, community_of))
    for f in findings:
        f.case_ids = _cases(session, f, day)
    return findings


def _finding(
    level: _Level,
    result: CellTest,
    c: int,
    k: int,
    territory: Territory,
    first: date,
    day: date,
    community_of: dict[int, int],
) -> Finding:
    window = int(result.window[c, k])
    since = day - timedelta(days=window)
    shown_from = HISTORY_DAYS - window - 7
    daily = [
        {
            "day": (first + timedelta(days=d)).isoformat(),
            "observed": int(level.counts[c, k, d]),
            "expected": round(float(result.daily_expected[c, k, d]), 2),
        }
        for d in range(shown_from, HISTORY_DAYS)
    ]
    cell_id = int(level.ids[c])
    grids = {cell_id} if level.scope == AlertScope.grid else set()
    communities = {community_of[cell_id]} if level.scope == AlertScope.grid else {cell_id}
    return Finding(
        kind=AlertKind.spike,
        scope_type=level.scope,
        scope_code=level.codes[c],
        scope_name=level.names[c],
        category_id=int(territory.category_ids[k]),
        category_code=territory.category_codes[k],
        observed=float(result.observed[c, k]),
        expected=round(float(result.expected[c, k]), 2),
        score=float(result.p[c, k]),
        since=since,
        grid_ids=grids,
        community_ids=communities,
        evidence={
            "level": str(level.scope),
            "window_days": window,
            "baseline_days": BASELINE_DAYS,
            "dispersion": round(float(result.delta2[k]), 4),
            "daily": daily,
        },
    )


def _cases(session: Session, finding: Finding, day: date) -> list[int]:
    where = [
        Case.category_id == finding.category_id,
        Case.reported_at >= datetime.combine(finding.since, time()),
        Case.reported_at < datetime.combine(day, time()),
        not_duplicate(),
    ]
    if finding.scope_type == AlertScope.grid:
        where.append(Case.grid_id == next(iter(finding.grid_ids)))
    else:
        where.append(Case.community_id == next(iter(finding.community_ids)))
    rows = session.exec(select(Case.id).where(*where).order_by(Case.reported_at).limit(MAX_CASES)).all()  # type: ignore[arg-type]
    return [int(r) for r in rows]
