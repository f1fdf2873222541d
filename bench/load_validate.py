"""Does the load generator measure what a browser sees? The same interactions in Chromium and in the
generator's tab, one after the other, a few rounds each; the median of each, side by side.

Chromium (Playwright, the system /usr/bin/chromium with the tests' flags) is timed from the click or key
press, and from the rerun request its page sent, until the frame that ends the run (``script_finished``,
not early) has arrived, and until the page shows its script as not running; the generator from its rerun
request to that same frame. The generator should match Chromium's request → run end (the server's work
and the network); the click adds the browser's own JavaScript before it sends, "settled" its drawing (the
map's WebGL canvas without a GPU is the costly one), neither of which loads the server.

    python -m bench.load --url http://127.0.0.1:8501 --validate
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.load_protocol import FINISHED_EARLY, Tab
from tests.e2e import browser as b

INTERACTIONS = ("login", "open queue", "queue search", "select row", "open case", "open overview", "open map")
USERNAME, PASSWORD = "operator", "demo1234"


class _Finishes:
    """Counts the runs that ended (not early) in a Chromium page's WebSocket frames."""

    def __init__(self, page: Any) -> None:
        self.count = 0
        self.last = self.sent = 0.0
        page.on("websocket", self._socket)

    def _socket(self, ws: Any) -> None:
        ws.on("framesent", self._sent)
        ws.on("framereceived", self._frame)

    def _sent(self, payload: bytes | str) -> None:
        if not self.sent:  # the first request of the interaction (not the page's own follow-ups)
            self.sent = time.perf_counter()

    def _frame(self, payload: bytes | str) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = ForwardMsg()
        msg.ParseFromString(payload if isinstance(payload, bytes) else payload.encode())
        if msg.WhichOneof("type") == "script_finished" and msg.script_finished != FINISHED_EARLY:
            self.count += 1
            self.last = time.perf_counter()


def _timed(page: Any, finishes: _Finishes, action: Any) -> tuple[float, float, float]:
    """Seconds from the page's rerun request to the run's end, and from the click to the run's end and
    to the page showing it settled."""
    before = finishes.count
    finishes.sent = 0.0
    started = time.perf_counter()
    action()
    while finishes.count == before:
        page.wait_for_timeout(5)
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=60000)
    return finishes.last - (finishes.sent or started), finishes.last - started, time.perf_counter() - started


def _nav(page: Any, url_path: str) -> Any:
    return lambda: page.locator(f'[data-testid=stSidebarNavLink][href$="/{url_path}"]').click()


def chromium_round(browser: Any, base: str) -> dict[str, tuple[float, float, float]]:
    page = b.new_page(browser, base, 1440, 900)
    finishes = _Finishes(page)
    page.goto(base)
    b.settle(page)
    page.locator(".st-key-login_username input").fill(USERNAME)
    page.locator(".st-key-login_password input").fill(PASSWORD)
    times = {"login": _timed(page, finishes, page.locator(".st-key-login_submit button").click)}
    b.settle(page, 1000)
    times["open queue"] = _timed(page, finishes, _nav(page, "queue"))
    page.locator(".st-key-qf_q input").fill("XL")
    times["queue search"] = _timed(page, finishes, lambda: page.keyboard.press("Enter"))
    b.settle(page, 500)
    box = page.locator("[data-testid=stDataFrame]").first.bounding_box()
    times["select row"] = _timed(page, finishes, lambda: page.mouse.click(box["x"] + 15, box["y"] + 35 + 17))
    times["open case"] = _timed(page, finishes, page.locator(".st-key-queue_open button").click)
    b.settle(page, 500)
    times["open overview"] = _timed(page, finishes, _nav(page, "overview"))
    times["open map"] = _timed(page, finishes, _nav(page, "map"))
    page.context.close()
    return times


async def generator_round(base: str) -> dict[str, float]:
    tab = Tab(base)
    await tab.load()
    login = {**tab.text("login_username", USERNAME), **tab.text("login_password", PASSWORD)}
    times = {"login": await tab.click("login_submit", login)}
    await tab.settle_posts()
    times["open queue"] = await tab.navigate("queue")
    times["queue search"] = await tab.rerun(tab.text("qf_q", "XL"))
    times["select row"] = await tab.rerun(tab.rows("queue_table", [0]))
    times["open case"] = await tab.click("queue_open")
    times["open overview"] = await tab.navigate("overview")
    times["open map"] = await tab.navigate("map")
    await tab.close()
    return times


def validate(base: str, rounds: int = 3) -> dict[str, tuple[float, ...]]:
    """Median seconds per interaction (Chromium: request to run end, click to run end, click to settled;
    the generator: request to run end), printed as a table."""
    from playwright.sync_api import sync_playwright

    seen: dict[str, list[tuple[float, ...]]] = defaultdict(list)
    with sync_playwright() as p:
        browser = b.launch(p)
        for _ in range(rounds):
            chromium = chromium_round(browser, base)
            # Playwright's sync API runs an event loop in this thread: the generator gets a thread of its own
            with ThreadPoolExecutor(1) as pool:
                generator = pool.submit(asyncio.run, generator_round(base)).result()
            for kind in INTERACTIONS:
                seen[kind].append((*chromium[kind], generator[kind]))
        browser.close()
    result = {k: tuple(statistics.median(x[i] for x in seen[k]) for i in range(4)) for k in INTERACTIONS}
    print(
        "| interaction | Chromium: request → run end, s | click → run end | click → settled | generator: request → run end |"
    )
    print("|---|---:|---:|---:|---:|")
    for kind, times in result.items():
        print(f"| {kind} | " + " | ".join(f"{t:.2f}" for t in times) + " |")
    print(f"(median of {rounds} rounds each, user {USERNAME}, {base})")
    return result
