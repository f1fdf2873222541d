"""Peak memory of a real Streamlit server, and the bytes each page sends to the browser.

Starts ``streamlit run app.py`` on a benchmark database, then the system Chromium (Playwright, helpers of
tests/e2e/browser.py) logs in as admin and opens every page an admin may open, then as the grid worker
(their own pages and the queue in their scope) and as the department user (bench.pages.plan). After each page the server's resident memory is read from
``/proc/<pid>/status`` (VmRSS now, VmHWM = peak); the bytes of every WebSocket frame the browser received
while the page loaded are summed (Streamlit sends elements and data over its WebSocket; the JavaScript
bundle is fetched once and cached, and is reported separately as ``static_kb``).

    python -m bench.memory --cases 1M --backends sqlite
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import common
from bench.pages import plan
from dashboard.ui.nav import PAGES, PageSpec
from tests.e2e import browser as b


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of `pid` in kB."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


@contextmanager
def server(url: str) -> Iterator[tuple[str, int]]:
    """``streamlit run app.py`` on `url`; yields (base URL, server pid)."""
    with b.app_process(url, start_timeout=120) as started:
        yield started


class Traffic:
    """Bytes received by the page: WebSocket frames, and HTTP responses (static files)."""

    def __init__(self, page: Any) -> None:
        self.ws = 0
        self.http = 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))
        page.on("response", self._response)

    def _frame(self, payload: bytes | str) -> None:
        self.ws += len(payload.encode() if isinstance(payload, str) else payload)

    def _response(self, response: Any) -> None:
        length = response.headers.get("content-length")
        if length and length.isdigit():
            self.http += int(length)

    def reset(self) -> None:
        self.ws = self.http = 0


def visit(
    page: Any, traffic: Traffic, base: str, spec: PageSpec, pid: int, query: str = ""
) -> dict[str, Any]:
    traffic.reset()
    started = time.perf_counter()
    b.goto(page, base, spec.url_path, query)
    seconds = time.perf_counter() - started
    mem = proc_status(pid)
    errors = b.exceptions(page)
    return {
        "page": spec.path.removeprefix("pages/").removesuffix(".py"),
        "ws_kb": round(traffic.ws / 1024, 1),
        "static_kb": round(traffic.http / 1024, 1),
        "browser_s": round(seconds, 2),
        "rss_mb": round(mem["VmRSS"] / 1024, 1),
        "hwm_mb": round(mem["VmHWM"] / 1024, 1),
        "error": "; ".join(errors)[:300] or None,
    }


def measure(db: common.BenchDb) -> dict[str, Any]:
    """Visit every page as each user; memory after each page and the bytes it received."""
    from playwright.sync_api import sync_playwright

    case_no = common.recent_open_case(db.url)
    with server(db.url) as (base, pid), sync_playwright() as p:
        started = proc_status(pid)
        browser = b.launch(p)
        visits: list[dict[str, Any]] = []
        by_user: dict[str, list[str]] = {}
        for username, path in plan():
            by_user.setdefault(username, []).append(path)
        try:
            for username, paths in by_user.items():
                page = b.new_page(browser, base)
                traffic = Traffic(page)
                b.login_page(page, base, username)
                for path in paths:
                    spec = next(s for s in PAGES if s.path == path)
                    query = f"case={case_no}" if spec.path == "pages/case_detail.py" else ""
                    row = visit(page, traffic, base, spec, pid, query)
                    row["user"] = username
                    visits.append(row)
                    print(
                        f"{db.backend:<11}{db.label:>8} {username:<11}{row['page']:<20} ws {row['ws_kb']:>8} kB"
                        f"  rss {row['rss_mb']:>7} MB  peak {row['hwm_mb']:>7} MB  {row['browser_s']} s"
                        + (f"  ERROR {row['error']}" if row["error"] else ""),
                        flush=True,
                    )
                page.context.close()
        finally:
            browser.close()
        end = proc_status(pid)
    return {
        "backend": db.backend,
        "cases": db.cases,
        "rss_start_mb": round(started["VmRSS"] / 1024, 1),
        "rss_end_mb": round(end["VmRSS"] / 1024, 1),
        "peak_rss_mb": round(end["VmHWM"] / 1024, 1),
        "visits": visits,
        "load": common.load(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["1M"])
    parser.add_argument("--backends", nargs="+", default=["sqlite"])
    args = parser.parse_args(argv)
    sizes = common.parse_sizes(args.cases)
    results: list[dict[str, Any]] = []

    def run_all(cluster: common.PgCluster | None) -> None:
        for db in common.databases(sizes, args.backends, cluster):
            results.append(measure(db))

    if "postgresql" in args.backends:
        with common.pg_cluster() as cluster:
            run_all(cluster)
    else:
        run_all(None)
    common.save_json("memory", {"machine": common.machine(), "results": results})


if __name__ == "__main__":
    main()
