"""Write bench/LOAD.md and the chart bench/load_curves.html (+ .png) from bench/results/capacity-*.json,
soak.json and load_validate.md (the outputs of bench/capacity.py, bench/soak.py and bench/load_validate.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import common
from bench.capacity import TARGET_P95

BENCH = Path(__file__).resolve().parent
LOAD_MD = BENCH / "LOAD.md"
CHART = BENCH / "load_curves.html"
ORDER = ("sqlite-1", "postgresql-1", "postgresql-2", "postgresql-3")


def label(run: dict[str, Any]) -> str:
    if run["backend"] == "sqlite":
        return "SQLite, 1 process"
    n = run["replicas"]
    return f"PostgreSQL, {n} replica{'s' if n > 1 else ''} + nginx"


def runs(prefix: str = "capacity") -> list[dict[str, Any]]:
    """The staircases on record, in configuration order (``capacity-before-*`` for the code before the
    fixes of bench/LOAD.md)."""
    found = []
    for key in ORDER:
        path = common.RESULTS_DIR / f"{prefix}-{key}.json"
        if path.exists():
            found.append(json.loads(path.read_text()))
    return found


def holds(step: dict[str, Any]) -> bool:
    return step["errors"] == 0 and step["p95"] is not None and step["p95"] < TARGET_P95


def carried(run: dict[str, Any]) -> int | None:
    """The most users of the staircase at which the target held (every smaller step held too)."""
    best = None
    for step in run["steps"]:
        if not holds(step):
            break
        best = step["users"]
    return best


def knee(run: dict[str, Any]) -> int | None:
    """The first step at which the target broke, or p95 at least doubled against the step before and
    reached half the target (a rise from 0.3 to 0.6 s is noise of one run, not a knee)."""
    steps = run["steps"]
    for before, step in zip(steps, steps[1:], strict=False):
        p95 = step["p95"] or 0
        if not holds(step) or (p95 >= 2 * (before["p95"] or 0) and p95 >= TARGET_P95 / 2):
            return step["users"]
    return None


def _apps(step: dict[str, Any]) -> tuple[float, float]:
    """Sum of the app processes' CPU % and the largest app RSS."""
    apps = [v for k, v in step["resources"].items() if k.startswith("app")]
    return sum(a["cpu_pct"] for a in apps), max((a["rss_mb"] for a in apps), default=0.0)


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def table(run: dict[str, Any]) -> list[str]:
    lines = [
        "| users | interactions | errors | p50 s | p95 s | p99 s | login p95 s | app CPU % (sum) | "
        "PostgreSQL CPU % (long-lived processes) | generator CPU % | machine CPU % (of 200) | app RSS max MB | load |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in run["steps"]:
        cpu, rss = _apps(s)
        pg = s["resources"].get("postgresql", {}).get("cpu_pct", "—")
        pg = "—" if isinstance(pg, float) and pg < 0 else pg  # its parallel workers ended inside the window
        gen = s["resources"].get("generator", {}).get("cpu_pct", "—")
        machine = s["resources"].get("machine", {}).get("cpu_pct", "—")
        mark = "" if holds(s) else " ✗"
        lines.append(
            f"| {s['users']} | {s['interactions']} | {s['errors']} | {_s(s['p50'])} | {_s(s['p95'])}{mark} | "
            f"{_s(s['p99'])} | {_s(s['login_p95'])} | {cpu:.0f} | {pg} | {gen} | {machine} | {rss:.0f} | "
            f"{s['load']:.1f} |"
        )
    return lines


def chart(found: list[dict[str, Any]], before: list[dict[str, Any]]) -> Path:
    from plotly.subplots import make_subplots

    from bench.report import _png

    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=(
            "interaction latency p50 (dotted) / p95 (s)",
            "app CPU % (sum)",
            "largest app RSS (MB)",
        ),
    )
    colours = {
        "sqlite-1": "#d62728",
        "postgresql-1": "#1f77b4",
        "postgresql-2": "#2ca02c",
        "postgresql-3": "#9467bd",
    }
    for run in before:
        fig.add_scatter(
            x=[s["users"] for s in run["steps"]],
            y=[s["p95"] for s in run["steps"]],
            name=f"{label(run)} — before",
            line={"color": colours[f"{run['backend']}-{run['replicas']}"], "dash": "dash", "width": 1},
            opacity=0.6,
            row=1,
            col=1,
        )
    for run in found:
        colour = colours[f"{run['backend']}-{run['replicas']}"]
        users = [s["users"] for s in run["steps"]]
        name = label(run)
        fig.add_scatter(
            x=users, y=[s["p95"] for s in run["steps"]], name=name, line={"color": colour}, row=1, col=1
        )
        fig.add_scatter(
            x=users,
            y=[s["p50"] for s in run["steps"]],
            name=f"{name} p50",
            line={"color": colour, "dash": "dot"},
            showlegend=False,
            row=1,
            col=1,
        )
        apps = [_apps(s) for s in run["steps"]]
        fig.add_scatter(
            x=users, y=[a[0] for a in apps], line={"color": colour}, showlegend=False, row=1, col=2
        )
        fig.add_scatter(
            x=users, y=[a[1] for a in apps], line={"color": colour}, showlegend=False, row=1, col=3
        )
    fig.add_hline(y=TARGET_P95, line_dash="dot", line_color="grey", row=1, col=1)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_xaxes(title_text="concurrent users")
    fig.update_layout(width=1400, height=520, template="plotly_white", legend={"orientation": "h", "y": -0.2})
    fig.write_html(CHART, include_plotlyjs=True)
    png = CHART.with_suffix(".png")
    _png(fig, png)
    return png


def _soak() -> list[str]:
    data = common.load_json("soak")
    if not isinstance(data, dict):
        return [
            "Not measured yet: `python -m bench.soak --database-url … --minutes 30 --out bench/results/soak.json`."
        ]
    return [
        f"`python -m bench.soak --minutes {data['minutes']:g}` on the 1 M-case SQLite database: the wall refreshed "
        f"{data['refreshes']} times (every {data['interval_s']} s), {data['errors']} errors, render p50 "
        f"{data['render_p50_s']} s / p95 {data['render_p95_s']} s; RSS {data['rss_start_mb']} → "
        f"{data['rss_end_mb']} MB, slope **{data['slope_mb_per_hour']} MB/hour** (least squares after the first "
        "fifth of the run).",
    ]


def _hold() -> list[str]:
    """The last step kept running: latency and memory window after window."""
    found = [run for run in runs("capacity-hold") if run["steps"]]
    if not found:
        return [
            "Not measured yet: `python -m bench.capacity --backend postgresql --replicas 2 --steps 120 --hold 30`."
        ]
    lines = []
    for run in found:
        apps = sorted(k for k in run["steps"][0]["resources"] if k.startswith("app"))
        lines += [
            f"{label(run)}, {run['steps'][0]['users']} users, measured {run['measured']}:",
            "",
            "| minute | interactions | errors | p50 s | p95 s | "
            + " | ".join(f"{a} RSS MB" for a in apps)
            + " | load |",
            "|---:|---:|---:|---:|---:|" + "---:|" * len(apps) + "---:|",
        ]
        for s in run["steps"]:
            rss = " | ".join(f"{s['resources'].get(a, {}).get('rss_mb', 0):.0f}" for a in apps)
            lines.append(
                f"| {s.get('minute', '—')} | {s['interactions']} | {s['errors']} | {_s(s['p50'])} | "
                f"{_s(s['p95'])} | {rss} | {s['load']:.1f} |"
            )
        lines.append("")
    return lines


def _knee_text(run: dict[str, Any]) -> str:
    found = knee(run)
    return f"{found} users" if found else f"not reached (last step {run['steps'][-1]['users']})"


def _summary(found: list[dict[str, Any]]) -> list[str]:
    lines = ["| configuration | carries (target held) | knee | measured |", "|---|---:|---:|---|"]
    for run in found:
        lines.append(
            f"| {label(run)} | {f'{carried(run)} users' if carried(run) else 'none'} | {_knee_text(run)} | {run['measured']} |"
        )
    return lines


def write(notes: Path = BENCH / "load_notes.md") -> Path:
    """LOAD.md: the hand-written findings (`notes`, kept beside it), then every table from the results."""
    found, before = runs(), runs("capacity-before")
    lines = [
        "# Load and capacity",
        "",
        "Tables and chart written by `python -m bench.capacity --report` from bench/results/ (capacity-*.json,",
        "soak.json, load_validate.md); the findings above them are bench/load_notes.md. How: the docstring of",
        "bench/capacity.py — the sub-district mix (97 grid workers : 14 operators : 18 department handlers :",
        "4 leaders, plus one wall), think times 15–60 s, Streamlit's own protocol, a staircase of users per",
        "configuration, one run each, at 1 M cases, the load generator on the same 2-core machine (its CPU is",
        f"in the tables). Target: p95 interaction < {TARGET_P95:g} s with 0 errors (logins counted apart).",
        "",
        *(notes.read_text().splitlines() if notes.exists() else []),
        "",
        "![curves](load_curves.png)",
        "",
        "## Summary",
        "",
        "After the fixes:",
        "",
        *_summary(found),
        "",
        "Before the fixes:",
        "",
        *_summary(before),
    ]
    for run in found:
        lines += ["", f"## {label(run)}", "", *table(run)]
    for run in before:
        lines += ["", f"## {label(run)} — before the fixes", "", *table(run)]
    validation = common.RESULTS_DIR / "load_validate.md"
    lines += ["", "## The generator against Chromium", ""]
    lines += validation.read_text().splitlines() if validation.exists() else ["Not measured in this run."]
    lines += ["", "## Held at the target load", "", *_hold()]
    lines += ["", "## A wall left on for 30 minutes", "", *_soak(), ""]
    if found or before:
        chart(found, before)
    LOAD_MD.write_text("\n".join(lines))
    return LOAD_MD
