"""Hotspots (热点): where a category clusters over adjacent grids, by Getis-Ord Gi* (``esda.G_Local`` with
``star=True``) over the grids' Queen contiguity (``libpysal``, from the stored polygons), with permutation
pseudo p-values.

What is clustered is each grid's excess over its own norm in the last 30 days, as a Pearson residual
``(observed − expected) / √expected``, the expected count being the grid's share of the category in the 90
days before, applied to the category's 30-day total. Gi* on raw counts would call the old town a hot spot of
old-building repairs every morning; on the excess, a hot spot is a set of neighbouring grids that rose
together, and a cold spot one that fell silent together (under-reporting is worth a look too).

The map layer keeps every grid's z and p. An alert is a connected set of at least two grids that are each a hot
spot (z > 0, permutation p < :data:`MEMBER_P`) and each above their own norm (residual > 1), whose joint excess
is itself very unlikely (:func:`cluster_p`, the set's window count against its baseline count, below
:data:`CLUSTER_P`): Gi* finds the shape, the count test keeps chance clusters out. (A false-discovery-rate
cut over the grids was tried first: with 999 permutations it found almost nothing even on maps of 64 grids.
bench/detectors.py measures the recall and false alarms of these defaults.)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np
from scipy import stats
from sqlmodel import Session, select

from dashboard.reporting.kpi import not_duplicate
from dashboard.reporting.warning.finding import Finding
from dashboard.reporting.warning.history import DailyCounts, Territory
from dashboard.territory import geo
from models import Case
from models.enums import AlertKind, AlertScope

WINDOW_DAYS = 30
BASELINE_DAYS = 90
HISTORY_DAYS = WINDOW_DAYS + BASELINE_DAYS
"""Days of counts a hotspot run needs before its day."""
PERMUTATIONS = 999
SEED = 20261202
"""Fixed seed of the permutations, so that a rerun on the same data gives the same p-values."""
MEMBER_P = 0.05
CLUSTER_P = 1e-4
MIN_CATEGORY_CASES = 20
"""A category with fewer cases in the window is not tested (its residuals are noise)."""
MIN_GRIDS = 2
MAX_CASES = 300


def adjacency(territory: Territory) -> dict[int, list[int]]:
    """Queen contiguity between grids (array indices), on coordinates snapped to 1e-7° so that a vertex two
    polygons share is one vertex; grids whose boundaries run side by side within a couple of metres (imported
    boundaries with slivers, :func:`geo.neighbours`) count as neighbours too, and a grid left without any
    gets its nearest one, so that every grid has a neighbourhood."""
    import shapely
    from libpysal.weights import Queen

    geoms = [shapely.set_precision(geo.from_geojson(p), 1e-7) for p in territory.polygons]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        queen = Queen.from_iterable(geoms)
    out = {i: {int(j) for j in queen.neighbors.get(i, [])} for i in range(len(geoms))}
    near = geo.neighbours(list(enumerate(territory.polygons)), tolerance_m=2.0)
    for i, js in near.items():
        out[i] |= js
    centres = np.array([[g.centroid.x, g.centroid.y] for g in geoms]) if geoms else np.zeros((0, 2))
    for i in range(len(geoms)):
        if not out[i] and len(geoms) > 1:
            d = np.hypot(*(centres - centres[i]).T)
            d[i] = np.inf
            j = int(np.argmin(d))
            out[i].add(j)
            out[j].add(i)
    return {i: sorted(js) for i, js in out.items()}


@dataclass
class Layer:
    """Gi* of every grid for one category: z, pseudo p, and the grids' counts and expectations."""

    z: np.ndarray
    p: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    base: np.ndarray
    hot: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def gi_star(values: np.ndarray, adjacent: dict[int, list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Gi* z-scores and permutation pseudo p-values (one-sided, in the direction of z) of `values`.

    Gi* divides by the sum of the values, so they are shifted to be positive first; a shift leaves the
    z-score and the permutation p-value of each grid unchanged (both depend on its neighbourhood's sum only
    through an affine function)."""
    from esda import G_Local
    from libpysal.weights import W

    w = W({i: list(js) for i, js in adjacent.items()}, silence_warnings=True)
    values = values - values.min() + 1.0
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        g = G_Local(values, w, transform="B", permutations=PERMUTATIONS, star=True, seed=SEED, n_jobs=1)
    z = np.nan_to_num(np.asarray(g.Zs, dtype=float))
    p = np.nan_to_num(np.asarray(g.p_sim, dtype=float), nan=1.0)
    return z, p


def layers(daily: DailyCounts, territory: Territory, neighbours: dict[int, list[int]]) -> dict[int, Layer]:
    """Gi* per category (Territory index) over the :data:`WINDOW_DAYS` that end `daily`."""
    counts = daily.counts[:, :, -HISTORY_DAYS:]
    window = counts[:, :, BASELINE_DAYS:].sum(-1).astype(float)
    base = counts[:, :, :BASELINE_DAYS].sum(-1).astype(float)
    n = counts.shape[0]
    out: dict[int, Layer] = {}
    if n < 3:
        return out
    for k in range(counts.shape[1]):
        total = window[:, k].sum()
        if total < MIN_CATEGORY_CASES:
            continue
        share = (base[:, k] + 0.5) / (base[:, k].sum() + 0.5 * n)
        expected = share * total
        residual = (window[:, k] - expected) / np.sqrt(expected + 0.5)
        z, p = gi_star(residual, neighbours)
        layer = Layer(z=z, p=p, observed=window[:, k], expected=expected, base=base[:, k])
        layer.hot = (z > 0) & (p < MEMBER_P) & (residual > 1.0)
        out[k] = layer
    return out


def cluster_p(window: float, base: float, window_total: float, base_total: float) -> float:
    """P(at least `window` of the set's `window + base` cases fall in the window) when the set keeps its share:
    a conditional binomial test that also carries the noise of the baseline share."""
    share = window_total / max(window_total + base_total, 1.0)
    return float(stats.binom.sf(window - 1, window + base, share))


def _components(members: list[int], neighbours: dict[int, list[int]]) -> list[list[int]]:
    todo, out = set(members), []
    while todo:
        stack, part = [todo.pop()], []
        while stack:
            i = stack.pop()
            part.append(i)
            for j in neighbours.get(i, []):
                if j in todo:
                    todo.remove(j)
                    stack.append(j)
        out.append(sorted(part))
    return out


def detect(
    session: Session,
    territory: Territory,
    daily: DailyCounts,
    day: date,
    neighbours: dict[int, list[int]] | None = None,
) -> tuple[list[Finding], dict[str, list[list[float]]]]:
    """Hotspot alerts of the 30 days before `day`, and the map layer ``{category code: [[grid id, z, p]]}``."""
    neighbours = neighbours if neighbours is not None else adjacency(territory)
    found = layers(daily, territory, neighbours)
    layer_out: dict[str, list[list[float]]] = {}
    findings: list[Finding] = []
    since = day - timedelta(days=WINDOW_DAYS)
    for k, layer in found.items():
        code = territory.category_codes[k]
        layer_out[code] = [
            [int(g), round(float(z), 3), round(float(p), 4)]
            for g, z, p in zip(territory.grid_ids.tolist(), layer.z, layer.p, strict=True)
        ]
        for part in _components(np.flatnonzero(layer.hot).tolist(), neighbours):
            observed, expected = layer.observed[part].sum(), layer.expected[part].sum()
            p = cluster_p(observed, layer.base[part].sum(), layer.observed.sum(), layer.base.sum())
            if len(part) >= MIN_GRIDS and p < CLUSTER_P:
                findings.append(
                    _finding(session, territory, k, part, layer, observed, expected, p, since, day)
                )
    return findings, layer_out


def _finding(
    session: Session,
    territory: Territory,
    k: int,
    part: list[int],
    layer: Layer,
    observed: float,
    expected: float,
    p: float,
    since: date,
    day: date,
) -> Finding:
    lead = max(part, key=lambda i: layer.z[i])
    grid_ids = [int(territory.grid_ids[i]) for i in part]
    category_id = int(territory.category_ids[k])
    cases = session.exec(
        select(Case.id)
        .where(
            Case.category_id == category_id,
            Case.grid_id.in_(grid_ids),  # type: ignore[attr-defined]
            Case.reported_at >= datetime.combine(since, time()),
            Case.reported_at < datetime.combine(day, time()),
            not_duplicate(),
        )
        .order_by(Case.reported_at)  # type: ignore[arg-type]
        .limit(MAX_CASES)
    ).all()
    return Finding(
        kind=AlertKind.hotspot,
        scope_type=AlertScope.grid,
        scope_code=territory.grid_codes[lead],
        scope_name="、".join(territory.grid_names[i] for i in part)[:200],
        category_id=category_id,
        category_code=territory.category_codes[k],
        observed=float(observed),
        expected=round(float(expected), 2),
        score=p,
        since=since,
        grid_ids=set(grid_ids),
        community_ids={int(territory.grid_community[i]) for i in part},
        case_ids=[int(c) for c in cases],
        evidence={
            "window_days": WINDOW_DAYS,
            "baseline_days": BASELINE_DAYS,
            "permutations": PERMUTATIONS,
            "grids": [
                {
                    "grid_id": int(territory.grid_ids[i]),
                    "code": territory.grid_codes[i],
                    "name": territory.grid_names[i],
                    "count": int(layer.observed[i]),
                    "expected": round(float(layer.expected[i]), 2),
                    "z": round(float(layer.z[i]), 2),
                    "p": round(float(layer.p[i]), 4),
                }
                for i in part
            ],
        },
    )
