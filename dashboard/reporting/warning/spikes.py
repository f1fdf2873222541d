"""Spikes (异常增长): a grid's or a community's count of one category over the last 1, 2, 3 or 7 days against the
count expected from its own history, flagged when seeing at least that many by chance is very unlikely.

The expected count is the cell's share of its category over the 8 weeks before the last week (smoothed),
applied to what the *rest* of the sub-district reported of that category in the window::

    expected = share / (1 − share) × (category's cases elsewhere in the window)

Conditioning on the rest of the sub-district carries weekday, season, holidays, weather and trend without
modelling them (a wave everywhere is no local spike), and leaving the cell itself out keeps a spike from
raising its own expectation. A cell that holds half of its category or more (a small district) has no
"elsewhere" to lean on and uses its own daily mean instead. Counts are overdispersed (weeks differ more than a
Poisson count would), so the tail probability comes from a negative binomial whose variance φ·μ is estimated
per category and level from the history's weekly counts.

A cell is flagged when P(X ≥ observed) < :data:`P_THRESHOLD` and the excess is at least
:data:`MIN_EXCESS` cases; of its windows the most significant one is reported (its first day is the alert's
"since"). ``bench/detectors.py`` measures recall and the false alarms per community and month on quiet
history that the defaults give.
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

WINDOWS: tuple[int, ...] = (1, 2, 3, 7)
"""Lengths in days of the windows ending the day before the run ("yesterday", …, "this week")."""
BASELINE_DAYS = 56
"""History the share is learnt from: 8 weeks, ending where the longest window starts."""
HISTORY_DAYS = BASELINE_DAYS + max(WINDOWS)
"""Days of counts a spike run needs before its day."""
P_THRESHOLD = 2e-4
"""Tail probability below which a window is a spike (tuned with bench/detectors.py for about one false alarm
per community per month on quiet history, or fewer)."""
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


def _dispersion(counts: np.ndarray, expected_weekly: np.ndarray) -> np.ndarray:
    """φ per category: mean Pearson χ² of the history's weekly counts (cells with ≥ 1 expected case), in [1, 4]."""
    weeks = BASELINE_DAYS // 7
    observed = counts[:, :, : weeks * 7].reshape(counts.shape[0], counts.shape[1], weeks, 7).sum(-1)
    e = expected_weekly
    used = e >= 1.0
    chi = np.where(used, (observed - e) ** 2 / np.maximum(e, 1e-9), 0.0)
    n = used.sum(axis=(0, 2))
    phi = np.where(n > 1, chi.sum(axis=(0, 2)) / np.maximum(n - 1, 1), 1.0)
    return np.clip(phi, 1.0, 4.0)


def _tail(observed: np.ndarray, expected: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """P(X ≥ observed) for a negative binomial of mean `expected` and variance φ·expected (Poisson at φ ≈ 1)."""
    p_pois = stats.poisson.sf(observed - 1, expected)
    over = phi > 1.05
    size = expected / np.maximum(phi - 1.0, 0.05)
    p_nb = stats.nbinom.sf(observed - 1, size, size / (size + expected))
    return np.where(over, p_nb, p_pois)


@dataclass(frozen=True)
class CellTest:
    """For each cell × category: the best window's observed, expected, p, length, and the daily expectations."""

    observed: np.ndarray
    expected: np.ndarray
    p: np.ndarray
    window: np.ndarray
    daily_expected: np.ndarray


def score_cells(counts: np.ndarray) -> CellTest:
    """Test every cell × category of `counts` (``[cells, categories, HISTORY_DAYS]``, the last day the day
    before the run) over every window."""
    n_cells, _, days = counts.shape
    total = counts.sum(axis=0)  # [K, D]
    hist = slice(0, BASELINE_DAYS)
    n_hist = counts[:, :, hist].sum(-1).astype(float)
    share = (n_hist + 0.5) / (total[:, hist].sum(-1)[None, :] + 0.5 * n_cells)
    conditional = share < 0.5
    ratio = share / (1.0 - np.minimum(share, 0.99))
    elsewhere = total[None, :, :] - counts
    own_daily = np.maximum(n_hist, 0.5) / BASELINE_DAYS
    daily_expected = np.where(conditional[:, :, None], ratio[:, :, None] * elsewhere, own_daily[:, :, None])
    daily_expected = np.maximum(daily_expected, 0.5 / BASELINE_DAYS)
    weeks = BASELINE_DAYS // 7
    weekly_e = daily_expected[:, :, : weeks * 7].reshape(n_cells, -1, weeks, 7).sum(-1)
    phi = _dispersion(counts, weekly_e)[None, :]
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
        p = _tail(obs, exp, np.broadcast_to(phi, obs.shape))
        p = np.where(obs - exp >= MIN_EXCESS, p, 1.0)
        better = p < best_p
        best_p = np.where(better, p, best_p)
        best["observed"] = np.where(better, obs, best["observed"])
        best["expected"] = np.where(better, exp, best["expected"])
        best["window"] = np.where(better, w, best["window"])
    return CellTest(best["observed"], best["expected"], best_p, best["window"], daily_expected)


def detect(
    session: Session,
    territory: Territory,
    daily: DailyCounts,
    day: date,
    *,
    threshold: float = P_THRESHOLD,
) -> list[Finding]:
    """Spikes of the windows ending the day before `day`, per grid × category and community × category.
    `daily` must cover at least the :data:`HISTORY_DAYS` before `day`."""
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
        for c, k in zip(*np.nonzero(result.p < threshold), strict=True):
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
