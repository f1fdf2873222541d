"""The figures the grid map can colour areas by, who may see them, how their values read, and the periods.

A figure is a column of :mod:`dashboard.territory.map_values`; its spec says where it comes from, its unit,
its palette (see :mod:`dashboard.territory.map_scales`) and whether the period selector changes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import pandas as pd

from dashboard import clock
from dashboard.i18n import has, label, t
from dashboard.kernel.policy import may
from dashboard.kernel.scope import Actor
from dashboard.reporting import kpi
from models.enums import POPULATION_FIELDS


@dataclass(frozen=True)
class FigureSpec:
    """A figure the map can colour areas by.

    `unit` names an i18n key ``map.unit.<unit>``; `palette` is ``reds`` / ``blues`` / ``ylorrd``
    (sequential, more is darker) or ``rdylbu`` (red below the target, blue above; safe for red-green colour blindness); `period` says
    whether the period selector changes it; `min_top` is the least top of a sequential scale, so that
    a small scope (one grid, one case) is not painted in the darkest colour.
    """

    key: str
    source: Literal["cases", "volunteers", "activity", "population"]
    unit: str
    palette: Literal["reds", "blues", "ylorrd", "rdylbu"]
    period: bool = False
    target: float | None = None
    digits: int = 0
    min_top: float = 1.0


RATE_TARGETS: dict[str, float] = {
    "on_time_rate": kpi.ON_TIME_TARGET,
    "satisfaction_rate": kpi.SATISFACTION_TARGET,
    "coverage": 1.0,
}
"""Targets drawn in the legend: kpi's satisfaction and on-time targets, full volunteer coverage."""

MIN_CASES_TOP = 5.0
"""Case counts are coloured on a range of at least 0–5 cases: one open case is light, not alarming."""

POPULATION_KEYS = ("households", "residents", "actual_residents", *POPULATION_FIELDS)
"""The population columns of a grid the map can show (``pop_<key>`` figures)."""

FIGURES: dict[str, FigureSpec] = {
    "open_now": FigureSpec("open_now", "cases", "cases", "reds", min_top=MIN_CASES_TOP),
    "overdue_now": FigureSpec("overdue_now", "cases", "cases", "reds", min_top=MIN_CASES_TOP),
    "per_1000": FigureSpec("per_1000", "cases", "per_1000", "reds", period=True, digits=1),
    "resident_reported": FigureSpec(  # 居民随手拍: where residents report (resident_kpi)
        "resident_reported", "cases", "cases", "reds", period=True, min_top=MIN_CASES_TOP
    ),
    "on_time_rate": FigureSpec(
        "on_time_rate", "cases", "percent", "rdylbu", True, RATE_TARGETS["on_time_rate"], 1
    ),
    "satisfaction_rate": FigureSpec(
        "satisfaction_rate", "cases", "percent", "rdylbu", True, RATE_TARGETS["satisfaction_rate"], 1
    ),
    "coverage": FigureSpec(
        "coverage", "volunteers", "percent", "rdylbu", target=RATE_TARGETS["coverage"], digits=0
    ),
    "days_since": FigureSpec("days_since", "activity", "days", "ylorrd"),
    **{
        f"pop_{name}": FigureSpec(
            f"pop_{name}", "population", "households" if name == "households" else "people", "blues"
        )
        for name in POPULATION_KEYS
    },
}
DEFAULT_FIGURE = "open_now"


def figures_for(actor: Actor) -> list[str]:
    """The figures the actor may colour the map by, in menu order."""
    out: list[str] = []
    for key, spec in FIGURES.items():
        if spec.source == "cases" and not may(actor, "case.browse"):
            continue
        if spec.source == "volunteers" and not may(actor, "volunteer.read"):
            continue
        out.append(key)
    return out


def worst_first(figure: str) -> bool:
    """Whether a ranking by `figure` should sort high values first (counts, days) or low first (rates)."""
    return FIGURES[figure].palette != "rdylbu"


def figure_label(figure: str, lang: str | None = None) -> str:
    if figure.startswith("pop_"):
        name = figure.removeprefix("pop_")
        return (
            label("population", name, lang) if has(f"enum.population.{name}") else t(f"map.pop.{name}", lang)
        )
    return t(f"map.fig.{figure}", lang)


def cases_per_1000(reported: float | None, actual: float | None, registered: float | None) -> float | None:
    """Cases reported in the period per 1,000 residents: the people actually living there (实有人口) when
    known, else the registered residents (户籍人口); None without either."""
    base = actual if actual and not pd.isna(actual) else registered
    if reported is None or not base or pd.isna(base) or pd.isna(reported):
        return None
    return float(reported) / float(base) * 1000.0


def format_value(figure: str, value: float | None, lang: str | None = None, unit: bool = True) -> str:
    """A figure's value as text with its unit ('12 件', '91.2%', '3.4 件/千人'); '—' when unknown."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    spec = FIGURES[figure]
    if spec.unit == "percent":
        return f"{value * 100:.{spec.digits}f}%"
    text = f"{value:,.{spec.digits}f}"
    return f"{text} {t(f'map.unit.{spec.unit}', lang)}" if unit else text


PERIODS: tuple[str, ...] = ("30d", "90d", "month", "last_month", "quarter", "365d")
DEFAULT_PERIOD = "30d"


def period_for(token: str, now: datetime | None = None) -> kpi.Period:
    """The period a selector token stands for (unknown tokens fall back to the last 30 days)."""
    now = now or clock.now()
    match token:
        case "90d":
            return kpi.last_days(90, now)
        case "365d":
            return kpi.last_days(365, now)
        case "month":
            return kpi.month_period(now.date()).clipped(now)
        case "last_month":
            return kpi.month_period(now.date()).previous()
        case "quarter":
            return kpi.quarter_period(now.date()).clipped(now)
        case _:
            return kpi.last_days(30, now)
