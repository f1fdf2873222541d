"""The naive way, for comparison: load every case into pandas, then filter and group there.

This is what a quick Streamlit app does (``pd.read_sql("SELECT * FROM cases")`` and pandas for the rest).
For the overview, queue and map pages it computes the same figures as the page (the formulas of
dashboard/reporting/kpi.py, re-done in pandas) and times the load and the computation separately. Nothing
is rendered, so the naive figures are a lower bound of what a naive page would take. Run in its own
process so that its peak memory can be reported:

    python -m bench.naive sqlite:///data/bench/sqlite-1000000.db --runs 3
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import text

from dashboard import clock
from dashboard.db import get_engine
from dashboard.reporting import kpi
from models.enums import ACTIVE_STATUSES, OPEN_STATUSES

_ACTIVE = [s.value for s in ACTIVE_STATUSES]
_OPEN = [s.value for s in OPEN_STATUSES]
_GOOD = ("satisfied", "basically")
_FOLLOWED = (*_GOOD, "dissatisfied")
_DATES = [
    "reported_at",
    "accepted_at",
    "resolved_at",
    "closed_at",
    "due_at",
    "response_due_at",
    "warn_at",
    "black_at",
]


def load_cases(url: str) -> pd.DataFrame:
    """Every case, every column, as a quick app would load it."""
    with get_engine(url).connect() as conn:
        df = pd.read_sql_query(text("SELECT * FROM cases"), conn)
    for col in _DATES:
        df[col] = pd.to_datetime(df[col])
    return df


def figures(df: pd.DataFrame, period: kpi.Period, now: datetime, by: str | None) -> pd.DataFrame:
    """kpi.figures_by in pandas (counts per group; rates from them)."""
    nd = df[df["duplicate_of_id"].isna()]
    nr = nd[nd["status"] != "rejected"]
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)

    def within(frame: pd.DataFrame, col: str, stop: pd.Timestamp = end) -> pd.DataFrame:
        return frame[(frame[col] >= start) & (frame[col] < stop)]

    def agg(frame: pd.DataFrame, key_col: str | None, **counts: pd.Series) -> pd.DataFrame:
        data = pd.DataFrame({name: s.astype("int64") for name, s in counts.items()}, index=frame.index)
        key = frame[key_col] if key_col else pd.Series(0, index=frame.index)
        if by == "day" and key_col:
            key = frame[key_col].dt.date
        return data.groupby(key).sum()

    key = {"grid": "grid_id", "community": "community_id", "category": "category_id"}.get(by or "", None)
    rep = within(nd, "reported_at")
    due = within(nr, "due_at", min(end, pd.Timestamp(now)))
    acc = within(nr, "accepted_at")
    clo = within(nd[nd["status"] == "closed"], "closed_at")
    res = within(nr, "resolved_at")
    running = nd[nd["status"].isin(_ACTIVE)]
    day_key = "reported_at" if by == "day" else key
    frames = [
        agg(
            rep,
            day_key,
            reported=pd.Series(1, index=rep.index),
            responded_in_time=rep["accepted_at"].notna() & (rep["accepted_at"] <= rep["response_due_at"]),
        ),
        agg(
            due,
            "due_at" if by == "day" else key,
            due=pd.Series(1, index=due.index),
            closed_on_time=due["closed_at"].notna() & (due["closed_at"] <= due["due_at"]),
        ),
        agg(
            acc,
            "accepted_at" if by == "day" else key,
            accepted=pd.Series(1, index=acc.index),
            closed_of_accepted=acc["closed_at"].notna(),
            escalated=acc["escalation_level"].notna(),
        ),
        agg(
            clo,
            "closed_at" if by == "day" else key,
            closed=pd.Series(1, index=clo.index),
            solved=clo["solved"] == 1,
            followed_up=clo["satisfaction"].isin(_FOLLOWED),
            satisfied=clo["satisfaction"].isin(_GOOD),
        ),
        agg(
            res,
            "resolved_at" if by == "day" else key,
            resolved=pd.Series(1, index=res.index),
            reworked=res["rework_count"] > 0,
        ),
    ]
    if by != "day":
        frames.append(
            agg(
                running,
                key,
                open_now=pd.Series(1, index=running.index),
                overdue_now=running["due_at"] < pd.Timestamp(now),
            )
        )
    out = pd.concat(frames, axis=1).fillna(0).astype("int64")
    for rate, (num, den) in kpi.RATE_COLUMNS.items():
        if num in out and den in out:
            out[rate] = out[num] / out[den].where(out[den] > 0)
    return out


def overview(df: pd.DataFrame, now: datetime) -> object:
    """pages/overview.py: four periods' figures, and the last 30 days by community, category and day."""
    last30 = kpi.last_days(30, now)
    month = kpi.month_period(now.date()).clipped(now)
    prev = kpi.month_period(month.previous().start.date())
    prev = kpi.Period(prev.start, prev.start + (month.end - month.start))
    return [
        figures(df, last30, now, None),
        figures(df, last30.previous(), now, None),
        figures(df, month, now, None),
        figures(df, prev, now, None),
        figures(df, last30, now, "community"),
        figures(df, last30, now, "category"),
        figures(df, last30, now, "day"),
    ]


def queue(df: pd.DataFrame, now: datetime) -> object:
    """pages/queue.py default view: counts per status, and the first 50 open cases by deadline."""
    nd = df[df["duplicate_of_id"].isna()]
    counts = nd["status"].value_counts()
    open_cases = nd[nd["status"].isin(_OPEN)].sort_values(["due_at", "id"]).head(50)
    ageing = pd.Series("green", index=open_cases.index)
    ageing[open_cases["warn_at"] <= now] = "yellow"
    ageing[open_cases["due_at"] <= now] = "red"
    ageing[open_cases["black_at"] <= now] = "black"
    return counts, open_cases.assign(ageing=ageing), int(nd["status"].isin(_OPEN).sum())


def map_page(df: pd.DataFrame, now: datetime) -> object:
    """pages/map.py (sub-district view): figures per grid over 30 days, open cases by ageing colour per
    grid, the last case per grid (blind spots) and the most urgent open case points."""
    per_grid = figures(df, kpi.last_days(30, now), now, "grid")
    nd = df[df["duplicate_of_id"].isna()]
    running = nd[nd["status"].isin(_ACTIVE)]
    colours = (
        pd.DataFrame(
            {
                "green": running["warn_at"] > now,
                "yellow": (running["warn_at"] <= now) & (running["due_at"] > now),
                "red": (running["due_at"] <= now) & (running["black_at"] > now),
                "black": running["black_at"] <= now,
            }
        )
        .groupby(running["grid_id"])
        .sum()
    )
    last_case = df.groupby("grid_id")["reported_at"].max()
    blind = last_case < pd.Timestamp(now - timedelta(days=30))
    points = running[running["lon"].notna()].sort_values("due_at").head(2000)
    return per_grid, colours, blind, points[["number", "lon", "lat", "status", "due_at"]]


PAGES: dict[str, Callable[[pd.DataFrame, datetime], object]] = {
    "overview": overview,
    "queue": queue,
    "map": map_page,
}


def measure(url: str, runs: int) -> dict[str, object]:
    """Load time (median of `runs` loads), each page's compute time on the loaded frame, peak RSS."""
    now = clock.now()
    loads = []
    df = pd.DataFrame()
    for _ in range(runs):
        del df
        started = time.perf_counter()
        df = load_cases(url)
        loads.append(time.perf_counter() - started)
    out: dict[str, object] = {"rows": len(df), "load_s": statistics.median(loads), "load_runs": loads}
    out["frame_mb"] = round(df.memory_usage(deep=True).sum() / 2**20, 1)
    for name, fn in PAGES.items():
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            fn(df, now)
            times.append(time.perf_counter() - started)
        out[f"{name}_compute_s"] = statistics.median(times)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.naive")
    parser.add_argument("url")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure(args.url, args.runs)))


if __name__ == "__main__":
    main()
