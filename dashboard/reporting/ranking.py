"""The ranking score (考核) of communities, grids and departments in a meeting report.

Units are ranked by::

    score = 100 × (0.40 × on-time closure + 0.30 × satisfaction + 0.15 × (1 − rework) + 0.15 × response)

with each rate an absolute fraction from :mod:`kpi` (按期结案率, 满意率, 返工率, 响应率) over the report
period. Absolute rates, rather than min–max scaling, keep a unit's score independent of how the other
units did and comparable from one meeting to the next. A rate whose denominator is zero (for example no
follow-ups yet) is left out and the remaining weights are scaled up to sum to 1; a unit with none of the
four has no score. Units with fewer than :data:`MIN_CASES` cases reported in the period are flagged
(``few_cases``): they are listed after the ranked units, without a rank, because a handful of cases makes
any rate meaningless.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import pandas as pd
from sqlmodel import Session

from dashboard.kernel.formatting import as_number
from dashboard.kernel.scope import Actor
from dashboard.territory import lookups as territory
from models.enums import Role

SCORE_WEIGHTS: dict[str, float] = {
    "on_time_rate": 0.40,
    "satisfaction_rate": 0.30,
    "rework_rate": 0.15,
    "response_rate": 0.15,
}
"""Weights of the ranking score; the rework rate counts as (1 − rework)."""

INVERTED_RATES = frozenset({"rework_rate"})
"""Rates where lower is better; the score uses one minus the rate."""

MIN_CASES = 10
"""Units with fewer cases reported in the period are flagged and not ranked."""

RANKED_COLUMNS = [
    "key",
    "name",
    "cases",
    "due",
    "on_time_rate",
    "satisfaction_rate",
    "rework_rate",
    "response_rate",
    "overdue_now",
    "score",
    "few_cases",
    "rank",
]


def score(rates: Mapping[str, float | None]) -> float | None:
    """The ranking score (0–100) of one unit from its rates; see the module docstring for the formula."""
    total_weight = 0.0
    total = 0.0
    for name, weight in SCORE_WEIGHTS.items():
        value = as_number(rates.get(name))
        if value is None:
            continue
        total += weight * ((1.0 - value) if name in INVERTED_RATES else value)
        total_weight += weight
    if total_weight == 0:
        return None
    return 100.0 * total / total_weight


def score_axis(scores: Iterable[float]) -> tuple[float, float]:
    """The score axis of a ranking chart: from a little below the lowest score to a little above the
    highest, within 0–100, so that scores of 88 and 95 do not look alike on a 0–100 axis."""
    present = [float(v) for v in scores]
    if not present:
        return 0.0, 100.0
    return float(max(0, math.floor(min(present)) - 2)), float(min(100, math.ceil(max(present)) + 2))


def rank(figures: pd.DataFrame, units: pd.DataFrame, min_cases: int = MIN_CASES) -> pd.DataFrame:
    """Rank `units` (columns ``key``, ``name``) by score from kpi.figures_by output `figures`.

    Units without cases are kept (with zero counts, flagged). Result columns: key, name, cases (reported),
    due, on_time_rate, satisfaction_rate, rework_rate, response_rate, overdue_now, score, few_cases, rank
    (1 = best; <NA> for flagged units or units without a score); ranked units first, by score.
    """
    cols = ["reported", "due", "overdue_now", *SCORE_WEIGHTS]
    fig = figures.set_index("key")[cols] if not figures.empty else pd.DataFrame(columns=cols)
    df = units[["key", "name"]].merge(fig, left_on="key", right_index=True, how="left")
    for c in ("reported", "due", "overdue_now"):
        df[c] = df[c].fillna(0).astype("int64")
    for c in SCORE_WEIGHTS:
        df[c] = df[c].astype("float64")
    df["score"] = [score({c: row[c] for c in SCORE_WEIGHTS}) for _, row in df.iterrows()]
    df["score"] = df["score"].astype("float64")
    df["few_cases"] = df["reported"] < min_cases
    eligible = ~df["few_cases"] & df["score"].notna()
    df["rank"] = pd.Series(pd.NA, index=df.index, dtype="Int64")
    df.loc[eligible, "rank"] = df.loc[eligible, "score"].rank(method="min", ascending=False).astype("int64")
    df["_order"] = (~eligible).astype(int)
    df = df.sort_values(["_order", "score", "reported"], ascending=[True, False, False], na_position="last")
    df = df.drop(columns="_order").rename(columns={"reported": "cases"}).reset_index(drop=True)
    return df[RANKED_COLUMNS]


def units(session: Session, actor: Actor) -> dict[str, pd.DataFrame]:
    """The units ranked in this scope (``key``, ``name``): communities (sub-district scope only), grids,
    departments."""
    grids = territory.grids(session, actor)
    depts = territory.departments(session)
    out: dict[str, pd.DataFrame] = {}
    if actor.role != Role.community:
        comms = territory.communities(session)
        out["community"] = pd.DataFrame({"key": comms["id"], "name": comms["name"]})
    out["grid"] = pd.DataFrame({"key": grids["id"], "name": grids["name"]})
    out["department"] = pd.DataFrame({"key": depts["id"], "name": depts["name"]})
    return out
