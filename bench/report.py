"""Write bench/RESULTS.md and the chart bench/page_times.html (+ .png) from the JSON in bench/results/.

    python -m bench.report

Reads pages.json (bench.pages), memory.json (bench.memory), seed.json (bench.seed_time) and, when present,
before.json (bench.pages run on the code and database as they were before the performance work); the
hand-written analysis in bench/NOTES.md goes in after the targets.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench import common
from dashboard.config import ROOT

OUT = ROOT / "bench" / "RESULTS.md"
CHART = ROOT / "bench" / "page_times.html"
TARGET_WARM, TARGET_COLD, TARGET_BARE, TARGET_NAIVE = 1.0, 3.0, 3.0, 10.0
TARGET_RSS_MB, TARGET_MAP_KB, TARGET_SEED_DEFAULT, TARGET_SEED_1M = 600, 2048, 60, 600
MIN_FLOOR = 0.05
"""Pages whose bare SQL takes less than this (seconds) are held to the absolute targets only: their time is
Streamlit's fixed cost of building the page, and a ratio to a few milliseconds of SQL says nothing."""
CHART_PAGES = (
    "overview",
    "wall",
    "map",
    "queue",
    "report",
    "field",
    "my_grid@grid",
    "department_queue",
    "service_hours",
    "coverage",
    "volunteers",
    "case_detail",
)
BACKEND = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def _s(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _x(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}×"


def _ok(good: bool | None) -> str:
    return "—" if good is None else ("✅" if good else "❌")


def _index(rows: list[dict[str, Any]]) -> dict[tuple[str, int, str], dict[str, Any]]:
    return {(r["backend"], r["cases"], r["page"]): r for r in rows}


def _ratio(row: dict[str, Any] | None) -> float | None:
    if not row or not row.get("cold_s") or not row.get("bare_s"):
        return None
    return row["cold_s"] / row["bare_s"]


def _size_list(rows: list[dict[str, Any]]) -> list[int]:
    return sorted({r["cases"] for r in rows})


def machine_section(pages: dict[str, Any] | None, extra: list[dict[str, Any] | None]) -> list[str]:
    m = (pages or {}).get("machine") or next((e["machine"] for e in extra if e and "machine" in e), None)
    if not m:
        return []
    loads = sorted({r.get("load", "") for r in (pages or {}).get("pages", []) if r.get("load")})
    one_minute = [float(x.split()[0]) for x in loads if x]
    lines = [
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores (virtual machine)",
        f"- Memory: {m['memory']}",
        f"- Disk: {m['disk']}",
        f"- OS: {m['os']}; Python {m['python']}; SQLite {m['sqlite']}",
    ]
    if pm := (pages or {}).get("postgresql"):
        lines.append(f"- PostgreSQL: {pm} (settings: `{common.PG_OPTIONS}`, fsync off — a throw-away server)")
    if one_minute:
        lines.append(
            f"- Load: the machine is shared with other sessions running test suites; 1-minute load average "
            f"during the page runs {min(one_minute):.1f}–{max(one_minute):.1f} "
            f"(median {statistics.median(one_minute):.1f}) on 2 cores. Times are medians of "
            f"{(pages or {}).get('runs', '?')} runs."
        )
    return [*lines, ""]


Cells = dict[str, dict[str, tuple[str, bool | None]]]
"""The targets table being filled: target → backend → (measured figure, verdict)."""


def _put(cells: Cells, target: str, backend: str, text: str, ok: bool | None) -> None:
    cells.setdefault(target, {})[backend] = (text, ok)


def _page_targets(
    cells: Cells, backend: str, mine: list[dict[str, Any]], naive: dict[str, Any] | None
) -> None:
    """Render times, our time against bare SQL, and the naive way against ours, on one backend."""
    for key, limit, name in (("warm_s", TARGET_WARM, "warm"), ("cold_s", TARGET_COLD, "cold")):
        value, page = max((r[key], r["page"]) for r in mine)
        target = f"every page's {name} render < {limit:.0f} s (slowest page)"
        _put(cells, target, backend, f"{value:.2f} s ({page})", value < limit)
    ratios = sorted(((_ratio(r) or 0.0), r["page"]) for r in mine if (r.get("bare_s") or 0) >= MIN_FLOOR)
    if ratios:
        within = sum(1 for v, _ in ratios if v <= TARGET_BARE)
        value, page = ratios[-1]
        target = f"ours ÷ bare SQL ≤ {TARGET_BARE:.0f} (pages with ≥ {MIN_FLOOR * 1000:.0f} ms of SQL; worst)"
        text = f"{within} of {len(ratios)} pages; worst {value:.1f}× ({page})"
        _put(cells, target, backend, text, within == len(ratios))
    if naive is None:
        return
    for page in ("queue", "map", "overview"):
        row = next((r for r in mine if r["page"] == page), None)
        if row:
            value = (naive["load_s"] + naive[f"{page}_compute_s"]) / row["cold_s"]
            _put(
                cells,
                f"naive ÷ ours ≥ {TARGET_NAIVE:.0f}: {page}",
                backend,
                f"{value:.0f}×",
                value >= TARGET_NAIVE,
            )


def _memory_targets(cells: Cells, memory: dict[str, Any] | None, big: int) -> None:
    """Peak RSS of the server and the bytes the map and queue pages send, per backend."""
    for r in (memory or {}).get("results", []):
        if r["cases"] != big:
            continue
        rss = r["peak_rss_mb"]
        _put(
            cells,
            f"peak RSS of the server < {TARGET_RSS_MB} MB",
            r["backend"],
            f"{rss:.0f} MB",
            rss < TARGET_RSS_MB,
        )
        for page in ("map", "queue"):
            kb = max(
                (v["ws_kb"] for v in r["visits"] if v["page"] == page and v["user"] == "admin"), default=None
            )
            if kb is not None:
                target = f"{page} page payload (< 2 MB for the map)"
                _put(cells, target, r["backend"], f"{kb:.0f} kB", kb < TARGET_MAP_KB)


def _seed_targets(cells: Cells, seed: dict[str, Any] | None) -> None:
    for run in (seed or {}).get("runs", []):
        limit = TARGET_SEED_1M if run["cases"] >= 1_000_000 else TARGET_SEED_DEFAULT
        target = f"seed {common.size_label(run['cases'])} < {limit} s"
        _put(cells, target, run["backend"], f"{run['wall_s']:.0f} s", run["wall_s"] < limit)


def targets_section(
    pages: dict[str, Any] | None, memory: dict[str, Any] | None, seed: dict[str, Any] | None
) -> list[str]:
    """One row per target: the measured figure on SQLite and on PostgreSQL, each with its verdict."""
    rows = (pages or {}).get("pages", [])
    big = max(_size_list(rows), default=0)
    naive = _index_naive((pages or {}).get("naive", []))
    cells: Cells = {}
    for backend in ("sqlite", "postgresql"):
        mine = [r for r in rows if r["backend"] == backend and r["cases"] == big and not r.get("error")]
        if mine:
            _page_targets(cells, backend, mine, naive.get((backend, big)))
    _memory_targets(cells, memory, big)
    _seed_targets(cells, seed)
    lines = [
        f"## Targets at {common.size_label(big)} cases",
        "",
        "| Target | SQLite | | PostgreSQL | |",
        "|---|---|---|---|---|",
    ]
    for target, by_backend in cells.items():
        row = [target]
        for backend in ("sqlite", "postgresql"):
            text, ok = by_backend.get(backend, ("—", None))
            row += [text, _ok(ok)]
        lines.append("| " + " | ".join(row) + " |")
    return [*lines, ""]


def _index_naive(rows: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(r["backend"], r["cases"]): r for r in rows}


def side_by_side(pages: dict[str, Any], cases: int) -> list[str]:
    rows = pages.get("pages", [])
    idx = _index(rows)
    names = list(dict.fromkeys(r["page"] for r in rows))
    label = common.size_label(cases)
    lines = [
        f"## Every page at {label} cases, SQLite and PostgreSQL side by side",
        "",
        "Seconds. cold = application caches cleared; warm = cached; bare = the page's SELECTs alone on a raw "
        "connection (execute + fetch); ÷ = cold ÷ bare (shown in brackets where the SQL takes under "
        f"{MIN_FLOOR * 1000:.0f} ms: Streamlit's fixed cost dominates those). `page@user`: measured as that "
        "user, otherwise as admin.",
        "",
        "| Page | SQLite cold | warm | bare | ÷ | PostgreSQL cold | warm | bare | ÷ |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in names:
        cells = [name]
        for backend in ("sqlite", "postgresql"):
            r = idx.get((backend, cases, name))
            if not r:
                cells += ["—"] * 4
                continue
            if r.get("error"):
                cells += [f"error: {r['error'][:60]}", "", "", ""]
                continue
            ratio = _ratio(r)
            rtext = _x(ratio) if (r.get("bare_s") or 0) >= MIN_FLOOR else f"({_x(ratio)})"
            cells += [_s(r["cold_s"]), _s(r["warm_s"]), _s(r["bare_s"], 3), rtext]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def scaling(pages: dict[str, Any], backend: str) -> list[str]:
    rows = [r for r in pages.get("pages", []) if r["backend"] == backend]
    if not rows:
        return []
    sizes = _size_list(rows)
    idx = _index(rows)
    names = list(dict.fromkeys(r["page"] for r in rows))
    head = " | ".join(f"{common.size_label(s)} cold | warm" for s in sizes)
    lines = [
        f"## Scaling on {BACKEND[backend]}: render seconds by case count",
        "",
        f"| Page | {head} |",
        "|---|" + "---:|---:|" * len(sizes),
    ]
    for name in names:
        cells = [name]
        for s in sizes:
            r = idx.get((backend, s, name))
            cells += [_s(r.get("cold_s")), _s(r.get("warm_s"))] if r else ["—", "—"]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def naive_section(pages: dict[str, Any]) -> list[str]:
    naive = pages.get("naive", [])
    if not naive:
        return []
    idx = _index(pages.get("pages", []))
    lines = [
        "## The naive way: every case into pandas",
        "",
        "`bench/naive.py`: `pd.read_sql('SELECT * FROM cases')`, then the page's figures in pandas (same "
        "formulas), in its own process. naive = load + compute, nothing rendered (so it flatters the naive "
        'page). ÷ = naive ÷ our cold render. "compute only" is the pandas work on an already loaded frame '
        "(what a naive page with the whole frame cached would still do on every rerun), against our warm "
        "render.",
        "",
        "| Backend | Cases | Frame | Naive peak RSS | Page | naive s | ours cold s | naive ÷ ours | "
        "compute only s | ours warm s |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for nv in sorted(naive, key=lambda n: (n["backend"] != "sqlite", n["cases"])):
        for page in ("overview", "queue", "map"):
            r = idx.get((nv["backend"], nv["cases"], page))
            total = nv["load_s"] + nv[f"{page}_compute_s"]
            ratio = total / r["cold_s"] if r and r.get("cold_s") else None
            lines.append(
                f"| {BACKEND[nv['backend']]} | {common.size_label(nv['cases'])} | {nv['frame_mb']:.0f} MB | "
                f"{nv['peak_rss_mb']:.0f} MB | {page} | {total:.2f} | {_s(r and r.get('cold_s'))} | "
                f"{_x(ratio, 0)} | {nv[f'{page}_compute_s']:.3f} | {_s(r and r.get('warm_s'))} |"
            )
    return [*lines, ""]


def memory_section(memory: dict[str, Any] | None) -> list[str]:
    if not memory:
        return []
    lines = [
        "## Memory and bytes to the browser (real server, headless Chromium)",
        "",
        "`bench/memory.py`: `streamlit run app.py`, every page visited in Chromium as admin, then the grid "
        "worker's and the department's own pages. RSS of the server process from /proc (VmHWM = peak). "
        "ws = bytes of the WebSocket frames the browser received for that page (elements and data; the "
        "JavaScript bundle is fetched once and cached).",
        "",
    ]
    for r in memory.get("results", []):
        lines += [
            f"**{BACKEND[r['backend']]}, {common.size_label(r['cases'])} cases**: RSS after start "
            f"{r['rss_start_mb']:.0f} MB, after every page {r['rss_end_mb']:.0f} MB, peak {r['peak_rss_mb']:.0f} MB.",
            "",
            "| User | Page | ws kB | RSS after, MB | browser s |",
            "|---|---|---:|---:|---:|",
        ]
        for v in r["visits"]:
            err = f" (error: {v['error'][:60]})" if v.get("error") else ""
            lines.append(
                f"| {v['user']} | {v['page']}{err} | {v['ws_kb']:.0f} | {v['rss_mb']:.0f} | {v['browser_s']} |"
            )
        lines.append("")
    return lines


def seed_section(seed: dict[str, Any] | None) -> list[str]:
    if not seed:
        return []
    lines = [
        "## Seed time (`python -m seed`)",
        "",
        "| Backend | Cases | Wall s | CPU s | Peak RSS | Database size | Load before → after |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in sorted(seed.get("runs", []), key=lambda r: (r["backend"] != "sqlite", r["cases"])):
        lines.append(
            f"| {BACKEND[r['backend']]} | {common.size_label(r['cases'])} | {r['wall_s']:.0f} | {r['cpu_s']:.0f} | "
            f"{r['peak_rss_mb']:.0f} MB | {r.get('size_mb', 0):,} MB | {r['load_before']} → {r['load_after']} |"
        )
    return [*lines, ""]


def before_section(before: dict[str, Any] | None, pages: dict[str, Any] | None) -> list[str]:
    if not before or not pages:
        return []
    now = _index(pages.get("pages", []))
    lines = [
        "## Before and after the fixes (SQLite, 1 M cases)",
        "",
        before.get("note", ""),
        "",
        "| Page | before cold | before warm | after cold | after warm |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in before.get("pages", []):
        a = now.get((r["backend"], r["cases"], r["page"]))
        lines.append(
            f"| {r['page']} | {_s(r.get('cold_s'))} | {_s(r.get('warm_s'))} | {_s(a and a.get('cold_s'))} | "
            f"{_s(a and a.get('warm_s'))} |"
        )
    return [*lines, ""]


def chart(pages: dict[str, Any]) -> Path | None:
    """Cold and warm render time against case count, per page and backend (plotly), as HTML and PNG."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    rows = [r for r in pages.get("pages", []) if r["cases"] and not r.get("error")]
    if not rows:
        return None
    backends = [b for b in ("sqlite", "postgresql") if any(r["backend"] == b for r in rows)]
    fig = make_subplots(
        rows=2,
        cols=len(backends),
        shared_xaxes=True,
        subplot_titles=[f"{BACKEND[b]} — {kind}" for kind in ("cold", "warm") for b in backends],
        vertical_spacing=0.1,
    )
    names = [n for n in CHART_PAGES if any(r["page"] == n for r in rows)]
    palette = [*qualitative.D3, "#393b79", "#637939"]  # twelve pages, twelve colours
    for i, name in enumerate(names):
        for col, backend in enumerate(backends, start=1):
            data = sorted((r["cases"], r) for r in rows if r["page"] == name and r["backend"] == backend)
            for row_no, key in ((1, "cold_s"), (2, "warm_s")):
                fig.add_trace(
                    go.Scatter(
                        x=[c for c, _ in data],
                        y=[r[key] for _, r in data],
                        name=name,
                        legendgroup=name,
                        showlegend=row_no == 1 and col == 1,
                        mode="lines+markers",
                        line={"color": palette[i % len(palette)]},
                    ),
                    row=row_no,
                    col=col,
                )
            for row_no, limit in ((1, TARGET_COLD), (2, TARGET_WARM)):
                fig.add_hline(y=limit, line_dash="dot", line_color="red", row=row_no, col=col)  # type: ignore[arg-type]
    ticks = {"tickvals": [10_000, 100_000, 1_000_000], "ticktext": ["10k", "100k", "1M"]}
    fig.update_xaxes(type="log", title_text="cases", row=2, **ticks)
    fig.update_xaxes(type="log", **ticks)
    fig.update_yaxes(title_text="seconds", rangemode="tozero")
    fig.update_layout(
        title="Server render time per page against case count (dotted: target; median of runs)",
        height=900,
        width=1400,
        template="plotly_white",
    )
    fig.write_html(CHART, include_plotlyjs="cdn")
    png = CHART.with_suffix(".png")
    _png(fig, png)
    return png


def _png(fig: Any, png: Path) -> None:
    """The chart as PNG: kaleido when installed, else a screenshot of the HTML in the system Chromium."""
    try:
        fig.write_image(png)
        return
    except Exception:  # kaleido missing: fall back to Chromium
        pass
    from playwright.sync_api import sync_playwright

    from tests.e2e import browser as b

    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "chart.html"
        fig.write_html(html, include_plotlyjs=True, config={"staticPlot": True})
        with sync_playwright() as p:
            browser = b.launch(p)
            page = browser.new_page(viewport={"width": 1420, "height": 920})
            page.goto(html.as_uri())
            page.wait_for_selector(".main-svg")
            page.wait_for_timeout(500)
            page.screenshot(path=str(png), full_page=True)
            browser.close()


def write() -> Path:
    pages = common.load_json("pages")
    memory = common.load_json("memory")
    seed = common.load_json("seed")
    before = common.load_json("before")
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m bench.report` from bench/results/*.json, which `python -m bench.run --cases "
        '1000000` produces (see "How it is measured" below).',
        "",
    ]
    lines += machine_section(pages, [memory, seed])  # type: ignore[arg-type]
    lines += targets_section(pages, memory, seed)  # type: ignore[arg-type]
    notes = ROOT / "bench" / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    lines += before_section(before, pages)  # type: ignore[arg-type]
    if pages:
        sizes = _size_list(pages["pages"])
        if sizes:
            lines += side_by_side(pages, max(sizes))  # type: ignore[arg-type]
        lines += naive_section(pages)  # type: ignore[arg-type]
        png = chart(pages)  # type: ignore[arg-type]
        if png:
            link = f"![page time against case count]({png.name}) — interactive: [{CHART.name}]({CHART.name})"
            lines += ["## Chart", "", link, ""]
        lines += scaling(pages, "sqlite") + scaling(pages, "postgresql")  # type: ignore[arg-type]
    lines += memory_section(memory)  # type: ignore[arg-type]
    lines += seed_section(seed)  # type: ignore[arg-type]
    OUT.write_text("\n".join(lines))
    return OUT


if __name__ == "__main__":
    print(write())
