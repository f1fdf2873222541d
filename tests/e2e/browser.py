"""Helpers for browser tests: run the app on a free port and drive the system Chromium with Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app(database_url: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start ``streamlit run app.py`` against `database_url` on a free port; yield its base URL."""
    with app_process(database_url, env) as (base, _pid):
        yield base


@contextmanager
def app_process(
    database_url: str, env: dict[str, str] | None = None, start_timeout: float = 60
) -> Iterator[tuple[str, int]]:
    """:func:`running_app`, yielding (base URL, server pid) for those who watch the process (bench/).

    Tests run in parallel: when another process takes the free port before streamlit binds it, streamlit
    exits at once and the app starts again on another port."""
    full_env = {**os.environ, "DATABASE_URL": database_url, "DASHBOARD_AUTO_SEED": "0", **(env or {})}
    ARTIFACTS.mkdir(exist_ok=True)
    for attempt in range(3):
        port = _free_port()
        log = (ARTIFACTS / f"streamlit-{port}.log").open("w")
        cmd = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            if _wait_healthy(base, proc, start_timeout):
                yield base, proc.pid
                return
            if proc.poll() is None or attempt == 2:
                raise RuntimeError(f"streamlit did not start; see {log.name}")
        finally:
            _stop(proc)
            log.close()


def _wait_healthy(base: str, proc: subprocess.Popen, timeout: float) -> bool:  # type: ignore[type-arg]
    """Whether the server answers its health check before it exits or `timeout` passes."""
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            return False
        time.sleep(0.3)


def _stop(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@dataclass
class Watch:
    """What a page did that a test must check: console errors and requests to other hosts."""

    own_host: str
    console_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)


# Opening a deep link such as /queue makes the Streamlit frontend probe /queue/_stcore/… before it finds
# the server's base path; those 404s are part of how Streamlit works, not errors of this app.
_BASE_PATH_PROBES = ("/_stcore/health", "/_stcore/host-config")


def _counts(message) -> bool:  # type: ignore[no-untyped-def]
    """Whether a console message is an error a test must fail on."""
    if message.type != "error":
        return False
    url = (message.location or {}).get("url", "")
    return not (urlparse(url).path.count("/") > 2 and url.endswith(_BASE_PATH_PROBES))


def launch(playwright):  # type: ignore[no-untyped-def]
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def new_page(browser, base: str, width: int = 1920, height: int = 1080, locale: str = "zh-CN"):  # type: ignore[no-untyped-def]
    """A fresh context and page (the browser's language `locale`), with a Watch attached as ``page.watch``."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
    page = context.new_page()
    watch = Watch(own_host=urlparse(base).netloc)
    page.on("console", lambda m: watch.console_errors.append(m.text[:300]) if _counts(m) else None)
    page.on(
        "request",
        lambda r: (
            watch.outside_requests.append(r.url)
            if urlparse(r.url).netloc not in (watch.own_host, "") and not r.url.startswith(("data:", "blob:"))
            else None
        ),
    )
    page.watch = watch
    return page


def settle(page, extra_ms: int = 500, timeout: int = 60000) -> None:  # type: ignore[no-untyped-def]
    """Wait until the Streamlit script has finished running, then a little longer for charts to draw."""
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout)
    page.wait_for_timeout(extra_ms)
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout)


def login_page(page, base: str, username: str, password: str = "demo1234") -> None:  # type: ignore[no-untyped-def]
    page.goto(base)
    settle(page)
    page.locator(".st-key-login_username input").fill(username)
    page.locator(".st-key-login_password input").fill(password)
    page.locator(".st-key-login_submit button").click()
    # On a phone the sidebar is collapsed, so wait for it to exist rather than to be visible.
    page.wait_for_selector("[data-testid=stSidebar]", state="attached", timeout=60000)
    settle(page, 1000)
    wait_for_session_cookie(page)


def wait_for_session_cookie(page, timeout_ms: int = 20000) -> None:  # type: ignore[no-untyped-def]
    """The server sets the session cookie in answer to a request the page makes after logging in (see
    dashboard/api/session_cookie.py): wait for it, so that a reload right after login keeps the login."""
    from dashboard.admin.auth import COOKIE_NAME

    for _ in range(timeout_ms // 100):
        if any(c["name"] == COOKIE_NAME for c in page.context.cookies()):
            return
        page.wait_for_timeout(100)
    raise AssertionError("the server did not set the session cookie")


def goto(page, base: str, url_path: str, query: str = "") -> None:  # type: ignore[no-untyped-def]
    """Open a page by its url_path (see dashboard/ui/nav.py), keeping the login cookie."""
    page.goto(f"{base}/{url_path}{('?' + query) if query else ''}")
    settle(page, 1000)


def nav(page, base: str, url_path: str, extra_ms: int = 1000) -> None:  # type: ignore[no-untyped-def]
    """Open a page through the sidebar navigation (a client-side switch, as a user does); a page without a
    link of its own (the start page's link is the bare address) is opened by its address."""
    link = page.locator(f'[data-testid=stSidebarNavLink][href$="/{url_path}"]')
    if link.count() == 0:
        goto(page, base, url_path)
        return
    # A DOM click: on a phone the link sits in the collapsed sidebar (the app routes it all the same).
    link.first.evaluate("el => el.click()")
    page.wait_for_url(f"**/{url_path}*", timeout=30000)
    settle(page, extra_ms)


def exceptions(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.locator("[data-testid=stException]").all_inner_texts()


def assert_clean(page) -> None:  # type: ignore[no-untyped-def]
    """No exception shown, no console error, no request to another host."""
    errors = exceptions(page)
    assert not errors, errors
    assert not page.watch.console_errors, page.watch.console_errors
    assert not page.watch.outside_requests, page.watch.outside_requests


def shot(page, name: str, full_page: bool = True, docs: bool = False) -> Path:  # type: ignore[no-untyped-def]
    """Save a screenshot to test-artifacts/, or to docs/screenshots/ when `docs` and the environment
    variable ``DOCS_SCREENSHOTS`` is set (so that a test run leaves the repository's files alone)."""
    folder = ROOT / "docs" / "screenshots" if docs and os.environ.get("DOCS_SCREENSHOTS") else ARTIFACTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
