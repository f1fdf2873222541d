"""A wall left on: does the server's memory stay flat?

Starts ``streamlit run app.py`` on a database, opens the wall on a display link with the load generator's
tab (:mod:`bench.load_protocol`: every part of the wall reruns itself on its own timer, as in the browser)
with a short refresh interval, for N minutes. Every `--sample` seconds it records the server's resident
memory (``/proc/<pid>/status`` VmRSS), the refreshes so far and their render times. At the end: the
memory slope in MB/hour (least squares over the samples after the first fifth of the run, once caches and
pools have filled), the refresh count, render p50/p95, and all samples as JSON.

    python -m bench.soak --database-url sqlite:///data/bench/sqlite-1000000.db --minutes 30 --refresh 5

The ``wall_refresh_seconds`` setting, when an administrator saved one, takes precedence over ``--refresh``
(the interval the wall actually used is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from bench.load import percentile, run_wall
from bench.load_profiles import Recorder
from bench.load_protocol import Tab
from bench.memory import proc_status
from tests.e2e import browser as b


def slope_mb_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) points, in MB per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / n
    mean_m = sum(m for _, m in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    cov = sum((t - mean_t) * (m - mean_m) for t, m in points)
    return cov / var * 3600 if var else 0.0


def display_token(database_url: str) -> str:
    from sqlmodel import select

    from dashboard.admin.auth import actor_of
    from dashboard.db import dispose_engines, get_engine, session_scope
    from dashboard.reporting import display_links
    from models import User

    with session_scope(get_engine(database_url), write=True) as s:
        admin = actor_of(s.exec(select(User).where(User.username == "admin")).one())
        token = display_links.create_link(s, admin, f"soak {time.strftime('%Y-%m-%d %H:%M')}")
    dispose_engines()
    return token


async def soak(base: str, pid: int, token: str, minutes: float, every: float) -> dict[str, object]:
    recorder = Recorder()
    tab = Tab(base)
    started = time.time()
    deadline = started + minutes * 60
    samples: list[dict[str, float]] = []

    async def sample() -> None:
        while time.time() < deadline:
            rss = proc_status(pid)["VmRSS"] / 1024
            samples.append(
                {
                    "t": round(time.time() - started, 1),
                    "rss_mb": round(rss, 1),
                    "refreshes": len(recorder.samples),
                }
            )
            print(
                f"{samples[-1]['t']:>7.0f} s  RSS {rss:7.1f} MB  refreshes {len(recorder.samples)}",
                flush=True,
            )
            await asyncio.sleep(every)

    wall = asyncio.create_task(run_wall(tab, recorder, token, deadline, role="soak"))
    await sample()
    await wall
    settled = [(s["t"], s["rss_mb"]) for s in samples if s["t"] >= minutes * 60 / 5]
    renders = [s.seconds for s in recorder.samples if s.ok]
    return {
        "minutes": minutes,
        "interval_s": sorted(set(tab.auto_rerun.values())),
        "refreshes": len(renders),
        "errors": sum(1 for s in recorder.samples if not s.ok),
        "render_p50_s": round(percentile(renders, 50), 3) if renders else None,
        "render_p95_s": round(percentile(renders, 95), 3) if renders else None,
        "rss_start_mb": samples[0]["rss_mb"] if samples else None,
        "rss_end_mb": samples[-1]["rss_mb"] if samples else None,
        "slope_mb_per_hour": round(slope_mb_per_hour(settled), 1),
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--refresh", type=int, default=5, help="the wall's refresh interval in seconds")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between two memory samples")
    parser.add_argument("--out", type=Path, help="write the result as JSON here")
    args = parser.parse_args()
    token = display_token(args.database_url)
    env = {"DASHBOARD_WALL_REFRESH_SECONDS": str(args.refresh)}
    with b.app_process(args.database_url, env, start_timeout=120) as (base, pid):
        result = asyncio.run(soak(base, pid, token, args.minutes, args.sample))
    keys = ("minutes", "interval_s", "refreshes", "errors", "render_p50_s", "render_p95_s")
    for key in (*keys, "rss_start_mb", "rss_end_mb", "slope_mb_per_hour"):
        print(f"{key:<20}{result[key]}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
